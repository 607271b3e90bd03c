"""Engines and sessions. Synchronous SQLAlchemy: the API runs it in a threadpool.

SQLite (the embedded default) gets WAL, a 30 s busy timeout, foreign keys, and SQLAlchemy in
charge of ``BEGIN`` (the ``sqlite3`` module's legacy transaction handling is switched off, so
SELECTs are transactional and SAVEPOINTs work). PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

DEFAULT_DATABASE_URL = "sqlite:///./netreach.db"

_SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA synchronous=NORMAL",
)


def normalise_url(url: str | URL) -> URL:
    """``postgresql://`` and ``postgres://`` mean psycopg 3.

    >>> normalise_url("postgres://u@h/db").render_as_string()
    'postgresql+psycopg://u@h/db'
    """
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL = DEFAULT_DATABASE_URL, **options: Any) -> Engine:
    """An engine for ``url``; ``options`` go to :func:`sqlalchemy.create_engine`."""
    parsed = normalise_url(url)
    options.setdefault("pool_pre_ping", True)
    engine = create_engine(parsed, **options)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def make_session_factory(engine: Engine, *, write: bool = False) -> sessionmaker[Session]:
    """Sessions on ``engine``; records are plain values, so nothing expires on commit.

    ``write=True`` is for units of work that read before they write (uploads): on SQLite
    their transactions begin IMMEDIATE, taking the write lock up front, so SQLite cannot
    refuse it to them later. It changes nothing on PostgreSQL.
    """
    bind = engine.execution_options(sqlite_begin="IMMEDIATE") if write else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy emit BEGIN (below) instead of the driver's legacy handling.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE, not {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")
