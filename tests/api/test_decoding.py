"""The streaming decoder on its own: pieces of bounded size, the limit on decoded bytes
checked before more is inflated, every way a stream can be split across chunks."""

from __future__ import annotations

import gzip
import zlib

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
