"""The batch endpoint, the unpaged map limit, the OpenAPI document and offline docs, and
the per-process caches seen from several replicas of one database."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import YAML, Api, assert_error, running_server, test_settings
from tests.api.manifests import SHOP_YAML, WEB_TO_DB_YAML

# -- reachability:batch ------------------------------------------------------------------


def batch(client: httpx.Client, cluster: str, questions: list[object]) -> httpx.Response:
    return client.post(
        f"/v1/clusters/{cluster}/snapshots/latest/reachability:batch",
        json={"questions": questions},
    )


def test_batch_answers_in_order_and_per_item_errors_do_not_fail_it(
    client: httpx.Client, shop: str
) -> None:
    questions = [
        {"from": "shop/api-0", "to": "db/pg-0", "port": 5432},
        {"from": "shop/api-0", "to": "db/nobody", "port": 5432},  # absent: 404 item
        {"from": "shop/Deployment/web", "to": "db/Service/pg"},
        {"from": "shop/api-0", "to": "db/pg-0", "port": "no-such-port"},
    ]
    response = batch(client, shop, questions)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3]
    single = client.post(
        f"/v1/clusters/{shop}/snapshots/latest/reachability", json=questions[0]
    ).json()
    first = body["results"][0]["verdict"]
    assert first == {k: v for k, v in single.items() if k not in ("cluster", "version")}
    assert body["results"][1]["error"]["code"] == "not_found"
    assert "verdict" not in body["results"][1]
    assert body["results"][2]["verdict"]["allowed"] is False
    assert body["allowed"] + body["denied"] + body["errors"] == 4
    assert body["errors"] >= 1


def test_batch_limits(client: httpx.Client, shop: str) -> None:
    one = {"from": "shop/api-0", "to": "db/pg-0", "port": 5432}
    assert batch(client, shop, [one] * 1000).status_code == 200
    assert_error(batch(client, shop, [one] * 1001), 422)
    assert_error(batch(client, shop, []), 422)
    assert_error(batch(client, shop, [{"from": "shop/api-0"}]), 422)  # malformed: the request


def test_batch_needs_read_access(api: Api, shop: str) -> None:
    with api.client(None) as anonymous:
        assert_error(batch(anonymous, shop, [{"from": "a/b", "to": "c/d"}]), 401)
    with api.client("other") as other:
        assert_error(batch(other, shop, [{"from": "a/b", "to": "c/d"}]), 403)


# -- an unpaged map is bounded -----------------------------------------------------------


@pytest.fixture
def small_server(throwaway_databases: object) -> Iterator[str]:
    from tests.conftest import ThrowawayDatabases

    assert isinstance(throwaway_databases, ThrowawayDatabases)
    url = throwaway_databases.create("sqlite")
    with running_server(test_settings(url, max_unpaged_connections=3)) as base_url:
        response = httpx.post(
            f"{base_url}/v1/clusters/c/snapshots", content=SHOP_YAML, headers=YAML
        )
        assert response.status_code == 201
        yield base_url


def test_a_large_map_without_limit_is_answered_with_its_first_page(small_server: str) -> None:
    path = f"{small_server}/v1/clusters/c/snapshots/latest/connectivity"
    page = httpx.get(path, params={"granularity": "pod"}).json()
    assert page["total"] > 3
    assert page["limit"] is not None
    assert page["next_cursor"] is not None
    collected, cursor = list(page["connections"]), page["next_cursor"]
    while cursor:
        page = httpx.get(path, params={"granularity": "pod", "cursor": cursor}).json()
        assert page["limit"] == 3  # a cursor alone keeps the first page's size
        collected += page["connections"]
        cursor = page["next_cursor"]
    assert len(collected) == page["total"]
    csv = httpx.get(path, params={"granularity": "pod", "format": "csv"}).text
    assert len(csv.splitlines()) == page["total"] + 1  # other formats stream the whole map


# -- the OpenAPI document and the docs ---------------------------------------------------


def _validate(document: dict[str, object], schema: dict[str, object], value: object) -> None:
    import jsonschema

    root = {**schema, "components": document["components"]}
    jsonschema.Draft202012Validator(root).validate(value)


def test_openapi_documents_every_operation(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            for parameter in operation.get("parameters", []):
                assert parameter.get("description"), (where, parameter["name"])
            ok = operation["responses"].get("200") or operation["responses"].get("201")
            if ok is None:
                assert "204" in operation["responses"], where
                continue
            assert ok.get("content"), where
            assert operation.get("description"), where
            for media, content in ok["content"].items():
                assert content.get("schema"), (where, media)
                assert "example" in content, (where, media)
                if media == "application/json":  # the example is a true answer
                    _validate(document, content["schema"], content["example"])
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                assert "example" in content or "examples" in content, (where, media)
            if path.startswith("/v1/"):
                assert operation["security"] == [{"bearer": []}], where
                error = operation["responses"]["401"]["content"]["application/json"]
                assert error["schema"]["$ref"].endswith("/ErrorEnvelope")
    schemas = document["components"]["schemas"]
    models = ["ConnectivityPage", "VerdictAnswer", "BatchAnswer", "DiffAnswer", "LintAnswer"]
    models += ["HistoryAt", "HistoryFirst", "ErrorEnvelope", "ObjectPage"]
    for model in models:
        assert model in schemas, model
    connectivity = document["paths"]["/v1/clusters/{cluster}/snapshots/{ref}/connectivity"]
    assert set(connectivity["get"]["responses"]["200"]["content"]) == {
        "application/json", "text/csv", "text/markdown", "text/vnd.graphviz"
    }  # fmt: skip


def test_the_docs_are_served_without_a_cdn(client: httpx.Client) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "cdn." not in html
        assets = [part.split('"')[0] for part in html.split('src="')[1:]]
        assets += [part.split('"')[0] for part in html.split('href="')[1:]]
        local = [a for a in assets if a.startswith("/docs/assets/")]
        assert local, html
        for asset in local:
            response = client.get(asset)
            assert response.status_code == 200, asset
            assert len(response.content) > 1000, asset


# -- caches across replicas --------------------------------------------------------------


def test_another_replica_sees_a_new_version_within_the_cache_time(api: Api, cluster: str) -> None:
    settings = test_settings(api.database_url, ref_cache_seconds=0.5, token_cache_seconds=0.5)
    with running_server(settings) as other_replica:
        headers = {"Authorization": f"Bearer {api.tokens['admin']}"}
        with httpx.Client(base_url=other_replica, headers=headers) as replica, api.client() as main:
            assert (
                main.post(
                    f"/v1/clusters/{cluster}/snapshots", content=SHOP_YAML, headers=YAML
                ).status_code
                == 201
            )
            assert replica.get(f"/v1/clusters/{cluster}/snapshots/latest").json()["version"] == 1
            second = main.post(
                f"/v1/clusters/{cluster}/snapshots",
                content=SHOP_YAML + "---\n" + WEB_TO_DB_YAML,
                headers=YAML,
            )
            assert second.status_code == 201
            # The writer reads its own write at once; the other replica within 0.5 s.
            assert main.get(f"/v1/clusters/{cluster}/snapshots/latest").json()["version"] == 2
            time.sleep(0.6)
            latest = replica.get(f"/v1/clusters/{cluster}/snapshots/latest")
            assert latest.json()["version"] == 2
            assert latest.headers["x-netreach-snapshot"] == f"{cluster}@2"
            # A deletion through one replica: the other stops answering within 0.5 s.
            assert main.delete(f"/v1/clusters/{cluster}/snapshots/2").status_code == 204
            time.sleep(0.6)
            assert replica.get(f"/v1/clusters/{cluster}/snapshots/latest").json()["version"] == 1
            assert_error(replica.get(f"/v1/clusters/{cluster}/snapshots/2"), 404)


def test_without_caching_every_replica_is_exact(api: Api, cluster: str) -> None:
    settings = test_settings(api.database_url, ref_cache_seconds=0, token_cache_seconds=0)
    with running_server(settings) as other_replica:
        headers = {"Authorization": f"Bearer {api.tokens['admin']}"}
        with httpx.Client(base_url=other_replica, headers=headers) as replica, api.client() as main:
            for version in (1, 2):
                text = (
                    SHOP_YAML
                    + f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: v{version}}}\n"
                )
                created = main.post(f"/v1/clusters/{cluster}/snapshots", content=text, headers=YAML)
                assert created.json()["version"] == version
                latest = replica.get(f"/v1/clusters/{cluster}/snapshots/latest")
                assert latest.json()["version"] == version
