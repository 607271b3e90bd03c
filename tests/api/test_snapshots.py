"""Uploading, listing, reading and deleting snapshots; every failure stores nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import MAX_BODY_BYTES, MAX_PAGE_SIZE, YAML, assert_error
from tests.api.manifests import (
    INVALID_YAML,
    SHOP_YAML,
    WEB_TO_DB_YAML,
    as_json_array,
    as_json_list,
)


def versions(client: httpx.Client, cluster: str) -> list[int]:
    response = client.get(f"/v1/clusters/{cluster}/snapshots", params={"limit": MAX_PAGE_SIZE})
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    return [item["version"] for item in response.json()["items"]]


def upload(client: httpx.Client, cluster: str, text: str, **params: str) -> httpx.Response:
    return client.post(
        f"/v1/clusters/{cluster}/snapshots", content=text, headers=YAML, params=params
    )


def test_upload_yaml_then_identical_content_returns_the_existing_version(
    client: httpx.Client, cluster: str
) -> None:
    first = client.post(
        f"/v1/clusters/{cluster}/snapshots",
        content=SHOP_YAML,
        headers=YAML,
        params=[("source", "git@example:shop@abc123"), ("label", "env=prod"), ("label", "a=b=c")],
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["cluster"] == cluster
    assert body["version"] == 1
    assert body["counts"] == {
        "Deployment": 1,
        "Namespace": 3,
        "NetworkPolicy": 2,
        "Pod": 3,
        "Service": 1,
    }
    assert body["object_count"] == 10
    assert body["labels"] == {"env": "prod", "a": "b=c"}
    assert body["source"] == "git@example:shop@abc123"
    assert len(body["content_hash"]) == 64
    assert isinstance(body["warnings"], list)
    assert {"id", "created_at"} <= set(body)
    assert first.headers["location"] == f"/v1/clusters/{cluster}/snapshots/1"

    again = upload(client, cluster, SHOP_YAML)
    assert again.status_code == 200
    assert again.json()["version"] == 1
    assert again.json()["id"] == body["id"]
    assert versions(client, cluster) == [1]


@pytest.mark.parametrize("encode", [as_json_list, as_json_array], ids=["list", "array"])
def test_upload_json_list_or_array(client: httpx.Client, cluster: str, encode: object) -> None:
    assert callable(encode)
    json_headers = {"Content-Type": "application/json"}
    first = client.post(
        f"/v1/clusters/{cluster}/snapshots", content=encode(SHOP_YAML), headers=json_headers
    )
    assert first.status_code == 201, first.text
    # The same objects as YAML are the same content.
    assert upload(client, cluster, SHOP_YAML).status_code == 200
    changed = encode(SHOP_YAML + "---\n" + WEB_TO_DB_YAML)
    second = client.post(f"/v1/clusters/{cluster}/snapshots", content=changed, headers=json_headers)
    assert second.status_code == 201
    assert second.json()["version"] == 2
    assert second.json()["counts"]["NetworkPolicy"] == 3


def test_one_json_object(client: httpx.Client, cluster: str) -> None:
    pod = b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x"},' \
          b' "spec": {"containers": [{"name": "c", "image": "i"}]}}'  # fmt: skip
    response = client.post(
        f"/v1/clusters/{cluster}/snapshots",
        content=pod,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["counts"] == {"Pod": 1}


@pytest.mark.parametrize("media", ["application/x-yaml", "text/yaml"])
def test_other_yaml_media_types(client: httpx.Client, cluster: str, media: str) -> None:
    response = client.post(
        f"/v1/clusters/{cluster}/snapshots", content=SHOP_YAML, headers={"Content-Type": media}
    )
    assert response.status_code == 201


def _distinct_versions(client: httpx.Client, cluster: str, count: int) -> None:
    for index in range(count):
        extra = f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: extra-{index}}}\n"
        assert upload(client, cluster, SHOP_YAML + extra).status_code == 201


def test_versions_are_listed_newest_first_with_keyset_pagination(
    client: httpx.Client, cluster: str
) -> None:
    _distinct_versions(client, cluster, 5)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = client.get(f"/v1/clusters/{cluster}/snapshots", params=params)
        assert response.status_code == 200
        page = response.json()
        assert set(page) == {"items", "next_cursor", "limit"}
        assert page["limit"] == 2
        seen += [item["version"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # A new version does not shift the pages (keyset by version).
        if pages == 1:
            _distinct_versions(client, f"{cluster}-b", 1)
    assert seen == [5, 4, 3, 2, 1]
    assert pages == 3


def test_page_size_is_capped(client: httpx.Client, cluster: str) -> None:
    _distinct_versions(client, cluster, 1)
    response = client.get(f"/v1/clusters/{cluster}/snapshots", params={"limit": 10**30})
    assert response.status_code == 200
    assert response.json()["limit"] == MAX_PAGE_SIZE


def test_get_latest_and_by_version(client: httpx.Client, shop: str) -> None:
    assert upload(client, shop, SHOP_YAML + "---\n" + WEB_TO_DB_YAML).status_code == 201
    latest = client.get(f"/v1/clusters/{shop}/snapshots/latest").json()
    assert latest["version"] == 2
    first = client.get(f"/v1/clusters/{shop}/snapshots/1").json()
    assert first["version"] == 1
    assert first["content_hash"] != latest["content_hash"]


def test_clusters_list_latest_version(client: httpx.Client, shop: str) -> None:
    assert upload(client, shop, SHOP_YAML + "---\n" + WEB_TO_DB_YAML).status_code == 201
    items = client.get("/v1/clusters").json()["items"]
    mine = [item for item in items if item["name"] == shop]
    assert len(mine) == 1
    assert mine[0]["latest_version"] == 2
    assert mine[0]["snapshot_count"] == 2


def test_delete(client: httpx.Client, shop: str) -> None:
    assert upload(client, shop, SHOP_YAML + "---\n" + WEB_TO_DB_YAML).status_code == 201
    # Analyse it first so the compiled snapshot is cached, then delete it.
    assert client.get(f"/v1/clusters/{shop}/snapshots/2/connectivity").status_code == 200
    deleted = client.delete(f"/v1/clusters/{shop}/snapshots/latest")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(client.get(f"/v1/clusters/{shop}/snapshots/2"), 404, "not_found")
    assert_error(client.get(f"/v1/clusters/{shop}/snapshots/2/connectivity"), 404)
    assert client.get(f"/v1/clusters/{shop}/snapshots/latest").json()["version"] == 1
    assert_error(client.delete(f"/v1/clusters/{shop}/snapshots/2"), 404)
    assert versions(client, shop) == [1]
    # Versions are never reused.
    assert upload(client, shop, WEB_TO_DB_YAML).json()["version"] == 3


def test_objects_filtered_and_paginated(client: httpx.Client, shop: str) -> None:
    base = f"/v1/clusters/{shop}/snapshots/latest/objects"
    pods = client.get(base, params={"kind": "Pod"}).json()
    assert [(o["namespace"], o["name"]) for o in pods["items"]] == [
        ("db", "pg-0"),
        ("monitoring", "prometheus-0"),
        ("shop", "api-0"),
    ]
    assert pods["items"][0]["body"]["spec"]["containers"][0]["image"] == "postgres:16"
    in_db = client.get(base, params={"namespace": "db"}).json()["items"]
    assert {(o["kind"], o["name"]) for o in in_db} == {
        ("Pod", "pg-0"),
        ("Service", "pg"),
        ("NetworkPolicy", "default-deny"),
        ("NetworkPolicy", "pg-from-api"),
    }
    both = client.get(base, params={"namespace": "db", "kind": "NetworkPolicy"}).json()
    assert len(both["items"]) == 2
    names: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(base, params=params).json()
        names += [f"{o['kind']}/{o['namespace']}/{o['name']}" for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(names) == len(set(names)) == 10
    namespaces = client.get(base, params={"kind": "Namespace"}).json()["items"]
    assert all(o["namespace"] is None for o in namespaces)


# -- failures: the right status, the envelope, and nothing stored ------------------------


@pytest.fixture
def stored_once(client: httpx.Client, shop: str) -> Iterator[str]:
    yield shop
    assert versions(client, shop) == [1], "a failed upload stored something"


def test_invalid_manifests_are_422_with_details(client: httpx.Client, stored_once: str) -> None:
    error = assert_error(upload(client, stored_once, INVALID_YAML), 422, "invalid_manifests")
    details = error["details"]
    assert isinstance(details, list)
    by_document = {d["document"]: d for d in details}
    assert by_document[1]["kind"] == "NetworkPolicy"
    assert by_document[1]["name"] == "broken"
    assert by_document[1]["namespace"] == "shop"
    assert "ports[0].port" in by_document[1]["field"]
    assert by_document[2]["kind"] == "Pod"
    assert by_document[2]["field"] == "metadata.name"


def test_invalid_manifests_never_create_a_cluster(client: httpx.Client, cluster: str) -> None:
    assert_error(upload(client, cluster, INVALID_YAML), 422)
    assert_error(client.get(f"/v1/clusters/{cluster}/snapshots"), 404)
    assert cluster not in [c["name"] for c in client.get("/v1/clusters").json()["items"]]


@pytest.mark.parametrize(
    ("content", "media"),
    [
        pytest.param(b"kind: [unclosed", "application/yaml", id="yaml-syntax"),
        pytest.param(b'{"kind": "Pod",', "application/json", id="json-syntax"),
        pytest.param(b"\xff\xfe\x00garbage", "application/yaml", id="not-utf8"),
        pytest.param(b"", "application/yaml", id="empty"),
        pytest.param(b"  \n", "application/json", id="blank"),
        pytest.param(b"42", "application/json", id="json-scalar"),
        pytest.param(b"- just\n- a list\n", "application/yaml", id="yaml-not-objects"),
    ],
)
def test_unreadable_bodies_are_422(
    client: httpx.Client, stored_once: str, content: bytes, media: str
) -> None:
    response = client.post(
        f"/v1/clusters/{stored_once}/snapshots", content=content, headers={"Content-Type": media}
    )
    assert_error(response, 422)


@pytest.mark.parametrize(
    "media",
    [
        None,
        "text/plain",
        "application/xml",
        "multipart/form-data",
        "application/json; charset=latin-1",
    ],
)
def test_unsupported_media_types_are_415(
    client: httpx.Client, stored_once: str, media: str | None
) -> None:
    headers = {} if media is None else {"Content-Type": media}
    response = client.post(
        f"/v1/clusters/{stored_once}/snapshots", content=SHOP_YAML, headers=headers
    )
    assert_error(response, 415, "unsupported_media_type")


def test_body_over_the_limit_is_413_by_content_length(
    client: httpx.Client, stored_once: str
) -> None:
    big = SHOP_YAML + "#" * MAX_BODY_BYTES
    assert_error(upload(client, stored_once, big), 413, "payload_too_large")


def test_streamed_body_over_the_limit_is_413(client: httpx.Client, stored_once: str) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield SHOP_YAML.encode()
        for _ in range(MAX_BODY_BYTES // 8192 + 2):
            yield b"#" * 8192

    response = client.post(f"/v1/clusters/{stored_once}/snapshots", content=chunks(), headers=YAML)
    assert_error(response, 413, "payload_too_large")


def test_bad_labels_are_422(client: httpx.Client, stored_once: str) -> None:
    error = assert_error(upload(client, stored_once, SHOP_YAML, label="novalue"), 422)
    assert error["details"][0]["field"] == "query.label"


def test_invalid_cluster_name_is_422(client: httpx.Client) -> None:
    for name in ("Not_A.Valid-Name-", "x" * 64, "a%00b", "-a"):
        error = assert_error(upload(client, name, SHOP_YAML), 422, "validation_error")
        assert error["details"][0]["field"] == "path.cluster"
        assert_error(client.get(f"/v1/clusters/{name}/snapshots/latest"), 422)


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/snapshots/abc", 422, "path.ref"),
        ("/snapshots/0", 422, "path.ref"),
        ("/snapshots/-1", 422, "path.ref"),
        ("/snapshots/1.5", 422, "path.ref"),
        ("/snapshots/%C2%B2", 422, "path.ref"),  # a digit, but not an ASCII one
        ("/snapshots/99999999999999999999999", 404, None),
        ("/snapshots/7", 404, None),
        ("/snapshots/latest/objects?limit=0", 422, "query.limit"),
        ("/snapshots/latest/objects?limit=ten", 422, "query.limit"),
        ("/snapshots/latest/objects?cursor=garbage", 422, "query.cursor"),
        ("/snapshots/latest/objects?cursor=v.MQ", 422, "query.cursor"),
        ("/snapshots?cursor=o.MQ", 422, "query.cursor"),
        ("/snapshots?cursor=v.%F0%9F%92%A5", 422, "query.cursor"),
        ("/snapshots?cursor=v.OTk5OTk5OTk5OTk5", 422, "query.cursor"),  # 999999999999
    ],
)
def test_bad_parameters(
    client: httpx.Client, stored_once: str, path: str, status: int, field: str | None
) -> None:
    error = assert_error(client.get(f"/v1/clusters/{stored_once}{path}"), status)
    if field is not None:
        assert field in [d.get("field") for d in error["details"]], error


def test_unknown_cluster_is_404(client: httpx.Client, cluster: str) -> None:
    assert_error(client.get(f"/v1/clusters/{cluster}/snapshots"), 404, "not_found")
    assert_error(client.get(f"/v1/clusters/{cluster}/snapshots/latest"), 404, "not_found")
    assert_error(client.delete(f"/v1/clusters/{cluster}/snapshots/1"), 404, "not_found")


def test_unknown_route_and_method(client: httpx.Client, shop: str) -> None:
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(client.put(f"/v1/clusters/{shop}/snapshots/1"), 405, "method_not_allowed")


@pytest.mark.parametrize("field", ["name", "namespace"])
def test_nul_characters_never_cause_a_500(client: httpx.Client, cluster: str, field: str) -> None:
    metadata = {"name": "settings", "namespace": "shop"}
    metadata[field] += "\u0000"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    response = client.post(f"/v1/clusters/{cluster}/snapshots", json=body)
    # SQLite stores the value; PostgreSQL cannot hold NUL characters in text.
    assert response.status_code in (201, 422), response.text
    if response.status_code == 422:
        assert_error(response, 422, "invalid_manifests")
        assert versions(client, cluster) == []
