"""Bitsets as Python ints: bit ``i`` stands for peer ``i`` (a pod class or an external piece).

Python ints give fast AND/OR/NOT over tens of thousands of bits in C; only turning a bitset
back into indices needs care, which numpy does in one pass.

>>> bits = from_indices([0, 3, 64])
>>> indices(bits).tolist()
[0, 3, 64]
>>> count(bits)
3
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

IndexArray = npt.NDArray[np.int64]


def from_indices(positions: Iterable[int]) -> int:
    bits = 0
    for position in positions:
        bits |= 1 << position
    return bits


def from_index_array(positions: npt.NDArray[np.integer], size: int) -> int:
    """The bitset of ``positions`` (all below ``size``), built in numpy."""
    if len(positions) == 0:
        return 0
    flags = np.zeros(size, dtype=np.uint8)
    flags[positions] = 1
    return int.from_bytes(np.packbits(flags, bitorder="little").tobytes(), "little")


SPARSE = 16


def indices(bits: int) -> IndexArray:
    """Positions of the set bits, ascending."""
    if bits == 0:
        return np.empty(0, dtype=np.int64)
    if bits.bit_count() <= SPARSE:  # a few bits: cheaper than a round trip through numpy
        found = []
        while bits:
            lowest = bits & -bits
            found.append(lowest.bit_length() - 1)
            bits ^= lowest
        return np.array(found, dtype=np.int64)
    raw = np.frombuffer(bits.to_bytes((bits.bit_length() + 7) // 8, "little"), dtype=np.uint8)
    return np.flatnonzero(np.unpackbits(raw, bitorder="little")).astype(np.int64)


def indices_of_many(many: Sequence[int], size: int) -> tuple[IndexArray, IndexArray]:
    """The set bits of every bitset of ``many`` (all below ``size``) at once: for each, in
    order of ``many`` then ascending, the bitset's place in ``many`` and the position (as
    :func:`indices` of each, concatenated). Only the nonzero 64-bit words are unpacked:
    one round trip through numpy, not one per bitset.

    >>> place, position = indices_of_many([0b101, 0, 1 << 70], 80)
    >>> place.tolist(), position.tolist()
    ([0, 0, 2], [0, 2, 70])
    """
    width = max(1, (size + 63) // 64)
    raw = b"".join(bits.to_bytes(width * 8, "little") for bits in many)
    words = np.frombuffer(raw, dtype="<u8").reshape(len(many), width)
    place, word = np.nonzero(words)
    flags = np.unpackbits(
        words[place, word].view(np.uint8).reshape(-1, 8), axis=1, bitorder="little"
    )
    at, bit = np.nonzero(flags)
    return place[at].astype(np.int64), (word[at] * 64 + bit).astype(np.int64)


def count(bits: int) -> int:
    return bits.bit_count()


def contains(bits: int, position: int) -> bool:
    return (bits >> position) & 1 == 1


def below(size: int) -> int:
    """Every position in ``range(size)``."""
    return (1 << size) - 1
