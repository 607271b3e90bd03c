"""``netreach serve`` as a process of its own, for tests about what happens to a real
server process (killed, its memory measured)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_process(
    environment: dict[str, str], *, ready: str = "/healthz"
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``(base_url, process)`` of a started ``netreach serve`` whose ``ready`` path answered
    200, with ``environment`` added to this process's; killed at the end if still running."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        env={**os.environ, **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, "netreach serve exited at start"
            try:
                if httpx.get(f"{base_url}{ready}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "netreach serve did not start"
            time.sleep(0.1)
        yield base_url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
