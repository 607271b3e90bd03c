"""Lint of a stored snapshot: the NetworkPolicy mistakes, explained, with suggested fixes.

``GET /v1/clusters/{cluster}/snapshots/{ref}/lint?format=json|md|sarif|text&suppress=...``
(read scope). CPU-bound like the analyses: a plain ``def`` route, run in the threadpool; the
compiled snapshot comes from the process's analyzer cache.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from service.api.deps import AnalyzerDep, ReadAccess, SessionDep
from service.api.errors import responses
from service.api.routers.analysis import OptionsDep
from service.api.routers.snapshots import ClusterPath, RefPath, parse_ref_param
from service.report.formats import LintFormat
from service.usecases.lint_stored import lint_snapshot
from service.usecases.snapshots import get_snapshot

router = APIRouter(prefix="/v1/clusters/{cluster}/snapshots/{ref}", tags=["analysis"])

MEDIA_TYPES = {
    LintFormat.JSON: "application/json",
    LintFormat.MD: "text/markdown; charset=utf-8",
    LintFormat.SARIF: "application/sarif+json",
    LintFormat.TEXT: "text/plain; charset=utf-8",
}


@router.get(
    "/lint",
    response_class=Response,
    responses={
        200: {
            "description": 'json: `{"findings": [{severity, code, check, message, object, '
            'objects, suggestion, field?, affected?}], "summary": {error, warning, info}, '
            '"suppressed": n}`; md: a pull-request comment; sarif: SARIF 2.1.0; text.',
            "content": {media.split(";")[0]: {} for media in MEDIA_TYPES.values()},
        },
        **responses(401, 403, 404, 422),
    },
    summary="NetworkPolicy mistakes in a snapshot, each explained with a suggested fix",
)
def lint(
    cluster: ClusterPath,
    ref: RefPath,
    principal: ReadAccess,
    session: SessionDep,
    analyzer: AnalyzerDep,
    options: OptionsDep,
    output_format: Annotated[LintFormat, Query(alias="format")] = LintFormat.JSON,
    suppress: Annotated[
        list[str] | None,
        Query(
            max_length=300,
            description="CODE, CODE:namespace/name, CODE:namespace/Kind/name or "
            "CODE:namespace (wildcards allowed); repeat the parameter or separate with commas",
        ),
    ] = None,
) -> Response:
    record = get_snapshot(session, cluster, parse_ref_param(cluster, ref))
    report = lint_snapshot(session, analyzer, record, options, suppress or [])
    return Response(report.render(output_format), media_type=MEDIA_TYPES[output_format])
