"""Bulk storage of new objects: the fast paths store exactly what the object-by-object
path would, whether bodies were compressed beforehand or not, and more than once per
transaction (PostgreSQL's staging table is reused)."""

from __future__ import annotations

import zlib

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store import SnapshotRepository
from service.store.bulk import compress, compress_all, insert_objects
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


def test_a_row_stored_meanwhile_is_skipped_not_an_error(session: Session) -> None:
    """The caller found these rows missing, but one was stored since (by a concurrent
    upload): PostgreSQL's direct COPY fails on it and is undone, the rows then go in
    through the staging table; SQLite ignores the conflict."""
    repo = SnapshotRepository(session)
    repo.create("bulk-first", [pod("shared")])
    shared_id = session.execute(select(ObjectRow.id)).scalar_one()
    ready = prepare_objects([pod("shared"), pod("new-1"), pod("new-2")], compress=True)
    rows = sorted(ready.by_hash.values())
    inserted = insert_objects(session, rows)
    stored = {
        str(d): int(i) for d, i in session.execute(select(ObjectRow.content_hash, ObjectRow.id))
    }
    assert len(stored) == 3
    assert shared_id in stored.values()
    assert set(inserted) <= set(stored) - {k for k, v in stored.items() if v == shared_id}
    assert all(stored[digest] == id_ for digest, id_ in inserted.items())
    # and the transaction is usable afterwards, the ids of what went in consistent
    snapshot, created = repo.create("bulk-second", [pod("shared"), pod("new-1"), pod("new-2")])
    assert created
    assert {o.name for o in repo.objects(snapshot.id)} == {"shared", "new-1", "new-2"}


def test_the_direct_path_hands_back_the_ids_it_stored(session: Session) -> None:
    ready = prepare_objects([pod(f"d{i}") for i in range(40)], compress=True)
    rows = sorted(ready.by_hash.values())
    inserted = insert_objects(session, rows)
    stored = {
        str(d): int(i) for d, i in session.execute(select(ObjectRow.content_hash, ObjectRow.id))
    }
    assert inserted == stored


def test_a_large_insert_gives_the_page_cache_back(session: Session) -> None:
    """SQLite's larger page cache is for the insert only; both databases store every row
    of an upload past the batch size, and find each stored hash again."""
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar_one() if sqlite else None
    objects = cluster_objects(6_000)
    record, _ = SnapshotRepository(session).create("bulk-large", objects)
    assert record.object_count == len(objects)
    if sqlite:
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar_one() == before
    digests = list(prepare_objects(objects).by_hash)
    found = SnapshotRepository(session)._ids_by_hash([*digests, "0" * 64])
    assert sorted(found) == sorted(digests)
