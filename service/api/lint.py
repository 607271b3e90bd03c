"""Lint of a stored snapshot: the NetworkPolicy mistakes, explained, with suggested fixes.

``GET /v1/clusters/{cluster}/snapshots/{ref}/lint?format=json|md|sarif|text&suppress=...``
(read scope). CPU-bound like the analyses: a plain ``def`` route, run in the threadpool; the
compiled snapshot comes from the process's analyzer cache.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response

from service.api.analyses import AnalysisDeadline, AnalysisSession
from service.api.deps import AnalyzerDep, ReadSnapshot, snapshot_headers
from service.api.errors import responses
from service.api.routers.analysis import OptionsDep
from service.report.formats import LintFormat
from service.usecases.lint_stored import lint_snapshot

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
            "description": "json: the findings (`LintAnswer`), with the snapshot they are "
            "about; md: a pull-request comment; sarif: SARIF 2.1.0; text.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/LintAnswer"}},
                "text/markdown": {"schema": {"type": "string"}},
                "application/sarif+json": {"schema": {"type": "object"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        **responses(401, 403, 404, 422, 503),
    },
    summary="NetworkPolicy mistakes in a snapshot, each explained with a suggested fix",
    description="Findings by severity (error, warning, info) with a code (`NR001`...), the "
    "object, and a suggested fix. Objects annotated `netreach.io/lint-ignore` are exempt.",
)
def lint(
    record: ReadSnapshot,
    session: AnalysisSession,
    deadline: AnalysisDeadline,
    analyzer: AnalyzerDep,
    options: OptionsDep,
    output_format: Annotated[
        LintFormat, Query(alias="format", description="json (default), md, sarif or text")
    ] = LintFormat.JSON,
    suppress: Annotated[
        list[str] | None,
        Query(
            max_length=300,
            description="CODE, CODE:namespace/name, CODE:namespace/Kind/name or "
            "CODE:namespace (wildcards allowed); repeat the parameter or separate with commas",
        ),
    ] = None,
) -> Response:
    report = lint_snapshot(session, analyzer, record, options, suppress or [], deadline)
    headers = snapshot_headers(record)
    if output_format is LintFormat.JSON:
        body = {"cluster": record.cluster, "version": record.version, **report.to_api()}
        return Response(orjson.dumps(body), media_type="application/json", headers=headers)
    return Response(
        report.render(output_format), media_type=MEDIA_TYPES[output_format], headers=headers
    )
