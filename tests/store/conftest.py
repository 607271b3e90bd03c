"""Store fixtures: every test runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL: a fresh database ``netreach_test_<hex>`` is created through the admin URL in
``NETREACH_TEST_POSTGRES_URL`` and dropped at the end. An unreachable server fails the run
unless ``NETREACH_SKIP_POSTGRES=1``.

``session`` runs each test inside one outer transaction rolled back at the end (the
``join_transaction_mode="create_savepoint"`` recipe): repositories may flush and even commit.
Tests that need real commits take ``committing_session_factory`` (concurrency) or
``fresh_database_url`` (migrations).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.store import make_engine, make_session_factory
from service.store.migrate import upgrade

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


class Databases:
    """Creates empty databases of one backend and drops them at the end of the run."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self._admin: Engine | None = None
        self._created: list[str] = []

    def create(self, backend: str) -> str:
        if backend == "sqlite":
            path = self.tmp_dir / f"netreach_test_{secrets.token_hex(4)}.db"
            return f"sqlite:///{path}"
        admin = self._admin_engine()
        name = f"netreach_test_{secrets.token_hex(6)}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return make_url(admin.url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self._admin is None:
            return
        with self._admin.connect() as connection:
            for name in self._created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()

    def _admin_engine(self) -> Engine:
        if self._admin is None:
            if os.environ.get("NETREACH_SKIP_POSTGRES") == "1":
                pytest.skip("NETREACH_SKIP_POSTGRES=1")
            url = os.environ.get("NETREACH_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)
            engine = create_engine(make_url(url), isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            except OperationalError as error:
                engine.dispose()
                pytest.fail(
                    f"PostgreSQL is unreachable at {make_url(url)!r} ({error.orig}); "
                    "start it, point NETREACH_TEST_POSTGRES_URL at one, "
                    "or set NETREACH_SKIP_POSTGRES=1",
                    pytrace=False,
                )
            self._admin = engine
        return self._admin


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    factory = Databases(tmp_path_factory.mktemp("databases"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, databases: Databases) -> str:
    """A database migrated to head, shared by the session's tests (each rolled back)."""
    url = databases.create(backend)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back at the end of the test, commits included."""
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


@pytest.fixture
def fresh_database_url(backend: str, databases: Databases) -> str:
    """An empty database of its own, not migrated, for tests that commit."""
    return databases.create(backend)


@pytest.fixture(scope="session")
def committing_session_factory(
    backend: str, databases: Databases
) -> Iterator[sessionmaker[Session]]:
    """Sessions that really commit, on a migrated database of their own (one per run).

    Tests using it keep apart by cluster name. The pool holds 25 connections (20 threads).
    """
    url = databases.create(backend)
    upgrade(url)
    engine = make_engine(url, pool_size=25, max_overflow=0)
    yield make_session_factory(engine)
    engine.dispose()
