"""The address space cut at every block boundary, and each block as runs of whole pieces.

Every boundary of every block (its CIDR and each ``except``) is a cut, so each block is
exactly a union of consecutive pieces. A block's pieces are found from its own boundaries
by lookups in the sorted cuts, never by scanning the pieces: building the partition and
mapping ``n`` blocks onto it is ``O(n log n)``.

>>> blocks = [IPBlock.parse("10.0.0.0/8", ["10.1.0.0/16"]), IPBlock.parse("10.1.2.0/24")]
>>> partition = AddressPartition.of(blocks, [4])
>>> [str(p) for p in partition.pieces]  # doctest: +NORMALIZE_WHITESPACE
['0.0.0.0-9.255.255.255', '10.0.0.0-10.0.255.255', '10.1.0.0-10.1.1.255',
 '10.1.2.0-10.1.2.255', '10.1.3.0-10.1.255.255', '10.2.0.0-10.255.255.255',
 '11.0.0.0-255.255.255.255']
>>> partition.runs(blocks[0]), partition.runs(blocks[1])
([(1, 2), (5, 6)], [(3, 4)])
>>> partition.piece_of(IPBlock.parse("10.1.2.3/32").cidr.network_address)
3
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from service.engine.model import AddressRange, IPAddress, IPBlock
from service.engine.model.addresses import ADDRESS_BITS, split_points

Run = tuple[int, int]  # half-open [first, stop) of piece indexes


@dataclass(frozen=True, slots=True)
class AddressPartition:
    """Pieces of each IP version's address space, in ``versions`` order then by address.

    Invariant: ``starts[v]`` is sorted, begins at 0, and holds every boundary of every
    block of version ``v``; piece ``offsets[v] + i`` covers ``starts[v][i]`` up to the next
    start (or the top of the space).
    """

    starts: dict[int, list[int]]
    offsets: dict[int, int]
    pieces: tuple[AddressRange, ...]
    _position: dict[int, dict[int, int]]  # version -> cut -> piece index

    @classmethod
    def of(cls, blocks: Sequence[IPBlock], versions: Iterable[int]) -> AddressPartition:
        starts = {v: split_points(blocks, v) for v in versions}
        offsets: dict[int, int] = {}
        pieces: list[AddressRange] = []
        position: dict[int, dict[int, int]] = {}
        for version, cuts in starts.items():
            offset = offsets[version] = len(pieces)
            top = 2 ** ADDRESS_BITS[version]
            ends = [*cuts[1:], top]
            pieces += [AddressRange(version, lo, hi - 1) for lo, hi in zip(cuts, ends, strict=True)]
            position[version] = {cut: offset + i for i, cut in enumerate(cuts)}
            position[version][top] = offset + len(cuts)
        return cls(starts, offsets, tuple(pieces), position)

    def __len__(self) -> int:
        return len(self.pieces)

    def piece_of(self, address: IPAddress) -> int | None:
        """Index of the piece holding ``address``; None for an IP version not partitioned."""
        return self.piece_at(address.version, int(address))

    def piece_at(self, version: int, value: int) -> int | None:
        cuts = self.starts.get(version)
        if cuts is None:
            return None
        return self.offsets[version] + bisect.bisect_right(cuts, value) - 1

    def runs(self, block: IPBlock) -> list[Run]:
        """The pieces making up ``block``, as sorted, disjoint, non-adjacent runs.

        Raises KeyError for a block whose boundaries are not cuts of this partition."""
        position = self._position[block.version]
        return [(position[r.start], position[r.end + 1]) for r in block.ranges()]
