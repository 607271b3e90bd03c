"""Garbage collection of objects no snapshot holds, and Secrets stored without values."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.store import NewObject, SnapshotRepository, make_engine, make_session_factory
from service.store.garbage import collect_garbage
from service.store.migrate import upgrade
from service.store.models import ObjectRow


def config_map(name: str, value: str = "x") -> NewObject:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name,
            "namespace": "shop"}, "data": {"value": value}}  # fmt: skip
    return NewObject("ConfigMap", "shop", name, body)


def secret(name: str, **values: Any) -> NewObject:
    body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": "shop"}, **values}  # fmt: skip
    return NewObject("Secret", "shop", name, body)


@pytest.fixture
def sessions(fresh_database_url: str) -> Iterator[sessionmaker[Session]]:
    """Write sessions (SQLite: BEGIN IMMEDIATE) on a migrated database of the test's own."""
    upgrade(fresh_database_url)
    engine = make_engine(fresh_database_url)
    yield make_session_factory(engine, write=True)
    engine.dispose()


def object_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ObjectRow)) or 0)


def test_deleting_99_of_100_versions_frees_their_objects(sessions: sessionmaker[Session]) -> None:
    shared = config_map("shared")
    with sessions() as session, session.begin():
        repo = SnapshotRepository(session)
        for n in range(100):
            repo.create("c", [shared, config_map(f"v{n}")])
    assert object_count(sessions) == 101
    with sessions() as session, session.begin():
        repo = SnapshotRepository(session)
        for version in range(1, 100):
            assert repo.delete("c", version)
    assert object_count(sessions) == 101  # a delete alone frees nothing
    with sessions() as session, session.begin():
        freed = collect_garbage(session)
    assert freed.objects == 99
    assert freed.bytes > 0
    assert freed.stored_bytes > 0
    assert object_count(sessions) == 2
    with sessions() as session:
        repo = SnapshotRepository(session)
        kept = repo.get("c", 100)
        assert kept is not None
        assert sorted(o.name for o in repo.objects(kept.id)) == ["shared", "v99"]
    with sessions() as session, session.begin():
        assert collect_garbage(session).objects == 0  # nothing left to free


def test_collection_waits_for_an_upload_that_reuses_an_object(
    sessions: sessionmaker[Session],
) -> None:
    """The race: an upload has found an object that no committed snapshot holds any more
    (its holder was deleted) and reuses its id; collection must not free it before the
    upload commits its reference."""
    reused = config_map("reused")
    with sessions() as session, session.begin():
        SnapshotRepository(session).create("old", [reused])
    with sessions() as session, session.begin():
        assert SnapshotRepository(session).delete("old", 1)
    upload = sessions()
    upload.begin()
    record, _ = SnapshotRepository(upload).create("new", [reused, config_map("other")])

    done = threading.Event()
    freed: list[int] = []

    def collect() -> None:
        with sessions() as session, session.begin():
            freed.append(collect_garbage(session).objects)
        done.set()

    collector = threading.Thread(target=collect)
    collector.start()
    time.sleep(1.0)
    assert not done.is_set(), "collection ran while an upload holding a reused object was open"
    upload.commit()
    upload.close()
    collector.join(timeout=30)
    assert done.is_set()
    assert freed == [0]
    with sessions() as session:
        objects = SnapshotRepository(session).objects(record.id)
    assert sorted(o.name for o in objects) == ["other", "reused"]


def test_secrets_are_stored_without_their_values(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        repo = SnapshotRepository(session)
        first, created = repo.create(
            "c", [secret("db", data={"password": "c2VjcmV0"}, stringData={"user": "admin"})]
        )
        assert created
        again, created_again = repo.create("c", [secret("db", data={"password": "b3RoZXI="})])
        bare, _ = repo.create("d", [secret("db")])
        [stored] = repo.objects(first.id)
    assert stored.body == {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                           "metadata": {"name": "db", "namespace": "shop"}}  # fmt: skip
    # Values are not content: the same Secret with other values is the same snapshot.
    assert (again.version, created_again) == (1, False)
    assert bare.content_hash == first.content_hash
    with sessions() as session:
        bodies = session.scalars(select(ObjectRow.body)).all()
    assert len(bodies) == 1
    assert b"c2VjcmV0" not in bodies[0]


def test_background_collection_does_not_wait_for_uploads_on_postgresql(
    backend: str, sessions: sessionmaker[Session]
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: collection waits for the write lock")
    upload = sessions()
    upload.begin()
    SnapshotRepository(upload).create("c", [config_map("a")])
    try:
        started = time.monotonic()
        with sessions() as session, session.begin():
            assert collect_garbage(session, wait=False) is None
        assert time.monotonic() - started < 1
    finally:
        upload.commit()
        upload.close()
    with sessions() as session, session.begin():
        freed = collect_garbage(session, wait=False)
    assert freed is not None
    assert freed.objects == 0
