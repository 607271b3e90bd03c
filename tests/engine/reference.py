"""A deliberately naive reference evaluator for NetworkPolicy, written straight from the spec.

It answers one (source, destination) pair at a time by walking every policy and every rule,
with no indexing and no cleverness, and shares nothing with ``service.engine`` beyond the
model value types: selector matching, ipBlock containment and port-set algebra are all
re-implemented here so that a bug in the engine's versions of them is caught.

A source or destination is a :class:`Pod` or an IP address (an external peer, never isolated:
no policy applies to it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from service.engine.model import (
    NAMESPACE_NAME_LABEL,
    AdminAction,
    AdminPeer,
    AdminPolicy,
    AdminRule,
    Cluster,
    IPAddress,
    IPBlock,
    LabelSelector,
    NetworkPolicy,
    Peer,
    Pod,
    PodsOf,
    PolicyPort,
    PortRange,
    PortSet,
    Protocol,
    Rule,
)
from service.engine.options import AnalysisOptions, HostNetworkPods, PodIPsInIPBlocks

Endpoint = Pod | IPAddress

PROTOCOL_NAMES = ("SCTP", "TCP", "UDP")
LOWEST_PORT, HIGHEST_PORT = 1, 65535

# A port set of our own: protocol name -> sorted, disjoint, non-adjacent inclusive intervals.
Ports = dict[str, list[tuple[int, int]]]


# -- port sets -------------------------------------------------------------------------------
def _normalise(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _no_ports() -> Ports:
    return {name: [] for name in PROTOCOL_NAMES}


def _all_ports() -> Ports:
    return {name: [(LOWEST_PORT, HIGHEST_PORT)] for name in PROTOCOL_NAMES}


def _union(a: Ports, b: Ports) -> Ports:
    return {name: _normalise(a[name] + b[name]) for name in PROTOCOL_NAMES}


def _intersection(a: Ports, b: Ports) -> Ports:
    out = _no_ports()
    for name in PROTOCOL_NAMES:
        pieces = []
        for lo1, hi1 in a[name]:
            for lo2, hi2 in b[name]:
                lo, hi = max(lo1, lo2), min(hi1, hi2)
                if lo <= hi:
                    pieces.append((lo, hi))
        out[name] = _normalise(pieces)
    return out


def to_portset(ports: Ports) -> PortSet:
    ranges = [
        PortRange(Protocol(name), lo, hi) for name in PROTOCOL_NAMES for lo, hi in ports[name]
    ]
    result = PortSet(ranges)
    # Our intervals are already canonical: PortSet must keep them exactly as they are.
    assert list(result.ranges) == sorted(ranges), (result, ranges)
    return result


# -- selectors -------------------------------------------------------------------------------
def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector: every matchLabels pair and every expression must hold."""
    present = dict(labels.items())
    for key, value in selector.match_labels:
        if key not in present or present[key] != value:
            return False
    for requirement in selector.match_expressions:
        operator = str(requirement.operator.value)
        has_key = requirement.key in present
        if operator == "In":
            ok = has_key and present[requirement.key] in requirement.values
        elif operator == "NotIn":
            # A missing key satisfies NotIn.
            ok = not has_key or present[requirement.key] not in requirement.values
        elif operator == "Exists":
            ok = has_key
        elif operator == "DoesNotExist":
            ok = not has_key
        else:  # pragma: no cover - the model has only four operators
            raise AssertionError(f"unknown operator {operator}")
        if not ok:
            return False
    return True


def namespace_labels(cluster: Cluster, name: str) -> dict[str, str]:
    for namespace in cluster.namespaces:
        if namespace.name == name:
            labels = dict(namespace.labels.items())
            labels.setdefault(NAMESPACE_NAME_LABEL, name)
            return labels
    return {NAMESPACE_NAME_LABEL: name}


