"""Cells: the shortcut for a subject that comes with one peer gives what the general path
gives, for every subject class and every kind of peer (class, external piece, special)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.engine.diff.cells import Cells
from service.engine.model import Direction
from service.usecases.manifests import load_paths

DEMO = Path(__file__).resolve().parents[2] / "service" / "demo" / "v2.yaml"


@pytest.mark.parametrize("direction", list(Direction))
def test_single_peer_shortcut_agrees_with_the_general_path(direction: Direction) -> None:
    compiled = load_paths([DEMO]).compile()
    assert compiled.peer_count > compiled.class_count, "the demo has external pieces"
    fast, general = Cells(compiled), Cells(compiled)
    general.general = True
    for subject in range(-1, compiled.class_count):
        for peer in range(-2, compiled.peer_count):
            pair = np.array([subject], dtype=np.int64), np.array([peer], dtype=np.int64)
            assert fast.lookup(direction, *pair).tolist() == (
                general.lookup(direction, *pair).tolist()
            ), (subject, peer)
