"""The OpenAPI document, completed where FastAPI cannot infer it: the bearer security
scheme (read by one dependency without FastAPI's security machinery, see
:mod:`service.api.deps`) on every ``/v1`` operation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from service.api.answers import ConnectivityPage, DiffAnswer, LintAnswer
from service.api.deps import BEARER
from service.api.examples import OPERATIONS

SCHEME = "bearer"
STREAMED = (ConnectivityPage, DiffAnswer, LintAnswer)


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            components = document.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            # Answers streamed as text (connectivity, diff, lint) are referenced by name in
            # their routes' `responses`: their schemas are added here.
            _, extra = models_json_schema(
                [(m, "serialization") for m in STREAMED],
                ref_template="#/components/schemas/{model}",
            )
            for name, schema in extra.get("$defs", {}).items():
                schemas.setdefault(name, schema)
            components.setdefault("securitySchemes", {})[SCHEME] = BEARER.model.model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
            for path, operations in document.get("paths", {}).items():
                for method, operation in operations.items():
                    if path.startswith("/v1/"):
                        operation["security"] = [{SCHEME: []}]
                        _add_common_errors(operation)
                    _add_examples(operation, OPERATIONS.get((method, path), {}))
            app.openapi_schema = document
        return app.openapi_schema

    setattr(app, "openapi", build)  # noqa: B010  (FastAPI's documented override)


def _add_examples(operation: dict[str, Any], examples: dict[str, Any]) -> None:
    """The example request body and 2xx answer (JSON, and text for other formats)."""
    if "request" in examples:
        for content in operation.get("requestBody", {}).get("content", {}).values():
            content.setdefault("example", examples["request"])
    for status, response in operation.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        for media, content in response.get("content", {}).items():
            if media == "application/json":
                example = examples.get("response")
            else:
                example = examples.get(media, examples.get("text"))
            if example is not None:
                content.setdefault("example", example)


_ENVELOPE = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
_COMMON = {
    "400": "Bad Request: a body that cannot be read at all (not UTF-8, not JSON, gzip or "
    "deflate that does not decode), or a malformed Content-Length",
    "503": "The database is unavailable or did not answer in time (`database_unavailable`), "
    "or its schema is not at the code's migration head (`schema_not_at_head`: run `netreach "
    "db upgrade`); retry later",
}


def _add_common_errors(operation: dict[str, Any]) -> None:
    """What any ``/v1`` operation may answer, besides its own errors."""
    responses = operation.setdefault("responses", {})
    common = dict(_COMMON)
    if "requestBody" in operation:
        common["413"] = (
            "Payload Too Large: the body (decoded, if sent with Content-Encoding) exceeds "
            "the server's max_body_bytes"
        )
        common["415"] = (
            "Unsupported Media Type: a Content-Type the operation does not read, or a "
            "Content-Encoding other than gzip or deflate"
        )
    for status, description in common.items():
        responses.setdefault(status, {"description": description, "content": _ENVELOPE})