# -- addresses -------------------------------------------------------------------------------
def block_contains(block: IPBlock, address: IPAddress) -> bool:
    cidr = ipaddress.ip_network(str(block.cidr), strict=False)
    if address.version != cidr.version or address not in cidr:
        return False
    return not any(
        address in ipaddress.ip_network(str(hole), strict=False) for hole in block.excepts
    )


# -- the rules -------------------------------------------------------------------------------
def _is_exempt(pod: Pod, options: AnalysisOptions) -> bool:
    return pod.host_network and options.host_network_pods == HostNetworkPods.EXEMPT


def _policy_selects(policy: NetworkPolicy, pod: Pod, options: AnalysisOptions) -> bool:
    if _is_exempt(pod, options):
        return False
    return policy.namespace == pod.namespace and selector_matches(policy.pod_selector, pod.labels)


def _peer_matches(
    cluster: Cluster,
    options: AnalysisOptions,
    policy: NetworkPolicy,
    peer: Peer,
    other: Endpoint,
) -> bool:
    """Does ``peer`` (of a rule of ``policy``) match the endpoint on the other side?"""
    if peer.ip_block is not None:
        if isinstance(other, Pod):
            if not other.ips:
                return False  # a pod without an address (a template) is in no ipBlock
            exempt = _is_exempt(other, options)
            if not exempt and options.pod_ips_in_ipblocks == PodIPsInIPBlocks.IGNORE:
                return False
            return any(block_contains(peer.ip_block, ip) for ip in other.ips)
        return block_contains(peer.ip_block, other)
    # Selector peers only ever match pods, and never exempt host-network pods.
    if not isinstance(other, Pod) or _is_exempt(other, options):
        return False
    if peer.namespace_selector is None:
        in_namespace = other.namespace == policy.namespace
    else:
        in_namespace = selector_matches(
            peer.namespace_selector, namespace_labels(cluster, other.namespace)
        )
    if not in_namespace:
        return False
    if peer.pod_selector is None:
        return True
    return selector_matches(peer.pod_selector, other.labels)


def _port_ports(port: PolicyPort, destination: Endpoint) -> Ports:
    out = _no_ports()
    protocol = str(port.protocol.value)
    if port.port is None:
        out[protocol] = [(LOWEST_PORT, HIGHEST_PORT)]
    elif isinstance(port.port, str):
        # Named: resolve on the destination pod, by name AND protocol; never on an address.
        if isinstance(destination, Pod):
            numbers = [
                c.port
                for c in destination.ports
                if c.name == port.port and str(c.protocol.value) == protocol
            ]
            out[protocol] = _normalise((n, n) for n in numbers)
    else:
        end = port.end_port if port.end_port is not None else port.port
        out[protocol] = [(port.port, end)]
    return out


def _rule_ports(rule: Rule, destination: Endpoint) -> Ports:
    if not rule.ports:
        return _all_ports()
    out = _no_ports()
    for port in rule.ports:
        out = _union(out, _port_ports(port, destination))
    return out


def _difference(a: Ports, b: Ports) -> Ports:
    out = _no_ports()
    for name in PROTOCOL_NAMES:
        kept: list[tuple[int, int]] = []
        for lo, hi in a[name]:
            start = lo
            for cut_lo, cut_hi in b[name]:
                if cut_hi < start or cut_lo > hi:
                    continue
                if cut_lo > start:
                    kept.append((start, cut_lo - 1))
                start = max(start, cut_hi + 1)
            if start <= hi:
                kept.append((start, hi))
        out[name] = _normalise(kept)
    return out


# -- AdminNetworkPolicy tiers ------------------------------------------------------------------
def _pods_of_matches(cluster: Cluster, options: AnalysisOptions, pods: PodsOf, pod: Pod) -> bool:
    if pod.host_network:  # the CRDs: never in subjects or namespaces/pods peers
        return False
    if not selector_matches(pods.namespace_selector, namespace_labels(cluster, pod.namespace)):
        return False
    return pods.pod_selector is None or selector_matches(pods.pod_selector, pod.labels)


