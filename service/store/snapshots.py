"""Snapshots: versioned, immutable sets of content-addressed objects."""

from __future__ import annotations

import builtins
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Row, Select, Table, delete, select, update
from sqlalchemy.orm import Session

from service.store._sql import chunks, dialect_name, insert_ignoring_conflicts, one_of
from service.store.bulk import Row as NewRow
from service.store.bulk import compress as compress_body
from service.store.bulk import compress_all, insert_objects
from service.store.canonical import (
    canonical_many,
    object_hash,
    parse_canonical,
    snapshot_hash,
    without_noise,
)
from service.store.errors import SnapshotNotFoundError, StoreError
from service.store.garbage import fence_collection
from service.store.members import pack_members, unpack_members
from service.store.models import Cluster, ObjectRow, Snapshot, utcnow
from service.store.records import NewObject, SnapshotRecord, StoredObject

SnapshotRef = int | Literal["latest"]

_CLUSTERS = cast(Table, Cluster.__table__)

_RECORD_COLUMNS = (
    Snapshot.id,
    Cluster.name,
    Snapshot.version,
    Snapshot.content_hash,
    Snapshot.created_at,
    Snapshot.source,
    Snapshot.labels,
    Snapshot.counts,
    Snapshot.warnings,
    Snapshot.object_count,
)


@dataclass(frozen=True, slots=True)
class PreparedObjects:
    """Objects normalised, hashed and deduplicated (by content hash), ready to store: one
    row per content hash, as ``bulk.insert_objects`` takes it, whose body is compressed
    if ``compressed`` (else it is the canonical body, compressed when inserted)."""

    by_hash: dict[str, NewRow]
    kind_counts: dict[str, int]
    compressed: bool


_PREPARE_BATCH = 1_000  # objects serialised per orjson call


def prepare_objects(objects: Iterable[NewObject], *, compress: bool = False) -> PreparedObjects:
    """What :meth:`SnapshotRepository.create` does before it touches the database, on its
    own (no session), so that it can run while the caller validates the same objects.

    ``compress`` compresses every body now, even those of objects already stored (which
    then is work in vain): worth it when it runs beside other work (the compressor does
    not hold the GIL). Bodies are serialised a batch at a time (``canonical_many``), each
    compressed as soon as its batch is canonical, and the batch's canonical bytes dropped
    then: their memory is reused by the next batch, where keeping them all (about as large
    as the upload) would cost fresh pages for every one of them.
    """
    rows: dict[str, NewRow] = {}
    kind_counts: dict[str, int] = {}
    pending = builtins.list(objects)
    for start in range(0, len(pending), _PREPARE_BATCH):
        batch = pending[start : start + _PREPARE_BATCH]
        canonicals = canonical_many([without_noise(obj.body) for obj in batch])
        for obj, canonical in zip(batch, canonicals, strict=True):
            digest = object_hash(obj.kind, obj.namespace, obj.name, canonical)
            if digest not in rows:
                body = compress_body(canonical) if compress else bytes(canonical)
                rows[digest] = (digest, obj.kind, obj.namespace, obj.name, body, len(canonical))
                kind_counts[obj.kind] = kind_counts.get(obj.kind, 0) + 1
        del canonicals
    return PreparedObjects(rows, kind_counts, compress)


