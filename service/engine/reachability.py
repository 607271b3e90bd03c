"""Point reachability: may A open a connection to B (on a port), and why.

A verdict explains itself per direction: whether the endpoint is subject to policies at all,
whether it is isolated and by which policies, and the *effects*: the rules that match the
peer, each naming its tier, policy, rule index, peer index, ports and action. Tiers exist so
that AdminNetworkPolicy (before) and BaselineAdminNetworkPolicy (after) slot in as more
effects of the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from service.engine.compile import CompiledCluster, CompiledRule, RuleEffect
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.endpoints import EndpointSpec, ResolvedEndpoint, resolve
from service.engine.model import (
    AdminPolicy,
    Direction,
    IPAddress,
    LabelSelector,
    ObjectRef,
    Pod,
    PortSet,
    Protocol,
    Service,
)
from service.engine.options import HostNetworkPods

_NO_PORTS = PortSet.empty()


class Tier(StrEnum):
    """Where an effect comes from: the v1alpha1 kinds name their own tier; a
    ClusterNetworkPolicy's effect names its ``tier`` (Admin or Baseline)."""

    ADMIN = "AdminNetworkPolicy"
    NETWORK_POLICY = "NetworkPolicy"
    BASELINE = "BaselineAdminNetworkPolicy"
    CLUSTER_ADMIN = "Admin"
    CLUSTER_BASELINE = "Baseline"


