"""The diff's endpoints on both sides: representative pods (or addresses) in each
compilation, and what changed about an endpoint (labels, its namespace's labels, named
container ports, presence, the Nodes at its addresses) to resolve the causes that depend
on it."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.engine.compile import CompiledCluster
from service.engine.diff.causes import Cause, CauseKind
from service.engine.diff.connections import ConnectivityDiff, endpoint_of
from service.engine.diff.memo import IdentityMemo
from service.engine.diff.objects import ObjectDiff, ObjectKey
from service.engine.diff.verdicts import Relative, Role
from service.engine.model import AddressRange, IPAddress, Node, ObjectRef, Pod

MAX_REPRESENTATIVES = 8  # pods (or addresses) evaluated per endpoint
ABSENT = -1  # an endpoint with no pod on that side
UNMODELLED = -2  # an address of an IP version that side never mentions


@dataclass(frozen=True, slots=True)
class EndpointSide:
    classes: list[int]
    pods: list[Pod]


def shares_classes(base: CompiledCluster, head: CompiledCluster) -> bool:
    """Whether both compilations are of the same pods on the same classes and pieces (an
    incremental what-if: the head compiled on the base's classes): then a pod, an address
    and every endpoint has the same class (or piece) on both sides."""
    return (
        base.classes is head.classes
        and base.pods is head.pods
        and base.pod_class is head.pod_class
        and base._pod_index is head._pod_index
        and base.pieces is head.pieces
        and base._piece_starts is head._piece_starts
    )


_SIDES: IdentityMemo[dict[ObjectRef, EndpointSide]] = IdentityMemo()
_SAME_PAIRS: IdentityMemo[dict[ObjectRef, list[tuple[int, int]]]] = IdentityMemo()


def cluster_endpoints(compiled: CompiledCluster, granularity: Any) -> dict[ObjectRef, EndpointSide]:
    """Per cluster endpoint at ``granularity``, up to :data:`MAX_REPRESENTATIVES` of its
    pods, one per class (in class order). Shared: never mutate the answer."""
    key = (compiled.classes, compiled.pods, granularity)
    return _SIDES.get(key, lambda: _cluster_endpoints(compiled, granularity))


def _same_pairs(
    compiled: CompiledCluster, granularity: Any
) -> dict[ObjectRef, list[tuple[int, int]]]:
    """Per cluster endpoint, the (base, head) classes of its representatives when both sides
    are ``compiled``'s classes (see :func:`_same_pods`). Shared: never mutate."""

    def compute() -> dict[ObjectRef, list[tuple[int, int]]]:
        sides = cluster_endpoints(compiled, granularity)
        return {ref: _same_pods(compiled, side) for ref, side in sides.items()}

    key = (compiled.classes, compiled.pods, compiled.pod_class, compiled._pod_index, granularity)
    return _SAME_PAIRS.get(key, compute)


def _same_pods(compiled: CompiledCluster, side: EndpointSide) -> list[tuple[int, int]]:
    """:meth:`Endpoints._pods` of an endpoint whose side is one object on two compilations
    that share their classes: each pod has one class on both sides."""
    found: dict[tuple[int, int], None] = {}
    pod_index, pod_class = compiled._pod_index, compiled.pod_class
    for pod in side.pods:  # as Endpoints._class does it, with one lookup
        at = pod_index.get((pod.namespace, pod.name))
        index = pod_class[at] if at is not None else side.classes[0]
        found[(index, index)] = None
    return list(found)[:MAX_REPRESENTATIVES] or [(ABSENT, ABSENT)]


def _cluster_endpoints(
    compiled: CompiledCluster, granularity: Any
) -> dict[ObjectRef, EndpointSide]:
    found: dict[ObjectRef, EndpointSide] = {}
    for cls in compiled.classes:
        seen: set[ObjectRef] = set()
        for index in cls.pods:
            pod = compiled.pods[index]
            ref = endpoint_of(pod.ref, pod.workload, granularity)
            if ref in seen:
                continue
            seen.add(ref)
            side = found.get(ref)
            if side is None:
                side = found[ref] = EndpointSide([], [])
            if len(side.classes) < MAX_REPRESENTATIVES:
                side.classes.append(cls.index)
                side.pods.append(pod)
    return found


@dataclass(frozen=True, slots=True)
class EndpointChange:
    """What differs about one cluster endpoint between the sides (its representatives)."""

    object: ObjectKey
    labels: tuple[str, ...]  # the label keys that differ
    namespace: ObjectKey
    namespace_labels: tuple[str, ...]
    ports: tuple[str, ...]  # the named ports that differ
    addresses: bool


def _differing(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(
        f"{k}: {old.get(k, '-')} -> {new.get(k, '-')}"
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    )


def _node_details(before: Node | None, after: Node | None) -> tuple[str, ...]:
    """``labels: role: a -> b``, ``addresses: 10.0.0.5 -> 10.0.0.6``, ``added``."""
    if before is None or after is None:
        return ("added",) if before is None else ("removed",)
    details = [f"labels: {d}" for d in _differing(before.labels, after.labels)]
    if before.ips != after.ips:
        old = ", ".join(str(ip) for ip in before.ips) or "-"
        new = ", ".join(str(ip) for ip in after.ips) or "-"
        details.append(f"addresses: {old} -> {new}")
    return tuple(details)


def _named(pod: Pod) -> dict[str, str]:
    return {p.name: f"{p.protocol.value} {p.port}" for p in pod.ports if p.name is not None}


class Endpoints:
    """Representatives of the diff's endpoints in each compilation."""

    def __init__(
        self,
        diff: ConnectivityDiff,
        base: CompiledCluster,
        head: CompiledCluster,
        objects: ObjectDiff,
    ) -> None:
        self.base, self.head, self.diff = base, head, diff
        self._piece_starts: dict[tuple[int, int], list[int]] = {}
        touched = {*objects.added, *objects.removed, *(c.key for c in objects.changed)}
        self.touched = touched
        self.shared = shares_classes(base, head)
        old = cluster_endpoints(base, diff.granularity)
        new = old if self.shared else cluster_endpoints(head, diff.granularity)
        same = _same_pairs(base, diff.granularity) if self.shared else {}
        pairs: list[list[tuple[int, int]]] = []
        self.sides: list[tuple[EndpointSide | None, EndpointSide | None]] = []
        for endpoint in diff.endpoints:
            if isinstance(endpoint, AddressRange):
                pairs.append(self._addresses(endpoint))
                self.sides.append((None, None))
                continue
            before, after = old.get(endpoint), new.get(endpoint)
            self.sides.append((before, after))
            if self.shared and before is not None and before is after:
                pairs.append(same[endpoint])
            else:
                pairs.append(self._pods(before, after))
        self.indptr = np.zeros(len(pairs) + 1, dtype=np.int64)
        self.indptr[1:] = np.cumsum([len(p) for p in pairs])
        flat = [pair for group in pairs for pair in group]
        self.base_peer = np.array([p[0] for p in flat] or [0], dtype=np.int64)
        self.head_peer = np.array([p[1] for p in flat] or [0], dtype=np.int64)
        self._changes: dict[int, EndpointChange | None] = {}
        self._presences: list[Cause | None] | None = None

    def _starts(self, compiled: CompiledCluster, version: int) -> list[int]:
        """The sorted piece starts of one compilation and IP version (built once)."""
        key = (id(compiled), version)
        found = self._piece_starts.get(key)
        if found is None:
            found = [p.start for p in compiled.pieces if p.version == version]
            self._piece_starts[key] = found
        return found

    def _pods(
        self, before: EndpointSide | None, after: EndpointSide | None
    ) -> list[tuple[int, int]]:
        found: dict[tuple[int, int], None] = {}
        for pod in [*(after.pods if after else []), *(before.pods if before else [])]:
            found[(self._class(self.base, pod, before), self._class(self.head, pod, after))] = None
        return list(found)[:MAX_REPRESENTATIVES] or [(ABSENT, ABSENT)]

    @staticmethod
    def _class(compiled: CompiledCluster, pod: Pod, side: EndpointSide | None) -> int:
        if side is None:
            return ABSENT
        same = compiled.pod(pod.namespace, pod.name)
        return compiled.class_of(same).index if same is not None else side.classes[0]

    def _addresses(self, span: AddressRange) -> list[tuple[int, int]]:
        starts = {span.start}
        for compiled in (self.base, self.head):
            cuts = self._starts(compiled, span.version)  # sorted: the ones inside by bisection
            inside = cuts[
                bisect.bisect_right(cuts, span.start) : bisect.bisect_right(cuts, span.end)
            ]
            starts.update(inside)
        found: dict[tuple[int, int], None] = {}
        for start in sorted(starts):
            address = AddressRange(span.version, start, start).first
            found[(self._piece(self.base, address), self._piece(self.head, address))] = None
        return list(found)[:MAX_REPRESENTATIVES]

    @staticmethod
    def _piece(compiled: CompiledCluster, address: Any) -> int:
        piece = compiled.piece_of(address)
        return UNMODELLED if piece is None else piece

    def presences(self) -> list[Cause | None]:
        """:meth:`presence` of every endpoint of the diff (computed once)."""
        if self._presences is None:
            if self.shared:  # every side is one object on both sides: present on both
                self._presences = [None] * len(self.diff.endpoints)
            else:
                self._presences = [self.presence(k) for k in range(len(self.diff.endpoints))]
        return self._presences

    def presence(self, endpoint: int) -> Cause | None:
        """An endpoint added or removed (None: on both sides, or external)."""
        before, after = self.sides[endpoint]
        ref = self.diff.endpoints[endpoint]
        if not isinstance(ref, ObjectRef) or (before is None) == (after is None):
            return None
        kind = CauseKind.ENDPOINT_ADDED if before is None else CauseKind.ENDPOINT_REMOVED
        return Cause(self._object(ref, (after or before)), kind)  # type: ignore[arg-type]

    def _object(self, ref: ObjectRef, side: EndpointSide) -> ObjectKey:
        """The object to name for an endpoint: the workload, or the pod, whichever changed."""
        if ref.kind == "Namespace":
            return ObjectKey("Namespace", "", ref.name)
        key = ObjectKey(ref.kind, ref.namespace, ref.name)
        if key in self.touched or not side.pods:
            return key
        pod = side.pods[0]
        pod_key = ObjectKey("Pod", pod.namespace, pod.name)
        return pod_key if pod_key in self.touched else key

    def change(self, endpoint: int) -> EndpointChange | None:
        if endpoint in self._changes:
            return self._changes[endpoint]
        found = None
        before, after = self.sides[endpoint]
        ref = self.diff.endpoints[endpoint]
        if isinstance(ref, ObjectRef) and before and after and before.pods and after.pods:
            old, new = before.pods[0], after.pods[0]
            old_ns = self.base.namespaces.get(old.namespace)
            new_ns = self.head.namespaces.get(new.namespace)
            found = EndpointChange(
                self._object(ref, after),
                _differing(old.labels, new.labels),
                ObjectKey("Namespace", "", new.namespace),
                _differing(old_ns.labels if old_ns else {}, new_ns.labels if new_ns else {}),
                _differing(_named(old), _named(new)),
                old.ips != new.ips,
            )
        self._changes[endpoint] = found
        return found

    def _endpoint_addresses(self, endpoint: int) -> tuple[list[IPAddress], AddressRange | None]:
        """The addresses of an endpoint's representatives on both sides (or its range)."""
        ref = self.diff.endpoints[endpoint]
        if isinstance(ref, AddressRange):
            return [], ref
        before, after = self.sides[endpoint]
        pods = [*(before.pods if before else []), *(after.pods if after else [])]
        return [ip for pod in pods for ip in pod.ips], None

    def node_cause(self, endpoint: int) -> Cause | None:
        """A Node at the endpoint's addresses whose labels or addresses changed."""
        ips, span = self._endpoint_addresses(endpoint)
        old = {n.name: n for n in self.base.cluster.nodes}
        new = {n.name: n for n in self.head.cluster.nodes}
        for name in sorted(old.keys() | new.keys()):
            before, after = old.get(name), new.get(name)
            if before == after:
                continue
            addresses = {*(before.ips if before else ()), *(after.ips if after else ())}
            if span is not None:
                hit = any(
                    ip.version == span.version and span.start <= int(ip) <= span.end
                    for ip in addresses
                )
            else:
                hit = not addresses.isdisjoint(ips)
            if hit:
                return Cause(ObjectKey("Node", "", name), CauseKind.NODE_CHANGED,
                             _node_details(before, after))  # fmt: skip
        return None

    def resolve(self, relative: Relative, endpoint: int) -> Cause | None:
        if relative.nodes or relative.addresses:
            cause = self.node_cause(endpoint)
            if cause is not None:
                return cause
        change = self.change(endpoint)
        if change is None:
            return None
        if relative.role is Role.DESTINATION_PORTS:
            if change.ports:
                return Cause(change.object, CauseKind.PORTS_CHANGED, change.ports)
        elif relative.role is Role.SUBJECT_PODS:
            if change.labels:
                return Cause(change.object, CauseKind.POD_RELABELLED, change.labels)
        else:
            if relative.namespaces and change.namespace_labels:
                return Cause(change.namespace, CauseKind.NAMESPACE_RELABELLED,
                             change.namespace_labels)  # fmt: skip
            if relative.pods and change.labels:
                return Cause(change.object, CauseKind.POD_RELABELLED, change.labels)
            if relative.addresses and change.addresses:
                return Cause(change.object, CauseKind.ENDPOINT_CHANGED, ("addresses",))
        if change.object in self.touched:
            return Cause(change.object, CauseKind.ENDPOINT_CHANGED)
        return None
