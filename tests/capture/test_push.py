"""``netreach capture --server``: one capture pushed to a real netreach server; gzip on
request; and ``--help`` that loads neither the Kubernetes client nor httpx."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from service.cli import app as cli
from tests.api.conftest import create_token, running_server, test_settings
from tests.capture.fake_apiserver import FakeApiServer
from tests.cli.test_startup import _loaded_modules
from tests.conftest import ThrowawayDatabases


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture(scope="module")
def netreach(throwaway_databases: ThrowawayDatabases) -> Iterator[tuple[str, str]]:
    url = throwaway_databases.create("sqlite")
    with running_server(test_settings(url, max_body_bytes=64 * 1024 * 1024)) as base_url:
        yield base_url, create_token(url, "capture", "write")


def test_capture_and_push(
    apiserver: FakeApiServer, kubeconfig: Path, netreach: tuple[str, str], tmp_path: Path
) -> None:
    base_url, token = netreach
    out = tmp_path / "copy.json"
    args = ["capture", "--kubeconfig", str(kubeconfig), "--server", base_url,
            "--cluster", "pushed", "--source", "test", "--label", "env=ci"]  # fmt: skip
    first = run(*args, "--out", str(out), env={"NETREACH_TOKEN": token})
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "pushed version 1 (created)"
    assert json.loads(out.read_text())["kind"] == "List"  # --out and --server together
    again = run(*args, env={"NETREACH_TOKEN": token})
    assert again.stdout.strip() == "pushed version 1 (unchanged: identical content)"
    refused = run(*args, env={"NETREACH_TOKEN": "nr_not-a-token"})
    assert refused.exit_code == 1
    assert "server refused the snapshot (401)" in refused.stderr


class Recorder(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        answer = json.dumps({"cluster": "c", "version": 7}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def test_gzip_is_an_option(apiserver: FakeApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        out = tmp_path / "plain.json"
        args = ["capture", "--kubeconfig", str(kubeconfig), "--server", url, "--cluster", "c"]
        assert run(*args, "--out", str(out)).exit_code == 0
        zipped = run(*args, "--gzip")
        assert zipped.exit_code == 0, zipped.output
    finally:
        httpd.shutdown()
        httpd.server_close()
    (plain_headers, plain), (gzip_headers, compressed) = Recorder.received[-2:]
    assert "Content-Encoding" not in plain_headers
    assert plain == out.read_bytes()
    assert gzip_headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(compressed) == plain
    assert len(compressed) < len(plain) / 5


def test_help_loads_neither_the_kubernetes_client_nor_httpx() -> None:
    heavy = {"kubernetes", "urllib3", "httpx", "service.capture", "numpy"}
    for args in (["capture", "--help"], ["--help"]):
        loaded = _loaded_modules(*args)
        assert "service.cli.capture" in loaded
        assert not loaded & heavy, sorted(loaded & heavy)
