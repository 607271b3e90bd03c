"""The streaming decoder on its own (pieces of bounded size, the limit on decoded bytes
checked before more is inflated, every way a stream can be split across chunks), and the
gathering of streamed answers before they are compressed."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import pytest

from service.api.decoding import PIECE, BodyDecoder, InvalidContentEncodingError
from service.api.errors import BodyTooLargeError

DATA = bytes(range(256)) * 20_000  # 5 MB, compressible


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20], ids=lambda n: f"chunks-of-{n}")
@pytest.mark.parametrize(
    ("coding", "encoded"),
    [("gzip", gzip.compress(DATA)), ("deflate", zlib.compress(DATA))],
    ids=["gzip", "deflate"],
)
def test_any_split_decodes_to_the_data_in_bounded_pieces(
    coding: str, encoded: bytes, chunk: int
) -> None:
    decoder = BodyDecoder(coding, limit=len(DATA))
    pieces = [p for part in split(encoded, chunk) for p in decoder.feed(part)]
    decoder.finish()
    assert b"".join(pieces) == DATA
    assert max(len(p) for p in pieces) <= PIECE


def test_the_limit_is_exact() -> None:
    exact = BodyDecoder("gzip", limit=len(DATA))
    assert b"".join(exact.feed(gzip.compress(DATA))) == DATA
    over = BodyDecoder("gzip", limit=len(DATA) - 1)
    with pytest.raises(BodyTooLargeError):
        over.feed(gzip.compress(DATA))


def test_a_bomb_is_inflated_no_further_than_one_byte_past_the_limit() -> None:
    bomb = gzip.compress(bytes(64 << 20), compresslevel=1)
    decoder = BodyDecoder("gzip", limit=3 << 20)
    with pytest.raises(BodyTooLargeError):
        decoder.feed(bomb)
    assert decoder.decoded == (3 << 20) + 1


def test_a_stream_cut_short_is_refused_at_the_end() -> None:
    decoder = BodyDecoder("deflate", limit=len(DATA))
    decoder.feed(zlib.compress(DATA)[:-4])
    with pytest.raises(InvalidContentEncodingError, match="truncated"):
        decoder.finish()


def test_an_empty_body_stays_empty() -> None:
    decoder = BodyDecoder("gzip", limit=10)
    assert decoder.feed(b"") == []
    decoder.finish()


def test_streamed_pieces_are_gathered_before_compression() -> None:
    """Line-sized pieces would each be compressed and flushed alone: they go on in pieces
    of at least GATHER bytes, the last one with whatever is left."""
    import asyncio

    from service.api.compression import GATHER, _Gather

    lines = [b"| a | b | TCP 80 |\n"] * 10_000

    async def app(scope: object, receive: object, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for line in lines:
            await send({"type": "http.response.body", "body": line, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(_Gather(app)({"type": "http"}, None, send))  # type: ignore[arg-type]
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert b"".join(m["body"] for m in bodies) == b"".join(lines)
    assert all(len(m["body"]) >= GATHER for m in bodies[:-1])
    assert [m["more_body"] for m in bodies] == [True] * (len(bodies) - 1) + [False]
    assert len(bodies) < len(lines) / 100
