"""The packed member list of a snapshot: which object rows it holds.

Format: ``zlib(int64 little-endian array)`` of the sorted, distinct object ids, delta-encoded
(the first element is the first id, each next element the difference to the previous id).
Ids of one upload are mostly consecutive, so a 2,000-object snapshot packs into a few hundred
bytes instead of 16 KB, and one row per snapshot replaces one row per (snapshot, object).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

_DTYPE = np.dtype("<i8")


def pack_members(object_ids: Iterable[int]) -> bytes:
    """Pack object ids (any order, duplicates allowed).

    >>> unpack_members(pack_members([7, 3, 5, 3])).tolist()
    [3, 5, 7]
    """
    ids = np.unique(np.fromiter(object_ids, dtype=_DTYPE))
    return zlib.compress(np.diff(ids, prepend=0).astype(_DTYPE).tobytes())


def unpack_members(packed: bytes) -> npt.NDArray[np.int64]:
    """The sorted object ids packed by :func:`pack_members`."""
    deltas = np.frombuffer(zlib.decompress(packed), dtype=_DTYPE)
    return np.cumsum(deltas, dtype=np.int64)
