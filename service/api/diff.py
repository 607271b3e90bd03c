"""Diffs and time travel: two stored snapshots (of one cluster or two), a what-if against a
stored snapshot (nothing stored), and reachability across a cluster's versions.

CPU-bound like the analyses: plain ``def`` routes, run in the threadpool; compiled snapshots
and maps come from the process's analyzer cache.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from service.api.analyses import AnalysisDeadline, AnalysisSession
from service.api.answers import HistoryAt, HistoryFirst
from service.api.deps import AnalyzerDep, ReadAccess, ReadSnapshot, SettingsDep, snapshot_headers
from service.api.errors import ForbiddenError, responses
from service.api.examples import WHAT_IF_EXAMPLE
from service.api.params import ClusterPath, parse_ref_param
from service.api.routers.analysis import GranularityQuery, OptionsDep
from service.engine.options import Granularity
from service.ingest import Limits
from service.report.diff import iter_diff_json, render_markdown
from service.report.verdict import verdict_to_api
from service.store.records import SnapshotRecord
from service.usecases.diffs import (
    DiffOutcome,
    diff_snapshots,
    parse_cluster_ref,
    proposed_change,
    what_if,
)
from service.usecases.errors import InvalidQueryError
from service.usecases.history import Question, State, at_version, first_version

router = APIRouter(tags=["diff"])


class DiffFormat(StrEnum):
    JSON = "json"
    MD = "md"


_DIFF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "json: the diff (`DiffAnswer`); md: a pull-request comment (at most "
        "65,536 characters). `X-Netreach-Snapshot` names base and head.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/DiffAnswer"}},
            "text/markdown": {"schema": {"type": "string"}},
        },
    },
    **responses(401, 403, 404, 422, 503),
}
RefQuery = Annotated[
    str,
    Query(max_length=32, description="a version number or latest", examples=["1", "latest"]),
]
FormatQuery = Annotated[
    DiffFormat, Query(alias="format", description="json (default) or md (a PR comment)")
]


def _render(outcome: DiffOutcome, output_format: DiffFormat, *records: SnapshotRecord) -> Response:
    headers = snapshot_headers(*records)
    if output_format is DiffFormat.MD:
        return Response(
            render_markdown(outcome.diff, outcome.base, outcome.head),
            media_type="text/markdown; charset=utf-8",
            headers=headers,
        )
    return StreamingResponse(
        iter_diff_json(outcome.diff, outcome.base, outcome.head),
        media_type="application/json",
        headers=headers,
    )


@router.get(
    "/v1/clusters/{cluster}/diff",
    response_class=Response,
    responses=_DIFF_RESPONSES,
    summary="What changed between two versions of a cluster: connections and objects",
    description="A semantic diff: connections added, removed or changed (with highlights: "
    "new external exposure, new cross-namespace traffic, lost ingress, egress or DNS), and "
    "the objects that changed.",
)
def diff_versions(
    cluster: ClusterPath,
    principal: ReadAccess,
    session: AnalysisSession,
    deadline: AnalysisDeadline,
    analyzer: AnalyzerDep,
    options: OptionsDep,
    base: RefQuery,
    head: RefQuery,
    granularity: GranularityQuery = Granularity.WORKLOAD,
    output_format: FormatQuery = DiffFormat.JSON,
) -> Response:
    outcome = diff_snapshots(
        session,
        analyzer,
        (cluster, parse_ref_param(cluster, base, "query.base")),
        (cluster, parse_ref_param(cluster, head, "query.head")),
        granularity=granularity,
        options=options,
        deadline=deadline,
    )
    return _render(outcome, output_format, *outcome.records)


ClusterRefQuery = Annotated[
    str,
    Query(
        max_length=100,
        pattern=r"^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?(@[^\x00-\x1f\x7f]{0,32})?$",
        description="CLUSTER@REF (REF a version number or latest; CLUSTER alone: latest)",
        examples=["staging@latest", "prod@12"],
    ),
]


@router.get(
    "/v1/diff",
    response_class=Response,
    responses=_DIFF_RESPONSES,
    summary="What changed between two snapshots of any clusters (staging@3 against prod@9)",
    description="The same diff as within one cluster, across two (the caller needs read "
    "access to both).",
)
def diff_clusters(
    principal: ReadAccess,
    session: AnalysisSession,
    deadline: AnalysisDeadline,
    analyzer: AnalyzerDep,
    options: OptionsDep,
    base: ClusterRefQuery,
    head: ClusterRefQuery,
    granularity: GranularityQuery = Granularity.WORKLOAD,
    output_format: FormatQuery = DiffFormat.JSON,
) -> Response:
    sides = [parse_cluster_ref(base, "query.base"), parse_cluster_ref(head, "query.head")]
    for name, _ in sides:
        if not principal.may_access(name):
            raise ForbiddenError(
                f"token {principal.token!r} may not access cluster {name!r}",
                [{"cluster": name, "allowed_clusters": list(principal.clusters)}],
            )
    outcome = diff_snapshots(
        session,
        analyzer,
        sides[0],
        sides[1],
        granularity=granularity,
        options=options,
        deadline=deadline,
    )
    return _render(outcome, output_format, *outcome.records)


class DeletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=253, examples=["NetworkPolicy"])
    namespace: str | None = Field(default=None, max_length=253, examples=["shop"])
    name: str = Field(min_length=1, max_length=253, examples=["api-from-web"])


class WhatIfIn(BaseModel):
    """Objects to add or replace (matched by kind, namespace and name), and deletions."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [WHAT_IF_EXAMPLE]})

    manifests: list[dict[str, Any]] | None = Field(
        default=None, description="objects, read exactly as an upload's"
    )
    manifests_yaml: str | None = Field(default=None, description="or multi-document YAML")
    delete: list[DeletionIn] = Field(default_factory=list, description="objects to remove")
    granularity: Granularity = Granularity.WORKLOAD
    format: DiffFormat = Field(
        DiffFormat.JSON, description="json or md (the `format` query parameter also works)"
    )


