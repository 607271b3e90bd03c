"""Why each connection changed: the object changes that produced it, from the verdicts.

For a changed connection, a representative pod (or address) of each endpoint is evaluated
on both sides with the engine's own verdict logic (:meth:`CompiledCluster.evaluate_side`):
the source's egress towards the target and the target's ingress from the source. Where a
side's allowed ports changed within the connection's change, its *effects* (the rules that
matched, with their peer and ports) and its isolating policies are compared, and each
difference is named after the object change behind it:

1. a rule or an isolating policy on one side only, of a policy present on one side only:
   the policy was added or removed;
2. a rule that matches on one side only, or with other ports, whose own text changed:
   the policy was edited (which rule, which peer, or its ports);
3. an isolating policy on one side only whose podSelector or policyTypes changed: edited;
4. otherwise the policy is unchanged and the endpoints are not: an isolating policy that
   selects the subject on one side only means the subject's pods were relabelled; a rule
   that matches the peer on one side only means the peer's pods were relabelled (the
   rule's podSelector) or its namespace was (the namespaceSelector); a rule that matches on
   both sides with other ports means the destination's named container ports changed;
5. an endpoint present on one side only was added or removed.

Evaluations are shared: pods are classes, and within a class the peers that every rule's
peers treat alike form *cells* (:class:`_Cells`), so each distinct (class, cell) pair of
each side is evaluated once, however many connections it explains.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from service.engine import bitsets
from service.engine.compile import CompiledCluster, RuleEffect, SideEvaluation
from service.engine.connectivity import IntArray
from service.engine.diff.connections import ConnectivityDiff, endpoint_of
from service.engine.diff.objects import ObjectDiff, ObjectKey
from service.engine.model import AddressRange, Direction, ObjectRef, Pod, PortSet

MAX_REPRESENTATIVES = 8  # pods (or addresses) evaluated per endpoint
_ABSENT = -1  # an endpoint with no pod on that side
_UNMODELLED = -2  # an address of an IP version that side never mentions


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


# --------------------------------------------------------------------------------------
# Abstract causes of one side: concrete, or naming a role resolved per connection
# --------------------------------------------------------------------------------------


class _Role(StrEnum):
    SUBJECT_PODS = "subject-pods"  # the subject's pod labels (policy selection)
    PEER = "peer"  # the peer's labels or namespace labels (rule peers)
    DESTINATION_PORTS = "destination-ports"  # the destination's named container ports


@dataclass(frozen=True, slots=True)
class _Relative:
    """A cause that depends on which endpoint plays ``role`` in a connection."""

    role: _Role
    pods: bool = True  # the rule's peer looks at pod labels
    namespaces: bool = False  # ... or at namespace labels
    addresses: bool = False  # ... or at addresses (ipBlock, networks)


_Abstract = Cause | _Relative


@dataclass(frozen=True, slots=True)
class _SideChange:
    delta: PortSet  # the ports allowed on one side only
    causes: tuple[_Abstract, ...]


def _delta(before: PortSet, after: PortSet) -> PortSet:
    return (before - after) | (after - before)


def _policy_key(ref: ObjectRef) -> ObjectKey:
    return ObjectKey(ref.kind, ref.namespace, ref.name)


class _Policies:
    """The policy objects of one side, by key."""

    def __init__(self, compiled: CompiledCluster) -> None:
        self.by_key: dict[ObjectKey, Any] = {}
        for policy in compiled.cluster.policies:
            self.by_key[_policy_key(policy.ref)] = policy
        for admin in compiled.cluster.admin_policies:
            self.by_key[_policy_key(admin.ref)] = admin

    def rule(self, key: ObjectKey, direction: Direction, index: int) -> Any | None:
        policy = self.by_key.get(key)
        if policy is None:
            return None
        rules = policy.rules(direction)
        return rules[index] if index < len(rules) else None


def _peer_index(effect: RuleEffect, other: int | None) -> int | None:
    rule = effect.rule
    if not rule.peer_bits or other is None:
        return None
    for index, bits in enumerate(rule.peer_bits):
        if bitsets.contains(bits, other):
            return index
    return None


def _peer_flags(peer: Any) -> _Relative:
    pods = getattr(peer, "pods", None)  # admin peers: PodsOf
    if pods is not None:
        return _Relative(_Role.PEER, pods.pod_selector is not None, True)
    if getattr(peer, "ip_block", None) is not None or bool(getattr(peer, "networks", None)):
        return _Relative(_Role.PEER, False, False, True)
    return _Relative(
        _Role.PEER,
        getattr(peer, "pod_selector", None) is not None,
        getattr(peer, "namespace_selector", None) is not None,
    )


def _rule_detail(direction: Direction, index: int, old: Any, new: Any, peer: int | None) -> str:
    """Which part of rule ``index`` changed: ``egress rule 0 peer 1``, ``... ports``."""
    where = f"{direction.value.lower()} rule {index}"
    if old is None:
        return f"{where} added"
    if new is None:
        return f"{where} removed"
    if peer is not None:
        old_peer = old.peers[peer] if peer < len(old.peers) else None
        new_peer = new.peers[peer] if peer < len(new.peers) else None
        if old_peer != new_peer:
            return f"{where} peer {peer}"
    if old.peers != new.peers:
        changed = [
            i
            for i in range(max(len(old.peers), len(new.peers)))
            if i >= len(old.peers) or i >= len(new.peers) or old.peers[i] != new.peers[i]
        ]
        return f"{where} peer {changed[0]}" if len(changed) == 1 else f"{where} peers"
    if old.ports != new.ports or getattr(old, "named_ports", ()) != getattr(new, "named_ports", ()):
        return f"{where} ports"
    return where


class _SideComparer:
    """Compares one direction's verdicts of the two sides and names the differences."""

    def __init__(
        self,
        base: CompiledCluster,
        head: CompiledCluster,
        base_policies: _Policies,
        head_policies: _Policies,
    ) -> None:
        self.base, self.head = base, head
        self.old, self.new = base_policies, head_policies

    def _evaluate(
        self, compiled: CompiledCluster, direction: Direction, subject: int, other: int
    ) -> SideEvaluation | None:
        if subject < 0 or not compiled.is_subject(subject):
            return None
        return compiled.evaluate_side(direction, subject, None if other < 0 else other)

    def compare(
        self, direction: Direction, base_pair: tuple[int, int], head_pair: tuple[int, int]
    ) -> _SideChange:
        before = self._evaluate(self.base, direction, *base_pair)
        after = self._evaluate(self.head, direction, *head_pair)
        allowed_before = PortSet.all() if before is None else before.allowed
        allowed_after = PortSet.all() if after is None else after.allowed
        if allowed_before == allowed_after:
            return _SideChange(PortSet.empty(), ())
        causes: list[_Abstract] = []
        old = self._effects(before, base_pair[1])
        new = self._effects(after, head_pair[1])
        old_isolating = self._isolating(before)
        new_isolating = self._isolating(after)
        switched = old_isolating ^ new_isolating  # policies selecting the subject on one side
        for key in sorted(old.keys() | new.keys(), key=str):
            if old.get(key) != new.get(key):
                causes.append(
                    self._rule_cause(direction, key, old.get(key), new.get(key), switched)
                )
        if bool(old_isolating) != bool(new_isolating):  # isolated on one side only
            named = {key[0] for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
            for policy in sorted(switched - named):
                causes.append(self._isolation_cause(direction, policy))
        return _SideChange(_delta(allowed_before, allowed_after), tuple(dict.fromkeys(causes)))

    @staticmethod
    def _effects(
        evaluation: SideEvaluation | None, other: int
    ) -> dict[tuple[ObjectKey, int], tuple[int | None, PortSet, str]]:
        if evaluation is None:
            return {}
        peer = None if other < 0 else other
        return {
            (_policy_key(e.rule.policy.ref), e.rule.index): (
                _peer_index(e, peer),
                e.ports,
                e.rule.action.value,
            )
            for e in evaluation.effects
        }

    @staticmethod
    def _isolating(evaluation: SideEvaluation | None) -> set[ObjectKey]:
        if evaluation is None:
            return set()
        return {_policy_key(p.policy.ref) for p in evaluation.isolating}

    def _rule_cause(
        self,
        direction: Direction,
        key: tuple[ObjectKey, int],
        old: tuple[int | None, PortSet, str] | None,
        new: tuple[int | None, PortSet, str] | None,
        switched: set[ObjectKey],
    ) -> _Abstract:
        """Rules 1-4 of the module docstring, for one rule matching on one side only (or
        with other ports)."""
        policy, index = key
        peer = (new or old or (None,))[0]
        old_rule = self.old.rule(policy, direction, index)
        new_rule = self.new.rule(policy, direction, index)
        detail = _rule_detail(direction, index, old_rule, new_rule, peer)
        if policy not in self.old.by_key or policy not in self.new.by_key:
            where = f"{direction.value.lower()} rule {index}"
            if peer is not None:
                where += f" peer {peer}"
            added = policy not in self.old.by_key
            return Cause(policy, CauseKind.POLICY_ADDED if added else CauseKind.POLICY_REMOVED,
                         (where,))  # fmt: skip
        if policy in switched:  # its rules apply on one side only: it selects anew
            return self._isolation_cause(direction, policy)
        subject = self._subject_change(policy)
        if subject is not None and (old is None or new is None):
            return subject
        if old_rule != new_rule:
            return Cause(policy, CauseKind.POLICY_EDITED, (detail,))
        if old is not None and new is not None and old[0] == new[0]:
            return _Relative(_Role.DESTINATION_PORTS)  # same match, other ports
        rule = new_rule if new_rule is not None else old_rule
        if peer is None or rule is None or peer >= len(rule.peers):
            return _Relative(_Role.PEER)
        return _peer_flags(rule.peers[peer])

    def _subject_change(self, policy: ObjectKey) -> Cause | None:
        """An admin policy whose subject changed (its rules then apply to other pods)."""
        old, new = self.old.by_key.get(policy), self.new.by_key.get(policy)
        old_subject, new_subject = getattr(old, "subject", None), getattr(new, "subject", None)
        if old_subject is not None and old_subject != new_subject:
            return Cause(policy, CauseKind.POLICY_EDITED, ("subject",))
        return None

    def _isolation_cause(self, direction: Direction, policy: ObjectKey) -> _Abstract:
        detail = f"selects it for {direction.value.lower()}"
        old, new = self.old.by_key.get(policy), self.new.by_key.get(policy)
        if old is None:
            return Cause(policy, CauseKind.POLICY_ADDED, (detail,))
        if new is None:
            return Cause(policy, CauseKind.POLICY_REMOVED, (detail,))
        changed = [
            name
            for name, field in (("podSelector", "pod_selector"), ("policyTypes", "policy_types"))
            if getattr(old, field, None) != getattr(new, field, None)
        ]
        if changed:
            return Cause(policy, CauseKind.POLICY_EDITED, tuple(changed))
        return _Relative(_Role.SUBJECT_PODS)


# --------------------------------------------------------------------------------------
# Cells: the peers one subject's rules treat alike
# --------------------------------------------------------------------------------------


class _Cells:
    """Per (direction, subject class) of one compilation: which peers its rules' peers treat
    alike. Two peers of one cell match exactly the same peers of the same rules, so they get
    the same effects (up to the destination's named ports, which are keyed separately)."""

    def __init__(self, compiled: CompiledCluster) -> None:
        self.compiled = compiled
        self._bytes = (compiled.peer_count + 7) // 8
        named: dict[object, int] = {}
        self.named_id = np.array(
            [named.setdefault(compiled.named_ports_of(p), len(named))
             for p in range(compiled.peer_count)] or [0],
            dtype=np.int64,
        )  # fmt: skip

    def _peer_sets(self, direction: Direction, subject: int) -> list[int]:
        compiled = self.compiled
        if not compiled.is_subject(subject):
            return []
        rules: list[Any] = list(compiled.admin_rules[direction][subject])
        for policy in compiled.applied[direction][subject]:
            rules += policy.rules(direction)
        rules += compiled.baseline_rules[direction][subject]
        return [bits for rule in rules for bits in rule.peer_bits]

    def _members(self, bits: int) -> npt.NDArray[np.uint8]:
        raw = np.frombuffer(bits.to_bytes(self._bytes, "little"), dtype=np.uint8)
        return np.unpackbits(raw, bitorder="little")

    def lookup(self, direction: Direction, subjects: IntArray, others: IntArray) -> IntArray:
        """For each ``subjects[i]``, the cell of ``others[i]``: cells of one subject are
        equal exactly when the peers match the same rule peers (special peers keep their
        negative code; absent subjects give -1)."""
        out = np.full(len(subjects), -1, dtype=np.int64)
        if not len(subjects):
            return out
        order = np.argsort(subjects, kind="stable")
        unique, starts = np.unique(subjects[order], return_index=True)
        ends = np.r_[starts[1:], len(order)]
        for subject, lo, hi in zip(unique.tolist(), starts.tolist(), ends.tolist(), strict=True):
            if subject < 0:
                continue
            rows = order[lo:hi]
            peers = others[rows]
            at = np.maximum(peers, 0)
            key = np.zeros(len(rows), dtype=np.int64)
            width = 0
            for bits in self._peer_sets(direction, subject):
                key = key * 2 + self._members(bits)[at]
                width += 1
                if width == 62:  # compact before the key overflows
                    _, key = np.unique(key, return_inverse=True)
                    key = key.reshape(-1).astype(np.int64)
                    width = int(key.max(initial=0)).bit_length()
            out[rows] = np.where(peers >= 0, key, peers)
        return out


# --------------------------------------------------------------------------------------
# Endpoints: representatives on both sides, and what changed about them
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _EndpointSide:
    classes: list[int]
    pods: list[Pod]


def cluster_endpoints(
    compiled: CompiledCluster, granularity: Any
) -> dict[ObjectRef, _EndpointSide]:
    found: dict[ObjectRef, _EndpointSide] = {}
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
                side = found[ref] = _EndpointSide([], [])
            if len(side.classes) < MAX_REPRESENTATIVES:
                side.classes.append(cls.index)
                side.pods.append(pod)
    return found


@dataclass(frozen=True, slots=True)
class _EndpointChange:
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


def _named(pod: Pod) -> dict[str, str]:
    return {p.name: f"{p.protocol.value} {p.port}" for p in pod.ports if p.name is not None}


class _Endpoints:
    """Representatives of the diff's endpoints in each compilation."""

    def __init__(
        self,
        diff: ConnectivityDiff,
        base: CompiledCluster,
        head: CompiledCluster,
        objects: ObjectDiff,
    ) -> None:
        self.base, self.head, self.diff = base, head, diff
        touched = {*objects.added, *objects.removed, *(c.key for c in objects.changed)}
        self.touched = touched
        old = cluster_endpoints(base, diff.granularity)
        new = cluster_endpoints(head, diff.granularity)
        pairs: list[list[tuple[int, int]]] = []
        self.sides: list[tuple[_EndpointSide | None, _EndpointSide | None]] = []
        for endpoint in diff.endpoints:
            if isinstance(endpoint, AddressRange):
                pairs.append(self._addresses(endpoint))
                self.sides.append((None, None))
                continue
            before, after = old.get(endpoint), new.get(endpoint)
            self.sides.append((before, after))
            pairs.append(self._pods(before, after))
        self.indptr = np.zeros(len(pairs) + 1, dtype=np.int64)
        self.indptr[1:] = np.cumsum([len(p) for p in pairs])
        flat = [pair for group in pairs for pair in group]
        self.base_peer = np.array([p[0] for p in flat] or [0], dtype=np.int64)
        self.head_peer = np.array([p[1] for p in flat] or [0], dtype=np.int64)
        self._changes: dict[int, _EndpointChange | None] = {}

    def _pods(
        self, before: _EndpointSide | None, after: _EndpointSide | None
    ) -> list[tuple[int, int]]:
        found: dict[tuple[int, int], None] = {}
        for pod in [*(after.pods if after else []), *(before.pods if before else [])]:
            found[(self._class(self.base, pod, before), self._class(self.head, pod, after))] = None
        return list(found)[:MAX_REPRESENTATIVES] or [(_ABSENT, _ABSENT)]

    @staticmethod
    def _class(compiled: CompiledCluster, pod: Pod, side: _EndpointSide | None) -> int:
        if side is None:
            return _ABSENT
        same = compiled.pod(pod.namespace, pod.name)
        return compiled.class_of(same).index if same is not None else side.classes[0]

    def _addresses(self, span: AddressRange) -> list[tuple[int, int]]:
        starts = {span.start}
        for compiled in (self.base, self.head):
            for piece in compiled.pieces:
                if piece.version == span.version and span.start < piece.start <= span.end:
                    starts.add(piece.start)
        found: dict[tuple[int, int], None] = {}
        for start in sorted(starts):
            address = AddressRange(span.version, start, start).first
            found[(self._piece(self.base, address), self._piece(self.head, address))] = None
        return list(found)[:MAX_REPRESENTATIVES]

    @staticmethod
    def _piece(compiled: CompiledCluster, address: Any) -> int:
        piece = compiled.piece_of(address)
        return _UNMODELLED if piece is None else piece

    def presence(self, endpoint: int) -> Cause | None:
        """An endpoint added or removed (None: on both sides, or external)."""
        before, after = self.sides[endpoint]
        ref = self.diff.endpoints[endpoint]
        if not isinstance(ref, ObjectRef) or (before is None) == (after is None):
            return None
        kind = CauseKind.ENDPOINT_ADDED if before is None else CauseKind.ENDPOINT_REMOVED
        return Cause(self._object(ref, (after or before)), kind)  # type: ignore[arg-type]

    def _object(self, ref: ObjectRef, side: _EndpointSide) -> ObjectKey:
        """The object to name for an endpoint: the workload, or the pod, whichever changed."""
        if ref.kind == "Namespace":
            return ObjectKey("Namespace", "", ref.name)
        key = ObjectKey(ref.kind, ref.namespace, ref.name)
        if key in self.touched or not side.pods:
            return key
        pod = side.pods[0]
        pod_key = ObjectKey("Pod", pod.namespace, pod.name)
        return pod_key if pod_key in self.touched else key

    def change(self, endpoint: int) -> _EndpointChange | None:
        if endpoint in self._changes:
            return self._changes[endpoint]
        found = None
        before, after = self.sides[endpoint]
        ref = self.diff.endpoints[endpoint]
        if isinstance(ref, ObjectRef) and before and after and before.pods and after.pods:
            old, new = before.pods[0], after.pods[0]
            old_ns = self.base.namespaces.get(old.namespace)
            new_ns = self.head.namespaces.get(new.namespace)
            found = _EndpointChange(
                self._object(ref, after),
                _differing(old.labels, new.labels),
                ObjectKey("Namespace", "", new.namespace),
                _differing(old_ns.labels if old_ns else {}, new_ns.labels if new_ns else {}),
                _differing(_named(old), _named(new)),
                old.ips != new.ips,
            )
        self._changes[endpoint] = found
        return found

    def resolve(self, relative: _Relative, endpoint: int) -> Cause | None:
        change = self.change(endpoint)
        if change is None:
            return None
        if relative.role is _Role.DESTINATION_PORTS:
            if change.ports:
                return Cause(change.object, CauseKind.PORTS_CHANGED, change.ports)
        elif relative.role is _Role.SUBJECT_PODS:
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


# --------------------------------------------------------------------------------------
# The attribution
# --------------------------------------------------------------------------------------


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
    endpoints: _Endpoints, sources: IntArray, targets: IntArray
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


class _Attribution:
    def __init__(
        self,
        diff: ConnectivityDiff,
        base: CompiledCluster,
        head: CompiledCluster,
        objects: ObjectDiff,
    ) -> None:
        self.diff = diff
        self.endpoints = _Endpoints(diff, base, head, objects)
        self.comparer = _SideComparer(base, head, _Policies(base), _Policies(head))
        self.cells = (_Cells(base), _Cells(head))
        self.sets: dict[CauseSet, int] = {(): 0}

    def side_changes(
        self, direction: Direction, subjects: tuple[IntArray, IntArray],
        others: tuple[IntArray, IntArray],
    ) -> tuple[IntArray, list[_SideChange]]:  # fmt: skip
        """Each combo's side signature, and the change of each distinct signature."""
        keys = [subjects[0], self.cells[0].lookup(direction, subjects[0], others[0])]
        keys += [subjects[1], self.cells[1].lookup(direction, subjects[1], others[1])]
        if direction is Direction.EGRESS:  # the destination's named ports: the other's
            for side in (0, 1):
                named = self.cells[side].named_id
                keys.append(np.where(others[side] >= 0, named[np.maximum(others[side], 0)], -1))
        if not len(keys[0]):
            return np.empty(0, dtype=np.int64), []
        first, inverse = _group(keys)
        changes = [
            self.comparer.compare(
                direction,
                (int(subjects[0][i]), int(others[0][i])),
                (int(subjects[1][i]), int(others[1][i])),
            )
            for i in first.tolist()
        ]
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
        presence = [e.presence(k) for k in range(len(self.diff.endpoints))]
        flags = np.array([p is not None for p in presence] or [False], dtype=bool)
        for r in np.flatnonzero(flags[sources] | flags[targets]).tolist():
            cause = presence[src_ids[r]] or presence[dst_ids[r]]
            assert cause is not None  # an endpoint added or removed says it all
            out[r] = intern.setdefault((cause,), len(intern))
        return out

    @staticmethod
    def _relevant(
        changes: tuple[_SideChange, _SideChange],
        before: int,
        after: int,
        portsets: Sequence[PortSet],
        deltas: dict[tuple[int, int], PortSet],
    ) -> tuple[tuple[Cause, ...], tuple[tuple[Direction, _Relative], ...]]:
        """The causes of the sides whose change touches the connection's change: concrete
        ones, and the ones to resolve against the connection's endpoints."""
        delta = deltas.get((before, after))
        if delta is None:
            old = PortSet.empty() if before < 0 else portsets[before]
            new = PortSet.empty() if after < 0 else portsets[after]
            delta = deltas[(before, after)] = _delta(old, new)
        concrete: list[Cause] = []
        relatives: list[tuple[Direction, _Relative]] = []
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
        self, direction: Direction, relative: _Relative, source: int, target: int
    ) -> Cause | None:
        subject, other = (source, target) if direction is Direction.EGRESS else (target, source)
        endpoint = {
            _Role.SUBJECT_PODS: subject,
            _Role.PEER: other,
            _Role.DESTINATION_PORTS: target,
        }[relative.role]
        return self.endpoints.resolve(relative, endpoint)


