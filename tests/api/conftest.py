"""API tests over a real server: uvicorn in a background thread, on a free loopback port,
started once per session and per database (SQLite file, fresh PostgreSQL database). Tests
talk to it over TCP with httpx.

The main server has tokens (so every ``/v1`` request needs one): ``admin``, ``write``,
``read``, ``other`` (admin, but only for clusters ``other-*``) and ``revoked``. Tests keep out
of each other's way by using clusters of their own (the ``cluster`` fixture).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from service.main import create_app, server_options
from service.settings import Settings
from service.store import TokenRepository, make_engine, make_session_factory
from tests.api.manifests import SHOP_YAML
from tests.conftest import ThrowawayDatabases

MAX_BODY_BYTES = 256 * 1024
MAX_PAGE_SIZE = 50
YAML = {"Content-Type": "application/yaml"}


@contextmanager
def running_server(
    settings: Settings, wrap: Callable[[ASGIApp], ASGIApp] | None = None
) -> Iterator[str]:
    """Serve ``create_app(settings)`` (inside ``wrap``, if given: an ASGI middleware that
    sees the requests as they arrive) on a free loopback port; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(settings)
    config = uvicorn.Config(
        app if wrap is None else wrap(app),
        lifespan="on",
        log_level="warning",
        access_log=False,
        **server_options(settings),
    )
    server = uvicorn.Server(config)

    def serve() -> None:
        with contextlib.suppress(SystemExit):  # uvicorn's failed start-up: raised below
            server.run(sockets=[sock])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the test server did not start (see its log above)")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def create_token(database_url: str, name: str, scope: str, clusters: tuple[str, ...] = ()) -> str:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            return TokenRepository(session).create(name, [scope], clusters)[1]
    finally:
        engine.dispose()


def revoke_token(database_url: str, name: str) -> None:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            TokenRepository(session).revoke(name)
    finally:
        engine.dispose()


def test_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "host": "127.0.0.1",
        "max_body_bytes": MAX_BODY_BYTES,
        "page_size": 20,
        "max_page_size": MAX_PAGE_SIZE,
        "log_level": "info",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test


@dataclass
class Api:
    backend: str
    base_url: str
    database_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, token: str | None = "admin") -> httpx.Client:
        """A client authenticated with one of the named tokens (``None``: no token)."""
        headers = {} if token is None else {"Authorization": f"Bearer {self.tokens[token]}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60)


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def api(request: pytest.FixtureRequest, throwaway_databases: ThrowawayDatabases) -> Iterator[Api]:
    backend = str(request.param)
    database_url = throwaway_databases.create(backend)
    with running_server(test_settings(database_url)) as base_url:
        api = Api(backend, base_url, database_url)
        for name, scope, clusters in [
            ("admin", "admin", ()),
            ("write", "write", ()),
            ("read", "read", ()),
            ("other", "admin", ("other-*",)),
            ("revoked", "admin", ()),
        ]:
            api.tokens[name] = create_token(database_url, name, scope, clusters)
        revoke_token(database_url, "revoked")
        yield api


@pytest.fixture
def client(api: Api) -> Iterator[httpx.Client]:
    with api.client("admin") as client:
        yield client


@pytest.fixture
def cluster() -> str:
    """A cluster name of the test's own."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def shop(client: httpx.Client, cluster: str) -> str:
    """``cluster`` with SHOP_YAML as version 1."""
    response = client.post(f"/v1/clusters/{cluster}/snapshots", content=SHOP_YAML, headers=YAML)
    assert response.status_code == 201, response.text
    return cluster


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is ``status`` with the error envelope; returns the ``error`` object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], list)
    if code is not None:
        assert error["code"] == code, error
    return dict(error)
