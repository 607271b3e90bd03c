"""One direction of one connection, compared between the two sides of a diff.

The source's egress towards the target (or the target's ingress from the source) is
evaluated on both sides with the engine's verdict logic (``evaluate_side``); when the
allowed ports differ, each difference in the effects (the rules that matched, their peer
and ports) and in the isolating policies is named after the object change behind it:

1. a rule or an isolating policy of a policy present on one side only: the policy was
   added or removed;
2. a policy that selects the subject on one side only, present on both: its podSelector
   or policyTypes changed (edited), or else the subject's pods were relabelled;
3. a rule that matches on one side only, or with other ports, whose own text changed:
   the policy was edited (which rule, which peer, or its ports);
4. otherwise the policy is unchanged and the endpoints are not: a rule that matches the
   peer on one side only means the peer's pods were relabelled (the rule's podSelector) or
   its namespace was (the namespaceSelector); a rule that matches on both sides with other
   ports means the destination's named container ports changed; a ``nodes`` peer that
   matches on one side only means a Node at the peer's address changed (labels or
   addresses). These causes depend on which endpoint plays the role (:class:`Relative`)
   and are resolved per connection.

An isolating policy that appears or disappears is named only when the subject is isolated
on one side only: while other policies still isolate it, only rules decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from service.engine.compile import CompiledCluster, RuleEffect, SideEvaluation
from service.engine.diff.causes import Cause, CauseKind
from service.engine.diff.memo import IdentityMemo
from service.engine.diff.objects import ObjectKey
from service.engine.model import Direction, ObjectRef, PortSet


class Role(StrEnum):
    SUBJECT_PODS = "subject-pods"  # the subject's pod labels (policy selection)
    PEER = "peer"  # the peer's labels or namespace labels (rule peers)
    DESTINATION_PORTS = "destination-ports"  # the destination's named container ports


@dataclass(frozen=True, slots=True)
class Relative:
    """A cause that depends on which endpoint plays ``role`` in a connection."""

    role: Role
    pods: bool = True  # the rule's peer looks at pod labels
    namespaces: bool = False  # ... or at namespace labels
    addresses: bool = False  # ... or at addresses (ipBlock, networks)
    nodes: bool = False  # ... or at the Nodes at the peer's addresses (nodes)


Abstract = Cause | Relative


@dataclass(frozen=True, slots=True)
class SideChange:
    delta: PortSet  # the ports allowed on one side only
    causes: tuple[Abstract, ...]


def delta_of(before: PortSet, after: PortSet) -> PortSet:
    return (before - after) | (after - before)


def _policy_key(ref: ObjectRef) -> ObjectKey:
    return ObjectKey(ref.kind, ref.namespace, ref.name)


class Policies:
    """The policy objects of one side, by key (:func:`policies_of` reuses them)."""

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


_POLICIES: IdentityMemo[Policies] = IdentityMemo()


def policies_of(compiled: CompiledCluster) -> Policies:
    """:class:`Policies` of a compilation, built once per set of policies (every what-if
    on one base reads the base's)."""
    cluster = compiled.cluster
    key = (cluster.policies, cluster.admin_policies)
    return _POLICIES.get(key, lambda: Policies(compiled))


def _peer_index(effect: RuleEffect, other: int | None) -> int | None:
    return effect.rule.matching_peer(other)


def _peer_flags(peer: Any) -> Relative:
    pods = getattr(peer, "pods", None)  # admin peers: PodsOf
    if pods is not None:
        return Relative(Role.PEER, pods.pod_selector is not None, True)
    if getattr(peer, "nodes", None) is not None:
        return Relative(Role.PEER, False, False, False, nodes=True)
    if getattr(peer, "ip_block", None) is not None or bool(getattr(peer, "networks", None)):
        return Relative(Role.PEER, False, False, True)
    return Relative(
        Role.PEER,
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


class SideComparer:
    """Compares one direction's verdicts of the two sides and names the differences."""

    def __init__(
        self,
        base: CompiledCluster,
        head: CompiledCluster,
        base_policies: Policies,
        head_policies: Policies,
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
    ) -> SideChange:
        before = self._evaluate(self.base, direction, *base_pair)
        after = self._evaluate(self.head, direction, *head_pair)
        allowed_before = PortSet.all() if before is None else before.allowed
        allowed_after = PortSet.all() if after is None else after.allowed
        if allowed_before == allowed_after:
            return SideChange(PortSet.empty(), ())
        causes: list[Abstract] = []
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
        return SideChange(delta_of(allowed_before, allowed_after), tuple(dict.fromkeys(causes)))

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
    ) -> Abstract:
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
            return Relative(Role.DESTINATION_PORTS)  # same match, other ports
        rule = new_rule if new_rule is not None else old_rule
        if peer is None or rule is None or peer >= len(rule.peers):
            return Relative(Role.PEER)
        return _peer_flags(rule.peers[peer])

    def _subject_change(self, policy: ObjectKey) -> Cause | None:
        """An admin policy whose subject changed (its rules then apply to other pods)."""
        old, new = self.old.by_key.get(policy), self.new.by_key.get(policy)
        old_subject, new_subject = getattr(old, "subject", None), getattr(new, "subject", None)
        if old_subject is not None and old_subject != new_subject:
            return Cause(policy, CauseKind.POLICY_EDITED, ("subject",))
        return None

    def _isolation_cause(self, direction: Direction, policy: ObjectKey) -> Abstract:
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
        return Relative(Role.SUBJECT_PODS)
