"""The object diff: objects added, removed and changed (with the field paths that changed),
by kind, namespace and name.

Server-side bookkeeping is ignored: ``status`` (but a Node's ``status.addresses``, which
``nodes`` peers match), ``metadata.resourceVersion``, ``uid``, ``generation``,
``creationTimestamp``, ``managedFields``, ``selfLink`` and the
``kubectl.kubernetes.io/last-applied-configuration`` annotation.

>>> a = {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "x"},
...      "spec": {"ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]}]}}
>>> b = {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "x", "uid": "1"},
...      "spec": {"ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "b"}}}]}]}}
>>> changed_fields(a, b)
['spec.ingress[0].from[0].namespaceSelector.matchLabels.team']
>>> changed_fields({"metadata": {"name": "p", "labels": {"app": "a"}}}, {"metadata": {"name": "p"}})
['metadata.labels']
>>> node = {"kind": "Node", "metadata": {"name": "n1"},
...         "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.5"}]}}
>>> changed_fields(node, {**node, "status": {"addresses": [
...     {"type": "InternalIP", "address": "10.0.0.6"}], "conditions": []}})
['status.addresses[0].address']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from service.engine.model import DEFAULT_NAMESPACE

IGNORED_METADATA = frozenset(
    {"resourceVersion", "uid", "generation", "creationTimestamp", "managedFields", "selfLink"}
)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "ClusterRole",
        "ClusterRoleBinding",
        "AdminNetworkPolicy",
        "BaselineAdminNetworkPolicy",
        "ClusterNetworkPolicy",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
    }
)
MAX_FIELDS = 50  # changed paths listed per object; the rest are counted
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    """kind, namespace (``""`` for cluster-scoped kinds) and name."""

    kind: str
    namespace: str
    name: str

    def to_api(self) -> dict[str, Any]:
        out = {"kind": self.kind, "namespace": self.namespace, "name": self.name}
        if not self.namespace:
            del out["namespace"]
        return out

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass(frozen=True, slots=True)
class ObjectChange:
    key: ObjectKey
    fields: tuple[str, ...]  # at most MAX_FIELDS
    more_fields: int = 0


@dataclass(frozen=True, slots=True)
class ObjectDiff:
    """Sorted by kind, namespace, name."""

    added: tuple[ObjectKey, ...] = ()
    removed: tuple[ObjectKey, ...] = ()
    changed: tuple[ObjectChange, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "removed": len(self.removed),
            "changed": len(self.changed),
        }


def object_key(body: Mapping[str, Any]) -> ObjectKey:
    """The identity of a manifest (a namespaced object without a namespace is in default)."""
    kind = str(body.get("kind") or "")
    metadata = body.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    namespace = metadata.get("namespace")
    if kind in CLUSTER_SCOPED_KINDS:
        namespace = ""
    elif not isinstance(namespace, str) or not namespace:
        namespace = DEFAULT_NAMESPACE
    return ObjectKey(kind, namespace, str(metadata.get("name") or ""))


def index_bodies(bodies: Iterable[Mapping[str, Any]]) -> dict[ObjectKey, Mapping[str, Any]]:
    """Bodies by key (a later duplicate wins; validated input has none)."""
    return {object_key(body): body for body in bodies}


_MEANINGFUL_STATUS = {"Node": ("addresses",)}  # the status fields the analysis reads


def normalised(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` without status and server-side bookkeeping."""
    out = {k: v for k, v in body.items() if k != "status"}
    kept_status = _MEANINGFUL_STATUS.get(str(body.get("kind")))
    status = body.get("status")
    if kept_status and isinstance(status, Mapping):
        meaningful = {k: status[k] for k in kept_status if k in status}
        if meaningful:
            out["status"] = meaningful
    metadata = out.get("metadata")
    if isinstance(metadata, Mapping):
        kept = {k: v for k, v in metadata.items() if k not in IGNORED_METADATA}
        annotations = kept.get("annotations")
        if isinstance(annotations, Mapping) and LAST_APPLIED in annotations:
            rest = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
            if rest:
                kept["annotations"] = rest
            else:
                del kept["annotations"]
        out["metadata"] = kept
    return out


def _member(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    quoted = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{path}["{quoted}"]'


def _walk(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                out.append(_member(path, str(key)))
            elif a[key] != b[key]:
                _walk(a[key], b[key], _member(path, str(key)), out)
        return
    if isinstance(a, list) and isinstance(b, list):
        for index in range(max(len(a), len(b))):
            if index >= len(a) or index >= len(b):
                out.append(f"{path}[{index}]")
            elif a[index] != b[index]:
                _walk(a[index], b[index], f"{path}[{index}]", out)
        return
    if a != b or type(a) is not type(b):
        out.append(path)


def changed_fields(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[str]:
    """The paths (``spec.ingress[0].ports[1].port``) where two bodies differ, ignoring
    status and bookkeeping; a map or list entry present on one side only is listed once."""
    out: list[str] = []
    a, b = normalised(base), normalised(head)
    if a != b:
        _walk(a, b, "", out)
    return out


def diff_objects(
    base: Mapping[ObjectKey, Mapping[str, Any]],
    head: Mapping[ObjectKey, Mapping[str, Any]],
    keys: Iterable[ObjectKey] | None = None,
) -> ObjectDiff:
    """Compare two indexed sets of bodies, only at ``keys`` when given (a what-if knows
    which objects it touched)."""
    candidates = set(base) | set(head) if keys is None else set(keys)
    added: list[ObjectKey] = []
    removed: list[ObjectKey] = []
    changed: list[ObjectChange] = []
    for key in sorted(candidates):
        old, new = base.get(key), head.get(key)
        if old is None and new is None:
            continue
        if old is None:
            added.append(key)
        elif new is None:
            removed.append(key)
        elif old is not new and old != new:
            fields = changed_fields(old, new)
            if fields:
                changed.append(
                    ObjectChange(key, tuple(fields[:MAX_FIELDS]), max(len(fields) - MAX_FIELDS, 0))
                )
    return ObjectDiff(tuple(added), tuple(removed), tuple(changed))
