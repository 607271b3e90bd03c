"""Compare two sets of manifests (the CLI) and two compiled snapshots (every diff).

Free of the database on purpose: ``netreach diff`` of files never imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from service.engine.compile import CompiledCluster
from service.engine.connectivity import ConnectivityMap, connectivity_map
from service.engine.diff import (
    ObjectKey,
    SemanticDiff,
    diff_maps,
    diff_objects,
    dns_endpoints,
    index_bodies,
)
from service.engine.options import AnalysisOptions, Granularity
from service.ingest.gc import paused_gc
from service.usecases.errors import InvalidQueryError
from service.usecases.manifests import Manifests


def parse_granularity(text: str | None) -> Granularity:
    if text is None:
        return Granularity.WORKLOAD
    try:
        return Granularity(text)
    except ValueError:
        raise InvalidQueryError(
            f"granularity {text!r} is not one of pod, workload, namespace",
            [{"field": "granularity"}],
        ) from None


def compare(
    base: CompiledCluster,
    head: CompiledCluster,
    base_map: ConnectivityMap,
    head_map: ConnectivityMap,
    base_bodies: Mapping[ObjectKey, Mapping[str, Any]],
    head_bodies: Mapping[ObjectKey, Mapping[str, Any]],
    keys: Iterable[ObjectKey] | None = None,
) -> SemanticDiff:
    granularity = base_map.granularity
    with paused_gc():
        connections = diff_maps(
            base_map,
            head_map,
            base_dns=dns_endpoints(base, granularity),
            head_dns=dns_endpoints(head, granularity),
        )
        objects = diff_objects(base_bodies, head_bodies, keys)
    return SemanticDiff(connections, objects)


def diff_manifests(
    base: Manifests,
    head: Manifests,
    *,
    granularity: Granularity = Granularity.WORKLOAD,
    options: AnalysisOptions | None = None,
) -> SemanticDiff:
    """Two sets of validated manifests, compiled in memory."""
    compiled = [m.compile(options) for m in (base, head)]
    maps = [connectivity_map(c, granularity) for c in compiled]
    return compare(
        compiled[0],
        compiled[1],
        maps[0],
        maps[1],
        index_bodies(d.body for d in base.documents),
        index_bodies(d.body for d in head.documents),
    )