@router.post(
    "/v1/clusters/{cluster}/snapshots/{ref}/what-if",
    response_class=Response,
    responses={**_DIFF_RESPONSES, **responses(401, 403, 404, 413, 422, 503)},
    summary="The diff a proposed change would make to a snapshot; nothing is stored",
    description="Apply `manifests` (or `manifests_yaml`) and `delete` to the snapshot and "
    "answer the diff from it to the result, as `.../diff` would.",
)
def what_if_route(
    record: ReadSnapshot,
    body: WhatIfIn,
    session: AnalysisSession,
    deadline: AnalysisDeadline,
    settings: SettingsDep,
    analyzer: AnalyzerDep,
    options: OptionsDep,
    output_format: Annotated[
        DiffFormat | None,
        Query(alias="format", description="json or md; overrides the body's `format`"),
    ] = None,
) -> Response:
    change = proposed_change(
        manifests=body.manifests,
        manifests_yaml=body.manifests_yaml,
        delete=[d.model_dump() for d in body.delete],
        limits=Limits(max_bytes=settings.max_body_bytes, counts=settings.count_limits()),
    )
    outcome = what_if(
        session,
        analyzer,
        record.cluster,
        record.version,
        change,
        granularity=body.granularity,
        options=options,
        deadline=deadline,
    )
    return _render(outcome, output_format or body.format, record)


@router.get(
    "/v1/clusters/{cluster}/history/reachability",
    response_model=HistoryAt | HistoryFirst,
    responses=responses(401, 403, 404, 422, 503),
    summary="Was `from` -> `to` allowed in version N (`at`), or which version first allowed "
    "or denied it (`first`, by bisection)?",
    description="A version where an endpoint does not exist counts as `absent` (denied). "
    "Give exactly one of `at` and `first`.",
)
def history_reachability(
    cluster: ClusterPath,
    principal: ReadAccess,
    session: AnalysisSession,
    deadline: AnalysisDeadline,
    analyzer: AnalyzerDep,
    options: OptionsDep,
    source: Annotated[
        str,
        Query(alias="from", max_length=512, pattern=r"^[^\x00-\x1f\x7f]+$",
              description="`ns/pod`, `ns/Kind/name` or an IP", examples=["shop/Deployment/web"]),
    ],
    target: Annotated[
        str,
        Query(alias="to", max_length=512, pattern=r"^[^\x00-\x1f\x7f]+$",
              description="the same forms as `from`", examples=["0.0.0.0"]),
    ],
    port: Annotated[
        str | None,
        Query(max_length=15, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
              description="number or name"),
    ] = None,
    protocol: Annotated[
        Literal["TCP", "UDP", "SCTP"] | None, Query(description="TCP by default")
    ] = None,
    at: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="was it allowed in this version?")
    ] = None,
    first: Annotated[
        State | None, Query(description="allowed or denied: which version first was?")
    ] = None,
) -> dict[str, Any]:  # fmt: skip
    if (at is None) == (first is None):
        raise InvalidQueryError(
            "give exactly one of at=N and first=allowed|denied",
            [{"field": "query.at"}, {"field": "query.first"}],
        )
    question = Question.of(source, target, port, protocol)
    asked = {
        "cluster": cluster,
        "from": source,
        "to": target,
        "port": question.port,
        "protocol": question.protocol.value if question.protocol else None,
    }
    if at is not None:
        found = at_version(session, analyzer, cluster, at, question, options, deadline)
        return {
            **asked,
            "version": found.version,
            "state": found.state.value,
            "allowed": found.state.allowed,
            "note": found.note,
            "verdict": verdict_to_api(found.verdict) if found.verdict else None,
        }
    assert first is not None
    result = first_version(session, analyzer, cluster, question, first, options, deadline)
    return {
        **asked,
        "first": result.wanted.value,
        "version": result.version,
        "previous_version": result.previous,
        "versions_searched": result.versions,
        "note": result.note,
        "probes": [{"version": p.version, "state": p.state.value} for p in result.probes],
    }
