"""Cheap whole-text checks that decoded values are exactly what the text said.

Fast decoders (orjson, rapidyaml) keep the last of duplicate keys silently and may turn an
enormous integer into something else. Rather than walk millions of decoded values in
Python, these checks compare counts and search for rare patterns in C: a decoded value is
serialised once with orjson (which itself refuses lone surrogates and integers beyond 64
bits), its keys are counted and compared with the keys counted in the source text, and
the compact form is searched for escaped NULs and very long numbers. A check that fails
does not say what is wrong, only that the slow, exact reader must look (and name it).
"""

from __future__ import annotations

import contextlib
import json
import json.decoder
import json.scanner
import math
import re
from typing import Any

import numpy as np
import orjson

_ESCAPED_NUL = b"\\u0000"


def key_count(text: bytes | bytearray) -> int:
    r"""How many ``"...":`` key endings ``text`` holds, ignoring ``\\":`` inside strings.

    A ``":`` is a key's end unless its quote is escaped, that is preceded by an odd
    number of backslashes; counting ``":``, ``\\":``, ``\\\\":``, ... (each ``str.count``
    runs in C) and alternating signs counts exactly those with an even number.

    >>> key_count(orjson.dumps({"a": 1, "b\\": {'c":': 2}}))
    3
    """
    if b"\\" not in text:  # one fast scan spares counting the escaped forms
        return text.count(b'":')
    total = 0
    sign = 1
    pattern = b'":'
    while True:
        found = text.count(pattern)
        if not found:
            return total
        total += sign * found
        sign = -sign
        pattern = b"\\" + pattern


def depth(compact: bytes) -> int:
    """The nesting depth of orjson's compact JSON (``{}`` is 1, a scalar 0), computed in
    numpy over the brackets outside strings.

    >>> depth(b'{"a":[1,{"b":"[[[{"}]}'), depth(b'"x"'), depth(b'{"a\\\\"":[]}')
    (3, 0, 2)
    """
    if not compact or compact[0] not in b"[{":
        return 0
    # Without escaped backslashes and escaped quotes, every '"' delimits a string; of the
    # rest, only quotes and brackets matter (one translate in C: a short array for numpy).
    flat = compact.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in compact else compact
    chars = np.frombuffer(flat.translate(None, _NOT_STRUCTURE), dtype=np.uint8)
    outside = (np.cumsum(chars == _QUOTE, dtype=np.int64) & 1) == 0  # even quotes before
    opening = (chars == ord("[")) | (chars == ord("{"))
    closing = (chars == ord("]")) | (chars == ord("}"))
    steps = (opening & outside).astype(np.int32) - (closing & outside)
    return int(np.cumsum(steps).max(initial=0))


_QUOTE = ord('"')
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'"[]{}')


