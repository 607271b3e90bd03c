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