class Action(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"
    ACCEPT = "Accept"  # ClusterNetworkPolicy's Allow


class QueryError(ValueError):
    """A query that cannot be answered as asked (``field`` names the culprit)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Effect:
    """A rule that matches the peer: it admits ``ports`` (maybe none, e.g. an unresolved
    named port)."""

    tier: Tier
    policy: ObjectRef
    direction: Direction
    rule: int
    peer: int | None  # index in from/to; None when the rule has no peers (matches all)
    ports: PortSet
    action: Action = Action.ALLOW
    # named ports of the rule the destination does not define (rule 5), e.g. "TCP http"
    missing_named_ports: tuple[str, ...] = ()
    name: str = ""  # the rule's name (admin tiers)
    # same-tier, same-priority policies that match this connection too: which one applies
    # is not defined by the spec (ClusterNetworkPolicy/AdminNetworkPolicy ``priority``)
    ambiguous_with: tuple[ObjectRef, ...] = ()
    depends_on_dns: bool = False  # a domainNames peer: matches only if DNS says so
    # a ``nodes`` peer: its selector, and the selected Nodes whose address the peer has
    node_selector: str | None = None
    nodes: tuple[str, ...] = ()

    @property
    def via(self) -> str:
        """`` via nodes peer [role=worker]: Node n1`` for a ``nodes`` peer, else empty."""
        if self.node_selector is None:
            return ""
        return f" via nodes peer [{self.node_selector}]: Node {', '.join(self.nodes)}"


@dataclass(frozen=True, slots=True)
class Side:
    """One direction of a verdict: the source's egress or the destination's ingress."""

    direction: Direction
    endpoint: str
    subject_to_policies: bool
    isolated: bool
    policies: tuple[ObjectRef, ...]  # the policies that isolate the endpoint
    effects: tuple[Effect, ...]
    allowed: PortSet
    reason: str
    # ports whose verdict depends on what a domainNames peer resolves to (not in ``allowed``)
    depends_on_dns: PortSet = _NO_PORTS


@dataclass(frozen=True, slots=True)
class PairVerdict:
    source: str
    target: str
    allowed: bool
    ports: PortSet  # what is allowed, within what was asked
    egress: Side
    ingress: Side
    route: tuple[str, ...] = ()  # towards a Service: port -> targetPort -> container port
    # of the ports asked, those allowed only if a domainNames peer resolves to the target
    depends_on_dns: PortSet = _NO_PORTS


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for possibly several pod pairs (a workload's pods, a Service's backends).

    ``allowed`` holds when every pair is allowed; ``ports`` are the ports every pair allows.
    """

    source: EndpointSpec
    target: EndpointSpec
    protocol: Protocol | None
    port: int | str | None
    allowed: bool
    ports: PortSet
    pairs: tuple[PairVerdict, ...]
    notes: tuple[str, ...] = ()

    @property
    def partially_allowed(self) -> bool:
        return not self.allowed and any(p.allowed for p in self.pairs)

    @property
    def depends_on_dns(self) -> bool:
        """Some asked port of some pair is decided only by a domainNames rule."""
        return any(p.depends_on_dns for p in self.pairs)

    @property
    def ambiguous(self) -> bool:
        """Some effect comes from a policy whose same-priority rival also matches."""
        return any(
            e.ambiguous_with for p in self.pairs for s in (p.egress, p.ingress) for e in s.effects
        )


def _describe(member: Pod | IPAddress) -> str:
    return str(member)


def _side(
    compiled: CompiledCluster,
    direction: Direction,
    subject: Pod | IPAddress,
    other: Pod | IPAddress,
) -> Side:
    name = _describe(subject)
    word = direction.value.lower()
    if not isinstance(subject, Pod):
        return Side(
            direction, name, False, False, (), (), PortSet.all(),
            f"{name} is outside the cluster: no policy applies to its {word}",
        )  # fmt: skip
    peer = compiled.class_of(subject).index
    if not compiled.is_subject(peer):
        mode = HostNetworkPods.EXEMPT.value
        return Side(
            direction, name, False, False, (), (), PortSet.all(),
            f"{name} uses the host network: policies do not apply to it "
            f"(host-network-pods={mode})",
        )  # fmt: skip
    evaluation = compiled.evaluate_side(direction, peer, compiled.peer_index(other))
    destination = subject if direction is Direction.INGRESS else other
    rivals = dict(evaluation.ambiguous)
    effects = tuple(
        _with_missing_ports(
            _effect(compiled, e, direction, compiled.peer_index(other), rivals, other),
            e,
            destination,
        )
        for e in evaluation.effects
    )
    refs = tuple(p.policy.ref for p in evaluation.isolating)
    admin = [e for e in effects if e.tier is not Tier.NETWORK_POLICY]
    decided_by = ""
    if admin:
        decided_by = "; admin tiers: " + ", ".join(_admin_text(e) for e in admin)
    if evaluation.depends_on_dns:
        decided_by += (
            f"; {evaluation.depends_on_dns} depends on DNS: a domainNames peer decides it only "
            f"if the name resolves to {_describe(other)}, which manifests cannot tell"
        )
    if not refs:
        reason = (
            f"{name} is not isolated for {word}: no NetworkPolicy with policyType "
            f"{direction.value} selects it, so {word} not denied by an admin tier is allowed"
            f"{decided_by}"
        )
        return Side(
            direction, name, True, False, (), effects, evaluation.allowed, reason,
            evaluation.depends_on_dns,
        )  # fmt: skip
    listed = ", ".join(f"{r.namespace}/{r.name}" for r in refs)
    matched = [e for e in effects if e.tier is Tier.NETWORK_POLICY]
    if matched:
        reason = (
            f"{name} is isolated for {word} by {listed}; "
            f"{len(matched)} rule(s) match {_describe(other)}{decided_by}; "
            f"allowed: {evaluation.allowed}{_missing_ports_text(matched, destination)}"
        )
    else:
        reason = (
            f"{name} is isolated for {word} by {listed}, and no {word} rule of them "
            f"matches {_describe(other)}{decided_by}"
        )
    return Side(
        direction, name, True, True, refs, effects, evaluation.allowed, reason,
        evaluation.depends_on_dns,
    )  # fmt: skip


def _admin_text(effect: Effect) -> str:
    """``cluster-deny rule 0 (deny-db) Deny TCP 5432``, with ambiguity and DNS noted."""
    named = f" ({effect.name})" if effect.name else ""
    text = f"{effect.policy.name} rule {effect.rule}{named} {effect.action.value} {effect.ports}"
    text += effect.via
    if effect.depends_on_dns:
        text += " if DNS resolves a domain name to it"
    if effect.ambiguous_with:
        rivals = ", ".join(f"{r.kind}/{r.name}" for r in effect.ambiguous_with)
        text += f" (ambiguous: same priority as {rivals}, which also matches)"
    return text


_TIERS = {
    (False, False): Tier.ADMIN,
    (True, False): Tier.BASELINE,
    (False, True): Tier.CLUSTER_ADMIN,
    (True, True): Tier.CLUSTER_BASELINE,
}


def _effect(
    compiled: CompiledCluster,
    effect: RuleEffect,
    direction: Direction,
    other: int | None,
    rivals: Mapping[AdminPolicy, tuple[AdminPolicy, ...]],
    endpoint: Pod | IPAddress,
) -> Effect:
    rule = effect.rule
    if isinstance(rule, CompiledRule):
        return Effect(
            Tier.NETWORK_POLICY,
            rule.policy.ref,
            direction,
            rule.index,
            rule.matching_peer(other),
            effect.ports,
        )
    policy = rule.policy
    peer = rule.matching_peer(other)
    nodes: tuple[str, ...] = ()
    node_selector = None
    if peer is not None:
        selector = rule.rule.peers[peer].nodes
        if selector is not None:
            node_selector = str(selector)
            nodes = _nodes_at(compiled, selector, endpoint)
    return Effect(
        _TIERS[policy.baseline, policy.cluster],
        policy.ref,
        direction,
        rule.index,
        peer,
        effect.ports,
        Action(policy.action_name(rule.action)),
        name=rule.rule.name,
        ambiguous_with=tuple(p.ref for p in rivals.get(policy, ())),
        depends_on_dns=not rule.matches(other),  # it matched only as DNS might resolve
        node_selector=node_selector,
        nodes=nodes,
    )


def _nodes_at(
    compiled: CompiledCluster, selector: LabelSelector, endpoint: Pod | IPAddress
) -> tuple[str, ...]:
    """The Nodes ``selector`` selects that have an address of ``endpoint``."""
    by_address = compiled.lookups.nodes_by_address
    addresses = endpoint.ips if isinstance(endpoint, Pod) else (endpoint,)
    found = {
        node.name
        for ip in addresses
        for node in by_address.get(ip, ())
        if selector.matches(node.labels)
    }
    return tuple(sorted(found))


def _requested_ports(
    service: Service | None,
    target: Pod | IPAddress,
    port: int | str | None,
    protocol: Protocol | None,
) -> tuple[PortSet, str | None]:
    """The ports asked about towards ``target``, and a note when they cannot be resolved.

    Towards a Service, ``port`` is a Service port (number or name), mapped to its
    targetPort on each backend. No port and no protocol: every port of every protocol."""
    if service is not None:
        requested, _, note = _service_ports(service, target, port, protocol)
        return requested, note
    if port is None:
        return (PortSet.all() if protocol is None else PortSet.protocol_all(protocol)), None
    if isinstance(port, str) and protocol is None and isinstance(target, Pod):
        # a named port without a protocol: the protocol the destination defines it for
        protocol = next((p.protocol for p in target.ports if p.name == port), None)
    protocol = protocol or Protocol.TCP
    if isinstance(port, int):
        return PortSet.single(protocol, port), None
    if not isinstance(target, Pod):
        return PortSet.empty(), f"named port {port} never matches an external address"
    number = target.named_port(port, protocol)
    if number is None:
        return PortSet.empty(), f"{target} defines no {protocol.value} port named {port}"
    return PortSet.single(protocol, number), None


def _service_ports(
    service: Service,
    target: Pod | IPAddress,
    port: int | str | None,
    protocol: Protocol | None,
) -> tuple[PortSet, tuple[str, ...], str | None]:
    """Towards a Service: the backend ports asked about, the chain from each Service port
    to the backend's container port ("port 443 (https) -> targetPort https -> container
    port 8443/TCP"), and a note when the backend does not define the target port."""
    candidates = [
        p
        for p in service.ports
        if protocol in (None, p.protocol) and (port is None or port in (p.port, p.name))
    ]
    if not candidates:
        raise QueryError("port", f"Service {service.namespace}/{service.name} has no port {port}")
    requested = PortSet.empty()
    route: list[str] = []
    missing: list[str] = []
    for candidate in candidates:
        named = f" ({candidate.name})" if candidate.name else ""
        step = (
            f"Service {service.namespace}/{service.name} port {candidate.port}{named} "
            f"-> targetPort {candidate.target}"
        )
        number: int | None = None
        if isinstance(candidate.target, int):
            number = candidate.target
        elif isinstance(target, Pod):
            number = target.named_port(candidate.target, candidate.protocol)
        if number is None:
            missing.append(f"{candidate.protocol.value} {candidate.target}")
            route.append(f"{step} -> not defined by {target}")
            continue
        requested = requested | PortSet.single(candidate.protocol, number)
        route.append(f"{step} -> {target} container port {number}/{candidate.protocol.value}")
    note = None
    if not requested:
        note = (
            f"{target} does not define the Service's target port "
            f"({', '.join(missing)}): no container port of that name"
        )
    return requested, tuple(route), note


def check(
    compiled: CompiledCluster,
    source: str | EndpointSpec,
    target: str | EndpointSpec,
    *,
    port: int | str | None = None,
    protocol: Protocol | str | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> Verdict:
    """Answer "may ``source`` reach ``target`` (on ``port``/``protocol``)?" with reasons.

    Without a port, the verdict lists which ports (of ``protocol``, or of every protocol
    when none is given) are allowed. A port without a protocol means TCP. ``deadline`` is
    checked per source pod (a workload to a workload is every pod pair).
    """
    protocol = None if protocol is None else Protocol(protocol)
    if isinstance(port, int) and not 1 <= port <= 65535:
        raise QueryError("port", f"port {port} is outside 1-65535")
    src_spec = source if isinstance(source, EndpointSpec) else EndpointSpec.parse(source, "from")
    dst_spec = target if isinstance(target, EndpointSpec) else EndpointSpec.parse(target, "to")
    src = resolve(compiled, src_spec, "from")
    dst = resolve(compiled, dst_spec, "to")
    if src.address is not None and dst.address is not None:
        raise QueryError("to", "both endpoints are outside the cluster: no policy applies")
    pairs: list[PairVerdict] = []
    notes: list[str] = []
    for s in src.members:
        deadline.check(lambda: f"reachability {src_spec} -> {dst_spec} ({len(pairs)} pairs done)")
        for d in _targets(dst):
            pairs.append(_pair(compiled, s, d, dst, port, protocol, notes))
    if not pairs:
        notes.append(f"{dst_spec} has no backend pods")
    every = PortSet.all() if pairs else PortSet.empty()
    for pair in pairs:
        every = every & pair.ports
    return Verdict(
        src_spec,
        dst_spec,
        protocol,
        port,
        allowed=bool(pairs) and all(p.allowed for p in pairs),
        ports=every,
        pairs=tuple(pairs),
        notes=tuple(dict.fromkeys(notes)),
    )


def _targets(dst: ResolvedEndpoint) -> tuple[Pod | IPAddress, ...]:
    return dst.members


def _pair(
    compiled: CompiledCluster,
    s: Pod | IPAddress,
    d: Pod | IPAddress,
    dst: ResolvedEndpoint,
    port: int | str | None,
    protocol: Protocol | None,
    notes: list[str],
) -> PairVerdict:
    requested, note = _requested_ports(dst.service, d, port, protocol)
    if note:
        notes.append(note)
    route: tuple[str, ...] = ()
    if dst.service is not None:
        _, route, _ = _service_ports(dst.service, d, port, protocol)
    egress = _side(compiled, Direction.EGRESS, s, d)
    ingress = _side(compiled, Direction.INGRESS, d, s)
    dns = PortSet.empty()
    if isinstance(s, Pod) and isinstance(d, Pod) and s.ref == d.ref:
        ports = requested  # a pod can always reach itself
    else:
        ports = egress.allowed & ingress.allowed & requested
        possible = (egress.allowed | egress.depends_on_dns) & (
            ingress.allowed | ingress.depends_on_dns
        )
        dns = (possible & requested) - ports
    if isinstance(port, int) and protocol is None and dst.service is None:
        other = _other_protocols(port, egress, ingress, bool(ports))
        if other:
            notes.append(other)
    return PairVerdict(str(s), str(d), bool(ports), ports, egress, ingress, route, dns)


def _with_missing_ports(effect: Effect, source: RuleEffect, destination: Pod | IPAddress) -> Effect:
    """``effect`` naming the rule's named ports that ``destination`` does not define."""
    rule = source.rule
    if not isinstance(rule, CompiledRule) or not rule.named_ports:
        return effect
    missing = tuple(
        f"{protocol.value} {name}"
        for name, protocol in rule.named_ports
        if not isinstance(destination, Pod) or destination.named_port(name, protocol) is None
    )
    return replace(effect, missing_named_ports=missing) if missing else effect


def _missing_ports_text(effects: list[Effect], destination: Pod | IPAddress) -> str:
    """``; shop/web rule 0 names port http (TCP), which shop/api-1 does not define``."""
    parts = []
    for effect in effects:
        for missing in effect.missing_named_ports:
            protocol, _, name = missing.partition(" ")
            where = (
                "an external address never has named ports"
                if not isinstance(destination, Pod)
                else f"which {destination} does not define"
            )
            parts.append(
                f"{effect.policy.namespace}/{effect.policy.name} {effect.direction.value.lower()} "
                f"rule {effect.rule} names port {name} ({protocol}), {where}"
            )
    return "".join(f"; {p}" for p in parts)


def _other_protocols(port: int, egress: Side, ingress: Side, tcp_allowed: bool) -> str | None:
    """For a port asked without a protocol (TCP): the protocols whose verdict differs, and
    the rules that allow them ("TCP 53 denied; UDP 53 allowed by kube-system/dns ...")."""
    allowed = egress.allowed & ingress.allowed
    differing = [
        p for p in (Protocol.UDP, Protocol.SCTP) if allowed.contains(p, port) != tcp_allowed
    ]
    if not differing:
        return None
    parts = [f"TCP {port} {'allowed' if tcp_allowed else 'denied'} (a port without a "
             "protocol means TCP)"]  # fmt: skip
    for protocol in differing:
        if not allowed.contains(protocol, port):
            parts.append(f"{protocol.value} {port} denied")
            continue
        rules = [
            f"{e.policy.namespace + '/' if e.policy.namespace else ''}{e.policy.name} "
            f"{e.direction.value.lower()} rule {e.rule}"
            for side in (egress, ingress)
            for e in side.effects
            if e.action is Action.ALLOW and e.ports.contains(protocol, port)
        ]
        by = f" by {', '.join(rules)}" if rules else " (no policy restricts it)"
        parts.append(f"{protocol.value} {port} allowed{by}")
    return "; ".join(parts)
