"""Compressed responses: gzip when the client accepts it (maps, diffs, any large answer).

Starlette's ``GZipMiddleware`` does the work (streamed answers are compressed as they go,
large chunks off the event loop); this wrapper adds what it lacks: ``Accept-Encoding`` read
with its quality values (``gzip;q=0`` refuses gzip), and an ``ETag`` made weak on a
compressed answer, since a strong one names the exact bytes (RFC 9110 8.8.3) and the gzip
bytes differ from the plain ones. ``Vary: Accept-Encoding`` is on every answer large enough
to be compressed, compressed or not.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Below this many bytes compression saves less than it costs (a few packets at most).
MINIMUM_SIZE = 4096
# zlib's default level: within a few percent of 9 on JSON, several times faster.
LEVEL = 6


def accepts_gzip(header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (RFC 9110 12.5.3).

    >>> accepts_gzip("gzip, br"), accepts_gzip("br;q=1, gzip;q=0"), accepts_gzip("*")
    (True, False, True)
    >>> accepts_gzip("*;q=0.5, gzip;q=0"), accepts_gzip(None), accepts_gzip("identity")
    (False, False, False)
    """
    qualities: dict[str, float] = {}
    for item in (header or "").split(","):
        coding, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding.strip():
            qualities[coding.strip().lower()] = quality
    for name in ("gzip", "x-gzip", "*"):
        if name in qualities:
            return qualities[name] > 0
    return False


# Streamed answers come in pieces as small as one line (markdown and CSV maps): compressed
# and flushed one by one they would barely shrink, so pieces are gathered up to this size.
GATHER = 64 * 1024


class _Gather:
    """Passes a streamed body on in pieces of at least GATHER bytes (the last one smaller)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pending: list[bytes] = []
        size = 0

        async def gathering(message: Message) -> None:
            nonlocal size
            if message["type"] != "http.response.body":
                await send(message)
                return
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if more and size + len(body) < GATHER:
                pending.append(body)
                size += len(body)
                return
            if pending:
                body = b"".join([*pending, body])
                pending.clear()
                size = 0
            await send({"type": "http.response.body", "body": body, "more_body": more})

        await self.app(scope, receive, gathering)


class ResponseCompressionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.gzip = GZipMiddleware(_Gather(app), minimum_size=MINIMUM_SIZE, compresslevel=LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.gzip.app(scope, receive, send)
            return
        given: str | None = None
        headers = []
        for key, value in scope.get("headers", ()):
            if key == b"accept-encoding":
                text = value.decode("latin-1")
                given = text if given is None else f"{given}, {text}"
            else:
                headers.append((key, value))
        if accepts_gzip(given):
            headers.append((b"accept-encoding", b"gzip"))

        async def weak_etag(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(raw=message.setdefault("headers", []))
                etag = out.get("etag")
                if etag and not etag.startswith("W/") and "content-encoding" in out:
                    out["etag"] = f"W/{etag}"
            await send(message)

        scope["headers"] = headers  # in place: outer middleware reads the route from it
        await self.gzip(scope, receive, weak_etag)
