"""Analyses of a stored snapshot: the connectivity map, reachability queries one at a time
or in batches.

Every answer names the snapshot it is about: ``cluster`` and ``version`` in the JSON body and
``X-Netreach-Snapshot: cluster@version`` in the headers. CPU-bound routes are plain ``def``
(FastAPI runs them in its threadpool, off the event loop); compiled snapshots and maps are
cached per process by the :class:`~service.usecases.snapshots.Analyzer`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from service.api.analyses import AnalysisDeadline, AnalysisSession, deadline_of, slots_of
from service.api.answers import BatchAnswer, VerdictAnswer
from service.api.deps import (
    AnalyzerDep,
    ReadSnapshot,
    Runtime,
    RuntimeDep,
    SettingsDep,
    runtime_of,
    snapshot_headers,
    snapshot_label,
)
from service.api.errors import InvalidParameterError, responses
from service.api.examples import BATCH_EXAMPLE, QUESTION_EXAMPLE
from service.api.pagination import SnapshotCursor, query_digest, resume
from service.api.params import NamespaceFilter, RefPath
from service.api.schemas import BatchQuery, ReachabilityQuery
from service.engine.connectivity import ConnectivityMap
from service.engine.deadline import NO_DEADLINE, Deadline
from service.engine.options import AnalysisOptions, Granularity, HostNetworkPods, PodIPsInIPBlocks
from service.report.connectivity import (
    iter_connections_json,
    iter_map_csv,
    iter_map_dot,
    iter_map_markdown,
)
from service.report.verdict import verdict_to_api
from service.store.records import SnapshotRecord
from service.usecases.errors import UseCaseError
from service.usecases.filters import require_name
from service.usecases.reads import READ_ONLY
from service.usecases.snapshots import Analyzer

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
    MapFormat.CSV: iter_map_csv,
    MapFormat.MD: iter_map_markdown,
    MapFormat.DOT: iter_map_dot,
}


async def analysis_options(
    pod_ips_in_ipblocks: Annotated[
        PodIPsInIPBlocks,
        Query(description="match: ipBlocks match pod IPs too (default); ignore: external only"),
    ] = PodIPsInIPBlocks.MATCH,
    host_network_pods: Annotated[
        HostNetworkPods,
        Query(description="exempt: policies do not apply to host-network pods (default); "
              "as-pods: treat them as ordinary pods"),
    ] = HostNetworkPods.EXEMPT,
) -> AnalysisOptions:  # fmt: skip
    return AnalysisOptions(pod_ips_in_ipblocks, host_network_pods)


OptionsDep = Annotated[AnalysisOptions, Depends(analysis_options)]
GranularityQuery = Annotated[
    Granularity,
    Query(description="endpoints: pods, workloads (pods rolled up to their owner) or namespaces"),
]


def _page(
    cmap: ConnectivityMap,
    record: SnapshotRecord,
    granularity: Granularity,
    start: int,
    limit: int | None,
    query: str,
) -> Iterator[str]:
    """The JSON page, streamed: the envelope, then the connections in chunks."""
    total = len(cmap)
    stop = total if limit is None else min(start + limit, total)
    more = stop < total
    head = {
        "cluster": record.cluster,
        "version": record.version,
        "granularity": granularity.value,
        "total": total,
        "limit": limit,
        "next_cursor": SnapshotCursor.first(record, stop, query).encode("c") if more else None,
    }
    yield json.dumps(head, separators=(",", ":"))[:-1] + ',"connections":['
    if start < stop:
        first = True
        for chunk in _chunks(iter_connections_json(cmap, start, stop)):
            yield ("" if first else ",") + chunk
            first = False
    dns = cmap.depends_on_dns
    if dns is not None and start == 0:  # with domainNames rules, on the first page
        yield '],"depends_on_dns":[' + ",".join(iter_connections_json(dns))
    yield "]}\n"


def _chunks(rows: Iterator[str], size: int = 2000) -> Iterator[str]:
    batch: list[str] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield ",".join(batch)
            batch = []
    if batch:
        yield ",".join(batch)


@router.get(
    "/connectivity",
    response_class=Response,
    responses={
        200: {
            "description": "Every allowed connection. json: a page (`ConnectivityPage`): "
            "the whole map when no `limit` is given and it has at most the server's "
            "`max_unpaged_connections`, else one page with `next_cursor`. csv, md and dot: "
            "the whole map, streamed.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ConnectivityPage"}},
                "text/csv": {"schema": {"type": "string"}, "example": "from,to,ports\n"},
                "text/markdown": {"schema": {"type": "string"}},
                "text/vnd.graphviz": {"schema": {"type": "string"}},
            },
        },
        **responses(401, 403, 404, 422, 503),
    },
    summary="Connectivity map of a snapshot",
    description="Every allowed connection between distinct endpoints, at pod, workload or "
    "namespace granularity, optionally only those touching one namespace (a namespace the "
    "snapshot does not have is a 404 with suggestions). JSON pages are bound to the "
    "version the first page answered.",
)
def connectivity(
    record: ReadSnapshot,
    ref: RefPath,
    session: AnalysisSession,
    deadline: AnalysisDeadline,
    analyzer: AnalyzerDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    options: OptionsDep,
    granularity: GranularityQuery = Granularity.WORKLOAD,
    namespace: NamespaceFilter = None,
    output_format: Annotated[
        MapFormat, Query(alias="format", description="json (default), csv, md or dot")
    ] = MapFormat.JSON,
    limit: Annotated[int | None, Query(ge=1, description="json only: page size (capped)")] = None,
    cursor: Annotated[
        str | None, Query(max_length=300, description="json only: next_cursor of a page")
    ] = None,
) -> Response:
    paginated = limit is not None or cursor is not None
    if paginated and output_format is not MapFormat.JSON:
        raise InvalidParameterError(
            "limit and cursor apply to format=json only; other formats return the whole map",
            [{"field": "query.limit" if limit is not None else "query.cursor"}],
        )
    query = query_digest(
        {"granularity": granularity.value, "namespace": namespace or "", "options": options}
    )
    record, start = resume(runtime.refs, record, ref, cursor, "c", query)
    headers = snapshot_headers(record)
    if namespace:
        names = (n.name for n in analyzer.cluster(session, record).namespaces)
        where = f"snapshot {snapshot_label(record)}"
        require_name("namespace", namespace, names, where, "query.namespace")
    cmap = analyzer.connectivity(session, record, options, granularity, deadline)
    if namespace:
        cmap = cmap.involving_namespace(namespace)
    if output_format is not MapFormat.JSON:
        return StreamingResponse(
            RENDERERS[output_format](cmap), media_type=MEDIA_TYPES[output_format], headers=headers
        )
    # Without `limit`: the whole map if it is small enough, else pages of the largest size
    # (on every page: a cursor alone continues with the size its first page had).
    automatic = min(settings.max_page_size, settings.max_unpaged_connections)
    size: int | None = None
    if limit is not None:
        size = min(limit, settings.max_page_size)
    elif cursor is not None or len(cmap) > settings.max_unpaged_connections:
        size = automatic
    return StreamingResponse(
        _page(cmap, record, granularity, start, size, query),
        media_type="application/json",
        headers=headers,
    )


def _verdict(
    analyzer: Analyzer,
    session: Session | None,
    record: SnapshotRecord,
    options: AnalysisOptions,
    query: ReachabilityQuery,
    deadline: Deadline = NO_DEADLINE,
) -> dict[str, Any]:
    verdict = analyzer.reachability(
        session,  # type: ignore[arg-type]  # None only when compiled: no I/O then
        record,
        options,
        source=query.source,
        target=query.target,
        port=query.port,
        protocol=query.protocol,
        deadline=deadline,
    )
    return verdict_to_api(verdict)


def _verdict_loading(
    runtime: Runtime,
    record: SnapshotRecord,
    options: AnalysisOptions,
    query: ReachabilityQuery,
    deadline: Deadline,
) -> dict[str, Any]:
    """A verdict that may need to load and compile the snapshot (in the threadpool)."""
    with runtime.session_factory(info={READ_ONLY: True}) as session:
        return _verdict(runtime.analyzer, session, record, options, query, deadline)


def _json(body: dict[str, Any], record: SnapshotRecord) -> Response:
    return Response(
        orjson.dumps(body), media_type="application/json", headers=snapshot_headers(record)
    )


@router.post(
    "/reachability",
    response_model=VerdictAnswer,
    responses={
        200: {"description": "The verdict, with the snapshot it answers"},
        **responses(401, 403, 404, 422, 503),
    },
    summary="May `from` open a connection to `to`? The verdict explains itself",
    description="`from` and `to` are `ns/pod`, `ns/Kind/name` (a workload, or a Service: "
    "answered for each backend on its target port) or an IP address. Without `port`, the "
    "verdict lists the allowed ports.",
)
async def reachability(
    request: Request,
    record: ReadSnapshot,
    query: Annotated[ReachabilityQuery, Body(examples=[QUESTION_EXAMPLE])],
    options: OptionsDep,
) -> Response:
    # The hot path, with as few dependencies as it can (FastAPI solves each per request):
    # on a compiled snapshot a point query takes microseconds, less than handing it to a
    # worker thread (and waiting for the GIL back), so it runs right here. Compiling goes
    # to the threadpool.
    runtime = runtime_of(request)
    if runtime.analyzer.is_compiled(record, options):
        verdict = _verdict(runtime.analyzer, None, record, options, query, deadline_of(request))
    else:
        slots = slots_of(request)
        slots.take()
        try:
            verdict = await run_in_threadpool(
                _verdict_loading, runtime, record, options, query, deadline_of(request)
            )
        finally:
            slots.give_back()
    return _json({"cluster": record.cluster, "version": record.version, **verdict}, record)


@router.post(
    "/reachability:batch",
    response_model=BatchAnswer,
    responses={
        200: {"description": "One result per question, in order; an item's error fails "
              "only that item"},
        **responses(401, 403, 404, 422, 503),
    },
    summary="Many reachability questions about one snapshot in one call (up to 1,000)",
    description="Each question is answered as `POST .../reachability` would, against the same "
    "version. A question that names an absent endpoint or is invalid gets its own `error` "
    "(the envelope's `{code, message, details}`); the others are answered.",
)  # fmt: skip
def reachability_batch(
    record: ReadSnapshot,
    batch: Annotated[BatchQuery, Body(examples=[BATCH_EXAMPLE])],
    session: AnalysisSession,
    deadline: AnalysisDeadline,
    analyzer: AnalyzerDep,
    options: OptionsDep,
) -> Response:
    analyzer.compiled_for(session, record, options, deadline)  # compile once, before the loop
    results: list[dict[str, Any]] = []
    allowed = denied = errors = 0
    for index, question in enumerate(batch.questions):
        try:
            verdict = _verdict(analyzer, session, record, options, question, deadline)
        except UseCaseError as error:
            errors += 1
            results.append(
                {
                    "index": index,
                    "error": {"code": error.code, "message": error.message,
                              "details": error.details},
                }
            )  # fmt: skip
            continue
        allowed += verdict["allowed"]
        denied += not verdict["allowed"]
        results.append({"index": index, "verdict": verdict})
    body = {
        "cluster": record.cluster,
        "version": record.version,
        "results": results,
        "allowed": allowed,
        "denied": denied,
        "errors": errors,
    }
    return _json(body, record)
