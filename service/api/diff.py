"""Diffs and time travel: two stored snapshots (of one cluster or two), a what-if against a
stored snapshot (nothing stored), and reachability across a cluster's versions.

CPU-bound like the analyses: plain ``def`` routes, run in the threadpool; compiled snapshots
and maps come from the process's analyzer cache.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import AnalyzerDep, ReadAccess, SessionDep
from service.api.errors import ForbiddenError, responses
from service.api.routers.analysis import OptionsDep
from service.api.routers.snapshots import ClusterPath, RefPath, parse_ref_param
from service.engine.options import Granularity
from service.report.diff import iter_diff_json, render_markdown
from service.report.verdict import verdict_to_api
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
        "description": 'json: `{"base", "head", "granularity", "summary", "highlights", '
        '"connections": {"added", "removed", "changed"}, "objects": {"added", "removed", '
        '"changed"}}`; md: a pull-request comment (at most 65,536 characters).',
        "content": {"application/json": {}, "text/markdown": {}},
    },
    **responses(401, 403, 404, 422),
}
BaseQuery = Annotated[str, Query(max_length=300, description="a version number or latest")]
FormatQuery = Annotated[DiffFormat, Query(alias="format")]


def _render(outcome: DiffOutcome, output_format: DiffFormat) -> Response:
    if output_format is DiffFormat.MD:
        return Response(
            render_markdown(outcome.diff, outcome.base, outcome.head),
            media_type="text/markdown; charset=utf-8",
        )
    return StreamingResponse(
        iter_diff_json(outcome.diff, outcome.base, outcome.head), media_type="application/json"
    )


@router.get(
    "/v1/clusters/{cluster}/diff",
    response_class=Response,
    responses=_DIFF_RESPONSES,
    summary="What changed between two versions of a cluster: connections and objects",
)
def diff_versions(
    cluster: ClusterPath,
    principal: ReadAccess,
    session: SessionDep,
    analyzer: AnalyzerDep,
    options: OptionsDep,
    base: BaseQuery,
    head: BaseQuery,
    granularity: Granularity = Granularity.WORKLOAD,
    output_format: FormatQuery = DiffFormat.JSON,
) -> Response:
    outcome = diff_snapshots(
        session,
        analyzer,
        (cluster, parse_ref_param(cluster, base)),
        (cluster, parse_ref_param(cluster, head)),
        granularity=granularity,
        options=options,
    )
    return _render(outcome, output_format)


@router.get(
    "/v1/diff",
    response_class=Response,
    responses=_DIFF_RESPONSES,
    summary="What changed between two snapshots of any clusters (staging@3 against prod@9)",
)
def diff_clusters(
    principal: ReadAccess,
    session: SessionDep,
    analyzer: AnalyzerDep,
    options: OptionsDep,
    base: Annotated[str, Query(max_length=300, description="CLUSTER@REF")],
    head: Annotated[str, Query(max_length=300, description="CLUSTER@REF")],
    granularity: Granularity = Granularity.WORKLOAD,
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
        session, analyzer, sides[0], sides[1], granularity=granularity, options=options
    )
    return _render(outcome, output_format)


class DeletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=253)
    namespace: str | None = Field(default=None, max_length=253)
    name: str = Field(min_length=1, max_length=253)


class WhatIfIn(BaseModel):
    """Objects to add or replace (matched by kind, namespace and name), and deletions."""

    model_config = ConfigDict(extra="forbid")

    manifests: list[dict[str, Any]] | None = Field(
        default=None, description="objects, read exactly as an upload's"
    )
    manifests_yaml: str | None = Field(default=None, description="or multi-document YAML")
    delete: list[DeletionIn] = Field(default_factory=list)
    granularity: Granularity = Granularity.WORKLOAD
    format: DiffFormat = DiffFormat.JSON


@router.post(
    "/v1/clusters/{cluster}/snapshots/{ref}/what-if",
    response_class=Response,
    responses={**_DIFF_RESPONSES, **responses(401, 403, 404, 413, 422)},
    summary="The diff a proposed change would make to a snapshot; nothing is stored",
)
def what_if_route(
    cluster: ClusterPath,
    ref: RefPath,
    body: WhatIfIn,
    principal: ReadAccess,
    session: SessionDep,
    analyzer: AnalyzerDep,
    options: OptionsDep,
) -> Response:
    change = proposed_change(
        manifests=body.manifests,
        manifests_yaml=body.manifests_yaml,
        delete=[d.model_dump() for d in body.delete],
    )
    outcome = what_if(
        session,
        analyzer,
        cluster,
        parse_ref_param(cluster, ref),
        change,
        granularity=body.granularity,
        options=options,
    )
    return _render(outcome, body.format)


@router.get(
    "/v1/clusters/{cluster}/history/reachability",
    responses=responses(401, 403, 404, 422),
    summary="Was `from` -> `to` allowed in version N (`at`), or which version first allowed "
    "or denied it (`first`, by bisection)?",
)
def history_reachability(
    cluster: ClusterPath,
    principal: ReadAccess,
    session: SessionDep,
    analyzer: AnalyzerDep,
    options: OptionsDep,
    source: Annotated[str, Query(alias="from", max_length=600)],
    target: Annotated[str, Query(alias="to", max_length=600)],
    port: Annotated[str | None, Query(max_length=15)] = None,
    protocol: Annotated[str | None, Query(max_length=8)] = None,
    at: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    first: Annotated[State | None, Query(description="allowed or denied")] = None,
) -> dict[str, Any]:
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
        found = at_version(session, analyzer, cluster, at, question, options)
        return {
            **asked,
            "version": found.version,
            "state": found.state.value,
            "allowed": found.state.allowed,
            "note": found.note,
            "verdict": verdict_to_api(found.verdict) if found.verdict else None,
        }
    assert first is not None
    result = first_version(session, analyzer, cluster, question, first, options)
    return {
        **asked,
        "first": result.wanted.value,
        "version": result.version,
        "previous_version": result.previous,
        "versions_searched": result.versions,
        "note": result.note,
        "probes": [{"version": p.version, "state": p.state.value} for p in result.probes],
    }
