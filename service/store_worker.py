"""The child process of :mod:`service.store.offload`: hashes and compresses object bodies.

It imports only the standard library and ISA-L (not the ``service.store`` package and its
SQLAlchemy), so it starts in a few tens of milliseconds. Batches come on stdin and their
answers go to stdout, one answer per batch, in order; all integers little-endian ``u32``.

- batch: ``count``, ``size``, then ``size`` bytes: ``count`` identity lengths, ``count``
  body starts, ``count`` body ends, the identities one after the other, the body buffer;
- answer: ``count``, ``size``, then ``size`` bytes: ``count`` sha256 digests of 32 bytes
  (of identity, newline, body: ``canonical.object_hash``), ``count`` lengths, the
  compressed bodies one after the other (``bulk.compress``).
"""

from __future__ import annotations

import hashlib
import struct
import sys
from array import array
from typing import BinaryIO

from isal import isal_zlib

# ISA-L's deflate (python-isal) writes the zlib format that zlib.decompress reads, about
# three times as fast as zlib's fastest level and as small as its level 6 on Kubernetes
# objects. An object is a few KiB: a 4 KiB window (wbits 12) does as well as 32 KiB.
LEVEL = 1
WBITS = 12
HEADER = struct.Struct("<II")  # count, size
DIGEST_BYTES = 32


def u32s(values: list[int]) -> bytes:
    numbers = array("I", values)
    if sys.byteorder != "little":
        numbers.byteswap()
    return numbers.tobytes()


def read_u32s(data: bytes | memoryview) -> list[int]:
    numbers = array("I")
    numbers.frombytes(data)
    if sys.byteorder != "little":
        numbers.byteswap()
    return numbers.tolist()


def answer(count: int, payload: bytes) -> bytes:
    """The answer to one batch, header included."""
    view = memoryview(payload)
    numbers = read_u32s(view[: 12 * count])
    lengths, starts, ends = numbers[:count], numbers[count : 2 * count], numbers[2 * count :]
    position = 12 * count
    digests = bytearray()
    bodies: list[bytes] = []
    blob = view[position + sum(lengths) :]
    for length, start, end in zip(lengths, starts, ends, strict=True):
        digest = hashlib.sha256(view[position : position + length])
        position += length
        digest.update(b"\n")
        body = blob[start:end]
        digest.update(body)
        digests += digest.digest()
        bodies.append(isal_zlib.compress(body, LEVEL, WBITS))
    out = b"".join([bytes(digests), u32s([len(body) for body in bodies]), *bodies])
    return HEADER.pack(count, len(out)) + out


def read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer batches until the input ends."""
    while (header := read_exactly(requests, HEADER.size)) is not None:
        count, size = HEADER.unpack(header)
        payload = read_exactly(requests, size)
        if payload is None:
            return
        answers.write(answer(count, payload))
        answers.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
