"""Database problems in the commands that open the database: one line (what, which URL
without its password, what to do), exit 1, no traceback; and where the default database is."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import DEFAULT_POSTGRES_ADMIN_URL

COMMANDS = {
    "db upgrade": ["db", "upgrade"],
    "db current": ["db", "current"],
    "db gc": ["db", "gc"],
    "token list": ["token", "list"],
    "token create": ["token", "create", "ci", "--scope", "read"],
    "token revoke": ["token", "revoke", "ci"],
    "serve": ["serve", "--port", "0"],
}


def netreach(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def with_url(url: str) -> dict[str, str]:
    return {**os.environ, "NETREACH_DATABASE_URL": url}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("netreach:")]
    assert len(errors) == 1, done.stderr
    first = lines[0]  # names the database: plain, or as the server's first JSON log line
    if first.startswith("{"):
        assert json.loads(first)["event"] == "database", first
    else:
        assert first.startswith("database: "), first
    return errors[0]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_wrong_port_is_one_line_and_exit_1(command: str) -> None:
    port = closed_port()
    url = f"postgresql+psycopg://netreach:s3cret@127.0.0.1:{port}/netreach"
    line = one_error_line(netreach(*COMMANDS[command], env=with_url(url)))
    assert f"postgresql+psycopg://netreach:***@127.0.0.1:{port}/netreach" in line
    assert "s3cret" not in line
    assert "Connection refused" in line
    assert "is the server running" in line


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["db upgrade", "db current", "token list"])
def test_an_absent_database_is_one_line_and_exit_1(command: str) -> None:
    if os.environ.get("NETREACH_SKIP_POSTGRES") == "1":
        pytest.skip("NETREACH_SKIP_POSTGRES=1")
    admin = make_url(os.environ.get("NETREACH_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL))
    name = f"netreach_absent_{secrets.token_hex(4)}"
    url = admin.set(database=name).render_as_string(hide_password=False)
    line = one_error_line(netreach(*COMMANDS[command], env=with_url(url)))
    assert f'database "{name}" does not exist' in line
    assert f"createdb {name}" in line


def test_an_absent_directory_is_one_line_and_exit_1(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent' / 'netreach.db'}"
    line = one_error_line(netreach("db", "upgrade", env=with_url(url)))
    assert "unable to open database file" in line
    assert not (tmp_path / "absent").exists()


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("mysql://u:pw@db.example/netreach", "not mysql"),
        ("postgresql+psycopg2://u@h/db", "not the driver postgresql+psycopg2"),
        ("not a url", "not a URL"),
    ],
)
def test_an_unsupported_url_is_named(url: str, named: str) -> None:
    line = one_error_line(netreach("token", "list", env=with_url(url)))
    assert named in line
    assert "sqlite:///PATH or postgresql+psycopg://" in line
    assert "pw@" not in line


def test_the_default_database_is_in_the_user_data_directory(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "NETREACH_DATABASE_URL"}
    env["XDG_DATA_HOME"] = str(data)
    done = netreach("token", "list", env=env, cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    expected = data / "netreach" / "netreach.db"
    assert done.stderr.splitlines()[0] == f"database: sqlite:///{expected}"
    assert expected.is_file()
    assert list(elsewhere.iterdir()) == []  # nothing in the current directory
    assert "netreach" in netreach("token", "list", "--help", env=env).stdout
    for command in ("serve", "demo", "db upgrade", "db current", "db gc", "token create"):
        shown = netreach(*command.split(), "--help", env=env).stdout
        assert str(expected) in "".join(shown.split()), (command, shown)  # wrapped lines


def test_db_current_never_creates_the_database(tmp_path: Path) -> None:
    path = tmp_path / "netreach.db"
    done = netreach("db", "current", env=with_url(f"sqlite:///{path}"))
    line = one_error_line(done)
    assert f"no database file {path}" in line
    assert "netreach db upgrade" in line
    assert not path.exists()
