"""External address ranges merged per endpoint and direction.

Compilation cuts the address space at every ipBlock boundary of the whole cluster, so a
workload no policy protects would show ``0.0.0.0/0`` as three rows (``0.0.0.0-9.255.255.255``,
``10.0.0.0/8``, ``11.0.0.0-255.255.255.255``) merely because some other workload's policy
names ``10.0.0.0/8``. For each cluster endpoint and direction, adjacent pieces whose values
(ports, or a diff's before/after) are identical are one range.

>>> pieces = [AddressRange(4, 0, 9), AddressRange(4, 10, 19), AddressRange(4, 20, 29)]
>>> owners, others = np.array([0, 0, 0, 1]), np.array([0, 1, 2, 1])
>>> run, ranges = merge_runs(owners, others, [np.array([7, 7, 7, 7])], pieces)
>>> run.tolist(), [(r.start, r.end) for r in ranges]
([0, 0, 0, 1], [(0, 29), (10, 19)])
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from service.engine.model import AddressRange
from service.engine.ordering import lexsort

IntArray = npt.NDArray[np.int64]


def adjacency(pieces: Sequence[AddressRange]) -> npt.NDArray[np.bool_]:
    """``out[i]``: piece ``i + 1`` starts right after piece ``i`` ends (same IP version)."""
    flags = [a.version == b.version and a.end + 1 == b.start for a, b in pairwise(pieces)]
    return np.array([*flags, False], dtype=bool)


def merge_runs(
    owners: IntArray,
    pieces_of_rows: IntArray,
    values: Sequence[IntArray],
    pieces: Sequence[AddressRange],
) -> tuple[IntArray, list[AddressRange]]:
    """Group rows ``(owner, piece, *values)`` into runs: rows of one owner, with identical
    values, over adjacent pieces (``pieces`` sorted by address). Returns each row's run and
    each run's range. Rows must be unique per (owner, piece)."""
    run, first, last = _runs(owners, pieces_of_rows, values, pieces)
    ranges = [
        AddressRange(pieces[a].version, pieces[a].start, pieces[b].end)
        for a, b in zip(first.tolist(), last.tolist(), strict=True)
    ]
    return run, ranges


def _runs(
    owners: IntArray,
    pieces_of_rows: IntArray,
    values: Sequence[IntArray],
    pieces: Sequence[AddressRange],
) -> tuple[IntArray, IntArray, IntArray]:
    """As :func:`merge_runs`, each run's range as its first and last piece."""
    count = len(owners)
    if not count:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    order = lexsort((pieces_of_rows, *values[::-1], owners))
    o, p = owners[order], pieces_of_rows[order]
    adjacent = adjacency(pieces)
    starts = np.ones(count, dtype=bool)
    same = (o[1:] == o[:-1]) & (p[1:] == p[:-1] + 1) & adjacent[p[:-1]]
    for column in values:
        v = column[order]
        same &= v[1:] == v[:-1]
    starts[1:] = ~same
    run_sorted = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.r_[first[1:] - 1, count - 1]
    run = np.empty(count, dtype=np.int64)
    run[order] = run_sorted
    return run, p[first], p[last]


class RangeTable:
    """Endpoints of one output: the cluster endpoints, then each distinct merged range once."""

    def __init__(self, cluster_endpoints: int) -> None:
        self.base = cluster_endpoints
        self.ids: dict[AddressRange, int] = {}

    def id(self, span: AddressRange) -> int:
        return self.ids.setdefault(span, self.base + len(self.ids))

    def ids_of(self, spans: Sequence[AddressRange]) -> IntArray:
        return np.array([self.id(s) for s in spans], dtype=np.int64)

    @property
    def ranges(self) -> list[AddressRange]:
        return list(self.ids)


def merge_external(
    refs: int,
    pieces: Sequence[AddressRange],
    table: RangeTable,
    sources: IntArray,
    targets: IntArray,
    values: Sequence[IntArray],
) -> tuple[IntArray, IntArray, IntArray]:
    """Rows over ``refs`` cluster endpoints then ``pieces`` (ids ``refs + i``), merged per
    cluster endpoint and direction. Returns the kept rows' indexes and their endpoint ids in
    ``table`` (cluster endpoints keep theirs)."""
    new_sources, new_targets = sources.copy(), targets.copy()
    keep = np.ones(len(sources), dtype=bool)
    for outward in (True, False):
        own, far = (sources, targets) if outward else (targets, sources)
        rows = np.flatnonzero(far >= refs)
        if not len(rows):
            continue
        run, first, last = _runs(own[rows], far[rows] - refs, [v[rows] for v in values], pieces)
        ids = _span_ids(table, pieces, first, last)
        (new_targets if outward else new_sources)[rows] = ids[run]
        seen = np.zeros(len(rows), dtype=bool)
        _, first_rows = np.unique(run, return_index=True)
        seen[first_rows] = True
        keep[rows[~seen]] = False
    kept = np.flatnonzero(keep)
    return kept, new_sources[kept], new_targets[kept]


def _span_ids(
    table: RangeTable, pieces: Sequence[AddressRange], first: IntArray, last: IntArray
) -> IntArray:
    """The ids in ``table`` of the ranges from piece ``first[i]`` to ``last[i]``, each
    distinct range made and looked up once (many runs span the same pieces), in the order
    of first appearance."""
    keys = first * len(pieces) + last
    distinct, at, inverse = np.unique(keys, return_index=True, return_inverse=True)
    ids = np.empty(len(distinct), dtype=np.int64)
    for i in np.argsort(at, kind="stable").tolist():
        a, b = divmod(int(distinct[i]), len(pieces))
        ids[i] = table.id(AddressRange(pieces[a].version, pieces[a].start, pieces[b].end))
    found: IntArray = ids[inverse.ravel()]
    return found
