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
# Field paths under the template, built once: (template, labels, pod spec).
_PATHS = {
    kind: (".".join(steps), ".".join(steps) + ".metadata.labels", ".".join(steps) + ".spec")
    for kind, steps in TEMPLATE_PATHS.items()
}


def parse_workload(ctx: Context, kind: str, body: dict[str, Any], meta: Metadata) -> Workload:
    template_path, labels_path, spec_path = _PATHS[kind]
    template = _template(ctx, body, TEMPLATE_PATHS[kind])
    labels = EMPTY_LABELS
    spec = None
    if template is not None:
        template_meta = template.get("metadata")
        if type(template_meta) is not dict:
            template_meta = get_map(ctx, template, "metadata", template_path)
        if template_meta is not None:
            raw_labels = template_meta.get("labels")
            if raw_labels is not None:
                labels = parse_labels(ctx, raw_labels, labels_path)
        spec = template.get("spec")
        if spec is not None and type(spec) is not dict:
            spec = get_map(ctx, template, "spec", template_path)
    ports, host_network = parse_pod_spec(ctx, spec, spec_path)
    owner = parse_owner(ctx, meta.raw)
    return Workload(kind, meta.namespace or "", meta.name, labels, ports, host_network, owner)


def _template(ctx: Context, body: dict[str, Any], steps: tuple[str, ...]) -> dict[str, Any] | None:
    """Walk ``steps`` from the object's root; a missing template is an error (the API
    server requires one for every workload kind)."""
    current: Any = body
    for index, step in enumerate(steps):
        parent = current
        current = parent.get(step)
        if type(current) is not dict:
            prefix = ".".join(steps[:index])
            if current is None:
                ctx.required(join(prefix, step))
            else:
                get_map(ctx, parent, step, prefix)
            return None
    return current  # type: ignore[no-any-return]
