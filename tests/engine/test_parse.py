"""Parsing valid manifests: defaulting, ports, namespaces, warnings, duplicates, CIDRs."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from service.engine.model import (
    ContainerPort,
    Direction,
    Document,
    IPBlock,
    Labels,
    LabelSelector,
    ManifestError,
    ObjectRef,
    Operator,
    Origin,
    OwnerLink,
    Peer,
    PolicyPort,
    Protocol,
    Requirement,
    Rule,
    ServicePort,
)
from service.engine.parse import MAX_PROBLEMS, ParsedObjects, parse_documents

Body = dict[str, Any]


def parse(*bodies: Body) -> ParsedObjects:
    return parse_documents([Document(Origin(None, i), body) for i, body in enumerate(bodies)])


def policy(spec: Body, name: str = "np", namespace: str | None = "ns") -> Body:
    metadata: Body = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": spec,
    }


def pod(
    name: str = "web",
    namespace: str | None = "ns",
    labels: Body | None = None,
    spec: Body | None = None,
    status: Body | None = None,
    **metadata: Any,
) -> Body:
    meta: Body = {"name": name, **metadata}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels is not None:
        meta["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec or {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running", "podIP": "10.0.0.1"} if status is None else status,
    }


def namespace(name: str, labels: Body | None = None) -> Body:
    metadata: Body = {"name": name}
    if labels is not None:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def only_policy(spec: Body) -> Any:
    (parsed,) = parse(policy(spec)).policies
    return parsed


# -- policyTypes defaulting ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"podSelector": {}}, {Direction.INGRESS}, id="absent-no-rules"),
        pytest.param(
            {"podSelector": {}, "egress": [{"to": [{"podSelector": {}}]}]},
            {Direction.INGRESS, Direction.EGRESS},
            id="absent-with-egress-rules",
        ),
        pytest.param(
            {"podSelector": {}, "egress": [{}]},
            {Direction.INGRESS, Direction.EGRESS},
            id="absent-with-empty-egress-rule",
        ),
        pytest.param({"podSelector": {}, "egress": []}, {Direction.INGRESS}, id="absent-egress-[]"),
        pytest.param(
            {"podSelector": {}, "policyTypes": [], "egress": [{}]},
            {Direction.INGRESS, Direction.EGRESS},
            id="empty-list-is-absent",
        ),
        pytest.param(
            {"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]},
            {Direction.EGRESS},
            id="explicit-egress",
        ),
        pytest.param(
            {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            {Direction.INGRESS, Direction.EGRESS},
            id="explicit-both",
        ),
    ],
)
def test_policy_types(spec: Body, expected: set[Direction]) -> None:
    assert only_policy(spec).policy_types == frozenset(expected)


def test_rules_peers_and_ports() -> None:
    parsed = only_policy(
        {
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [
                {},
                {"from": [], "ports": []},
                {
                    "from": [
                        {"podSelector": {"matchLabels": {"app": "web"}}},
                        {"namespaceSelector": {}},
                        {
                            "namespaceSelector": {"matchLabels": {"team": "a"}},
                            "podSelector": {
                                "matchExpressions": [
                                    {"key": "tier", "operator": "NotIn", "values": ["b", "a"]},
                                    {"key": "canary", "operator": "DoesNotExist"},
                                ]
                            },
                        },
                        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.2.0.0/16"]}},
                    ],
                    "ports": [
                        {"port": 80},
                        {"protocol": "UDP", "port": 53},
                        {"port": "http"},
                        {"protocol": "SCTP"},
                        {"port": 8000, "endPort": 8080},
                    ],
                },
            ],
        }
    )
    assert parsed.pod_selector == LabelSelector.of({"app": "db"})
    assert parsed.ingress[0] == Rule()
    assert parsed.ingress[1] == Rule()
    rule = parsed.ingress[2]
    assert rule.peers == (
        Peer(pod_selector=LabelSelector.of({"app": "web"})),
        Peer(namespace_selector=LabelSelector()),
        Peer(
            pod_selector=LabelSelector.of(
                None,
                [
                    Requirement("tier", Operator.NOT_IN, ("a", "b")),
                    Requirement("canary", Operator.DOES_NOT_EXIST),
                ],
            ),
            namespace_selector=LabelSelector.of({"team": "a"}),
        ),
        Peer(ip_block=IPBlock.parse("10.0.0.0/8", ["10.2.0.0/16"])),
    )
    assert rule.ports == (
        PolicyPort(Protocol.TCP, 80),
        PolicyPort(Protocol.UDP, 53),
        PolicyPort(Protocol.TCP, "http"),
        PolicyPort(Protocol.SCTP),
        PolicyPort(Protocol.TCP, 8000, 8080),
    )
    assert parsed.egress == ()


def test_ingress_empty_list_allows_nothing_and_null_rule_allows_all() -> None:
    assert only_policy({"podSelector": {}, "ingress": []}).ingress == ()
    assert only_policy({"podSelector": {}, "ingress": [None]}).ingress == (Rule(),)
    assert only_policy({"podSelector": {}, "ingress": [{"ports": [None]}]}).ingress == (
        Rule(ports=(PolicyPort(Protocol.TCP),)),
    )


def test_missing_spec_and_pod_selector_select_everything() -> None:
    parsed = only_policy({})
    assert parsed.pod_selector.is_empty
    assert parsed.policy_types == frozenset({Direction.INGRESS})


@pytest.mark.parametrize(
    ("cidr", "excepts", "expected"),
    [
        pytest.param("10.0.1.1/4", [], "0.0.0.0/4", id="host-bits-in-cidr"),
        pytest.param("10.0.0.0/8", ["10.1.2.3/16"], "10.0.0.0/8", id="host-bits-in-except"),
        pytest.param("2001:db8::1/32", ["2001:db8:1::/48"], "2001:db8::/32", id="ipv6"),
    ],
)
def test_cidrs_with_host_bits_are_accepted(cidr: str, excepts: list[str], expected: str) -> None:
    parsed = only_policy({"ingress": [{"from": [{"ipBlock": {"cidr": cidr, "except": excepts}}]}]})
    block = parsed.ingress[0].peers[0].ip_block
    assert block is not None
    assert str(block.cidr) == expected
    assert block == IPBlock.parse(cidr, excepts)


# -- namespaces -----------------------------------------------------------------------------
def test_objects_without_namespace_are_in_default() -> None:
    parsed = parse(
        pod(namespace=None),
        policy({}, namespace=None),
        pod(name="other", namespace=""),
    )
    assert [p.pod.namespace for p in parsed.pods] == ["default", "default"]
    assert parsed.policies[0].namespace == "default"
    assert ObjectRef("Pod", "default", "web") in {ref for ref, _ in parsed.refs}


def test_namespace_name_label_is_added_and_wins() -> None:
    parsed = parse(
        namespace("a"),
        namespace("b", {"team": "x", "kubernetes.io/metadata.name": "spoofed"}),
        namespace("c", {"kubernetes.io/metadata.name": "c"}),
    )
    labels = {ns.name: ns.labels for ns in parsed.namespaces}
    assert labels["a"] == Labels({"kubernetes.io/metadata.name": "a"})
    assert labels["b"] == Labels({"team": "x", "kubernetes.io/metadata.name": "b"})
    assert labels["c"] == Labels({"kubernetes.io/metadata.name": "c"})
    assert all(ns.declared for ns in parsed.namespaces)


def test_namespace_objects_ignore_metadata_namespace() -> None:
    body = namespace("a")
    body["metadata"]["namespace"] = "whatever"
    (ns,) = parse(body).namespaces
    assert ns.name == "a"
    assert parse(body).refs[0][0] == ObjectRef("Namespace", "", "a")


# -- pods -----------------------------------------------------------------------------------
def test_pod_fields() -> None:
    parsed = parse(
        pod(
            labels={"app": "web", "pod-template-hash": "5d8f9"},
            ownerReferences=[
                {"apiVersion": "v1", "kind": "Thing", "name": "other"},
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-5d8f9",
                    "controller": True,
                },
            ],
            spec={
                "hostNetwork": True,
                "initContainers": [
                    {"name": "setup", "ports": [{"containerPort": 1111, "name": "setup"}]},
                    {
                        "name": "proxy",
                        "restartPolicy": "Always",
                        "ports": [{"containerPort": 15001, "name": "proxy"}],
                    },
                ],
                "containers": [
                    {
                        "name": "app",
                        "ports": [
                            {"containerPort": 8080, "name": "http"},
                            {"containerPort": 53, "protocol": "UDP", "name": "dns"},
                            {"containerPort": 9000},
                        ],
                    },
                    {"name": "no-ports"},
                ],
            },
            status={
                "phase": "Pending",
                "podIP": "10.0.0.9",
                "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}],
            },
        )
    )
    (live,) = parsed.pods
    assert live.owner == OwnerLink("ReplicaSet", "web-5d8f9")
    assert live.template_hash == "5d8f9"
    assert live.phase == "Pending"
    assert live.pod.ips == (ipaddress.ip_address("10.0.0.1"), ipaddress.ip_address("fd00::1"))
    assert live.pod.host_network is True
    assert live.pod.ports == (
        ContainerPort("http", 8080, Protocol.TCP),
        ContainerPort("dns", 53, Protocol.UDP),
        ContainerPort(None, 9000, Protocol.TCP),
        ContainerPort("proxy", 15001, Protocol.TCP),
    )
    assert live.pod.named_port("dns", Protocol.UDP) == 53
    assert live.pod.workload is None
    assert not live.pod.template


def test_pod_ip_falls_back_to_pod_ip_and_owner_to_the_first_reference() -> None:
    (live,) = parse(
        pod(ownerReferences=[{"kind": "Job", "name": "a"}, {"kind": "Job", "name": "b"}])
    ).pods
    assert live.pod.ips == (ipaddress.ip_address("10.0.0.1"),)
    assert live.owner == OwnerLink("Job", "a")
    (pending,) = parse(pod(status={})).pods
    assert pending.pod.ips == ()
    assert pending.phase is None


def test_pods_that_are_not_running_are_skipped_with_a_warning() -> None:
    parsed = parse(
        pod("done", status={"phase": "Succeeded"}),
        pod("crashed", status={"phase": "Failed"}),
        pod("pending", status={"phase": "Pending"}),
        pod("unknown", status={"phase": "Unknown"}),
        pod("running"),
        pod("no-status", status={}),
    )
    assert [p.pod.name for p in parsed.pods] == ["pending", "unknown", "running", "no-status"]
    assert parsed.warnings == (
        "skipped 2 pods that are not running (phase Succeeded or Failed): ns/done, ns/crashed",
    )
    assert len(parsed.refs) == 4


# -- kinds, warnings, duplicates ------------------------------------------------------------
def test_unsupported_kinds_are_skipped_with_one_warning() -> None:
    def other(kind: str, i: int, api: str = "v1") -> Body:
        return {"apiVersion": api, "kind": kind, "metadata": {"name": f"x{i}"}}

    parsed = parse(
        *[other("ConfigMap", i) for i in range(10)],
        other("Secret", 0),
        other("Secret", 1),
        other("Ingress", 0, "networking.k8s.io/v1"),
        pod(),
    )
    assert parsed.warnings == (
        "skipped 13 objects of unsupported kinds: ConfigMap (10), Secret (2), Ingress (1)",
    )
    assert len(parsed.pods) == 1
    assert [ref for ref, _ in parsed.refs] == [ObjectRef("Pod", "ns", "web")]
    single = parse({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    assert single.warnings == ("skipped 1 object of unsupported kind: ConfigMap (1)",)


def test_same_name_in_other_kinds_or_namespaces_is_no_duplicate() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "ns"},
    }
    parsed = parse(pod(), pod(namespace="other"), service, policy({}, name="web"))
    assert len(parsed.refs) == 4


def test_duplicates_name_both_documents() -> None:
    with pytest.raises(ManifestError) as caught:
        parse(namespace("ns"), policy({}), pod(), policy({}))
    (problem,) = caught.value.problems
    assert problem.origin == Origin(None, 3)
    assert "duplicate NetworkPolicy ns/np: also defined at document 1" in problem.message


def test_refs_and_origins_of_accepted_objects() -> None:
    documents = [
        Document(Origin("a.yaml", 0, line=1), namespace("ns")),
        Document(Origin("a.yaml", 1, item=0, line=5), pod()),
        Document(Origin("b.yaml", 0), policy({})),
    ]
    parsed = parse_documents(documents)
    assert parsed.refs == (
        (ObjectRef("Namespace", "", "ns"), documents[0].origin),
        (ObjectRef("Pod", "ns", "web"), documents[1].origin),
        (ObjectRef("NetworkPolicy", "ns", "np"), documents[2].origin),
    )


# -- every problem at once ------------------------------------------------------------------
def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ManifestError) as caught:
        parse(
            pod(labels={"app": "a b"}),
            policy({"ingress": [{"ports": [{"port": 0}]}]}),
            pod(name="other", labels={"app": "a b"}),
        )
    assert [(p.origin.document if p.origin else None, p.field) for p in caught.value.problems] == [
        (0, "metadata.labels[app]"),
        (1, "spec.ingress[0].ports[0].port"),
        (2, "metadata.labels[app]"),
    ]


def test_problems_are_capped() -> None:
    bodies = [pod(name=f"p{i}", labels={"bad key": "x"}) for i in range(MAX_PROBLEMS + 200)]
    with pytest.raises(ManifestError) as caught:
        parse(*bodies)
    problems = caught.value.problems
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1].message == "200 more problems not shown"


def test_cached_values_do_not_hide_type_errors() -> None:
    """Caches are keyed by value; True == 1 and 1.0 == 1 in Python, but not in Kubernetes."""
    good = {"containers": [{"name": "c", "ports": [{"containerPort": 1, "name": "a"}]}]}
    bad_bool = {"containers": [{"name": "c", "ports": [{"containerPort": True, "name": "a"}]}]}
    bad_float = {"containers": [{"name": "c", "ports": [{"containerPort": 1.0, "name": "a"}]}]}
    with pytest.raises(ManifestError) as caught:
        parse(pod("a", spec=good), pod("b", spec=bad_bool), pod("c", spec=bad_float))
    assert [p.name for p in caught.value.problems] == ["b", "c"]
    port_rule = {"ingress": [{"ports": [{"port": 1}]}]}
    bad_rule = {"ingress": [{"ports": [{"port": True}]}]}
    with pytest.raises(ManifestError) as caught:
        parse(policy(port_rule, "a"), policy(bad_rule, "b"))
    assert [p.name for p in caught.value.problems] == ["b"]


# -- services and workloads -----------------------------------------------------------------
def test_services() -> None:
    def service(name: str, spec: Body) -> Body:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}

    parsed = parse(
        service(
            "web",
            {
                "selector": {"app": "web"},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http"},
                    {"port": 443, "targetPort": 8443},
                    {"port": 53, "protocol": "UDP"},
                    {"port": 8080, "targetPort": 0},
                ],
            },
        ),
        service("external", {"type": "ExternalName", "externalName": "example.com"}),
        service("empty-selector", {"selector": {}, "ports": [{"port": 80}]}),
    )
    web, external, empty = parsed.services
    assert web.namespace == "default"
    assert web.selector == Labels({"app": "web"})
    assert web.ports == (
        ServicePort("http", 80, "http", Protocol.TCP),
        ServicePort(None, 443, 8443, Protocol.TCP),
        ServicePort(None, 53, 53, Protocol.UDP),
        ServicePort(None, 8080, 8080, Protocol.TCP),
    )
    assert external.selector is None
    assert external.ports == ()
    assert empty.selector is None


def test_workload_templates_and_owners() -> None:
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http"}]}]},
    }
    bodies = [
        {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": "w"},
            "spec": {"template": template},
        }
        for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
    ]
    bodies.append(
        {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": {"name": "w"},
            "spec": {"template": template},
        }
    )
    bodies[4]["apiVersion"] = "batch/v1"
    bodies[3]["metadata"]["ownerReferences"] = [
        {"kind": "Deployment", "name": "w", "controller": True}
    ]
    bodies.append(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "w", "namespace": "jobs"},
            "spec": {
                "jobTemplate": {"spec": {"template": {**template, "spec": {"hostNetwork": True}}}}
            },
        }
    )
    parsed = parse(*bodies)
    kinds = [w.kind for w in parsed.workloads]
    assert kinds == [
        "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
        "ReplicationController", "CronJob",
    ]  # fmt: skip
    for workload in parsed.workloads[:-1]:
        assert workload.namespace == "default"
        assert workload.template_labels == Labels({"app": "web"})
        assert workload.template_ports == (ContainerPort("http", 80),)
    assert parsed.workloads[3].owner == OwnerLink("Deployment", "w")
    cron = parsed.workloads[-1]
    assert (cron.namespace, cron.host_network, cron.template_ports) == ("jobs", True, ())
