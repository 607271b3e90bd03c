"""The migration that strips the values of Secrets stored before netreach stopped storing
them: rows rewritten under their new hash (or merged), snapshots remapped and rehashed."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from sqlalchemy import select

from service.store import NewObject, SnapshotRepository, make_engine, make_session_factory
from service.store.canonical import canonical_json, object_hash, snapshot_hash
from service.store.members import pack_members, unpack_members
from service.store.migrate import upgrade
from service.store.models import Cluster, ObjectRow, Snapshot, utcnow

BEFORE = "4a8ac8a22d2f"


def _secret(password: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
            "data": {"password": password}}  # fmt: skip


CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "cm", "namespace": "shop"}, "data": {"k": "v"}}  # fmt: skip


def _store_as_before(session: Any, cluster_id: int, version: int, bodies: list[Any]) -> None:
    """What netreach stored before: the whole body, hashed with its values."""
    ids, hashes = [], []
    for body in bodies:
        canonical = canonical_json(body)
        digest = object_hash(body["kind"], "shop", body["metadata"]["name"], canonical)
        row = session.scalars(select(ObjectRow).where(ObjectRow.content_hash == digest)).first()
        if row is None:
            row = ObjectRow(content_hash=digest, kind=body["kind"], namespace="shop",
                            name=body["metadata"]["name"], body=zlib.compress(canonical),
                            size=len(canonical))  # fmt: skip
            session.add(row)
            session.flush()
        ids.append(row.id)
        hashes.append(digest)
    session.add(
        Snapshot(
            cluster_id=cluster_id,
            version=version,
            content_hash=snapshot_hash(hashes),
            created_at=utcnow(),
            source=None,
            labels={},
            counts={},
            warnings=[],
            object_count=len(ids),
            members=pack_members(ids),
        )
    )


def test_stored_secrets_lose_their_values_and_snapshots_follow(fresh_database_url: str) -> None:
    url = fresh_database_url
    upgrade(url, BEFORE)
    engine = make_engine(url)
    sessions = make_session_factory(engine, write=True)
    try:
        with sessions() as session, session.begin():
            cluster = Cluster(name="c", created_at=utcnow(), last_version=2)
            session.add(cluster)
            session.flush()
            _store_as_before(session, cluster.id, 1, [_secret("b25l"), CONFIG_MAP])
            _store_as_before(session, cluster.id, 2, [_secret("dHdv"), CONFIG_MAP])
        upgrade(url)
        with sessions() as session:
            rows = session.execute(select(ObjectRow.kind, ObjectRow.body)).all()
            secrets = [
                orjson.loads(zlib.decompress(body)) for kind, body in rows if kind == "Secret"
            ]
            members = {
                version: unpack_members(packed).tolist()
                for version, packed in session.execute(select(Snapshot.version, Snapshot.members))
            }
        # The two Secrets differed only in their values: one row is left, held by both.
        assert secrets == [{"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": "db", "namespace": "shop"}}]  # fmt: skip
        assert len(rows) == 2
        assert members[1] == members[2]
        # Hashes are those of a fresh upload of the same content: it finds version 1.
        with sessions() as session, session.begin():
            repo = SnapshotRepository(session)
            found, created = repo.create(
                "c",
                [
                    NewObject("Secret", "shop", "db", _secret("dGhyZWU=")),
                    NewObject("ConfigMap", "shop", "cm", CONFIG_MAP),
                ],
            )
            hashes = repo.object_hashes(found.id)
            assert (found.version, created) == (1, False)
            assert found.object_count == 2
            stored = repo.bodies_by_hash(list(hashes.values()))
        assert len(stored) == 2
    finally:
        engine.dispose()
