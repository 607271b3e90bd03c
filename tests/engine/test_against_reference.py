"""The compiled engine against the naive reference evaluator, on random small clusters.

For every ordered pair of pods, and every pod with every sample external address (both
directions), the engine's point lookup and its pod-granularity connectivity map must give
exactly the ports the reference computes from the spec.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings

from service.engine.compile import compile_cluster
from service.engine.connectivity import ConnectivityMap, connectivity_map
from service.engine.model import (
    AddressRange,
    Cluster,
    Direction,
    IPAddress,
    IPBlock,
    Labels,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    ObjectRef,
    Peer,
    Pod,
    PolicyPort,
    PortSet,
    Protocol,
    Rule,
)
from service.engine.options import AnalysisOptions, Granularity, HostNetworkPods
from service.engine.reachability import check
from tests.engine.reference import reference_allowed, reference_depends_on_dns
from tests.engine.strategies import (
    clusters,
    clusters_with_admin,
    clusters_with_cluster_policies,
    options_,
    sample_addresses,
)

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class MapIndex:
    """A connectivity map, laid out for lookups, with whatever is wrong with its shape."""

    pods: dict[tuple[ObjectRef, ObjectRef], PortSet] = field(default_factory=dict)
    from_external: dict[ObjectRef, list[tuple[AddressRange, PortSet]]] = field(default_factory=dict)
    to_external: dict[ObjectRef, list[tuple[AddressRange, PortSet]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def external(self, pod: ObjectRef, address: IPAddress, *, inbound: bool) -> PortSet:
        table = self.from_external if inbound else self.to_external
        hits = [ports for span, ports in table.get(pod, []) if span.contains(address)]
        if len(hits) > 1:
            arrow = f"{address} -> {pod}" if inbound else f"{pod} -> {address}"
            self.problems.append(f"{arrow}: {len(hits)} overlapping external ranges")
        out = PortSet.empty()
        for ports in hits:
            out = out | ports
        return out


def index_map(
    cluster: Cluster, options: AnalysisOptions, cmap: ConnectivityMap | None = None
) -> MapIndex:
    if cmap is None:
        cmap = connectivity_map(compile_cluster(cluster, options), Granularity.POD)
    index = MapIndex()
    for conn in cmap.connections():
        src, dst, ports = conn.source, conn.target, conn.ports
        label = f"{src} -> {dst} ({ports})"
        if not ports:
            index.problems.append(f"listed with no ports: {label}")
        if isinstance(src, AddressRange) and isinstance(dst, AddressRange):
            index.problems.append(f"external-to-external connection listed: {label}")
        elif isinstance(src, AddressRange):
            assert isinstance(dst, ObjectRef)
            index.from_external.setdefault(dst, []).append((src, ports))
        elif isinstance(dst, AddressRange):
            index.to_external.setdefault(src, []).append((dst, ports))
        else:
            if src.kind != "Pod" or dst.kind != "Pod":
                index.problems.append(f"not a pod endpoint at pod granularity: {label}")
            if src == dst:
                index.problems.append(f"pod-to-itself connection listed: {label}")
            if (src, dst) in index.pods:
                index.problems.append(f"pair listed twice: {label}")
            index.pods[(src, dst)] = ports
    return index


def _describe(endpoint: Pod | IPAddress) -> str:
    return f"{endpoint.namespace}/{endpoint.name}" if isinstance(endpoint, Pod) else str(endpoint)


def mismatches(cluster: Cluster, options: AnalysisOptions) -> list[str]:
    """Every disagreement of the engine (point lookups and map) with the reference."""
    compiled = compile_cluster(cluster, options)
    index = index_map(cluster, options)
    out: list[str] = []
    known = {pod.ref for pod in cluster.pods}
    for src_ref, dst_ref in index.pods:
        if src_ref not in known or dst_ref not in known:
            out.append(f"map lists an unknown pod: {src_ref} -> {dst_ref}")

    def check(src: Pod | IPAddress, dst: Pod | IPAddress, from_map: PortSet | None) -> None:
        expected = reference_allowed(cluster, options, src, dst)
        got = compiled.allowed_ports(src, dst)
        arrow = f"{_describe(src)} -> {_describe(dst)}"
        if got != expected:
            out.append(f"allowed_ports {arrow}: engine {got}, reference {expected}")
        if from_map is not None and from_map != expected:
            out.append(f"map {arrow}: map {from_map}, reference {expected}")

    for src in cluster.pods:
        for dst in cluster.pods:
            if src.ref == dst.ref:
                check(src, dst, None)
            else:
                check(src, dst, index.pods.get((src.ref, dst.ref), PortSet.empty()))
    addresses = sample_addresses(cluster)
    for pod in cluster.pods:
        for address in addresses:
            check(address, pod, index.external(pod.ref, address, inbound=True))
            check(pod, address, index.external(pod.ref, address, inbound=False))
    return index.problems + out


@PROPERTY
@given(cluster=clusters(), options=options_)
def test_engine_agrees_with_reference(cluster: Cluster, options: AnalysisOptions) -> None:
    wrong = mismatches(cluster, options)
    assert not wrong, "\n".join(wrong[:40])


@PROPERTY
@given(cluster=clusters_with_admin(), options=options_)
def test_engine_agrees_with_reference_with_admin_tiers(
    cluster: Cluster, options: AnalysisOptions
) -> None:
    """AdminNetworkPolicy, NetworkPolicy and the baseline together, point and map."""
    wrong = mismatches(cluster, options)
    assert not wrong, "\n".join(wrong[:40])


def dns_mismatches(cluster: Cluster, options: AnalysisOptions) -> list[str]:
    """Disagreements on what only DNS decides: the verdicts' and the map's against the
    reference (which evaluates every side with no domain name resolving and with all)."""
    compiled = compile_cluster(cluster, options)
    cmap = connectivity_map(compiled, Granularity.POD)
    dns_map = cmap.depends_on_dns
    index = index_map(cluster, options, dns_map) if dns_map is not None else MapIndex()
    out = list(index.problems)

    owned = {ip for pod in cluster.pods for ip in pod.ips}  # a query resolves these to pods

    def check_pair(src: Pod | IPAddress, dst: Pod | IPAddress, from_map: PortSet) -> None:
        expected = reference_depends_on_dns(cluster, options, src, dst)
        arrow = f"{_describe(src)} -> {_describe(dst)}"
        if not ({src, dst} & owned):
            [pair] = check(compiled, _describe(src), _describe(dst)).pairs
            if pair.depends_on_dns != expected:
                out.append(f"verdict {arrow}: engine {pair.depends_on_dns}, reference {expected}")
        if from_map != expected:
            out.append(f"dns map {arrow}: map {from_map}, reference {expected}")

    pods = [p for p in cluster.pods if not p.template and p.ips]
    for src in pods:
        for dst in pods:
            if src.ref != dst.ref:
                check_pair(src, dst, index.pods.get((src.ref, dst.ref), PortSet.empty()))
        for address in sample_addresses(cluster):
            check_pair(src, address, index.external(src.ref, address, inbound=False))
            check_pair(address, src, index.external(src.ref, address, inbound=True))
    return out


@PROPERTY
@given(cluster=clusters_with_cluster_policies(), options=options_)
def test_engine_agrees_with_reference_with_cluster_network_policies(
    cluster: Cluster, options: AnalysisOptions
) -> None:
    """ClusterNetworkPolicy in both tiers with NetworkPolicy, AdminNetworkPolicy and the
    baseline: random priorities (ties included), actions, ports, named ports, domainNames;
    point lookups and the map, and what DNS decides in verdicts and the map."""
    wrong = mismatches(cluster, options) + dns_mismatches(cluster, options)
    assert not wrong, "\n".join(wrong[:40])


# -- the map's shape, on fixed clusters where mistakes are likeliest --------------------------
def _fixed_clusters() -> list[Cluster]:
    x = Namespace("x", Labels({"kubernetes.io/metadata.name": "x"}))
    pods = (
        Pod("x", "a", Labels({"app": "a"}), (ipaddress.ip_address("10.0.0.1"),)),
        Pod("x", "b", Labels({"app": "b"}), (ipaddress.ip_address("10.0.0.2"),)),
        Pod("x", "h", Labels({}), (ipaddress.ip_address("10.0.0.3"),), host_network=True),
        Pod("x", "t", Labels({}), template=True),
    )
    block = IPBlock.parse("10.0.0.0/24", ["10.0.0.2/32"])
    restrictive = NetworkPolicy(
        "x",
        "p",
        LabelSelector.of({"app": "a"}),
        frozenset({Direction.INGRESS, Direction.EGRESS}),
        ingress=(Rule(peers=(Peer(ip_block=block),)),),
        egress=(Rule(ports=(PolicyPort(Protocol.TCP, 80),)),),
    )
    deny_all = NetworkPolicy(
        "x", "deny", LabelSelector(), frozenset({Direction.INGRESS, Direction.EGRESS})
    )
    return [
        Cluster(namespaces=(x,), pods=pods),
        Cluster(namespaces=(x,), pods=pods, policies=(restrictive,)),
        # Nothing allowed at all: the map is empty (it once crashed on that).
        Cluster(namespaces=(x,), pods=pods[:1], policies=(deny_all,)),
        Cluster(namespaces=(x,), pods=(), policies=(deny_all,)),
    ]


def test_map_never_lists_self_or_external_to_external() -> None:
    for cluster in _fixed_clusters():
        for options in (
            AnalysisOptions(),
            AnalysisOptions(host_network_pods=HostNetworkPods.AS_PODS),
        ):
            compiled = compile_cluster(cluster, options)
            for conn in connectivity_map(compiled, Granularity.POD).connections():
                assert not (
                    isinstance(conn.source, AddressRange) and isinstance(conn.target, AddressRange)
                ), f"external-to-external connection listed: {conn}"
                assert conn.source != conn.target, f"pod-to-itself connection listed: {conn}"


def test_fixed_clusters_agree_with_reference() -> None:
    for cluster in _fixed_clusters():
        for options in (
            AnalysisOptions(),
            AnalysisOptions(host_network_pods=HostNetworkPods.AS_PODS),
        ):
            wrong = mismatches(cluster, options)
            assert not wrong, "\n".join(wrong)
