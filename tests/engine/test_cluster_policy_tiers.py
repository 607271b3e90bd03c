"""ClusterNetworkPolicy tiers, one named case per rule of the CRD's semantics.

Each case is written as manifests and asserts the point verdict on one pod pair and one
port, and that the pod-granularity connectivity map says the same.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from service.engine.compile import compile_cluster
from service.engine.connectivity import connectivity_map
from service.engine.inventory import build_cluster
from service.engine.model import Document, ObjectRef, Origin, PortSet, Protocol
from service.engine.options import Granularity
from service.engine.parse import parse_documents
from service.engine.reachability import Action, Tier, check
from service.report.connectivity import iter_map_csv, iter_map_json, iter_map_markdown
from service.report.verdict import verdict_to_api
from tests.engine.test_admin_tiers import (
    ALLOW_A_TO_B,
    BASE,
    DENY_ALL_B,
    NS_A,
    NS_B,
    anp,
    banp,
    namespace,
    netpol,
    pod,
    rule,
)

Body = dict[str, Any]
API = "policy.networking.k8s.io/v1alpha2"


def cnp(name: str, tier: str, priority: int, subject: Body, **rules: list[Body]) -> Body:
    return {
        "apiVersion": API,
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"tier": tier, "priority": priority, "subject": subject, **rules},
    }


def admin(name: str, priority: int, subject: Body, **rules: list[Body]) -> Body:
    return cnp(name, "Admin", priority, subject, **rules)


def baseline(name: str, priority: int, subject: Body, **rules: list[Body]) -> Body:
    return cnp(name, "Baseline", priority, subject, **rules)


def ing(action: str, peers: list[Body], protocols: list[Body] | None = None) -> Body:
    body: Body = {"name": f"{action.lower()}-in", "action": action, "from": peers}
    if protocols is not None:
        body["protocols"] = protocols
    return body


def out(action: str, peers: list[Body], protocols: list[Body] | None = None) -> Body:
    body: Body = {"name": f"{action.lower()}-out", "action": action, "to": peers}
    if protocols is not None:
        body["protocols"] = protocols
    return body


def tcp(number: int) -> Body:
    return {"tcp": {"destinationPort": {"number": number}}}


HOST_CLIENT = {
    **pod("a", "host", "192.168.9.9", app="client"),
}
HOST_CLIENT["spec"] = {**HOST_CLIENT["spec"], "hostNetwork": True}

DENY_OUT_A = netpol("a", "deny-out", {"podSelector": {}, "policyTypes": ["Egress"]})

CASES = [
    pytest.param(
        [admin("accept", 10, NS_B, ingress=[ing("Accept", [NS_A])]), DENY_ALL_B],
        True,
        id="admin-accept-overrides-networkpolicy-isolation",
    ),
    pytest.param(
        [admin("deny", 10, NS_B, ingress=[ing("Deny", [NS_A])]), ALLOW_A_TO_B],
        False,
        id="admin-deny-overrides-networkpolicy-allow",
    ),
    pytest.param(
        [admin("pass", 10, NS_B, ingress=[ing("Pass", [NS_A])]), DENY_ALL_B],
        False,
        id="admin-pass-delegates-to-networkpolicy",
    ),
    pytest.param(
        [
            admin("pass", 10, NS_B, ingress=[ing("Pass", [NS_A])]),
            baseline("deny", 10, NS_B, ingress=[ing("Deny", [NS_A])]),
        ],
        False,
        id="admin-pass-reaches-baseline-tier-without-networkpolicy",
    ),
    pytest.param(
        [
            admin("first", 1, NS_B, ingress=[ing("Accept", [NS_A])]),
            admin("second", 2, NS_B, ingress=[ing("Deny", [NS_A])]),
        ],
        True,
        id="admin-lower-priority-number-first",
    ),
    pytest.param(
        [
            admin("second", 2, NS_B, ingress=[ing("Accept", [NS_A])]),
            admin("first", 1, NS_B, ingress=[ing("Deny", [NS_A])]),
        ],
        False,
        id="admin-priority-not-document-order",
    ),
    pytest.param(
        [admin("ordered", 5, NS_B, ingress=[ing("Deny", [NS_A]), ing("Accept", [NS_A])])],
        False,
        id="admin-first-matching-rule-in-order",
    ),
    pytest.param(
        [
            admin("cnp", 3, NS_B, ingress=[ing("Accept", [NS_A])]),
            anp("anp", 5, NS_B, ingress=[rule("Deny", [NS_A])]),
        ],
        True,
        id="admin-tier-cnp-before-anp-of-higher-priority-number",
    ),
    pytest.param(
        [
            admin("cnp", 7, NS_B, ingress=[ing("Accept", [NS_A])]),
            anp("anp", 5, NS_B, ingress=[rule("Deny", [NS_A])]),
        ],
        False,
        id="admin-tier-anp-before-cnp-of-higher-priority-number",
    ),
    pytest.param(
        [admin("other-port", 5, NS_B, ingress=[ing("Deny", [NS_A], [tcp(443)])])],
        True,
        id="admin-rule-on-other-port-does-not-match",
    ),
    pytest.param(
        [
            admin(
                "udp",
                5,
                NS_B,
                ingress=[ing("Deny", [NS_A], [{"udp": {"destinationPort": {"number": 80}}}])],
            )
        ],
        True,
        id="admin-udp-port-does-not-match-tcp",
    ),
    pytest.param(
        [
            admin(
                "range",
                5,
                NS_B,
                ingress=[
                    ing(
                        "Deny",
                        [NS_A],
                        [{"tcp": {"destinationPort": {"range": {"start": 79, "end": 81}}}}],
                    )
                ],
            )
        ],
        False,
        id="admin-port-range-includes-its-ends",
    ),
    pytest.param(
        [admin("named", 5, NS_B, ingress=[ing("Deny", [NS_A], [{"destinationNamedPort": "web"}])])],
        False,
        id="admin-named-port-resolves-on-destination",
    ),
    pytest.param(
        [admin("named", 5, NS_B, ingress=[ing("Deny", [NS_A], [{"destinationNamedPort": "db"}])])],
        True,
        id="admin-named-port-the-destination-lacks-matches-nothing",
    ),
    pytest.param(
        [baseline("deny", 5, NS_B, ingress=[ing("Deny", [NS_A])])],
        False,
        id="baseline-denies-when-networkpolicy-does-not-isolate",
    ),
    pytest.param(
        [baseline("deny", 5, NS_B, ingress=[ing("Deny", [NS_A])]), ALLOW_A_TO_B],
        True,
        id="baseline-ignored-when-networkpolicy-isolates",
    ),
    pytest.param(
        [
            baseline("accept", 5, NS_B, ingress=[ing("Accept", [NS_A])]),
            banp(NS_B, ingress=[rule("Deny", [NS_A])]),
        ],
        True,
        id="baseline-tier-cnp-before-banp",
    ),
    pytest.param(
        [
            baseline("pass", 5, NS_B, ingress=[ing("Pass", [NS_A])]),
            banp(NS_B, ingress=[rule("Deny", [NS_A])]),
        ],
        True,
        id="baseline-pass-skips-the-rest-of-the-tier-to-default-allow",
    ),
    pytest.param(
        [
            baseline("later", 9, NS_B, ingress=[ing("Accept", [NS_A])]),
            baseline("sooner", 1, NS_B, ingress=[ing("Deny", [NS_A])]),
        ],
        False,
        id="baseline-lower-priority-number-first",
    ),
    pytest.param(
        [
            admin("accept-out", 5, NS_A, egress=[out("Accept", [NS_B])]),
            admin("deny-in", 6, NS_B, ingress=[ing("Deny", [NS_A])]),
        ],
        False,
        id="egress-accept-still-needs-ingress-at-the-destination",
    ),
    pytest.param(
        [admin("accept-out", 5, NS_A, egress=[out("Accept", [NS_B])]), DENY_OUT_A],
        True,
        id="admin-egress-accept-overrides-networkpolicy-egress-isolation",
    ),
    pytest.param(
        [
            admin("accept-out", 5, NS_A, egress=[out("Accept", [NS_B])]),
            admin("accept-in", 6, NS_B, ingress=[ing("Accept", [NS_A])]),
            DENY_OUT_A,
            DENY_ALL_B,
        ],
        True,
        id="admin-accepts-on-both-sides-override-isolation-on-both",
    ),
    pytest.param(
        [
            admin("accept-out", 5, NS_A, egress=[out("Accept", [NS_B], [tcp(443)])]),
            admin("accept-in", 6, NS_B, ingress=[ing("Accept", [NS_A])]),
            DENY_OUT_A,
            DENY_ALL_B,
        ],
        False,
        id="admin-accepts-on-both-sides-need-a-common-port",
    ),
    pytest.param(
        [admin("egress", 5, NS_A, egress=[out("Deny", [{"networks": ["10.0.0.2/32"]}])])],
        False,
        id="networks-match-pod-addresses",
    ),
    pytest.param(
        [admin("egress", 5, NS_A, egress=[out("Deny", [{"networks": ["192.168.0.0/16"]}])])],
        True,
        id="networks-outside-do-not-match",
    ),
    pytest.param(
        [
            admin(
                "pods",
                5,
                {"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "x"}}}},
                ingress=[ing("Deny", [NS_A])],
            )
        ],
        True,
        id="subject-pods-selects-only-matching-pods",
    ),
    pytest.param(
        [
            admin(
                "pods-peer",
                5,
                NS_B,
                ingress=[
                    ing("Deny", [{"pods": {"podSelector": {"matchLabels": {"app": "client"}}}}])
                ],
            )
        ],
        False,
        id="pods-peer-without-namespace-selector-means-every-namespace",
    ),
    pytest.param(
        [admin("dns", 5, NS_A, egress=[out("Deny", [{"domainNames": ["b.example.com"]}])])],
        True,
        id="domain-names-never-match-pods",
    ),
]


def compiled_for(extra: list[Body], *more: Body) -> Any:
    docs = [*BASE, *more, *extra]
    documents = [Document(Origin(None, i), body) for i, body in enumerate(docs)]
    return compile_cluster(build_cluster(parse_documents(documents)))


def verdict(extra: list[Body], source: str = "a/client", target: str = "b/server") -> Any:
    return check(compiled_for(extra), source, target, port=80, protocol="TCP")


@pytest.mark.parametrize(("manifests", "allowed"), CASES)
def test_tiers(manifests: list[Body], allowed: bool) -> None:
    compiled = compiled_for(manifests)
    assert check(compiled, "a/client", "b/server", port=80, protocol="TCP").allowed is allowed
    mapped = connectivity_map(compiled, Granularity.POD).lookup()
    ports = mapped.get((ObjectRef("Pod", "a", "client"), ObjectRef("Pod", "b", "server")))
    assert (ports is not None and ports.contains(Protocol.TCP, 80)) is allowed


def test_effects_name_tier_rule_name_and_accept() -> None:
    found = verdict(
        [
            admin("accept", 10, NS_B, ingress=[ing("Accept", [NS_A])]),
            baseline("deny", 10, NS_A, egress=[out("Deny", [NS_B])]),
            DENY_ALL_B,
        ]
    )
    [pair] = found.pairs
    [effect] = pair.ingress.effects
    assert (effect.tier, effect.policy, effect.name, effect.action) == (
        Tier.CLUSTER_ADMIN,
        ObjectRef("ClusterNetworkPolicy", "", "accept"),
        "accept-in",
        Action.ACCEPT,
    )
    [egress] = pair.egress.effects
    assert (egress.tier, egress.action) == (Tier.CLUSTER_BASELINE, Action.DENY)
    body = verdict_to_api(found)
    assert body["explanation"]["ingress"]["effects"][0]["name"] == "accept-in"
    assert body["explanation"]["ingress"]["effects"][0]["tier"] == "Admin"
    assert body["ambiguous"] is False
    assert "accept rule 0 (accept-in) Accept" in pair.ingress.reason


@pytest.mark.parametrize(
    ("manifests", "ambiguous"),
    [
        pytest.param(
            [
                admin("one", 5, NS_B, ingress=[ing("Accept", [NS_A])]),
                admin("two", 5, NS_B, ingress=[ing("Deny", [NS_A])]),
            ],
            True,
            id="same-priority-both-match",
        ),
        pytest.param(
            [
                admin("one", 5, NS_B, ingress=[ing("Accept", [NS_A])]),
                anp("two", 5, NS_B, ingress=[rule("Deny", [NS_A])]),
            ],
            True,
            id="same-priority-cnp-and-anp-both-match",
        ),
        pytest.param(
            [
                baseline("one", 5, NS_B, ingress=[ing("Accept", [NS_A])]),
                baseline("two", 5, NS_B, ingress=[ing("Deny", [NS_A])]),
            ],
            True,
            id="same-priority-baseline-both-match",
        ),
        pytest.param(
            [
                admin("one", 5, NS_B, ingress=[ing("Accept", [NS_A])]),
                admin("two", 6, NS_B, ingress=[ing("Deny", [NS_A])]),
            ],
            False,
            id="different-priorities",
        ),
        pytest.param(
            [
                admin("one", 5, NS_B, ingress=[ing("Accept", [NS_A], [tcp(80)])]),
                admin("two", 5, NS_B, ingress=[ing("Deny", [NS_A], [tcp(81)])]),
            ],
            False,
            id="same-priority-disjoint-ports",
        ),
        pytest.param(
            [
                admin("one", 5, NS_B, ingress=[ing("Accept", [NS_A])]),
                baseline("two", 5, NS_B, ingress=[ing("Deny", [NS_A])]),
            ],
            False,
            id="same-priority-other-tier",
        ),
        pytest.param(
            [
                admin("zero", 1, NS_B, ingress=[ing("Deny", [NS_A])]),
                admin("one", 5, NS_B, ingress=[ing("Accept", [NS_A])]),
                admin("two", 5, NS_B, ingress=[ing("Deny", [NS_A])]),
            ],
            False,
            id="same-priority-after-a-higher-precedence-decision",
        ),
    ],
)
def test_same_priority_policies_that_both_match_are_ambiguous(
    manifests: list[Body], ambiguous: bool
) -> None:
    found = verdict(manifests)
    assert found.ambiguous is ambiguous
    assert verdict_to_api(found)["ambiguous"] is ambiguous
    if ambiguous:
        effect = found.pairs[0].ingress.effects[0]
        assert effect.ambiguous_with
        assert "ambiguous" in found.pairs[0].ingress.reason


ALLOW_LIST = admin(
    "allow-list",
    5,
    NS_A,
    egress=[
        out("Accept", [{"domainNames": ["*.example.com"]}]),
        out("Deny", [{"networks": ["0.0.0.0/0"]}]),
    ],
)


def test_domain_name_rule_alone_decides_external_traffic_depends_on_dns() -> None:
    compiled = compiled_for([ALLOW_LIST])
    found = check(compiled, "a/client", "8.8.8.8", port=443, protocol="TCP")
    assert found.allowed is False
    assert found.depends_on_dns is True
    [pair] = found.pairs
    assert pair.depends_on_dns == PortSet.single(Protocol.TCP, 443)
    assert "depends on DNS" in pair.egress.reason
    assert any(e.depends_on_dns for e in pair.egress.effects)
    body = verdict_to_api(found)
    assert body["depends_on_dns"] is True
    assert body["dns_dependent_ports"] == [{"protocol": "TCP", "port": 443}]
    # towards a pod, no domain name applies: the Deny of 0.0.0.0/0 (pod addresses) decides
    to_pod = check(compiled, "a/client", "b/server", port=80, protocol="TCP")
    assert (to_pod.allowed, to_pod.depends_on_dns) == (False, False)


def test_domain_name_rule_after_a_decision_does_not_make_dns_matter() -> None:
    deny_first = admin(
        "deny-first",
        5,
        NS_A,
        egress=[
            out("Deny", [{"networks": ["0.0.0.0/0"]}]),
            out("Accept", [{"domainNames": ["a.io"]}]),
        ],
    )
    found = check(compiled_for([deny_first]), "a/client", "8.8.8.8", port=443, protocol="TCP")
    assert (found.allowed, found.depends_on_dns) == (False, False)


def test_domain_name_accept_with_default_allow_changes_nothing() -> None:
    accept = admin("accept", 5, NS_A, egress=[out("Accept", [{"domainNames": ["a.io"]}])])
    found = check(compiled_for([accept]), "a/client", "8.8.8.8", port=443, protocol="TCP")
    assert (found.allowed, found.depends_on_dns) == (True, False)


def test_host_network_pods_are_not_subjects_nor_pod_peers() -> None:
    deny = admin("deny", 5, {"namespaces": {}}, ingress=[ing("Deny", [{"namespaces": {}}])])
    compiled = compiled_for([deny], HOST_CLIENT, namespace("c"))
    from_host = check(compiled, "a/host", "b/server", port=80, protocol="TCP")
    assert from_host.allowed is True  # the namespaces peer does not hold a host-network pod
    to_host = check(compiled, "b/server", "a/host", port=80, protocol="TCP")
    assert to_host.allowed is True  # nor is a host-network pod a subject
    assert to_host.pairs[0].ingress.subject_to_policies is False
    plain = check(compiled, "a/client", "b/server", port=80, protocol="TCP")
    assert plain.allowed is False


def test_networks_split_the_address_space() -> None:
    compiled = compiled_for(
        [admin("egress", 5, NS_A, egress=[out("Deny", [{"networks": ["192.168.0.0/16"]}])])]
    )
    client = compiled.pod("a", "client")
    assert not compiled.allowed_ports(client, ipaddress.ip_address("192.168.3.4"))
    assert compiled.allowed_ports(client, ipaddress.ip_address("8.8.8.8")).is_all()


def test_map_lists_what_dns_decides_apart_from_what_is_allowed() -> None:
    compiled = compiled_for([ALLOW_LIST])
    cmap = connectivity_map(compiled, Granularity.POD)
    client = ObjectRef("Pod", "a", "client")
    google = ipaddress.ip_address("8.8.8.8")

    def to_google(m: Any) -> list[PortSet]:
        return [
            c.ports
            for c in m.connections()
            if c.source == client
            and not isinstance(c.target, ObjectRef)
            and c.target.contains(google)
        ]

    assert to_google(cmap) == []
    assert cmap.depends_on_dns is not None
    assert to_google(cmap.depends_on_dns) == [PortSet.all()]
    # pod to pod is decided (denied by 0.0.0.0/0): neither allowed nor DNS-dependent
    pods = [(c.source, c.target) for c in cmap.depends_on_dns.connections()]
    assert (client, ObjectRef("Pod", "b", "server")) not in pods
    body = json.loads("".join(iter_map_json(cmap)))
    assert any(c["from"]["name"] == "client" for c in body["depends_on_dns"])
    assert "depend on DNS" in "".join(iter_map_markdown(cmap))
    assert "".join(iter_map_csv(cmap)).splitlines()[0] == "from,to,ports,dns"
    plain = connectivity_map(compiled_for([DENY_ALL_B]), Granularity.POD)
    assert plain.depends_on_dns is None
    assert "depends_on_dns" not in json.loads("".join(iter_map_json(plain)))


def test_pod_selector_splits_classes_only_in_the_namespaces_it_looks_at() -> None:
    """An admin ``pods`` selector reads pod labels only in the namespaces its namespace
    selector matches: pods elsewhere that differ only in those labels share a class."""
    in_a = {"matchLabels": {"kubernetes.io/metadata.name": "a"}}
    peer = {"pods": {"namespaceSelector": in_a, "podSelector": {"matchLabels": {"tier": "x"}}}}
    deny = admin("deny", 5, NS_B, ingress=[ing("Deny", [peer])])
    compiled = compiled_for(
        [deny],
        pod("a", "x1", "10.0.0.3", app="client", tier="x"),
        pod("a", "y1", "10.0.0.4", app="client", tier="y"),
        pod("b", "x2", "10.0.0.5", app="server", tier="x"),
        pod("b", "y2", "10.0.0.6", app="server", tier="y"),
    )
    class_of = {
        f"{compiled.pods[i].namespace}/{compiled.pods[i].name}": cls.index
        for cls in compiled.classes
        for i in cls.pods
    }
    assert class_of["a/x1"] != class_of["a/y1"]
    assert class_of["b/x2"] == class_of["b/y2"]
    assert check(compiled, "a/x1", "b/server", port=80, protocol="TCP").allowed is False
    assert check(compiled, "a/y1", "b/server", port=80, protocol="TCP").allowed is True
    assert check(compiled, "b/x2", "b/server", port=80, protocol="TCP").allowed is True
