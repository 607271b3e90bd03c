"""Objects as the API server returns them -> objects as netreach stores them.

A live object is mostly bookkeeping that changes without any change of meaning
(``resourceVersion``, ``managedFields``, status conditions with heartbeat timestamps), and a
snapshot that kept it would be new on every capture. :func:`slim` keeps what the parser reads
and what makes an object diff meaningful, and nothing that changes by itself:

- ``apiVersion``, ``kind`` (list responses leave them out of their items; they are set here);
- ``metadata``: ``name``, ``namespace``, ``labels``, ``annotations`` (without kubectl's
  ``last-applied-configuration``, a copy of the object) and ``ownerReferences``;
- ``spec`` whole, except a Pod's and a workload's pod template: Pods are the bulk of a
  cluster, and pod specs carry environment values (secrets written inline among them) that
  netreach never reads, so only what it reads is kept (``hostNetwork``, ``nodeName``, and
  per container its ``name``, ``ports`` and ``restartPolicy``);
- ``status``: only the fields netreach reads, a Pod's ``phase``, ``podIP`` and ``podIPs`` and
  a Node's ``addresses``.

>>> pod = {"metadata": {"name": "a", "namespace": "x", "uid": "u", "resourceVersion": "7",
...                     "managedFields": [{}], "labels": {"app": "a"}},
...        "spec": {"containers": [{"name": "c", "image": "i", "env": [], "ports": []}],
...                 "nodeName": "n1", "tolerations": []},
...        "status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": []}}
>>> slim("Pod", "v1", pod)  # doctest: +NORMALIZE_WHITESPACE
{'apiVersion': 'v1', 'kind': 'Pod',
 'metadata': {'name': 'a', 'namespace': 'x', 'labels': {'app': 'a'}},
 'spec': {'nodeName': 'n1', 'containers': [{'name': 'c', 'ports': []}]},
 'status': {'phase': 'Running', 'podIP': '10.0.0.1'}}
"""

from __future__ import annotations

from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_METADATA = ("name", "namespace", "labels", "annotations", "ownerReferences")
_POD_SPEC = ("hostNetwork", "nodeName")
_POD_CONTAINER_LISTS = ("containers", "initContainers")
_CONTAINER = ("name", "ports", "restartPolicy")
# where a workload's pod template lies inside its spec
_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"),
        ("template",),
    ),
    "CronJob": ("jobTemplate", "spec", "template"),
}
_STATUS: dict[str, tuple[str, ...]] = {
    "Pod": ("phase", "podIP", "podIPs"),
    "Node": ("addresses",),
}


def slim(kind: str, api_version: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with ``kind`` and ``apiVersion`` set and only the fields listed above.

    Values of an unexpected shape are kept as they are, so that netreach reports them
    where they are rather than capture hiding them.
    """
    out: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    metadata = body.get("metadata")
    out["metadata"] = _metadata(metadata) if isinstance(metadata, dict) else metadata
    spec = body.get("spec")
    if spec is not None:
        if kind == "Pod" and isinstance(spec, dict):
            spec = _pod_spec(spec)
        elif kind in _TEMPLATE_PATHS:
            spec = _with_slim_template(spec, _TEMPLATE_PATHS[kind])
        out["spec"] = spec
    status = body.get("status")
    kept = _STATUS.get(kind)
    if kept and status is not None:
        out["status"] = (
            {key: status[key] for key in kept if key in status}
            if isinstance(status, dict)
            else status
        )
    return out


def _metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    out = {key: metadata[key] for key in _METADATA if key in metadata}
    annotations = out.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        rest = {key: value for key, value in annotations.items() if key != LAST_APPLIED}
        if rest:
            out["annotations"] = rest
        else:
            del out["annotations"]
    return out


def _pod_spec(spec: dict[str, Any]) -> dict[str, Any]:
    out = {key: spec[key] for key in _POD_SPEC if key in spec}
    for key in _POD_CONTAINER_LISTS:
        if key in spec:
            out[key] = _containers(spec[key])
    return out


def _with_slim_template(spec: Any, path: tuple[str, ...]) -> Any:
    """``spec`` with the pod template at ``path`` reduced to what netreach reads.

    >>> _with_slim_template({"replicas": 2, "template": {"metadata": {"labels": {"a": "b"}},
    ...     "spec": {"containers": [{"name": "c", "env": [{"name": "K", "value": "s"}]}]}}},
    ...     ("template",))  # doctest: +NORMALIZE_WHITESPACE
    {'replicas': 2, 'template': {'metadata': {'labels': {'a': 'b'}},
     'spec': {'containers': [{'name': 'c'}]}}}
    """
    if not isinstance(spec, dict):
        return spec
    head, rest = path[0], path[1:]
    inner = spec.get(head)
    if not isinstance(inner, dict):
        return spec
    if rest:
        return {**spec, head: _with_slim_template(inner, rest)}
    template_spec = inner.get("spec")
    if not isinstance(template_spec, dict):
        return spec
    return {**spec, head: {**inner, "spec": _pod_spec(template_spec)}}


def _containers(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    return [
        {key: c[key] for key in _CONTAINER if key in c} if isinstance(c, dict) else c for c in value
    ]
