"""The Kubernetes objects the evaluator reasons about, as immutable values.

Only the fields that matter to reachability are kept; :mod:`service.engine.parse` is the one
place that reads Kubernetes field names and builds these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from service.engine.model.addresses import IPAddress, IPBlock
from service.engine.model.labels import Labels, LabelSelector
from service.engine.model.ports import Protocol

if TYPE_CHECKING:
    from service.engine.model.admin import AdminPolicy
    from service.engine.model.nodes import Node

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_NAMESPACE = "default"

WORKLOAD_KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
)


class Direction(StrEnum):
    INGRESS = "Ingress"
    EGRESS = "Egress"


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    """kind/namespace/name of any namespaced object; also a workload endpoint."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        if self.kind == "Pod":
            return f"{self.namespace}/{self.name}"
        if self.kind == "Namespace":
            return self.name
        return f"{self.namespace}/{self.kind}/{self.name}"

    def to_api(self) -> dict[str, Any]:
        if self.kind == "Namespace":
            return {"kind": "Namespace", "name": self.name}
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: Labels
    declared: bool = True  # False: referenced by an object but absent from the input


@dataclass(frozen=True, slots=True, order=True)
class ContainerPort:
    name: str | None
    port: int
    protocol: Protocol = Protocol.TCP


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod, live or made from a workload's template (``template=True``, no IP).

    ``workload`` is the top-level owner the pod rolls up to (None for a bare pod); ``node``
    is ``spec.nodeName`` (a host-network pod's addresses are that node's).
    """

    namespace: str
    name: str
    labels: Labels
    ips: tuple[IPAddress, ...] = ()
    ports: tuple[ContainerPort, ...] = ()
    host_network: bool = False
    workload: ObjectRef | None = None
    template: bool = False
    node: str | None = None

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Pod", self.namespace, self.name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    def named_port(self, name: str, protocol: Protocol) -> int | None:
        """The container port called ``name`` for ``protocol``, if the pod defines one."""
        for port in self.ports:
            if port.name == name and port.protocol == protocol:
                return port.port
        return None


@dataclass(frozen=True, slots=True)
class OwnerLink:
    """The controller ownerReference of an object."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Workload:
    """A controller of pods; its template stands for its pods when none are in the input."""

    kind: str
    namespace: str
    name: str
    template_labels: Labels
    template_ports: tuple[ContainerPort, ...] = ()
    host_network: bool = False
    owner: OwnerLink | None = None

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class LivePod:
    """A Pod object as read, before it is rolled up to its workload."""

    pod: Pod
    owner: OwnerLink | None
    phase: str | None
    template_hash: str | None


@dataclass(frozen=True, slots=True)
class ServicePort:
    name: str | None
    port: int
    target: int | str
    protocol: Protocol = Protocol.TCP


@dataclass(frozen=True, slots=True)
class Service:
    """A Service; ``selector`` None means it has no selector (no backends we can see)."""

    namespace: str
    name: str
    selector: Labels | None
    ports: tuple[ServicePort, ...] = ()

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Service", self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class PolicyPort:
    """A NetworkPolicyPort: no ``port`` means every port of ``protocol``."""

    protocol: Protocol = Protocol.TCP
    port: int | str | None = None
    end_port: int | None = None

    def __str__(self) -> str:
        if self.port is None:
            return f"{self.protocol.value} (all ports)"
        if self.end_port is not None:
            return f"{self.protocol.value} {self.port}-{self.end_port}"
        return f"{self.protocol.value} {self.port}"


@dataclass(frozen=True, slots=True)
class Peer:
    """A NetworkPolicyPeer: selectors (either or both) or an ipBlock."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None

    def __str__(self) -> str:
        if self.ip_block is not None:
            return f"ipBlock {self.ip_block}"
        parts = []
        if self.namespace_selector is not None:
            parts.append(f"namespaces [{self.namespace_selector}]")
        if self.pod_selector is not None:
            parts.append(f"pods [{self.pod_selector}]")
        return " and ".join(parts)


@dataclass(frozen=True, slots=True)
class Rule:
    """An ingress or egress rule. Empty ``peers`` = every peer; empty ``ports`` = every port."""

    peers: tuple[Peer, ...] = ()
    ports: tuple[PolicyPort, ...] = ()


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    namespace: str
    name: str
    pod_selector: LabelSelector
    policy_types: frozenset[Direction]
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("NetworkPolicy", self.namespace, self.name)

    def rules(self, direction: Direction) -> tuple[Rule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Cluster:
    """Everything the compiler needs: the resolved inventory of one snapshot."""

    namespaces: tuple[Namespace, ...]
    pods: tuple[Pod, ...]
    services: tuple[Service, ...] = ()
    policies: tuple[NetworkPolicy, ...] = ()
    workloads: tuple[Workload, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    admin_policies: tuple[AdminPolicy, ...] = ()  # AdminNetworkPolicy and the baseline
    nodes: tuple[Node, ...] = ()
