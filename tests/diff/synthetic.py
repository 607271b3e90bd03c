"""Synthetic, realistic clusters for the diff tests and the performance measurements.

Each namespace runs ``deployments`` Deployments of ``replicas`` live pods (owned through a
ReplicaSet, with IPs), one Service each, and four policies: default deny (both directions),
DNS egress to kube-dns, traffic inside the namespace, and ingress from the ingress
controller to the ``web`` tier. ``kube-system`` runs CoreDNS; ``ingress`` runs the
controller, which may reach every namespace.

Sizes: ``S`` 3 x 4 x 2 pods, ``M`` 50 x 20 x 10 (10,000 pods), ``L`` 200 x 50 x 10
(100,000 pods).
"""

from __future__ import annotations

import copy
from typing import Any

SIZES = {"S": (3, 4, 2), "M": (50, 20, 10), "L": (200, 50, 10)}

Body = dict[str, Any]


def namespace(name: str, labels: dict[str, str] | None = None) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": dict(labels or {})},
    }


def deployment(ns: str, name: str, labels: dict[str, str], port: int) -> Body:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "main", "image": "app:1", "ports": [{"containerPort": port}]}
                    ]
                },
            },
        },
    }


def pod(ns: str, owner: str, index: int, labels: dict[str, str], port: int, ip: str) -> Body:
    rs = f"{owner}-5d8f7c9b6"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{rs}-{index:05d}",
            "namespace": ns,
            "labels": {**labels, "pod-template-hash": "5d8f7c9b6"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "controller": True}
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "app:1",
                    "ports": [{"containerPort": port, "name": "http"}],
                }
            ]
        },
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
    }


def service(ns: str, name: str, port: int) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": port}]},
    }


def policy(ns: str, name: str, spec: Body) -> Body:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def default_deny(ns: str) -> Body:
    return policy(ns, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def allow_dns(ns: str) -> Body:
    return policy(
        ns,
        "allow-dns",
        {
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
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
    )


def allow_same_namespace(ns: str) -> Body:
    return policy(
        ns,
        "allow-same-namespace",
        {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [{"to": [{"podSelector": {}}]}],
        },
    )


def allow_ingress_controller(ns: str) -> Body:
    return policy(
        ns,
        "allow-ingress-controller",
        {
            "podSelector": {"matchLabels": {"tier": "web"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"namespaceSelector": {"matchLabels": {"role": "ingress"}}}],
                    "ports": [{"protocol": "TCP", "port": "http"}],
                }
            ],
        },
    )


class _Addresses:
    def __init__(self) -> None:
        self.next = 0

    def __call__(self) -> str:
        n = self.next
        self.next += 1
        return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255 or 1}"


def cluster(namespaces: int, deployments: int, replicas: int) -> list[Body]:
    """The documents of a synthetic cluster (a fresh list of fresh dicts)."""
    ip = _Addresses()
    docs: list[Body] = [namespace("kube-system")]
    dns_labels = {"k8s-app": "kube-dns"}
    docs.append(deployment("kube-system", "coredns", dns_labels, 53))
    docs += [pod("kube-system", "coredns", i, dns_labels, 53, ip()) for i in range(2)]
    docs.append(namespace("ingress", {"role": "ingress"}))
    ctl = {"app": "controller"}
    docs.append(deployment("ingress", "controller", ctl, 443))
    docs += [pod("ingress", "controller", i, ctl, 443, ip()) for i in range(2)]
    docs.append(
        policy(
            "ingress",
            "allow-from-anywhere",
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],
            },
        )
    )
    for n in range(namespaces):
        ns = f"team-{n:03d}"
        docs.append(namespace(ns, {"team": f"t{n % 5}"}))
        docs += [default_deny(ns), allow_dns(ns), allow_same_namespace(ns)]
        docs.append(allow_ingress_controller(ns))
        for d in range(deployments):
            name = f"app-{d:02d}"
            labels = {"app": name, "tier": "web" if d % 4 == 0 else "backend"}
            docs.append(deployment(ns, name, labels, 8080))
            docs.append(service(ns, name, 8080))
            docs += [pod(ns, name, r, labels, 8080, ip()) for r in range(replicas)]
    return docs


def sized(size: str) -> list[Body]:
    return cluster(*SIZES[size])


def changed(docs: list[Body], count: int) -> list[Body]:
    """``docs`` with ``count`` policies changed: each widens one namespace's
    ``allow-same-namespace`` to the namespaces of its own team (a widened namespaceSelector,
    both directions), so connections between those namespaces are added."""
    out = copy.deepcopy(docs)
    teams = {d["metadata"]["name"]: d["metadata"]["labels"].get("team") for d in out
             if d["kind"] == "Namespace"}  # fmt: skip
    policies = [
        d
        for d in out
        if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "allow-same-namespace"
    ]
    for body in policies[:count]:
        team = teams[body["metadata"]["namespace"]]
        peer = {"namespaceSelector": {"matchLabels": {"team": team}}}
        body["spec"]["ingress"][0]["from"].append(peer)
        body["spec"]["egress"][0]["to"].append(copy.deepcopy(peer))
    return out
