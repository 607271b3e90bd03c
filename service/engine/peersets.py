"""Peer sets of rule peers, compact: pod classes as a bitset, external pieces as runs.

An ipBlock matches a run of consecutive external pieces; as a Python int bitset over
``classes + pieces`` every such set would cost as many bytes as there are pieces, so a rule
of 100,000 ipBlocks would need gigabytes. A :class:`PeerSet` keeps the runs instead and
makes the bitset only where one is needed (a rule's union of peers).

>>> a, b = PeerSet(0b101, ((10, 12),)), PeerSet(0b001, ((12, 14), (20, 21)))
>>> a.contains(2), a.contains(11), a.contains(12)
(True, True, False)
>>> bin(a.to_bits())
'0b110000000101'
>>> (a | b).runs
((10, 14), (20, 21))
>>> sets = PeerSets([a, b])
>>> sets.first_containing(13), sets.first_containing(0), sets.first_containing(15)
(1, 0, None)
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import numpy.typing as npt

from service.engine import bitsets

Run = tuple[int, int]  # half-open [first, stop) of peer indexes


def merge_runs(runs: Iterable[Run]) -> tuple[Run, ...]:
    """Sorted, disjoint, non-adjacent runs covering exactly the union of ``runs``."""
    merged: list[Run] = []
    for lo, hi in sorted(runs):
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class PeerSet:
    """Pod classes (bit ``c`` = class ``c``) and runs of external pieces (peer indexes).

    Invariant: ``runs`` are sorted, disjoint and non-adjacent, and every run lies above
    every class bit (pieces are numbered after the classes).
    """

    classes: int = 0
    runs: tuple[Run, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.classes or self.runs)

    def __or__(self, other: PeerSet) -> PeerSet:
        return PeerSet(self.classes | other.classes, merge_runs((*self.runs, *other.runs)))

    def contains(self, peer: int) -> bool:
        if bitsets.contains(self.classes, peer):
            return True
        at = bisect.bisect_right(self.runs, (peer, 1 << 62)) - 1
        return at >= 0 and self.runs[at][0] <= peer < self.runs[at][1]

    def to_bits(self) -> int:
        """The bitset over every peer."""
        return self.classes | runs_to_bits(self.runs)

    @property
    def piece_count(self) -> int:
        return sum(hi - lo for lo, hi in self.runs)


def runs_to_bits(runs: Sequence[Run]) -> int:
    """One bitset of many runs in one pass (shifting each run into a growing int would
    copy the whole int once per run)."""
    if not runs:
        return 0
    if len(runs) <= bitsets.SPARSE:
        bits = 0
        for lo, hi in runs:
            bits |= ((1 << (hi - lo)) - 1) << lo
        return bits
    top = max(hi for _, hi in runs)
    edges = np.zeros(top + 1, dtype=np.int64)
    np.add.at(edges, np.array([lo for lo, _ in runs], dtype=np.int64), 1)
    np.add.at(edges, np.array([hi for _, hi in runs], dtype=np.int64), -1)
    flags = (np.cumsum(edges[:top]) > 0).astype(np.uint8)
    return int.from_bytes(np.packbits(flags, bitorder="little").tobytes(), "little")


@dataclass(frozen=True, slots=True)
class _RunIndex:
    """Every run of a rule's peer sets as parallel arrays, and the sets with class bits."""

    with_classes: tuple[tuple[int, int], ...]  # (position, class bits)
    los: npt.NDArray[np.int64]
    his: npt.NDArray[np.int64]
    owners: npt.NDArray[np.int64]  # position of each run's peer set

    @classmethod
    def of(cls, sets: Sequence[PeerSet]) -> _RunIndex:
        def column(values: Iterable[int]) -> npt.NDArray[np.int64]:
            return np.fromiter(values, dtype=np.int64)

        return cls(
            tuple((i, s.classes) for i, s in enumerate(sets) if s.classes),
            column(lo for s in sets for lo, _ in s.runs),
            column(hi for s in sets for _, hi in s.runs),
            column(i for i, s in enumerate(sets) for _ in s.runs),
        )


class PeerSets(Sequence[PeerSet]):
    """The peer sets of one rule's peers, in the rule's order, with the lookup "which is
    the first peer holding this one" answered without materialising any bitset."""

    __slots__ = ("_index", "_sets")

    def __init__(self, sets: Iterable[PeerSet] = ()) -> None:
        self._sets = tuple(sets)
        self._index: _RunIndex | None = None

    @overload
    def __getitem__(self, index: int) -> PeerSet: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[PeerSet]: ...
    def __getitem__(self, index: int | slice) -> PeerSet | Sequence[PeerSet]:
        return self._sets[index]

    def __len__(self) -> int:
        return len(self._sets)

    def __iter__(self) -> Iterator[PeerSet]:
        return iter(self._sets)

    def union_bits(self) -> int:
        classes = 0
        for peer_set in self._sets:
            classes |= peer_set.classes
        return classes | runs_to_bits(merge_runs(r for s in self._sets for r in s.runs))

    def first_containing(self, peer: int) -> int | None:
        """Index of the first peer set holding ``peer``, None if none does."""
        index = self._index
        if index is None:
            index = self._index = _RunIndex.of(self._sets)
        found = next((i for i, bits in index.with_classes if bitsets.contains(bits, peer)), None)
        hits = index.owners[(index.los <= peer) & (peer < index.his)]
        if len(hits):
            first = int(hits.min())
            return first if found is None else min(found, first)
        return found
