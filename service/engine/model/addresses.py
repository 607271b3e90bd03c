"""IP addresses and blocks.

An :class:`IPBlock` is the NetworkPolicy peer: a CIDR minus some CIDRs inside it. It is also
an address set, so it can be written as disjoint inclusive integer intervals per IP version.

>>> block = IPBlock.parse("10.0.0.0/8", ["10.1.0.0/16"])
>>> inside, excepted = ipaddress.ip_address("10.2.0.1"), ipaddress.ip_address("10.1.0.1")
>>> block.contains(inside), block.contains(excepted)
(True, False)
>>> [str(r) for r in block.ranges()]
['10.0.0.0-10.0.255.255', '10.2.0.0-10.255.255.255']
>>> IPBlock.from_range(AddressRange(4, 0, 2**32 - 1)).to_api()
{'kind': 'IPBlock', 'cidr': '0.0.0.0/0'}
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ADDRESS_BITS = {4: 32, 6: 128}


def _span(network: IPNetwork) -> tuple[int, int]:
    return int(network.network_address), int(network.broadcast_address)


def _address(version: int, value: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


@dataclass(frozen=True, slots=True, order=True)
class AddressRange:
    """Inclusive range of addresses of one IP version, as integers."""

    version: int
    start: int
    end: int

    @classmethod
    def of_network(cls, network: IPNetwork) -> AddressRange:
        return cls(network.version, *_span(network))

    @classmethod
    def everything(cls, version: int) -> AddressRange:
        return cls(version, 0, 2 ** ADDRESS_BITS[version] - 1)

    def contains(self, address: IPAddress) -> bool:
        return address.version == self.version and self.start <= int(address) <= self.end

    @property
    def first(self) -> IPAddress:
        return _address(self.version, self.start)

    @property
    def last(self) -> IPAddress:
        return _address(self.version, self.end)

    def networks(self) -> list[IPNetwork]:
        """The fewest CIDRs that exactly cover this range."""
        return list(ipaddress.summarize_address_range(self.first, self.last))

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


@dataclass(frozen=True, slots=True, order=True)
class IPBlock:
    """A CIDR minus the CIDRs of ``excepts``, each strictly inside it (validated by the parser).

    ``cidr`` keeps host bits cleared (``10.0.1.1/4`` is ``0.0.0.0/4``, as the API server
    treats it).
    """

    cidr: IPNetwork
    excepts: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def parse(cls, cidr: str, excepts: Iterable[str] = ()) -> IPBlock:
        return cls(
            ipaddress.ip_network(cidr, strict=False),
            tuple(sorted((ipaddress.ip_network(e, strict=False) for e in excepts), key=_span)),
        )

    @classmethod
    def from_range(cls, span: AddressRange) -> IPBlock:
        """The block for one contiguous range: the smallest covering CIDR minus the rest."""
        first = span.first
        prefix = ADDRESS_BITS[span.version] - (span.start ^ span.end).bit_length()
        cover = ipaddress.ip_network(f"{first}/{prefix}", strict=False)
        cover_range = AddressRange.of_network(cover)
        holes: list[IPNetwork] = []
        if cover_range.start < span.start:
            holes += AddressRange(span.version, cover_range.start, span.start - 1).networks()
        if span.end < cover_range.end:
            holes += AddressRange(span.version, span.end + 1, cover_range.end).networks()
        return cls(cover, tuple(holes))

    @property
    def version(self) -> int:
        return self.cidr.version

    def contains(self, address: IPAddress) -> bool:
        return address in self.cidr and not any(address in e for e in self.excepts)

    def ranges(self) -> list[AddressRange]:
        """Disjoint, sorted inclusive ranges covering exactly this block."""
        start, end = _span(self.cidr)
        out: list[AddressRange] = []
        cursor = start
        for hole in _merge_spans(_span(e) for e in self.excepts):
            if hole[0] > cursor:
                out.append(AddressRange(self.version, cursor, hole[0] - 1))
            cursor = max(cursor, hole[1] + 1)
        if cursor <= end:
            out.append(AddressRange(self.version, cursor, end))
        return out

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "IPBlock", "cidr": str(self.cidr)}
        if self.excepts:
            out["except"] = [str(e) for e in self.excepts]
        return out

    def __str__(self) -> str:
        if not self.excepts:
            return str(self.cidr)
        return f"{self.cidr} except {', '.join(str(e) for e in self.excepts)}"


def _merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def split_points(blocks: Sequence[IPBlock], version: int) -> list[int]:
    """Sorted start addresses of the elementary pieces of the ``version`` address space cut
    at every boundary of ``blocks``; the first piece always starts at 0."""
    cuts = {0}
    top = 2 ** ADDRESS_BITS[version]
    for block in blocks:
        if block.version != version:
            continue
        for net in (block.cidr, *block.excepts):
            lo, hi = _span(net)
            cuts.add(lo)
            if hi + 1 < top:
                cuts.add(hi + 1)
    return sorted(cuts)
