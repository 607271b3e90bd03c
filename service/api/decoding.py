"""Compressed request bodies: ``Content-Encoding: gzip`` or ``deflate``, decoded as they stream.

The body limit applies to the decoded bytes: each chunk is inflated with zlib's
``max_length`` set to what the limit still allows (plus one byte), so a compression bomb is
refused with a 413 once one byte more than the limit has come out, never inflated further.
Decoded bytes reach the application in pieces of at most :data:`PIECE` bytes. The
application sees a plain body: ``Content-Encoding`` and ``Content-Length`` are removed from
the request's headers. ``BodyLimitMiddleware`` (outside this one) limits the wire bytes.
"""

from __future__ import annotations

import zlib
from collections import deque
from typing import Any, cast

from isal import isal_zlib
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import ApiError, BodyTooLargeError, error_response

PIECE = 1024 * 1024
SUPPORTED = ("gzip", "deflate")
_ALIASES = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_WBITS = -zlib.MAX_WBITS
_ISAL_ERROR = cast(type[Exception], isal_zlib.error)  # its stubs do not say it is one


class UnsupportedContentEncodingError(ApiError):
    status = 415
    code = "unsupported_content_encoding"


class InvalidContentEncodingError(ApiError):
    status = 400
    code = "invalid_content_encoding"


def request_coding(header: str | None) -> str | None:
    """The body's coding (``gzip`` or ``deflate``), ``None`` for a plain body; 415 otherwise.

    >>> request_coding("GZip"), request_coding("identity"), request_coding(None)
    ('gzip', None, None)
    >>> request_coding("br")
    Traceback (most recent call last):
    ...
    service.api.decoding.UnsupportedContentEncodingError: 415: ...
    """
    codings = [c.strip().lower() for c in (header or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in _ALIASES:
        return _ALIASES[codings[0]]
    raise UnsupportedContentEncodingError(
        f"cannot decode a request body with Content-Encoding {header!r}: send it "
        "uncompressed, or with Content-Encoding: gzip or deflate (one coding)",
        [
            {
                "field": "header.content-encoding",
                "input": (header or "")[:100],
                "supported": list(SUPPORTED),
            }
        ],
        headers={"Accept-Encoding": ", ".join(SUPPORTED)},
    )


def _deflate_wbits(first: bytes) -> int:
    """HTTP's ``deflate`` is the zlib format (RFC 9110 8.4.1.2); some clients send raw
    deflate instead, which a zlib header check tells apart (RFC 1950: CM 8, FCHECK)."""
    if len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0:
        return _ZLIB_WBITS
    return _RAW_WBITS


class BodyDecoder:
    """Inflates one body chunk by chunk, never past ``limit`` decoded bytes.

    A gzip body may hold several members (RFC 1952 2.2), decoded one after the other.
    """

    def __init__(self, coding: str, limit: int) -> None:
        self.coding = coding
        self.limit = limit
        self.decoded = 0
        self._inflater: Any = None  # zlib's Decompress type is private
        self._pending = b""  # the start of a deflate body too short to tell its format
        self._streams = 0  # compressed streams (gzip members) decoded to their end

    def _too_large(self) -> BodyTooLargeError:
        return BodyTooLargeError(
            f"the decoded request body exceeds the limit of {self.limit} bytes",
            [{"limit": self.limit, "content_encoding": self.coding}],
        )

    def _invalid(self, reason: str) -> InvalidContentEncodingError:
        return InvalidContentEncodingError(
            f"the request body is not valid {self.coding} data: {reason}",
            [{"field": "body", "content_encoding": self.coding, "reason": reason}],
        )

    def _start(self, data: bytes) -> None:
        wbits = _GZIP_WBITS if self.coding == "gzip" else _deflate_wbits(data)
        # ISA-L's inflate (python-isal, zlib's interface): about 2.5 times as fast as zlib's
        # on a large upload, which is decoded on the event loop as it arrives.
        self._inflater = isal_zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> list[bytes]:
        """The decoded pieces of the next chunk of the wire body (each at most PIECE)."""
        pieces: list[bytes] = []
        if self.coding == "deflate" and self._inflater is None and not self._streams:
            data, self._pending = self._pending + data, b""
            if len(data) < 2:
                self._pending = data
                return pieces
        while data or self._inflater is not None:
            if self._inflater is None:
                if self._streams and self.coding == "deflate":
                    raise self._invalid("data after the end of the compressed stream")
                self._start(data)
            room = min(PIECE, self.limit - self.decoded + 1)
            try:
                piece = self._inflater.decompress(data, room)
            except (zlib.error, _ISAL_ERROR) as error:
                raise self._invalid(str(error)) from error
            self.decoded += len(piece)
            if self.decoded > self.limit:
                raise self._too_large()
            if piece:
                pieces.append(piece)
            if self._inflater.eof:
                data = self._inflater.unused_data  # the next gzip member, if any
                self._inflater = None
                self._streams += 1
                continue
            data = self._inflater.unconsumed_tail
            if not data and len(piece) < room:
                break  # the input is used up and every byte it gave is out
        return pieces

    def finish(self) -> None:
        """The body ended: it must not end inside a compressed stream."""
        if self._pending or self._inflater is not None:
            raise self._invalid("the compressed data is truncated")


def _drop_encoding_headers(scope: Scope) -> None:
    """In place: outer middleware reads what routing adds to this same scope."""
    scope["headers"] = [
        (key, value)
        for key, value in scope.get("headers", ())
        if key not in (b"content-encoding", b"content-length")
    ]


class RequestDecodingMiddleware:
    """Decodes gzip and deflate request bodies within ``max_bytes`` (see the module doc)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = None
        for key, value in scope.get("headers", ()):
            if key == b"content-encoding":
                text = value.decode("latin-1")
                header = text if header is None else f"{header}, {text}"
        try:
            coding = request_coding(header)
        except UnsupportedContentEncodingError as error:
            response = error_response(
                error.status, error.code, error.message, error.details, error.headers
            )
            await response(scope, receive, send)
            return
        if coding is None:
            await self.app(scope, receive, send)
            return
        decoder = BodyDecoder(coding, self.max_bytes)
        ready: deque[bytes] = deque()
        ended = delivered = False

        async def decoding_receive() -> Message:
            nonlocal ended, delivered
            if delivered:  # the whole body is out: what comes next is a disconnect
                return await receive()
            while not ready and not ended:
                message: dict[str, Any] = dict(await receive())
                if message["type"] != "http.request":
                    return message
                ready.extend(decoder.feed(message.get("body", b"")))
                if not message.get("more_body", False):
                    decoder.finish()
                    ended = True
            body = ready.popleft() if ready else b""
            more = bool(ready) or not ended
            delivered = not more
            return {"type": "http.request", "body": body, "more_body": more}

        _drop_encoding_headers(scope)
        await self.app(scope, decoding_receive, send)
