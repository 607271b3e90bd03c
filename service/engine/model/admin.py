"""AdminNetworkPolicy and BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1).

Cluster-scoped policies in tiers around NetworkPolicy: every AdminNetworkPolicy (lowest
``priority`` first; rules in order; the first rule that matches a connection decides:
Allow, Deny, or Pass it on), then NetworkPolicy, then the one BaselineAdminNetworkPolicy
(for pods no NetworkPolicy isolates; Allow or Deny), then allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.engine.model.addresses import IPNetwork
from service.engine.model.labels import LabelSelector
from service.engine.model.objects import Direction, ObjectRef, PolicyPort

ADMIN_KIND = "AdminNetworkPolicy"
BASELINE_KIND = "BaselineAdminNetworkPolicy"


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
    match pod addresses), or nodes (egress; no Node objects here, so they match nothing)."""

    pods: PodsOf | None = None
    networks: tuple[IPNetwork, ...] = ()
    nodes: LabelSelector | None = None

    def __str__(self) -> str:
        if self.pods is not None:
            return str(self.pods)
        if self.networks:
            return "networks " + ", ".join(str(n) for n in self.networks)
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
    """An AdminNetworkPolicy (``baseline`` False) or the BaselineAdminNetworkPolicy."""

    name: str
    priority: int
    subject: PodsOf
    ingress: tuple[AdminRule, ...] = ()
    egress: tuple[AdminRule, ...] = ()
    baseline: bool = False

    @property
    def kind(self) -> str:
        return BASELINE_KIND if self.baseline else ADMIN_KIND

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, "", self.name)

    def rules(self, direction: Direction) -> tuple[AdminRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"
