"""Query endpoints: ``x/a`` (pod), ``x/Deployment/web`` (workload), ``x/Service/web``
(its backends), ``10.1.2.3`` (an address: a pod's IP means that pod, any other is external).

>>> EndpointSpec.parse("shop/Deployment/web")
EndpointSpec(kind='Deployment', namespace='shop', name='web', address=None)
>>> EndpointSpec.parse("10.1.2.3").address
IPv4Address('10.1.2.3')
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from service.engine.compile import CompiledCluster
from service.engine.model import IPAddress, ObjectRef, Pod, Service

POD_KINDS = ("Pod",)


class EndpointError(ValueError):
    """An endpoint that cannot be parsed (``field`` names which one: "from" or "to")."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class EndpointNotFoundError(LookupError):
    """A well-formed endpoint that the snapshot does not contain."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    kind: str
    namespace: str
    name: str
    address: IPAddress | None = None

    @classmethod
    def parse(cls, text: str, field: str = "endpoint") -> EndpointSpec:
        text = text.strip()
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            pass
        else:
            return cls("IPAddress", "", str(address), address)
        parts = text.split("/")
        if len(parts) == 2 and all(parts):
            return cls("Pod", parts[0], parts[1])
        if len(parts) == 3 and all(parts):
            return cls(parts[1], parts[0], parts[2])
        raise EndpointError(
            field,
            f"{field}: {text!r} is not an endpoint: use namespace/pod, namespace/Kind/name "
            "(Deployment, StatefulSet, DaemonSet, Service, ...) or an IP address",
        )

    def __str__(self) -> str:
        if self.address is not None:
            return str(self.address)
        if self.kind == "Pod":
            return f"{self.namespace}/{self.name}"
        return f"{self.namespace}/{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class ResolvedEndpoint:
    """What an endpoint stands for: pods (a pod, a workload's pods, a Service's backends)
    or one address."""

    spec: EndpointSpec
    pods: tuple[Pod, ...] = ()
    address: IPAddress | None = None
    service: Service | None = None

    @property
    def members(self) -> tuple[Pod | IPAddress, ...]:
        return self.pods if self.address is None else (self.address,)


def resolve(compiled: CompiledCluster, spec: EndpointSpec, field: str) -> ResolvedEndpoint:
    if spec.address is not None:
        owner = compiled.lookups.pod_by_address.get(spec.address)
        if owner is not None:
            return ResolvedEndpoint(spec, pods=(owner,))
        return ResolvedEndpoint(spec, address=spec.address)
    if spec.kind == "Pod":
        pod = compiled.pod(spec.namespace, spec.name)
        if pod is None:
            raise EndpointNotFoundError(field, f"{field}: no pod {spec} in this snapshot")
        return ResolvedEndpoint(spec, pods=(pod,))
    if spec.kind == "Service":
        service = _service(compiled, spec)
        if service is None:
            raise EndpointNotFoundError(field, f"{field}: no Service {spec} in this snapshot")
        return ResolvedEndpoint(spec, pods=backends(compiled, service), service=service)
    pods = compiled.lookups.pods_by_workload.get(ObjectRef(spec.kind, spec.namespace, spec.name))
    if not pods:
        raise EndpointNotFoundError(field, f"{field}: no {spec.kind} {spec} in this snapshot")
    return ResolvedEndpoint(spec, pods=pods)


def _service(compiled: CompiledCluster, spec: EndpointSpec) -> Service | None:
    return compiled.lookups.services.get((spec.namespace, spec.name))


def backends(compiled: CompiledCluster, service: Service) -> tuple[Pod, ...]:
    """Pods of the Service's namespace that its selector matches (none without a selector)."""
    if not service.selector:
        return ()
    wanted = service.selector.items()
    candidates = compiled.lookups.pods_by_namespace.get(service.namespace, ())
    return tuple(pod for pod in candidates if wanted <= pod.labels.items())
