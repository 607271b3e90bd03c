"""Requests say exactly what they mean: unknown query parameters (a misspelt ``namspace=``)
and control characters in path or query values are a 422 naming the parameter, instead of
being ignored or reaching the database (PostgreSQL refuses NUL bytes)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service.api.errors import InvalidParameterError
from service.usecases.filters import suggestions

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KNOWN: dict[int, frozenset[str]] = {}


def known_query_parameters(route: APIRoute) -> frozenset[str]:
    """Every query parameter a route (with its dependencies) reads, by its wire name."""
    key = id(route)
    if key not in _KNOWN:
        _KNOWN[key] = frozenset(_query_names(route.dependant))
    return _KNOWN[key]


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


class ControlCharacterError(InvalidParameterError):
    code = "validation_error"


def _refuse(
    where: str, name: str, message: str, error: type[InvalidParameterError], **extra: Any
) -> InvalidParameterError:
    return error(message, [{"field": f"{where}.{name}", "loc": [where, name], **extra}])


async def strict_parameters(request: Request) -> None:
    """A router dependency: runs before the route's own parameters are read."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and _CONTROL.search(value):
            raise _refuse(
                "path",
                name,
                f"path parameter {name!r} holds a control character",
                ControlCharacterError,
            )
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = known_query_parameters(route)
    for name, value in request.query_params.multi_items():
        if name not in known:
            close = suggestions(name, known)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            listed = ", ".join(sorted(known)) or "none"
            raise _refuse(
                "query",
                name[:100],
                f"unknown query parameter {name[:100]!r}{hint} (this operation reads: {listed})",
                InvalidParameterError,
                suggestions=close,
            )
        if _CONTROL.search(value):
            raise _refuse(
                "query",
                name,
                f"query parameter {name!r} holds a control character",
                ControlCharacterError,
            )
