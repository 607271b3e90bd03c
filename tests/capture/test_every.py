"""``netreach capture --every``: the loop's backoff and stop signals, then the command itself
in a subprocess against the fake API server and a real netreach server: an unchanged cluster
gives one version, a change gives a second, failures are retried, SIGTERM exits 0."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.capture.errors import CaptureError
from service.capture.periodic import StopSignals, backoff, parse_duration, run_every
from tests.api.conftest import create_token, running_server, test_settings
from tests.capture.conftest import certificate_user, write_kubeconfig
from tests.capture.fake_apiserver import FakeApiServer
from tests.conftest import ThrowawayDatabases

LOG = logging.getLogger("test.every")


def scripted(outcomes: list[Any]) -> Callable[[], str]:
    """A cycle that raises or returns the next outcome."""
    pending = iter(outcomes)

    def cycle() -> str:
        outcome = next(pending)
        if isinstance(outcome, BaseException):
            raise outcome
        return str(outcome)

    return cycle


def recording_wait(stop_after: int) -> tuple[list[float], Callable[[float], bool]]:
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return len(waits) >= stop_after

    return waits, wait


def ticking_clock(step: float) -> Callable[[], float]:
    now = [0.0]

    def clock() -> float:
        now[0] += step
        return now[0]

    return clock


# --- the loop -----------------------------------------------------------------------------


def test_failures_back_off_exponentially_then_the_interval_resumes() -> None:
    down = CaptureError("the API server is down")
    waits, wait = recording_wait(stop_after=6)
    succeeded = run_every(
        60,
        scripted([down, down, down, "ok", down, "ok"]),
        signals=StopSignals(),
        log=LOG,
        wait=wait,
        clock=ticking_clock(2.0),  # each cycle takes 2 s
        rand=lambda: 1.0,
    )
    assert succeeded == 2
    # 1, 2, 4 s after failures; after a success, the rest of the interval (start to start);
    # a new failure starts the backoff again from 1 s
    assert waits == [1.0, 2.0, 4.0, 58.0, 1.0, 58.0]


def test_backoff_is_jittered_and_never_longer_than_the_interval() -> None:
    assert [backoff(n, 5, rand=lambda: 1.0) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    assert [backoff(n, 5, rand=lambda: 0.0) for n in range(1, 6)] == [0.5, 1, 2, 2.5, 2.5]
    assert backoff(10_000, 300, rand=lambda: 1.0) == 300  # no overflow after days of failures


def test_a_long_cycle_starts_the_next_at_once() -> None:
    waits, wait = recording_wait(stop_after=2)
    run_every(
        1, scripted(["ok", "ok"]), signals=StopSignals(), log=LOG, wait=wait,
        clock=ticking_clock(5.0),
    )  # fmt: skip
    assert waits == [0.0, 0.0]


def test_expected_failures_are_one_line_and_bugs_keep_their_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, wait = recording_wait(stop_after=2)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        run_every(
            10, scripted([CaptureError("forbidden: ..."), KeyError("bug")]),
            signals=StopSignals(), log=LOG, wait=wait, rand=lambda: 1.0,
        )  # fmt: skip
    first, second = caplog.records[:2]
    assert "cycle failed (1 in a row): forbidden: ...; retrying in 1.0s" in first.getMessage()
    assert first.exc_info is None
    assert "cycle failed (2 in a row)" in second.getMessage()
    assert second.exc_info is not None


def test_sigterm_during_a_cycle_abandons_it_and_while_waiting_stops_the_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def blocked_cycle() -> str:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # interrupted by the handler's exception
        return "never"

    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger=LOG.name), StopSignals() as signals:
        assert run_every(10, blocked_cycle, signals=signals, log=LOG) == 0
    assert time.monotonic() - started < 5
    assert "stop signal (SIGTERM) during a cycle: abandoned it" in caplog.text

    caplog.clear()
    started = time.monotonic()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))  # while it waits
    with caplog.at_level(logging.INFO, logger=LOG.name), StopSignals() as signals:
        timer.start()
        assert run_every(3600, scripted(["done"]), signals=signals, log=LOG) == 1
    timer.join()
    assert time.monotonic() - started < 5
    assert "stop signal (SIGTERM): stopped" in caplog.text
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("250ms", 0.25), ("1.5s", 1.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "m", "-1s", "0s", "1d", "5m3"])
def test_invalid_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


# --- the command, against a real server ---------------------------------------------------


@pytest.fixture(scope="module")
def netreach(
    throwaway_databases: ThrowawayDatabases,
) -> Iterator[tuple[str, str]]:
    """A real netreach server (SQLite) and a write token."""
    url = throwaway_databases.create("sqlite")
    with running_server(test_settings(url, max_body_bytes=64 * 1024 * 1024)) as base_url:
        yield base_url, create_token(url, "snapshotter", "write")


def versions(base_url: str, token: str, cluster: str) -> list[int]:
    response = httpx.get(
        f"{base_url}/v1/clusters/{cluster}/snapshots",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return sorted(item["version"] for item in response.json()["items"])


def wait_for(condition: Callable[[], bool], what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; the log:\n{log.read_text()}")
        time.sleep(0.05)


@pytest.fixture
def every(
    apiserver: FakeApiServer, tmp_path: Path, netreach: tuple[str, str]
) -> Callable[..., tuple[subprocess.Popen[bytes], Path]]:
    """Start ``netreach capture --every`` in a subprocess; returns it and its log file."""
    started: list[subprocess.Popen[bytes]] = []
    config = write_kubeconfig(tmp_path / "kubeconfig", apiserver, certificate_user(apiserver))

    def start(cluster: str, interval: str = "200ms") -> tuple[subprocess.Popen[bytes], Path]:
        base_url, token = netreach
        log = tmp_path / f"{cluster}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "capture", "--kubeconfig", str(config),
             "--server", base_url, "--cluster", cluster, "--every", interval,
             "--page-size", "100"],
            stdout=subprocess.DEVNULL, stderr=log.open("wb"),
            env={**os.environ, "NETREACH_TOKEN": token},
        )  # fmt: skip
        started.append(process)
        return process, log

    yield start  # type: ignore[misc]
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_every_pushes_a_version_per_change_and_stops_cleanly_on_sigterm(
    every: Callable[..., tuple[subprocess.Popen[bytes], Path]],
    apiserver: FakeApiServer,
    netreach: tuple[str, str],
) -> None:
    base_url, token = netreach
    cluster = "every-unchanged"
    apiserver.behaviour.fail_requests = 3  # the first attempts fail: logged, retried
    process, log = every(cluster)

    wait_for(lambda: log.read_text().count("(unchanged: identical content)") >= 3,
             "three captures of the unchanged cluster", log)  # fmt: skip
    assert versions(base_url, token, cluster) == [1]
    text = log.read_text()
    assert "cycle failed (1 in a row): the API server at https://127.0.0.1:" in text
    assert "answered 500" in text
    assert f"{cluster} version 1 (created)" in text

    apiserver.cluster.put({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all", "namespace": "edge"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    })  # fmt: skip
    wait_for(lambda: f"{cluster} version 2 (created)" in log.read_text(), "version 2", log)
    wait_for(lambda: log.read_text().count(f"{cluster} version 2 (unchanged") >= 2,
             "two more captures after the change", log)  # fmt: skip
    assert versions(base_url, token, cluster) == [1, 2]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert "stop signal (SIGTERM)" in log.read_text()


def test_sigterm_abandons_a_cycle_stuck_on_a_slow_api_server(
    every: Callable[..., tuple[subprocess.Popen[bytes], Path]],
    apiserver: FakeApiServer,
) -> None:
    apiserver.behaviour.delay["pods"] = 60.0
    process, log = every("every-slow")
    wait_for(lambda: "/api/v1/pods" in apiserver.paths(), "the slow pods list", log)
    time.sleep(0.2)
    stopped = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert time.monotonic() - stopped < 5
    assert "stop signal (SIGTERM) during a cycle: abandoned it" in log.read_text()
