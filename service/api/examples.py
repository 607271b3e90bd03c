"""Example requests and responses shown in the OpenAPI document (and in `/docs`)."""

from __future__ import annotations

from typing import Any

YAML_EXAMPLE = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 80, name: http}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""

SNAPSHOT_EXAMPLE: dict[str, Any] = {
    "cluster": "prod",
    "version": 3,
    "id": 17,
    "content_hash": "9f2c" + "0" * 60,
    "created_at": "2026-11-27T10:00:00Z",
    "counts": {"Namespace": 1, "NetworkPolicy": 1, "Pod": 1},
    "warnings": [],
    "labels": {"env": "prod"},
    "source": "git@example:shop@abc123",
    "object_count": 3,
}

QUESTION_EXAMPLE: dict[str, Any] = {
    "from": "shop/Deployment/web",
    "to": "db/Service/pg",
    "port": 5432,
}

BATCH_EXAMPLE: dict[str, Any] = {
    "questions": [
        QUESTION_EXAMPLE,
        {"from": "shop/web-0", "to": "10.0.0.5", "port": 443, "protocol": "TCP"},
    ]
}

WHAT_IF_EXAMPLE: dict[str, Any] = {
    "delete": [{"kind": "NetworkPolicy", "namespace": "shop", "name": "api-from-web"}],
    "granularity": "workload",
    "format": "json",
}

_WEB = {"kind": "Deployment", "namespace": "shop", "name": "web"}
_API = {"kind": "Deployment", "namespace": "shop", "name": "api"}
_TCP_8080 = [{"protocol": "TCP", "port": 8080}]
_SIDE = {
    "endpoint": "shop/api-7d9f-x2",
    "subject_to_policies": True,
    "isolated": True,
    "policies": [{"namespace": "shop", "name": "api-from-web"}],
    "effects": [
        {
            "tier": "NetworkPolicy",
            "policy": {"namespace": "shop", "name": "api-from-web"},
            "direction": "Ingress",
            "rule": 0,
            "peer": 0,
            "ports": _TCP_8080,
            "action": "Allow",
        }
    ],
    "allowed_ports": _TCP_8080,
    "reason": "rule 0 of shop/api-from-web admits the peer on TCP 8080",
}
VERDICT_EXAMPLE: dict[str, Any] = {
    "from": "shop/Deployment/web",
    "to": "shop/Service/api",
    "protocol": "TCP",
    "port": 8080,
    "allowed": True,
    "partially_allowed": False,
    "ports": _TCP_8080,
    "explanation": {"egress": {**_SIDE, "endpoint": "shop/web-5c6b-aa1", "effects": [],
                               "isolated": False, "policies": [],
                               "reason": "not isolated for egress"}, "ingress": _SIDE},
    "pairs": [],
    "pair_count": 1,
    "notes": [],
}  # fmt: skip
_CLUSTER = {"name": "prod", "created_at": "2026-11-27T10:00:00Z", "latest_version": 3,
            "snapshot_count": 3}  # fmt: skip
_DIFF: dict[str, Any] = {
    "base": {"cluster": "prod", "version": 2, "content_hash": "ab12" + "0" * 60,
             "created_at": "2026-11-26T10:00:00+00:00"},
    "head": {"cluster": "prod", "version": 3, "content_hash": "9f2c" + "0" * 60,
             "created_at": "2026-11-27T10:00:00+00:00"},
    "granularity": "workload",
    "summary": {"connections": {"added": 1, "removed": 0, "changed": 0},
                "objects": {"added": 1, "removed": 0, "changed": 0},
                "highlights": {"external_exposure": 0, "cross_namespace": 0, "lost_ingress": 0,
                               "lost_egress": 0, "narrowed_egress": 0, "lost_dns": 0},
                "via_services": 0},
    "highlights": {"external_exposure": [], "cross_namespace": [], "lost_ingress": [],
                   "lost_egress": [], "narrowed_egress": [], "lost_dns": []},
    "connections": {"added": [{"from": _WEB, "to": _API, "ports": _TCP_8080, "causes": [
                        {"kind": "policy-added",
                         "object": {"kind": "NetworkPolicy", "namespace": "shop",
                                    "name": "api-from-web"},
                         "details": ["ingress rule 0 peer 0"]}]}],
                    "removed": [], "changed": [], "via_services": []},
    "objects": {"added": [{"kind": "NetworkPolicy", "namespace": "shop", "name": "api-from-web"}],
                "removed": [], "changed": []},
}  # fmt: skip
_ASKED = {"cluster": "prod", "from": "shop/Deployment/web", "to": "0.0.0.0", "port": None,
          "protocol": None}  # fmt: skip

