"""Aggregates of a snapshot's connectivity for dashboards: the namespace matrix and the
connections of one namespace pair.

``GET .../connectivity/summary`` answers "which namespaces talk, how many workload pairs, on
which ports" in one small response, where the full workload map of a 10,000-pod cluster is
25 MB; ``GET .../connectivity/between`` pages through one cell of that matrix. The web view
(``/ui``) draws its matrix and drill-downs from these, like any dashboard would.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from service.api.analyses import AnalysisDeadline, AnalysisSession
from service.api.deps import (
    AnalyzerDep,
    ReadSnapshot,
    RuntimeDep,
    SettingsDep,
    snapshot_headers,
)
from service.api.errors import responses
from service.api.pagination import SnapshotCursor, query_digest, resume
from service.api.params import RefPath
from service.api.routers.analysis import OptionsDep
from service.engine.model import Protocol
from service.report.connectivity import connections_to_api
from service.usecases.summary import (
    EXTERNAL,
    NamespaceMatrix,
    PortFilter,
    namespace_matrix,
    namespace_pair,
)

router = APIRouter(prefix="/v1/clusters/{cluster}/snapshots/{ref}/connectivity", tags=["analysis"])

GROUP_PATTERN = r"^(IPBlock|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$"
PortsOut = list[dict[str, str | int]]

PortQuery = Annotated[
    int | None,
    Query(ge=1, le=65535, description="only connections allowing this port number"),
]
ProtocolQuery = Annotated[
    Protocol | None,
    Query(description="only connections allowing this protocol (with `port`: on that port)"),
]
GROUP_DESCRIPTION = "a namespace, or `IPBlock` for every external address"
FromQuery = Annotated[
    str,
    Query(alias="from", pattern=GROUP_PATTERN, description=GROUP_DESCRIPTION, examples=["shop"]),
]
ToQuery = Annotated[
    str,
    Query(alias="to", pattern=GROUP_PATTERN, description=GROUP_DESCRIPTION, examples=["payments"]),
]


class GroupOut(BaseModel):
    key: str = Field(description="the namespace, or `IPBlock` for every external address")
    kind: Literal["Namespace", "IPBlock"]
    workloads: int = Field(description="workloads (and bare pods) in the namespace")
    pods: int


class CellOut(BaseModel):
    source: str = Field(alias="from", description="a group key")
    target: str = Field(alias="to", description="a group key")
    workload_pairs: int = Field(
        description="distinct (workload, workload) pairs that connect; the external side "
        "counts as one endpoint"
    )
    connections: int = Field(description="rows of the workload map in this cell")
    ports: PortsOut = Field(description="the union of their ports, NetworkPolicyPort-like")
    external: bool = Field(description="one side is outside the cluster")
    dns: bool = Field(description="some connection reaches the cluster DNS on port 53")


class FilterOut(BaseModel):
    port: int | None
    protocol: Protocol | None


class MatrixOut(BaseModel):
    """Namespace by namespace: only cells with at least one connection are listed."""

    cluster: str
    version: int
    granularity: Literal["workload"] = "workload"
    filter: FilterOut
    groups: list[GroupOut]
    cells: list[CellOut]
    connections: int = Field(description="rows of the (filtered) workload map")


class PairPageOut(BaseModel):
    cluster: str
    version: int
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    filter: FilterOut
    total: int
    limit: int
    next_cursor: str | None
    connections: list[dict[str, Any]] = Field(
        description="`{from, to, ports}` as in the connectivity map (workload granularity)"
    )


def _matrix_out(cluster: str, version: int, matrix: NamespaceMatrix, f: PortFilter) -> MatrixOut:
    return MatrixOut(
        cluster=cluster,
        version=version,
        filter=FilterOut(port=f.port, protocol=f.protocol),
        groups=[GroupOut.model_validate(g, from_attributes=True) for g in matrix.groups],
        cells=[
            CellOut.model_validate({
                "from": c.source, "to": c.target, "workload_pairs": c.workload_pairs,
                "connections": c.connections, "ports": c.ports.to_api(),
                "external": EXTERNAL in (c.source, c.target), "dns": c.dns,
            })
            for c in matrix.cells
        ],
        connections=matrix.connections,
    )  # fmt: skip


@router.get(
    "/summary",
    response_model=MatrixOut,
    response_model_by_alias=True,
    responses=responses(401, 403, 404, 422, 503),
    summary="Namespace matrix: how many workload pairs connect, and on which ports",
    description="Aggregated from the workload connectivity map: one cell per (source, "
    "target) namespace pair with at least one connection, external addresses as the group "
    "`IPBlock`. `port` and `protocol` keep only the connections that allow them.",
)
def summary(
    record: ReadSnapshot,
    session: AnalysisSession,
    deadline: AnalysisDeadline,
    analyzer: AnalyzerDep,
    options: OptionsDep,
    response: Response,
    port: PortQuery = None,
    protocol: ProtocolQuery = None,
) -> MatrixOut:
    response.headers.update(snapshot_headers(record))
    ports = PortFilter(protocol, port)
    matrix = namespace_matrix(session, analyzer, record, options, ports, deadline)
    return _matrix_out(record.cluster, record.version, matrix, ports)


@router.get(
    "/between",
    response_model=PairPageOut,
    response_model_by_alias=True,
    responses=responses(401, 403, 404, 422, 503),
    summary="The workload connections of one namespace pair (one matrix cell), paginated",
    description="The rows of the workload connectivity map whose source is in `from` and "
    "whose target is in `to` (`IPBlock`: external addresses), with the same `port` and "
    "`protocol` filters as the summary. Pages are bound to the version the first page "
    "answered.",
)
def between(
    record: ReadSnapshot,
    ref: RefPath,
    session: AnalysisSession,
    deadline: AnalysisDeadline,
    analyzer: AnalyzerDep,
    options: OptionsDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    response: Response,
    source: FromQuery,
    target: ToQuery,
    port: PortQuery = None,
    protocol: ProtocolQuery = None,
    limit: Annotated[int | None, Query(ge=1, description="page size (capped)")] = None,
    cursor: Annotated[
        str | None, Query(max_length=300, description="next_cursor of the previous page")
    ] = None,
) -> PairPageOut:
    query = query_digest(
        {"from": source, "to": target, "port": port or "", "protocol": protocol or "",
         "options": options}
    )  # fmt: skip
    record, start = resume(runtime.refs, record, ref, cursor, "b", query)
    response.headers.update(snapshot_headers(record))
    ports = PortFilter(protocol, port)
    cmap = namespace_pair(session, analyzer, record, options, source, target, ports, deadline)
    size = min(limit or settings.page_size, settings.max_page_size)
    stop = min(start + size, len(cmap))
    return PairPageOut.model_validate({
        "cluster": record.cluster, "version": record.version, "from": source, "to": target,
        "filter": FilterOut(port=port, protocol=protocol), "total": len(cmap), "limit": size,
        "next_cursor": (
            SnapshotCursor.first(record, stop, query).encode("b") if stop < len(cmap) else None
        ),
        "connections": connections_to_api(cmap, start, stop) if start < stop else [],
    })  # fmt: skip
