"""Hypothesis strategies for small random clusters, built directly from model values.

Every vocabulary is tiny (three namespaces, two label keys with two values each, a pool of
eight IPv4 addresses, three port names) so that selectors, ipBlocks and named ports match
often and the interesting cases are hit quickly.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from service.engine.model import (
    NAMESPACE_NAME_LABEL,
    AdminAction,
    AdminPeer,
    AdminPolicy,
    AdminRule,
    Cluster,
    ContainerPort,
    Direction,
    IPAddress,
    IPBlock,
    IPNetwork,
    Labels,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Node,
    NodeAddress,
    Operator,
    Peer,
    Pod,
    PodsOf,
    PolicyPort,
    Protocol,
    Requirement,
    Rule,
)
from service.engine.options import AnalysisOptions, HostNetworkPods, PodIPsInIPBlocks

NAMESPACE_NAMES = ("x", "y", "z")
Vocabulary = Mapping[str, tuple[str, ...]]
NAMESPACE_VOCABULARY: Vocabulary = {"team": ("a", "b"), "env": ("prod", "dev")}
POD_VOCABULARY: Vocabulary = {"app": ("web", "db"), "tier": ("a", "b")}
IPV4_POOL: tuple[IPAddress, ...] = tuple(ipaddress.IPv4Address(f"10.0.0.{i}") for i in range(1, 9))
# Host-network pods carry their node's address, which several of them may share.
NODE_POOL: tuple[IPAddress, ...] = (
    ipaddress.IPv4Address("10.0.0.9"),
    ipaddress.IPv4Address("10.0.0.10"),
)
IPV6_POOL: tuple[IPAddress, ...] = tuple(ipaddress.IPv6Address(f"fd00::{i}") for i in range(1, 5))
# More node addresses: an ExternalIP, an IPv6 InternalIP, and one a pod of the pod network has.
NODE_EXTRA: tuple[IPAddress, ...] = (
    ipaddress.IPv4Address("10.0.0.11"),
    ipaddress.IPv6Address("fd00::9"),
    ipaddress.IPv4Address("10.0.0.1"),
)
PORT_NAMES = ("http", "dns", "db")
PORT_NUMBERS = (53, 80, 443, 5432, 8080)
PROTOCOLS = (Protocol.TCP, Protocol.TCP, Protocol.UDP, Protocol.SCTP)  # TCP twice: commoner
CIDRS_V4 = (
    "10.0.0.0/24",
    "10.0.0.0/29",
    "10.0.0.0/30",
    "10.0.0.4/30",
    "10.0.0.4/31",
    "10.0.0.8/29",
    "10.0.0.3/32",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "192.168.0.0/16",
)
CIDRS_V6 = ("fd00::/64", "fd00::/126", "::/0")
EXCEPT_PREFIXES = (1, 8, 16, 24, 28, 29, 30, 31, 32, 64, 120, 126, 127, 128)


def labels_from(vocabulary: Vocabulary) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries(
        {}, optional={key: st.sampled_from(values) for key, values in vocabulary.items()}
    )


@st.composite
def requirements(draw: st.DrawFn, vocabulary: Vocabulary) -> Requirement:
    keys = (*vocabulary, "absent")
    key = draw(st.sampled_from(keys))
    operator = draw(st.sampled_from(list(Operator)))
    if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        return Requirement(key, operator, ())
    pool = vocabulary.get(key, ("v",))
    values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
    return Requirement(key, operator, tuple(sorted(values)))


@st.composite
def selectors(draw: st.DrawFn, vocabulary: Vocabulary) -> LabelSelector:
    if draw(st.integers(0, 3)) == 0:
        return LabelSelector()  # empty: selects everything
    match_labels = draw(st.one_of(st.just({}), labels_from(vocabulary)))
    expressions = draw(st.lists(requirements(vocabulary), max_size=2))
    return LabelSelector.of(match_labels, expressions)


@st.composite
def namespaces_(draw: st.DrawFn) -> tuple[Namespace, ...]:
    count = draw(st.integers(2, 3))
    out = []
    for name in NAMESPACE_NAMES[:count]:
        labels = draw(labels_from(NAMESPACE_VOCABULARY))
        labels[NAMESPACE_NAME_LABEL] = name
        out.append(Namespace(name, Labels(labels)))
    return tuple(out)


@st.composite
def container_ports(draw: st.DrawFn) -> tuple[ContainerPort, ...]:
    ports = draw(
        st.lists(
            st.builds(
                ContainerPort,
                st.one_of(st.none(), st.sampled_from(PORT_NAMES)),
                st.sampled_from(PORT_NUMBERS),
                st.sampled_from(PROTOCOLS),
            ),
            max_size=3,
        )
    )
    # Kubernetes rejects two container ports with one name; keep the first of each name.
    seen: set[str] = set()
    unique = []
    for port in ports:
        if port.name is not None:
            if port.name in seen:
                continue
            seen.add(port.name)
        unique.append(port)
    return tuple(unique)


@st.composite
def pods_(draw: st.DrawFn, namespace_names: tuple[str, ...]) -> tuple[Pod, ...]:
    count = draw(st.integers(2, 6))
    v4 = draw(st.permutations(IPV4_POOL))
    v6 = draw(st.permutations(IPV6_POOL))
    out = []
    for index in range(count):
        shape = draw(st.sampled_from(("v4", "v4", "v4", "none", "v6", "dual")))
        host_network = draw(st.sampled_from((False, False, True)))
        own_v4 = draw(st.sampled_from(NODE_POOL)) if host_network else v4[index]
        ips: tuple[IPAddress, ...] = {
            "v4": (own_v4,),
            "none": (),
            "v6": (v6[index % len(v6)],),
            "dual": (own_v4, v6[index % len(v6)]),
        }[shape]
        out.append(
            Pod(
                namespace=draw(st.sampled_from(namespace_names)),
                name=f"p{index}",
                labels=Labels(draw(labels_from(POD_VOCABULARY))),
                ips=ips,
                ports=draw(container_ports()),
                host_network=host_network,
                template=not ips and draw(st.booleans()),
            )
        )
    return tuple(out)


@st.composite
def ip_blocks(draw: st.DrawFn) -> IPBlock:
    cidr: IPNetwork = ipaddress.ip_network(
        draw(st.sampled_from(CIDRS_V4 + CIDRS_V4 + CIDRS_V6)), strict=False
    )
    bits = cidr.max_prefixlen
    prefixes = [p for p in EXCEPT_PREFIXES if cidr.prefixlen < p <= bits]
    excepts: list[IPNetwork] = []
    if prefixes:
        pool = IPV4_POOL + NODE_POOL if cidr.version == 4 else IPV6_POOL
        for _ in range(draw(st.integers(0, 2))):
            inside = [ip for ip in pool if ip in cidr]
            use_pool: bool = draw(st.booleans())
            if inside and use_pool:
                address: Any = draw(st.sampled_from(inside))
            else:
                span = cidr.num_addresses - 1
                address = cidr.network_address + draw(st.integers(0, span))
            prefix = draw(st.sampled_from(prefixes))
            hole = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
            assert hole.subnet_of(cidr)  # type: ignore[arg-type]
            assert hole != cidr
            excepts.append(hole)
    return IPBlock.parse(str(cidr), [str(e) for e in excepts])


@st.composite
def peers(draw: st.DrawFn, namespace_names: tuple[str, ...]) -> Peer:
    shape = draw(st.sampled_from(("pods", "namespaces", "both", "ipblock", "ipblock")))
    if shape == "ipblock":
        return Peer(ip_block=draw(ip_blocks()))
    namespace_vocabulary = {
        **NAMESPACE_VOCABULARY,
        NAMESPACE_NAME_LABEL: namespace_names,
    }
    pod_selector = draw(selectors(POD_VOCABULARY)) if shape != "namespaces" else None
    namespace_selector = draw(selectors(namespace_vocabulary)) if shape != "pods" else None
    return Peer(pod_selector=pod_selector, namespace_selector=namespace_selector)


@st.composite
def policy_ports(draw: st.DrawFn) -> PolicyPort:
    protocol = draw(st.sampled_from(PROTOCOLS))
    shape = draw(st.sampled_from(("protocol", "number", "range", "named")))
    if shape == "protocol":
        return PolicyPort(protocol)
    if shape == "named":
        return PolicyPort(protocol, draw(st.sampled_from(PORT_NAMES)))
    port = draw(st.sampled_from(PORT_NUMBERS))
    if shape == "number":
        return PolicyPort(protocol, port)
    end = draw(st.sampled_from([p for p in (*PORT_NUMBERS, 65535) if p >= port]))
    return PolicyPort(protocol, port, end)


@st.composite
def rules(draw: st.DrawFn, namespace_names: tuple[str, ...]) -> Rule:
    return Rule(
        peers=tuple(draw(st.lists(peers(namespace_names), max_size=2))),
        ports=tuple(draw(st.lists(policy_ports(), max_size=2))),
    )


@st.composite
def policies(draw: st.DrawFn, namespace_names: tuple[str, ...], index: int) -> NetworkPolicy:
    types = draw(
        st.sampled_from(
            (
                frozenset({Direction.INGRESS}),
                frozenset({Direction.EGRESS}),
                frozenset({Direction.INGRESS, Direction.EGRESS}),
            )
        )
    )
    return NetworkPolicy(
        namespace=draw(st.sampled_from(namespace_names)),
        name=f"np{index}",
        pod_selector=draw(selectors(POD_VOCABULARY)),
        policy_types=types,
        # Rules of a direction the policy does not have are drawn too: they must be ignored.
        ingress=tuple(draw(st.lists(rules(namespace_names), max_size=3))),
        egress=tuple(draw(st.lists(rules(namespace_names), max_size=3))),
    )


options_ = st.builds(
    AnalysisOptions,
    st.sampled_from(list(PodIPsInIPBlocks)),
    st.sampled_from(list(HostNetworkPods)),
)


@st.composite
def clusters(draw: st.DrawFn) -> Cluster:
    namespaces = draw(namespaces_())
    names = tuple(n.name for n in namespaces)
    pods = draw(pods_(names))
    count = draw(st.integers(0, 4))
    return Cluster(
        namespaces=namespaces,
        pods=pods,
        policies=tuple(draw(policies(names, i)) for i in range(count)),
    )


@st.composite
def pods_of(draw: st.DrawFn, namespace_names: tuple[str, ...]) -> PodsOf:
    namespace_vocabulary = {**NAMESPACE_VOCABULARY, NAMESPACE_NAME_LABEL: namespace_names}
    namespace_selector = draw(selectors(namespace_vocabulary))
    pod_selector = draw(st.one_of(st.none(), selectors(POD_VOCABULARY)))
    return PodsOf(namespace_selector, pod_selector)


@st.composite
def admin_peers(
    draw: st.DrawFn, namespace_names: tuple[str, ...], egress: bool, cluster: bool = False
) -> AdminPeer:
    shapes: tuple[str, ...] = ("pods", "pods", "networks", "nodes") if egress else ("pods",)
    if egress and cluster:
        shapes += ("domainNames",)
    shape = draw(st.sampled_from(shapes))
    if shape == "domainNames":
        return AdminPeer(domain_names=("example.com", "*.example.org")[: draw(st.integers(1, 2))])
    if shape == "networks":
        cidrs = draw(st.lists(st.sampled_from(CIDRS_V4 + CIDRS_V6), min_size=1, max_size=2))
        return AdminPeer(networks=tuple(ipaddress.ip_network(c) for c in cidrs))
    if shape == "nodes":
        return AdminPeer(nodes=draw(selectors(POD_VOCABULARY)))
    return AdminPeer(pods=draw(pods_of(namespace_names)))


@st.composite
def admin_ports(draw: st.DrawFn) -> PolicyPort:
    protocol = draw(st.sampled_from(PROTOCOLS))
    port = draw(st.sampled_from(PORT_NUMBERS))
    if draw(st.booleans()):
        return PolicyPort(protocol, port)
    end = draw(st.sampled_from([p for p in (*PORT_NUMBERS, 65535) if p > port]))
    return PolicyPort(protocol, port, end)


@st.composite
def admin_rules(
    draw: st.DrawFn,
    namespace_names: tuple[str, ...],
    egress: bool,
    baseline: bool,
    cluster: bool = False,
) -> AdminRule:
    actions = (AdminAction.ALLOW, AdminAction.DENY)
    if not baseline or cluster:  # a Baseline ClusterNetworkPolicy may Pass too
        actions += (AdminAction.PASS,)
    peer = admin_peers(namespace_names, egress, cluster)
    peers = tuple(draw(st.lists(peer, min_size=1, max_size=2)))
    named = tuple(draw(st.lists(st.sampled_from(PORT_NAMES), max_size=1)))
    if cluster and any(p.pods is None for p in peers):
        named = ()  # the CRD's CEL rule: no named ports with networks/nodes/domainNames
    return AdminRule(
        name="r",
        action=draw(st.sampled_from(actions)),
        peers=peers,
        ports=tuple(draw(st.lists(admin_ports(), max_size=2))),
        named_ports=named,
    )


@st.composite
def admin_policies(
    draw: st.DrawFn,
    namespace_names: tuple[str, ...],
    index: int,
    baseline: bool,
    cluster: bool = False,
) -> AdminPolicy:
    def rules_of(egress: bool) -> tuple[AdminRule, ...]:
        strategy = admin_rules(namespace_names, egress, baseline, cluster)
        return tuple(draw(st.lists(strategy, max_size=3)))

    legacy_baseline = baseline and not cluster
    return AdminPolicy(
        name="default" if legacy_baseline else f"p{index}",  # one name across kinds: ties
        priority=0 if legacy_baseline else draw(st.integers(0, 3)),
        subject=draw(pods_of(namespace_names)),
        ingress=rules_of(False),
        egress=rules_of(True),
        baseline=baseline,
        cluster=cluster,
    )


@st.composite
def nodes_(draw: st.DrawFn) -> tuple[Node, ...]:
    """0-2 Nodes, labelled from the pod vocabulary (what ``nodes`` peers select with), each
    with its InternalIP from the pool host-network pods draw from, and maybe more IPs."""
    out = []
    for index in range(draw(st.integers(0, 2))):
        addresses = [NodeAddress("InternalIP", NODE_POOL[index])]
        for extra in draw(st.lists(st.sampled_from(NODE_EXTRA), max_size=2, unique=True)):
            kind = "ExternalIP" if draw(st.booleans()) else "InternalIP"
            addresses.append(NodeAddress(kind, extra))
        out.append(Node(f"n{index}", Labels(draw(labels_from(POD_VOCABULARY))), tuple(addresses)))
    return tuple(out)


@st.composite
def clusters_with_admin(draw: st.DrawFn) -> Cluster:
    """A random cluster with 0-3 AdminNetworkPolicies and maybe the baseline, and 0-2 Nodes."""
    base = draw(clusters())
    names = tuple(n.name for n in base.namespaces)
    admin = [draw(admin_policies(names, i, False)) for i in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):
        admin.append(draw(admin_policies(names, 0, True)))
    return dataclasses.replace(base, admin_policies=tuple(admin), nodes=draw(nodes_()))


@st.composite
def clusters_with_cluster_policies(draw: st.DrawFn) -> Cluster:
    """A random cluster with 1-4 ClusterNetworkPolicies of random tiers, priorities, actions,
    ports and named ports, mixed with NetworkPolicy and maybe AdminNetworkPolicy and the
    BaselineAdminNetworkPolicy."""
    base = draw(clusters_with_admin())
    names = tuple(n.name for n in base.namespaces)
    count = draw(st.integers(1, 4))
    found = [draw(admin_policies(names, i, draw(st.booleans()), True)) for i in range(count)]
    return dataclasses.replace(base, admin_policies=(*base.admin_policies, *found))


def has_ipv6(cluster: Cluster) -> bool:
    if any(ip.version == 6 for pod in cluster.pods for ip in pod.ips):
        return True
    if any(a.ip.version == 6 for node in cluster.nodes for a in node.addresses):
        return True
    return any(block.version == 6 for block in ip_blocks_of(cluster))


def ip_blocks_of(cluster: Cluster) -> list[IPBlock]:
    """Every ipBlock, and every admin ``networks`` CIDR as a block."""
    blocks = [
        peer.ip_block
        for policy in cluster.policies
        for rule in (*policy.ingress, *policy.egress)
        for peer in rule.peers
        if peer.ip_block is not None
    ]
    blocks += [
        IPBlock(network)
        for policy in cluster.admin_policies
        for admin_rule in policy.egress
        for admin_peer in admin_rule.peers
        for network in admin_peer.networks
    ]
    return blocks


FIXED_V4 = ("0.0.0.0", "255.255.255.255", "10.0.0.1", "10.0.0.11", "8.8.8.8", "192.168.1.1")
FIXED_V6 = ("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fd00::1", "2001:db8::1")


def _address(version: int, value: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def sample_addresses(cluster: Cluster) -> list[IPAddress]:
    """External addresses worth probing: fixed ones, and every ipBlock boundary +/- 1."""
    versions = {4, 6} if has_ipv6(cluster) else {4}
    found: set[IPAddress] = {ipaddress.ip_address(a) for a in FIXED_V4}
    if 6 in versions:
        found |= {ipaddress.ip_address(a) for a in FIXED_V6}
    for block in ip_blocks_of(cluster):
        for net in (block.cidr, *block.excepts):
            top = 2**net.max_prefixlen - 1
            for edge, step in ((int(net.network_address), -1), (int(net.broadcast_address), 1)):
                for value in (edge, edge + step):
                    if 0 <= value <= top:
                        found.add(_address(net.version, value))
    for pod in cluster.pods:
        found |= set(pod.ips)
    for node in cluster.nodes:  # each node address, and its neighbours
        for address in node.addresses:
            value, top = int(address.ip), 2**address.ip.max_prefixlen - 1
            found |= {_address(address.ip.version, v) for v in (value - 1, value, value + 1)
                      if 0 <= v <= top}  # fmt: skip
    return sorted((a for a in found if a.version in versions), key=lambda a: (a.version, int(a)))