# (method, path) -> {"request": example body, "response": example JSON of the 2xx answer}
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/healthz"): {"response": {"status": "ok"}},
    ("get", "/readyz"): {
        "response": {"status": "ready", "database": "postgresql", "schema_revision": "4a8ac8a2"}
    },
    ("get", "/metrics"): {
        "text": 'netreach_http_requests_total{method="GET",route="/healthz",status="200"} 12.0\n'
    },
    ("get", "/v1/clusters"): {"response": {"items": [_CLUSTER]}},
    ("get", "/v1/clusters/{cluster}"): {"response": _CLUSTER},
    ("post", "/v1/clusters/{cluster}/snapshots"): {"response": SNAPSHOT_EXAMPLE},
    ("get", "/v1/clusters/{cluster}/snapshots"): {
        "response": {"items": [SNAPSHOT_EXAMPLE], "next_cursor": None, "limit": 100}
    },
    ("get", "/v1/clusters/{cluster}/snapshots/{ref}"): {"response": SNAPSHOT_EXAMPLE},
    ("get", "/v1/clusters/{cluster}/snapshots/{ref}/objects"): {
        "response": {
            "cluster": "prod",
            "version": 3,
            "items": [
                {
                    "kind": "Namespace",
                    "namespace": None,
                    "name": "shop",
                    "content_hash": "77aa" + "0" * 60,
                    "body": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
                }
            ],
            "next_cursor": "o.WzMsIjlmMmMiLDEsIjAwMDAwMDAwIl18YWJjZGVmMTI",
            "limit": 1,
        }
    },
    ("get", "/v1/clusters/{cluster}/snapshots/{ref}/connectivity"): {
        "response": {
            "cluster": "prod",
            "version": 3,
            "granularity": "workload",
            "total": 1,
            "limit": None,
            "next_cursor": None,
            "connections": [{"from": _WEB, "to": _API, "ports": _TCP_8080}],
        },
        "text": "from,to,ports\nshop/Deployment/web,shop/Deployment/api,TCP 8080\n",
    },
    ("get", "/v1/clusters/{cluster}/snapshots/{ref}/connectivity/summary"): {
        "response": {
            "cluster": "prod",
            "version": 3,
            "granularity": "workload",
            "filter": {"port": None, "protocol": None},
            "groups": [
                {"key": "shop", "kind": "Namespace", "workloads": 2, "pods": 5},
                {"key": "IPBlock", "kind": "IPBlock", "workloads": 1, "pods": 0},
            ],
            "cells": [
                {
                    "from": "shop",
                    "to": "shop",
                    "workload_pairs": 1,
                    "connections": 1,
                    "ports": _TCP_8080,
                    "external": False,
                    "dns": False,
                }
            ],
            "connections": 1,
        }
    },
    ("get", "/v1/clusters/{cluster}/snapshots/{ref}/connectivity/between"): {
        "response": {
            "cluster": "prod",
            "version": 3,
            "from": "shop",
            "to": "shop",
            "filter": {"port": None, "protocol": None},
            "total": 1,
            "limit": 100,
            "next_cursor": None,
            "connections": [{"from": _WEB, "to": _API, "ports": _TCP_8080}],
        }
    },
    ("post", "/v1/clusters/{cluster}/snapshots/{ref}/reachability"): {
        "request": QUESTION_EXAMPLE,
        "response": {"cluster": "prod", "version": 3, **VERDICT_EXAMPLE},
    },
    ("post", "/v1/clusters/{cluster}/snapshots/{ref}/reachability:batch"): {
        "request": BATCH_EXAMPLE,
        "response": {
            "cluster": "prod",
            "version": 3,
            "results": [
                {"index": 0, "verdict": VERDICT_EXAMPLE},
                {
                    "index": 1,
                    "error": {
                        "code": "not_found",
                        "message": "no pod shop/web-0",
                        "details": [{"field": "from"}],
                    },
                },
            ],
            "allowed": 1,
            "denied": 0,
            "errors": 1,
        },
    },
    ("get", "/v1/clusters/{cluster}/diff"): {"response": _DIFF, "text": "**netreach**: ..."},
    ("get", "/v1/diff"): {"response": _DIFF, "text": "**netreach**: `staging@3` → `prod@9` ..."},
    ("post", "/v1/clusters/{cluster}/snapshots/{ref}/what-if"): {
        "request": WHAT_IF_EXAMPLE,
        "response": {
            **_DIFF,
            "head": {**_DIFF["base"], "what_if": {"replaced_or_added": 0, "deleted": 1}},
        },
        "text": "**netreach**: `prod@3` → `prod@3+what-if` ...",
    },
    ("get", "/v1/clusters/{cluster}/history/reachability"): {
        "response": {
            **_ASKED,
            "first": "denied",
            "version": 3,
            "previous_version": 2,
            "versions_searched": 3,
            "note": "first denied in version 3 (version 2 was not)",
            "probes": [
                {"version": 1, "state": "allowed"},
                {"version": 3, "state": "denied"},
                {"version": 2, "state": "allowed"},
            ],
        }
    },
    ("get", "/v1/clusters/{cluster}/snapshots/{ref}/lint"): {
        "response": {
            "cluster": "prod",
            "version": 3,
            "findings": [
                {
                    "severity": "warning",
                    "code": "NR003",
                    "check": "unused-policy",
                    "message": "shop/old-policy selects no pod",
                    "object": {"kind": "NetworkPolicy", "namespace": "shop", "name": "old-policy"},
                    "objects": [],
                    "suggestion": "delete it, or fix its podSelector",
                }
            ],
            "summary": {"error": 0, "warning": 1, "info": 0},
            "suppressed": 0,
        },
        "text": "warning NR003 unused-policy: NetworkPolicy shop/old-policy\n",
        "application/sarif+json": {"version": "2.1.0", "runs": []},
    },
}
