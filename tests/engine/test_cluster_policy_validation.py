"""ClusterNetworkPolicy validation: per rule of the CRD (schema and CEL), a valid object
that is accepted and an invalid one refused at the field path the API server names.

The CRD itself is read too: every ``x-kubernetes-validations`` message, ``maxItems`` and
enum of the v1alpha2 schema must be covered by a case here.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from service.engine.model import AdminAction, Document, ManifestError, Origin, Protocol
from service.engine.parse import parse_documents

Body = dict[str, Any]
API = "policy.networking.k8s.io/v1alpha2"
CRDS = Path(__file__).resolve().parent / "crds"


def cnp(**spec: Any) -> Body:
    base: Body = {"priority": 10, "tier": "Admin", "subject": {"namespaces": {}}}
    base.update(spec)
    return {
        "apiVersion": API,
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "p"},
        "spec": base,
    }


def ingress(**rule: Any) -> Body:
    return cnp(ingress=[{"action": "Accept", "from": [{"namespaces": {}}], **rule}])


def egress(**rule: Any) -> Body:
    return cnp(egress=[{"action": "Accept", "to": [{"namespaces": {}}], **rule}])


def to(*peers: Any, **rule: Any) -> Body:
    return egress(to=list(peers), **rule)


def tcp(port: Any) -> Body:
    return {"tcp": {"destinationPort": port}}


def without(key: str) -> Body:
    body = cnp()
    del body["spec"][key]
    return body


class Case(NamedTuple):
    valid: Body
    invalid: Body
    field: str  # the path the API server names for the invalid object
    fragment: str  # part of the message


NETS = [f"10.0.{i}.0/24" for i in range(26)]
DOMAINS = [f"d{i}.example.com" for i in range(26)]
RULES = [{"action": "Deny", "from": [{"namespaces": {}}]}] * 26
PEERS = [{"namespaces": {}}] * 26
PROTOS = [tcp({"number": i + 1}) for i in range(26)]

CASES: dict[str, Case] = {
    "spec-required": Case(cnp(), {**cnp(), "spec": None}, "spec", "is required"),
    "priority-required": Case(cnp(), without("priority"), "spec.priority", "is required"),
    "priority-integer": Case(cnp(priority=0), cnp(priority="1"), "spec.priority", "integer"),
    "priority-maximum-1000": Case(cnp(priority=1000), cnp(priority=1001), "spec.priority", "1000"),
    "priority-minimum-0": Case(cnp(priority=0), cnp(priority=-1), "spec.priority", "between"),
    "tier-required": Case(cnp(), without("tier"), "spec.tier", "is required"),
    "tier-enum": Case(cnp(tier="Baseline"), cnp(tier="Developer"), "spec.tier", '"Admin"'),
    "subject-required": Case(cnp(), without("subject"), "spec.subject", "is required"),
    "subject-min-properties": Case(
        cnp(subject={"pods": {"podSelector": {}}}), cnp(subject={}), "spec.subject", "exactly one"
    ),
    "subject-max-properties": Case(
        cnp(subject={"namespaces": {}}),
        cnp(subject={"namespaces": {}, "pods": {"podSelector": {}}}),
        "spec.subject",
        "exactly one of: namespaces, pods",
    ),
    "subject-pods-podselector-required": Case(
        cnp(subject={"pods": {"podSelector": {}, "namespaceSelector": {}}}),
        cnp(subject={"pods": {"namespaceSelector": {}}}),
        "spec.subject.pods.podSelector",
        "is required",
    ),
    "ingress-max-items-25": Case(
        cnp(ingress=RULES[:25]), cnp(ingress=RULES), "spec.ingress", "at most 25"
    ),
    "egress-max-items-25": Case(
        cnp(egress=[{"action": "Deny", "to": [{"namespaces": {}}]}] * 25),
        cnp(egress=[{"action": "Deny", "to": [{"namespaces": {}}]}] * 26),
        "spec.egress",
        "at most 25",
    ),
    "action-required": Case(
        ingress(),
        cnp(ingress=[{"from": [{"namespaces": {}}]}]),
        "spec.ingress[0].action",
        "required",
    ),
    "action-enum": Case(
        ingress(action="Pass"), ingress(action="Allow"), "spec.ingress[0].action", '"Accept"'
    ),
    "rule-name-max-length-100": Case(
        ingress(name="n" * 100), ingress(name="n" * 101), "spec.ingress[0].name", "100"
    ),
    "ingress-from-required": Case(
        ingress(), cnp(ingress=[{"action": "Deny"}]), "spec.ingress[0].from", "is required"
    ),
    "ingress-from-min-items-1": Case(
        ingress(), ingress(**{"from": []}), "spec.ingress[0].from", "at least 1"
    ),
    "ingress-from-max-items-25": Case(
        ingress(**{"from": PEERS[:25]}), ingress(**{"from": PEERS}), "spec.ingress[0].from", "25"
    ),
    "egress-to-required": Case(
        egress(), cnp(egress=[{"action": "Deny"}]), "spec.egress[0].to", "is required"
    ),
    "egress-to-max-items-25": Case(to(*PEERS[:25]), to(*PEERS), "spec.egress[0].to", "at most 25"),
    "ingress-peer-min-properties": Case(
        ingress(**{"from": [{"pods": {"podSelector": {}}}]}),
        ingress(**{"from": [{}]}),
        "spec.ingress[0].from[0]",
        "exactly one of: namespaces, pods",
    ),
    "ingress-peer-no-networks": Case(
        ingress(**{"from": [{"namespaces": {}}]}),
        ingress(**{"from": [{"networks": ["10.0.0.0/8"]}]}),
        "spec.ingress[0].from[0]",
        "exactly one of: namespaces, pods",
    ),
    "egress-peer-max-properties": Case(
        to({"nodes": {}}),
        to({"nodes": {}, "networks": ["10.0.0.0/8"]}),
        "spec.egress[0].to[0]",
        "exactly one of: namespaces, pods, nodes, networks, domainNames",
    ),
    "peer-pods-podselector-required": Case(
        to({"pods": {"podSelector": {"matchLabels": {"a": "b"}}}}),
        to({"pods": {"namespaceSelector": {}}}),
        "spec.egress[0].to[0].pods.podSelector",
        "is required",
    ),
    "networks-min-items-1": Case(
        to({"networks": ["10.0.0.0/8"]}), to({"networks": []}), "spec.egress[0].to[0].networks", "1"
    ),
    "networks-max-items-25": Case(
        to({"networks": NETS[:25]}), to({"networks": NETS}), "spec.egress[0].to[0].networks", "25"
    ),
    "networks-is-cidr": Case(
        to({"networks": ["fd00::/8", "10.0.0.1/8"]}),
        to({"networks": ["10.0.0.0/8", "10.0.0.300/8"]}),
        "spec.egress[0].to[0].networks[1]",
        "Invalid CIDR format provided",
    ),
    "networks-cidr-needs-prefix": Case(
        to({"networks": ["10.0.0.1/32"]}),
        to({"networks": ["10.0.0.1"]}),
        "spec.egress[0].to[0].networks[0]",
        "Invalid CIDR format provided",
    ),
    "networks-max-length-43": Case(
        to({"networks": ["2001:db8:1234:5678:9abc:def0:1234:5678/128"]}),
        to({"networks": ["0000:0000:0000:0000:0000:ffff:192.168.100.200/128"]}),
        "spec.egress[0].to[0].networks[0]",
        "43",
    ),
    "networks-list-type-set": Case(
        to({"networks": ["10.0.0.0/8", "10.0.0.0/16"]}),
        to({"networks": ["10.0.0.0/8", "10.0.0.0/8"]}),
        "spec.egress[0].to[0].networks[1]",
        "duplicate",
    ),
    "domain-names-min-items-1": Case(
        to({"domainNames": ["example.com"]}),
        to({"domainNames": []}),
        "spec.egress[0].to[0].domainNames",
        "at least 1",
    ),
    "domain-names-max-items-25": Case(
        to({"domainNames": DOMAINS[:25]}),
        to({"domainNames": DOMAINS}),
        "spec.egress[0].to[0].domainNames",
        "at most 25",
    ),
    "domain-names-pattern": Case(
        to({"domainNames": ["*.kubernetes.io", "kubernetes.io.", "a_b.io"]}),
        to({"domainNames": ["www.*.kubernetes.io"]}),
        "spec.egress[0].to[0].domainNames[0]",
        "should match",
    ),
    "domain-names-pattern-needs-a-dot": Case(
        to({"domainNames": ["example.com"]}),
        to({"domainNames": ["localhost"]}),
        "spec.egress[0].to[0].domainNames[0]",
        "should match",
    ),
    "domain-names-list-type-set": Case(
        to({"domainNames": ["a.io", "b.io"]}),
        to({"domainNames": ["a.io", "a.io"]}),
        "spec.egress[0].to[0].domainNames[1]",
        "duplicate",
    ),
    "protocols-min-items-1": Case(
        ingress(protocols=[tcp({"number": 80})]),
        ingress(protocols=[]),
        "spec.ingress[0].protocols",
        "at least 1",
    ),
    "protocols-max-items-25": Case(
        ingress(protocols=PROTOS[:25]), ingress(protocols=PROTOS), "spec.ingress[0].protocols", "25"
    ),
    "protocol-min-properties": Case(
        ingress(protocols=[{"destinationNamedPort": "http"}]),
        ingress(protocols=[tcp({"number": 80}), {}]),
        "spec.ingress[0].protocols[1]",
        "exactly one of: tcp, udp, sctp, destinationNamedPort",
    ),
    "protocol-max-properties": Case(
        ingress(protocols=[{"udp": {"destinationPort": {"number": 53}}}]),
        ingress(protocols=[{**tcp({"number": 80}), "udp": {"destinationPort": {"number": 53}}}]),
        "spec.ingress[0].protocols[0]",
        "exactly one of",
    ),
    "tcp-min-properties": Case(
        ingress(protocols=[{"sctp": {"destinationPort": {"number": 9}}}]),
        ingress(protocols=[{"sctp": {}}]),
        "spec.ingress[0].protocols[0].sctp",
        "at least 1 properties",
    ),
    "destination-port-one-of": Case(
        ingress(protocols=[tcp({"range": {"start": 1, "end": 2}})]),
        ingress(protocols=[tcp({"number": 1, "range": {"start": 1, "end": 2}})]),
        "spec.ingress[0].protocols[0].tcp.destinationPort",
        "exactly one of: number, range",
    ),
    "port-number-minimum-1": Case(
        ingress(protocols=[tcp({"number": 1})]),
        ingress(protocols=[tcp({"number": 0})]),
        "spec.ingress[0].protocols[0].tcp.destinationPort.number",
        "between 1 and 65535",
    ),
    "port-number-maximum-65535": Case(
        ingress(protocols=[tcp({"number": 65535})]),
        ingress(protocols=[tcp({"number": 65536})]),
        "spec.ingress[0].protocols[0].tcp.destinationPort.number",
        "between 1 and 65535",
    ),
    "range-start-end-required": Case(
        ingress(protocols=[tcp({"range": {"start": 80, "end": 90}})]),
        ingress(protocols=[tcp({"range": {"start": 80}})]),
        "spec.ingress[0].protocols[0].tcp.destinationPort.range.end",
        "is required",
    ),
    "range-cel-start-less-than-end": Case(
        egress(protocols=[{"udp": {"destinationPort": {"range": {"start": 5, "end": 6}}}}]),
        egress(protocols=[{"udp": {"destinationPort": {"range": {"start": 6, "end": 6}}}}]),
        "spec.egress[0].protocols[0].udp.destinationPort.range",
        "Start port must be less than End port",
    ),
    "egress-cel-no-named-port-with-networks": Case(
        to({"pods": {"podSelector": {}}}, protocols=[{"destinationNamedPort": "http"}]),
        to({"networks": ["10.0.0.0/8"]}, protocols=[{"destinationNamedPort": "http"}]),
        "spec.egress[0]",
        "networks/nodes/domainNames peer cannot be set with namedPorts",
    ),
    "egress-cel-no-named-port-with-nodes": Case(
        to({"nodes": {}}, protocols=[tcp({"number": 80})]),
        to({"namespaces": {}}, {"nodes": {}}, protocols=[{"destinationNamedPort": "http"}]),
        "spec.egress[0]",
        "networks/nodes/domainNames peer cannot be set with namedPorts",
    ),
    "egress-cel-no-named-port-with-domain-names": Case(
        to({"domainNames": ["a.io"]}, protocols=[tcp({"number": 443})]),
        to({"domainNames": ["a.io"]}, protocols=[{"destinationNamedPort": "https"}]),
        "spec.egress[0]",
        "networks/nodes/domainNames peer cannot be set with namedPorts",
    ),
    "selector-operator": Case(
        cnp(subject={"namespaces": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}}),
        cnp(subject={"namespaces": {"matchExpressions": [{"key": "a", "operator": "Is"}]}}),
        "spec.subject.namespaces.matchExpressions[0].operator",
        "",
    ),
}


def parse(body: Body) -> Any:
    return parse_documents([Document(Origin("p.yaml", 0), body)])


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_valid_object_is_accepted(case: Case) -> None:
    parsed = parse(case.valid)
    assert len(parsed.admin_policies) == 1
    assert parsed.admin_policies[0].kind == "ClusterNetworkPolicy"


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_invalid_object_is_refused_at_the_api_server_path(case: Case) -> None:
    with pytest.raises(ManifestError) as raised:
        parse(case.invalid)
    problems = raised.value.problems
    assert [(p.kind, p.name, p.field) for p in problems] == [
        ("ClusterNetworkPolicy", "p", case.field)
    ], problems
    assert case.fragment in problems[0].message


def test_every_cel_rule_and_limit_of_the_crd_has_a_case() -> None:
    """The CRD's CEL messages, maxItems values and enums all appear in the table above."""
    crd = yaml.safe_load((CRDS / "clusternetworkpolicies.v1alpha2.experimental.yaml").read_text())
    messages: set[str] = set()
    limits: set[int] = set()
    enums: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for rule in node.get("x-kubernetes-validations", ()):
                messages.add(rule["message"])
            if "maxItems" in node:
                limits.add(node["maxItems"])
            enums.update(node.get("enum", ()) if node.get("type") == "string" else ())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"])
    covered = " ".join(c.fragment for c in CASES.values())
    for message in messages:
        assert message.split(" since")[0] in covered, message
    assert limits == {25}
    assert {"Accept", "Deny", "Pass", "Admin", "Baseline"} == enums


