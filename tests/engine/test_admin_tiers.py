"""AdminNetworkPolicy and BaselineAdminNetworkPolicy tiers, one named case per rule.

Each case is written as manifests (so the parser's v1alpha1 reading is exercised too) and
asserts the engine's verdict on one pod pair and one port.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from service.engine.compile import compile_cluster
from service.engine.inventory import build_cluster
from service.engine.model import Document, ManifestError, Origin
from service.engine.parse import parse_documents
from service.engine.reachability import Tier, check

Body = dict[str, Any]
API = "policy.networking.k8s.io/v1alpha1"


def namespace(name: str, **labels: str) -> Body:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(ns: str, name: str, ip: str, *, ports: list[Body] | None = None, **labels: str) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "i", "ports": ports or []}]},
        "status": {"phase": "Running", "podIP": ip},
    }


def anp(name: str, priority: int, subject: Body, **rules: list[Body]) -> Body:
    return {
        "apiVersion": API,
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"priority": priority, "subject": subject, **rules},
    }


def banp(subject: Body, **rules: list[Body]) -> Body:
    return {
        "apiVersion": API,
        "kind": "BaselineAdminNetworkPolicy",
        "metadata": {"name": "default"},
        "spec": {"subject": subject, **rules},
    }


def netpol(ns: str, name: str, spec: Body) -> Body:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


ALL_NS: Body = {"namespaces": {}}
NS_A: Body = {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "a"}}}
NS_B: Body = {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "b"}}}
TCP80: list[Body] = [{"portNumber": {"protocol": "TCP", "port": 80}}]
BASE = [
    namespace("a"),
    namespace("b"),
    pod("a", "client", "10.0.0.1", app="client"),
    pod("b", "server", "10.0.0.2", ports=[{"name": "web", "containerPort": 80}], app="server"),
]
DENY_ALL_B = netpol("b", "deny-all", {"podSelector": {}, "policyTypes": ["Ingress"]})
ALLOW_A_TO_B = netpol(
    "b", "allow-a", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}
)


def rule(action: str, peers: list[Body], ports: list[Body] | None = None, **more: Any) -> Body:
    body: Body = {"name": f"{action.lower()}-rule", "action": action, **more}
    body["from" if "to" not in more else "to"] = peers
    if ports is not None:
        body["ports"] = ports
    return body


CASES = [
    pytest.param(
        [anp("allow", 10, NS_B, ingress=[rule("Allow", [NS_A])]), DENY_ALL_B],
        True,
        id="anp-allow-overrides-networkpolicy-isolation",
    ),
    pytest.param(
        [anp("deny", 10, NS_B, ingress=[rule("Deny", [NS_A])]), ALLOW_A_TO_B],
        False,
        id="anp-deny-overrides-networkpolicy-allow",
    ),
    pytest.param(
        [anp("pass", 10, NS_B, ingress=[rule("Pass", [NS_A])]), DENY_ALL_B],
        False,
        id="anp-pass-delegates-to-networkpolicy",
    ),
    pytest.param(
        [
            anp("first", 1, NS_B, ingress=[rule("Allow", [NS_A])]),
            anp("second", 2, NS_B, ingress=[rule("Deny", [NS_A])]),
        ],
        True,
        id="anp-lower-priority-number-wins",
    ),
    pytest.param(
        [anp("ordered", 5, NS_B, ingress=[rule("Deny", [NS_A]), rule("Allow", [NS_A])])],
        False,
        id="anp-first-matching-rule-wins",
    ),
    pytest.param(
        [
            anp(
                "other-port",
                5,
                NS_B,
                ingress=[rule("Deny", [NS_A], [{"portNumber": {"protocol": "TCP", "port": 443}}])],
            )
        ],
        True,
        id="anp-rule-on-other-port-does-not-match",
    ),
    pytest.param(
        [anp("named", 5, NS_B, ingress=[rule("Deny", [NS_A], [{"namedPort": "web"}])])],
        False,
        id="anp-named-port-resolves-on-destination",
    ),
    pytest.param(
        [banp(NS_B, ingress=[rule("Deny", [NS_A])])],
        False,
        id="banp-denies-when-networkpolicy-does-not-isolate",
    ),
    pytest.param(
        [banp(NS_B, ingress=[rule("Deny", [NS_A])]), ALLOW_A_TO_B],
        True,
        id="banp-ignored-when-networkpolicy-isolates",
    ),
    pytest.param(
        [
            anp("pass", 5, NS_B, ingress=[rule("Pass", [NS_A])]),
            banp(NS_B, ingress=[rule("Deny", [NS_A])]),
        ],
        False,
        id="anp-pass-reaches-baseline",
    ),
    pytest.param(
        [anp("egress", 5, NS_A, egress=[rule("Deny", [{"networks": ["10.0.0.2/32"]}], to=[])])],
        False,
        id="anp-networks-match-pod-addresses",
    ),
    pytest.param(
        [anp("egress", 5, NS_A, egress=[rule("Deny", [{"networks": ["192.168.0.0/16"]}], to=[])])],
        True,
        id="anp-networks-outside-do-not-match",
    ),
    pytest.param(
        [
            anp(
                "pods",
                5,
                {
                    "pods": {
                        "namespaceSelector": {},
                        "podSelector": {"matchLabels": {"app": "nobody"}},
                    }
                },
                ingress=[rule("Deny", [NS_A])],
            )
        ],
        True,
        id="anp-subject-pods-selects-only-matching-pods",
    ),
]


def _fix_egress_peers(docs: list[Body]) -> list[Body]:
    """``rule(..., to=[])`` marks an egress rule: move its peers from ``from`` to ``to``."""
    for doc in docs:
        for egress_rule in doc.get("spec", {}).get("egress", []):
            if "from" in egress_rule:
                egress_rule["to"] = egress_rule.pop("from")
    return docs


def _verdict(extra: list[Body], port: int = 80) -> Any:
    docs = [*BASE, *_fix_egress_peers(extra)]
    documents = [Document(Origin(None, i), body) for i, body in enumerate(docs)]
    compiled = compile_cluster(build_cluster(parse_documents(documents)))
    return check(compiled, "a/client", "b/server", port=port, protocol="TCP")


@pytest.mark.parametrize(("manifests", "allowed"), CASES)
def test_tiers(manifests: list[Body], allowed: bool) -> None:
    assert _verdict(manifests).allowed is allowed


def test_verdict_names_the_deciding_admin_rule() -> None:
    verdict = _verdict([anp("deny", 10, NS_B, ingress=[rule("Deny", [NS_A])]), ALLOW_A_TO_B])
    [pair] = verdict.pairs
    [admin, network_policy] = pair.ingress.effects
    assert (admin.tier, admin.policy.name, admin.rule, admin.action.value) == (
        Tier.ADMIN,
        "deny",
        0,
        "Deny",
    )
    assert network_policy.tier is Tier.NETWORK_POLICY


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        pytest.param({"priority": 1001, "subject": ALL_NS}, "spec.priority", "between 0 and 1000",
                     id="priority-out-of-range"),
        pytest.param({"subject": ALL_NS}, "spec.priority", "required", id="priority-required"),
        pytest.param({"priority": 1, "subject": {}}, "spec.subject", "exactly one of",
                     id="subject-needs-one-form"),
        pytest.param({"priority": 1, "subject": ALL_NS,
                      "ingress": [{"action": "Reject", "from": [NS_A]}]},
                     "spec.ingress[0].action", "unsupported action", id="unknown-action"),
        pytest.param({"priority": 1, "subject": ALL_NS, "ingress": [{"action": "Allow"}]},
                     "spec.ingress[0].from", "at least one peer", id="rule-without-peers"),
        pytest.param({"priority": 1, "subject": ALL_NS, "ingress": [{"action": "Allow",
                      "from": [NS_A], "ports": [{"portRange": {"start": 90, "end": 80}}]}]},
                     "spec.ingress[0].ports[0].portRange.end", "greater than start",
                     id="port-range-reversed"),
        pytest.param({"priority": 1, "subject": ALL_NS, "egress": [{"action": "Allow",
                      "to": [{"networks": ["10.0.0.0/33"]}]}]},
                     "spec.egress[0].to[0].networks[0]", "invalid CIDR", id="bad-network"),
    ],
)  # fmt: skip
def test_admin_policy_validation(spec: Body, field: str, message: str) -> None:
    body = {
        "apiVersion": API,
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": "p"},
        "spec": spec,
    }
    with pytest.raises(ManifestError) as caught:
        parse_documents([Document(Origin(None, 0), body)])
    found = [(p.field, p.message) for p in caught.value.problems]
    assert any(f == field and message in m for f, m in found), found


def test_baseline_must_be_named_default() -> None:
    body = banp(ALL_NS)
    body["metadata"]["name"] = "other"
    with pytest.raises(ManifestError, match='must be "default"'):
        parse_documents([Document(Origin(None, 0), body)])


def test_admin_networks_split_the_address_space() -> None:
    docs = [*BASE, anp("egress", 5, NS_A, egress=[
        {"action": "Deny", "to": [{"networks": ["192.168.0.0/16"]}]}])]  # fmt: skip
    documents = [Document(Origin(None, i), body) for i, body in enumerate(docs)]
    compiled = compile_cluster(build_cluster(parse_documents(documents)))
    client = compiled.pod("a", "client")
    assert client is not None
    assert not compiled.allowed_ports(client, ipaddress.ip_address("192.168.3.4"))
    assert compiled.allowed_ports(client, ipaddress.ip_address("8.8.8.8")).is_all()
