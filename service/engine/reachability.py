"""Point reachability: may A open a connection to B (on a port), and why.

A verdict explains itself per direction: whether the endpoint is subject to policies at all,
whether it is isolated and by which policies, and the *effects*: the rules that match the
peer, each naming its tier, policy, rule index, peer index, ports and action. Tiers exist so
that AdminNetworkPolicy (before) and BaselineAdminNetworkPolicy (after) slot in as more
effects of the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.engine.compile import AnyRule, CompiledCluster, CompiledRule, RuleEffect
from service.engine.endpoints import EndpointSpec, ResolvedEndpoint, resolve
from service.engine.model import (
    Direction,
    IPAddress,
    ObjectRef,
    Pod,
    PortSet,
    Protocol,
    Service,
)
from service.engine.options import HostNetworkPods


class Tier(StrEnum):
    ADMIN = "AdminNetworkPolicy"
    NETWORK_POLICY = "NetworkPolicy"
    BASELINE = "BaselineAdminNetworkPolicy"


class Action(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"


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


@dataclass(frozen=True, slots=True)
class PairVerdict:
    source: str
    target: str
    allowed: bool
    ports: PortSet  # what is allowed, within what was asked
    egress: Side
    ingress: Side


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
    effects = tuple(_effect(e, direction, compiled.peer_index(other)) for e in evaluation.effects)
    refs = tuple(p.policy.ref for p in evaluation.isolating)
    admin = [e for e in effects if e.tier is not Tier.NETWORK_POLICY]
    decided_by = ""
    if admin:
        decided_by = "; admin tiers: " + ", ".join(
            f"{e.policy.name} rule {e.rule} {e.action.value} {e.ports}" for e in admin
        )
    if not refs:
        reason = (
            f"{name} is not isolated for {word}: no NetworkPolicy with policyType "
            f"{direction.value} selects it, so {word} not denied by an admin tier is allowed"
            f"{decided_by}"
        )
        return Side(direction, name, True, False, (), effects, evaluation.allowed, reason)
    listed = ", ".join(f"{r.namespace}/{r.name}" for r in refs)
    matched = [e for e in effects if e.tier is Tier.NETWORK_POLICY]
    if matched:
        reason = (
            f"{name} is isolated for {word} by {listed}; "
            f"{len(matched)} rule(s) match {_describe(other)}{decided_by}; "
            f"allowed: {evaluation.allowed}"
        )
    else:
        reason = (
            f"{name} is isolated for {word} by {listed}, and no {word} rule of them "
            f"matches {_describe(other)}{decided_by}"
        )
    return Side(direction, name, True, True, refs, effects, evaluation.allowed, reason)


_TIERS = {False: Tier.ADMIN, True: Tier.BASELINE}


def _effect(effect: RuleEffect, direction: Direction, other: int | None) -> Effect:
    rule = effect.rule
    tier = Tier.NETWORK_POLICY if isinstance(rule, CompiledRule) else _TIERS[rule.policy.baseline]
    return Effect(
        tier,
        rule.policy.ref,
        direction,
        rule.index,
        _matching_peer(rule, other),
        effect.ports,
        Action(rule.action.value),
    )


def _matching_peer(rule: AnyRule, peer: int | None) -> int | None:
    if not rule.peer_bits or peer is None:
        return None
    for index, bits in enumerate(rule.peer_bits):
        if (bits >> peer) & 1:
            return index
    return None


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
        candidates = [
            p
            for p in service.ports
            if protocol in (None, p.protocol) and (port is None or port in (p.port, p.name))
        ]
        if not candidates:
            raise QueryError(
                "port", f"Service {service.namespace}/{service.name} has no port {port}"
            )
        requested = PortSet.empty()
        for candidate in candidates:
            if isinstance(candidate.target, int):
                requested = requested | PortSet.single(candidate.protocol, candidate.target)
            elif isinstance(target, Pod):
                number = target.named_port(candidate.target, candidate.protocol)
                if number is not None:
                    requested = requested | PortSet.single(candidate.protocol, number)
        if not requested:
            return requested, f"{target} does not define the Service's target port"
        return requested, None
    if port is None:
        return (PortSet.all() if protocol is None else PortSet.protocol_all(protocol)), None
    protocol = protocol or Protocol.TCP
    if isinstance(port, int):
        return PortSet.single(protocol, port), None
    if not isinstance(target, Pod):
        return PortSet.empty(), f"named port {port} never matches an external address"
    number = target.named_port(port, protocol)
    if number is None:
        return PortSet.empty(), f"{target} defines no {protocol.value} port named {port}"
    return PortSet.single(protocol, number), None


def check(
    compiled: CompiledCluster,
    source: str | EndpointSpec,
    target: str | EndpointSpec,
    *,
    port: int | str | None = None,
    protocol: Protocol | str | None = None,
) -> Verdict:
    """Answer "may ``source`` reach ``target`` (on ``port``/``protocol``)?" with reasons.

    Without a port, the verdict lists which ports (of ``protocol``, or of every protocol
    when none is given) are allowed. A port without a protocol means TCP.
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
    egress = _side(compiled, Direction.EGRESS, s, d)
    ingress = _side(compiled, Direction.INGRESS, d, s)
    if isinstance(s, Pod) and isinstance(d, Pod) and s.ref == d.ref:
        ports = requested  # a pod can always reach itself
    else:
        ports = egress.allowed & ingress.allowed & requested
    return PairVerdict(str(s), str(d), bool(ports), ports, egress, ingress)
