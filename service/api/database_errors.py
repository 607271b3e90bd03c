"""Database failures as 503s: unreachable, too slow, or a schema not at the code's head.

A database that hangs or refuses (connect, statement, lock and pool timeouts bound every
wait, :class:`service.store.database.DatabaseTimeouts`) is ``503 database_unavailable``. A
database whose schema is not at the migration head (recreated empty, or behind) makes
queries fail with "no such table" or "column does not exist": that is ``503
schema_not_at_head`` with the command that fixes it, never a 500. Any other database error
is a bug: logged and answered 500 as every one (``errors.internal_error``).

A schema that is merely behind may not make any query fail, so :func:`require_schema_at_head`
(a dependency of every ``/v1`` route) also reads the revision, at most once per
:data:`SCHEMA_CHECK_SECONDS` per process while it is at head.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import structlog
from alembic.runtime.migration import MigrationContext
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from service.api.errors import error_response, internal_error

if TYPE_CHECKING:
    from service.api.deps import Runtime

log = structlog.get_logger("netreach.api")

UPGRADE_HINT = "run `netreach db upgrade`"
SCHEMA_CHECK_SECONDS = 5.0


class SchemaNotAtHeadError(Exception):
    def __init__(self, current: str | None, head: str) -> None:
        super().__init__(f"schema at {current}, head {head}")
        self.current = current
        self.head = head


@dataclass(slots=True)
class SchemaGuard:
    """When the schema was last seen at head (per process; ``time.monotonic``)."""

    checked_at: float = float("-inf")

    def fresh(self) -> bool:
        return time.monotonic() - self.checked_at < SCHEMA_CHECK_SECONDS


def _reason(error: BaseException) -> str:
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def runtime_of(request: Request) -> Runtime:
    return cast("Runtime", request.state.runtime)


def current_revision(request: Request) -> str | None:
    """The schema revision of the app's database (raises when it cannot be read)."""
    with runtime_of(request).engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


async def require_schema_at_head(request: Request) -> None:
    """Raise :class:`SchemaNotAtHeadError` unless the schema was seen at head lately.

    A database that cannot be read raises its own error (503 database_unavailable)."""
    runtime = runtime_of(request)
    if runtime.schema.fresh():
        return
    current = await run_in_threadpool(current_revision, request)
    if current != runtime.head_revision:
        raise SchemaNotAtHeadError(current, runtime.head_revision)
    runtime.schema.checked_at = time.monotonic()


def _schema_response(error: SchemaNotAtHeadError) -> JSONResponse:
    log.error("schema_not_at_head", current=error.current, head=error.head)
    return error_response(
        503,
        "schema_not_at_head",
        f"the database schema is at {error.current or 'no revision (empty)'}, not at the "
        f"code's head {error.head}: {UPGRADE_HINT}",
        [{"check": "schema", "current": error.current, "head": error.head, "hint": UPGRADE_HINT}],
    )


async def _schema_behind(request: Request) -> JSONResponse | None:
    """A 503 when the schema is not at head; ``None`` when it is, or cannot be read."""
    runtime = runtime_of(request)
    runtime.schema.checked_at = float("-inf")
    try:
        await require_schema_at_head(request)
    except SchemaNotAtHeadError as error:
        return _schema_response(error)
    except SQLAlchemyError:
        return None
    return None


async def _not_at_head(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SchemaNotAtHeadError)
    return _schema_response(error)


def _unavailable(error: BaseException) -> JSONResponse:
    reason = _reason(error)
    log.error("database_unavailable", error=reason)
    return error_response(
        503,
        "database_unavailable",
        "the database is unavailable or did not answer in time; retry later",
        [{"check": "database", "reason": reason}],
    )


# How SQLite reports a schema that lacks what a query needs (as an OperationalError).
_SQLITE_SCHEMA_ERRORS = ("no such table", "no such column", "has no column")


async def _operational(request: Request, error: Exception) -> JSONResponse:
    if any(marker in _reason(error) for marker in _SQLITE_SCHEMA_ERRORS):
        behind = await _schema_behind(request)
        if behind is not None:
            return behind
    return _unavailable(error)


async def _programming(request: Request, error: Exception) -> JSONResponse:
    # PostgreSQL: UndefinedTable / UndefinedColumn. Anything else is a bug.
    behind = await _schema_behind(request)
    if behind is not None:
        return behind
    return internal_error(error)  # a bug


async def _pool_timeout(_request: Request, error: Exception) -> JSONResponse:
    return _unavailable(error)


def install_database_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OperationalError, _operational)
    app.add_exception_handler(ProgrammingError, _programming)
    app.add_exception_handler(PoolTimeoutError, _pool_timeout)
    app.add_exception_handler(SchemaNotAtHeadError, _not_at_head)
