"""Slow clients cannot hold connections: uvicorn's HTTP protocol with read deadlines.

uvicorn closes a keep-alive connection idle for ``timeout_keep_alive``, but it waits for ever
for a request's headers (a connection that sends nothing, or one header byte now and then:
"slowloris") and for the rest of a half-sent body. This protocol closes the connection when
a request's headers are not complete ``head_timeout`` seconds after the connection opened or
the request began, or when a body stalls for ``head_timeout`` seconds between two chunks.
``netreach serve`` (and the test servers) run it; behind a reverse proxy, the proxy's own
header and body timeouts do the same (see the README).

A request the HTTP parser rejects (a malformed request line, a byte a URL may not hold)
gets the API's JSON error envelope, as every other 400 does, not uvicorn's plain text.
"""

from __future__ import annotations

import asyncio
import json
from asyncio import TimerHandle
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class DeadlineProtocol(HttpToolsProtocol):
    """Importable as ``service.api.protocol:DeadlineProtocol`` (uvicorn's worker processes
    import it by name): then the deadline is the settings' ``timeout_request_head``."""

    head_timeout: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: TimerHandle | None = None
        if self.head_timeout is None:
            from service.settings import get_settings

            self._timeout = get_settings().timeout_request_head
        else:
            self._timeout = self.head_timeout

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self._timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # The body's chunks now each get head_timeout; a request without a body completes
        # at once (on_message_complete disarms).
        self._arm()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def on_response_complete(self) -> None:
        self._disarm()
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": {"code": "bad_request", "message": msg, "details": []}}).encode(
            "ascii"
        )
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: application/json\r\n")
        head.append(b"content-length: " + str(len(body)).encode("ascii") + b"\r\n")
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + body)
        self.transport.close()


IMPORT_NAME = "service.api.protocol:DeadlineProtocol"


def deadline_protocol(head_timeout: float) -> type[DeadlineProtocol]:
    """The protocol class for uvicorn's ``http=`` with this deadline (in-process servers:
    a class made here cannot be handed to worker processes, use IMPORT_NAME there)."""
    return type("DeadlineProtocol", (DeadlineProtocol,), {"head_timeout": head_timeout})
