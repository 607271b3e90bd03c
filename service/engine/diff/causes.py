"""Causes: the object changes behind a connection change, as values.

Computed by :mod:`service.engine.diff.attribution` from the verdicts on both sides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from service.engine.connectivity import IntArray
from service.engine.diff.connections import ConnectivityDiff
from service.engine.diff.objects import ObjectKey


class CauseKind(StrEnum):
    POLICY_ADDED = "policy-added"
    POLICY_REMOVED = "policy-removed"
    POLICY_EDITED = "policy-edited"
    POD_RELABELLED = "pod-relabelled"
    NAMESPACE_RELABELLED = "namespace-relabelled"
    PORTS_CHANGED = "container-ports-changed"
    SERVICE_CHANGED = "service-changed"
    ENDPOINT_ADDED = "endpoint-added"
    ENDPOINT_REMOVED = "endpoint-removed"
    ENDPOINT_CHANGED = "endpoint-changed"
    NODE_CHANGED = "node-changed"  # a Node's labels or addresses (nodes peers match them)

    @property
    def verb(self) -> str:
        """How the markdown says it: ``(edited: ingress rule 1 peer 0)``."""
        return _VERBS[self]


_VERBS = {
    CauseKind.POLICY_ADDED: "added",
    CauseKind.POLICY_REMOVED: "removed",
    CauseKind.POLICY_EDITED: "edited",
    CauseKind.POD_RELABELLED: "pods relabelled",
    CauseKind.NAMESPACE_RELABELLED: "relabelled",
    CauseKind.PORTS_CHANGED: "container ports changed",
    CauseKind.SERVICE_CHANGED: "retargeted",
    CauseKind.ENDPOINT_ADDED: "added",
    CauseKind.ENDPOINT_REMOVED: "removed",
    CauseKind.ENDPOINT_CHANGED: "changed",
    CauseKind.NODE_CHANGED: "changed",
}


@dataclass(frozen=True, slots=True, order=True)
class Cause:
    """One object change behind a connection change, with what of it mattered."""

    object: ObjectKey
    kind: CauseKind
    details: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "object": self.object.to_api(),
                "details": list(self.details)}  # fmt: skip

    @property
    def label(self) -> str:
        """``shop/NetworkPolicy/api-from-web`` (cluster-scoped: ``Namespace/shop``)."""
        key = self.object
        return (
            f"{key.namespace}/{key.kind}/{key.name}" if key.namespace else f"{key.kind}/{key.name}"
        )

    def __str__(self) -> str:
        what = self.kind.verb
        if self.details:
            what += ": " + ", ".join(self.details)
        return f"{self.label} ({what})"


CauseSet = tuple[Cause, ...]


@dataclass(frozen=True, slots=True)
class Causes:
    """For every row of a diff's added, removed and changed connections, an index into
    ``sets`` (interned: a large change usually has a handful of distinct cause sets)."""

    sets: tuple[CauseSet, ...]
    added: IntArray
    removed: IntArray
    changed: IntArray

    @classmethod
    def none(cls, diff: ConnectivityDiff) -> Causes:
        def zeros(n: int) -> IntArray:
            return np.zeros(n, dtype=np.int64)

        return cls(((),), zeros(len(diff.added)), zeros(len(diff.removed)),
                   zeros(len(diff.changed)))  # fmt: skip


def merge_causes(causes: Iterable[Cause]) -> CauseSet:
    """One cause per (object, kind), details united."""
    details: dict[tuple[ObjectKey, CauseKind], dict[str, None]] = defaultdict(dict)
    for cause in causes:
        details[(cause.object, cause.kind)].update(dict.fromkeys(cause.details))
    return tuple(
        sorted(Cause(obj, kind, tuple(sorted(found))) for (obj, kind), found in details.items())
    )
