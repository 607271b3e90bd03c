"""What parsing yields: the accepted objects, still unresolved (pods not yet rolled up)."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.engine.model import (
    AdminPolicy,
    LivePod,
    Namespace,
    NetworkPolicy,
    Node,
    ObjectRef,
    Origin,
    Service,
    Workload,
)


@dataclass(frozen=True, slots=True)
class ParsedObjects:
    """The accepted objects of a set of documents, in input order.

    ``workloads`` holds every workload kind read, ReplicaSets and Jobs included, so ownership
    can be followed. ``refs`` maps every accepted object to where it came from (a Namespace's
    ref has namespace ``""``: it is cluster-scoped).
    """

    namespaces: tuple[Namespace, ...] = ()
    pods: tuple[LivePod, ...] = ()
    workloads: tuple[Workload, ...] = ()
    services: tuple[Service, ...] = ()
    policies: tuple[NetworkPolicy, ...] = ()
    admin_policies: tuple[AdminPolicy, ...] = ()
    warnings: tuple[str, ...] = ()
    refs: tuple[tuple[ObjectRef, Origin], ...] = field(default=())
    nodes: tuple[Node, ...] = ()