def merge_causes(causes: Iterable[Cause]) -> CauseSet:
    """One cause per (object, kind), details united."""
    details: dict[tuple[ObjectKey, CauseKind], dict[str, None]] = defaultdict(dict)
    for cause in causes:
        details[(cause.object, cause.kind)].update(dict.fromkeys(cause.details))
    return tuple(
        sorted(Cause(obj, kind, tuple(sorted(found))) for (obj, kind), found in details.items())
    )


def attribute(
    diff: ConnectivityDiff,
    base: CompiledCluster,
    head: CompiledCluster,
    objects: ObjectDiff,
) -> Causes:
    """The causes of every connection change of ``diff`` (computed from ``base`` and
    ``head``, the compilations its maps came from; ``objects`` is their object diff)."""
    work = _Attribution(diff, base, head, objects)
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


def causes_by_pair(diff: ConnectivityDiff, causes: Causes) -> dict[tuple[int, int], int]:
    """(source, target) -> cause set, over added and changed rows (for highlights)."""
    out: dict[tuple[int, int], int] = {}
    for rows, ids in ((diff.added, causes.added), (diff.changed, causes.changed)):
        for s, t, c in zip(rows.sources.tolist(), rows.targets.tolist(), ids.tolist(),
                           strict=True):  # fmt: skip
            out[(s, t)] = c
    return out
