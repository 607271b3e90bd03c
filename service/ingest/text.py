"""Bytes to text: strict UTF-8 (a leading byte order mark is allowed and dropped)."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator

from service.engine.model import Problem
from service.ingest.collect import StopReading

_BOM = codecs.BOM_UTF8


def _bad_utf8(
    error: UnicodeDecodeError, offset: int, line: int | None, source: str | None
) -> StopReading:
    where = f"{source}: " if source else ""
    bad = error.object[error.start : error.start + 1]
    detail = f"byte 0x{bad.hex()} at offset {offset}" if bad else f"offset {offset}"
    if line is not None:
        detail += f", line {line}"
    return StopReading(Problem(f"{where}input is not valid UTF-8 ({detail}: {error.reason})"))


def decode_utf8(data: bytes, source: str | None) -> str:
    """The whole input as text, or StopReading locating the first invalid byte."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    try:
        return str(data[start:], "utf-8") if start else str(data, "utf-8")
    except UnicodeDecodeError as error:
        offset = start + error.start
        raise _bad_utf8(error, offset, data.count(b"\n", 0, offset) + 1, source) from None


def iter_utf8(chunks: Iterable[bytes | memoryview], source: str | None) -> Iterator[str]:
    """Decode a stream of byte chunks into text chunks (a character may span two chunks)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    first = True
    for chunk in chunks:
        if first and chunk:
            first = False
            if chunk[: len(_BOM)] == _BOM:
                chunk = chunk[len(_BOM) :]
                offset = len(_BOM)
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as error:
            pending = len(decoder.getstate()[0])
            raise _bad_utf8(error, offset - pending + error.start, None, source) from None
        offset += len(chunk)
        if text:
            yield text
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        raise _bad_utf8(error, offset - len(error.object) + error.start, None, source) from None
    if tail:
        yield tail
