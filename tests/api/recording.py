"""Requests as a real server received them: an outermost ASGI middleware for tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class Arrival:
    """One request as the server received it, before any middleware of the app."""

    method: str
    path: str
    headers: dict[str, str]
    wire_bytes: int = 0


def recording(arrivals: list[Arrival]) -> Any:
    """An outermost ASGI middleware noting each request's headers and the body bytes the
    app read from the connection."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def recorder(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            arrival = Arrival(scope["method"], scope["path"], headers)
            arrivals.append(arrival)

            async def counting() -> Message:
                message = await receive()
                arrival.wire_bytes += len(message.get("body", b""))
                return message

            await app(scope, counting, send)

        return recorder

    return wrap
