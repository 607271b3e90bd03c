"""Analyses of a stored snapshot: the connectivity map and reachability queries.

Both are CPU-bound (compiling a snapshot, computing a map): the route functions are plain
``def``, so FastAPI runs them in its threadpool, off the event loop. Compiled snapshots and
maps are cached per process by the :class:`~service.usecases.snapshots.Analyzer`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse, StreamingResponse

from service.api.deps import AnalyzerDep, ReadAccess, SessionDep, SettingsDep
from service.api.errors import InvalidParameterError, responses
from service.api.pagination import decode_cursor, encode_cursor
from service.api.routers.snapshots import (
    NAMESPACE_PATTERN,
    ClusterPath,
    RefPath,
    parse_ref_param,
)
from service.api.schemas import ReachabilityQuery, VerdictOut
from service.engine.connectivity import ConnectivityMap
from service.engine.options import AnalysisOptions, Granularity, HostNetworkPods, PodIPsInIPBlocks
from service.report.connectivity import (
    iter_connections_json,
    iter_map_csv,
    iter_map_dot,
    iter_map_json,
    iter_map_markdown,
)
from service.report.verdict import verdict_to_api
from service.usecases.snapshots import get_snapshot

router = APIRouter(prefix="/v1/clusters/{cluster}/snapshots/{ref}", tags=["analysis"])


class MapFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    MD = "md"
    DOT = "dot"


MEDIA_TYPES = {
    MapFormat.JSON: "application/json",
    MapFormat.CSV: "text/csv; charset=utf-8",
    MapFormat.MD: "text/markdown; charset=utf-8",
    MapFormat.DOT: "text/vnd.graphviz; charset=utf-8",
}
RENDERERS: dict[MapFormat, Callable[[ConnectivityMap], Iterator[str]]] = {
    MapFormat.JSON: iter_map_json,
    MapFormat.CSV: iter_map_csv,
    MapFormat.MD: iter_map_markdown,
    MapFormat.DOT: iter_map_dot,
}


def analysis_options(
    pod_ips_in_ipblocks: Annotated[
        PodIPsInIPBlocks,
        Query(description="match: ipBlocks match pod IPs too (default); ignore: external only"),
    ] = PodIPsInIPBlocks.MATCH,
    host_network_pods: Annotated[
        HostNetworkPods,
        Query(description="exempt: policies do not apply to host-network pods (default)"),
    ] = HostNetworkPods.EXEMPT,
) -> AnalysisOptions:
    return AnalysisOptions(pod_ips_in_ipblocks, host_network_pods)


OptionsDep = Annotated[AnalysisOptions, Depends(analysis_options)]


def _json_page(cmap: ConnectivityMap, granularity: Granularity, start: int, limit: int) -> Response:
    total = len(cmap)
    stop = min(start + limit, total)
    next_cursor = encode_cursor("c", stop) if stop < total else None
    head = json.dumps(
        {"granularity": granularity.value, "total": total, "limit": limit,
         "next_cursor": next_cursor},
        separators=(",", ":"),
    )  # fmt: skip
    rows = ",".join(iter_connections_json(cmap, start, stop)) if start < stop else ""
    return Response(head[:-1] + ',"connections":[' + rows + "]}\n", media_type="application/json")


@router.get(
    "/connectivity",
    response_class=Response,
    responses={
        200: {
            "description": 'Every allowed connection. json: `{"connections": [{from, to, '
            "ports}]}` (exactly `netreach analyze --format json`); with `limit` or `cursor`, "
            "one page plus `granularity`, `total`, `limit` and `next_cursor`.",
            "content": {media.split(";")[0]: {} for media in MEDIA_TYPES.values()},
        },
        **responses(401, 403, 404, 422),
    },
    summary="Connectivity map of a snapshot",
)
def connectivity(
    cluster: ClusterPath,
    ref: RefPath,
    principal: ReadAccess,
    session: SessionDep,
    analyzer: AnalyzerDep,
    settings: SettingsDep,
    options: OptionsDep,
    granularity: Granularity = Granularity.WORKLOAD,
    namespace: Annotated[
        str | None,
        Query(pattern=NAMESPACE_PATTERN, description="only connections touching it"),
    ] = None,
    output_format: Annotated[MapFormat, Query(alias="format")] = MapFormat.JSON,
    limit: Annotated[int | None, Query(ge=1, description="json only: page size (capped)")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="json only")] = None,
) -> Response:
    paginated = limit is not None or cursor is not None
    if paginated and output_format is not MapFormat.JSON:
        raise InvalidParameterError(
            "limit and cursor apply to format=json only; other formats return the whole map",
            [{"field": "query.limit" if limit is not None else "query.cursor"}],
        )
    start = decode_cursor("c", cursor) if cursor is not None else 0
    record = get_snapshot(session, cluster, parse_ref_param(cluster, ref))
    cmap = analyzer.connectivity(session, record, options, granularity)
    if namespace:
        cmap = cmap.involving_namespace(namespace)
    if paginated:
        size = min(limit or settings.page_size, settings.max_page_size)
        return _json_page(cmap, granularity, start, size)
    return StreamingResponse(RENDERERS[output_format](cmap), media_type=MEDIA_TYPES[output_format])


@router.post(
    "/reachability",
    response_model=VerdictOut,
    responses=responses(401, 403, 404, 422),
    summary="May `from` open a connection to `to`? The verdict explains itself",
)
def reachability(
    cluster: ClusterPath,
    ref: RefPath,
    query: ReachabilityQuery,
    principal: ReadAccess,
    session: SessionDep,
    analyzer: AnalyzerDep,
    options: OptionsDep,
) -> Response:
    record = get_snapshot(session, cluster, parse_ref_param(cluster, ref))
    verdict = analyzer.reachability(
        session,
        record,
        options,
        source=query.source,
        target=query.target,
        port=query.port,
        protocol=query.protocol,
    )
    return JSONResponse(verdict_to_api(verdict))
