"""One small table-driven case per NetworkPolicy rule of the design, named after the rule.

Every case is a tiny hand-written cluster and a list of (source, destination, expected ports)
checks; each is asserted against the engine and against the naive reference evaluator.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from service.engine.compile import compile_cluster
from service.engine.inventory import build_cluster
from service.engine.model import (
    NAMESPACE_NAME_LABEL,
    Cluster,
    ContainerPort,
    Direction,
    Document,
    IPAddress,
    IPBlock,
    Labels,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Operator,
    Origin,
    Peer,
    Pod,
    PolicyPort,
    PortSet,
    Protocol,
    Requirement,
    Rule,
)
from service.engine.options import AnalysisOptions, HostNetworkPods, PodIPsInIPBlocks
from service.engine.parse import parse_documents
from tests.engine.reference import reference_allowed

ALL = PortSet.all()
NONE = PortSet.empty()
INGRESS = frozenset({Direction.INGRESS})
EGRESS = frozenset({Direction.EGRESS})
BOTH = frozenset({Direction.INGRESS, Direction.EGRESS})
TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP
HOST_AS_PODS = AnalysisOptions(host_network_pods=HostNetworkPods.AS_PODS)
IGNORE_POD_IPS = AnalysisOptions(pod_ips_in_ipblocks=PodIPsInIPBlocks.IGNORE)


def tcp(port: int, end: int | None = None) -> PortSet:
    return PortSet.range("TCP", port, port if end is None else end)


def udp(port: int) -> PortSet:
    return PortSet.single("UDP", port)


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


# -- building blocks -------------------------------------------------------------------------
def namespace(name: str, **labels: str) -> Namespace:
    return Namespace(name, Labels({**labels, NAMESPACE_NAME_LABEL: name}))


def pod(
    ref: str,
    labels: Mapping[str, str] | None = None,
    address: str | None = None,
    ports: Sequence[tuple[str | None, int, Protocol]] = (),
    host_network: bool = False,
) -> Pod:
    ns, name = ref.split("/")
    return Pod(
        namespace=ns,
        name=name,
        labels=Labels(labels or {}),
        ips=(ip(address),) if address else (),
        ports=tuple(ContainerPort(n, p, proto) for n, p, proto in ports),
        host_network=host_network,
        template=address is None,
    )


def sel(labels: Mapping[str, str] | None = None, *expressions: Requirement) -> LabelSelector:
    return LabelSelector.of(labels or {}, expressions)


def pods_peer(labels: Mapping[str, str] | None = None, *expressions: Requirement) -> Peer:
    return Peer(pod_selector=sel(labels, *expressions))


def namespaces_peer(labels: Mapping[str, str] | None = None) -> Peer:
    return Peer(namespace_selector=sel(labels))


def block_peer(cidr: str, *excepts: str) -> Peer:
    return Peer(ip_block=IPBlock.parse(cidr, excepts))


def rule(*peers: Peer, ports: Sequence[PolicyPort] = ()) -> Rule:
    return Rule(peers=tuple(peers), ports=tuple(ports))


def policy(
    ref: str,
    selector: LabelSelector,
    types: frozenset[Direction],
    ingress: Sequence[Rule] = (),
    egress: Sequence[Rule] = (),
) -> NetworkPolicy:
    ns, name = ref.split("/")
    return NetworkPolicy(ns, name, selector, types, tuple(ingress), tuple(egress))


NAMESPACES = (namespace("x", team="a"), namespace("y", team="b"))
XA = pod(
    "x/a", {"app": "a"}, "10.0.0.1", [("http", 80, TCP), ("dns", 53, UDP), ("metrics", 9090, TCP)]
)
XB = pod("x/b", {"app": "b", "tier": "front"}, "10.0.0.2", [("http", 9090, TCP)])
XC = pod("x/c", {"app": "c"}, "10.0.0.5")
XD = pod("x/d", {}, "10.0.0.6")
XE = pod("x/e", {"app": "b"}, "10.0.0.7")
YA = pod("y/a", {"app": "a"}, "10.0.0.3", [("http", 8080, TCP)])
YB = pod("y/b", {"app": "b"}, "10.0.0.4")
XT = pod("x/t", {"app": "t"})  # a template: no address
PODS = (XA, XB, YA, YB)
EXTERNAL = ip("8.8.8.8")


def cluster(*policies: NetworkPolicy, pods: Sequence[Pod] = PODS) -> Cluster:
    return Cluster(namespaces=NAMESPACES, pods=tuple(pods), policies=tuple(policies))


Check = tuple[Pod | IPAddress, Pod | IPAddress, PortSet]


@dataclass(frozen=True)
class Case:
    cluster: Cluster
    checks: Sequence[Check]
    options: AnalysisOptions = field(default_factory=AnalysisOptions)


DENY_ALL_X = policy("x/deny", sel(), BOTH)

CASES: dict[str, Case] = {
    "policy-selects-pods-in-own-namespace": Case(
        cluster(policy("x/only-a", sel({"app": "a"}), INGRESS)),
        [(XB, XA, NONE), (YB, XA, NONE), (XA, XB, ALL), (XB, YA, ALL), (YB, YA, ALL)],
    ),
    "policy-empty-podselector-selects-all-of-namespace": Case(
        cluster(policy("x/all", sel(), INGRESS)),
        [(YA, XA, NONE), (YA, XB, NONE), (XA, YB, ALL)],
    ),
    "policytypes-ingress-only-egress-not-isolated": Case(
        # What the parser makes of `policyTypes` absent with `egress: []` (see below).
        cluster(policy("x/p", sel(), INGRESS, ingress=[rule()], egress=[])),
        [(XA, YA, ALL), (XA, EXTERNAL, ALL), (YA, XA, ALL)],
    ),
    "isolated-only-by-policies-of-that-direction": Case(
        cluster(
            # Ingress rules of an Egress-only policy are ignored: they neither isolate nor allow.
            policy("x/egress", sel(), EGRESS, ingress=[rule(ports=[PolicyPort(TCP, 1)])]),
            policy(
                "y/ingress", sel({"app": "b"}), INGRESS, egress=[rule(ports=[PolicyPort(TCP, 1)])]
            ),
        ),
        [
            (XA, YA, NONE),
            (XA, EXTERNAL, NONE),
            (YA, XA, ALL),
            (EXTERNAL, XA, ALL),
            (YA, YB, NONE),
            (YB, YA, ALL),
            (YB, EXTERNAL, ALL),
        ],
    ),
    "non-isolated-allows-all": Case(
        cluster(),
        [(XA, YB, ALL), (YB, XA, ALL), (XA, EXTERNAL, ALL), (EXTERNAL, XA, ALL)],
    ),
    "union-of-rules": Case(
        cluster(
            policy(
                "x/one",
                sel({"app": "a"}),
                INGRESS,
                ingress=[
                    rule(pods_peer({"app": "b"}), ports=[PolicyPort(TCP, 80)]),
                    rule(namespaces_peer({"team": "b"}), ports=[PolicyPort(TCP, 443)]),
                ],
            ),
            policy(
                "x/two",
                sel(),
                INGRESS,
                ingress=[rule(pods_peer({"app": "b"}), ports=[PolicyPort(UDP, 53)])],
            ),
        ),
        [(XB, XA, tcp(80) | udp(53)), (YA, XA, tcp(443)), (YB, XA, tcp(443)), (XA, XB, NONE)],
    ),
    "egress-and-ingress-both-required": Case(
        cluster(
            policy(
                "x/out", sel({"app": "a"}), EGRESS, egress=[rule(ports=[PolicyPort(TCP, 80, 443)])]
            ),
            policy(
                "y/in",
                sel({"app": "a"}),
                INGRESS,
                ingress=[rule(ports=[PolicyPort(TCP, 443, 8080)])],
            ),
        ),
        [(XA, YA, tcp(443)), (YA, XA, ALL), (XA, YB, tcp(80, 443)), (XB, YA, tcp(443, 8080))],
    ),
    "rule-without-peers-matches-external": Case(
        cluster(
            policy(
                "x/p",
                sel({"app": "a"}),
                BOTH,
                ingress=[rule(ports=[PolicyPort(TCP, 80)])],
                egress=[rule(ports=[PolicyPort(UDP, 53)])],
            )
        ),
        [
            (EXTERNAL, XA, tcp(80)),
            (XB, XA, tcp(80)),
            (XA, EXTERNAL, udp(53)),
            (XA, ip("10.0.0.200"), udp(53)),
            (XA, YA, udp(53)),
        ],
    ),
    "rule-without-ports-all-protocols": Case(
        cluster(policy("x/p", sel({"app": "a"}), INGRESS, ingress=[rule(pods_peer({"app": "b"}))])),
        [(XB, XA, ALL), (YA, XA, NONE)],
    ),
    "empty-rule-allows-all": Case(
        cluster(policy("x/p", sel(), BOTH, ingress=[rule()], egress=[rule()])),
        [(XB, XA, ALL), (EXTERNAL, XA, ALL), (XA, EXTERNAL, ALL), (YA, XA, ALL), (XA, YB, ALL)],
    ),
    "ingress-empty-list-allows-nothing": Case(
        cluster(policy("x/p", sel({"app": "a"}), INGRESS, ingress=[])),
        [(XB, XA, NONE), (EXTERNAL, XA, NONE), (YA, XA, NONE), (XA, XB, ALL), (XA, EXTERNAL, ALL)],
    ),
    "egress-empty-list-allows-nothing": Case(
        cluster(policy("x/p", sel({"app": "a"}), EGRESS, egress=[])),
        [(XA, XB, NONE), (XA, EXTERNAL, NONE), (XB, XA, ALL), (EXTERNAL, XA, ALL)],
    ),
    "podselector-peer-own-namespace-only": Case(
        cluster(policy("x/p", sel({"app": "a"}), INGRESS, ingress=[rule(pods_peer({"app": "b"}))])),
        [(XB, XA, ALL), (YB, XA, NONE), (EXTERNAL, XA, NONE)],
    ),
    "namespaceselector-peer-all-pods-of-namespaces": Case(
        cluster(
            policy(
                "x/p", sel({"app": "a"}), INGRESS, ingress=[rule(namespaces_peer({"team": "b"}))]
            )
        ),
        [(YA, XA, ALL), (YB, XA, ALL), (XB, XA, NONE), (EXTERNAL, XA, NONE)],
    ),
    "namespaceselector-empty-all-namespaces": Case(
        cluster(policy("x/p", sel({"app": "a"}), INGRESS, ingress=[rule(namespaces_peer())])),
        [(YA, XA, ALL), (XB, XA, ALL), (EXTERNAL, XA, NONE)],
    ),
    "both-selectors-intersection": Case(
        cluster(
            policy(
                "x/p",
                sel({"app": "a"}),
                INGRESS,
                ingress=[
                    rule(
                        Peer(pod_selector=sel({"app": "b"}), namespace_selector=sel({"team": "b"}))
                    )
                ],
            )
        ),
        [(YB, XA, ALL), (YA, XA, NONE), (XB, XA, NONE)],
    ),
    "separate-peers-union": Case(
        cluster(
            policy(
                "x/p",
                sel({"app": "a"}),
                INGRESS,
                ingress=[rule(pods_peer({"app": "b"}), namespaces_peer({"team": "b"}))],
            )
        ),
        [(YB, XA, ALL), (YA, XA, ALL), (XB, XA, ALL)],
    ),
    "ipblock-except": Case(
        cluster(
            policy(
                "x/p",
                sel({"app": "a"}),
                INGRESS,
                ingress=[rule(block_peer("10.0.0.0/24", "10.0.0.2/32", "10.0.0.128/25"))],
            )
        ),
        [
            (YA, XA, ALL),
            (XB, XA, NONE),
            (ip("10.0.0.127"), XA, ALL),
            (ip("10.0.0.128"), XA, NONE),
            (ip("10.0.0.255"), XA, NONE),
            (ip("10.0.0.0"), XA, ALL),
            (ip("10.0.1.0"), XA, NONE),
            (ip("9.255.255.255"), XA, NONE),
        ],
    ),
    "ipblock-egress-to-external": Case(
        cluster(
            policy(
                "x/p",
                sel({"app": "a"}),
                EGRESS,
                egress=[rule(block_peer("0.0.0.0/0", "10.0.0.0/8"), ports=[PolicyPort(TCP, 443)])],
            )
        ),
        [
            (XA, EXTERNAL, tcp(443)),
            (XA, ip("10.1.2.3"), NONE),
            (XA, ip("11.0.0.0"), tcp(443)),
            (XA, YA, NONE),
            (XA, ip("fd00::1"), NONE),
        ],
    ),
    "namespace-metadata-name-label": Case(
        cluster(
            policy(
                "x/p",
                sel({"app": "a"}),
                INGRESS,
                ingress=[rule(namespaces_peer({NAMESPACE_NAME_LABEL: "y"}))],
            )
        ),
        [(YA, XA, ALL), (YB, XA, ALL), (XB, XA, NONE)],
    ),
    "matchexpressions-in": Case(
        cluster(
            policy(
                "x/p",
                sel({"app": "a"}),
                INGRESS,
                ingress=[rule(pods_peer(None, Requirement("app", Operator.IN, ("b", "c"))))],
            ),
            pods=(XA, XB, XC, XD),
        ),
        [(XB, XA, ALL), (XC, XA, ALL), (XD, XA, NONE)],
    ),
    "matchexpressions-notin": Case(
        cluster(
            policy(
                "x/p",
                sel({"app": "a"}),
                INGRESS,
                ingress=[rule(pods_peer(None, Requirement("app", Operator.NOT_IN, ("b",))))],
            ),
            pods=(XA, XB, XC, XD),
        ),
        [(XB, XA, NONE), (XC, XA, ALL), (XD, XA, ALL)],
    ),
    "matchexpressions-exists": Case(
        cluster(
            policy(
                "x/p",
                sel({"app": "a"}),
                INGRESS,
                ingress=[rule(pods_peer(None, Requirement("tier", Operator.EXISTS)))],
            ),
            pods=(XA, XB, XC, XD),
        ),
        [(XB, XA, ALL), (XC, XA, NONE), (XD, XA, NONE)],
    ),
    "matchexpressions-doesnotexist": Case(
        cluster(
            policy(
                "x/p",
                sel({"app": "a"}),
                INGRESS,
                ingress=[rule(pods_peer(None, Requirement("tier", Operator.DOES_NOT_EXIST)))],
            ),
            pods=(XA, XB, XC, XD),
        ),
        [(XB, XA, NONE), (XC, XA, ALL), (XD, XA, ALL)],
    ),
    "matchlabels-and-matchexpressions-anded": Case(
        cluster(
            policy(
                "x/p",
                sel({"app": "a"}),
                INGRESS,
                ingress=[rule(pods_peer({"app": "b"}, Requirement("tier", Operator.EXISTS)))],
            ),
            pods=(XA, XB, XC, XE),
        ),
        [(XB, XA, ALL), (XE, XA, NONE), (XC, XA, NONE)],
    ),
    "notin-matches-missing-key": Case(
        cluster(
            policy("x/p", sel(None, Requirement("tier", Operator.NOT_IN, ("front",))), INGRESS),
            pods=(XA, XB, XD),
        ),
        [(XD, XA, NONE), (XB, XD, NONE), (XD, XB, ALL), (XA, XB, ALL)],
    ),
    "protocol-default-tcp": Case(
        cluster(
            policy("x/p", sel({"app": "a"}), INGRESS, ingress=[rule(ports=[PolicyPort(port=80)])])
        ),
        [(XB, XA, tcp(80)), (EXTERNAL, XA, tcp(80))],
    ),
    "udp/sctp": Case(
        cluster(
            policy(
                "x/p",
                sel({"app": "a"}),
                INGRESS,
                ingress=[rule(ports=[PolicyPort(UDP, 53), PolicyPort(SCTP)])],
            )
        ),
        [(XB, XA, udp(53) | PortSet.protocol_all("SCTP"))],
    ),
    "protocol-without-port-all-ports-of-it": Case(
        cluster(policy("x/p", sel({"app": "a"}), INGRESS, ingress=[rule(ports=[PolicyPort(UDP)])])),
        [(XB, XA, PortSet.protocol_all("UDP")), (EXTERNAL, XA, PortSet.protocol_all("UDP"))],
    ),
    "named-port-resolves-on-destination": Case(
        cluster(
            policy(
                "x/in", sel({"app": "a"}), INGRESS, ingress=[rule(ports=[PolicyPort(TCP, "http")])]
            ),
            policy(
                "x/out", sel({"app": "b"}), EGRESS, egress=[rule(ports=[PolicyPort(TCP, "http")])]
            ),
        ),
        [
            (XB, XA, tcp(80)),
            (YA, XA, tcp(80)),
            (EXTERNAL, XA, tcp(80)),
            (XB, YA, tcp(8080)),
            (XB, YB, NONE),
            (YA, XB, ALL),
        ],
    ),
    "named-port-protocol-must-match": Case(
        cluster(
            policy(
                "x/in",
                sel({"app": "a"}),
                INGRESS,
                ingress=[
                    rule(pods_peer({"app": "b"}), ports=[PolicyPort(TCP, "dns")]),
                    rule(namespaces_peer({"team": "b"}), ports=[PolicyPort(UDP, "dns")]),
                ],
            )
        ),
        [(XB, XA, NONE), (YA, XA, udp(53))],
    ),
    "named-port-never-matches-external": Case(
        cluster(
            policy(
                "x/out",
                sel({"app": "a"}),
                EGRESS,
                egress=[rule(ports=[PolicyPort(TCP, "http"), PolicyPort(TCP, 443)])],
            )
        ),
        [(XA, EXTERNAL, tcp(443)), (XA, YA, tcp(443) | tcp(8080)), (XA, YB, tcp(443))],
    ),
    "named-port-missing-on-destination-matches-nothing": Case(
        cluster(
            policy(
                "x/in", sel({"app": "b"}), INGRESS, ingress=[rule(ports=[PolicyPort(TCP, "db")])]
            )
        ),
        [(XA, XB, NONE), (EXTERNAL, XB, NONE)],
    ),
    "endport-range": Case(
        cluster(
            policy(
                "x/in",
                sel({"app": "a"}),
                INGRESS,
                ingress=[rule(ports=[PolicyPort(TCP, 8000, 8080), PolicyPort(UDP, 60000, 65535)])],
            )
        ),
        [(XB, XA, tcp(8000, 8080) | PortSet.range("UDP", 60000, 65535))],
    ),
    "pod-ips-in-ipblocks-match": Case(
        cluster(
            policy("x/in", sel({"app": "a"}), INGRESS, ingress=[rule(block_peer("10.0.0.0/24"))]),
            pods=(*PODS, XT),
        ),
        [
            (YA, XA, ALL),
            (XB, XA, ALL),
            (XT, XA, NONE),
            (ip("10.0.0.50"), XA, ALL),
            (EXTERNAL, XA, NONE),
        ],
    ),
    "pod-ips-in-ipblocks-ignore": Case(
        cluster(
            policy("x/in", sel({"app": "a"}), INGRESS, ingress=[rule(block_peer("10.0.0.0/24"))]),
            policy("y/out", sel({"app": "a"}), EGRESS, egress=[rule(block_peer("10.0.0.0/24"))]),
            pods=(*PODS, XT),
        ),
        [
            (YA, XA, NONE),
            (XB, XA, NONE),
            (XT, XA, NONE),
            (ip("10.0.0.50"), XA, ALL),
            (ip("10.0.0.1"), XA, ALL),  # an address is external even when a pod holds it
            (YA, XB, NONE),
            (YA, ip("10.0.0.2"), ALL),
        ],
        IGNORE_POD_IPS,
    ),
    "pod-reaches-itself": Case(
        cluster(
            DENY_ALL_X,
            policy("y/deny", sel(), BOTH),
            pods=(*PODS, XT, pod("x/h", {}, "192.168.0.1", host_network=True)),
        ),
        [(XA, XA, ALL), (XT, XT, ALL), (YA, YA, ALL), (XA, XB, NONE), (XT, XA, NONE)],
    ),
}

# host-network pods: x/h1 carries app=a (so x policies would select it), x/h2 does not; both
# hold node addresses outside the pod range.
XH1 = pod("x/h1", {"app": "a"}, "192.168.0.1", [("http", 80, TCP)], host_network=True)
XH2 = pod("x/h2", {"app": "h"}, "192.168.0.2", host_network=True)
HOST_CLUSTER = cluster(
    policy("x/deny-a", sel({"app": "a"}), BOTH),
    policy(
        "y/out",
        sel({"app": "a"}),
        EGRESS,
        egress=[
            rule(Peer(pod_selector=sel(), namespace_selector=sel()), ports=[PolicyPort(TCP, 80)]),
            rule(block_peer("192.168.0.2/32"), ports=[PolicyPort(UDP, 53)]),
        ],
    ),
    policy("y/in", sel({"app": "b"}), INGRESS, ingress=[rule(block_peer("192.168.0.0/24"))]),
    pods=(*PODS, XH1, XH2),
)
CASES["host-network-exempt"] = Case(
    HOST_CLUSTER,
    [
        (XB, XH1, ALL),  # x/deny-a does not select x/h1
        (XH1, XB, ALL),
        (XH1, EXTERNAL, ALL),
        (EXTERNAL, XH1, ALL),
        (XH1, XA, NONE),  # x/a itself is isolated
        (YA, XH2, udp(53)),  # selector peers never match it, the ipBlock on its address does
        (YA, XH1, NONE),
        (XH1, YB, ALL),  # ipBlock on the node address
        (XB, YB, NONE),
    ],
)
CASES["host-network-exempt-ipblock-regardless-of-pod-ips-option"] = Case(
    HOST_CLUSTER, [(YA, XH2, udp(53)), (XH1, YB, ALL), (XB, YB, NONE)], IGNORE_POD_IPS
)
CASES["host-network-as-pods"] = Case(
    HOST_CLUSTER,
    [
        (XB, XH1, NONE),
        (XH1, XB, NONE),
        (XH1, EXTERNAL, NONE),
        (YA, XH2, tcp(80) | udp(53)),
        (YA, XH1, NONE),
        (XH2, YB, ALL),
        (XH1, XH1, ALL),
    ],
    HOST_AS_PODS,
)


def _reference(case: Case, src: Pod | IPAddress, dst: Pod | IPAddress) -> PortSet:
    return reference_allowed(case.cluster, case.options, src, dst)


def _engine(case: Case, src: Pod | IPAddress, dst: Pod | IPAddress) -> PortSet:
    return compile_cluster(case.cluster, case.options).allowed_ports(src, dst)


EVALUATORS: dict[str, Callable[[Case, Pod | IPAddress, Pod | IPAddress], PortSet]] = {
    "reference": _reference,
    "engine": _engine,
}


def _name(endpoint: Pod | IPAddress) -> str:
    return str(endpoint)


@pytest.mark.parametrize("evaluator", list(EVALUATORS))
@pytest.mark.parametrize("case", [pytest.param(c, id=name) for name, c in CASES.items()])
def test_rule(case: Case, evaluator: str) -> None:
    _assert_case(case, evaluator)


def _assert_case(case: Case, evaluator: str) -> None:
    evaluate = EVALUATORS[evaluator]
    wrong = []
    for src, dst, expected in case.checks:
        got = evaluate(case, src, dst)
        if got != expected:
            wrong.append(f"{_name(src)} -> {_name(dst)}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)


# -- policyTypes defaulting: policies read from documents by the parser ----------------------
def _documents_cluster(*policy_specs: dict[str, Any]) -> Cluster:
    bodies: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}} for name in ("x", "y")
    ]
    for ref, address in (("x/a", "10.0.0.1"), ("y/a", "10.0.0.3")):
        ns, name = ref.split("/")
        bodies.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"namespace": ns, "name": name, "labels": {"app": "a"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
                "status": {"phase": "Running", "podIP": address},
            }
        )
    for index, spec in enumerate(policy_specs):
        bodies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"namespace": "x", "name": f"p{index}"},
                "spec": spec,
            }
        )
    documents = [Document(Origin(None, i), body) for i, body in enumerate(bodies)]
    return build_cluster(parse_documents(documents))


def _pod_of(built: Cluster, ref: str) -> Pod:
    ns, name = ref.split("/")
    return next(p for p in built.pods if (p.namespace, p.name) == (ns, name))


def _parsed_case(spec: dict[str, Any], expected: dict[str, PortSet]) -> Case:
    built = _documents_cluster(spec)
    xa, ya = _pod_of(built, "x/a"), _pod_of(built, "y/a")
    ends = {"x/a": xa, "y/a": ya, "ext": EXTERNAL}
    checks: list[Check] = []
    for arrow, ports in expected.items():
        src, dst = arrow.split(" -> ")
        checks.append((ends[src], ends[dst], ports))
    return Case(built, checks)


PARSED_CASES: dict[str, tuple[dict[str, Any], dict[str, PortSet]]] = {
    "policytypes-absent-egress-empty-list-not-isolated": (
        {"podSelector": {}, "egress": []},
        {"x/a -> y/a": ALL, "x/a -> ext": ALL, "y/a -> x/a": NONE, "ext -> x/a": NONE},
    ),
    "policytypes-absent-ingress-always": (
        {"podSelector": {}},
        {"x/a -> y/a": ALL, "y/a -> x/a": NONE},
    ),
    "policytypes-absent-egress-rule-makes-egress": (
        {"podSelector": {}, "egress": [{"ports": [{"protocol": "UDP", "port": 53}]}]},
        {"x/a -> y/a": udp(53), "x/a -> ext": udp(53), "y/a -> x/a": NONE},
    ),
    "policytypes-explicit-egress-only": (
        {"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{"ports": [{"port": 1}]}]},
        {"x/a -> y/a": NONE, "y/a -> x/a": ALL, "ext -> x/a": ALL},
    ),
    "policytypes-explicit-ingress-with-egress-rules-ignored": (
        {"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{"ports": [{"port": 1}]}]},
        {"x/a -> y/a": ALL, "y/a -> x/a": NONE},
    ),
}


@pytest.mark.parametrize("evaluator", ["reference", "engine"])
@pytest.mark.parametrize(
    ("spec", "expected"), [pytest.param(*v, id=k) for k, v in PARSED_CASES.items()]
)
def test_policy_types_defaulting(
    spec: dict[str, Any], expected: dict[str, PortSet], evaluator: str
) -> None:
    _assert_case(_parsed_case(spec, expected), evaluator)
