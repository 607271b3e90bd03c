"""Pure ASGI middleware: request id + access log + metrics, and the request body limit."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.utils import ClientDisconnected

from service.api.errors import BodyTooLargeError, error_response, internal_error
from service.api.metrics import Metrics

REQUEST_ID_HEADER = "x-request-id"
CLIENT_CLOSED_REQUEST = 499  # the access log's status for a client that went away (nginx's)
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}\Z")

access_log = structlog.get_logger("netreach.access")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    """Honours (or creates) ``X-Request-ID``, echoes it, logs one line, records metrics.

    It is also where a request ends that the application did not answer: a client that
    disconnected (mid-upload, say) is the access line's status 499 and nothing more; a bug
    is one ``unhandled_exception`` line (see :func:`service.api.errors.internal_error`) and a
    500 in the error envelope, handled here so that the server does not log it again in
    its own format.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = given if given and _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        started_response = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                headers = list(message.get("headers", ()))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_wrapper)
        except (ClientDisconnect, ClientDisconnected):
            status = CLIENT_CLOSED_REQUEST
        except Exception as error:  # a bug: logged once, answered in the envelope
            response = internal_error(error)
            if not started_response:
                await response(scope, receive, send_wrapper)
        finally:
            duration = time.perf_counter() - started
            route = route_template(scope)
            method = str(scope["method"])
            self.metrics.observe_request(method, route, status, duration)
            access_log.info(
                "request",
                request_id=request_id,
                method=method,
                route=route,
                path=scope.get("path"),
                status=status,
                duration_ms=round(duration * 1000, 2),
                client=(scope.get("client") or (None,))[0],
            )
            structlog.contextvars.unbind_contextvars("request_id")


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes``: early by ``Content-Length`` (nothing is read), and
    while streaming (chunked bodies, or a lying header) by counting the bytes received."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"the request body exceeds the limit of {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                response = error_response(400, "bad_request", "invalid Content-Length header")
                await response(scope, receive, send)
                return
            if length > self.max_bytes:
                response = error_response(
                    413, BodyTooLargeError.code, self._message(), [{"limit": self.max_bytes}]
                )
                await response(scope, receive, send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message: dict[str, Any] = dict(await receive())
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self._message(), [{"limit": self.max_bytes}])
            return message

        await self.app(scope, counting_receive, send)
