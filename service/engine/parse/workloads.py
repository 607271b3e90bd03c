"""Workloads: controllers of pods, read for their pod template and their owner."""

from __future__ import annotations

from typing import Any

from service.engine.model import Workload
from service.engine.parse.fields import Context, get_map, join
from service.engine.parse.labels import EMPTY_LABELS, parse_labels
from service.engine.parse.metadata import Metadata, parse_owner
from service.engine.parse.pods import parse_pod_spec

# Where each kind keeps its pod template (PodTemplateSpec).
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def parse_workload(ctx: Context, kind: str, body: dict[str, Any], meta: Metadata) -> Workload:
    template = _template(ctx, body, TEMPLATE_PATHS[kind])
    path = ".".join(TEMPLATE_PATHS[kind])
    labels = EMPTY_LABELS
    spec = None
    if template is not None:
        template_meta = get_map(ctx, template, "metadata", path)
        if template_meta is not None:
            labels = parse_labels(ctx, template_meta.get("labels"), join(path, "metadata.labels"))
        spec = get_map(ctx, template, "spec", path)
    ports, host_network = parse_pod_spec(ctx, spec, join(path, "spec"))
    owner = parse_owner(ctx, meta.raw)
    return Workload(kind, meta.namespace or "", meta.name, labels, ports, host_network, owner)


def _template(ctx: Context, body: dict[str, Any], steps: tuple[str, ...]) -> dict[str, Any] | None:
    """Walk ``steps`` from the object's root; a missing template is an error (the API
    server requires one for every workload kind)."""
    current: dict[str, Any] | None = body
    prefix = ""
    for step in steps:
        assert current is not None
        raw = current.get(step)
        current = get_map(ctx, current, step, prefix)
        prefix = join(prefix, step)
        if current is None:
            if raw is None:
                ctx.required(prefix)
            return None
    return current
