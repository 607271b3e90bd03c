"""A small, faithful fake of the Kubernetes API server: discovery and the list API over TLS.

What it does as the real one does (client-go and kubectl see no difference for what
capture uses):

- discovery: ``/api`` (APIVersions), ``/apis`` (APIGroupList), ``/api/v1`` and
  ``/apis/{group}/{version}`` (APIResourceList, subresources included); a group/version it
  does not serve is a 404 Status;
- lists at ``/api/v1/{plural}``, ``/api/v1/namespaces/{ns}/{plural}``,
  ``/apis/{g}/{v}/{plural}`` and ``/apis/{g}/{v}/namespaces/{ns}/{plural}``, sorted by
  namespace and name (etcd key order), with ``limit`` and opaque ``continue`` tokens that
  page through the state as it was when the list started (a consistent snapshot), and
  ``metadata.remainingItemCount``; items of built-in kinds come without ``kind`` and
  ``apiVersion`` (the real server leaves them out of typed lists), custom resources with;
- ``GET /api/v1/namespaces/{name}``;
- authentication by bearer token or TLS client certificate (CN = user name): none or a
  wrong one is ``401 Unauthorized``;
- failures on demand: ``403`` on chosen resources (with the server's own message),
  ``410 Expired`` on the next continue token of a resource (with a new token in the
  Status, as the real server sends), 500s, slow answers;
- server-side bookkeeping on every object (uid, resourceVersion, creationTimestamp,
  generation, managedFields, status conditions) and Node heartbeats that change on every
  list, so that a capture that kept them would never be the same twice.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import random
import ssl
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme


@dataclass(frozen=True)
class Kind:
    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def builtin(self) -> bool:
        return self.group != "policy.networking.k8s.io"


BUILTIN = (
    Kind("Namespace", "", "v1", "namespaces", False),
    Kind("Node", "", "v1", "nodes", False),
    Kind("Pod", "", "v1", "pods", True),
    Kind("Service", "", "v1", "services", True),
    Kind("ReplicationController", "", "v1", "replicationcontrollers", True),
    Kind("ConfigMap", "", "v1", "configmaps", True),
    Kind("Deployment", "apps", "v1", "deployments", True),
    Kind("StatefulSet", "apps", "v1", "statefulsets", True),
    Kind("DaemonSet", "apps", "v1", "daemonsets", True),
    Kind("ReplicaSet", "apps", "v1", "replicasets", True),
    Kind("Job", "batch", "v1", "jobs", True),
    Kind("CronJob", "batch", "v1", "cronjobs", True),
    Kind("NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies", True),
)
ADMIN = (
    Kind("AdminNetworkPolicy", "policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies",
         False),
    Kind("BaselineAdminNetworkPolicy", "policy.networking.k8s.io", "v1alpha1",
         "baselineadminnetworkpolicies", False),
)  # fmt: skip
CLUSTER_NETWORK_POLICY = Kind(
    "ClusterNetworkPolicy", "policy.networking.k8s.io", "v1alpha2", "clusternetworkpolicies", False
)
ALL_KINDS = (*BUILTIN, *ADMIN, CLUSTER_NETWORK_POLICY)
CREATED = "2025-01-02T03:04:05Z"
EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


def status(code: int, reason: str, message: str, **extra: Any) -> dict[str, Any]:
    metadata = extra.pop("metadata", {})
    return {"kind": "Status", "apiVersion": "v1", "metadata": metadata, "status": "Failure",
            "message": message, "reason": reason, "code": code, **extra}  # fmt: skip


@dataclass
class Behaviour:
    """Failures and delays the server is told to produce."""

    forbidden: set[tuple[str, str | None]] = field(default_factory=set)  # (plural, namespace)
    expire_continue: dict[str, int] = field(default_factory=dict)  # plural -> times
    on_expire: list[Any] = field(default_factory=list)  # callables run when a token expires
    fail_requests: int = 0  # answer 500 to this many requests
    delay: dict[str, float] = field(default_factory=dict)  # plural -> seconds
    shuffle: bool = True  # hand out objects in a random order (capture must sort)


class FakeCluster:
    """The state: objects by kind, namespace and name, decorated as the API server would."""

    def __init__(self, served: Iterable[Kind] = ALL_KINDS) -> None:
        self.served = {kind.plural: kind for kind in served}
        self._by_kind = {kind.kind: kind for kind in ALL_KINDS}
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            plural: {} for plural in self.served
        }
        self._revision = itertools.count(1000)
        self.lock = threading.RLock()

    def resource_version(self) -> str:
        return str(next(self._revision))

    def load(self, documents: Iterable[dict[str, Any]]) -> None:
        for document in documents:
            if document.get("kind") == "List":
                self.load(document.get("items") or ())
            else:
                self.put(document)

    def put(self, document: dict[str, Any]) -> None:
        """Create or replace an object (a kind the server does not serve is dropped, as
        a real server would refuse it)."""
        kind = self._by_kind.get(document.get("kind", ""))
        if kind is None or kind.plural not in self.served:
            return
        body = copy.deepcopy(document)
        metadata = body.setdefault("metadata", {})
        namespace = metadata.get("namespace") or "default" if kind.namespaced else ""
        if kind.namespaced:
            metadata["namespace"] = namespace
        name = metadata["name"]
        with self.lock:
            self._decorate(kind, body)
            self.objects[kind.plural][(namespace, name)] = body
            if kind.namespaced and ("", namespace) not in self.objects["namespaces"]:
                self.put({"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": namespace}})  # fmt: skip

    def delete(self, kind: str, namespace: str, name: str) -> None:
        with self.lock:
            del self.objects[self._by_kind[kind].plural][(namespace, name)]

    def _decorate(self, kind: Kind, body: dict[str, Any]) -> None:
        metadata = body["metadata"]
        key = f"{kind.kind}/{metadata.get('namespace', '')}/{metadata['name']}"
        metadata["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
        metadata["resourceVersion"] = self.resource_version()
        metadata["creationTimestamp"] = CREATED
        metadata["managedFields"] = [
            {"manager": "kubectl-client-side-apply", "operation": "Update",
             "apiVersion": kind.group_version, "time": CREATED, "fieldsType": "FieldsV1",
             "fieldsV1": {"f:metadata": {"f:labels": {}}}},
        ]  # fmt: skip
        annotations = metadata.setdefault("annotations", {})
        annotations["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(
            {k: v for k, v in body.items() if k != "status"}
        )
        if kind.kind == "Namespace":
            labels = metadata.setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = metadata["name"]
            body["spec"] = {"finalizers": ["kubernetes"]}
            body["status"] = {"phase": "Active"}
        elif kind.kind == "Pod":
            spec = body.setdefault("spec", {})
            spec.setdefault("nodeName", "node-1")
            spec.setdefault("dnsPolicy", "ClusterFirst")
            toleration = {"key": "node.kubernetes.io/not-ready", "operator": "Exists"}
            spec.setdefault("tolerations", [toleration])
            for container in spec.get("containers", []):
                container.setdefault("terminationMessagePath", "/dev/termination-log")
                container.setdefault("imagePullPolicy", "IfNotPresent")
            pod_status = body.setdefault("status", {})
            pod_status.setdefault("phase", "Running")
            pod_status.setdefault("hostIP", "10.0.0.1")
            pod_status["startTime"] = CREATED
            pod_status["conditions"] = [{"type": "Ready", "status": "True",
                                         "lastTransitionTime": CREATED}]  # fmt: skip
            pod_status["qosClass"] = "BestEffort"
        elif kind.kind == "Node":
            body.setdefault("status", {}).setdefault(
                "addresses", [{"type": "InternalIP", "address": "10.0.0.1"}]
            )
        elif kind.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
            metadata["generation"] = 1
            body["status"] = {"observedGeneration": 1, "replicas": 1, "conditions": [
                {"type": "Available", "status": "True", "lastUpdateTime": CREATED}]}  # fmt: skip

    def heartbeat(self) -> None:
        """What the kubelets do all the time: new conditions on every Node."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + f".{time.time_ns()}"
        for node in self.objects.get("nodes", {}).values():
            node["status"]["conditions"] = [
                {"type": "Ready", "status": "True", "lastHeartbeatTime": now}
            ]
            node["metadata"]["resourceVersion"] = self.resource_version()

    def listed(self, plural: str, namespace: str | None) -> list[dict[str, Any]]:
        """The objects of a list, as a list response carries them (etcd key order)."""
        kind = self.served[plural]
        with self.lock:
            if plural == "nodes":
                self.heartbeat()
            found = sorted(self.objects[plural].items())
            items = [copy.deepcopy(body) for (ns, _), body in found
                     if namespace is None or ns == namespace]  # fmt: skip
        if kind.builtin:
            for item in items:
                item.pop("kind", None)
                item.pop("apiVersion", None)
        else:
            for item in items:
                item["apiVersion"], item["kind"] = kind.group_version, kind.kind
        return items


