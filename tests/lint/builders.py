"""Tiny Kubernetes manifests as dicts, for lint cases."""

from __future__ import annotations

import json
from typing import Any

from service.engine.compile import CompiledCluster
from service.engine.lint import Finding, lint
from service.usecases.manifests import Manifests, load_bytes

Obj = dict[str, Any]


def namespace(name: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(
    ns: str,
    name: str,
    labels: dict[str, str],
    ip: str | None = None,
    ports: list[tuple[str, int, str]] = (),  # type: ignore[assignment]
    host_network: bool = False,
) -> Obj:
    container: Obj = {"name": "main", "image": "example"}
    if ports:
        container["ports"] = [
            {"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports
        ]
    body: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [container]},
    }
    if host_network:
        body["spec"]["hostNetwork"] = True
    if ip is not None:
        body["status"] = {"podIP": ip, "podIPs": [{"ip": ip}], "phase": "Running"}
    return body


def policy(ns: str, name: str, spec: Obj, annotations: dict[str, str] | None = None) -> Obj:
    metadata: Obj = {"name": name, "namespace": ns}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": spec,
    }


def node(name: str, address: str, **labels: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"addresses": [{"type": "InternalIP", "address": address}]},
    }


def deny_nodes(labels: dict[str, str]) -> Obj:
    """An AdminNetworkPolicy denying every namespace's egress to the Nodes with ``labels``."""
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": "deny-nodes"},
        "spec": {
            "priority": 10,
            "subject": {"namespaces": {}},
            "egress": [{"action": "Deny", "to": [{"nodes": {"matchLabels": labels}}]}],
        },
    }


def cnp(name: str, tier: str, priority: int, subject: Obj, **rules: list[Obj]) -> Obj:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"tier": tier, "priority": priority, "subject": subject, **rules},
    }


def cnp_rule(action: str, key: str, peers: list[Obj], protocols: list[Obj] | None = None) -> Obj:
    body: Obj = {"name": f"{action.lower()}-rule", "action": action, key: peers}
    if protocols is not None:
        body["protocols"] = protocols
    return body


def anp(name: str, priority: int, subject: Obj, **rules: list[Obj]) -> Obj:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"priority": priority, "subject": subject, **rules},
    }


def service(ns: str, name: str, selector: dict[str, str], port: int, target: int | str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": selector,
            "ports": [{"name": "main", "port": port, "targetPort": target, "protocol": "TCP"}],
        },
    }


def base() -> list[Obj]:
    """A small cluster without policies: kube-system with CoreDNS, shop (web, api), other."""
    return [
        namespace("kube-system"),
        namespace("shop", team="shop"),
        namespace("other", team="other"),
        pod(
            "kube-system", "coredns", {"k8s-app": "kube-dns"}, "10.0.0.10",
            [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")],
        ),
        pod("shop", "web", {"app": "web"}, "10.0.1.1", [("http", 8080, "TCP")]),
        pod("shop", "api", {"app": "api"}, "10.0.1.2", [("http", 9090, "TCP")]),
        pod("other", "client", {"app": "client"}, "10.0.2.1"),
    ]  # fmt: skip


def manifests(objects: list[Obj]) -> Manifests:
    return load_bytes(json.dumps(objects).encode(), content_type="application/json")


def compiled(objects: list[Obj]) -> CompiledCluster:
    return manifests(objects).compile()


def findings(objects: list[Obj]) -> list[Finding]:
    return lint(compiled(objects))


# -- policies used by several cases ------------------------------------------------------

DENY_EGRESS: Obj = {"podSelector": {}, "policyTypes": ["Egress"]}
DENY_INGRESS: Obj = {"podSelector": {}, "policyTypes": ["Ingress"]}


def dns_egress(*protocols: str) -> Obj:
    return {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                        },
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": [{"protocol": p, "port": 53} for p in protocols],
            }
        ],
    }


def allow_from(selector: dict[str, str], peer: Obj, ports: list[Obj] | None = None) -> Obj:
    rule: Obj = {"from": [peer]}
    if ports is not None:
        rule["ports"] = ports
    return {
        "podSelector": {"matchLabels": selector},
        "policyTypes": ["Ingress"],
        "ingress": [rule],
    }
