"""Nodes: parsing and validation, host-network pods' addresses, and ``nodes`` peers.

The cluster of the semantic cases: namespace ``a`` (pod ``client``), namespace ``b`` (pod
``server``), namespace ``sys`` with two host-network pods (``agent-1`` on node n1, ``agent-2``
on n2, neither with IPs of its own), node n1 (role worker; InternalIP 192.168.1.1, ExternalIP
203.0.113.1) and node n2 (role control-plane; dual-stack 192.168.1.2 and fd00::2).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from service.engine.compile import compile_cluster
from service.engine.inventory import build_cluster
from service.engine.model import Cluster, Document, ManifestError, Origin
from service.engine.options import AnalysisOptions, HostNetworkPods
from service.engine.parse import parse_documents
from service.engine.reachability import Tier, check
from tests.engine.test_admin_tiers import banp, namespace, netpol, pod

Body = dict[str, Any]
API = "policy.networking.k8s.io/v1alpha1"
ip = ipaddress.ip_address


def node(name: str, addresses: list[tuple[str, str]], **labels: str) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {
            "addresses": [{"type": t, "address": a} for t, a in addresses],
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def host_pod(ns: str, name: str, node_name: str | None, *ips: str, **labels: str) -> Body:
    body: Body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running"},
    }
    if node_name is not None:
        body["spec"]["nodeName"] = node_name
    if ips:
        body["status"]["podIPs"] = [{"ip": i} for i in ips]
    return body


def anp_egress(name: str, priority: int, *rules: Body, subject: Body | None = None) -> Body:
    return {
        "apiVersion": API,
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": name},
        "spec": {
            "priority": priority,
            "subject": subject
            or {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "a"}}},
            "egress": list(rules),
        },
    }


def to(action: str, *peers: Body, ports: list[Body] | None = None) -> Body:
    body: Body = {"name": f"{action.lower()}-nodes", "action": action, "to": list(peers)}
    if ports is not None:
        body["ports"] = ports
    return body


WORKERS: Body = {"nodes": {"matchLabels": {"role": "worker"}}}
CONTROL: Body = {"nodes": {"matchLabels": {"role": "control-plane"}}}
EVERY_NODE: Body = {"nodes": {}}
N1 = node("n1", [("InternalIP", "192.168.1.1"), ("ExternalIP", "203.0.113.1"),
                 ("Hostname", "n1")], role="worker")  # fmt: skip
N2 = node("n2", [("InternalIP", "192.168.1.2"), ("InternalIP", "fd00::2")], role="control-plane")
BASE: list[Body] = [
    namespace("a"),
    namespace("b"),
    namespace("sys"),
    pod("a", "client", "10.0.0.1", app="client"),
    pod("b", "server", "10.0.0.2", app="server"),
    host_pod("sys", "agent-1", "n1", app="agent"),
    host_pod("sys", "agent-2", "n2", app="agent"),
]
NODES = [N1, N2]


def cluster(*bodies: Body) -> Cluster:
    documents = [Document(Origin(None, i), body) for i, body in enumerate(bodies)]
    return build_cluster(parse_documents(documents))


def problems(*bodies: Body) -> list[tuple[str | None, str]]:
    with pytest.raises(ManifestError) as caught:
        parse_documents([Document(Origin(None, i), b) for i, b in enumerate(bodies)])
    return [(p.field, p.message) for p in caught.value.problems]


# -- parsing and validation -----------------------------------------------------------------


def test_node_labels_and_ip_addresses_are_read() -> None:
    [n1, n2] = cluster(N1, N2).nodes
    assert (n1.name, dict(n1.labels)) == ("n1", {"role": "worker"})
    assert n1.ips == (ip("192.168.1.1"), ip("203.0.113.1"))  # the Hostname entry is a name
    assert n2.ips == (ip("192.168.1.2"), ip("fd00::2"))


def _with_addresses(addresses: Any) -> Body:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "status": {"addresses": addresses}}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        pytest.param(_with_addresses({"type": "InternalIP"}), "status.addresses",
                     "expected a list", id="addresses-not-a-list"),
        pytest.param(_with_addresses(["10.0.0.1"]), "status.addresses[0]", "expected a map",
                     id="address-entry-not-a-map"),
        pytest.param(_with_addresses([{"address": "10.0.0.1"}]), "status.addresses[0].type",
                     "is required", id="address-type-required"),
        pytest.param(_with_addresses([{"type": "InternalIP"}]), "status.addresses[0].address",
                     "is required", id="address-value-required"),
        pytest.param(_with_addresses([{"type": 4, "address": "10.0.0.1"}]),
                     "status.addresses[0].type", "expected a string", id="address-type-a-string"),
        pytest.param(_with_addresses([{"type": "InternalIP", "address": "10.0.0.256"}]),
                     "status.addresses[0].address", "invalid IP address",
                     id="internal-ip-must-be-an-ip"),
        pytest.param(_with_addresses([{"type": "ExternalIP", "address": "node.example"}]),
                     "status.addresses[0].address", "invalid IP address",
                     id="external-ip-must-be-an-ip"),
        pytest.param(_with_addresses([{"type": "InternalIP", "address": "10.0.0.1"},
                                      {"type": "InternalIP", "address": "10.0.0.1"}]),
                     "status.addresses[1]", "duplicate value", id="no-duplicate-address"),
        pytest.param({**_with_addresses([]), "status": []}, "status", "expected a map",
                     id="status-not-a-map"),
        pytest.param({**_with_addresses([]), "metadata": {"name": "Node_1"}}, "metadata.name",
                     "invalid name", id="name-is-a-dns-subdomain"),
        pytest.param({**host_pod("sys", "p", None), "spec": {"nodeName": 3}}, "spec.nodeName",
                     "expected a string", id="pod-node-name-a-string"),
    ],
)  # fmt: skip
def test_node_validation(body: Body, field: str, message: str) -> None:
    found = problems(body)
    assert any(f == field and message in m for f, m in found), found


def test_same_ip_under_two_types_and_hostnames_are_accepted() -> None:
    body = _with_addresses([{"type": "InternalIP", "address": "10.0.0.1"},
                            {"type": "ExternalIP", "address": "10.0.0.1"},
                            {"type": "Hostname", "address": "n1"},
                            {"type": "InternalDNS", "address": "n1.internal"}])  # fmt: skip
    [n1] = cluster(body).nodes
    assert n1.ips == (ip("10.0.0.1"),)


def test_a_node_without_status_has_no_address() -> None:
    [n1] = cluster({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}).nodes
    assert n1.ips == ()
    assert n1.host_ips == ()


def test_duplicate_node_is_refused() -> None:
    found = problems(N1, N1)
    assert any(f == "metadata.name" and "duplicate Node n1" in m for f, m in found), found


# -- host-network pods' addresses -------------------------------------------------------------


def _pods(c: Cluster) -> dict[str, tuple[Any, ...]]:
    return {p.name: p.ips for p in c.pods}


def test_host_network_pods_take_their_nodes_host_ips() -> None:
    ips = _pods(cluster(*BASE, *NODES))
    assert ips["agent-1"] == (ip("192.168.1.1"),)  # the InternalIP, not the ExternalIP
    assert ips["agent-2"] == (ip("192.168.1.2"), ip("fd00::2"))  # dual-stack: one per family


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        pytest.param([("ExternalIP", "203.0.113.1"), ("InternalIP", "192.168.1.1")],
                     ["192.168.1.1"], id="internal-ip-before-external"),
        pytest.param([("ExternalIP", "203.0.113.1")], ["203.0.113.1"],
                     id="external-ip-when-no-internal"),
        pytest.param([("InternalIP", "fd00::1"), ("InternalIP", "fd00::9"),
                      ("ExternalIP", "203.0.113.1")], ["fd00::1", "203.0.113.1"],
                     id="other-family-from-external-ips"),
        pytest.param([("Hostname", "n1")], [], id="no-ip-no-address"),
    ],
)  # fmt: skip
def test_host_ips_follow_the_kubelet(addresses: list[tuple[str, str]], expected: list[str]) -> None:
    c = cluster(node("n1", addresses), host_pod("sys", "agent", "n1"))
    assert _pods(c)["agent"] == tuple(ip(e) for e in expected)


def test_status_ips_of_a_host_network_pod_are_kept() -> None:
    c = cluster(N1, host_pod("sys", "agent", "n1", "192.168.1.1"))
    assert _pods(c)["agent"] == (ip("192.168.1.1"),)
    assert not [w for w in c.warnings if "host-network" in w]


def test_status_ips_that_are_not_the_nodes_are_kept_with_a_warning() -> None:
    c = cluster(N1, host_pod("sys", "agent", "n1", "192.168.9.9"))
    assert _pods(c)["agent"] == (ip("192.168.9.9"),)
    [warning] = [w for w in c.warnings if "host-network" in w]
    assert "sys/agent (node n1)" in warning
    assert "status IPs are used" in warning


def test_a_host_network_pod_on_an_absent_node_has_no_address_and_a_warning() -> None:
    c = cluster(N1, host_pod("sys", "agent", "n9"))
    assert _pods(c)["agent"] == ()
    [warning] = [w for w in c.warnings if "host-network" in w]
    assert "sys/agent (node n9)" in warning
    assert "unknown" in warning


def test_ordinary_pods_never_take_node_addresses() -> None:
    body = pod("a", "plain", "10.0.0.7")
    body["spec"]["nodeName"] = "n1"
    no_ip = pod("a", "pending", "10.0.0.8")
    no_ip["spec"]["nodeName"] = "n1"
    del no_ip["status"]["podIP"]
    ips = _pods(cluster(N1, body, no_ip))
    assert ips == {"plain": (ip("10.0.0.7"),), "pending": ()}


# -- nodes peers ------------------------------------------------------------------------------

DENY_ALL_EGRESS_A = netpol("a", "deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})
TCP80: list[Body] = [{"portNumber": {"protocol": "TCP", "port": 80}}]

SEMANTICS = [
    pytest.param([anp_egress("deny", 5, to("Deny", WORKERS))], "sys/agent-1", False,
                 id="nodes-peer-denies-egress-to-a-host-network-pod-on-the-node"),
    pytest.param([anp_egress("deny", 5, to("Deny", WORKERS))], "sys/agent-2", True,
                 id="nodes-peer-leaves-pods-of-other-nodes-alone"),
    pytest.param([anp_egress("deny", 5, to("Deny", WORKERS))], "192.168.1.1", False,
                 id="nodes-peer-denies-egress-to-the-node-internal-ip"),
    pytest.param([anp_egress("deny", 5, to("Deny", WORKERS))], "203.0.113.1", False,
                 id="nodes-peer-matches-external-ips-of-the-node-too"),
    pytest.param([anp_egress("deny", 5, to("Deny", WORKERS))], "192.168.1.2", True,
                 id="nodes-peer-leaves-other-node-ips-alone"),
    pytest.param([anp_egress("deny", 5, to("Deny", WORKERS))], "b/server", True,
                 id="nodes-peer-never-matches-pod-network-pods"),
    pytest.param([anp_egress("deny", 5, to("Deny", CONTROL))], "fd00::2", False,
                 id="nodes-peer-matches-ipv6-node-address"),
    pytest.param([anp_egress("deny", 5, to("Deny", CONTROL))], "fd00::3", True,
                 id="nodes-peer-ipv6-neighbour-not-matched"),
    pytest.param([anp_egress("deny", 5, to("Deny", EVERY_NODE))], "sys/agent-2", False,
                 id="empty-nodes-selector-selects-every-node"),
    pytest.param([anp_egress("allow", 5, to("Allow", EVERY_NODE)), DENY_ALL_EGRESS_A],
                 "sys/agent-1", True, id="nodes-peer-allow-overrides-networkpolicy-isolation"),
    pytest.param([anp_egress("allow", 5, to("Allow", EVERY_NODE)), DENY_ALL_EGRESS_A],
                 "8.8.8.8", False, id="nodes-peer-allow-only-node-addresses"),
    pytest.param([anp_egress("pass", 5, to("Pass", EVERY_NODE)), DENY_ALL_EGRESS_A],
                 "192.168.1.1", False, id="nodes-peer-pass-to-networkpolicy"),
    pytest.param([anp_egress("pass", 5, to("Pass", EVERY_NODE)),
                  banp({"namespaces": {}}, egress=[to("Deny", WORKERS)])],
                 "192.168.1.1", False, id="nodes-peer-in-baseline-after-pass"),
    pytest.param([anp_egress("deny", 5, to("Deny", WORKERS, ports=TCP80))], "sys/agent-1", False,
                 id="nodes-peer-with-port-denies-that-port"),
    pytest.param([anp_egress("deny", 5, to("Deny", WORKERS,
                  ports=[{"portNumber": {"protocol": "TCP", "port": 443}}]))],
                 "sys/agent-1", True, id="nodes-peer-with-other-port-allows"),
    pytest.param([anp_egress("deny", 5, to("Deny", {"namespaces": {}}))], "sys/agent-1", True,
                 id="namespaces-peer-never-matches-host-network-pods"),
    pytest.param([anp_egress("deny", 5, to("Deny", {"networks": ["192.168.1.1/32"]}))],
                 "sys/agent-1", False, id="networks-peer-matches-host-network-pod-node-address"),
]  # fmt: skip


def _check(extra: list[Body], target: str, *, nodes: list[Body] = NODES, **options: Any) -> Any:
    compiled = compile_cluster(cluster(*BASE, *nodes, *extra), AnalysisOptions(**options))
    return check(compiled, "a/client", target, port=80, protocol="TCP")


@pytest.mark.parametrize(("manifests", "target", "allowed"), SEMANTICS)
def test_nodes_peers(manifests: list[Body], target: str, allowed: bool) -> None:
    assert _check(manifests, target).allowed is allowed


def test_host_network_pods_are_not_subjects_of_admin_policies() -> None:
    policy = anp_egress("deny", 5, to("Deny", EVERY_NODE), subject={"namespaces": {}})
    compiled = compile_cluster(cluster(*BASE, *NODES, policy))
    assert check(compiled, "sys/agent-1", "192.168.1.2", port=80).allowed  # exempt subject
    assert not check(compiled, "a/client", "192.168.1.2", port=80).allowed


def test_admin_tiers_never_select_host_network_pods_even_as_pods() -> None:
    """The CRDs: host-networked pods are not in subjects nor in namespaces/pods peers, whatever
    the host-network-pods option says about NetworkPolicy."""
    as_pods = AnalysisOptions(host_network_pods=HostNetworkPods.AS_PODS)
    subject = anp_egress("deny", 5, to("Deny", WORKERS), subject={"namespaces": {}})
    compiled = compile_cluster(cluster(*BASE, *NODES, subject), as_pods)
    assert check(compiled, "sys/agent-2", "sys/agent-1", port=80).allowed  # not a subject
    assert not check(compiled, "a/client", "sys/agent-1", port=80).allowed  # still by address
    peer = anp_egress("deny", 5, to("Deny", {"namespaces": {}}))
    compiled = compile_cluster(cluster(*BASE, *NODES, peer), as_pods)
    assert check(compiled, "a/client", "sys/agent-1", port=80).allowed  # no namespaces match
    assert not check(compiled, "a/client", "b/server", port=80).allowed
    policy = netpol("sys", "deny", {"podSelector": {}, "policyTypes": ["Egress"]})
    compiled = compile_cluster(cluster(*BASE, *NODES, policy), as_pods)
    assert not check(compiled, "sys/agent-2", "sys/agent-1", port=80).allowed  # NetworkPolicy does


def test_without_node_objects_nodes_peers_match_nothing_and_say_so() -> None:
    policy = anp_egress("deny", 5, to("Deny", EVERY_NODE))
    c = cluster(*BASE, policy)
    assert [w for w in c.warnings if "no Node objects" in w] == [
        "the input holds no Node objects, so the nodes peers of 1 policy match nothing: "
        "AdminNetworkPolicy/deny"
    ]
    assert _check([policy], "192.168.1.1", nodes=[]).allowed


def test_no_warning_with_node_objects_or_without_nodes_peers() -> None:
    with_nodes = cluster(*BASE, *NODES, anp_egress("d", 5, to("Deny", EVERY_NODE)))
    without_peers = cluster(*BASE, anp_egress("d", 5, to("Deny", {"namespaces": {}})))
    for built in (with_nodes, without_peers):
        assert not [w for w in built.warnings if "Node objects" in w]


def test_node_addresses_of_selected_nodes_cut_the_address_space() -> None:
    compiled = compile_cluster(cluster(*BASE, *NODES, anp_egress("d", 5, to("Deny", WORKERS))))
    client = compiled.pod("a", "client")
    assert client is not None
    assert not compiled.allowed_ports(client, ip("192.168.1.1"))
    for neighbour in ("192.168.1.0", "192.168.1.3", "203.0.113.2"):
        assert compiled.allowed_ports(client, ip(neighbour)).is_all(), neighbour


def test_explanation_names_the_node_peer_and_the_node() -> None:
    verdict = _check([anp_egress("deny", 5, to("Deny", CONTROL, WORKERS))], "sys/agent-1")
    [pair] = verdict.pairs
    [effect] = pair.egress.effects
    assert (effect.tier, effect.policy.name, effect.rule, effect.peer) == (Tier.ADMIN, "deny", 0, 1)
    assert effect.nodes == ("n1",)
    assert (
        "deny rule 0 (deny-nodes) Deny all ports via nodes peer [role=worker]: Node n1"
        in pair.egress.reason
    )
    assert "uses the host network" in pair.ingress.reason


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(anp_egress("p", 5, to("Deny", WORKERS, ports=[{"namedPort": "http"}])),
                     "networks/nodes/domainNames peer cannot be set with namedPorts",
                     id="anp-nodes-peer-without-named-ports"),
        pytest.param(banp({"namespaces": {}}, egress=[to("Deny", {"networks": ["10.0.0.0/8"]},
                                                         ports=[{"namedPort": "http"}])]),
                     "networks/nodes peer cannot be set with namedPorts",
                     id="banp-networks-peer-without-named-ports"),
    ],
)  # fmt: skip
def test_nodes_and_networks_peers_refuse_named_ports(body: Body, message: str) -> None:
    found = problems(body)
    assert any(f == "spec.egress[0]" and message in m for f, m in found), found


def test_nodes_peer_with_numbered_ports_is_valid() -> None:
    c = cluster(anp_egress("p", 5, to("Deny", WORKERS, ports=TCP80)))
    [policy] = c.admin_policies
    assert policy.egress[0].peers[0].nodes is not None


def test_an_ipv6_node_address_makes_the_map_dual_stack() -> None:
    plain = [b for b in BASE if not b["metadata"]["name"].startswith("agent-")]
    compiled = compile_cluster(cluster(*plain, N2))
    assert {piece.version for piece in compiled.pieces} == {4, 6}
    assert {piece.version for piece in compile_cluster(cluster(*plain, N1)).pieces} == {4}