class FakeApiServer:
    """The HTTPS server over a :class:`FakeCluster`. ``tokens`` maps bearer tokens to users;
    a client certificate signed by :attr:`ca` authenticates as its first identity."""

    def __init__(self, cluster: FakeCluster, tokens: dict[str, str] | None = None) -> None:
        self.cluster = cluster
        self.tokens = dict(tokens or {})
        self.behaviour = Behaviour()
        self.requests: list[tuple[str, dict[str, str], str]] = []  # path, query, user
        self.ca = trustme.CA()
        self._snapshots: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.url = ""

    def client_certificate(self, user: str) -> trustme.LeafCert:
        return self.ca.issue_cert(user)

    @contextmanager
    def running(self) -> Iterator[FakeApiServer]:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.ca.configure_trust(context)
        context.verify_mode = ssl.CERT_OPTIONAL
        fake = self

        class Handler(_Handler):
            server_state = fake

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{httpd.server_address[1]}"
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=10)

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.requests]

    # --- answers -------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str], user: str | None) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((path, query, user or ""))
            if self.behaviour.fail_requests > 0:
                self.behaviour.fail_requests -= 1
                return 500, status(500, "InternalError", "etcdserver: request timed out")
        if user is None:
            return 401, status(401, "Unauthorized", "Unauthorized")
        parts = [part for part in path.split("/") if part]
        if parts == ["api"]:
            address = {"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [address]}  # fmt: skip
        if parts == ["apis"]:
            return 200, self._group_list()
        if parts[:1] == ["api"] and len(parts) >= 2:
            return self._resource_path("", parts[1], parts[2:], query, user)
        if parts[:1] == ["apis"] and len(parts) >= 3:
            return self._resource_path(parts[1], parts[2], parts[3:], query, user)
        return 404, status(404, "NotFound", "the server could not find the requested resource")

    def _group_list(self) -> dict[str, Any]:
        groups: dict[str, list[str]] = {}
        for kind in self.cluster.served.values():
            if kind.group:
                versions = groups.setdefault(kind.group, [])
                if kind.version not in versions:
                    versions.append(kind.version)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": group,
             "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
             "preferredVersion": {"groupVersion": f"{group}/{versions[0]}",
                                  "version": versions[0]}}
            for group, versions in sorted(groups.items())]}  # fmt: skip

    def _resource_path(
        self, group: str, version: str, rest: list[str], query: dict[str, str], user: str
    ) -> tuple[int, Any]:
        kinds = [k for k in self.cluster.served.values()
                 if k.group == group and k.version == version]  # fmt: skip
        if not kinds:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        group_version = f"{group}/{version}" if group else version
        if not rest:
            resources = []
            for kind in kinds:
                verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
                resources.append({"name": kind.plural, "singularName": kind.kind.lower(),
                                  "namespaced": kind.namespaced, "kind": kind.kind,
                                  "verbs": verbs})  # fmt: skip
                resources.append({"name": f"{kind.plural}/status", "singularName": "",
                                  "namespaced": kind.namespaced, "kind": kind.kind,
                                  "verbs": ["get", "patch", "update"]})  # fmt: skip
            return 200, {"kind": "APIResourceList", "apiVersion": "v1",
                         "groupVersion": group_version, "resources": resources}  # fmt: skip
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) == 2 and not group:
            return self._get_namespace(rest[1], user)
        if rest[0] == "namespaces" and len(rest) == 3:
            namespace, rest = rest[1], rest[2:]
        if len(rest) != 1 or rest[0] not in {k.plural for k in kinds}:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        return self._list(self.cluster.served[rest[0]], namespace, query, user)

    def _get_namespace(self, name: str, user: str) -> tuple[int, Any]:
        if ("namespaces", None) in self.behaviour.forbidden:
            return 403, status(403, "Forbidden", f'namespaces "{name}" is forbidden: User '
                               f'"{user}" cannot get resource "namespaces" in API group "" in '
                               f'the namespace "{name}"')  # fmt: skip
        found = self.cluster.objects["namespaces"].get(("", name))
        if found is None:
            return 404, status(404, "NotFound", f'namespaces "{name}" not found')
        return 200, {"kind": "Namespace", "apiVersion": "v1", **copy.deepcopy(found)}

    def _list(
        self, kind: Kind, namespace: str | None, query: dict[str, str], user: str
    ) -> tuple[int, Any]:
        behaviour = self.behaviour
        if (kind.plural, namespace) in behaviour.forbidden or (
            kind.plural, None) in behaviour.forbidden:  # fmt: skip
            where = (
                "at the cluster scope" if namespace is None else f'in the namespace "{namespace}"'
            )
            return 403, status(
                403, "Forbidden",
                f'{kind.plural}{"." + kind.group if kind.group else ""} is forbidden: User '
                f'"{user}" cannot list resource "{kind.plural}" in API group "{kind.group}" '
                f"{where}",
                details={"group": kind.group, "kind": kind.plural},
            )  # fmt: skip
        time.sleep(behaviour.delay.get(kind.plural, 0.0))
        token = query.get("continue")
        limit = int(query["limit"]) if query.get("limit") else None
        if token:
            with self._lock:
                if behaviour.expire_continue.get(kind.plural, 0) > 0:
                    behaviour.expire_continue[kind.plural] -= 1
                    for hook in behaviour.on_expire:
                        hook()
                    fresh = base64.b64encode(b'{"inconsistent": true}').decode()
                    return 410, status(410, "Expired", EXPIRED_MESSAGE,
                                       metadata={"continue": fresh})  # fmt: skip
            try:
                decoded = json.loads(base64.b64decode(token))
                items, start = self._snapshots[decoded["id"]], int(decoded["start"])
            except (ValueError, KeyError, TypeError):
                return 400, status(400, "BadRequest", "continue key is not valid")
        else:
            items, start = self.cluster.listed(kind.plural, namespace), 0
            if behaviour.shuffle:
                random.shuffle(items)
        revision = self.cluster.resource_version()
        metadata: dict[str, Any] = {"resourceVersion": revision}
        page = items[start:] if limit is None else items[start : start + limit]
        end = start + len(page)
        if end < len(items):
            with self._lock:
                snapshot_id = str(next(self._ids))
                self._snapshots[snapshot_id] = items
            metadata["continue"] = base64.b64encode(
                json.dumps({"id": snapshot_id, "start": end}).encode()
            ).decode()
            metadata["remainingItemCount"] = len(items) - end
        list_kind = f"{kind.kind}List"
        return 200, {"kind": list_kind, "apiVersion": kind.group_version, "metadata": metadata,
                     "items": page}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK
    server_state: FakeApiServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        status_code, body = self.server_state.answer(url.path, query, self._user())
        data = json.dumps(body).encode()
        self.send_response(status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _user(self) -> str | None:
        certificate = self.connection.getpeercert()  # type: ignore[attr-defined]
        if certificate:
            for kind, value in certificate.get("subjectAltName", ()):
                if kind in ("DNS", "email", "URI"):
                    return str(value)
        header = self.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            return self.server_state.tokens.get(header[7:].strip())
        return None
