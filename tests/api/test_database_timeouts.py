"""A database that hangs or lost its schema: 503s within seconds, never a hang or a 500."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy.engine import make_url

from service.store import make_engine
from service.store.migrate import downgrade, head_revision, upgrade
from tests.api.conftest import assert_error, running_server, test_settings
from tests.api.hanging import freezable_proxy, hanging_server
from tests.conftest import ThrowawayDatabases

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# The default connect timeout is 2 s; an answer within 4 s leaves room for a slow machine.
PROMPT = 4.0


def test_a_hanging_database_is_503_within_seconds() -> None:
    with hanging_server() as port:
        url = f"postgresql+psycopg://netreach@127.0.0.1:{port}/netreach"
        with running_server(test_settings(url, migrate_on_start=False)) as base_url:
            for path, code in [
                ("/readyz", "not_ready"),
                ("/v1/clusters", "database_unavailable"),
                ("/v1/clusters/shop/snapshots/latest", "database_unavailable"),
            ]:
                started = time.monotonic()
                response = httpx.get(f"{base_url}{path}", timeout=30)
                elapsed = time.monotonic() - started
                assert_error(response, 503, code)
                assert elapsed < PROMPT, f"{path} took {elapsed:.1f} s"
            assert httpx.get(f"{base_url}/healthz").status_code == 200


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_database_recreated_empty_is_503_on_v1(
    backend: str, throwaway_databases: ThrowawayDatabases
) -> None:
    url = throwaway_databases.create(backend)
    with running_server(test_settings(url)) as base_url:
        assert httpx.get(f"{base_url}/v1/clusters").status_code == 200
        downgrade(url, "base")  # every table gone, as in a database recreated empty
        for method, path in [
            ("GET", "/v1/clusters"),
            ("GET", "/v1/clusters/shop/snapshots/latest"),
            ("POST", "/v1/clusters/shop/snapshots"),
        ]:
            response = httpx.request(
                method,
                f"{base_url}{path}",
                content=b"kind: Namespace\napiVersion: v1\nmetadata: {name: a}\n",
                headers={"Content-Type": "application/yaml"},
            )
            error = assert_error(response, 503, "schema_not_at_head")
            assert "netreach db upgrade" in error["message"]
            assert error["details"][0]["current"] is None
        assert_error(httpx.get(f"{base_url}/readyz"), 503, "not_ready")
        upgrade(url)
        assert httpx.get(f"{base_url}/v1/clusters").status_code == 200


def test_serve_against_a_hanging_database_exits_with_one_line() -> None:
    with hanging_server() as port:
        url = f"postgresql+psycopg://netreach:s3cret@127.0.0.1:{port}/netreach"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "service.cli", "serve", "--port", "0"],
            env={**os.environ, "NETREACH_DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert elapsed < 20, f"serve took {elapsed:.1f} s to give up"
    assert "Traceback" not in done.stderr
    assert "s3cret" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("netreach:")]
    assert len(errors) == 1, done.stderr
    assert f"127.0.0.1:{port}" in errors[0]
    assert "did not answer in time" in errors[0]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_schema_behind_is_503_on_v1(
    backend: str, throwaway_databases: ThrowawayDatabases
) -> None:
    url = throwaway_databases.create(backend)
    upgrade(url, "4a8ac8a22d2f")  # the first revision: every table is there, but behind
    with running_server(test_settings(url, migrate_on_start=False)) as base_url:
        error = assert_error(httpx.get(f"{base_url}/v1/clusters"), 503, "schema_not_at_head")
        assert error["details"][0]["current"] == "4a8ac8a22d2f"
        assert error["details"][0]["head"] == head_revision()
        upgrade(url)
        assert httpx.get(f"{base_url}/v1/clusters").status_code == 200


@pytest.mark.postgres
def test_readyz_answers_when_the_database_stops_answering_on_a_pooled_connection(
    throwaway_databases: ThrowawayDatabases,
) -> None:
    url = make_url(throwaway_databases.create("postgresql"))
    upgrade(url.render_as_string(hide_password=False))
    with freezable_proxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        with running_server(test_settings(proxied, migrate_on_start=False)) as base_url:
            assert httpx.get(f"{base_url}/readyz").status_code == 200  # a pooled connection
            proxy.frozen.set()
            for _ in range(4):  # more than the checks' own threads
                started = time.monotonic()
                response = httpx.get(f"{base_url}/readyz", timeout=30)
                assert time.monotonic() - started < PROMPT
                assert_error(response, 503, "not_ready")
            assert httpx.get(f"{base_url}/healthz").status_code == 200


@pytest.mark.parametrize("backend", BACKENDS)
def test_lock_waits_are_bounded_by_the_settings(
    backend: str, throwaway_databases: ThrowawayDatabases
) -> None:
    """A table locked by someone else (PostgreSQL: lock_timeout) or SQLite's write lock
    held by another process (busy timeout): 503 after the configured wait, not for ever."""
    url = throwaway_databases.create(backend)
    upgrade(url)
    settings = test_settings(url, database_lock_timeout=1, database_busy_timeout=1)
    engine = make_engine(url)
    try:
        with running_server(settings) as base_url, engine.connect() as holder:
            if backend == "postgresql":
                holder.exec_driver_sql("LOCK TABLE clusters IN ACCESS EXCLUSIVE MODE")
                request = ("GET", "/v1/clusters")
            else:
                holder.exec_driver_sql("DELETE FROM clusters")  # SQLite's write lock, held
                request = ("DELETE", "/v1/clusters/shop")
            started = time.monotonic()
            response = httpx.request(request[0], f"{base_url}{request[1]}", timeout=30)
            elapsed = time.monotonic() - started
            holder.rollback()
        assert_error(response, 503, "database_unavailable")
        assert elapsed < PROMPT, f"{elapsed:.1f} s"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_an_exhausted_pool_is_503_after_the_pool_timeout(
    throwaway_databases: ThrowawayDatabases,
) -> None:
    """Every connection of the pool (5 + 10 overflow) held by a request waiting on a lock:
    the next requests wait ``database_pool_timeout`` for one, then get a 503, not a 500."""
    url = throwaway_databases.create("postgresql")
    upgrade(url)
    settings = test_settings(url, database_lock_timeout=6, database_pool_timeout=1)
    engine = make_engine(url)
    try:
        with running_server(settings) as base_url, engine.connect() as holder:
            holder.exec_driver_sql("LOCK TABLE clusters IN ACCESS EXCLUSIVE MODE")

            def timed_get(_: int) -> tuple[httpx.Response, float]:
                started = time.monotonic()
                response = httpx.get(f"{base_url}/v1/clusters", timeout=30)
                return response, time.monotonic() - started

            with ThreadPoolExecutor(max_workers=24) as pool:
                answered = list(pool.map(timed_get, range(24)))
            holder.rollback()
    finally:
        engine.dispose()
    assert {response.status_code for response, _ in answered} == {503}
    pool_timeouts = [
        (response, elapsed)
        for response, elapsed in answered
        if "QueuePool limit" in response.json()["error"]["details"][0]["reason"]
    ]
    assert pool_timeouts, "no request waited for the pool"
    assert all(elapsed < PROMPT for _, elapsed in pool_timeouts)
