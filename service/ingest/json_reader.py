"""JSON to documents, streaming: one object, an array of objects, a ``*List`` object, or a
sequence of concatenated / newline-delimited objects.

A ``kubectl get -A -o json`` dump can be hundreds of megabytes. Decoding it with one
``json.loads`` needs the whole text and the whole tree in memory at once, and builds the
``items`` array in one recursive call. Instead the text arrives in chunks, the top level of
each object is scanned key by key with the C decoder's ``raw_decode``, and the ``items``
array is decoded in batches of about a megabyte (see :func:`_Stream.items`), so the peak is
the decoded objects plus a few chunks of text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, NoReturn

import orjson

from service.engine.model import ManifestError, Origin, Problem
from service.ingest.collect import Collector, StopReading, Transform
from service.ingest.exact import (
    HugeNumber,
    InexactError,
    check_json_array,
    parse_float,
    parse_int,
    shown,
)
from service.ingest.limits import Limits

_WS = re.compile(r"[ \t\n\r]*")


def _skip(text: str, pos: int) -> int:
    """The position after any whitespace at ``pos``."""
    match = _WS.match(text, pos)
    return match.end() if match else pos


CHUNK_CHARS = 8 * 1024 * 1024
BATCH_CHARS = 1024 * 1024
_MAX_BATCH_MISSES = 8


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


# ``parse_float`` keeps a float that overflows (``1e400``, which the standard library reads
# as infinity) as a HugeNumber for the check to refuse; it runs for float literals only.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=parse_float)
_raw_decode = _DECODER.raw_decode
# For a value the C decoder refused (an integer of over 4,300 digits): its numbers become
# HugeNumber where Kubernetes could not decode them, so the check names the field.
_raw_decode_numbers = json.JSONDecoder(
    parse_constant=_no_constant, parse_int=parse_int, parse_float=parse_float
).raw_decode


class JSONSyntaxError(StopReading):
    """The input is not JSON (when the format was only sniffed, it may still be YAML)."""


class _SyntaxError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class _InexactAtError(Exception):
    """A value that cannot be kept exactly (see :func:`check_json`), at ``pos``."""

    def __init__(self, error: InexactError, pos: int, field: str | None) -> None:
        super().__init__(error.message)
        self.message = error.message
        self.pos = pos
        self.field = field


def _item_field(field: str | None, first: int) -> str | None:
    """``[2].spec.x`` from a batch check, as the field of the List: ``items[first+2]...``."""
    if field is None or not field.startswith("["):
        return field
    index, rest = field[1:].split("]", 1)
    return f"items[{first + int(index)}]{rest}"


def _joined(key: str | None, field: str | None) -> str | None:
    if key is None:
        return field
    if field is None:
        return key
    return f"{key}{field}" if field.startswith("[") else f"{key}.{field}"


def _own_field(field: str | None) -> str | None:
    """``[0].spec.x`` from a single value's check, as that value's own field."""
    if field is None or not field.startswith("["):
        return field
    return field.split("]", 1)[1].lstrip(".") or None


class _Stream:
    """A window on the text: ``text[pos:]`` is unread; older text is dropped on refill.

    ``line`` is the line number (1-based) of ``text[line_pos]``, kept current so that the
    line of any later position costs only the newlines in between.
    """

    def __init__(
        self, chunks: Iterator[str], limits: Limits, transform: Transform | None = None
    ) -> None:
        self.chunks = chunks
        self.limits = limits
        self.transform = transform
        self.text = ""
        self.pos = 0
        self.eof = False
        self.line = 1
        self.line_pos = 0

    # -- the window -----------------------------------------------------------------------

    def fill(self) -> bool:
        """Drop consumed text and append at least as much again as is left (at least one
        chunk), so re-decoding a value that spans chunks costs O(n) overall. False at EOF."""
        if self.eof:
            return False
        wanted = max(CHUNK_CHARS, len(self.text) - self.pos)
        parts = [self.text[self.pos :]]
        got = 0
        while got < wanted:
            chunk = next(self.chunks, None)
            if chunk is None:
                self.eof = True
                break
            parts.append(chunk)
            got += len(chunk)
        self.line += self.text.count("\n", self.line_pos, self.pos)
        self.line_pos = 0
        self.text = "".join(parts)
        self.pos = 0
        return got > 0

    def peek(self) -> str:
        """The next character after whitespace ('' at the end of input)."""
        while True:
            self.pos = _skip(self.text, self.pos)
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.fill():
                return ""

    def line_at(self, pos: int) -> int:
        self.line += self.text.count("\n", self.line_pos, pos)
        self.line_pos = pos
        return self.line

    def too_many(self) -> NoReturn:
        limit = self.limits.max_documents
        raise ManifestError(
            [Problem(f"more than {limit} documents (after List expansion)")], too_large=True
        )

    def where(self, pos: int) -> tuple[int, int]:
        """Line and column (1-based) of a position in the window."""
        if pos >= self.line_pos:
            line = self.line + self.text.count("\n", self.line_pos, pos)
        else:
            line = self.line - self.text.count("\n", pos, self.line_pos)
        column = pos - self.text.rfind("\n", 0, pos)
        return line, column

    # -- values ---------------------------------------------------------------------------

    def value(self, within: str | None = None) -> Any:
        """Decode one value at ``pos`` (after whitespace), reading more text as needed;
        ``within`` names the top-level key it is the value of, for messages."""
        while True:
            try:
                value, end = _raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                if self.fill():
                    continue
                raise _SyntaxError(error.msg, error.pos) from None
            except ValueError as error:  # NaN / Infinity, or a number too long to convert
                try:
                    value, end = _raw_decode_numbers(self.text, self.pos)
                except ValueError:
                    raise _SyntaxError(str(error), self.pos) from None
            if end == len(self.text) and self.fill():
                continue  # a number or literal may go on in the next chunk
            start = self.pos
            self.pos = end
            if type(value) in (dict, list, str, int, float, HugeNumber):
                exact = self.check(start, end, [value], lambda f: _joined(within, _own_field(f)))
                if exact is not None:
                    value = exact[0]
            return value

    def check(
        self, start: int, end: int, values: list[Any], field: Any, array: str | None = None
    ) -> list[Any] | None:
        """Refuse duplicate keys, numbers beyond float64, NULs and lone surrogates; the
        values decoded exactly where ``values`` may differ from them (see check_json).
        ``array`` is ``"[" + text[start:end] + "]"`` when the caller has it already."""
        if array is None:
            array = "".join(("[", self.text[start:end], "]"))
        try:
            return check_json_array(array, values)
        except InexactError as error:
            pos = start + (error.offset or 0)
            raise _InexactAtError(error, pos, field(error.field)) from None

    def expect(self, char: str, what: str) -> None:
        got = self.peek()
        if got != char:
            found = "" if got else ", found end of input"
            raise _SyntaxError(f"Expecting {what}{found}", self.pos)
        self.pos += 1

    def obj(self) -> dict[str, Any]:
        """A top-level object, key by key, so a large ``items`` array is decoded in batches."""
        self.pos += 1  # '{'
        result: dict[str, Any] = {}
        if self.peek() == "}":
            self.pos += 1
            return result
        while True:
            if self.peek() != '"':
                raise _SyntaxError("Expecting property name enclosed in double quotes", self.pos)
            key_pos = self.pos
            key = self.value()
            if key in result:
                raise _InexactAtError(InexactError(f"duplicate key {shown(key)}"), key_pos, None)
            self.expect(":", "':' delimiter")
            if key == "items" and self.peek() == "[":
                result[key] = self.items()
            else:
                self.peek()
                result[key] = self.value(key)
            following = self.peek()
            self.pos += 1
            if following == "}":
                return result
            if following != ",":
                raise _SyntaxError("Expecting ',' delimiter", self.pos - 1)

    def _shrunk(self, batch: list[Any]) -> list[Any]:
        """List items through the caller's transform as soon as they are decoded, so a
        huge List never sits in memory whole (fields nobody reads are dropped early)."""
        transform = self.transform
        if transform is None:
            return batch
        return [transform(item) if type(item) is dict else item for item in batch]

    def items(self) -> list[Any]:
        """The elements of an array, decoded in batches where possible.

        The first element is decoded alone; the text between its closing ``}`` (with the
        indentation before it) and the next ``{`` is the separator signature: in ``kubectl``
        output and in one-object-per-line dumps it occurs only between elements. A batch is
        the text up to the last signature within ``BATCH_CHARS``, decoded as ``[ ... ]`` in
        one C call (which also shares the key strings across the batch). A batch can only
        decode if it ends exactly after an element (a cut inside a string leaves it
        unterminated, a cut inside an object leaves it unclosed), so a misleading signature
        costs a retry, never a wrong value; after a few misses batching stops.
        """
        self.pos += 1  # '['
        result: list[Any] = []
        limit = self.limits.max_documents
        if self.peek() == "]":
            self.pos += 1
            return result
        signature: str | None = None
        brace = 0  # offset of the closing '}' inside the signature
        misses = 0
        while True:
            if signature is not None and misses < _MAX_BATCH_MISSES:
                if len(self.text) - self.pos < BATCH_CHARS:
                    self.fill()
                end = min(len(self.text), self.pos + BATCH_CHARS)
                found = self.text.rfind(signature, self.pos, end)
                if found >= self.pos:
                    cut = found + brace + 1
                    # One copy of the batch's text, which the check reuses.
                    array = "".join(("[", self.text[self.pos : cut], "]"))
                    try:
                        batch = orjson.loads(array)
                    except (ValueError, RecursionError):
                        misses += 1  # a bad cut, or odd input: the exact decoder takes over
                    else:
                        first = len(result)
                        exact = self.check(
                            self.pos,
                            cut,
                            batch,
                            lambda f, first=first: _item_field(f, first),
                            array,
                        )
                        del array
                        batch = batch if exact is None else exact
                        result.extend(self._shrunk(batch))
                        self.pos = cut
                        if len(result) > limit:
                            self.too_many()
                        self.expect(",", "',' delimiter")
                        continue
            self.peek()
            start = self.pos
            result.extend(self._shrunk([self.value(f"items[{len(result)}]")]))
            end_of_value = self.pos
            following = self.peek()
            self.pos += 1
            if following == "]":
                return result
            if following != ",":
                raise _SyntaxError("Expecting ',' delimiter", self.pos - 1)
            if len(result) > limit:
                self.too_many()
            if signature is None and self.peek() == "{" and self.text[end_of_value - 1] == "}":
                close = end_of_value - 1
                line_start = self.text.rfind("\n", start, close)
                if line_start >= 0 and not self.text[line_start + 1 : close].strip():
                    sig_start = line_start
                else:
                    sig_start = close
                signature = self.text[sig_start : self.pos + 1]
                brace = close - sig_start


def read_json(chunks: Iterator[str], source: str | None, limits: Limits, out: Collector) -> None:
    """Decode a JSON stream into ``out``. A top-level array contributes one document per
    element; List items get an ``Origin.item`` but no line (they are decoded in batches).
    Raises StopReading on a syntax error (the rest of the stream is lost)."""
    stream = _Stream(chunks, limits, out.transform)
    index = 0
    try:
        while True:
            first = stream.peek()
            if not first:
                return
            line = stream.line_at(stream.pos)
            if first == "{":
                out.add(stream.obj(), Origin(source, index, line=line), items_transformed=True)
                index += 1
            elif first == "[":
                stream.pos += 1
                if stream.peek() == "]":
                    stream.pos += 1
                    continue
                while True:
                    line = stream.line_at(stream.pos)
                    is_object = stream.text[stream.pos] == "{"
                    value = stream.obj() if is_object else stream.value()
                    out.add(value, Origin(source, index, line=line), items_transformed=is_object)
                    index += 1
                    following = stream.peek()
                    stream.pos += 1
                    if following == "]":
                        break
                    if following != ",":
                        raise _SyntaxError("Expecting ',' delimiter", stream.pos - 1)
                    stream.peek()
            else:
                out.add(stream.value(), Origin(source, index, line=line))
                index += 1
    except _SyntaxError as error:
        err_line, column = stream.where(min(error.pos, len(stream.text)))
        raise JSONSyntaxError(
            Problem(
                f"JSON syntax error: {error.message} (line {err_line}, column {column})",
                origin=Origin(source, index, line=err_line),
            )
        ) from None
    except _InexactAtError as error:
        err_line, _ = stream.where(min(error.pos, len(stream.text)))
        field = f"{error.field}: " if error.field else ""
        raise StopReading(
            Problem(
                f"{field}{error.message} (line {err_line})",
                origin=Origin(source, index, line=err_line),
            )
        ) from None
    except RecursionError:
        raise StopReading(Problem("nesting too deep", origin=Origin(source, index))) from None
