"""Bulk storage of new objects: the fast paths store exactly what the object-by-object
path would, whether bodies were compressed beforehand or not, and more than once per
transaction (PostgreSQL's staging table is reused)."""

from __future__ import annotations

import zlib

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store import SnapshotRepository
from service.store.bulk import compress, compress_all
from service.store.canonical import canonical_json, object_hash
from service.store.models import ObjectRow
from service.store.snapshots import prepare_objects
from tests.store.test_store_snapshots import cluster_objects, pod


def test_compress_all_keeps_the_order_across_threads() -> None:
    items = [orjson.dumps({"n": i, "pad": "x" * (i % 97)}) for i in range(5_000)]
    assert [zlib.decompress(body) for body in compress_all(items)] == items
    assert compress_all(items[:3]) == [compress(item) for item in items[:3]]


def test_rows_hold_the_canonical_body_its_hash_and_size(session: Session) -> None:
    objects = cluster_objects(1_200)  # past the threshold of threaded compression
    SnapshotRepository(session).create("bulk-rows", objects)
    rows = {row.content_hash: row for row in session.execute(select(ObjectRow)).scalars()}
    for obj in objects:
        canonical = canonical_json(obj.body)
        row = rows[object_hash(obj.kind, obj.namespace, obj.name, canonical)]
        assert zlib.decompress(row.body) == canonical
        assert row.size == len(canonical)
        assert (row.kind, row.namespace, row.name) == (obj.kind, obj.namespace, obj.name)


def test_prepared_beforehand_or_not_the_snapshot_is_the_same(session: Session) -> None:
    repo = SnapshotRepository(session)
    objects = cluster_objects(50)
    early, created = repo.create("bulk-early", prepare_objects(objects, compress=True))
    assert created
    late, created = repo.create("bulk-late", objects)
    assert created
    assert early.content_hash == late.content_hash
    assert repo.objects(early.id) == repo.objects(late.id)


def test_several_uploads_with_new_objects_in_one_transaction(session: Session) -> None:
    repo = SnapshotRepository(session)
    first, _ = repo.create("bulk-a", [pod(f"a{i}") for i in range(30)])
    second, _ = repo.create("bulk-b", [pod(f"b{i}") for i in range(30)] + [pod("a0")])
    assert len(repo.objects(first.id)) == 30
    assert {o.name for o in repo.objects(second.id)} == {f"b{i}" for i in range(30)} | {"a0"}
