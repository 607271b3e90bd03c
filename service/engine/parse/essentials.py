"""The parts of an object the parser reads, so bulky fields can be dropped while decoding.

A live Pod as ``kubectl get -o json`` prints it is mostly status conditions, container
statuses, tolerations, volumes and resources; 100,000 of them decoded whole take gigabytes.
:func:`essentials` keeps what :mod:`service.engine.parse` reads and nothing else. Anything of
an unexpected shape is returned untouched, so the parser still reports it where it is.

>>> pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a"},
...        "spec": {"containers": [{"name": "c", "image": "x", "ports": []}],
...                 "tolerations": []},
...        "status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": []}}
>>> essentials(pod)["spec"], essentials(pod)["status"]
({'containers': [{'name': 'c', 'ports': []}]}, {'phase': 'Running', 'podIP': '10.0.0.1'})
"""

from __future__ import annotations

from typing import Any

_TOP = ("apiVersion", "kind", "metadata")
_SPEC = ("hostNetwork", "nodeName")
_CONTAINER = ("name", "ports", "restartPolicy")
_STATUS = ("phase", "podIP", "podIPs")


def _containers(value: Any) -> Any:
    if type(value) is not list:
        return value
    return [{k: c[k] for k in _CONTAINER if k in c} if type(c) is dict else c for c in value]


def essentials(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` without the fields the parser never reads (Pods only; others unchanged)."""
    if body.get("kind") != "Pod":
        return body
    spec, status = body.get("spec"), body.get("status")
    if type(spec) is not dict or (status is not None and type(status) is not dict):
        return body
    slim = {k: body[k] for k in _TOP if k in body}
    slim_spec = {k: spec[k] for k in _SPEC if k in spec}
    for key in ("containers", "initContainers"):
        if key in spec:
            slim_spec[key] = _containers(spec[key])
    slim["spec"] = slim_spec
    if status is not None:
        slim["status"] = {k: status[k] for k in _STATUS if k in status}
    return slim
