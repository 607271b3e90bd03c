"""Concurrent deletes and uploads over a real server serialise: none is refused with
"database is locked" (SQLite takes the write lock when a write transaction begins)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.api.conftest import YAML, Api
from tests.api.manifests import SHOP_YAML

DELETES = 60
UPLOADS = 30


def _version_yaml(n: int) -> str:
    return (
        SHOP_YAML
        + f"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: v{n}, namespace: shop}}\n"
    )


def test_concurrent_deletes_and_uploads_all_succeed(api: Api, cluster: str) -> None:
    with api.client("admin") as client:
        for n in range(DELETES):
            response = client.post(
                f"/v1/clusters/{cluster}/snapshots", content=_version_yaml(n), headers=YAML
            )
            assert response.status_code == 201, response.text

    def delete(version: int) -> httpx.Response:
        with api.client("write") as client:
            return client.delete(f"/v1/clusters/{cluster}/snapshots/{version}")

    def upload(n: int) -> httpx.Response:
        with api.client("write") as client:
            return client.post(
                f"/v1/clusters/{cluster}/snapshots",
                content=_version_yaml(DELETES + n),
                headers=YAML,
            )

    with ThreadPoolExecutor(max_workers=24) as pool:
        uploads = [pool.submit(upload, n) for n in range(UPLOADS)]
        deletes = [pool.submit(delete, version) for version in range(1, DELETES + 1)]
        deleted = [future.result() for future in deletes]
        uploaded = [future.result() for future in uploads]
    assert [r.status_code for r in deleted] == [204] * DELETES, [
        r.text for r in deleted if r.status_code != 204
    ]
    assert [r.status_code for r in uploaded] == [201] * UPLOADS, [
        r.text for r in uploaded if r.status_code != 201
    ]
    with api.client("read") as client:
        listed = client.get(f"/v1/clusters/{cluster}/snapshots", params={"limit": 50}).json()
    assert sorted(item["version"] for item in listed["items"]) == list(
        range(DELETES + 1, DELETES + UPLOADS + 1)
    )
