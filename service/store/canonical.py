"""Canonical bytes and hashes of Kubernetes objects and snapshots.

An object's content hash covers its kind, namespace, name and canonical body; a snapshot's
covers the set of its objects' hashes. The only normalisation applied before hashing is
:func:`strip_noise`: it removes ``metadata.managedFields`` and the
``kubectl.kubernetes.io/last-applied-configuration`` annotation (and the ``annotations`` map
itself when that annotation was its only entry), and a core ``v1`` Secret's ``data`` and
``stringData`` (:func:`strip_secret_values`: netreach never reads them, so it never stores
them). Everything else is kept byte-for-byte as the canonical JSON of the object.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import orjson

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, compact separators, UTF-8 (orjson: several times faster than ``json``).

    >>> canonical_json({"b": 1, "a": [True, None, "é"]})
    b'{"a":[true,null,"\\xc3\\xa9"],"b":1}'
    """
    try:  # string keys only (any JSON, nearly all YAML): orjson's fast path
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        pass
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:  # integers beyond 64 bits and other rarities: the standard library
        return json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")


# Between two values of one orjson call: a NUL byte, which orjson itself never writes (it
# escapes control characters in strings and keys), so every NUL of the output is one of these.
_SEPARATOR = orjson.Fragment(b"\x00")


def canonical_many(objs: Sequence[Any]) -> list[memoryview]:
    """``canonical_json`` of each value, as views into one buffer: one orjson call for
    all of them (one call per object costs about as much again as the serialising itself).

    >>> [bytes(v) for v in canonical_many([{"b": 1, "a": 2}, [], {1: "x"}])]
    [b'{"a":2,"b":1}', b'[]', b'{"1":"x"}']
    """
    if not objs:
        return []
    interleaved: list[Any] = [_SEPARATOR] * (2 * len(objs))
    interleaved[::2] = objs
    try:
        # "[" v0 "," NUL "," v1 "," NUL ... "," NUL "]": value i ends one byte before NUL i.
        blob = orjson.dumps(interleaved, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a value needs canonical_json's fallbacks (or is nested too deep)
        return [memoryview(canonical_json(obj)) for obj in objs]
    ends = np.flatnonzero(np.frombuffer(blob, dtype=np.uint8) == 0)
    if len(ends) != len(objs):  # cannot happen (see _SEPARATOR); never guess
        return [memoryview(canonical_json(obj)) for obj in objs]
    view = memoryview(blob)
    starts = [1, *(ends[:-1] + 2).tolist()]
    return [view[start : end - 1] for start, end in zip(starts, ends.tolist(), strict=True)]


# Digits to "0", the characters a number may follow in canonical JSON to "#": a number of
# 19 digits or more is then "#" and 19 "0"s (orjson would read one beyond 64 bits as a float).
_NUMBER_MARKS = bytes(
    0x30 if 0x30 <= byte <= 0x39 else 0x23 if byte in b":[,-" else 0x20 for byte in range(256)
)
_LONG_NUMBER = b"#" + b"0" * 19


def parse_canonical(data: bytes) -> Any:
    """The value of canonical JSON, integers of any size exact: orjson, unless a number
    of 19 digits or more may be in it (then the standard library).

    >>> parse_canonical(canonical_json({"n": 10**30, "m": 1}))
    {'m': 1, 'n': 1000000000000000000000000000000}
    """
    if data.translate(_NUMBER_MARKS).find(_LONG_NUMBER) >= 0:
        return json.loads(data)
    return orjson.loads(data)


def content_hash(data: bytes) -> str:
    """The sha256 of ``data`` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def object_hash(
    kind: str, namespace: str | None, name: str, canonical_body: bytes | memoryview
) -> str:
    """The content hash of a stored object: its identity and its canonical body.

    The identity is part of the hash so that a stored row's kind, namespace and name always
    are those it was uploaded with, even if two bodies are byte-identical.
    """
    digest = hashlib.sha256(canonical_json([kind, namespace, name]))
    digest.update(b"\n")
    digest.update(canonical_body)  # not concatenated: no copy of the body
    return digest.hexdigest()


def snapshot_hash(object_hashes: Iterable[str]) -> str:
    """The content hash of a snapshot: independent of object order and of duplicates.

    >>> snapshot_hash(["b" * 64, "a" * 64]) == snapshot_hash(["a" * 64, "b" * 64, "a" * 64])
    True
    """
    return content_hash("\n".join(sorted(set(object_hashes))).encode("ascii"))


SECRET_VALUE_FIELDS = ("data", "stringData")


def is_core_secret(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def strip_secret_values(obj: dict[str, Any]) -> dict[str, Any]:
    """A core Secret without its values (``data``, ``stringData``); anything else as is.

    >>> strip_secret_values({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
    ...                      "metadata": {"name": "a"}, "data": {"k": "c2VjcmV0"}})
    {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque', 'metadata': {'name': 'a'}}
    >>> strip_secret_values({"apiVersion": "example.com/v1", "kind": "Secret", "data": 1})
    {'apiVersion': 'example.com/v1', 'kind': 'Secret', 'data': 1}
    """
    if not is_core_secret(obj) or not any(field in obj for field in SECRET_VALUE_FIELDS):
        return obj
    return {key: value for key, value in obj.items() if key not in SECRET_VALUE_FIELDS}


def without_noise(obj: dict[str, Any]) -> dict[str, Any]:
    """``strip_noise(obj)`` for serialising: ``obj`` itself (no copy) when there is nothing
    to strip, as for nearly every object of a live cluster dump.

    >>> body = {"kind": "Pod", "metadata": {"name": "a"}}
    >>> without_noise(body) is body, without_noise({"metadata": {"managedFields": []}})
    (True, {'metadata': {}})
    """
    metadata = obj.get("metadata")
    if type(metadata) is not dict or "managedFields" in metadata:
        return strip_noise(obj)
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED_ANNOTATION in annotations:
        return strip_noise(obj)
    return strip_noise(obj) if obj.get("kind") == "Secret" else obj


def strip_noise(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` without server-side bookkeeping, and a Secret without its values
    (:func:`strip_secret_values`); ``obj`` itself is not modified.

    >>> body = {"kind": "Pod", "metadata": {"name": "a", "managedFields": [{}],
    ...         "annotations": {LAST_APPLIED_ANNOTATION: "{}"}}}
    >>> strip_noise(body)
    {'kind': 'Pod', 'metadata': {'name': 'a'}}
    >>> "managedFields" in body["metadata"]
    True
    """
    obj = strip_secret_values(obj)
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return dict(obj)
    annotations = metadata.get("annotations")
    has_last_applied = isinstance(annotations, dict) and LAST_APPLIED_ANNOTATION in annotations
    if "managedFields" not in metadata and not has_last_applied:
        return dict(obj)
    new_metadata = {key: value for key, value in metadata.items() if key != "managedFields"}
    if has_last_applied:
        assert isinstance(annotations, dict)
        kept = {k: v for k, v in annotations.items() if k != LAST_APPLIED_ANNOTATION}
        if kept:
            new_metadata["annotations"] = kept
        else:
            del new_metadata["annotations"]
    return {**obj, "metadata": new_metadata}
