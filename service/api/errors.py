"""One error envelope for every error: ``{"error": {"code", "message", "details": [...]}}``.

Use cases raise domain errors (:mod:`service.usecases.errors`) without HTTP statuses; this
module maps them, and the framework's own errors, to statuses. Nothing a client can send ends
in a 500: every such path raises one of the errors handled here. Unexpected exceptions are
bugs: they are logged once with their traceback (without local variables, redacted: see
:mod:`service.api.logging`) and answered 500 in the same envelope.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.engine.deadline import DeadlineExceeded
from service.store.errors import SnapshotNotFoundError
from service.usecases.errors import (
    InputTooLargeError,
    InvalidManifestsError,
    InvalidQueryError,
    NotFoundError,
    UseCaseError,
)

log = structlog.get_logger("netreach.api")


class ErrorBody(BaseModel):
    code: str = Field(description="stable, machine-readable")
    message: str
    details: list[dict[str, Any]] = Field(
        default_factory=list,
        description="what exactly is wrong: field / document / object, one entry per problem",
    )


class ErrorEnvelope(BaseModel):
    model_config = ConfigDict(json_schema_extra={"title": "Error"})

    error: ErrorBody


class ApiError(StarletteHTTPException):
    """An error the API layer itself raises (auth, media type, body size, pagination).

    A Starlette ``HTTPException`` so that FastAPI's body reader lets it through untouched.
    """

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(self.status, message, headers)
        self.message = message
        self.details = details or []


class UnauthorizedError(ApiError):
    status = 401
    code = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="netreach"'})


class ForbiddenError(ApiError):
    status = 403
    code = "forbidden"


class UnsupportedMediaTypeError(ApiError):
    status = 415
    code = "unsupported_media_type"


class BodyTooLargeError(ApiError):
    status = 413
    code = "payload_too_large"


class InvalidParameterError(ApiError):
    status = 422
    code = "invalid_parameter"


class AnalysesBusyError(ApiError):
    """Every analysis slot of this process is taken (``NETREACH_MAX_CONCURRENT_ANALYSES``)."""

    status = 503
    code = "analyses_busy"


STATUS_OF: dict[type[UseCaseError], int] = {
    NotFoundError: 404,
    InvalidManifestsError: 422,
    InvalidQueryError: 422,
    InputTooLargeError: 413,
}

_CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    503: "unavailable",
}
# Database errors (503 database_unavailable, schema_not_at_head): service.api.database_errors


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorEnvelope(error=ErrorBody(code=code, message=message, details=details or []))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def status_of(error: UseCaseError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 400


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("query", "limit")`` -> ``query.limit``; ``("body", "from")`` -> ``body.from``."""
    return ".".join(str(part) for part in loc)


def _validation_details(error: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for item in error.errors():
        loc = list(item.get("loc", ()))
        position = None
        if item.get("type") == "json_invalid" and len(loc) == 2:
            position, loc = loc[1], loc[:1]  # ("body", character offset)
        detail: dict[str, Any] = {
            "field": _field(loc),
            "loc": [part if isinstance(part, int) else str(part) for part in loc],
            "message": str(item.get("msg", "invalid")),
            "type": str(item.get("type", "invalid")),
        }
        if position is not None:
            detail["position"] = position
        context = item.get("ctx")
        if isinstance(context, dict) and "error" in context:
            detail["reason"] = str(context["error"])
        details.append(detail)
    return details


async def _use_case_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UseCaseError)
    return error_response(status_of(error), error.code, error.message, error.details)


async def _snapshot_vanished(_request: Request, error: Exception) -> JSONResponse:
    # Deleted by a concurrent request between finding it and reading it.
    return error_response(404, "not_found", str(error))


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = _validation_details(error)
    fields = ", ".join(dict.fromkeys(d["field"] for d in details))
    return error_response(422, "validation_error", f"invalid request: {fields}", details)


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if isinstance(error, ApiError):
        return error_response(
            error.status_code, error.code, error.message, error.details, error.headers
        )
    status = error.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    message = error.detail if isinstance(error.detail, str) else phrase
    code = _CODE_OF_STATUS.get(status, phrase.lower().replace(" ", "_").replace("-", "_"))
    return error_response(status, code, message, headers=error.headers)


TIMEOUT_SETTING = "NETREACH_ANALYSIS_TIMEOUT_SECONDS"


async def _analysis_timeout(_request: Request, error: Exception) -> JSONResponse:
    # The engine stopped at a deadline check: the worker thread is free again.
    assert isinstance(error, DeadlineExceeded)
    log.info("analysis_timeout", stage=error.stage, budget_seconds=error.budget)
    return error_response(
        503,
        "analysis_timeout",
        f"{error}; the analysis was stopped (the server's {TIMEOUT_SETTING})",
        [{"stage": error.stage, "budget_seconds": error.budget, "setting": TIMEOUT_SETTING}],
        headers={"Retry-After": str(max(1, math.ceil(error.budget)))},
    )


def internal_error(error: BaseException) -> JSONResponse:
    """Log a bug (one line) and the 500 answering it."""
    log.error("unhandled_exception", exc_info=error)
    return error_response(500, "internal_error", "internal server error")


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    # Starlette's ServerErrorMiddleware, outside every other middleware, runs this (and
    # re-raises the error afterwards): only for a bug in the request-context middleware.
    return internal_error(error)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(UseCaseError, _use_case_error)
    app.add_exception_handler(SnapshotNotFoundError, _snapshot_vanished)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DeadlineExceeded, _analysis_timeout)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` declaring the error envelope for ``statuses``."""
    return {
        status: {"model": ErrorEnvelope, "description": HTTPStatus(status).phrase}
        for status in statuses
    }
