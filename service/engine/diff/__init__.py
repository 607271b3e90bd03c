"""Semantic diffs: of two connectivity maps (connections added, removed, changed, and the
highlights), and of two sets of objects (added, removed, changed fields). Pure functions."""

from service.engine.diff.attribution import attribute
from service.engine.diff.causes import Cause, CauseKind, Causes, CauseSet, merge_causes
from service.engine.diff.connections import (
    ChangedRows,
    ConnectivityDiff,
    Highlights,
    Rows,
    diff_maps,
    dns_endpoints,
    endpoint_of,
)
from service.engine.diff.objects import (
    ObjectChange,
    ObjectDiff,
    ObjectKey,
    changed_fields,
    diff_objects,
    index_bodies,
    object_key,
)
from service.engine.diff.representatives import ip_starts, reduced, representatives
from service.engine.diff.semantic import Finding, SemanticDiff
from service.engine.diff.services import ServiceChange, service_changes

__all__ = [
    "Cause",
    "CauseKind",
    "CauseSet",
    "Causes",
    "ChangedRows",
    "ConnectivityDiff",
    "Finding",
    "Highlights",
    "ObjectChange",
    "ObjectDiff",
    "ObjectKey",
    "Rows",
    "SemanticDiff",
    "ServiceChange",
    "attribute",
    "changed_fields",
    "diff_maps",
    "diff_objects",
    "dns_endpoints",
    "endpoint_of",
    "index_bodies",
    "ip_starts",
    "merge_causes",
    "object_key",
    "reduced",
    "representatives",
    "service_changes",
]
