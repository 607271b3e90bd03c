"""Memory is given back after large requests: a real `netreach serve` process, its idle
resident set before and after a large upload."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.api.memory import release_memory

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux /proc")


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_release_memory_returns_freed_heap_to_the_system() -> None:
    before = rss_mb()
    garbage = [{"name": f"object-{n}", "data": [n, str(n)]} for n in range(400_000)]
    grown = rss_mb()
    del garbage
    if not release_memory():
        pytest.skip("no malloc_trim (not glibc)")
    assert grown - before > 50, "the allocation did not grow the heap"
    assert rss_mb() - before < (grown - before) / 2


def _config_maps(count: int) -> bytes:
    items = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"cm-{n}", "namespace": f"ns-{n % 20}"},
         "data": {"key": f"value-{n}", "other": "x" * 40}}
        for n in range(count)
    ]  # fmt: skip
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items}).encode()


def test_an_idle_server_gives_back_the_memory_of_a_large_upload(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "NETREACH_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}",
        "NETREACH_MAX_BODY_BYTES": str(256 * 1024 * 1024),
        "NETREACH_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "serve did not start within 60 s"
            time.sleep(0.1)
        httpx.get(f"{base}/v1/clusters").raise_for_status()
        fresh = rss_mb(server.pid)
        body = _config_maps(60_000)
        response = httpx.post(
            f"{base}/v1/clusters/big/snapshots",
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=300,
        )
        assert response.status_code == 201, response.text
        time.sleep(1)
        idle = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    # Without release the idle process kept about 3x its fresh size after this upload.
    assert idle < 1.5 * fresh, f"idle {idle:.0f} MB after the upload, {fresh:.0f} MB fresh"
