"""Explanations that name the real reason: a named port the destination does not define,
the Service port -> targetPort -> container port chain, and for a port given without a
protocol, the verdict of each protocol that differs."""

from __future__ import annotations

from typing import Any

from service.engine.model import Document, Origin
from service.engine.reachability import check
from service.report.verdict import verdict_to_api, verdict_to_text
from service.usecases.manifests import from_documents


def _deployment(ns: str, name: str, ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "i",
                                                       "ports": ports}]}}},
    }  # fmt: skip


def _policy(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}  # fmt: skip


DOCS = [
    _deployment("shop", "web", []),
    _deployment("shop", "api", [{"containerPort": 8443, "name": "https"}]),
    _deployment("kube-system", "dns", [{"containerPort": 53, "protocol": "UDP", "name": "dns"}]),
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "shop"},
     "spec": {"selector": {"app": "api"},
              "ports": [{"name": "https", "port": 443, "targetPort": "https"}]}},
    _policy("shop", "api", {"podSelector": {"matchLabels": {"app": "api"}},
                            "ingress": [{"ports": [{"port": "metrics"}, {"port": "https"}]}]}),
    _policy("shop", "egress", {
        "podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"ports": [{"protocol": "UDP", "port": 53}]},
                   {"to": [{"podSelector": {"matchLabels": {"app": "api"}}}]}]}),
]  # fmt: skip


def _compiled() -> Any:
    return from_documents([Document(Origin(None, i), b) for i, b in enumerate(DOCS)]).compile()


def test_a_named_port_the_destination_lacks_is_named() -> None:
    verdict = check(_compiled(), "shop/Deployment/web", "shop/Deployment/api", port=9100)
    ingress = verdict.pairs[0].ingress
    [effect] = ingress.effects
    assert effect.missing_named_ports == ("TCP metrics",)
    assert "names port metrics (TCP), which shop/api-template does not define" in ingress.reason
    api = verdict_to_api(verdict)
    assert api["explanation"]["ingress"]["effects"][0]["missing_named_ports"] == ["TCP metrics"]
    assert "(named port TCP metrics not defined)" in verdict_to_text(verdict)


def test_a_query_to_a_service_shows_the_port_chain() -> None:
    verdict = check(_compiled(), "shop/Deployment/web", "shop/Service/api", port=443)
    assert verdict.allowed
    [pair] = verdict.pairs
    assert pair.route == (
        "Service shop/api port 443 (https) -> targetPort https -> shop/api-template "
        "container port 8443/TCP",
    )
    assert verdict_to_api(verdict)["pairs"][0]["route"] == list(pair.route)
    assert "via Service shop/api port 443 (https) -> targetPort https" in verdict_to_text(verdict)


def test_a_port_without_protocol_reports_the_protocols_that_differ() -> None:
    verdict = check(_compiled(), "shop/Deployment/web", "kube-system/Deployment/dns", port=53)
    assert not verdict.allowed  # TCP 53, as before
    assert any(
        note.startswith("TCP 53 denied (a port without a protocol means TCP); UDP 53 allowed "
                        "by shop/egress egress rule 0")
        for note in verdict.notes
    ), verdict.notes  # fmt: skip
    differs = check(_compiled(), "shop/Deployment/web", "shop/Deployment/api", port=8443)
    assert differs.allowed
    assert "TCP 8443 allowed (a port without a protocol means TCP); UDP 8443 denied; " \
        "SCTP 8443 denied" in differs.notes  # fmt: skip
    same = check(_compiled(), "shop/Deployment/web", "shop/Deployment/api", port=9999)
    assert not any("UDP" in n for n in same.notes)  # every protocol agrees: nothing to say


def test_a_named_port_without_protocol_uses_the_protocol_the_pod_defines() -> None:
    verdict = check(_compiled(), "shop/Deployment/web", "kube-system/Deployment/dns", port="dns")
    assert verdict.allowed
    assert str(verdict.ports) == "UDP 53"
