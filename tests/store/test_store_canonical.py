"""Canonical JSON, hashes, noise stripping and member packing: pure functions."""

from __future__ import annotations

import copy
import doctest
import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.store import canonical, database, members
from service.store.canonical import (
    LAST_APPLIED_ANNOTATION,
    canonical_json,
    canonical_many,
    content_hash,
    object_hash,
    snapshot_hash,
    strip_noise,
    without_noise,
)
from service.store.members import pack_members, unpack_members

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
hashes = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


@pytest.mark.parametrize("module", [canonical, members, database], ids=lambda m: m.__name__)
def test_doctests(module: Any) -> None:
    assert doctest.testmod(module).failed == 0


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_canonical_json_ignores_key_order(obj: dict[str, Any]) -> None:
    reordered = dict(reversed(list(obj.items())))
    assert canonical_json(reordered) == canonical_json(obj)


def test_canonical_json_is_compact_utf8() -> None:
    assert canonical_json({"b": [1, 2], "a": "ü"}) == '{"a":"ü","b":[1,2]}'.encode()


def test_canonical_json_writes_non_string_keys_of_yaml_as_strings() -> None:
    # YAML may key a map by an integer or a boolean; hashes must stay what they always were
    assert (
        canonical_json({"b": 1, "a": {2: "x", True: None}}) == b'{"a":{"2":"x","true":null},"b":1}'
    )


def test_canonical_json_handles_integers_beyond_64_bits() -> None:
    assert canonical_json({"x": 2**70}) == b'{"x":1180591620717411303424}'


def test_object_hash_is_the_sha256_of_identity_newline_body() -> None:
    # stored hashes must never change: identical content is found by them
    expected = hashlib.sha256(b'["Pod","shop","api"]\n{"kind":"Pod"}').hexdigest()
    assert object_hash("Pod", "shop", "api", b'{"kind":"Pod"}') == expected
    assert (
        object_hash("Namespace", None, "shop", b"{}")
        == hashlib.sha256(b'["Namespace",null,"shop"]\n{}').hexdigest()
    )


def test_content_hash_is_sha256_hex() -> None:
    assert content_hash(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@given(st.lists(hashes, max_size=20), st.randoms())
def test_snapshot_hash_ignores_order_and_duplicates(items: list[str], rnd: Any) -> None:
    shuffled = items + items[:3]
    rnd.shuffle(shuffled)
    assert snapshot_hash(shuffled) == snapshot_hash(items)


def test_snapshot_hash_depends_on_the_set() -> None:
    assert snapshot_hash(["a" * 64]) != snapshot_hash(["b" * 64])
    assert snapshot_hash(["a" * 64]) != snapshot_hash(["a" * 64, "b" * 64])


def test_strip_noise_removes_only_managed_fields_and_last_applied() -> None:
    body = {
        "kind": "Pod",
        "metadata": {
            "name": "a",
            "managedFields": [{"manager": "kubectl"}],
            "annotations": {LAST_APPLIED_ANNOTATION: "{}", "team": "x"},
            "labels": {"app": "a"},
        },
        "spec": {"containers": []},
    }
    before = copy.deepcopy(body)
    assert strip_noise(body) == {
        "kind": "Pod",
        "metadata": {"name": "a", "annotations": {"team": "x"}, "labels": {"app": "a"}},
        "spec": {"containers": []},
    }
    assert body == before


def test_strip_noise_drops_annotations_emptied_by_it_but_keeps_empty_ones() -> None:
    emptied = {"metadata": {"name": "a", "annotations": {LAST_APPLIED_ANNOTATION: "{}"}}}
    assert strip_noise(emptied) == {"metadata": {"name": "a"}}
    already_empty = {"metadata": {"name": "a", "annotations": {}}}
    assert strip_noise(already_empty) == already_empty


@pytest.mark.parametrize(
    "body", [{}, {"metadata": None}, {"metadata": {"annotations": None}}, {"kind": "List"}]
)
def test_strip_noise_tolerates_odd_shapes(body: dict[str, Any]) -> None:
    assert strip_noise(body) == body


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@given(st.lists(json_values, max_size=30))
def test_canonical_many_is_canonical_json_of_each(values: list[Any]) -> None:
    assert [bytes(v) for v in canonical_many(values)] == [canonical_json(v) for v in values]


@pytest.mark.parametrize(
    "odd",
    [
        {"n": 10**30},  # beyond 64 bits: the standard library's fallback
        {"a": {2: "x", True: None}},  # non-string keys (YAML)
        _nested(253),  # as deep as orjson goes alone, one level too deep inside a list
        "\x00",  # a NUL in a string (escaped), next to the separator
    ],
)
def test_canonical_many_falls_back_where_one_call_cannot(odd: Any) -> None:
    values = [{"kind": "Pod"}, odd, ["\x00"], {}]
    assert [bytes(v) for v in canonical_many(values)] == [canonical_json(v) for v in values]


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "apiVersion": st.sampled_from(["v1", "example.com/v1"]),
            "kind": st.sampled_from(["Secret", "Pod", "ConfigMap"]),
            "data": json_values,
            "stringData": json_values,
            "metadata": st.none()
            | st.fixed_dictionaries(
                {},
                optional={
                    "name": st.text(max_size=4),
                    "managedFields": json_values,
                    "annotations": st.none()
                    | st.dictionaries(
                        st.sampled_from([LAST_APPLIED_ANNOTATION, "team"]), st.text(max_size=3)
                    ),
                },
            ),
        },
    )
)
def test_without_noise_is_strip_noise_without_copies(body: dict[str, Any]) -> None:
    before = copy.deepcopy(body)
    stripped = without_noise(body)
    assert stripped == strip_noise(body)
    assert body == before
    metadata = body.get("metadata")
    nothing_to_strip = (
        body.get("kind") != "Secret"
        and isinstance(metadata, dict)
        and "managedFields" not in metadata
        and LAST_APPLIED_ANNOTATION not in (metadata.get("annotations") or {})
    )
    assert (stripped is body) == nothing_to_strip


@given(st.lists(st.integers(min_value=1, max_value=2**62), max_size=200))
def test_members_round_trip(ids: list[int]) -> None:
    assert unpack_members(pack_members(ids)).tolist() == sorted(set(ids))


def test_consecutive_members_pack_small() -> None:
    assert len(pack_members(range(1_000_000, 1_002_190))) < 200
