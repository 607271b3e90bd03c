"""``netreach capture --server``: one capture pushed to a real netreach server; gzip on
by default; and ``--help`` that loads neither the Kubernetes client nor httpx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from service.cli import app as cli
from tests.api.conftest import create_token, running_server, test_settings
from tests.api.recording import Arrival, recording
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


def test_gzip_by_default(
    apiserver: FakeApiServer,
    kubeconfig: Path,
    throwaway_databases: ThrowawayDatabases,
    tmp_path: Path,
) -> None:
    """The List goes gzip-compressed unless --no-gzip; the server stores the same snapshot."""
    arrivals: list[Arrival] = []
    url = throwaway_databases.create("sqlite")
    settings = test_settings(url, max_body_bytes=64 * 1024 * 1024)
    with running_server(settings, wrap=recording(arrivals)) as base_url:
        out = tmp_path / "plain.json"
        args = ["capture", "--kubeconfig", str(kubeconfig), "--server", base_url,
                "--cluster", "c"]  # fmt: skip
        zipped = run(*args)
        assert zipped.exit_code == 0, zipped.output
        assert zipped.stdout.strip() == "c version 1 (created)"
        plain = run(*args, "--no-gzip", "--out", str(out))
        assert plain.exit_code == 0, plain.output
        assert plain.stdout.strip() == "c version 1 (unchanged: identical content)"
    compressed, uncompressed = [a for a in arrivals if a.method == "POST"][-2:]
    assert compressed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in uncompressed.headers
    assert uncompressed.wire_bytes == len(out.read_bytes())
    assert compressed.wire_bytes < uncompressed.wire_bytes / 5


def test_help_loads_neither_the_kubernetes_client_nor_httpx() -> None:
    heavy = {"kubernetes", "urllib3", "httpx", "service.capture", "numpy"}
    for args in (["capture", "--help"], ["--help"]):
        loaded = _loaded_modules(*args)
        assert "service.cli.capture" in loaded
        assert not loaded & heavy, sorted(loaded & heavy)