def test_fields_map_onto_the_admin_model() -> None:
    parsed = parse(
        cnp(
            tier="Baseline",
            priority=7,
            egress=[
                {
                    "name": "web",
                    "action": "Accept",
                    "to": [{"pods": {"podSelector": {}}}],
                    "protocols": [
                        tcp({"number": 80}),
                        {"sctp": {"destinationPort": {"range": {"start": 9, "end": 12}}}},
                        {"destinationNamedPort": "dns"},
                    ],
                },
                {"action": "Pass", "to": [{"domainNames": ["*.example.com"]}]},
            ],
        )
    )
    (policy,) = parsed.admin_policies
    assert (policy.baseline, policy.priority, policy.cluster, policy.tier) == (
        True,
        7,
        True,
        "Baseline",
    )
    web, passed = policy.egress
    assert web.name == "web"
    assert web.action is AdminAction.ALLOW
    assert policy.action_name(web.action) == "Accept"
    assert [(p.protocol, p.port, p.end_port) for p in web.ports] == [
        (Protocol.TCP, 80, None),
        (Protocol.SCTP, 9, 12),
    ]
    assert web.named_ports == ("dns",)
    assert passed.action is AdminAction.PASS
    assert passed.peers[0].domain_names == ("*.example.com",)


def test_every_problem_of_one_object_is_reported() -> None:
    body = copy.deepcopy(cnp(priority=2000, tier="x"))
    with pytest.raises(ManifestError) as raised:
        parse(body)
    assert [p.field for p in raised.value.problems] == ["spec.priority", "spec.tier"]
