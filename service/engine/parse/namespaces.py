"""Namespaces: cluster-scoped; their name is also a label the API server sets."""

from __future__ import annotations

from service.engine.model import NAMESPACE_NAME_LABEL, Labels, Namespace
from service.engine.parse.metadata import Metadata


def namespace_labels(name: str, labels: Labels | None = None) -> Labels:
    """``labels`` plus ``kubernetes.io/metadata.name: <name>`` (a conflicting value is
    overwritten, as the API server does)."""
    if labels is not None and labels.get(NAMESPACE_NAME_LABEL) == name:
        return labels
    items = dict(labels or {})
    items[NAMESPACE_NAME_LABEL] = name
    return Labels(items)


def parse_namespace(meta: Metadata) -> Namespace:
    return Namespace(meta.name, namespace_labels(meta.name, meta.labels))