class SnapshotRepository:
    """Snapshots of clusters. Only flushes: the caller commits or rolls back."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        cluster: str,
        objects: Iterable[NewObject] | PreparedObjects,
        *,
        source: str | None = None,
        labels: Mapping[str, str] | None = None,
        counts: Mapping[str, int] | None = None,
        warnings: Sequence[str] = (),
    ) -> tuple[SnapshotRecord, bool]:
        """Store a snapshot of ``cluster``; ``(record, created)``.

        Objects are normalised (``canonical.strip_noise``), hashed and stored once however
        many snapshots hold them. The snapshot's content hash covers the set of object hashes
        (order and duplicates do not matter); if the cluster already has a snapshot with that
        hash, that snapshot is returned with ``created=False``. Otherwise the next version of
        the cluster is allocated: consecutive, never reused, safe under concurrent uploads.
        ``counts`` defaults to the number of objects per kind. ``objects`` may come from
        :func:`prepare_objects` (done beforehand, in another thread).

        On SQLite, call this first in its transaction, or use a session from
        ``make_session_factory(engine, write=True)``: SQLite refuses the write lock to a
        transaction that has already read while another upload committed meanwhile
        (``database is locked``, immediately).
        """
        ready = objects if isinstance(objects, PreparedObjects) else prepare_objects(objects)
        prepared, kind_counts = ready.by_hash, ready.kind_counts
        digest_of_snapshot = snapshot_hash(prepared)

        fence_collection(self.session)  # no object collected until this commits
        # 1. Make sure the cluster row exists. On SQLite this first write also takes the
        #    database's write lock for the rest of the transaction.
        self.session.execute(
            insert_ignoring_conflicts(self.session, _CLUSTERS, "name").values(
                name=cluster, created_at=utcnow(), last_version=0
            )
        )
        # 2. Lock the cluster row (PostgreSQL; SQLite holds the database lock already):
        #    uploads to one cluster are serialised from here to commit.
        cluster_id = self.session.execute(
            select(Cluster.id).where(Cluster.name == cluster).with_for_update()
        ).scalar_one()
        # 3. Idempotency, race-free because it runs under the lock.
        existing = self.session.execute(
            self._select_records()
            .where(Snapshot.cluster_id == cluster_id, Snapshot.content_hash == digest_of_snapshot)
            .order_by(Snapshot.version)
            .limit(1)
        ).first()
        if existing is not None:
            return _record(existing), False
        # 4. Objects: insert the ones not stored yet, then collect every id.
        object_ids = self._store_objects(prepared, compressed=ready.compressed)
        # 5. The next version.
        version = self.session.execute(
            update(Cluster)
            .where(Cluster.id == cluster_id)
            .values(last_version=Cluster.last_version + 1)
            .returning(Cluster.last_version)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        snapshot = Snapshot(
            cluster_id=cluster_id,
            version=version,
            content_hash=digest_of_snapshot,
            created_at=utcnow(),
            source=source,
            labels=dict(labels or {}),
            counts=dict(counts) if counts is not None else kind_counts,
            warnings=builtins.list(warnings),
            object_count=len(object_ids),
            members=pack_members(object_ids),
        )
        self.session.add(snapshot)
        self.session.flush()
        return (
            SnapshotRecord(
                id=snapshot.id,
                cluster=cluster,
                version=version,
                content_hash=digest_of_snapshot,
                created_at=snapshot.created_at,
                source=source,
                labels=snapshot.labels,
                counts=snapshot.counts,
                warnings=tuple(snapshot.warnings),
                object_count=snapshot.object_count,
            ),
            True,
        )

    def get(self, cluster: str, ref: SnapshotRef) -> SnapshotRecord | None:
        """The snapshot ``ref`` (a version number or ``"latest"``) of ``cluster``."""
        stmt = self._select_records().where(Cluster.name == cluster)
        if ref == "latest":
            stmt = stmt.order_by(Snapshot.version.desc()).limit(1)
        elif isinstance(ref, int) and not isinstance(ref, bool):
            stmt = stmt.where(Snapshot.version == ref)
        else:
            raise ValueError(f"snapshot ref must be a version number or 'latest', not {ref!r}")
        row = self.session.execute(stmt).first()
        return None if row is None else _record(row)

    def list(
        self,
        cluster: str,
        *,
        after: int | None = None,
        limit: int = 50,
        descending: bool = True,
    ) -> builtins.list[SnapshotRecord]:
        """One page of ``cluster``'s snapshots, keyset-paginated by version.

        ``after`` is the last version of the previous page (exclusive); newest first unless
        ``descending`` is false.
        """
        stmt = self._select_records().where(Cluster.name == cluster)
        if descending:
            if after is not None:
                stmt = stmt.where(Snapshot.version < after)
            stmt = stmt.order_by(Snapshot.version.desc())
        else:
            if after is not None:
                stmt = stmt.where(Snapshot.version > after)
            stmt = stmt.order_by(Snapshot.version)
        rows = self.session.execute(stmt.limit(max(limit, 0))).all()
        return [_record(row) for row in rows]

    def versions(self, cluster: str) -> builtins.list[int]:
        """Every stored version of ``cluster``, ascending."""
        stmt = (
            select(Snapshot.version)
            .join(Cluster, Snapshot.cluster_id == Cluster.id)
            .where(Cluster.name == cluster)
            .order_by(Snapshot.version)
        )
        return builtins.list(self.session.execute(stmt).scalars())

    def delete(self, cluster: str, version: int) -> bool:
        """Delete one snapshot; ``False`` if there was none. Its version is never reused.

        Objects stay stored (they may be shared with other snapshots) until
        :func:`service.store.garbage.collect_garbage`.
        """
        cluster_id = select(Cluster.id).where(Cluster.name == cluster).scalar_subquery()
        result = self.session.execute(
            delete(Snapshot)
            .where(Snapshot.cluster_id == cluster_id, Snapshot.version == version)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def objects(
        self, snapshot_id: int, *, kind: str | None = None, namespace: str | None = None
    ) -> builtins.list[StoredObject]:
        """The objects of a snapshot, optionally of one kind and/or namespace.

        Sorted by kind, namespace (cluster-scoped first), name.
        """
        ids = self._member_ids(snapshot_id)
        found: builtins.list[StoredObject] = []
        for chunk in chunks(ids):
            stmt = select(
                ObjectRow.kind,
                ObjectRow.namespace,
                ObjectRow.name,
                ObjectRow.content_hash,
                ObjectRow.body,
            ).where(one_of(self.session, ObjectRow.id, chunk))
            if kind is not None:
                stmt = stmt.where(ObjectRow.kind == kind)
            if namespace is not None:
                stmt = stmt.where(ObjectRow.namespace == namespace)
            found.extend(
                StoredObject(
                    kind=row.kind,
                    namespace=row.namespace,
                    name=row.name,
                    content_hash=row.content_hash,
                    body=_decode(row.body),
                )
                for row in self.session.execute(stmt)
            )
        found.sort(key=lambda o: (o.kind, o.namespace or "", o.name, o.content_hash))
        return found

    def object_hashes(self, snapshot_id: int) -> dict[tuple[str, str | None, str], str]:
        """Every object's content hash by (kind, namespace, name), without the bodies (what
        a what-if needs to find the bodies of the objects it replaces)."""
        found: dict[tuple[str, str | None, str], str] = {}
        for chunk in chunks(self._member_ids(snapshot_id)):
            stmt = select(
                ObjectRow.kind, ObjectRow.namespace, ObjectRow.name, ObjectRow.content_hash
            ).where(one_of(self.session, ObjectRow.id, chunk))
            found.update(
                ((r.kind, r.namespace, r.name), r.content_hash) for r in self.session.execute(stmt)
            )
        return found

    def hashes_of(
        self, snapshot_id: int, keys: Iterable[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], str]:
        """The content hashes of these objects of a snapshot, by (kind, namespace, name),
        namespace ``""`` when cluster-scoped (absent: the snapshot holds no such object).
        Only the rows with those keys are read (by their index, across every snapshot),
        kept if the snapshot holds them, not every member's key and hash."""
        wanted = set(keys)
        if not wanted:
            return {}
        members = self._member_array(snapshot_id)
        found: dict[tuple[str, str, str], str] = {}
        for kind in sorted({k for k, _, _ in wanted}):
            names = sorted({name for k, _, name in wanted if k == kind})
            for chunk in chunks(names):
                stmt = select(
                    ObjectRow.id, ObjectRow.namespace, ObjectRow.name, ObjectRow.content_hash
                ).where(ObjectRow.kind == kind, one_of(self.session, ObjectRow.name, chunk))
                rows = [
                    r
                    for r in self.session.execute(stmt)
                    if (kind, r.namespace or "", r.name) in wanted
                ]
                held = np.isin(np.array([r.id for r in rows], dtype=np.int64), members)
                for row, keep in zip(rows, held.tolist(), strict=True):
                    if keep:
                        found[(kind, row.namespace or "", row.name)] = row.content_hash
        return found

    def bodies_by_hash(self, digests: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The bodies of the objects with these content hashes (unknown ones are absent)."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(builtins.list(digests)):
            stmt = select(ObjectRow.content_hash, ObjectRow.body).where(
                one_of(self.session, ObjectRow.content_hash, chunk)
            )
            found.update((digest, _decode(body)) for digest, body in self.session.execute(stmt))
        return found

    def changed_objects(
        self, base_id: int, head_id: int
    ) -> tuple[dict[tuple[str, str | None, str], dict[str, Any]], ...]:
        """The objects of each of two snapshots that the other does not hold, body by
        (kind, namespace, name): what a diff compares. Rows are content-addressed, so an
        object both hold unchanged is one row in both member lists, and is never read."""
        base, head = self._member_array(base_id), self._member_array(head_id)
        return tuple(
            self._bodies_by_key(np.setdiff1d(mine, theirs, assume_unique=True).tolist())
            for mine, theirs in ((base, head), (head, base))
        )

    def _bodies_by_key(
        self, ids: Sequence[int]
    ) -> dict[tuple[str, str | None, str], dict[str, Any]]:
        found: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        for chunk in chunks(ids):
            stmt = select(ObjectRow.kind, ObjectRow.namespace, ObjectRow.name, ObjectRow.body)
            rows = self.session.execute(stmt.where(one_of(self.session, ObjectRow.id, chunk)))
            found.update(((kind, ns, name), _decode(body)) for kind, ns, name, body in rows)
        return found

    def object_bodies(self, snapshot_id: int) -> builtins.list[dict[str, Any]]:
        """Every object body of a snapshot, in no particular order (the compile fast path)."""
        bodies: builtins.list[dict[str, Any]] = []
        for chunk in chunks(self._member_ids(snapshot_id)):
            stmt = select(ObjectRow.body).where(one_of(self.session, ObjectRow.id, chunk))
            bodies.extend(_decode(body) for body in self.session.execute(stmt).scalars())
        return bodies

    # -- internals ----------------------------------------------------------------------

    def _select_records(self) -> Select[*tuple[Any, ...]]:
        return select(*_RECORD_COLUMNS).join(Cluster, Snapshot.cluster_id == Cluster.id)

    def _member_ids(self, snapshot_id: int) -> builtins.list[int]:
        return cast(builtins.list[int], self._member_array(snapshot_id).tolist())

    def _member_array(self, snapshot_id: int) -> npt.NDArray[np.int64]:
        packed = self.session.execute(
            select(Snapshot.members).where(Snapshot.id == snapshot_id)
        ).scalar_one_or_none()
        if packed is None:
            raise SnapshotNotFoundError(snapshot_id)
        return unpack_members(packed)

    def _ids_by_hash(self, digests: Sequence[str]) -> dict[str, int]:
        """The stored ids of those of ``digests`` that are stored. An upload asks for every
        object it holds (220,000 for L): on SQLite the query goes to the driver as plain
        text and parameters (SQLAlchemy's expanding ``IN`` cost 0.25 s for L, this 0.08 s);
        PostgreSQL takes each chunk as one array parameter."""
        ids: dict[str, int] = {}
        if dialect_name(self.session) != "sqlite":
            for chunk in chunks(digests):
                stmt = select(ObjectRow.content_hash, ObjectRow.id).where(
                    one_of(self.session, ObjectRow.content_hash, chunk)
                )
                ids.update((digest, id_) for digest, id_ in self.session.execute(stmt))
            return ids
        connection = self.session.connection()
        query = f"SELECT content_hash, id FROM {ObjectRow.__tablename__} WHERE content_hash IN"
        for chunk in chunks(digests):
            marks = ",".join("?" * len(chunk))
            rows = connection.exec_driver_sql(f"{query} ({marks})", tuple(chunk))
            ids.update((digest, id_) for digest, id_ in rows)
        return ids

    def _store_objects(
        self, prepared: Mapping[str, NewRow], *, compressed: bool
    ) -> builtins.list[int]:
        """Insert the objects not stored yet; the ids of all of them.

        Concurrent uploads of the same object are harmless: conflicting inserts do nothing
        (on PostgreSQL they wait for the other transaction), and new rows go in in hash
        order, so two uploads never wait on each other's rows in a cycle.
        """
        ids = self._ids_by_hash(builtins.list(prepared))
        missing = sorted(digest for digest in prepared if digest not in ids)
        if missing:
            rows = [prepared[digest] for digest in missing]
            if not compressed:
                bodies = compress_all([row[4] for row in rows])
                rows = [(*row[:4], body, row[5]) for row, body in zip(rows, bodies, strict=True)]
                del bodies
            ids.update(insert_objects(self.session, rows))
            del rows
            # Stored meanwhile by a concurrent upload, or ids the insert could not tell.
            ids.update(self._ids_by_hash([digest for digest in missing if digest not in ids]))
        if len(ids) != len(prepared):
            raise StoreError("stored objects vanished while a snapshot was being created")
        return builtins.list(ids.values())


def _record(row: Row[Any]) -> SnapshotRecord:
    return SnapshotRecord(
        id=row.id,
        cluster=row.name,
        version=row.version,
        content_hash=row.content_hash,
        created_at=row.created_at,
        source=row.source,
        labels=dict(row.labels),
        counts=dict(row.counts),
        warnings=tuple(row.warnings),
        object_count=row.object_count,
    )


def _decode(body: bytes) -> dict[str, Any]:
    return cast(dict[str, Any], parse_canonical(zlib.decompress(body)))


__all__ = ["PreparedObjects", "SnapshotRef", "SnapshotRepository", "prepare_objects"]
