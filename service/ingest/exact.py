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

import re
from typing import Any

import numpy as np
import orjson

# A number token of 19 digits or more in orjson's compact output (beyond the int64 range
# it may be; a string holding such digits only costs a closer look).
_LONG_NUMBER = re.compile(rb"[:\[,]-?[0-9]{19,}")
_ESCAPED_NUL = b"\\u0000"


def key_count(text: bytes) -> int:
    r"""How many ``"...":`` key endings ``text`` holds, ignoring ``\\":`` inside strings.

    A ``":`` is a key's end unless its quote is escaped, that is preceded by an odd
    number of backslashes; counting ``":``, ``\\":``, ``\\\\":``, ... (each ``str.count``
    runs in C) and alternating signs counts exactly those with an even number.

    >>> key_count(orjson.dumps({"a": 1, "b\\": {'c":': 2}}))
    3
    """
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


def depth(compact: bytes, chunk: int = 4 * 1024 * 1024) -> int:
    """The nesting depth of orjson's compact JSON (``{}`` is 1, a scalar 0), computed in
    numpy a few megabytes at a time.

    >>> depth(b'{"a":[1,{"b":"[[[{"}]}'), depth(b'"x"'), depth(b'{"a\\\\"":[]}', chunk=3)
    (3, 0, 2)
    """
    if not compact or compact[0] not in b"[{":
        return 0
    # After dropping escaped backslashes and escaped quotes, every '"' delimits a string.
    flat = compact.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    deepest = level = 0
    inside = False
    for start in range(0, len(flat), chunk):
        chars = np.frombuffer(flat, dtype=np.uint8, count=min(chunk, len(flat) - start),
                              offset=start)  # fmt: skip
        quoted = np.bitwise_xor.accumulate(chars == ord('"'), dtype=np.uint8).astype(bool)
        if inside:
            quoted = ~quoted
        steps = np.zeros(len(chars), dtype=np.int32)
        steps[(chars == ord("[")) | (chars == ord("{"))] = 1
        steps[(chars == ord("]")) | (chars == ord("}"))] = -1
        steps[quoted] = 0
        running = np.cumsum(steps) + level
        deepest = max(deepest, int(running.max()))
        level = int(running[-1])
        inside = bool(quoted[-1])  # inside a string after the chunk's last character
    return deepest


def compact(value: Any) -> bytes | None:
    """``value`` as orjson's compact JSON, or None when it cannot be stored exactly (a lone
    surrogate, an integer beyond 64 bits, a non-string key)."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return None


def looks_exact(dumped: bytes) -> bool:
    """False when the compact form holds an escaped NUL or a number of 19+ digits (which may
    lie outside the signed 64-bit range): the exact reader must decide."""
    return _ESCAPED_NUL not in dumped and _LONG_NUMBER.search(dumped) is None
