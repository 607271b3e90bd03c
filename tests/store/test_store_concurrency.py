"""Concurrent uploads to one cluster, with real commits on a database of their own."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.store import NewObject, SnapshotRecord, SnapshotRepository, make_session_factory
from service.store.models import Cluster, ObjectRow

THREADS = 20

# A new cluster row is itself a point of serialisation (the upserts wait for the first one),
# so the race is also run on a cluster that exists already.
cluster_states = pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])


def new_cluster(factory: sessionmaker[Session], existing: bool) -> str:
    name = f"race-{uuid.uuid4().hex[:8]}"
    if existing:
        with factory.begin() as session:
            session.add(Cluster(name=name))
    return name


def objects(tag: str, salt: str) -> list[NewObject]:
    """51 objects shared by every upload with the same ``salt``, and one of ``tag``'s own.

    All but the Namespace live in namespace ``salt``.
    """
    shared = [
        NewObject("Namespace", None, salt, {"kind": "Namespace", "metadata": {"name": salt}}),
        *(
            NewObject(
                "Pod",
                salt,
                f"p{i}",
                {"kind": "Pod", "metadata": {"name": f"p{i}", "namespace": salt}},
            )
            for i in range(50)
        ),
    ]
    own = NewObject(
        "ConfigMap", salt, tag, {"kind": "ConfigMap", "metadata": {"name": tag, "namespace": salt}}
    )
    return [*shared, own]


def object_rows_in(factory: sessionmaker[Session], namespace: str) -> int:
    with factory() as session:
        stmt = select(func.count()).select_from(ObjectRow).where(ObjectRow.namespace == namespace)
        return session.execute(stmt).scalar_one()


def upload_concurrently(
    factory: sessionmaker[Session], uploads: list[tuple[str, list[NewObject]]]
) -> list[tuple[SnapshotRecord, bool]]:
    """Run ``(cluster, objects)`` uploads in as many threads, released at once."""
    barrier = threading.Barrier(len(uploads))

    def upload(cluster_and_content: tuple[str, list[NewObject]]) -> tuple[SnapshotRecord, bool]:
        cluster, content = cluster_and_content
        with factory() as session:
            session.connection()  # check a connection out before the race starts
            session.rollback()
            barrier.wait(timeout=60)
            with session.begin():
                return SnapshotRepository(session).create(cluster, content)

    with ThreadPoolExecutor(max_workers=len(uploads)) as pool:
        return list(pool.map(upload, uploads))


@cluster_states
def test_different_content_gets_versions_one_to_n(
    committing_session_factory: sessionmaker[Session], existing: bool
) -> None:
    cluster = new_cluster(committing_session_factory, existing)
    results = upload_concurrently(
        committing_session_factory,
        [(cluster, objects(f"cm-{i}", salt=cluster)) for i in range(THREADS)],
    )
    assert all(created for _, created in results)
    assert sorted(record.version for record, _ in results) == list(range(1, THREADS + 1))
    with committing_session_factory() as session:
        snapshots = SnapshotRepository(session)
        assert snapshots.versions(cluster) == list(range(1, THREADS + 1))
        assert {r.object_count for r in snapshots.list(cluster, limit=100)} == {52}
    assert object_rows_in(committing_session_factory, cluster) == 50 + THREADS


@cluster_states
def test_identical_content_gets_one_version(
    committing_session_factory: sessionmaker[Session], existing: bool
) -> None:
    cluster = new_cluster(committing_session_factory, existing)
    results = upload_concurrently(
        committing_session_factory, [(cluster, objects("same", salt=cluster))] * THREADS
    )
    assert sum(created for _, created in results) == 1
    assert {record.version for record, _ in results} == {1}
    assert len({record.id for record, _ in results}) == 1
    with committing_session_factory() as session:
        assert SnapshotRepository(session).versions(cluster) == [1]


def test_same_new_objects_into_many_clusters_at_once(
    committing_session_factory: sessionmaker[Session],
) -> None:
    """Parallel inserts of the same new objects: no conflict error, one row per object."""
    salt = f"shared-{uuid.uuid4().hex[:8]}"
    content = objects("same", salt=salt)
    results = upload_concurrently(
        committing_session_factory, [(f"{salt}-{i}", content) for i in range(THREADS)]
    )
    assert all(created and record.version == 1 for record, created in results)
    assert len({record.content_hash for record, _ in results}) == 1
    assert object_rows_in(committing_session_factory, salt) == 50 + 1


def test_write_sessions_take_the_sqlite_write_lock_up_front(
    committing_session_factory: sessionmaker[Session],
) -> None:
    engine = committing_session_factory.kw["bind"]
    writes = make_session_factory(engine, write=True)
    with writes.begin() as session:
        SnapshotRepository(session).get("nothing", "latest")  # a read first
        if engine.dialect.name == "sqlite":
            other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
        record, created = SnapshotRepository(session).create(
            f"writer-{uuid.uuid4().hex[:8]}", objects("w", salt="writer")
        )
    assert created
    assert record.version == 1
