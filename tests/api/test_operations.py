"""Health, readiness, metrics, request ids and the access log."""

from __future__ import annotations

import uuid

import httpx
import structlog
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Api, assert_error, running_server, test_settings
from tests.api.manifests import SHOP_YAML
from tests.conftest import ThrowawayDatabases


def test_healthz(api: Api) -> None:
    with api.client(None) as client:  # open without a token, although tokens exist
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz(api: Api) -> None:
    with api.client(None) as client:
        body = client.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["database"] == api.backend
    assert body["schema_revision"]


def test_readyz_is_503_when_the_schema_is_behind(throwaway_databases: ThrowawayDatabases) -> None:
    url = throwaway_databases.create("sqlite")
    with running_server(test_settings(url, migrate_on_start=False)) as base_url:
        response = httpx.get(f"{base_url}/readyz")
    error = assert_error(response, 503, "not_ready")
    assert error["details"][0]["check"] == "schema"
    assert error["details"][0]["current"] is None


def test_readyz_is_503_when_the_database_is_unreachable(
    throwaway_databases: ThrowawayDatabases,
) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    with running_server(test_settings(url, migrate_on_start=False)) as base_url:
        response = httpx.get(f"{base_url}/readyz", timeout=30)
        assert_error(httpx.get(f"{base_url}/v1/clusters", timeout=30), 503, "database_unavailable")
    error = assert_error(response, 503, "not_ready")
    assert error["details"][0]["check"] == "database"


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics(api: Api, shop: str) -> None:
    # Content no earlier test stored: its first analysis compiles (the cache directory,
    # shared by the run, holds the compiled forms of the snapshots analysed before).
    unique = f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: m-{uuid.uuid4().hex}}}\n"
    with api.client("admin") as client:
        client.post(
            f"/v1/clusters/{shop}/snapshots",
            content=SHOP_YAML + unique,
            headers={"Content-Type": "application/yaml"},
        )
        client.get(f"/v1/clusters/{shop}/snapshots/latest/connectivity")
        client.get(f"/v1/clusters/{shop}/snapshots/latest/connectivity")
        client.post(
            f"/v1/clusters/{shop}/snapshots",
            content=SHOP_YAML,
            headers={"Content-Type": "application/yaml"},
        )
        client.post(
            f"/v1/clusters/{shop}/snapshots",
            content=b"kind: [",
            headers={"Content-Type": "application/yaml"},
        )
    with api.client(None) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    route = "/v1/clusters/{cluster}/snapshots/{ref}/connectivity"
    labels = frozenset({"method": "GET", "route": route, "status": "200"}.items())
    assert samples[("netreach_http_requests_total", labels)] >= 2
    assert samples[("netreach_http_request_duration_seconds_count", labels)] >= 2
    # Raw paths never become labels.
    assert shop not in response.text
    for outcome in ("created", "unchanged", "invalid"):
        assert samples[("netreach_snapshot_uploads_total", frozenset({("outcome", outcome)}))] >= 1
    assert samples[("netreach_compile_seconds_count", frozenset())] >= 1
    maps = frozenset({("cache", "maps")})
    assert samples[("netreach_cache_hits_total", maps)] >= 1
    assert samples[("netreach_cache_misses_total", maps)] >= 1
    assert samples[("netreach_cache_misses_total", frozenset({("cache", "compiled")}))] >= 1


def test_request_id_is_honoured_or_created(api: Api) -> None:
    with api.client(None) as client:
        given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        created = client.get("/healthz")
        unsafe = client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(created.headers["x-request-id"]) == 32
    assert unsafe.headers["x-request-id"] != "x" * 500


def test_one_access_log_line_per_request(api: Api, shop: str) -> None:
    with structlog.testing.capture_logs() as logs, api.client("admin") as client:
        client.get(f"/v1/clusters/{shop}/snapshots/1", headers={"X-Request-ID": "trace-me"})
    lines = [line for line in logs if line.get("request_id") == "trace-me"]
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "request"
    assert line["method"] == "GET"
    assert line["route"] == "/v1/clusters/{cluster}/snapshots/{ref}"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0


def test_openapi_declares_the_error_envelope(api: Api) -> None:
    with api.client(None) as client:
        schema = client.get("/openapi.json").json()
    upload = schema["paths"]["/v1/clusters/{cluster}/snapshots"]["post"]
    for status in ("401", "403", "413", "415", "422"):
        ref = upload["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorEnvelope")
    assert "application/yaml" in upload["requestBody"]["content"]