def _admin_peer_matches(
    cluster: Cluster, options: AnalysisOptions, peer: AdminPeer, other: Endpoint, dns: bool
) -> bool:
    if peer.domain_names:  # an external address, if DNS resolves a name to it
        return dns and not isinstance(other, Pod)
    if peer.pods is not None:
        return isinstance(other, Pod) and _pods_of_matches(cluster, options, peer.pods, other)
    if peer.networks:  # CIDRs match every address, pods' included, whatever the option
        addresses = other.ips if isinstance(other, Pod) else (other,)
        return any(
            address in ipaddress.ip_network(str(network), strict=False)
            for network in peer.networks
            for address in addresses
        )
    assert peer.nodes is not None
    # nodes: the IPs in status.addresses of every Node the selector selects
    node_ips = {
        address.ip
        for node in cluster.nodes
        if selector_matches(peer.nodes, node.labels)
        for address in node.addresses
    }
    addresses = other.ips if isinstance(other, Pod) else (other,)
    return any(address in node_ips for address in addresses)


def _admin_rule_ports(rule: AdminRule, destination: Endpoint) -> Ports:
    if not rule.ports and not rule.named_ports:
        return _all_ports()
    out = _no_ports()
    for port in rule.ports:
        out = _union(out, _port_ports(port, destination))
    if isinstance(destination, Pod):
        for name in rule.named_ports:  # any protocol
            for c in destination.ports:
                if c.name == name:
                    single = _no_ports()
                    single[str(c.protocol.value)] = [(c.port, c.port)]
                    out = _union(out, single)
    return out


def _admin_tier(
    cluster: Cluster,
    options: AnalysisOptions,
    subject: Pod,
    other: Endpoint,
    destination: Endpoint,
    direction: str,
    baseline: bool,
    dns: bool,
) -> list[tuple[AdminAction, Ports]]:
    """Every matching rule of the tier, in evaluation order, with the ports it names.

    The Admin tier holds ClusterNetworkPolicy (tier Admin) and AdminNetworkPolicy by one
    priority; the Baseline tier ClusterNetworkPolicy (tier Baseline) by priority, then the
    BaselineAdminNetworkPolicy (no priority). Equal priorities: by name, then kind."""

    def order(p: AdminPolicy) -> tuple[bool, int, str, str]:
        legacy_baseline = p.baseline and not p.cluster
        kind = "ClusterNetworkPolicy" if p.cluster else "AdminNetworkPolicy"
        return (legacy_baseline, p.priority, p.name, kind)

    chosen = sorted(
        (
            p
            for p in cluster.admin_policies
            if p.baseline == baseline and _pods_of_matches(cluster, options, p.subject, subject)
        ),
        key=order,
    )
    found = []
    for policy in chosen:
        for rule in policy.ingress if direction == "Ingress" else policy.egress:
            if any(_admin_peer_matches(cluster, options, p, other, dns) for p in rule.peers):
                found.append((rule.action, _admin_rule_ports(rule, destination)))
    return found


