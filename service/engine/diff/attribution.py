"""Why each connection changed: the object changes that produced it, from the verdicts.

For a changed connection, representative pods (or addresses) of its endpoints
(:mod:`service.engine.diff.endpoint_changes`) are evaluated on both sides with the
engine's own verdict logic: the source's egress towards the target and the target's
ingress from the source (:mod:`service.engine.diff.verdicts` names what differs). A side
counts only where its allowed ports changed within the connection's own change. An
endpoint present on one side only is the whole cause: it was added or removed.

Evaluations are shared: pods are classes, and within a class the peers that every rule's
peers treat alike form *cells* (:mod:`service.engine.diff.cells`), so each distinct
(class, cell) pair of each side is evaluated once, however many connections it explains.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from service.engine.compile import CompiledCluster
from service.engine.connectivity import IntArray
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.diff.causes import Cause, Causes, CauseSet, merge_causes
from service.engine.diff.cells import Cells
from service.engine.diff.connections import BoolArray, ConnectivityDiff
from service.engine.diff.endpoint_changes import Endpoints
from service.engine.diff.objects import ObjectDiff
from service.engine.diff.verdicts import (
    Relative,
    Role,
    SideChange,
    SideComparer,
    delta_of,
    policies_of,
)
from service.engine.model import Direction, PortSet


def _group(columns: Sequence[IntArray]) -> tuple[IntArray, IntArray]:
    """Rows of equal values across ``columns``: the first row of each group, and each row's
    group (the columns packed into one integer key: much faster than ``unique(axis=0)``)."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    for column in columns:
        low = int(column.min(initial=0))
        width = int(column.max(initial=0)) - low + 1
        if span * width >= 2**62:  # compact before the key overflows
            _, key = np.unique(key, return_inverse=True)
            key = key.reshape(-1).astype(np.int64)
            span = int(key.max(initial=0)) + 1
        key = key * width + (column - low)
        span *= width
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return first.astype(np.int64), inverse.reshape(-1).astype(np.int64)


