"""Slow clients cannot hold the server: connections that send their headers (or body) too
slowly, or nothing at all, are closed after ``timeout_request_head``; idle keep-alive
connections after ``timeout_keep_alive``; meanwhile the server keeps answering."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import running_server, test_settings
from tests.conftest import ThrowawayDatabases

SLOW_SOCKETS = 500
HEAD_TIMEOUT = 1.0


@pytest.fixture
def server(throwaway_databases: ThrowawayDatabases) -> Iterator[str]:
    url = throwaway_databases.create("sqlite")
    settings = test_settings(url, timeout_request_head=HEAD_TIMEOUT, timeout_keep_alive=1.0)
    with running_server(settings) as base_url:
        yield base_url


def _connect(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.setblocking(False)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1024) == b""
    except BlockingIOError:
        return False  # still open, nothing to read
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_slowloris_sockets_are_closed_and_do_not_block_healthz(server: str) -> None:
    sockets = [_connect(server) for _ in range(SLOW_SOCKETS)]
    try:
        for sock in sockets:
            sock.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        deadline = time.monotonic() + HEAD_TIMEOUT + 3
        answered = 0
        while time.monotonic() < deadline and not all(_closed_by_server(s) for s in sockets):
            for sock in sockets:  # one more header byte now and then: slowloris
                with contextlib.suppress(OSError):
                    sock.send(b"a")
            started = time.monotonic()
            assert httpx.get(f"{server}/healthz", timeout=5).status_code == 200
            assert time.monotonic() - started < 1.0
            answered += 1
            time.sleep(0.2)
        assert answered >= 3
        still_open = [s for s in sockets if not _closed_by_server(s)]
        assert not still_open, f"{len(still_open)} slow connections still open"
    finally:
        for sock in sockets:
            sock.close()


def test_a_connection_that_sends_nothing_is_closed(server: str) -> None:
    sock = _connect(server)
    try:
        time.sleep(HEAD_TIMEOUT + 0.8)
        assert _closed_by_server(sock)
    finally:
        sock.close()


def test_a_half_sent_body_is_closed(server: str) -> None:
    sock = _connect(server)
    try:
        sock.send(
            b"POST /v1/clusters/x/snapshots HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/yaml\r\nContent-Length: 1000\r\n\r\nkind: Na"
        )
        time.sleep(HEAD_TIMEOUT + 1.5)
        sock.setblocking(True)
        sock.settimeout(2)
        received = b""
        try:
            while chunk := sock.recv(4096):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        assert b"201" not in received.split(b"\r\n")[0]  # nothing stored from half a body
    finally:
        sock.close()
    assert httpx.get(f"{server}/v1/clusters/x/snapshots").status_code == 404


def test_a_prompt_client_is_served_on_a_kept_alive_connection(server: str) -> None:
    with httpx.Client(base_url=server) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
            time.sleep(0.3)  # idle, under timeout_keep_alive: the connection is reused


@pytest.mark.slow
def test_netreach_serve_with_worker_processes_keeps_the_deadlines(
    throwaway_databases: ThrowawayDatabases,
) -> None:
    """Worker processes get the protocol by name (a class made at run time cannot be
    handed to them) and read the deadline from their settings."""
    import os
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "NETREACH_DATABASE_URL": throwaway_databases.create("sqlite"),
           "NETREACH_TIMEOUT_REQUEST_HEAD": "1", "NETREACH_LOG_LEVEL": "warning"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, "netreach serve exited"
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "netreach serve did not start"
            time.sleep(0.2)
        sock = _connect(base_url)
        try:
            sock.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            time.sleep(HEAD_TIMEOUT + 1.0)
            assert _closed_by_server(sock)
        finally:
            sock.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET /v1/lint?q=a\x01b HTTP/1.1\r\n",  # a control byte the URL may not hold
        b"GET /healthz HTTP/9.x\r\n",  # no HTTP version at all
    ],
)
def test_a_request_the_parser_rejects_gets_the_json_error_envelope(
    server: str, request_line: bytes
) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request_line + b"Host: x\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/json" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "bad_request"
    assert error["message"]
    assert error["details"] == []
