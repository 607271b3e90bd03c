"""The streamed JSON of a connectivity map is byte for byte ``json.dumps`` of the map as API
objects (orjson writes it; json defines it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.engine.connectivity import connectivity_map
from service.engine.options import Granularity
from service.report.connectivity import (
    _dumps,
    connections_to_api,
    iter_connections_json,
    iter_map_json,
)
from service.usecases.manifests import load_paths

REPO = Path(__file__).resolve().parents[2]
CASES = [
    REPO / "service" / "demo" / "v2.yaml",
    REPO
    / "tests"
    / "conformance"
    / "cases"
    / "workload-ipblock-except-connections"
    / "manifests.yaml",
    REPO / "tests" / "conformance" / "cases" / "admin-network-policy-tiers" / "manifests.yaml",
]


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("granularity", list(Granularity))
def test_the_stream_is_json_dumps_of_the_map(path: Path, granularity: Granularity) -> None:
    cmap = connectivity_map(load_paths([path]).compile(), granularity)
    assert len(cmap) > 0
    expected = _compact({"cluster": "c", "connections": connections_to_api(cmap)})
    streamed = "".join(iter_map_json(cmap, {"cluster": "c"}))
    assert streamed == expected + "\n"
    rows = list(iter_connections_json(cmap, 1, 3))
    assert rows == [_compact(c) for c in connections_to_api(cmap, 1, 3)]


def test_chunks_split_between_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.report import connectivity

    monkeypatch.setattr(connectivity, "CHUNK_ROWS", 2)
    cmap = connectivity_map(load_paths([CASES[0]]).compile(), Granularity.POD)
    assert len(cmap) > 4
    chunks = list(iter_map_json(cmap))
    assert len(chunks) == 2 + (len(cmap) + 1) // 2
    assert json.loads("".join(chunks)) == {"connections": connections_to_api(cmap)}


def test_an_empty_map() -> None:
    cmap = connectivity_map(load_paths([CASES[0]]).compile(), Granularity.WORKLOAD)
    empty = cmap.involving_namespace("no-such-namespace")
    assert "".join(iter_map_json(empty)) == '{"connections":[]}\n'


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["\x7f", "é", "\u2028", "\x00", "\x1f", '"', "\\", "\n\t\b\f\r", "\ud7ff", "😀", "a/b"]
)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(_VALUES)
def test_dumps_is_json_dumps_byte_for_byte(value: object) -> None:
    assert _dumps(value) == _compact(value)