def _direction_allows(
    cluster: Cluster,
    options: AnalysisOptions,
    subject: Endpoint,
    other: Endpoint,
    destination: Endpoint,
    direction: str,
    dns: bool = False,
) -> Ports:
    """Ports ``subject``'s policies of ``direction`` allow with peer ``other``: admin rules
    first (first match per port: Allow, Deny or Pass), then NetworkPolicy if it isolates
    the pod, else the baseline (first match per port: Allow, Deny or Pass), else allowed.
    ``dns``: as if every domain name resolved to ``other``."""
    if not isinstance(subject, Pod) or _is_exempt(subject, options):
        return _all_ports()  # external addresses and exempt pods: no policy applies
    allowed, denied, decided = _no_ports(), _no_ports(), _no_ports()
    for action, ports in _admin_tier(
        cluster, options, subject, other, destination, direction, False, dns
    ):
        fresh = _difference(ports, decided)
        if action == AdminAction.ALLOW:
            allowed = _union(allowed, fresh)
        elif action == AdminAction.DENY:
            denied = _union(denied, fresh)
        decided = _union(decided, fresh)
    rest = _difference(_difference(_all_ports(), allowed), denied)
    isolating = [
        policy
        for policy in cluster.policies
        if direction in {str(t.value) for t in policy.policy_types}
        and _policy_selects(policy, subject, options)
    ]
    if isolating:
        policy_ports = _network_policy_allows(
            cluster, options, isolating, other, destination, direction
        )
        return _union(allowed, _intersection(rest, policy_ports))
    baseline_denied, baseline_decided = _no_ports(), _no_ports()
    for action, ports in _admin_tier(
        cluster, options, subject, other, destination, direction, True, dns
    ):
        fresh = _difference(_intersection(ports, rest), baseline_decided)
        if action == AdminAction.DENY:
            baseline_denied = _union(baseline_denied, fresh)
        baseline_decided = _union(baseline_decided, fresh)
    return _union(allowed, _difference(rest, baseline_denied))


def _network_policy_allows(
    cluster: Cluster,
    options: AnalysisOptions,
    isolating: list[NetworkPolicy],
    other: Endpoint,
    destination: Endpoint,
    direction: str,
) -> Ports:
    allowed = _no_ports()
    for policy in isolating:
        rules = policy.ingress if direction == "Ingress" else policy.egress
        for rule in rules:
            if rule.peers and not any(
                _peer_matches(cluster, options, policy, peer, other) for peer in rule.peers
            ):
                continue
            allowed = _union(allowed, _rule_ports(rule, destination))
    return allowed


def reference_ports(
    cluster: Cluster, options: AnalysisOptions, src: Endpoint, dst: Endpoint
) -> Ports:
    if isinstance(src, Pod) and isinstance(dst, Pod) and src.ref == dst.ref:
        return _all_ports()  # a pod can always reach itself
    if not isinstance(src, Pod) and not isinstance(dst, Pod):
        raise ValueError("at least one side must be a pod")
    egress, ingress = _sides(cluster, options, src, dst)
    return _intersection(egress[0], ingress[0])


def _sides(
    cluster: Cluster, options: AnalysisOptions, src: Endpoint, dst: Endpoint
) -> tuple[tuple[Ports, Ports], tuple[Ports, Ports]]:
    """Per direction: what is allowed whatever DNS says, and what DNS decides."""
    found = []
    for subject, other, direction in ((src, dst, "Egress"), (dst, src, "Ingress")):
        unresolved = _direction_allows(cluster, options, subject, other, dst, direction)
        resolved = _direction_allows(cluster, options, subject, other, dst, direction, True)
        both = _intersection(unresolved, resolved)
        changed = _union(_difference(unresolved, resolved), _difference(resolved, unresolved))
        found.append((both, changed))
    return found[0], found[1]


def reference_depends_on_dns(
    cluster: Cluster, options: AnalysisOptions, src: Endpoint, dst: Endpoint
) -> PortSet:
    """The ports allowed only if DNS resolves a ``domainNames`` peer to the other side."""
    if isinstance(src, Pod) and isinstance(dst, Pod) and src.ref == dst.ref:
        return PortSet.empty()
    egress, ingress = _sides(cluster, options, src, dst)
    possible = _intersection(_union(*egress), _union(*ingress))
    return to_portset(_difference(possible, _intersection(egress[0], ingress[0])))


def reference_allowed(
    cluster: Cluster, options: AnalysisOptions, src: Endpoint, dst: Endpoint
) -> PortSet:
    """Every (protocol, port) on which ``src`` may open a connection to ``dst``."""
    return to_portset(reference_ports(cluster, options, src, dst))
