"""Liveness, readiness and metrics; open without a token."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from service.api.deps import RuntimeDep
from service.api.errors import ErrorEnvelope, error_response
from service.api.schemas import Health, Readiness

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    response_model=Health,
    summary="The process is alive",
    description="Answers without touching the database (liveness probes).",
)
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": ErrorEnvelope, "description": "Not ready"}},
    summary="The database is reachable and its schema is at the code's migration head",
    description="503 (with the failing check in `details`) while it is not (readiness probes).",
)
def readyz(runtime: RuntimeDep) -> Readiness | Response:
    try:
        with runtime.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return error_response(
            503,
            "not_ready",
            "the database is unreachable",
            [{"check": "database", "reason": reason}],
        )
    if current != runtime.head_revision:
        return error_response(
            503,
            "not_ready",
            "the database schema is not at the migration head: run `netreach db upgrade`",
            [{"check": "schema", "current": current, "head": runtime.head_revision}],
        )
    return Readiness(database=runtime.engine.dialect.name, schema_revision=current)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition format",
        }
    },
    summary="Prometheus metrics",
    description="Requests by route and status, latency, uploads by outcome, compile times and "
    "the analyzer caches' hits and misses.",
)
def metrics(runtime: RuntimeDep) -> Response:
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
