"""After an upload is answered the server compiles and maps the snapshot in the background
(``prepare_after_upload``): its progress is in /metrics, the compiled form and the map land
in the cache directory for the next server, a failure there never touches the upload, and
the setting turns it off."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from service.engine.options import AnalysisOptions, Granularity
from service.usecases.cluster_cache import ClusterCache
from service.usecases.snapshots import Analyzer
from tests.api.conftest import YAML, running_server, test_settings
from tests.api.manifests import SHOP_YAML
from tests.conftest import ThrowawayDatabases

GiB = 1 << 30
WHAT_IF = {
    "manifests": [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "closed", "namespace": "shop"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        }
    ]
}


def metric_values(client: httpx.Client, prefix: str) -> dict[str, float]:
    """The samples of /metrics whose line starts with ``prefix``, by their line's name."""
    values = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def preparations(client: httpx.Client, finished: int) -> dict[str, float]:
    """Wait until ``finished`` preparations are over; their outcomes."""
    deadline = time.monotonic() + 60
    while True:
        values = metric_values(client, "netreach_preparations")
        outcomes = {
            name.split('"')[1]: value
            for name, value in values.items()
            if name.startswith("netreach_preparations_total{")
        }
        over = sum(v for k, v in outcomes.items() if k != "dropped")
        if over >= finished and values["netreach_preparations_pending"] == 0:
            return outcomes
        assert time.monotonic() < deadline, values
        time.sleep(0.02)


def upload(client: httpx.Client, cluster: str) -> str:
    response = client.post(f"/v1/clusters/{cluster}/snapshots", content=SHOP_YAML, headers=YAML)
    assert response.status_code == 201, response.text
    return str(response.json()["content_hash"])


def test_an_upload_is_compiled_and_mapped_for_the_next_server(
    tmp_path: Path, throwaway_databases: ThrowawayDatabases
) -> None:
    database_url = throwaway_databases.create("sqlite")
    settings = test_settings(database_url, cache_dir=tmp_path / "cache")
    with running_server(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        content_hash = upload(client, "prepared")
        assert preparations(client, 1)["prepared"] == 1
    files = ClusterCache.open(tmp_path / "cache", GiB)
    assert files is not None
    assert files.get_compiled(content_hash, AnalysisOptions()) is not None
    assert files.get_map(content_hash, AnalysisOptions(), Granularity.WORKLOAD) is not None

    # the next server answers a what-if without compiling the stored snapshot
    with running_server(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        answer = client.post("/v1/clusters/prepared/snapshots/1/what-if", json=WHAT_IF)
        assert answer.status_code == 200, answer.text
        assert answer.json()["connections"]["removed"]
        compiles = metric_values(client, "netreach_compile_seconds_count")
        assert compiles == {"netreach_compile_seconds_count": 0.0}
        # and prepares nothing on an upload of content it already has in the directory
        client.post("/v1/clusters/again/snapshots", content=SHOP_YAML, headers=YAML)
        assert preparations(client, 1)["ready"] == 1


def test_a_failed_preparation_leaves_the_upload_and_its_analyses_alone(
    tmp_path: Path, throwaway_databases: ThrowawayDatabases, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("preparation broke")

    monkeypatch.setattr(Analyzer, "prepare", broken)
    database_url = throwaway_databases.create("sqlite")
    settings = test_settings(database_url, cache_dir=tmp_path / "cache")
    with running_server(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        upload(client, "broken")
        assert preparations(client, 1)["failed"] == 1
        assert client.get("/v1/clusters/broken/snapshots/1").status_code == 200
        # the first analysis does the work itself
        answer = client.post("/v1/clusters/broken/snapshots/1/what-if", json=WHAT_IF)
        assert answer.status_code == 200, answer.text
        assert metric_values(client, "netreach_compile_seconds_count") == {
            "netreach_compile_seconds_count": 1.0
        }
        upload_counts = metric_values(client, "netreach_snapshot_uploads_total")
        assert upload_counts == {'netreach_snapshot_uploads_total{outcome="created"}': 1.0}


def test_the_setting_turns_it_off(tmp_path: Path, throwaway_databases: ThrowawayDatabases) -> None:
    database_url = throwaway_databases.create("sqlite")
    settings = test_settings(database_url, cache_dir=tmp_path / "cache", prepare_after_upload=False)
    with running_server(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        content_hash = upload(client, "unprepared")
        time.sleep(0.5)  # time enough for a preparation of this snapshot, were there one
        assert metric_values(client, "netreach_preparations") == {}
    files = ClusterCache.open(tmp_path / "cache", GiB)
    assert files is not None
    assert files.get(content_hash) is not None  # the upload's resolved cluster, as before
    assert not files.has_compiled(content_hash, AnalysisOptions())
    assert not files.has_map(content_hash, AnalysisOptions(), Granularity.WORKLOAD)
