"""The server's log holds no secret and no body, whatever goes wrong.

``netreach serve`` runs as a process of its own against PostgreSQL through a URL with a
password, with its log captured; a token and a body secret are planted, and every error
path is provoked: a 500 from a database fault, the 4xx answers, a client that disconnects
mid-upload. Then the log is searched for the secrets, and its lines are checked: JSON, of
bounded length, tracebacks without local variables, disconnects one info line each.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.store.migrate import upgrade
from tests.api.conftest import create_token
from tests.conftest import ThrowawayDatabases

pytestmark = pytest.mark.postgres

PASSWORD = "planted-db-password-4f1c"  # the server trusts local connections: any password
BODY_SECRET = "planted-body-secret-9e2a"
WRONG_TOKEN = "planted-wrong-token-77b0"
DISCONNECTS = 12
MAX_LINE_CHARS = 20_000


@dataclass
class Served:
    base_url: str
    token: str
    database_url: str
    log: Path
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(throwaway_databases: ThrowawayDatabases, tmp_path: Path) -> Iterator[Served]:
    url = make_url(throwaway_databases.create("postgresql")).set(password=PASSWORD)
    database_url = url.render_as_string(hide_password=False)
    upgrade(database_url)
    token = create_token(database_url, "admin", "admin")
    port = _free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "NETREACH_DATABASE_URL": database_url, "NETREACH_LOG_LEVEL": "info",
           "NETREACH_MAX_BODY_BYTES": str(1024 * 1024)}  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
            env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "netreach serve did not start"
            time.sleep(0.2)
        yield Served(base_url, token, database_url, log, process)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _fault_on_insert(database_url: str) -> None:
    """Every object insert fails inside the database (an error no handler expects)."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "CREATE FUNCTION planted_fault() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'planted fault'; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER planted_fault BEFORE INSERT ON objects "
                    "FOR EACH ROW EXECUTE FUNCTION planted_fault()"
                )
            )
    finally:
        engine.dispose()


def _cut_off(database_url: str) -> None:
    """The database refuses every connection, and the server's are closed."""
    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false'))
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": url.database},
            )
    finally:
        admin.dispose()


def _disconnect_mid_upload(base_url: str, token: str) -> None:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /v1/clusters/gone/snapshots HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/yaml\r\nContent-Length: 100000\r\n"
            + f"Authorization: Bearer {token}\r\n\r\n".encode()
            + b"apiVersion: v1\nkind: ConfigMap\n" * 100
        )
        time.sleep(0.05)


CONFIG_MAP = f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: planted, namespace: default}}
data: {{secret: {BODY_SECRET}}}
"""


def test_no_secret_reaches_the_log(served: Served) -> None:
    upload = "/v1/clusters/c/snapshots"
    yaml = {"Content-Type": "application/yaml"}
    with httpx.Client(base_url=served.base_url, timeout=30,
                      headers={"Authorization": f"Bearer {served.token}"}) as client:  # fmt: skip
        nested = CONFIG_MAP + "  deep: " + "[" * 990 + "]" * 990 + "\n"
        assert client.post(upload, content=nested, headers=yaml).status_code == 422
        duplicate = CONFIG_MAP + "data: {}\n"
        assert client.post(upload, content=duplicate, headers=yaml).status_code == 422
        huge = CONFIG_MAP + "# " + "x" * (2 * 1024 * 1024) + "\n"
        assert client.post(upload, content=huge, headers=yaml).status_code == 413
        assert client.get("/v1/clusters/missing/snapshots/1").status_code == 404
        assert client.get("/v1/diff", params={"base": "a\x00b@1", "head": "c@1"}).status_code == 422
        wrong = {"Authorization": f"Bearer {WRONG_TOKEN}"}
        assert client.get("/v1/clusters", headers=wrong).status_code == 401
        _fault_on_insert(served.database_url)
        failed = client.post(upload, content=CONFIG_MAP, headers=yaml)
        assert failed.status_code == 500, failed.text
        assert failed.json()["error"]["code"] == "internal_error"
        for _ in range(DISCONNECTS):
            _disconnect_mid_upload(served.base_url, served.token)
        _cut_off(served.database_url)
        unavailable = client.get("/v1/clusters")
        assert unavailable.status_code == 503, unavailable.text
        assert client.get("/healthz").status_code == 200
    time.sleep(0.5)
    served.process.terminate()
    served.process.wait(timeout=30)

    log = served.log.read_text()
    for secret in (served.token, PASSWORD, BODY_SECRET, WRONG_TOKEN):
        assert secret not in log
    written = [line for line in log.splitlines() if line.strip()]
    first_json = next(index for index, line in enumerate(written) if line.startswith("{"))
    # Before the server starts, the command itself may say which database it uses (for a
    # person); from then on every line is a JSON object.
    lines = [json.loads(line) for line in written[first_json:]]
    assert max(len(line) for line in log.splitlines()) < MAX_LINE_CHARS
    errors = [line for line in lines if line.get("level") == "error"]
    unhandled = [line for line in errors if line["event"] == "unhandled_exception"]
    assert len(unhandled) == 1, errors
    assert {line["event"] for line in errors} == {"unhandled_exception", "database_unavailable"}
    chain = unhandled[0]["exception"]  # the database's error (and SQLAlchemy's around it)
    assert chain[-1]["exc_type"] == "RaiseException"
    assert all("planted fault" in exception["exc_value"] for exception in chain)
    for exception in chain:  # SQLAlchemy's message would list the rows' values
        assert "[parameters:" not in exception["exc_value"].replace("[parameters: [redacted]]", "")
    assert all(exception["frames"] for exception in chain)
    assert all("locals" not in frame for exception in chain for frame in exception["frames"])
    disconnected = [line for line in lines if line.get("status") == 499]
    assert len(disconnected) == DISCONNECTS
    assert all(line["level"] == "info" and line["event"] == "request" for line in disconnected)
    assert "started" in [line.get("event") for line in lines]
