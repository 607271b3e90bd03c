"""Ports that admit nothing.

* NR005 a named port that no destination pod defines for that protocol;
* NR011 a Service target port that no source may reach on any backend.
"""

from __future__ import annotations

from collections import defaultdict

from service.engine import bitsets
from service.engine.compile import CompiledRule
from service.engine.lint.context import (
    SAMPLE,
    LintContext,
    listing,
    rule_field,
    sorted_refs,
    subject_of,
)
from service.engine.lint.findings import Finding, Severity
from service.engine.model import Direction, Pod, Protocol, Service, ServicePort

CANDIDATES = 2000  # sources tried one by one on the egress side before a full pass


def _defined(ctx: LintContext) -> dict[tuple[str, Protocol], int]:
    """Referenced named port -> the classes that define it."""
    out: dict[tuple[str, Protocol], int] = defaultdict(int)
    for cls in ctx.classes:
        for name, protocol, _ in cls.named_ports:
            out[(name, protocol)] |= 1 << cls.index
    return out


def _other_protocols(ctx: LintContext, name: str, protocol: Protocol, scope: int) -> list[str]:
    found: set[str] = set()
    pods = ctx.compiled.pods
    for c in bitsets.indices(scope & ctx.all_classes).tolist()[:200]:
        pod = pods[ctx.classes[c].pods[0]]
        found.update(p.protocol.value for p in pod.ports if p.name == name)
    found.discard(protocol.value)
    return sorted(found)


def check_named_ports(ctx: LintContext) -> list[Finding]:
    defined = _defined(ctx)
    findings: list[Finding] = []
    for compiled in ctx.compiled.policies:
        for direction in (Direction.INGRESS, Direction.EGRESS):
            for rule in ctx.rules(compiled, direction):
                if not rule.named_ports:
                    continue
                if direction is Direction.INGRESS:
                    scope = compiled.selected
                    if not scope:
                        continue  # NR003
                    where = "the pods the policy selects"
                else:
                    if not rule.bits:
                        continue  # NR004
                    scope = rule.bits & ctx.all_classes
                    where = (
                        "the destination pods of the rule"
                        if scope
                        else "any destination of the rule (only addresses outside the cluster)"
                    )
                for k, (name, protocol) in enumerate(rule.named_ports):
                    if scope & defined.get((name, protocol), 0):
                        continue
                    findings.append(_named_port(ctx, rule, name, protocol, scope, where, k))
    return findings


def _named_port(
    ctx: LintContext,
    rule: CompiledRule,
    name: str,
    protocol: Protocol,
    scope: int,
    where: str,
    k: int,
) -> Finding:
    policy = rule.policy
    others = _other_protocols(ctx, name, protocol, scope) if scope else []
    hint = ""
    if others:
        hint = f" (they define {name!r} for {listing(others)}: set protocol: {others[0]}?)"
    elif not scope:
        hint = " (a named port never matches an address outside the cluster)"
    position = next(
        (i for i, p in enumerate(rule.rule.ports) if p.port == name and p.protocol == protocol), k
    )
    return Finding(
        code="NR005",
        severity=Severity.WARNING,
        message=(
            f"{policy.ref}: the named port {name!r} ({protocol.value}) in "
            f"{rule_field(rule)} is defined by none of {where}{hint}; it admits nothing."
        ),
        objects=(policy.ref,),
        suggestion=(
            f"Use the port number, or name the container port {name!r} with protocol "
            f"{protocol.value} in the destination pods' spec.containers[].ports."
        ),
        field=f"{rule_field(rule)}.ports[{position}]",
    )


# -- services -----------------------------------------------------------------------------


class _Backends:
    """Pods by (namespace, label, value), to resolve Service selectors without a scan."""

    def __init__(self, pods: tuple[Pod, ...], services: tuple[Service, ...]) -> None:
        wanted: dict[str, set[str]] = defaultdict(set)  # label keys Services select on
        for service in services:
            if service.selector:
                wanted[service.namespace].update(service.selector)
        index: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for i, pod in enumerate(pods):
            keys = wanted.get(pod.namespace)
            if not keys:
                continue
            labels = pod.labels
            for key in keys:
                value = labels.get(key)
                if value is not None:
                    index[(pod.namespace, key, value)].append(i)
        self.index = index
        self.pods = pods

    def of(self, service: Service) -> list[int]:
        if not service.selector:
            return []
        lists = [self.index.get((service.namespace, k, v), []) for k, v in service.selector.items()]
        shortest = min(lists, key=len)
        wanted = service.selector.items()
        return [i for i in shortest if wanted <= self.pods[i].labels.items()]


