"""One triggering case and one near miss per check, table-driven, named after the check.

Every case is the small base cluster (which alone yields no finding) plus a few objects.
A trigger must yield a finding of its code on the named object; a near miss must yield no
finding of that code at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from service.engine.lint import CHECKS, Severity
from tests.lint.builders import (
    DENY_EGRESS,
    DENY_INGRESS,
    Obj,
    allow_from,
    anp,
    base,
    cnp,
    cnp_rule,
    deny_nodes,
    dns_egress,
    findings,
    node,
    pod,
    policy,
    service,
)

ALL_PODS_OF_CLUSTER: Obj = {"namespaceSelector": {}}
SHOP: Obj = {"namespaces": {"matchLabels": {"team": "shop"}}}
OTHER: Obj = {"namespaces": {"matchLabels": {"team": "other"}}}
KUBE_SYSTEM: Obj = {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}
ALL: Obj = {"namespaces": {}}
DOMAINS: Obj = {"domainNames": ["*.example.com"]}
CIDR: Obj = {"networks": ["192.0.2.0/24"]}
FROM_CLIENT: Obj = {
    "namespaceSelector": {"matchLabels": {"team": "other"}},
    "podSelector": {"matchLabels": {"app": "client"}},
}


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    objects: list[Obj]
    triggers: bool
    object: str | None = None  # str() of an object the finding must name
    contains: tuple[str, ...] = field(default=())  # fragments of its message


def trigger(id: str, code: str, objects: list[Obj], obj: str, *contains: str) -> Case:
    return Case(id, code, objects, True, obj, contains)


def near_miss(id: str, code: str, objects: list[Obj]) -> Case:
    return Case(id, code, objects, False)


def allow_web_8080() -> Obj:
    return allow_from({"app": "web"}, FROM_CLIENT, [{"protocol": "TCP", "port": 8080}])


CASES = [
    # NR001 dns-unreachable
    trigger(
        "NR001-dns-unreachable-default-deny-egress", "NR001",
        [policy("shop", "deny-egress", DENY_EGRESS)],
        "shop/NetworkPolicy/deny-egress", "cannot resolve names",
    ),
    trigger(
        "NR001-dns-unreachable-dns-pods-deny-ingress", "NR001",
        [
            policy("shop", "deny-egress", DENY_EGRESS),
            policy("shop", "allow-dns", dns_egress("UDP", "TCP")),
            policy("kube-system", "deny-ingress", DENY_INGRESS),
        ],
        "kube-system/NetworkPolicy/deny-ingress", "do not admit",
    ),
    near_miss(
        "NR001-dns-unreachable-near-miss-dns-allowed", "NR001",
        [policy("shop", "deny-egress", DENY_EGRESS),
         policy("shop", "allow-dns", dns_egress("UDP", "TCP"))],
    ),
    # NR002 dns-tcp-blocked
    trigger(
        "NR002-dns-tcp-blocked-udp-only", "NR002",
        [policy("shop", "deny-egress", DENY_EGRESS),
         policy("shop", "allow-dns", dns_egress("UDP"))],
        "shop/NetworkPolicy/allow-dns", "TCP 53",
    ),
    near_miss(
        "NR002-dns-tcp-blocked-near-miss-udp-and-tcp", "NR002",
        [policy("shop", "deny-egress", DENY_EGRESS),
         policy("shop", "allow-dns", dns_egress("UDP", "TCP"))],
    ),
    # NR003 policy-selects-nothing
    trigger(
        "NR003-policy-selects-nothing-typo", "NR003",
        [policy("shop", "allow-wbe", allow_from({"app": "wbe"}, FROM_CLIENT))],
        "shop/NetworkPolicy/allow-wbe", "did you mean app=web",
    ),
    near_miss(
        "NR003-policy-selects-nothing-near-miss", "NR003",
        [policy("shop", "allow-web", allow_from({"app": "web"}, FROM_CLIENT))],
    ),
    # NR004 peer-matches-nothing
    trigger(
        "NR004-peer-matches-nothing-pod-typo", "NR004",
        [policy("shop", "allow-web", allow_from({"app": "web"}, {
            "namespaceSelector": {"matchLabels": {"team": "other"}},
            "podSelector": {"matchLabels": {"app": "clinet"}},
        }))],
        "shop/NetworkPolicy/allow-web", "did you mean app=client",
    ),
    trigger(
        "NR004-peer-matches-nothing-namespace-typo", "NR004",
        [policy("shop", "allow-web", allow_from(
            {"app": "web"}, {"namespaceSelector": {"matchLabels": {"team": "othr"}}}
        ))],
        "shop/NetworkPolicy/allow-web", "matches no namespace",
    ),
    near_miss(
        "NR004-peer-matches-nothing-near-miss", "NR004",
        [policy("shop", "allow-web", allow_from({"app": "web"}, FROM_CLIENT))],
    ),
    trigger(
        "NR004-nodes-peer-selects-no-node-label-typo", "NR004",
        [node("n1", "192.168.1.1", role="worker"), deny_nodes({"role": "wroker"})],
        "/AdminNetworkPolicy/deny-nodes", "selects no Node", "did you mean role=worker",
        "spec.egress[0].to[0].nodes",
    ),
    trigger(
        "NR004-nodes-peer-without-node-objects", "NR004",
        [deny_nodes({"role": "worker"})],
        "/AdminNetworkPolicy/deny-nodes", "holds no Node objects",
    ),
    near_miss(
        "NR004-nodes-peer-selects-a-node-near-miss", "NR004",
        [node("n1", "192.168.1.1", role="worker"), deny_nodes({"role": "worker"})],
    ),
    # NR005 named-port-undefined
    trigger(
        "NR005-named-port-undefined-ingress", "NR005",
        [policy("shop", "allow-web", allow_from(
            {"app": "web"}, FROM_CLIENT, [{"protocol": "TCP", "port": "https"}]
        ))],
        "shop/NetworkPolicy/allow-web", "'https'",
    ),
    trigger(
        "NR005-named-port-undefined-wrong-protocol", "NR005",
        [policy("shop", "deny-egress", DENY_EGRESS), policy("shop", "allow-dns", {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"port": "dns"}]}],
        })],
        "shop/NetworkPolicy/allow-dns", "protocol: UDP",
    ),
    near_miss(
        "NR005-named-port-undefined-near-miss", "NR005",
        [policy("shop", "allow-web", allow_from(
            {"app": "web"}, FROM_CLIENT, [{"protocol": "TCP", "port": "http"}]
        ))],
    ),
    # NR006 redundant-rule
    trigger(
        "NR006-redundant-rule-subset", "NR006",
        [policy("shop", "allow-web", {
            "podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": {}}], "ports": [{"port": 8080}]},
                {"from": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                 "ports": [{"port": 8080}]},
            ],
        })],
        "shop/NetworkPolicy/allow-web", "spec.ingress[1]",
    ),
    near_miss(
        "NR006-redundant-rule-near-miss-other-port", "NR006",
        [policy("shop", "allow-web", {
            "podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": {}}], "ports": [{"port": 8080}]},
                {"from": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                 "ports": [{"port": 9999}]},
            ],
        })],
    ),
    # NR007 redundant-policy
    trigger(
        "NR007-redundant-policy-duplicate", "NR007",
        [policy("shop", "allow-web", allow_web_8080()),
         policy("shop", "allow-web-copy", allow_web_8080())],
        "shop/NetworkPolicy/allow-web-copy", "removing it changes nothing",
    ),
    near_miss(
        "NR007-redundant-policy-near-miss-different-port", "NR007",
        [policy("shop", "allow-web", allow_web_8080()),
         policy("shop", "allow-web-copy",
                allow_from({"app": "web"}, FROM_CLIENT, [{"protocol": "TCP", "port": 8443}]))],
    ),
    # NR008 pods-unprotected
    trigger(
        "NR008-pods-unprotected-forgotten-pod", "NR008",
        [policy("shop", "allow-web", allow_web_8080())],
        "shop/api", "selected by no ingress policy",
    ),
    near_miss(
        "NR008-pods-unprotected-near-miss-default-deny", "NR008",
        [policy("shop", "allow-web", allow_web_8080()),
         policy("shop", "deny-ingress", DENY_INGRESS)],
    ),
    # NR009 allow-all-cancels-default-deny
    trigger(
        "NR009-allow-all-cancels-default-deny", "NR009",
        [policy("shop", "deny-ingress", DENY_INGRESS), policy("shop", "allow-all-web", {
            "podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}],
        })],
        "shop/NetworkPolicy/allow-all-web", "cancels the default-deny",
    ),
    trigger(
        "NR009-allow-all-cancels-default-deny-every-pod", "NR009",
        [policy("shop", "deny-ingress", DENY_INGRESS), policy("shop", "from-cluster", {
            "podSelector": {}, "ingress": [{"from": [ALL_PODS_OF_CLUSTER]}],
        })],
        "shop/NetworkPolicy/from-cluster", "every pod of the cluster",
    ),
    near_miss(
        "NR009-allow-all-cancels-default-deny-near-miss-ports", "NR009",
        [policy("shop", "deny-ingress", DENY_INGRESS), policy("shop", "allow-web", {
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"ports": [{"port": 8080}]}],
        })],
    ),
    # NR010 ipblock-covers-pod-ips
    trigger(
        "NR010-ipblock-covers-pod-ips", "NR010",
        [policy("shop", "to-private", {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}],
        })],
        "shop/NetworkPolicy/to-private", "10.0.0.0/8",
    ),
    near_miss(
        "NR010-ipblock-covers-pod-ips-near-miss-except", "NR010",
        [policy("shop", "to-internet", {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}],
        })],
    ),
    # NR011 service-port-unreachable
    trigger(
        "NR011-service-port-unreachable", "NR011",
        [service("shop", "web", {"app": "web"}, 80, "http"),
         policy("shop", "deny-ingress", DENY_INGRESS)],
        "shop/Service/web", "no source may reach",
    ),
    trigger(
        "NR011-service-port-unreachable-wrong-port", "NR011",
        [service("shop", "web", {"app": "web"}, 80, 8080),
         policy("shop", "allow-web", allow_from(
             {"app": "web"}, FROM_CLIENT, [{"protocol": "TCP", "port": 8443}]
         ))],
        "shop/Service/web", "target port 8080",
    ),
    near_miss(
        "NR011-service-port-unreachable-near-miss-allowed", "NR011",
        [service("shop", "web", {"app": "web"}, 80, "http"),
         policy("shop", "deny-ingress", DENY_INGRESS),
         policy("shop", "allow-web", allow_web_8080())],
    ),
    # NR012 namespace-absent
    trigger(
        "NR012-namespace-absent", "NR012",
        [policy("shpo", "deny-ingress", DENY_INGRESS)],
        "shpo/NetworkPolicy/deny-ingress", "not in the snapshot",
    ),
    near_miss(
        "NR012-namespace-absent-near-miss", "NR012",
        [policy("shop", "deny-ingress", DENY_INGRESS)],
    ),
    # NR013 host-network-selected
    trigger(
        "NR013-host-network-selected", "NR013",
        [pod("shop", "agent", {"app": "agent"}, "192.168.0.5", host_network=True),
         policy("shop", "deny-ingress", DENY_INGRESS)],
        "shop/NetworkPolicy/deny-ingress", "hostNetwork",
    ),
    near_miss(
        "NR013-host-network-selected-near-miss", "NR013",
        [pod("shop", "agent", {"app": "agent"}, "192.168.0.5", host_network=True),
         policy("shop", "deny-web", {"podSelector": {"matchLabels": {"app": "web"}}})],
    ),
    # NR014 admin-rule-shadowed
    trigger(
        "NR014-admin-rule-shadowed-by-higher-priority", "NR014",
        [cnp("deny-other", "Admin", 1, SHOP, ingress=[cnp_rule("Deny", "from", [OTHER])]),
         cnp("accept-other", "Admin", 5, SHOP, ingress=[cnp_rule("Accept", "from", [OTHER],
             [{"tcp": {"destinationPort": {"number": 8080}}}])])],
        "/ClusterNetworkPolicy/accept-other", "spec.ingress[0]", "deny-other",
    ),
    trigger(
        "NR014-admin-rule-shadowed-by-earlier-rule", "NR014",
        [cnp("ordered", "Admin", 1, SHOP, egress=[cnp_rule("Pass", "to", [ALL]),
                                                  cnp_rule("Deny", "to", [OTHER])])],
        "/ClusterNetworkPolicy/ordered", "spec.egress[1]",
    ),
    trigger(
        "NR014-baseline-rule-under-networkpolicy-isolation", "NR014",
        [policy("shop", "deny-ingress", DENY_INGRESS),
         cnp("baseline", "Baseline", 1, SHOP, ingress=[cnp_rule("Deny", "from", [OTHER])])],
        "/ClusterNetworkPolicy/baseline", "NetworkPolicies",
    ),
    near_miss(
        "NR014-admin-rule-shadowed-near-miss-other-port", "NR014",
        [cnp("deny-other", "Admin", 1, SHOP, ingress=[cnp_rule("Deny", "from", [OTHER],
             [{"tcp": {"destinationPort": {"number": 9090}}}])]),
         cnp("accept-other", "Admin", 5, SHOP, ingress=[cnp_rule("Accept", "from", [OTHER])]),
         cnp("baseline", "Baseline", 1, SHOP, ingress=[cnp_rule("Deny", "from", [KUBE_SYSTEM])]),
         cnp("after-pass", "Baseline", 2, SHOP,
             egress=[cnp_rule("Deny", "to", [OTHER])]),
         cnp("pass", "Admin", 9, SHOP, egress=[cnp_rule("Pass", "to", [ALL])])],
    ),
    near_miss(
        "NR014-admin-rule-shadowed-near-miss-peers-match-nothing", "NR014",
        [cnp("nobody", "Admin", 1, SHOP, ingress=[cnp_rule("Deny", "from", [
            {"namespaces": {"matchLabels": {"team": "absent"}}}])])],
    ),
    # NR015 admin-priority-ambiguous
    trigger(
        "NR015-admin-priority-ambiguous", "NR015",
        [cnp("one", "Admin", 3, SHOP, ingress=[cnp_rule("Accept", "from", [OTHER])]),
         anp("two", 3, SHOP, ingress=[{"action": "Deny", "from": [OTHER]}])],
        "/ClusterNetworkPolicy/one", "priority 3",
    ),
    near_miss(
        "NR015-admin-priority-ambiguous-near-miss", "NR015",
        [cnp("one", "Admin", 3, SHOP, ingress=[cnp_rule("Accept", "from", [OTHER])]),
         cnp("two", "Admin", 4, SHOP, ingress=[cnp_rule("Deny", "from", [OTHER])]),
         cnp("three", "Baseline", 3, SHOP, ingress=[cnp_rule("Deny", "from", [OTHER])]),
         cnp("four", "Admin", 3, SHOP, ingress=[cnp_rule("Deny", "from", [KUBE_SYSTEM])])],
    ),
    # NR016 accept-denied-by-higher-tier
    trigger(
        "NR016-accept-denied-by-higher-tier", "NR016",
        [cnp("deny", "Admin", 1, SHOP, ingress=[cnp_rule("Deny", "from", [OTHER])]),
         cnp("accept", "Baseline", 1, SHOP, ingress=[cnp_rule("Accept", "from", [OTHER])])],
        "/ClusterNetworkPolicy/accept", "Admin tier denies",
    ),
    near_miss(
        "NR016-accept-denied-by-higher-tier-near-miss-pass", "NR016",
        [cnp("pass", "Admin", 1, SHOP, ingress=[cnp_rule("Pass", "from", [OTHER])]),
         cnp("accept", "Baseline", 1, SHOP, ingress=[cnp_rule("Accept", "from", [OTHER])])],
    ),
    # NR017 domain-names-depend-on-dns, NR018 domain-names-not-accept
    trigger(
        "NR017-domain-names-depend-on-dns", "NR017",
        [cnp("allow-list", "Admin", 1, SHOP, egress=[cnp_rule("Accept", "to", [DOMAINS])])],
        "/ClusterNetworkPolicy/allow-list", "*.example.com", "depending on DNS",
    ),
    near_miss(
        "NR017-domain-names-near-miss", "NR017",
        [cnp("cidr", "Admin", 1, SHOP, egress=[cnp_rule("Accept", "to", [CIDR])])],
    ),
    trigger(
        "NR018-domain-names-not-accept", "NR018",
        [cnp("deny-names", "Admin", 1, SHOP, egress=[cnp_rule("Deny", "to", [DOMAINS])])],
        "/ClusterNetworkPolicy/deny-names", "only for Accept",
    ),
    near_miss(
        "NR018-domain-names-not-accept-near-miss", "NR018",
        [cnp("allow-list", "Admin", 1, SHOP, egress=[cnp_rule("Accept", "to", [DOMAINS])])],
    ),
]  # fmt: skip


def test_the_base_cluster_has_no_finding() -> None:
    assert findings(base()) == []


def test_every_check_has_a_trigger_and_a_near_miss() -> None:
    for check in CHECKS:
        kinds = {case.triggers for case in CASES if case.code == check.code}
        assert kinds == {True, False}, check.code


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_check(case: Case) -> None:
    found = [f for f in findings(base() + case.objects) if f.code == case.code]
    if not case.triggers:
        assert found == [], [f.message for f in found]
        return
    assert found, f"no {case.code} finding"
    named = [f for f in found if case.object in {str(r) for r in f.objects}]
    assert named, [(f.objects, f.message) for f in found]
    finding = named[0]
    for fragment in case.contains:
        text = f"{finding.message} {finding.suggestion} {finding.field}"
        assert fragment in text, text
    assert finding.suggestion
    assert finding.severity is finding.check.severity or finding.code == "NR009"


def test_dns_finding_lists_the_pods_that_cannot_resolve() -> None:
    [finding] = [
        f
        for f in findings([*base(), policy("shop", "deny-egress", DENY_EGRESS)])
        if f.code == "NR001"
    ]
    assert finding.severity is Severity.ERROR
    assert [str(s) for s in finding.subjects] == ["shop/api", "shop/web"]
    assert finding.subject_count == 2


def test_only_the_later_duplicate_policy_is_redundant() -> None:
    found = findings(
        [
            *base(),
            policy("shop", "allow-web", allow_web_8080()),
            policy("shop", "allow-web-copy", allow_web_8080()),
        ]
    )
    assert [str(f.object) for f in found if f.code == "NR007"] == [
        "shop/NetworkPolicy/allow-web-copy"
    ]


def test_redundancy_across_two_rules_of_other_policies() -> None:
    # c-both admits 8080 and 8443, which a-8080 and b-8443 admit between them
    combined = allow_from(
        {"app": "web"},
        FROM_CLIENT,
        [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 8443}],
    )
    found = findings(
        [
            *base(),
            policy("shop", "a-8080", allow_web_8080()),
            policy(
                "shop",
                "b-8443",
                allow_from({"app": "web"}, FROM_CLIENT, [{"protocol": "TCP", "port": 8443}]),
            ),
            policy("shop", "c-both", combined),
        ]
    )
    assert [str(f.object) for f in found if f.code == "NR007"] == ["shop/NetworkPolicy/c-both"]


def test_findings_are_deterministic() -> None:
    objects = base() + [o for case in CASES if case.triggers for o in case.objects]
    unique = list({json_key(o): o for o in objects}.values())
    first = findings(unique)
    assert first == findings(unique)
    assert first == sorted(first, key=lambda f: f.sort_key())


def json_key(obj: Obj) -> str:
    import json

    return json.dumps([obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]])
