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

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.store import make_engine, make_session_factory
from service.store.migrate import upgrade
from tests.conftest import ThrowawayDatabases

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def databases(throwaway_databases: ThrowawayDatabases) -> ThrowawayDatabases:
    """Empty databases of one backend, dropped at the end of the run."""
    return throwaway_databases


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, databases: ThrowawayDatabases) -> str:
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
def fresh_database_url(backend: str, databases: ThrowawayDatabases) -> str:
    """An empty database of its own, not migrated, for tests that commit."""
    return databases.create(backend)


@pytest.fixture(scope="session")
def committing_session_factory(
    backend: str, databases: ThrowawayDatabases
) -> Iterator[sessionmaker[Session]]:
    """Sessions that really commit, on a migrated database of their own (one per run).

    Tests using it keep apart by cluster name. The pool holds 25 connections (20 threads).
    """
    url = databases.create(backend)
    upgrade(url)
    engine = make_engine(url, pool_size=25, max_overflow=0)
    yield make_session_factory(engine)
    engine.dispose()