class _Reach:
    """Whether some source may open a connection to class ``b`` on ``protocol``/``port``."""

    def __init__(self, ctx: LintContext) -> None:
        self.ctx = ctx
        self.cache: dict[tuple[int, Protocol, int], bool] = {}

    def __call__(self, b: int, protocol: Protocol, port: int) -> bool:
        key = (b, protocol, port)
        cached = self.cache.get(key)
        if cached is None:
            cached = self.cache[key] = self._compute(b, protocol, port)
        return cached

    def _compute(self, b: int, protocol: Protocol, port: int) -> bool:
        ctx = self.ctx
        compiled = ctx.compiled
        if not compiled.is_subject(b) or not bitsets.contains(
            compiled.isolated[Direction.INGRESS], b
        ):
            return True
        named = compiled.named_ports_of(b)
        sources = 0
        for policy in compiled.applied[Direction.INGRESS][b]:  # all of type Ingress
            for rule in policy.ingress:
                if rule.ports_for(named).contains(protocol, port):
                    sources |= rule.bits
        if not sources:
            return False
        free = ctx.pieces | (ctx.all_classes & ~compiled.isolated[Direction.EGRESS])
        if sources & free:
            return True
        candidates = bitsets.indices(sources).tolist()
        if len(candidates) <= CANDIDATES:
            return any(self._egress(s, b, named, protocol, port) for s in candidates)
        senders = 0
        for policy in compiled.policies:
            for rule in ctx.rules(policy, Direction.EGRESS):
                if rule.matches(b) and rule.ports_for(named).contains(protocol, port):
                    senders |= policy.selected
                    break
        return bool(senders & sources)

    def _egress(
        self,
        s: int,
        b: int,
        named: tuple[tuple[str, Protocol, int], ...] | None,
        protocol: Protocol,
        port: int,
    ) -> bool:
        for policy in self.ctx.compiled.applied[Direction.EGRESS][s]:  # all of type Egress
            for rule in policy.egress:
                if (rule.bits >> b) & 1 and rule.ports_for(named).contains(protocol, port):
                    return True
        return False


def _target(pod: Pod, port: ServicePort) -> int | None:
    if isinstance(port.target, int):
        return port.target
    return pod.named_port(port.target, port.protocol)


def check_services(ctx: LintContext) -> list[Finding]:
    compiled = ctx.compiled
    if not compiled.isolated[Direction.INGRESS]:
        return []
    backends = _Backends(compiled.pods, compiled.cluster.services)
    reach = _Reach(ctx)
    pod_class = compiled.pod_class
    pods = compiled.pods
    findings: list[Finding] = []
    for service in compiled.cluster.services:
        members = backends.of(service)
        if not members:
            continue
        for port in service.ports:
            targets = [(pod_class[i], _target(pods[i], port)) for i in members]
            resolved = {(c, t) for c, t in targets if t is not None}
            if not resolved:
                continue  # the target port resolves on no backend: not a policy problem
            if any(reach(c, port.protocol, t) for c, t in sorted(resolved)):
                continue
            findings.append(_service_finding(ctx, service, port, members, resolved))
    return findings


def _service_finding(
    ctx: LintContext,
    service: Service,
    port: ServicePort,
    members: list[int],
    resolved: set[tuple[int, int]],
) -> Finding:
    compiled = ctx.compiled
    classes = {c for c, _ in resolved}
    applied = compiled.applied[Direction.INGRESS]
    policies = sorted_refs(p.policy.ref for c in classes for p in applied[c])
    numbers = sorted({t for _, t in resolved})
    target = f"{port.target}" + (f" (= {listing(numbers)})" if isinstance(port.target, str) else "")
    label = port.name or str(port.port)
    pods = compiled.pods
    backends = sorted_refs(subject_of(pods[i]) for i in members)
    subjects, count = tuple(backends[:SAMPLE]), len(backends)
    index = service.ports.index(port)
    selector = ", ".join(f"{k}: {v}" for k, v in sorted((service.selector or {}).items()))
    return Finding(
        code="NR011",
        severity=Severity.WARNING,
        message=(
            f"Service {service.namespace}/{service.name} port {label} -> target port {target} "
            f"{port.protocol.value}: no source may reach it on any of its "
            f"{len(members)} backend pod(s); their ingress policies ({listing(policies)}) "
            "admit nobody on that port, or only sources whose egress forbids it."
        ),
        objects=(service.ref, *policies),
        suggestion=(
            f"Add a NetworkPolicy in {service.namespace} with podSelector {{matchLabels: "
            f"{{{selector}}}}} and an ingress rule admitting the Service's clients on "
            f"{port.protocol.value} {listing(numbers)}, or fix the Service's targetPort."
        ),
        field=f"spec.ports[{index}]",
        subjects=subjects,
        subject_count=count,
    )
