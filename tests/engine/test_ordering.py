"""The packed-key row order is exactly ``np.lexsort``'s: ties kept in row order, negative
keys, one key, keys too wide to pack together (left to ``np.lexsort``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from service.engine.ordering import lexsort

_KEY = st.integers(min_value=-(2**40), max_value=2**40)


@given(
    st.integers(min_value=1, max_value=4).flatmap(
        lambda width: st.lists(
            st.lists(st.integers(min_value=-3, max_value=5) | _KEY, min_size=width, max_size=width),
            max_size=60,
        ).map(lambda rows: (width, rows))
    )
)
def test_same_order_as_numpy(case: tuple[int, list[list[int]]]) -> None:
    width, rows = case
    table = np.array(rows, dtype=np.int64).reshape(len(rows), width)
    keys = tuple(table[:, column] for column in range(width))
    assert lexsort(keys).tolist() == np.lexsort(keys).tolist()


def test_ties_keep_row_order() -> None:
    keys = (np.array([0, 0, 0, 0]), np.array([1, 0, 1, 0]))
    assert lexsort(keys).tolist() == [1, 3, 0, 2]


def test_too_wide_to_pack() -> None:
    wide = np.array([2**62, 0, 2**61, 1], dtype=np.int64)
    keys = (wide, np.array([1, 1, 0, 0]))
    assert lexsort(keys).tolist() == np.lexsort(keys).tolist() == [3, 2, 1, 0]


def test_empty() -> None:
    none = np.empty(0, dtype=np.int64)
    assert lexsort((none, none)).tolist() == []
