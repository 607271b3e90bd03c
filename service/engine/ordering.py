"""Row orders by several integer keys, as :func:`numpy.lexsort` gives them, but faster.

``np.lexsort`` sorts once per key; with the keys packed into one integer (mixed radix,
the last key most significant) one stable sort gives the same order, often ten times
sooner. Keys whose ranges do not fit in 63 bits together are left to ``np.lexsort``.

>>> lexsort((np.array([2, 1, 0, 1]), np.array([0, 0, 1, 0]))).tolist()
[1, 3, 0, 2]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
_LIMIT = 1 << 63


def lexsort(keys: Sequence[npt.NDArray[np.integer]]) -> IntArray:
    """The stable order of the rows by ``keys`` (the last key primary), exactly as
    ``np.lexsort(keys)``."""
    if not keys or not len(keys[0]):
        return np.lexsort(keys).astype(np.int64) if keys else np.empty(0, dtype=np.int64)
    low = [int(k.min()) for k in keys]
    spans = [int(k.max()) - lo + 1 for k, lo in zip(keys, low, strict=True)]
    total = 1
    for span in spans:
        total *= span
    if total >= _LIMIT:
        return np.lexsort(keys).astype(np.int64)
    packed = np.zeros(len(keys[0]), dtype=np.int64)
    for key, lo, span in zip(keys[::-1], low[::-1], spans[::-1], strict=True):
        packed = packed * span + (key.astype(np.int64) - lo)
    return np.argsort(packed, kind="stable").astype(np.int64)
