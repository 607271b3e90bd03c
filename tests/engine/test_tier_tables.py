"""Grouping equal rows in the admin tiers' tables: exact whatever the hashes do."""

from __future__ import annotations

import numpy as np
import pytest

from service.engine import tier_tables


@pytest.mark.parametrize("packed", [tier_tables._PACKED, 1], ids=["sorted-with-index", "argsort"])
def test_groups_numbered_by_hash(monkeypatch: pytest.MonkeyPatch, packed: int) -> None:
    monkeypatch.setattr(tier_tables, "_PACKED", packed)
    hashes = np.array([9 << 20, 3 << 20, 9 << 20, 5 << 20], dtype=np.uint64)
    first, inverse = tier_tables._group(hashes)
    assert inverse.tolist() == [2, 0, 2, 1]
    assert hashes[first].tolist() == [3 << 20, 5 << 20, 9 << 20]


def test_hashes_equal_but_in_the_index_bits_fall_in_one_group() -> None:
    first, inverse = tier_tables._group(np.array([4, 5], dtype=np.uint64))
    assert inverse.tolist() == [0, 0]
    assert first.tolist() == [0]


def test_rows_grouped_exactly_when_hashes_collide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tier_tables, "_hash", lambda words: np.zeros(len(words), np.uint64))
    words = np.array([[1, 7], [2, 7], [1, 7]], dtype=np.uint64)
    first, inverse = tier_tables._distinct_rows(words)
    assert len(first) == 2
    assert (words[first][inverse] == words).all()
    assert inverse[0] == inverse[2] != inverse[1]
