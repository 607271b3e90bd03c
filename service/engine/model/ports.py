"""Protocols, port ranges and canonical port sets.

A :class:`PortSet` is an immutable set of (protocol, port) pairs, stored as a canonical
interval list: sorted by protocol then port, merged, non-overlapping, non-adjacent.

>>> web = PortSet.single("TCP", 80) | PortSet.range("TCP", 81, 90)
>>> web.to_api()
[{'protocol': 'TCP', 'port': 80, 'endPort': 90}]
>>> (PortSet.all() - web).contains("TCP", 85)
False
>>> PortSet.protocol_all("UDP").to_api()
[{'protocol': 'UDP'}]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import total_ordering
from typing import Any

MIN_PORT = 1
MAX_PORT = 65535


class Protocol(StrEnum):
    """The protocols a NetworkPolicy can name, in canonical (alphabetical) output order."""

    SCTP = "SCTP"
    TCP = "TCP"
    UDP = "UDP"


PROTOCOLS: tuple[Protocol, ...] = tuple(sorted(Protocol))


@dataclass(frozen=True, slots=True, order=True)
class PortRange:
    """Inclusive range of ports of one protocol."""

    protocol: Protocol
    start: int
    end: int

    def __post_init__(self) -> None:
        if not MIN_PORT <= self.start <= self.end <= MAX_PORT:
            raise ValueError(f"invalid port range {self.start}-{self.end}")

    def to_api(self) -> dict[str, Any]:
        if self.start == MIN_PORT and self.end == MAX_PORT:
            return {"protocol": self.protocol.value}
        if self.start == self.end:
            return {"protocol": self.protocol.value, "port": self.start}
        return {"protocol": self.protocol.value, "port": self.start, "endPort": self.end}

    def __str__(self) -> str:
        if self.start == MIN_PORT and self.end == MAX_PORT:
            return f"{self.protocol.value} (all ports)"
        if self.start == self.end:
            return f"{self.protocol.value} {self.start}"
        return f"{self.protocol.value} {self.start}-{self.end}"


def _canonical(ranges: Iterable[PortRange]) -> tuple[PortRange, ...]:
    merged: list[PortRange] = []
    for r in sorted(ranges):
        if merged and merged[-1].protocol == r.protocol and r.start <= merged[-1].end + 1:
            last = merged[-1]
            if r.end > last.end:
                merged[-1] = PortRange(last.protocol, last.start, r.end)
        else:
            merged.append(r)
    return tuple(merged)


@total_ordering
class PortSet:
    """An immutable, hashable, ordered set of (protocol, port) pairs.

    Invariant: ``ranges`` is sorted, and no two ranges of one protocol overlap or touch.
    """

    __slots__ = ("_hash", "ranges")

    ranges: tuple[PortRange, ...]
    _hash: int

    def __init__(self, ranges: Iterable[PortRange] = ()) -> None:
        object.__setattr__(self, "ranges", _canonical(ranges))
        object.__setattr__(self, "_hash", hash(self.ranges))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("PortSet is immutable")

    # -- factories -------------------------------------------------------------------------
    @classmethod
    def empty(cls) -> PortSet:
        return _EMPTY

    @classmethod
    def all(cls) -> PortSet:
        return _ALL

    @classmethod
    def protocol_all(cls, protocol: str) -> PortSet:
        return cls((PortRange(Protocol(protocol), MIN_PORT, MAX_PORT),))

    @classmethod
    def single(cls, protocol: str, port: int) -> PortSet:
        return cls((PortRange(Protocol(protocol), port, port),))

    @classmethod
    def range(cls, protocol: str, start: int, end: int) -> PortSet:
        return cls((PortRange(Protocol(protocol), start, end),))

    # -- relations and algebra -------------------------------------------------------------
    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PortSet) and self.ranges == other.ranges

    def __lt__(self, other: PortSet) -> bool:
        return self.ranges < other.ranges

    def __hash__(self) -> int:
        return self._hash

    def __iter__(self) -> Iterator[PortRange]:
        return iter(self.ranges)

    def __or__(self, other: PortSet) -> PortSet:
        if not other.ranges or self is other:
            return self
        if not self.ranges:
            return other
        return PortSet(self.ranges + other.ranges)

    def __and__(self, other: PortSet) -> PortSet:
        if self is other or other is _ALL:
            return self
        if self is _ALL:
            return other
        out: list[PortRange] = []
        a, b = self.ranges, other.ranges
        i = j = 0
        while i < len(a) and j < len(b):
            x, y = a[i], b[j]
            if x.protocol != y.protocol:
                if x.protocol < y.protocol:
                    i += 1
                else:
                    j += 1
                continue
            lo, hi = max(x.start, y.start), min(x.end, y.end)
            if lo <= hi:
                out.append(PortRange(x.protocol, lo, hi))
            if x.end < y.end:
                i += 1
            else:
                j += 1
        return PortSet(out)

    def __sub__(self, other: PortSet) -> PortSet:
        if not other.ranges:
            return self
        out: list[PortRange] = []
        for r in self.ranges:
            start = r.start
            for cut in other.ranges:
                if cut.protocol != r.protocol or cut.end < start or cut.start > r.end:
                    continue
                if cut.start > start:
                    out.append(PortRange(r.protocol, start, cut.start - 1))
                start = cut.end + 1
                if start > r.end:
                    break
            if start <= r.end:
                out.append(PortRange(r.protocol, start, r.end))
        return PortSet(out)

    def issubset(self, other: PortSet) -> bool:
        return not (self - other)

    def contains(self, protocol: str, port: int) -> bool:
        return any(r.protocol == protocol and r.start <= port <= r.end for r in self.ranges)

    def is_all(self) -> bool:
        return self == _ALL

    # -- presentation ----------------------------------------------------------------------
    def to_api(self) -> list[dict[str, Any]]:
        """NetworkPolicyPort-like objects: sorted, merged, no overlaps."""
        return [r.to_api() for r in self.ranges]

    def __repr__(self) -> str:
        return f"PortSet({self})"

    def __str__(self) -> str:
        if not self.ranges:
            return "no ports"
        if self is _ALL or self.ranges == _ALL.ranges:
            return "all ports"
        return ", ".join(str(r) for r in self.ranges)


_EMPTY = PortSet()
_ALL = PortSet(PortRange(p, MIN_PORT, MAX_PORT) for p in Protocol)
