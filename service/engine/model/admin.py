"""Admin policies: ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2) and its
predecessors AdminNetworkPolicy and BaselineAdminNetworkPolicy (v1alpha1), one model.

Cluster-scoped policies in tiers around NetworkPolicy: the Admin tier (ClusterNetworkPolicy
``tier: Admin`` and AdminNetworkPolicy, lowest ``priority`` first; rules in order; the first
rule that matches a connection decides: Accept/Allow, Deny, or Pass it on), then
NetworkPolicy, then the Baseline tier (ClusterNetworkPolicy ``tier: Baseline`` by priority,
then the one BaselineAdminNetworkPolicy; for pods no NetworkPolicy isolates), then allow.
A ClusterNetworkPolicy's ``Accept`` is the model's ``ALLOW``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.engine.model.addresses import IPNetwork
from service.engine.model.labels import LabelSelector
from service.engine.model.objects import Direction, ObjectRef, PolicyPort

ADMIN_KIND = "AdminNetworkPolicy"
BASELINE_KIND = "BaselineAdminNetworkPolicy"
CLUSTER_KIND = "ClusterNetworkPolicy"


class AdminAction(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"


@dataclass(frozen=True, slots=True)
class PodsOf:
    """Pods matching ``pod_selector`` in namespaces matching ``namespace_selector``;
    ``pod_selector`` None is every pod of those namespaces (the ``namespaces`` form)."""

    namespace_selector: LabelSelector
    pod_selector: LabelSelector | None = None

    def __str__(self) -> str:
        text = f"namespaces [{self.namespace_selector}]"
        return text if self.pod_selector is None else f"pods [{self.pod_selector}] in {text}"


@dataclass(frozen=True, slots=True)
class AdminPeer:
    """One peer: pods (by namespace and pod labels), networks (egress: CIDRs, which also
    match pod addresses), nodes (egress; by the nodes' addresses), or domain names (egress,
    ClusterNetworkPolicy only: which addresses they stand for is only known at run time)."""

    pods: PodsOf | None = None
    networks: tuple[IPNetwork, ...] = ()
    nodes: LabelSelector | None = None
    domain_names: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.pods is not None:
            return str(self.pods)
        if self.networks:
            return "networks " + ", ".join(str(n) for n in self.networks)
        if self.domain_names:
            return "domainNames " + ", ".join(self.domain_names)
        return f"nodes [{self.nodes}]"


@dataclass(frozen=True, slots=True)
class AdminRule:
    """A rule; no ``ports`` and no ``named_ports`` = every port. A named port matches the
    destination's container port of that name, whatever its protocol."""

    name: str
    action: AdminAction
    peers: tuple[AdminPeer, ...]
    ports: tuple[PolicyPort, ...] = ()  # numbers and ranges
    named_ports: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AdminPolicy:
    """An AdminNetworkPolicy (``baseline`` False) or the BaselineAdminNetworkPolicy; with
    ``cluster`` a ClusterNetworkPolicy of tier Admin (``baseline`` False) or Baseline."""

    name: str
    priority: int
    subject: PodsOf
    ingress: tuple[AdminRule, ...] = ()
    egress: tuple[AdminRule, ...] = ()
    baseline: bool = False
    cluster: bool = False

    @property
    def kind(self) -> str:
        if self.cluster:
            return CLUSTER_KIND
        return BASELINE_KIND if self.baseline else ADMIN_KIND

    @property
    def tier(self) -> str:
        """``Admin`` or ``Baseline``, as ClusterNetworkPolicy spells its tiers."""
        return "Baseline" if self.baseline else "Admin"

    @property
    def has_priority(self) -> bool:
        """False for the BaselineAdminNetworkPolicy, which has no ``priority`` field."""
        return self.cluster or not self.baseline

    @property
    def precedence(self) -> tuple[bool, bool, int, str, str]:
        """Evaluation order: the Admin tier before the Baseline tier; in a tier, lower
        priority first, ClusterNetworkPolicy and AdminNetworkPolicy interleaved (one
        priority range, 0-1000, for both); the BaselineAdminNetworkPolicy, which has no
        priority, after every Baseline ClusterNetworkPolicy. Ties (ambiguous by the spec,
        reported as such) are ordered by name, then kind, only to be deterministic."""
        return (self.baseline, not self.has_priority, self.priority, self.name, self.kind)

    def action_name(self, action: AdminAction) -> str:
        """The action as this kind spells it: ClusterNetworkPolicy says ``Accept``."""
        if self.cluster and action is AdminAction.ALLOW:
            return "Accept"
        return action.value

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, "", self.name)

    def rules(self, direction: Direction) -> tuple[AdminRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"
