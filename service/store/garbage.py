"""Garbage collection: delete the stored objects that no snapshot holds any more.

Objects are shared between snapshots (content-addressed), so deleting a snapshot frees
nothing by itself; :func:`collect_garbage` deletes every object outside the union of all
snapshots' member lists.

The race it must not lose: an upload that reuses an object reads its id, and only commits
its snapshot (the reference) later. Collection and uploads therefore exclude each other:

- PostgreSQL: uploads hold a shared transaction-level advisory lock from their first
  statement to their commit (:func:`fence_collection`); collection takes it exclusively, so
  it waits for the uploads in flight and reads the member lists after they committed, and
  uploads that begin meanwhile wait for it (bounded by ``lock_timeout``).
- SQLite: one writer at a time. Uploads write first (the cluster row) and read the ids
  after; collection must run in a write transaction (``make_session_factory(engine,
  write=True)``: ``BEGIN IMMEDIATE``), so it reads the member lists under the write lock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from service.store._sql import chunks, dialect_name, one_of
from service.store.members import unpack_members
from service.store.models import ObjectRow, Snapshot

# The key of the PostgreSQL advisory lock between uploads (shared) and collection.
COLLECTION_LOCK = 7_452_981_103_551_001


@dataclass(frozen=True, slots=True)
class Collected:
    """What one collection freed: objects and their (uncompressed, stored) bytes."""

    objects: int
    bytes: int
    stored_bytes: int


def fence_collection(session: Session) -> None:
    """Keep collection out until this transaction ends (uploads call it first)."""
    if dialect_name(session) == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": COLLECTION_LOCK})


def collect_garbage(session: Session, *, wait: bool = True) -> Collected | None:
    """Delete every object no snapshot holds; flushes only (the caller commits).

    ``wait=False`` (PostgreSQL): ``None`` at once when uploads are in flight, instead of
    waiting for them, which would also make the uploads that begin meanwhile wait."""
    if dialect_name(session) == "postgresql":
        if not wait:
            taken = session.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": COLLECTION_LOCK}
            ).scalar_one()
            if not taken:
                return None
        else:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": COLLECTION_LOCK})
    held = [
        unpack_members(packed) for packed in session.execute(select(Snapshot.members)).scalars()
    ]
    referenced = np.unique(np.concatenate(held)) if held else np.empty(0, dtype=np.int64)
    every = np.fromiter(session.execute(select(ObjectRow.id)).scalars(), dtype=np.int64)
    orphans = np.setdiff1d(every, referenced, assume_unique=True).tolist()
    freed = Collected(0, 0, 0)
    for chunk in chunks(orphans):
        size, stored = session.execute(
            select(
                func.coalesce(func.sum(ObjectRow.size), 0),
                func.coalesce(func.sum(func.length(ObjectRow.body)), 0),
            ).where(one_of(session, ObjectRow.id, chunk))
        ).one()
        session.execute(
            delete(ObjectRow)
            .where(one_of(session, ObjectRow.id, chunk))
            .execution_options(synchronize_session=False)
        )
        freed = Collected(
            freed.objects + len(chunk), freed.bytes + int(size), freed.stored_bytes + int(stored)
        )
    return freed


__all__ = ["COLLECTION_LOCK", "Collected", "collect_garbage", "fence_collection"]
