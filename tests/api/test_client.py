"""The Python client against a real server: every endpoint, typed errors from the envelope."""

from __future__ import annotations

import json

import httpx
import pytest

from service.client import (
    STREAMED_BODY_BYTES,
    ForbiddenError,
    InvalidRequestError,
    NetreachClient,
    NotFoundError,
    UnauthorizedError,
    UnreachableError,
)
from tests.api.conftest import Api
from tests.api.manifests import SHOP_YAML, WEB_TO_DB_YAML


@pytest.fixture
def api_client(api: Api) -> NetreachClient:
    return NetreachClient(api.base_url, token=api.tokens["admin"])


def test_every_endpoint(api_client: NetreachClient, cluster: str) -> None:
    with api_client as client:
        assert client.health() == {"status": "ok"}
        assert client.ready()["status"] == "ready"
        first, created = client.upload(cluster, SHOP_YAML.encode(), source="ci", labels={"a": "b"})
        assert (first.version, created) == (1, True)
        again, created = client.upload(cluster, SHOP_YAML.encode())
        assert (again.version, created) == (1, False)
        second, _ = client.upload(cluster, (SHOP_YAML + "---\n" + WEB_TO_DB_YAML).encode())
        assert second.version == 2
        assert cluster in {c.name for c in client.clusters()}
        assert client.cluster(cluster).latest_version == 2
        assert [s.version for s in client.snapshots(cluster, page_size=1)] == [2, 1]
        assert client.snapshot(cluster, 1).labels == {"a": "b"}
        kinds = {o.kind for o in client.objects(cluster, "latest", page_size=2)}
        assert {"Namespace", "Pod", "NetworkPolicy"} <= kinds
        connections = list(client.connectivity(cluster, granularity="pod", page_size=2))
        assert len(connections) == len(list(client.connectivity(cluster, granularity="pod")))
        assert client.connectivity_text(cluster, output_format="csv").startswith("from,to")
        verdict = client.reachability(cluster, "latest", "shop/api-0", "db/pg-0", 5432)
        assert (verdict["allowed"], verdict["version"]) == (True, 2)
        batch = client.reachability_batch(
            cluster, 1, [{"from": "shop/api-0", "to": "db/pg-0"}, {"from": "x/y", "to": "a/b"}]
        )
        assert batch["version"] == 1
        assert batch["results"][1]["error"]["code"] == "not_found"
        assert "findings" in client.lint(cluster)
        assert client.lint_text(cluster, output_format="md")
        assert client.diff(cluster, 1, 2)["head"]["version"] == 2
        assert "**netreach**" in client.diff_markdown(cluster, 1, 2)
        assert client.diff_across(f"{cluster}@1", f"{cluster}@latest")["base"]["version"] == 1
        what_if = client.what_if(
            cluster, delete=[{"kind": "NetworkPolicy", "namespace": "db", "name": "pg-from-api"}]
        )
        assert what_if["head"]["what_if"]["deleted"] == 1
        at = client.history(cluster, "shop/api-0", "db/pg-0", port=5432, at=1)
        assert at["version"] == 1
        first_allowed = client.history(cluster, "shop/api-0", "db/pg-0", first="allowed")
        assert first_allowed["version"] == 1
        client.delete_snapshot(cluster, 1)
        client.delete_cluster(cluster)
        with pytest.raises(NotFoundError) as missing:
            client.snapshot(cluster)
        assert missing.value.code == "not_found"
        assert missing.value.status == 404


def test_typed_errors(api: Api, cluster: str) -> None:
    with NetreachClient(api.base_url) as anonymous, pytest.raises(UnauthorizedError):
        anonymous.clusters()
    with NetreachClient(api.base_url, token=api.tokens["read"]) as reader:
        with pytest.raises(ForbiddenError):
            reader.upload(cluster, SHOP_YAML.encode())
        with pytest.raises(InvalidRequestError) as invalid:
            reader.snapshot(cluster, "not-a-ref")
        assert invalid.value.details[0]["field"] == "path.ref"
    with NetreachClient("http://127.0.0.1:1") as nowhere, pytest.raises(UnreachableError):
        nowhere.health()


def _config_maps(count: int) -> bytes:
    items = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"cm-{n}", "namespace": "big"}, "data": {"k": "x" * 300}}
        for n in range(count)
    ]  # fmt: skip
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items}).encode()


def test_large_upload_sent_in_pieces_with_its_length(
    api_client: NetreachClient, cluster: str
) -> None:
    body = _config_maps(500)
    assert len(body) > STREAMED_BODY_BYTES
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "x"}})

    mocked = NetreachClient("http://x", transport=httpx.MockTransport(answer))
    with mocked, pytest.raises(NotFoundError):
        mocked.upload(cluster, body, content_type="application/json")
    assert seen[0].headers["content-length"] == str(len(body))
    assert "transfer-encoding" not in seen[0].headers
    assert seen[0].content == body
    with api_client as client:
        stored, created = client.upload(cluster, body, content_type="application/json")
        assert created
        assert stored.counts == {"ConfigMap": 500}
        for gzip in (False, True):
            again, created = client.upload(
                cluster, body, content_type="application/json", gzip=gzip
            )
            assert (again.version, created) == (stored.version, False)
