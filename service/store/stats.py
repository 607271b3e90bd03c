"""Storage statistics for benchmarks and metrics."""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from service.store.errors import StoreError


def database_size_bytes(session: Session) -> int:
    """The size of the whole database, indexes and catalog included.

    PostgreSQL: ``pg_database_size(current_database())``. SQLite: ``page_count * page_size``
    (free pages included: SQLite does not shrink without VACUUM), after checkpointing the WAL
    into the main file from a connection of its own (a checkpoint cannot run inside the
    session's transaction). The checkpoint is PASSIVE: it never waits for other transactions.
    """
    bind = session.get_bind()
    name = bind.dialect.name
    if name == "postgresql":
        size = session.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        return int(size)
    if name == "sqlite":
        engine = bind.engine if isinstance(bind, Connection) else bind
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
        finally:
            raw.close()
        page_count = session.execute(text("PRAGMA page_count")).scalar_one()
        page_size = session.execute(text("PRAGMA page_size")).scalar_one()
        return int(page_count) * int(page_size)
    raise StoreError(f"unsupported database dialect {name!r}")
