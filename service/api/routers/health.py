"""Liveness, readiness and metrics; open without a token."""

from __future__ import annotations

import anyio
import anyio.to_thread
from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine
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


def _schema_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": ErrorEnvelope, "description": "Not ready"}},
    summary="The database is reachable and its schema is at the code's migration head",
    description="503 (with the failing check in `details`) while it is not (readiness probes).",
)
async def readyz(runtime: RuntimeDep) -> Readiness | Response:
    # A database that stopped answering on a pooled connection (a host frozen, a network
    # partition the kernel does not see) would hold the check for ever: it gets a deadline,
    # and threads of its own, so that stuck checks never take the requests' threads.
    deadline = runtime.settings.database_connect_timeout + 1.0
    try:
        with anyio.fail_after(deadline):
            current = await anyio.to_thread.run_sync(
                _schema_revision,
                runtime.engine,
                abandon_on_cancel=True,
                limiter=runtime.readiness_threads,
            )
    except TimeoutError:
        return error_response(
            503,
            "not_ready",
            f"the database did not answer within {deadline:g} s",
            [{"check": "database", "reason": f"no answer within {deadline:g} s"}],
        )
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
