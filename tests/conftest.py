"""Shared fixtures: throwaway databases, a SQLite file or a fresh PostgreSQL database.

PostgreSQL databases ``netreach_test_<hex>`` are created through the admin URL in
``NETREACH_TEST_POSTGRES_URL`` and dropped at the end of the run. An unreachable server fails
the run unless ``NETREACH_SKIP_POSTGRES=1`` (then the PostgreSQL cases are skipped).
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

DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


class ThrowawayDatabases:
    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self._admin: Engine | None = None
        self._created: list[str] = []

    def create(self, backend: str) -> str:
        """The URL of a new, empty database of ``backend`` (``sqlite`` or ``postgresql``)."""
        if backend == "sqlite":
            return f"sqlite:///{self.tmp_dir / f'netreach_test_{secrets.token_hex(4)}.db'}"
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
            url = make_url(os.environ.get("NETREACH_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL))
            engine = create_engine(url, isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            except OperationalError as error:
                engine.dispose()
                pytest.fail(
                    f"PostgreSQL is unreachable at {url!r} ({error.orig}); start it, point "
                    "NETREACH_TEST_POSTGRES_URL at one, or set NETREACH_SKIP_POSTGRES=1",
                    pytrace=False,
                )
            self._admin = engine
        return self._admin


@pytest.fixture(scope="session")
def throwaway_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayDatabases]:
    databases = ThrowawayDatabases(tmp_path_factory.mktemp("databases"))
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session", autouse=True)
def private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Servers started by the tests keep resolved snapshots in a throwaway cache directory,
    never in the user's."""
    directory = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("NETREACH_CACHE_DIR")
    os.environ["NETREACH_CACHE_DIR"] = str(directory)
    yield directory
    if previous is None:
        del os.environ["NETREACH_CACHE_DIR"]
    else:
        os.environ["NETREACH_CACHE_DIR"] = previous
