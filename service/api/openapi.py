"""The OpenAPI document, completed where FastAPI cannot infer it: the bearer security
scheme (read by one dependency without FastAPI's security machinery, see
:mod:`service.api.deps`) on every ``/v1`` operation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.api.deps import BEARER

SCHEME = "bearer"


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
            components.setdefault("securitySchemes", {})[SCHEME] = BEARER.model.model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
            for path, operations in document.get("paths", {}).items():
                if path.startswith("/v1/"):
                    for operation in operations.values():
                        operation["security"] = [{SCHEME: []}]
            app.openapi_schema = document
        return app.openapi_schema

    setattr(app, "openapi", build)  # noqa: B010  (FastAPI's documented override)
