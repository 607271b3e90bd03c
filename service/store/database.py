"""Engines and sessions. Synchronous SQLAlchemy: the API runs it in a threadpool.

SQLite (the embedded default) gets WAL, a busy timeout, foreign keys, and SQLAlchemy in
charge of ``BEGIN`` (the ``sqlite3`` module's legacy transaction handling is switched off, so
SELECTs are transactional and SAVEPOINTs work). PostgreSQL goes through psycopg 3.

Every engine is bounded in time (:class:`DatabaseTimeouts`): a database that accepts
connections and never answers, or a pool that is exhausted, is an error within seconds,
which the API answers 503, instead of a request that waits for ever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from service.store.errors import UnsupportedDatabaseError
from service.store.location import default_database_path, default_database_url

SUPPORTED_URLS = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE"


def safe_url(url: str | URL) -> str:
    """The URL without its password, for messages and logs.

    >>> safe_url("postgresql://u:secret@h:5433/db")
    'postgresql://u:***@h:5433/db'
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "(an unparseable URL)"
    return parsed.render_as_string(hide_password=True)


_SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
)


@dataclass(frozen=True, slots=True)
class DatabaseTimeouts:
    """How long the database may take, in seconds (0: no limit, where one may be lifted).

    - ``connect``: to open a connection and have it accepted (psycopg's ``connect_timeout``,
      at least 2 s as libpq rounds it; also ``tcp_user_timeout``, so a connection whose data
      is never acknowledged, a network partition, fails as well);
    - ``statement``, ``lock``: PostgreSQL's ``statement_timeout`` and ``lock_timeout``, set
      per connection;
    - ``pool``: to wait for a free connection of the pool;
    - ``busy``: SQLite's busy timeout, how long a writer waits for another's write lock.
    """

    connect: float = 2.0
    statement: float = 30.0
    lock: float = 10.0
    pool: float = 2.0
    busy: float = 30.0

    def postgres_connect_args(self, url: URL) -> dict[str, Any]:
        """psycopg connection parameters; a value given in the URL's query wins."""
        options = [
            f"-c statement_timeout={_millis(self.statement)}",
            f"-c lock_timeout={_millis(self.lock)}",
        ]
        given = dict(url.query)
        args: dict[str, Any] = {
            "connect_timeout": max(2, math.ceil(self.connect)),
            "tcp_user_timeout": _millis(max(self.connect, 2.0) * 5),
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        }
        args = {key: value for key, value in args.items() if key not in given}
        args["options"] = " ".join(filter(None, [str(given.get("options", "")), *options]))
        return args


def _millis(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def normalise_url(url: str | URL) -> URL:
    """``postgresql://`` and ``postgres://`` mean psycopg 3; anything but SQLite and
    PostgreSQL through psycopg is refused by name.

    >>> normalise_url("postgres://u@h/db").render_as_string()
    'postgresql+psycopg://u@h/db'
    >>> try:
    ...     normalise_url("mysql://u:pw@h/db")
    ... except UnsupportedDatabaseError as error:
    ...     print(str(error).split(";")[0])
    unsupported database URL mysql://u:***@h/db: netreach stores its data in SQLite or \
PostgreSQL, not mysql
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError as error:
        raise UnsupportedDatabaseError(
            f"the database URL is not a URL ({error}); use {SUPPORTED_URLS}"
        ) from error
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        backend = parsed.drivername.split("+")[0]
        what = (
            f"not the driver {parsed.drivername}"
            if backend in ("sqlite", "postgresql")
            else f"not {backend}"
        )
        raise UnsupportedDatabaseError(
            f"unsupported database URL {safe_url(parsed)}: netreach stores its data in "
            f"SQLite or PostgreSQL, {what}; use {SUPPORTED_URLS}"
        )
    return parsed


def make_engine(
    url: str | URL | None = None,
    *,
    timeouts: DatabaseTimeouts | None = None,
    **options: Any,
) -> Engine:
    """An engine for ``url`` bounded by ``timeouts``; ``options`` go to
    :func:`sqlalchemy.create_engine`."""
    parsed = normalise_url(url or default_database_url())
    if url is None or parsed == normalise_url(default_database_url()):
        default_database_path().parent.mkdir(parents=True, exist_ok=True)
    timeouts = timeouts or DatabaseTimeouts()
    options.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "postgresql":
        options.setdefault("pool_timeout", timeouts.pool)
        connect_args = timeouts.postgres_connect_args(parsed)
        options["connect_args"] = {**connect_args, **options.get("connect_args", {})}
    elif parsed.get_backend_name() == "sqlite":
        if parsed.database not in (None, "", ":memory:"):  # a file: a QueuePool
            options.setdefault("pool_timeout", timeouts.pool)
        # The driver's own wait for a lock, and the busy handler of every statement.
        options["connect_args"] = {"timeout": timeouts.busy, **options.get("connect_args", {})}
    engine = create_engine(parsed, **options)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, timeouts.busy)
    return engine


def make_session_factory(engine: Engine, *, write: bool = False) -> sessionmaker[Session]:
    """Sessions on ``engine``; records are plain values, so nothing expires on commit.

    ``write=True`` is for units of work that read before they write (uploads): on SQLite
    their transactions begin IMMEDIATE, taking the write lock up front, so SQLite cannot
    refuse it to them later. It changes nothing on PostgreSQL.
    """
    bind = engine.execution_options(sqlite_begin="IMMEDIATE") if write else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy emit BEGIN (below) instead of the driver's legacy handling.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
            cursor.execute(f"PRAGMA busy_timeout={_millis(busy_timeout)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE, not {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")