def _combos(
    endpoints: Endpoints, sources: IntArray, targets: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Each (row, source representative, target representative): row ids and the
    representatives' positions in ``endpoints``' flat arrays."""
    indptr = endpoints.indptr

    def expand(keys: IntArray) -> tuple[IntArray, IntArray]:
        degree = indptr[keys + 1] - indptr[keys]
        rows = np.repeat(np.arange(len(keys)), degree)
        first = np.repeat(np.cumsum(degree) - degree, degree)
        within = np.arange(len(rows)) - first
        return rows, indptr[keys][rows] + within

    rows, src = expand(sources)
    inner, dst = expand(targets[rows])
    return rows[inner], src[inner], dst


def _same_inputs(base: CompiledCluster, head: CompiledCluster, direction: Direction) -> BoolArray:
    """Per subject peer of two compilations that share their classes, whether everything
    its verdicts in ``direction`` read is one object on both sides (the policies selecting
    it, its admin and baseline rules): then each of its verdicts is the same on both sides.
    Peers that are no subject (external, exempt) evaluate to nothing on both sides, and so
    does an absent one (the last entry stands for the negative codes)."""
    same = np.ones(base.peer_count + 1, dtype=bool)
    tables: list[tuple[Sequence[object], Sequence[object]]] = [
        (base.applied[direction], head.applied[direction]),
        (base.admin_rules[direction], head.admin_rules[direction]),
        (base.baseline_rules[direction], head.baseline_rules[direction]),
    ]
    for old, new in tables:
        if old is new:
            continue
        same[: base.class_count] &= np.array(
            [a is b for a, b in zip(old, new, strict=True)], dtype=np.bool_
        )
    return same


class _Attribution:
    def __init__(
        self,
        diff: ConnectivityDiff,
        base: CompiledCluster,
        head: CompiledCluster,
        objects: ObjectDiff,
        deadline: Deadline,
    ) -> None:
        self.diff = diff
        self.deadline = deadline
        self.endpoints = Endpoints(diff, base, head, objects)
        self.comparer = SideComparer(base, head, policies_of(base), policies_of(head))
        self.cells = (Cells(base), Cells(head))
        self.sets: dict[CauseSet, int] = {(): 0}
        # Sides known unchanged without evaluating them (the head compiled on the base's
        # classes: a subject whose policies and rules are the base's own has the base's
        # verdicts); None: evaluate every side.
        self.same: dict[Direction, BoolArray] | None = None
        if self.endpoints.shared:
            self.same = {d: _same_inputs(base, head, d) for d in Direction}

    def side_changes(
        self, direction: Direction, subjects: tuple[IntArray, IntArray],
        others: tuple[IntArray, IntArray],
    ) -> tuple[IntArray, list[SideChange]]:  # fmt: skip
        """Each combo's side signature, and the change of each distinct signature."""
        if self.same is not None:
            return self._changed_sides(direction, subjects, others, self.same[direction])
        return self._side_changes(direction, subjects, others)

    def _changed_sides(
        self, direction: Direction, subjects: tuple[IntArray, IntArray],
        others: tuple[IntArray, IntArray], same: BoolArray,
    ) -> tuple[IntArray, list[SideChange]]:  # fmt: skip
        """:meth:`_side_changes` on shared classes: the combos whose side is unchanged by
        construction (same subject and peer, subject's inputs the base's) share signature
        0, an unchanged side; only the others are looked up and evaluated."""
        subject = subjects[0]
        known = (subject == subjects[1]) & (others[0] == others[1])
        known &= same[np.where(subject < 0, len(same) - 1, subject)]
        rest = np.flatnonzero(~known)
        inverse = np.zeros(len(subject), dtype=np.int64)
        changes = [SideChange(PortSet.empty(), ())]
        if len(rest):
            found, more = self._side_changes(
                direction,
                (subjects[0][rest], subjects[1][rest]),
                (others[0][rest], others[1][rest]),
            )
            inverse[rest] = found + 1
            changes += more
        return inverse, changes

    def _side_changes(
        self, direction: Direction, subjects: tuple[IntArray, IntArray],
        others: tuple[IntArray, IntArray],
    ) -> tuple[IntArray, list[SideChange]]:  # fmt: skip
        keys = [subjects[0], self.cells[0].lookup(direction, subjects[0], others[0])]
        keys += [subjects[1], self.cells[1].lookup(direction, subjects[1], others[1])]
        if direction is Direction.EGRESS:  # the destination's named ports: the other's
            for side in (0, 1):
                named = self.cells[side].named_id
                keys.append(np.where(others[side] >= 0, named[np.maximum(others[side], 0)], -1))
        if not len(keys[0]):
            return np.empty(0, dtype=np.int64), []
        first, inverse = _group(keys)
        changes = []
        for i in first.tolist():
            self.deadline.check("diff: the causes of the connection changes")
            changes.append(
                self.comparer.compare(
                    direction,
                    (int(subjects[0][i]), int(others[0][i])),
                    (int(subjects[1][i]), int(others[1][i])),
                )
            )
        return inverse, changes

    def rows(
        self, sources: IntArray, targets: IntArray, before: IntArray, after: IntArray
    ) -> IntArray:
        """The cause set of each row (``before``/``after``: port set ids, -1 for none)."""
        out = np.zeros(len(sources), dtype=np.int64)
        if not len(sources):
            return out
        e = self.endpoints
        row, src, dst = _combos(e, sources, targets)
        base_src, head_src = e.base_peer[src], e.head_peer[src]
        base_dst, head_dst = e.base_peer[dst], e.head_peer[dst]
        egress, egress_changes = self.side_changes(
            Direction.EGRESS, (base_src, head_src), (base_dst, head_dst)
        )
        ingress, ingress_changes = self.side_changes(
            Direction.INGRESS, (base_dst, head_dst), (base_src, head_src)
        )
        # What each distinct (egress signature, ingress signature, before, after) says.
        first, inverse = _group([egress, ingress, before[row], after[row]])
        portsets = self.diff.portsets
        deltas: dict[tuple[int, int], PortSet] = {}
        said = [
            self._relevant(
                (egress_changes[egress[c]], ingress_changes[ingress[c]]),
                int(before[row[c]]),
                int(after[row[c]]),
                portsets,
                deltas,
            )
            for c in first.tolist()
        ]
        intern = self.sets
        plain = np.array(
            [intern.setdefault(tuple(sorted(c)), len(intern)) if not r else -1 for c, r in said]
            or [0],
            dtype=np.int64,
        )
        per_row = np.bincount(row, minlength=len(sources))
        simple = (per_row[row] == 1) & (plain[inverse] >= 0)
        out[row[simple]] = plain[inverse[simple]]
        found: dict[int, dict[Cause, None]] = {}
        src_ids, dst_ids = sources.tolist(), targets.tolist()
        for combo in np.flatnonzero(~simple).tolist():
            r = int(row[combo])
            concrete, relatives = said[int(inverse[combo])]
            bucket = found.setdefault(r, {})
            bucket.update(dict.fromkeys(concrete))
            for direction, relative in relatives:
                resolved = self._resolve(direction, relative, src_ids[r], dst_ids[r])
                if resolved is not None:
                    bucket[resolved] = None
        for r, bucket in found.items():
            out[r] = intern.setdefault(tuple(sorted(bucket)), len(intern))
        presence = e.presences()
        flags = np.array([p is not None for p in presence] or [False], dtype=bool)
        for r in np.flatnonzero(flags[sources] | flags[targets]).tolist():
            cause = presence[src_ids[r]] or presence[dst_ids[r]]
            assert cause is not None  # an endpoint added or removed says it all
            out[r] = intern.setdefault((cause,), len(intern))
        return out

    @staticmethod
    def _relevant(
        changes: tuple[SideChange, SideChange],
        before: int,
        after: int,
        portsets: Sequence[PortSet],
        deltas: dict[tuple[int, int], PortSet],
    ) -> tuple[tuple[Cause, ...], tuple[tuple[Direction, Relative], ...]]:
        """The causes of the sides whose change touches the connection's change: concrete
        ones, and the ones to resolve against the connection's endpoints."""
        delta = deltas.get((before, after))
        if delta is None:
            old = PortSet.empty() if before < 0 else portsets[before]
            new = PortSet.empty() if after < 0 else portsets[after]
            delta = deltas[(before, after)] = delta_of(old, new)
        concrete: list[Cause] = []
        relatives: list[tuple[Direction, Relative]] = []
        for direction, change in zip((Direction.EGRESS, Direction.INGRESS), changes, strict=True):
            if not change.causes or not (change.delta & delta):
                continue
            for abstract in change.causes:
                if isinstance(abstract, Cause):
                    concrete.append(abstract)
                else:
                    relatives.append((direction, abstract))
        return tuple(dict.fromkeys(concrete)), tuple(relatives)

    def _resolve(
        self, direction: Direction, relative: Relative, source: int, target: int
    ) -> Cause | None:
        subject, other = (source, target) if direction is Direction.EGRESS else (target, source)
        endpoint = {
            Role.SUBJECT_PODS: subject,
            Role.PEER: other,
            Role.DESTINATION_PORTS: target,
        }[relative.role]
        return self.endpoints.resolve(relative, endpoint)


def attribute(
    diff: ConnectivityDiff,
    base: CompiledCluster,
    head: CompiledCluster,
    objects: ObjectDiff,
    deadline: Deadline = NO_DEADLINE,
) -> Causes:
    """The causes of every connection change of ``diff`` (computed from ``base`` and
    ``head``, the compilations its maps came from; ``objects`` is their object diff)."""
    work = _Attribution(diff, base, head, objects, deadline)
    none = np.full(len(diff.added), -1, dtype=np.int64)
    added = work.rows(diff.added.sources, diff.added.targets, none, diff.added.ports)
    gone = np.full(len(diff.removed), -1, dtype=np.int64)
    removed = work.rows(diff.removed.sources, diff.removed.targets, diff.removed.ports, gone)
    changed = work.rows(
        diff.changed.sources, diff.changed.targets, diff.changed.before, diff.changed.after
    )
    sets: list[CauseSet] = [()] * len(work.sets)
    for cause_set, index in work.sets.items():
        sets[index] = merge_causes(cause_set)
    return Causes(tuple(sets), added, removed, changed)