def compact(value: Any) -> bytes | None:
    """``value`` as orjson's compact JSON, or None when it cannot be stored exactly (a lone
    surrogate, an integer beyond 64 bits, a non-string key)."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return None


def looks_exact(dumped: bytes) -> bool:
    """False when the compact form holds an escaped NUL: the exact reader must decide.
    (Integers beyond int64 are looked for in the source text: see :func:`long_digits`.)"""
    return b"\\" not in dumped or _ESCAPED_NUL not in dumped  # memchr first: no escape at all


_DIGITS_AFTER_SEPARATOR = bytes(
    0x30 if 0x30 <= byte <= 0x39 else 0x23 if byte in b":[,- \t\r\n" else 0x20
    for byte in range(256)
)
_NINETEEN_DIGITS = b"#" + b"0" * 19


def long_digits(data: bytes) -> bool:
    """Whether ``data`` holds 19 digits right after a separator (`:`, `[`, `,`, `-` or
    whitespace), where a number may start that exceeds int64 (orjson would silently read
    one beyond 64 bits as a float). Digits inside hex strings (container IDs, digests) do
    not follow a separator. One translate and one find, in C.

    >>> long_digits(b'{"a": 1234567890123456789}'), long_digits(b'{"a": "f1234567890123456789"}')
    (True, False)
    """
    return data.translate(_DIGITS_AFTER_SEPARATOR).find(_NINETEEN_DIGITS) >= 0


MAX_NUMBER_CHARS = 400  # longer number literals are not converted at all (see HugeNumber)


class HugeNumber:
    """A JSON number literal beyond what Kubernetes can decode, kept as its text so that the
    check can name its field: more than ``MAX_NUMBER_CHARS`` characters (Python would refuse
    to convert 4,300 digits), or a float that overflows (``1e400``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def parse_int(text: str) -> int | HugeNumber:
    """The JSON decoders' ``parse_int``: exact, or :class:`HugeNumber`."""
    return int(text) if len(text) <= MAX_NUMBER_CHARS else HugeNumber(text)


def parse_float(text: str) -> float | HugeNumber:
    """The JSON decoders' ``parse_float``: a float, or :class:`HugeNumber` where it overflows
    (the standard library would silently read ``1e400`` as infinity)."""
    value = float(text)
    return value if math.isfinite(value) else HugeNumber(text)


def decodable(value: int) -> bool:
    """Whether Kubernetes can decode the integer: the API server reads a number that does not
    fit int64 as a float64, so any integer in the float64 range is accepted (in a field of no
    declared type) and one beyond it refused.

    >>> decodable(2**64), decodable(10**308), decodable(10**309)
    (True, True, False)
    """
    try:
        float(value)
    except OverflowError:
        return False
    return True


def beyond_range(text: str) -> str:
    """The message for a number Kubernetes cannot decode."""
    digits = text if len(text) <= 40 else f"{text[:40]}... ({len(text)} characters)"
    return f"number {digits} is beyond the float64 range of numbers Kubernetes can decode"


class InexactError(ValueError):
    """A decoded value that cannot be kept exactly; ``field`` locates it in its document."""

    def __init__(self, message: str, field: str | None = None, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.offset = offset  # where in the text, when known


def shown(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut to about ``limit`` characters, for messages.

    >>> shown("kind"), shown("x" * 100, 10)
    ("'kind'", "'xxxxxxxxxx...' (100 characters)")
    """
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}"[:-1] + f"...' ({len(text)} characters)"


def _path(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "NUL characters are not allowed in strings"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "invalid Unicode (a lone surrogate escape such as \\ud800)"
    return None


def find_inexact(value: Any) -> InexactError | None:
    """The first value Kubernetes would refuse or netreach could not store exactly: a number
    beyond the float64 range, a NUL, a lone surrogate (in keys too). Integers beyond 64 bits
    but within that range are exact Python integers, stored and returned as written."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                problem = _string_problem(key)
                if problem is not None:
                    return InexactError(f"key {shown(key)}: {problem}", _path(path) or None)
                stack.append((child, [*path, key]))
        elif kind is list:
            stack.extend((child, [*path, index]) for index, child in enumerate(item))
        elif kind is str:
            problem = _string_problem(item)
            if problem is not None:
                return InexactError(problem, _path(path) or None)
        elif kind is HugeNumber:
            return InexactError(beyond_range(item.text), _path(path) or None)
        elif kind is int and not decodable(item):
            return InexactError(beyond_range(str(item)), _path(path) or None)
    return None


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def duplicate_key_offset(text: str) -> int:
    """Where in ``text`` (a comma-separated run of JSON values, known to hold a duplicate
    key) the first repeated key of an object begins, -1 if none is found.

    Only for the error message: it parses again in Python, noting where each key starts,
    since a decoder's pairs hook is not told where its keys were (the same key is often a
    key of other objects before, as ``name`` is).

    >>> duplicate_key_offset('{"a": {"k": 1}, "k": 2, "b": {"k": 3, "k": 4}}')
    38
    """
    found: list[int] = []

    def parse_object(
        state: tuple[str, int], strict: bool, scan: Any, *_: Any
    ) -> tuple[dict[str, Any], int]:
        string, end = state
        seen: set[str] = set()
        result: dict[str, Any] = {}
        end = _skip_space(string, end)
        if string[end : end + 1] == "}":
            return result, end + 1
        while True:
            start = end
            key, end = json.decoder.scanstring(string, end + 1, strict)  # type: ignore[attr-defined]
            if key in seen and not found:
                found.append(start)
            seen.add(key)
            end = _skip_space(string, end) + 1  # the colon
            value, end = scan(string, _skip_space(string, end))
            result[key] = value
            end = _skip_space(string, end)
            if string[end] == "}":
                return result, end + 1
            end = _skip_space(string, end + 1)  # past the comma

    decoder = json.JSONDecoder()
    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    scan = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    with contextlib.suppress(ValueError, IndexError, StopIteration, RecursionError):
        scan("[" + text + "]", 0)
    return found[0] - 1 if found else -1


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _skip_space(string: str, position: int) -> int:
    space = _JSON_SPACE.match(string, position)
    return space.end() if space else position


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_STRICT = json.JSONDecoder(
    object_pairs_hook=_no_duplicates,
    parse_constant=_reject_constant,
    parse_int=parse_int,
    parse_float=parse_float,
)


_COLON_OR_NUL_ESCAPE = re.compile(rb"\\u00(?:00|3[aA])")
_COLON = ord(":")
_BACKSLASH = ord("\\")


_COUNTED = 1 << 16  # bytes compared at a time: a mask of this size is reused, never new pages


def byte_count(data: bytes | bytearray | memoryview, byte: int) -> int:
    """How many times ``byte`` occurs in ``data``: numpy compares a whole buffer about
    four times faster than ``bytes.count`` scans it for one byte (a megabyte batch: 0.2 ms),
    a slice at a time into one small mask (a mask of the whole input would touch as many
    new pages, which costs more than the comparison).

    >>> byte_count(b'{"a":"x:y"}', ord(":"))
    2
    """
    view = np.frombuffer(data, dtype=np.uint8)
    if len(view) <= _COUNTED:
        return int(np.count_nonzero(view == byte))
    mask = np.empty(_COUNTED, dtype=np.bool_)
    total = 0
    for start in range(0, len(view), _COUNTED):
        part = view[start : start + _COUNTED]
        total += int(np.count_nonzero(np.equal(part, byte, out=mask[: len(part)])))
    return total


def same_json_keys(source: bytes | bytearray | memoryview, dumped: bytes) -> bool:
    r"""Whether ``dumped`` (orjson's form of what was decoded from the JSON ``source``) kept
    every key of ``source`` and holds no NUL, judged by counting colons: single-byte counts
    in C, cheaper than :func:`key_count` (which YAML needs, JSON does not).

    Every colon of JSON text ends a key or is part of a string, and a string's colons are
    the same in both texts unless ``source`` writes one as ``\u003a``; a duplicate key
    that the decoder dropped takes its own colon with it. So, when ``source`` holds no
    such escape, equal counts mean no key was lost. A NUL can only be written ``\u0000``
    (raw control characters are refused), so the same search finds it. An escape seen
    means "suspect": the strict decoder decides.

    >>> same_json_keys(b'{"a": "x:y", "b": 1}', b'{"a":"x:y","b":1}')
    True
    >>> same_json_keys(b'{"a": 1, "a": 2}', b'{"a":2}')
    False
    >>> same_json_keys(b'{"a": 1, "a": "\\u003a"}', b'{"a":":"}')
    False
    """
    if byte_count(source, _COLON) != byte_count(dumped, _COLON):
        return False
    if isinstance(source, memoryview):  # no memchr: counted
        escaped = byte_count(source, _BACKSLASH) > 0
    else:
        escaped = b"\\" in source
    return not escaped or _COLON_OR_NUL_ESCAPE.search(source) is None


def check_json(text: str, value: Any) -> list[Any] | None:
    """:func:`check_json_array` of ``"[" + text + "]"``."""
    return check_json_array("[" + text + "]", value)


def check_json_array(array: str, value: Any) -> list[Any] | None:
    """Raise :class:`InexactError` unless ``value`` (decoded from ``array``, the JSON array
    ``"[" + text + "]"`` where ``text`` holds a comma-separated run of JSON values,
    ``value`` being their list) is exactly what ``text`` says (offsets are ``text``'s):
    no duplicate keys, no number beyond the float64 range, no NUL, no lone surrogate.
    Returns the values decoded exactly when ``value`` may differ from them (a fast decoder
    reads an integer beyond 64 bits as a float), else None.

    The common case costs one orjson serialisation and a few counts in C; only a suspect
    text is decoded again, strictly. A float literal that overflows (``1e400``) is left to
    the decoder of ``value``: orjson refuses it, and the standard library's must be given
    :func:`parse_float`, which keeps it as a :class:`HugeNumber` (which orjson cannot
    serialise, so the text is suspect). Looking for it in the text instead finds
    ``5e877`` in most UIDs and sends nearly every batch to the strict decoder.
    """
    dumped = compact(value)
    # The brackets change no count: a ``[`` before a number is a separator either way.
    encoded = array.encode("utf-8", "surrogatepass")
    if dumped is not None and same_json_keys(encoded, dumped) and not long_digits(encoded):
        return None
    text = array[1:-1]
    try:
        strict = _STRICT.decode(array)
    except _DuplicateKeyError as error:
        raise InexactError(
            f"duplicate key {shown(error.key)}", offset=max(duplicate_key_offset(text), 0)
        ) from None
    problem = find_inexact(strict)
    if problem is not None:
        raise problem
    return list(strict)
