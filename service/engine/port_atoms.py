"""Port sets as bit masks over atoms: the port space cut at every boundary of given sets.

Each given set is then a union of whole atoms, so set algebra on them is integer (or numpy
word) bit algebra; a mask turns back into a canonical :class:`PortSet` at the end.

>>> atoms = PortAtoms([PortSet.single("TCP", 80), PortSet.range("TCP", 80, 90)])
>>> web = atoms.mask(PortSet.range("TCP", 80, 90))
>>> atoms.portset(web & ~atoms.mask(PortSet.single("TCP", 80)))
PortSet(TCP 81-90)
>>> atoms.portset(atoms.full) == PortSet.all()
True
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from service.engine.model import PortSet
from service.engine.model.ports import MAX_PORT, MIN_PORT, PROTOCOLS, PortRange

Words = npt.NDArray[np.uint64]


class PortAtoms:
    """The atoms of some port sets, numbered by protocol then port; a mask is a Python int
    (bit ``i``: atom ``i``), or ``words`` little-endian uint64 words of it."""

    def __init__(self, sets: Iterable[PortSet]) -> None:
        cuts = {protocol: {MIN_PORT, MAX_PORT + 1} for protocol in PROTOCOLS}
        for ports in sets:
            for r in ports.ranges:
                cuts[r.protocol].update((r.start, r.end + 1))
        self._starts = {p: sorted(c) for p, c in cuts.items()}
        self._offsets: dict[str, int] = {}
        self.atoms: list[PortRange] = []
        for protocol, starts in self._starts.items():
            self._offsets[protocol] = len(self.atoms)
            self.atoms.extend(PortRange(protocol, a, b - 1) for a, b in itertools.pairwise(starts))
        self.full = (1 << len(self.atoms)) - 1
        self.words = max(1, (len(self.atoms) + 63) // 64)
        self._masks: dict[PortSet, int] = {}
        self._sets: dict[int, PortSet] = {}
        self._runs: dict[tuple[int, int], list[PortRange]] = {}

    def mask(self, ports: PortSet) -> int:
        """``ports`` as atoms (every boundary of it must be one of the atoms')."""
        found = self._masks.get(ports)
        if found is None:
            found = 0
            for r in ports.ranges:
                starts, offset = self._starts[r.protocol], self._offsets[r.protocol]
                first = bisect.bisect_left(starts, r.start)
                stop = bisect.bisect_left(starts, r.end + 1)
                found |= ((1 << (stop - first)) - 1) << (offset + first)
            self._masks[ports] = found
        return found

    def to_words(self, mask: int) -> Words:
        raw = mask.to_bytes(self.words * 8, "little")
        return np.frombuffer(raw, dtype="<u8").astype(np.uint64)

    def from_words(self, words: Words) -> int:
        return int.from_bytes(words.astype("<u8").tobytes(), "little")

    def portset(self, mask: int) -> PortSet:
        found = self._sets.get(mask)
        if found is None:
            ranges: list[PortRange] = []
            rest = mask
            while rest:
                low = (rest & -rest).bit_length() - 1
                run = ((rest >> low) + 1) & ~(rest >> low)  # lowest clear bit above the run
                stop = low + run.bit_length() - 1
                ranges.extend(self._ranges(low, stop))
                rest &= ~(((1 << (stop - low)) - 1) << low)
            found = self._sets[mask] = PortSet(ranges)
        return found

    def _ranges(self, first: int, stop: int) -> list[PortRange]:
        """Atoms ``first`` to ``stop - 1`` as ranges, one per protocol they span (the same
        runs recur in many masks)."""
        found = self._runs.get((first, stop))
        if found is None:
            found = self._runs[first, stop] = self._split(first, stop)
        return found

    def _split(self, first: int, stop: int) -> list[PortRange]:
        out: list[PortRange] = []
        while first < stop:
            protocol = self.atoms[first].protocol
            end = min(stop, self._offsets[protocol] + len(self._starts[protocol]) - 1)
            out.append(PortRange(protocol, self.atoms[first].start, self.atoms[end - 1].end))
            first = end
        return out
