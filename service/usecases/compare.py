"""Compare two sets of manifests (the CLI) and two compiled snapshots (every diff).

Free of the database on purpose: ``netreach diff`` of files never imports it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from service.engine.collector import paused_gc
from service.engine.compile import CompiledCluster
from service.engine.connectivity import ConnectivityMap, Endpoint, connectivity_map
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.diff import (
    ObjectKey,
    SemanticDiff,
    attribute,
    diff_maps,
    diff_objects,
    dns_endpoints,
    index_bodies,
    service_changes,
)
from service.engine.options import AnalysisOptions, Granularity
from service.engine.parse.parser import API_VERSIONS
from service.usecases.errors import InvalidQueryError
from service.usecases.manifests import Manifests

ANALYSED_KINDS = frozenset(API_VERSIONS)


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


def analysed(bodies: Mapping[ObjectKey, Mapping[str, Any]]) -> dict[ObjectKey, Mapping[str, Any]]:
    """Only the objects of kinds netreach analyses: others never appear in object diffs
    (they are counted in the warnings when read)."""
    return {key: body for key, body in bodies.items() if key.kind in ANALYSED_KINDS}


def compare(
    base: CompiledCluster,
    head: CompiledCluster,
    base_map: ConnectivityMap,
    head_map: ConnectivityMap,
    base_bodies: Mapping[ObjectKey, Mapping[str, Any]],
    head_bodies: Mapping[ObjectKey, Mapping[str, Any]],
    keys: Iterable[ObjectKey] | None = None,
    deadline: Deadline = NO_DEADLINE,
    changed_targets: Collection[Endpoint] | None = None,
) -> SemanticDiff:
    """``changed_targets``: see :func:`~service.engine.diff.diff_maps`."""
    granularity = base_map.granularity
    with paused_gc():
        deadline.check("diff: comparing the connectivity maps")
        base_dns = dns_endpoints(base, granularity)
        connections = diff_maps(
            base_map,
            head_map,
            base_dns=base_dns,
            head_dns=base_dns if head.pods is base.pods else dns_endpoints(head, granularity),
            changed_targets=changed_targets,
        )
        objects = diff_objects(analysed(base_bodies), analysed(head_bodies), keys)
        causes = attribute(connections, base, head, objects, deadline)
        deadline.check("diff: Service changes")
        services = service_changes(base, head, objects, granularity)
        dns = None
        if base_map.depends_on_dns is not None or head_map.depends_on_dns is not None:
            empty = ConnectivityMap.empty(granularity)
            dns = diff_maps(base_map.depends_on_dns or empty, head_map.depends_on_dns or empty)
    return SemanticDiff(connections, objects, causes, services, dns)


def diff_manifests(
    base: Manifests,
    head: Manifests,
    *,
    granularity: Granularity = Granularity.WORKLOAD,
    options: AnalysisOptions | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> SemanticDiff:
    """Two sets of validated manifests, compiled in memory."""
    compiled = [m.compile(options, deadline) for m in (base, head)]
    maps = [connectivity_map(c, granularity, deadline) for c in compiled]
    return compare(
        compiled[0],
        compiled[1],
        maps[0],
        maps[1],
        index_bodies(d.body for d in base.documents),
        index_bodies(d.body for d in head.documents),
        deadline=deadline,
    )
