"""Malformed manifests: every rule reports one precise problem (document, object, field)."""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import pytest

from service.engine.model import Document, ManifestError, Origin
from service.engine.parse import parse_documents

Body = dict[str, Any]


class Expected(NamedTuple):
    fragment: str
    kind: str | None
    namespace: str | None
    name: str | None
    field: str | None
    document: int


NAMESPACE: Body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}


def policy(spec: Body, name: str = "np") -> Body:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": spec,
    }


def peers(*items: Any) -> Body:
    """A policy whose first ingress rule has ``items`` as its ``from``."""
    return policy({"podSelector": {}, "ingress": [{"from": list(items)}]})


def ports(*items: Any) -> Body:
    """A policy whose first ingress rule has ``items`` as its ``ports``."""
    return policy({"podSelector": {}, "ingress": [{"ports": list(items)}]})


def selector(sel: Any) -> Body:
    return policy({"podSelector": sel})


def ip_block(cidr: str, *excepts: Any) -> Body:
    block: Body = {"cidr": cidr}
    if excepts:
        block["except"] = list(excepts)
    return peers({"podSelector": {}}, {"ipBlock": block})


def pod(
    name: str = "web",
    labels: Any = None,
    containers: Any = None,
    namespace: str | None = "ns",
    **extra: Any,
) -> Body:
    metadata: Body = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels is not None:
        metadata["labels"] = labels
    body: Body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": containers or [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running", "podIP": "10.0.0.1"},
    }
    body.update(extra)
    return body


def with_ports(*items: Any, init: bool = False) -> Body:
    container = {"name": "c", "image": "i", "ports": list(items)}
    if init:
        container["restartPolicy"] = "Always"
        return pod(
            containers=[{"name": "main", "image": "i"}],
            spec={"containers": [{"name": "main", "image": "i"}], "initContainers": [container]},
        )
    return pod(containers=[container])


def service(*items: Any) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "svc", "namespace": "ns"},
        "spec": {"selector": {"app": "web"}, "ports": list(items)},
    }


def deployment(spec: Body) -> Body:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": spec,
    }


def np_err(fragment: str, field: str) -> Expected:
    return Expected(fragment, "NetworkPolicy", "ns", "np", field, 1)


def pod_err(fragment: str, field: str | None, name: str | None = "web") -> Expected:
    return Expected(fragment, "Pod", "ns", name, field, 1)


RULE0 = "spec.ingress[0]"
IPB = f"{RULE0}.from[1].ipBlock"

