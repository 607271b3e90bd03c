"""Cells: the peers one subject's rules treat alike, so that each distinct (class, cell)
pair is evaluated once however many connections it explains."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from service.engine.compile import CompiledCluster
from service.engine.connectivity import IntArray
from service.engine.diff.memo import IdentityMemo
from service.engine.model import Direction


def _named_ids(compiled: CompiledCluster) -> IntArray:
    """Per peer, an id of the named ports it defines (equal ids, equal named ports)."""
    named: dict[object, int] = {}
    return np.array(
        [named.setdefault(compiled.named_ports_of(p), len(named))
         for p in range(compiled.peer_count)] or [0],
        dtype=np.int64,
    )  # fmt: skip


# by the classes and pieces they come from: a what-if's head shares its base's
_NAMED: IdentityMemo[IntArray] = IdentityMemo()


class Cells:
    """Per (direction, subject class) of one compilation: which peers its rules' peers treat
    alike. Two peers of one cell match exactly the same peers of the same rules, so they get
    the same effects (up to the destination's named ports, which are keyed separately).

    Classes are told apart by the class bits of every rule peer. External pieces are only
    ever matched through runs of pieces (ipBlocks, ``networks``), so a piece's cell is the
    stretch between two consecutive run boundaries of the subject's rules: possibly finer
    than needed, never coarser, and linear in the number of runs.
    """

    def __init__(self, compiled: CompiledCluster) -> None:
        self.compiled = compiled
        self._bytes = (compiled.class_count + 7) // 8
        self.named_id = _NAMED.get(
            (compiled.classes, compiled.pieces), lambda: _named_ids(compiled)
        )
        self._boundaries: dict[int, IntArray] = {}
        self.general = False  # True: no single-peer shortcut (the tests compare both)

    def _rules(self, direction: Direction, subject: int) -> list[Any]:
        compiled = self.compiled
        if not compiled.is_subject(subject):
            return []
        rules: list[Any] = list(compiled.admin_rules[direction][subject])
        for policy in compiled.applied[direction][subject]:
            rules += policy.rules(direction)
        rules += compiled.baseline_rules[direction][subject]
        return rules

    def _rule_boundaries(self, rule: Any) -> IntArray:
        found = self._boundaries.get(id(rule))
        if found is None:
            edges = [edge for peer_set in rule.peer_sets for run in peer_set.runs for edge in run]
            found = self._boundaries[id(rule)] = np.unique(np.array(edges, dtype=np.int64))
        return found

    def _members(self, bits: int) -> npt.NDArray[np.uint8]:
        raw = np.frombuffer(bits.to_bytes(self._bytes, "little"), dtype=np.uint8)
        return np.unpackbits(raw, bitorder="little")

    def lookup(self, direction: Direction, subjects: IntArray, others: IntArray) -> IntArray:
        """For each ``subjects[i]``, the cell of ``others[i]``: cells of one subject are
        equal only when the peers match the same rule peers (special peers keep their
        negative code; absent subjects give -1)."""
        out = np.full(len(subjects), -1, dtype=np.int64)
        if not len(subjects):
            return out
        classes = self.compiled.class_count
        order = np.argsort(subjects, kind="stable")
        unique, starts = np.unique(subjects[order], return_index=True)
        ends = np.r_[starts[1:], len(order)]
        for subject, lo, hi in zip(unique.tolist(), starts.tolist(), ends.tolist(), strict=True):
            if subject < 0:
                continue
            if hi - lo == 1 and not self.general:
                row = int(order[lo])
                out[row] = self._single(direction, subject, int(others[row]))
                continue
            rows = order[lo:hi]
            peers = others[rows]
            rules = self._rules(direction, subject)
            is_class = (peers >= 0) & (peers < classes)
            at = np.where(is_class, peers, 0)
            key = np.zeros(len(rows), dtype=np.int64)
            width = 0
            for rule in rules:
                for peer_set in rule.peer_sets:
                    if not peer_set.classes:
                        continue  # the same (no) match for every class
                    key = key * 2 + self._members(peer_set.classes)[at]
                    width += 1
                    if width == 62:  # compact before the key overflows
                        _, key = np.unique(key, return_inverse=True)
                        key = key.reshape(-1).astype(np.int64)
                        width = int(key.max(initial=0)).bit_length()
            _, key = np.unique(key, return_inverse=True)
            key = key.reshape(-1).astype(np.int64)
            stretch = np.searchsorted(self._run_boundaries(rules), peers, side="right")
            key = np.where(is_class, key, len(rows) + stretch)
            out[rows] = np.where(peers >= 0, key, peers)
        return out

    def _run_boundaries(self, rules: list[Any]) -> IntArray:
        edges = [self._rule_boundaries(rule) for rule in rules]
        return np.unique(np.concatenate(edges)) if edges else np.empty(0, np.int64)

    def _single(self, direction: Direction, subject: int, peer: int) -> int:
        """:meth:`lookup`'s answer for a subject that comes with one peer only (most do), as
        the general path computes it: a class is cell 0 (the only key), a special peer
        keeps its code, a piece is 1 + its stretch."""
        if peer < 0:
            return peer
        if peer < self.compiled.class_count:
            return 0
        boundaries = self._run_boundaries(self._rules(direction, subject))
        return 1 + int(np.searchsorted(boundaries, peer, side="right"))
