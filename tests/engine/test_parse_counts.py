"""Item counts: the CRDs' maxItems for the admin tiers, netreach's own (settable) limits for
NetworkPolicy. At the limit an object is accepted; one more item is one problem naming the
document, the field and the limit."""

from __future__ import annotations

from typing import Any

import pytest

from service.engine.model import Document, ManifestError, Origin, Problem
from service.engine.parse import parse_documents
from service.engine.parse.counts import DEFAULT_COUNTS, CountLimits

Body = dict[str, Any]
SMALL = CountLimits(
    max_policy_rules=3,
    max_rule_peers=4,
    max_rule_ports=2,
    max_policy_ip_blocks=5,
    max_ip_block_excepts=2,
)


def policy(spec: Body) -> Body:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "np", "namespace": "ns"},
        "spec": {"podSelector": {}, **spec},
    }


def blocks(count: int, first: int = 0) -> list[Body]:
    return [
        {"ipBlock": {"cidr": f"10.{(first + i) // 256}.{(first + i) % 256}.0/24"}}
        for i in range(count)
    ]


def admin(kind: str, rule: Body) -> Body:
    baseline = kind == "BaselineAdminNetworkPolicy"
    spec: Body = {"subject": {"namespaces": {}}, "egress": [{"action": "Allow", **rule}]}
    if not baseline:
        spec["priority"] = 10
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "default" if baseline else "anp"},
        "spec": spec,
    }


def problems(body: Body, counts: CountLimits | None = None) -> list[Problem]:
    documents = [Document(Origin(None, 0), {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "ns"}}),
                 Document(Origin(None, 1), body)]  # fmt: skip
    try:
        parse_documents(documents, counts)
    except ManifestError as error:
        return list(error.problems)
    return []


def only(found: list[Problem]) -> Problem:
    assert len(found) == 1, found
    (problem,) = found
    assert problem.origin is not None
    assert problem.origin.document == 1
    return problem


NETWORK_POLICY_CASES = [
    pytest.param(
        lambda n: policy({"ingress": [{}] * n}), SMALL.max_policy_rules, "spec.ingress",
        "rules", "NETREACH_MAX_POLICY_RULES", id="rules per direction",
    ),
    pytest.param(
        lambda n: policy({"egress": [{"to": [{"podSelector": {}}] * n}]}), SMALL.max_rule_peers,
        "spec.egress[0].to", "peers", "NETREACH_MAX_RULE_PEERS", id="peers per rule",
    ),
    pytest.param(
        lambda n: policy({"ingress": [{"ports": [{"port": 80 + i} for i in range(n)]}]}),
        SMALL.max_rule_ports, "spec.ingress[0].ports", "ports", "NETREACH_MAX_RULE_PORTS",
        id="ports per rule",
    ),
    pytest.param(
        lambda n: policy({"ingress": [{"from": blocks(3)}, {"from": blocks(n - 3, 3)}]}),
        SMALL.max_policy_ip_blocks, "spec.ingress[1].from[2].ipBlock",
        "ipBlocks in the policy", "NETREACH_MAX_POLICY_IP_BLOCKS",
        id="ipBlocks per policy, across rules",
    ),
    pytest.param(
        lambda n: policy({"egress": [{"to": [{"ipBlock": {
            "cidr": "10.0.0.0/8", "except": [f"10.{i + 1}.0.0/16" for i in range(n)]}}]}]}),
        SMALL.max_ip_block_excepts, "spec.egress[0].to[0].ipBlock.except", "CIDRs",
        "NETREACH_MAX_IP_BLOCK_EXCEPTS", id="excepts per ipBlock",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("build", "limit", "field", "what", "setting"), NETWORK_POLICY_CASES)
def test_network_policy_limits_are_netreachs_own(
    build: Any, limit: int, field: str, what: str, setting: str
) -> None:
    assert problems(build(limit), SMALL) == []
    problem = only(problems(build(limit + 1), SMALL))
    assert problem.field == field
    assert problem.kind == "NetworkPolicy"
    assert (problem.namespace, problem.name) == ("ns", "np")
    assert problem.message == (
        f"holds {limit + 1} {what}: more than netreach's limit of {limit} (a NetworkPolicy "
        f"has no limit in the API server; the server's setting {setting})"
    )
    assert problems(build(limit + 1)) == []  # the defaults are far more generous


def test_the_defaults_admit_a_policy_of_20000_ipblocks_and_refuse_one_past_the_limit() -> None:
    assert problems(policy({"egress": [{"to": blocks(20_000)}]})) == []
    over = DEFAULT_COUNTS.max_rule_peers + 1
    problem = only(problems(policy({"egress": [{"to": [{"podSelector": {}}] * over}]})))
    assert problem.field == "spec.egress[0].to"


def numbers(count: int) -> list[Body]:
    return [{"portNumber": {"port": 1 + i, "protocol": "TCP"}} for i in range(count)]


ADMIN_CASES = [
    pytest.param({"to": [{"namespaces": {}}] * 100}, {"to": [{"namespaces": {}}] * 101},
                 "spec.egress[0].to", 100, id="peers per rule"),
    pytest.param({"to": [{"namespaces": {}}], "ports": numbers(100)},
                 {"to": [{"namespaces": {}}], "ports": numbers(101)},
                 "spec.egress[0].ports", 100, id="ports per rule"),
    pytest.param({"to": [{"networks": [f"10.{i}.0.0/16" for i in range(25)]}]},
                 {"to": [{"networks": [f"10.{i}.0.0/16" for i in range(26)]}]},
                 "spec.egress[0].to[0].networks", 25, id="networks per peer"),
]  # fmt: skip


@pytest.mark.parametrize("kind", ["AdminNetworkPolicy", "BaselineAdminNetworkPolicy"])
@pytest.mark.parametrize(("at_limit", "past_limit", "field", "limit"), ADMIN_CASES)
def test_admin_tiers_take_the_crds_max_items(
    kind: str, at_limit: Body, past_limit: Body, field: str, limit: int
) -> None:
    assert problems(admin(kind, at_limit)) == []
    problem = only(problems(admin(kind, past_limit), CountLimits.unbounded()))
    assert problem.field == field
    assert problem.message == (
        f"must have at most {limit} items (the CRD's maxItems), got {limit + 1}"
    )


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_rule_ports must be at least 1"):
        CountLimits(max_rule_ports=0)