CASES = [
    # -- ipBlock ---------------------------------------------------------------------------
    pytest.param(
        [ip_block("10.0.0.0/33")], np_err("invalid CIDR", f"{IPB}.cidr"), id="cidr-bad-prefix"
    ),
    pytest.param(
        [ip_block("10.0.0.1")], np_err("invalid CIDR", f"{IPB}.cidr"), id="cidr-without-prefix"
    ),
    pytest.param(
        [ip_block("10.0.0.0/8", "10.300.0.0/16")],
        np_err("invalid CIDR", f"{IPB}.except[0]"),
        id="except-bad-cidr",
    ),
    pytest.param(
        [ip_block("10.0.0.0/8", "10.1.0.0/16", "11.0.0.0/16")],
        np_err("must be a strict subset of cidr", f"{IPB}.except[1]"),
        id="except-outside-cidr",
    ),
    pytest.param(
        [ip_block("10.0.0.0/8", "10.0.0.0/8")],
        np_err("must be a strict subset of cidr", f"{IPB}.except[0]"),
        id="except-equal-to-cidr",
    ),
    pytest.param(
        [ip_block("10.0.0.0/16", "10.0.0.0/8")],
        np_err("must be a strict subset of cidr", f"{IPB}.except[0]"),
        id="except-larger-than-cidr",
    ),
    pytest.param(
        [ip_block("10.0.0.0/8", "fd00::/64")],
        np_err("is IPv6 but cidr", f"{IPB}.except[0]"),
        id="except-other-family",
    ),
    pytest.param(
        [ip_block("10.0.0.0/8", 10)],
        np_err("expected a string, got integer", f"{IPB}.except[0]"),
        id="except-wrong-type",
    ),
    pytest.param(
        [peers({"ipBlock": {"except": ["10.0.0.0/8"]}})],
        np_err("is required", f"{RULE0}.from[0].ipBlock.cidr"),
        id="ipblock-without-cidr",
    ),
    # -- peers -----------------------------------------------------------------------------
    pytest.param(
        [peers({"podSelector": {}}, {})],
        np_err("must specify a peer", f"{RULE0}.from[1]"),
        id="peer-empty",
    ),
    pytest.param(
        [peers({"ipBlock": {"cidr": "10.0.0.0/8"}, "namespaceSelector": {}})],
        np_err("may not specify both ipBlock and another peer", f"{RULE0}.from[0]"),
        id="peer-ipblock-with-selector",
    ),
    pytest.param(
        [peers("everyone")],
        np_err("expected a map, got string", f"{RULE0}.from[0]"),
        id="peer-wrong-type",
    ),
    # -- ports -----------------------------------------------------------------------------
    pytest.param(
        [ports({"port": 80, "endPort": 79})],
        np_err("must be greater than or equal to `port`", f"{RULE0}.ports[0].endPort"),
        id="endport-below-port",
    ),
    pytest.param(
        [ports({"port": "http", "endPort": 90})],
        np_err("when `port` is non-numeric", f"{RULE0}.ports[0].endPort"),
        id="endport-with-named-port",
    ),
    pytest.param(
        [ports({"protocol": "TCP", "endPort": 90})],
        np_err("when `port` is not specified", f"{RULE0}.ports[0].endPort"),
        id="endport-without-port",
    ),
    pytest.param(
        [ports({"port": 80, "endPort": 65536})],
        np_err("between 1 and 65535", f"{RULE0}.ports[0].endPort"),
        id="endport-out-of-range",
    ),
    pytest.param(
        [ports({"port": 443}, {"port": 0})],
        np_err("between 1 and 65535", f"{RULE0}.ports[1].port"),
        id="port-zero",
    ),
    pytest.param(
        [ports({"port": 70000})],
        np_err("between 1 and 65535", f"{RULE0}.ports[0].port"),
        id="port-too-large",
    ),
    pytest.param(
        [ports({"port": "a-very-long-name"})],
        np_err("no more than 15 characters", f"{RULE0}.ports[0].port"),
        id="port-name-too-long",
    ),
    pytest.param(
        [ports({"port": "web_http"})],
        np_err("alpha-numeric characters (a-z, 0-9), and hyphens", f"{RULE0}.ports[0].port"),
        id="port-name-bad-characters",
    ),
    pytest.param(
        [ports({"port": "8080"})],
        np_err("at least one letter", f"{RULE0}.ports[0].port"),
        id="port-name-without-letter",
    ),
    pytest.param(
        [ports({"port": "my--port"})],
        np_err("consecutive hyphens", f"{RULE0}.ports[0].port"),
        id="port-name-double-hyphen",
    ),
    pytest.param(
        [ports({"port": "-http"})],
        np_err("must not begin or end with a hyphen", f"{RULE0}.ports[0].port"),
        id="port-name-leading-hyphen",
    ),
    pytest.param(
        [ports({"port": 80.5})],
        np_err("expected an integer or a string, got number", f"{RULE0}.ports[0].port"),
        id="port-wrong-type",
    ),
    pytest.param(
        [
            policy(
                {"podSelector": {}, "egress": [{"ports": [{"protocol": "ICMP"}]}]},
            )
        ],
        np_err('unsupported protocol "ICMP"', "spec.egress[0].ports[0].protocol"),
        id="protocol-unknown",
    ),
    # -- selectors -------------------------------------------------------------------------
    pytest.param(
        [selector({"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]})],
        np_err("not a valid selector operator", "spec.podSelector.matchExpressions[0].operator"),
        id="selector-operator-unknown",
    ),
    pytest.param(
        [selector({"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["a"]}]})],
        np_err("may not be specified", "spec.podSelector.matchExpressions[0].values"),
        id="selector-exists-with-values",
    ),
    pytest.param(
        [selector({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": []}]})],
        np_err("must be specified", "spec.podSelector.matchExpressions[0].values"),
        id="selector-notin-without-values",
    ),
    pytest.param(
        [
            selector(
                {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b c"]}]}
            )
        ],
        np_err('invalid label value "b c"', "spec.podSelector.matchExpressions[0].values[1]"),
        id="selector-expression-value-invalid",
    ),
    pytest.param(
        [selector({"matchExpressions": [{"key": "a/b/c", "operator": "Exists"}]})],
        np_err("qualified name", "spec.podSelector.matchExpressions[0].key"),
        id="selector-expression-key-invalid",
    ),
    pytest.param(
        [peers({"namespaceSelector": {"matchLabels": {"team": "a" * 64}}})],
        np_err(
            "no more than 63 characters",
            f"{RULE0}.from[0].namespaceSelector.matchLabels[team]",
        ),
        id="selector-match-labels-value-too-long",
    ),
    pytest.param(
        [selector({"matchLabels": ["app", "web"]})],
        np_err("expected a map, got list", "spec.podSelector.matchLabels"),
        id="selector-match-labels-wrong-type",
    ),
    # -- labels ----------------------------------------------------------------------------
    pytest.param(
        [pod(labels={"-bad": "x"})],
        pod_err('invalid label key "-bad"', "metadata.labels[-bad]"),
        id="label-key-invalid",
    ),
    pytest.param(
        [pod(labels={"Example.com/app": "x"})],
        pod_err("prefix part", "metadata.labels[Example.com/app]"),
        id="label-key-prefix-invalid",
    ),
    pytest.param(
        [pod(labels={"k" * 64: "x"})],
        pod_err("name part must be no more than 63", f"metadata.labels[{'k' * 64}]"),
        id="label-key-too-long",
    ),
    pytest.param(
        [pod(labels={"app": "web!"})],
        pod_err('invalid label value "web!"', "metadata.labels[app]"),
        id="label-value-invalid",
    ),
    pytest.param(
        [pod(labels={"version": 1})],
        pod_err("expected a string, got integer", "metadata.labels[version]"),
        id="label-value-wrong-type",
    ),
    # -- metadata, kind, apiVersion --------------------------------------------------------
    pytest.param(
        [pod(name="Web_1")],
        pod_err("invalid name", "metadata.name", name="Web_1"),
        id="name-invalid",
    ),
    pytest.param(
        [{"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "ns"}}],
        pod_err("is required", "metadata.name", name=None),
        id="name-missing",
    ),
    pytest.param(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team.a"}}],
        Expected("RFC 1123 label", "Namespace", None, "team.a", "metadata.name", 1),
        id="namespace-name-not-a-label",
    ),
    pytest.param(
        [pod(namespace="Prod")],
        Expected('invalid namespace "Prod"', "Pod", "Prod", "web", "metadata.namespace", 1),
        id="metadata-namespace-invalid",
    ),
    pytest.param(
        [{"apiVersion": "v1", "metadata": {"name": "x"}}],
        Expected("is required", None, None, None, "kind", 1),
        id="kind-missing",
    ),
    pytest.param(
        [{"apiVersion": "v1", "kind": "Pod Template", "metadata": {"name": "x"}}],
        Expected("invalid kind", None, None, None, "kind", 1),
        id="kind-invalid",
    ),
    pytest.param(
        [{"kind": "Pod", "metadata": {"name": "x"}}],
        Expected("is required", "Pod", None, None, "apiVersion", 1),
        id="api-version-missing",
    ),
    pytest.param(
        [{**policy({"podSelector": {}}), "apiVersion": "extensions/v1beta1"}],
        Expected(
            'unsupported apiVersion "extensions/v1beta1"',
            "NetworkPolicy",
            None,
            None,
            "apiVersion",
            1,
        ),
        id="api-version-unsupported",
    ),
    pytest.param(
        [["not", "an", "object"]],
        Expected("expected an object (a map), got list", None, None, None, None, 1),
        id="document-not-a-map",
    ),
    pytest.param(
        [pod(), pod()],
        Expected(
            "duplicate Pod ns/web: also defined at document 1",
            "Pod",
            "ns",
            "web",
            "metadata.name",
            2,
        ),
        id="duplicate-object",
    ),
    # -- wrong types -----------------------------------------------------------------------
    pytest.param(
        [policy({"podSelector": {}, "ingress": "all"})],
        np_err("expected a list, got string", "spec.ingress"),
        id="wrong-type-list",
    ),
    pytest.param(
        [policy({"podSelector": ["app"]})],
        np_err("expected a map, got list", "spec.podSelector"),
        id="wrong-type-map",
    ),
    pytest.param(
        [policy({"podSelector": {}, "policyTypes": "Ingress"})],
        np_err("expected a list, got string", "spec.policyTypes"),
        id="policy-types-not-a-list",
    ),
    pytest.param(
        [policy({"podSelector": {}, "policyTypes": ["Ingress", "Both"]})],
        np_err('unsupported policy type "Both"', "spec.policyTypes[1]"),
        id="policy-type-unknown",
    ),
    pytest.param(
        [pod(spec={"containers": [{"name": "c"}], "hostNetwork": "yes"})],
        pod_err("expected a boolean, got string", "spec.hostNetwork"),
        id="wrong-type-bool",
    ),
    # -- pods ------------------------------------------------------------------------------
    pytest.param(
        [with_ports({"containerPort": 8080}, {"containerPort": 0})],
        pod_err("between 1 and 65535", "spec.containers[0].ports[1].containerPort"),
        id="container-port-out-of-range",
    ),
    pytest.param(
        [with_ports({"containerPort": "8080"})],
        pod_err("expected an integer, got string", "spec.containers[0].ports[0].containerPort"),
        id="container-port-wrong-type",
    ),
    pytest.param(
        [with_ports({"containerPort": 8080, "name": "Http"})],
        pod_err('invalid port name "Http"', "spec.containers[0].ports[0].name"),
        id="container-port-name-invalid",
    ),
    pytest.param(
        [with_ports({"containerPort": 8080, "protocol": "HTTP"})],
        pod_err('unsupported protocol "HTTP"', "spec.containers[0].ports[0].protocol"),
        id="container-port-protocol-unknown",
    ),
    pytest.param(
        [with_ports({"containerPort": 70000}, init=True)],
        pod_err("between 1 and 65535", "spec.initContainers[0].ports[0].containerPort"),
        id="sidecar-port-out-of-range",
    ),
    pytest.param(
        [pod(status={"phase": "Running", "podIPs": [{"ip": "10.0.0.300"}]})],
        pod_err('invalid IP address "10.0.0.300"', "status.podIPs[0].ip"),
        id="pod-ip-invalid",
    ),
    pytest.param(
        [pod(metadata={"name": "web", "namespace": "ns", "ownerReferences": [{"kind": "Job"}]})],
        pod_err("is required", "metadata.ownerReferences[0].name"),
        id="owner-reference-without-name",
    ),
    # -- services --------------------------------------------------------------------------
    pytest.param(
        [service({"port": 80, "targetPort": "Web_Port"})],
        Expected(
            'invalid port name "Web_Port"', "Service", "ns", "svc", "spec.ports[0].targetPort", 1
        ),
        id="service-target-port-name-invalid",
    ),
    pytest.param(
        [service({"port": 80, "targetPort": 8080}, {"port": 81, "targetPort": 70000})],
        Expected("between 1 and 65535", "Service", "ns", "svc", "spec.ports[1].targetPort", 1),
        id="service-target-port-out-of-range",
    ),
    pytest.param(
        [service({"name": "web"})],
        Expected("is required", "Service", "ns", "svc", "spec.ports[0].port", 1),
        id="service-port-missing",
    ),
    # -- workloads -------------------------------------------------------------------------
    pytest.param(
        [deployment({"replicas": 1})],
        Expected("is required", "Deployment", "ns", "web", "spec.template", 1),
        id="workload-without-template",
    ),
    pytest.param(
        [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": {"name": "nightly", "namespace": "ns"},
                "spec": {
                    "schedule": "@daily",
                    "jobTemplate": {"spec": {"template": {"metadata": {"labels": {"app": "x y"}}}}},
                },
            }
        ],
        Expected(
            'invalid label value "x y"',
            "CronJob",
            "ns",
            "nightly",
            "spec.jobTemplate.spec.template.metadata.labels[app]",
            1,
        ),
        id="cronjob-template-label-invalid",
    ),
]


@pytest.mark.parametrize(("bodies", "expected"), CASES)
def test_malformed_input_reports_one_precise_problem(bodies: list[Any], expected: Expected) -> None:
    # Document 0 is always a valid Namespace: the broken object's index must be reported.
    documents = [
        Document(Origin(None, index), copy.deepcopy(body))
        for index, body in enumerate([NAMESPACE, *bodies])
    ]
    with pytest.raises(ManifestError) as caught:
        parse_documents(documents)
    problems = caught.value.problems
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert expected.fragment in problem.message
    assert problem.kind == expected.kind
    assert problem.namespace == expected.namespace
    assert problem.name == expected.name
    assert problem.field == expected.field
    assert problem.origin == Origin(None, expected.document)
