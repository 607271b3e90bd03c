"""A server killed (SIGKILL) in the middle of an upload leaves nothing half-stored: after a
restart every stored version holds all of its objects, readable, and the next upload works.

Over a real ``netreach serve`` process, on SQLite and PostgreSQL; the kill lands at several
moments of the upload (while the body arrives, while it is validated, while it is written).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from contextlib import AbstractContextManager
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.orm import Session

from service.store import make_engine
from service.store.migrate import upgrade
from service.store.snapshots import SnapshotRepository
from tests.api.processes import serve_process
from tests.conftest import ThrowawayDatabases

CLUSTER = "killed"
KILL_AFTER = (0.05, 0.3, 0.8, 1.5)  # seconds after the upload started


def _server(database_url: str) -> AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]:
    environment = {"NETREACH_DATABASE_URL": database_url, "NETREACH_LOG_LEVEL": "warning",
                   "NETREACH_MIGRATE_ON_START": "false"}  # fmt: skip
    return serve_process(environment, ready="/readyz")


def _manifests(version: int, count: int) -> bytes:
    """``count`` ConfigMaps and a Pod, all new in each ``version``."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"cm-{version}-{i}", "namespace": "default"},
         "data": {"value": "x" * 200}}
        for i in range(count)
    ]  # fmt: skip
    objects.append({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": f"p{version}", "namespace": "default"},
                    "spec": {"containers": [{"name": "c", "image": "x"}]}})  # fmt: skip
    return orjson.dumps({"apiVersion": "v1", "kind": "List", "items": objects})


def _post(base_url: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/clusters/{CLUSTER}/snapshots",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )


def _upload(base_url: str, body: bytes) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server is killed under it
        _post(base_url, body)


def _assert_whole(database_url: str) -> list[int]:
    """Every stored version of the cluster holds all of its objects; its versions."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            snapshots = SnapshotRepository(session)
            versions = snapshots.versions(CLUSTER)
            for version in versions:
                record = snapshots.get(CLUSTER, version)
                assert record is not None
                bodies = snapshots.object_bodies(record.id)
                assert len(bodies) == record.object_count == sum(record.counts.values())
                assert {b["kind"] for b in bodies} == {"ConfigMap", "Pod"}
            return versions
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_server_killed_mid_upload_leaves_nothing_half_stored(
    backend: str, throwaway_databases: ThrowawayDatabases
) -> None:
    database_url = throwaway_databases.create(backend)
    upgrade(database_url)
    with _server(database_url) as (base_url, _):
        first = _post(base_url, _manifests(0, 10))
        assert first.status_code == 201, first.text
    for attempt, delay in enumerate(KILL_AFTER, start=1):
        body = _manifests(attempt, 30_000)
        with _server(database_url) as (base_url, process):
            sender = threading.Thread(target=_upload, args=(base_url, body))
            sender.start()
            time.sleep(delay)
            os.kill(process.pid, signal.SIGKILL)
            sender.join(timeout=60)
        versions = _assert_whole(database_url)
        assert versions[0] == 1
        assert versions == list(range(1, len(versions) + 1))  # no gap, no duplicate
    # The database still takes uploads after all the kills.
    with _server(database_url) as (base_url, _):
        after = _post(base_url, _manifests(99, 10))
        assert after.status_code == 201, after.text
    assert _assert_whole(database_url)[-1] == after.json()["version"]
