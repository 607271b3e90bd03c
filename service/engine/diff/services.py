"""Connections through a Service that changed: who reaches which of its ports, before and
after, when the Service itself was retargeted (its selector or its target ports).

Services are not policy subjects, so retargeting one changes no pod-to-pod connection; it
changes what a client reaches when it calls the Service. A client endpoint reaches Service
port ``p`` when it may connect to every backend pod on the container port ``p``'s
targetPort resolves to there (a named targetPort the backend lacks: not reachable), as a
query to ``x/Service/s`` answers. Computed for Services present on both sides whose object
changed; each row's cause names the Service and what of it changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.engine.compile import CompiledCluster
from service.engine.diff.causes import Cause, CauseKind, CauseSet
from service.engine.diff.endpoint_changes import cluster_endpoints
from service.engine.diff.objects import ObjectDiff, ObjectKey
from service.engine.endpoints import backends
from service.engine.model import Direction, ObjectRef, Pod, PortSet, Protocol, Service
from service.engine.options import Granularity

MAX_SERVICES = 50  # changed Services followed per diff (the rest are only object changes)


@dataclass(frozen=True, slots=True)
class ServiceChange:
    """One client whose reach into a Service changed (ports: the Service's own ports)."""

    source: ObjectRef
    service: ObjectRef
    before: PortSet
    after: PortSet
    causes: CauseSet


def _target(port: int | str, pod: Pod, protocol: Protocol) -> int | None:
    if isinstance(port, int):
        return port
    return pod.named_port(port, protocol)


class _Reach:
    """What one compilation's client classes reach of one Service."""

    def __init__(self, compiled: CompiledCluster, service: Service) -> None:
        self.compiled = compiled
        self.service = service
        groups: dict[tuple[int, tuple[int | None, ...]], None] = {}
        for pod in backends(compiled, service):
            numbers = tuple(_target(p.target, pod, p.protocol) for p in service.ports)
            groups[(compiled.class_of(pod).index, numbers)] = None
        self.groups = list(groups)

    def __call__(self, client: int) -> PortSet:
        if not self.groups:
            return PortSet.empty()
        compiled = self.compiled
        allowed: dict[int, PortSet] = {}
        for backend, _ in self.groups:
            if backend not in allowed:
                allowed[backend] = (
                    PortSet.all()
                    if backend == client
                    else compiled.side_ports(Direction.EGRESS, client, backend)
                    & compiled.side_ports(Direction.INGRESS, backend, client)
                )
        reached = PortSet.empty()
        for index, port in enumerate(self.service.ports):
            if all(
                numbers[index] is not None
                and allowed[backend].contains(port.protocol, numbers[index])  # type: ignore[arg-type]
                for backend, numbers in self.groups
            ):
                reached = reached | PortSet.single(port.protocol, port.port)
        return reached


def _what_changed(old: Service, new: Service) -> tuple[str, ...]:
    """``selector: app=api -> app=api-v2``, ``port 80: targetPort 8080 -> http``."""
    details: list[str] = []
    if old.selector != new.selector:

        def text(labels: Mapping[str, str] | None) -> str:
            return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "none"

        details.append(f"selector: {text(old.selector)} -> {text(new.selector)}")
    before = {(p.protocol, p.port): p for p in old.ports}
    after = {(p.protocol, p.port): p for p in new.ports}
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        label = f"port {key[1]}" + ("" if key[0].value == "TCP" else f"/{key[0].value}")
        if a is None:
            details.append(f"{label} added")
        elif b is None:
            details.append(f"{label} removed")
        elif a.target != b.target:
            details.append(f"{label}: targetPort {a.target} -> {b.target}")
    return tuple(details)


def service_changes(
    base: CompiledCluster,
    head: CompiledCluster,
    objects: ObjectDiff,
    granularity: Granularity,
) -> tuple[ServiceChange, ...]:
    """The clients whose reach into a changed Service changed, sorted."""
    changed = [c.key for c in objects.changed if c.key.kind == "Service"][:MAX_SERVICES]
    if not changed:
        return ()
    old_services = {(s.namespace, s.name): s for s in base.cluster.services}
    new_services = {(s.namespace, s.name): s for s in head.cluster.services}
    old_endpoints = cluster_endpoints(base, granularity)
    new_endpoints = cluster_endpoints(head, granularity)
    out: list[ServiceChange] = []
    for key in changed:
        old, new = (
            old_services.get((key.namespace, key.name)),
            new_services.get((key.namespace, key.name)),
        )
        if old is None or new is None:
            continue
        details = _what_changed(old, new)
        cause = Cause(ObjectKey("Service", key.namespace, key.name), CauseKind.SERVICE_CHANGED,
                      details)  # fmt: skip
        ref = ObjectRef("Service", key.namespace, key.name)
        reach_before, reach_after = _Reach(base, old), _Reach(head, new)
        for endpoint in sorted(old_endpoints.keys() & new_endpoints.keys(), key=str):
            before = PortSet.empty()
            for client in old_endpoints[endpoint].classes:
                before = before | reach_before(client)
            after = PortSet.empty()
            for client in new_endpoints[endpoint].classes:
                after = after | reach_after(client)
            if before != after:
                out.append(ServiceChange(endpoint, ref, before, after, (cause,)))
    return tuple(out)
