"""Small, realistic manifests for the API tests: a shop talking to a database.

- ``db`` is default-deny for ingress; ``pg`` admits ``shop`` pods labelled ``app=api`` on the
  named port ``pg`` (5432); ``metrics`` admits the ``monitoring`` namespace on 9187.
- ``shop/web`` is a Deployment (its pods are represented by its template); ``shop/api-0`` is
  a bare pod; ``db/Service/pg`` targets the named port ``pg``.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

SHOP_YAML = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: db}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: shop/web:1.4
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: shop, labels: {app: api}}
spec:
  containers:
  - name: api
    image: shop/api:2.0
    ports: [{name: api, containerPort: 9000}]
---
apiVersion: v1
kind: Pod
metadata: {name: pg-0, namespace: db, labels: {app: pg}}
spec:
  containers:
  - name: postgres
    image: postgres:16
    ports: [{name: pg, containerPort: 5432}]
  - name: exporter
    image: exporter:1
    ports: [{name: metrics, containerPort: 9187}]
---
apiVersion: v1
kind: Pod
metadata: {name: prometheus-0, namespace: monitoring, labels: {app: prometheus}}
spec:
  containers: [{name: prometheus, image: prom:2}]
---
apiVersion: v1
kind: Service
metadata: {name: pg, namespace: db}
spec:
  selector: {app: pg}
  ports: [{port: 5432, targetPort: pg}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: db}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: pg-from-api, namespace: db}
spec:
  podSelector: {matchLabels: {app: pg}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: shop}}
      podSelector: {matchLabels: {app: api}}
    ports: [{port: pg}]
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
    ports: [{port: 9187}]
"""

# A later version: the web tier may now reach the database too.
WEB_TO_DB_YAML = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: pg-from-web, namespace: db}
spec:
  podSelector: {matchLabels: {app: pg}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: shop}}
      podSelector: {matchLabels: {app: web}}
    ports: [{port: 5432}]
"""

# Document 1 is a NetworkPolicy with an invalid port and document 2 a Pod without a name.
INVALID_YAML = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 70000}]
---
apiVersion: v1
kind: Pod
metadata: {namespace: shop}
spec: {containers: [{name: c, image: i}]}
"""


def objects(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def as_json_list(text: str) -> bytes:
    """The same objects as ``kubectl get -o json`` prints them: a ``kind: List``."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": objects(text)}).encode()


def as_json_array(text: str) -> bytes:
    return json.dumps(objects(text)).encode()
