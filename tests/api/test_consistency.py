"""Consistent answers, over a real server on SQLite and PostgreSQL: every answer names the
snapshot it is about; cursors stay on their version; absent filters are 404s with
suggestions; kinds match in any case; unknown parameters and control characters are 422s;
empty uploads need ``allow_empty``; a body in the other format says which Content-Type to
use; clusters can be deleted; HEAD works wherever GET does."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.api.conftest import YAML, assert_error
from tests.api.manifests import SHOP_YAML, WEB_TO_DB_YAML, objects

JSON_TYPE = {"Content-Type": "application/json"}


def upload(client: httpx.Client, cluster: str, text: str, **params: str) -> httpx.Response:
    return client.post(
        f"/v1/clusters/{cluster}/snapshots", content=text, headers=YAML, params=params
    )


def extra_namespace(index: int) -> str:
    return f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: extra-{index}}}\n"


# -- which snapshot an answer is about ---------------------------------------------------


def test_every_answer_names_its_snapshot(client: httpx.Client, shop: str) -> None:
    assert upload(client, shop, SHOP_YAML + "---\n" + WEB_TO_DB_YAML).status_code == 201
    base = f"/v1/clusters/{shop}/snapshots/latest"
    question = {"from": "shop/api-0", "to": "db/pg-0", "port": 5432}
    answers = {
        "snapshot": client.get(base),
        "objects": client.get(f"{base}/objects"),
        "connectivity": client.get(f"{base}/connectivity"),
        "paged connectivity": client.get(f"{base}/connectivity", params={"limit": 2}),
        "reachability": client.post(f"{base}/reachability", json=question),
        "batch": client.post(f"{base}/reachability:batch", json={"questions": [question]}),
        "lint": client.get(f"{base}/lint"),
    }
    for name, response in answers.items():
        assert response.status_code == 200, (name, response.text)
        assert response.headers["x-netreach-snapshot"] == f"{shop}@2", name
        body = response.json()
        assert (body["cluster"], body["version"]) == (shop, 2), name
    for fmt in ("csv", "md", "dot"):
        text = client.get(f"{base}/connectivity", params={"format": fmt})
        assert text.headers["x-netreach-snapshot"] == f"{shop}@2"
    lint_text = client.get(f"{base}/lint", params={"format": "text"})
    assert lint_text.headers["x-netreach-snapshot"] == f"{shop}@2"
    diff = client.get(f"/v1/clusters/{shop}/diff", params={"base": "1", "head": "latest"})
    assert diff.headers["x-netreach-snapshot"] == f"{shop}@1, {shop}@2"
    assert (diff.json()["base"]["version"], diff.json()["head"]["version"]) == (1, 2)
    what_if = client.post(f"{base}/what-if", json={})
    assert what_if.headers["x-netreach-snapshot"] == f"{shop}@2"
    assert what_if.json()["base"]["version"] == 2


# -- cursors are bound to their version --------------------------------------------------


def test_paging_latest_stays_on_its_version_while_a_new_one_is_uploaded(
    client: httpx.Client, shop: str
) -> None:
    path = f"/v1/clusters/{shop}/snapshots/latest/objects"
    first = client.get(path, params={"limit": 3}).json()
    assert first["version"] == 1
    # A new version with more objects becomes `latest` between two pages.
    more = "".join(extra_namespace(i) for i in range(5))
    assert upload(client, shop, SHOP_YAML + more).status_code == 201
    assert client.get(path, params={"limit": 3}).json()["version"] == 2
    collected, cursor = list(first["items"]), first["next_cursor"]
    while cursor:
        page = client.get(path, params={"limit": 3, "cursor": cursor})
        assert page.status_code == 200, page.text
        assert page.headers["x-netreach-snapshot"] == f"{shop}@1"
        assert page.json()["version"] == 1
        collected += page.json()["items"]
        cursor = page.json()["next_cursor"]
    names = sorted((o["kind"], o["name"]) for o in collected)
    assert names == sorted((o["kind"], o["metadata"]["name"]) for o in objects(SHOP_YAML))


def test_connectivity_pages_stay_on_their_version(client: httpx.Client, shop: str) -> None:
    path = f"/v1/clusters/{shop}/snapshots/latest/connectivity"
    whole_v1 = client.get(path, params={"granularity": "pod"}).json()["connections"]
    first = client.get(path, params={"granularity": "pod", "limit": 2}).json()
    assert upload(client, shop, SHOP_YAML + "---\n" + WEB_TO_DB_YAML).status_code == 201
    collected, cursor = list(first["connections"]), first["next_cursor"]
    while cursor:
        page = client.get(path, params={"granularity": "pod", "limit": 2, "cursor": cursor})
        assert page.json()["version"] == 1
        collected += page.json()["connections"]
        cursor = page.json()["next_cursor"]
    assert collected == whole_v1


def test_a_cursor_is_refused_with_other_filters_or_tampered(
    client: httpx.Client, shop: str
) -> None:
    path = f"/v1/clusters/{shop}/snapshots/latest/connectivity"
    cursor = client.get(path, params={"granularity": "pod", "limit": 1}).json()["next_cursor"]
    other = client.get(path, params={"granularity": "namespace", "limit": 1, "cursor": cursor})
    error = assert_error(other, 422, "invalid_parameter")
    assert "other query parameters" in error["message"]
    kind, _, token = cursor.partition(".")
    tampered = f"{kind}.{token[:-2]}{'A' if token[-2] != 'A' else 'B'}{token[-1]}"
    bad = client.get(path, params={"granularity": "pod", "limit": 1, "cursor": tampered})
    assert_error(bad, 422)
    objects_cursor = f"/v1/clusters/{shop}/snapshots/latest/objects"
    assert_error(client.get(objects_cursor, params={"cursor": cursor}), 422)


def test_a_cursor_whose_snapshot_was_deleted_is_refused(client: httpx.Client, shop: str) -> None:
    assert upload(client, shop, SHOP_YAML + extra_namespace(0)).status_code == 201
    path = f"/v1/clusters/{shop}/snapshots/latest/objects"
    cursor = client.get(path, params={"limit": 2}).json()["next_cursor"]
    assert client.delete(f"/v1/clusters/{shop}/snapshots/2").status_code == 204
    error = assert_error(client.get(path, params={"limit": 2, "cursor": cursor}), 422)
    assert "is gone" in error["message"]
    # A cursor of version 2 used on version 1 is refused too.
    pinned = f"/v1/clusters/{shop}/snapshots/1/objects"
    assert_error(client.get(pinned, params={"limit": 2, "cursor": cursor}), 422)


# -- filters -----------------------------------------------------------------------------


def test_kind_matches_in_any_case(client: httpx.Client, shop: str) -> None:
    path = f"/v1/clusters/{shop}/snapshots/latest/objects"
    exact = client.get(path, params={"kind": "NetworkPolicy"}).json()["items"]
    for spelling in ("networkpolicy", "NETWORKPOLICY", "networkPolicy"):
        items = client.get(path, params={"kind": spelling}).json()["items"]
        assert items == exact
    assert len(exact) == 2


@pytest.mark.parametrize(
    ("params", "field", "suggestion"),
    [
        ({"kind": "NetworkPolcy"}, "query.kind", "NetworkPolicy"),
        ({"kind": "ConfigMap"}, "query.kind", None),
        ({"namespace": "shpo"}, "query.namespace", "shop"),
        ({"namespace": "nowhere"}, "query.namespace", None),
    ],
)
def test_absent_filters_are_404_with_suggestions(
    client: httpx.Client, shop: str, params: dict[str, str], field: str, suggestion: str | None
) -> None:
    response = client.get(f"/v1/clusters/{shop}/snapshots/latest/objects", params=params)
    error = assert_error(response, 404, "not_found")
    assert error["details"][0]["field"] == field
    if suggestion:
        assert f"did you mean {suggestion!r}" in error["message"]
        assert suggestion in error["details"][0]["suggestions"]
    else:
        assert "did you mean" not in error["message"]


def test_a_declared_namespace_without_objects_is_an_empty_page(
    client: httpx.Client, shop: str
) -> None:
    response = client.get(
        f"/v1/clusters/{shop}/snapshots/latest/objects", params={"namespace": "monitoring"}
    )
    assert response.status_code == 200
    assert all(o["namespace"] == "monitoring" for o in response.json()["items"])


# -- strict parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params", "name", "suggestion"),
    [
        ("GET", "/snapshots/latest/connectivity", {"namspace": "shop"}, "namspace", "namespace"),
        ("GET", "/snapshots/latest/objects", {"knd": "Pod"}, "knd", "kind"),
        ("GET", "/snapshots", {"limt": "2"}, "limt", "limit"),
        ("POST", "/snapshots/latest/reachability", {"formt": "json"}, "formt", None),
        ("GET", "/snapshots/latest", {"x": "1"}, "x", None),
    ],
)
def test_unknown_query_parameters_are_422(
    client: httpx.Client,
    shop: str,
    method: str,
    path: str,
    params: dict[str, str],
    name: str,
    suggestion: str | None,
) -> None:
    body = {"from": "shop/api-0", "to": "db/pg-0"} if method == "POST" else None
    response = client.request(method, f"/v1/clusters/{shop}{path}", params=params, json=body)
    error = assert_error(response, 422, "invalid_parameter")
    assert error["details"][0]["field"] == f"query.{name}"
    if suggestion:
        assert error["details"][0]["suggestions"] == [suggestion]


def test_what_if_reads_format_from_the_query_too(client: httpx.Client, shop: str) -> None:
    response = client.post(
        f"/v1/clusters/{shop}/snapshots/latest/what-if", params={"format": "md"}, json={}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/diff?base=a%00b@1&head=b@1",
        "/v1/diff?base=prod@1%00&head=prod@1",
        "/v1/clusters/CLUSTER/snapshots/latest/connectivity?namespace=a%01b",
        "/v1/clusters/CLUSTER/history/reachability?from=a%00&to=b&at=1",
        "/v1/clusters/CLUSTER/snapshots/la%00test",
        "/v1/clusters/a%00b/snapshots",
    ],
)
def test_control_characters_are_422_never_500(client: httpx.Client, shop: str, path: str) -> None:
    assert_error(client.get(path.replace("CLUSTER", shop)), 422)


# -- uploads -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "media"),
    [
        (b"[]", "application/json"),
        (b'{"apiVersion": "v1", "kind": "List", "items": []}', "application/json"),
        (b"---\n---\n", "application/yaml"),
        (b"# nothing but a comment\n", "application/yaml"),
    ],
    ids=["array", "list", "separators", "comment"],
)
def test_an_upload_without_objects_needs_allow_empty(
    client: httpx.Client, cluster: str, body: bytes, media: str
) -> None:
    path = f"/v1/clusters/{cluster}/snapshots"
    refused = client.post(path, content=body, headers={"Content-Type": media})
    error = assert_error(refused, 422, "invalid_manifests")
    assert "allow_empty" in error["message"]
    assert client.get(f"/v1/clusters/{cluster}/snapshots").status_code == 404  # nothing stored
    allowed = client.post(
        path, content=body, headers={"Content-Type": media}, params={"allow_empty": "true"}
    )
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["object_count"] == 0


def test_yaml_sent_as_json_says_which_content_type_to_use(
    client: httpx.Client, cluster: str
) -> None:
    response = client.post(
        f"/v1/clusters/{cluster}/snapshots", content=SHOP_YAML, headers=JSON_TYPE
    )
    error = assert_error(response, 422, "invalid_manifests")
    assert "Content-Type: application/yaml" in error["message"]


def test_json_sent_as_yaml_says_which_content_type_to_use(
    client: httpx.Client, cluster: str
) -> None:
    # Tab-indented JSON is valid JSON but not YAML.
    body = json.dumps(objects(SHOP_YAML), indent="\t")
    response = client.post(f"/v1/clusters/{cluster}/snapshots", content=body, headers=YAML)
    error = assert_error(response, 422, "invalid_manifests")
    assert "Content-Type: application/json" in error["message"]


def test_invalid_manifests_get_no_content_type_hint(client: httpx.Client, cluster: str) -> None:
    response = client.post(f"/v1/clusters/{cluster}/snapshots", content=b"kind: [", headers=YAML)
    error = assert_error(response, 422, "invalid_manifests")
    assert "Content-Type" not in error["message"]


# -- deleting a cluster ------------------------------------------------------------------


def test_delete_a_cluster(client: httpx.Client, shop: str) -> None:
    assert upload(client, shop, SHOP_YAML + extra_namespace(1)).status_code == 201
    assert client.get(f"/v1/clusters/{shop}/snapshots/latest").json()["version"] == 2
    assert client.get(f"/v1/clusters/{shop}").json()["latest_version"] == 2
    assert client.delete(f"/v1/clusters/{shop}").status_code == 204
    assert_error(client.get(f"/v1/clusters/{shop}"), 404)
    assert_error(client.get(f"/v1/clusters/{shop}/snapshots/latest"), 404)  # not cached
    assert shop not in {c["name"] for c in client.get("/v1/clusters").json()["items"]}
    assert_error(client.delete(f"/v1/clusters/{shop}"), 404)
    again = upload(client, shop, SHOP_YAML)
    assert again.status_code == 201
    assert again.json()["version"] == 1


def test_deleting_a_cluster_needs_write_scope(api: object, shop: str) -> None:
    from tests.api.conftest import Api

    assert isinstance(api, Api)
    with api.client("read") as reader:
        assert_error(reader.delete(f"/v1/clusters/{shop}"), 403)
    with api.client("other") as other:
        assert_error(other.delete(f"/v1/clusters/{shop}"), 403)


# -- HEAD --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/v1/clusters",
        "/v1/clusters/CLUSTER",
        "/v1/clusters/CLUSTER/snapshots",
        "/v1/clusters/CLUSTER/snapshots/latest",
        "/v1/clusters/CLUSTER/snapshots/latest/objects",
        "/v1/clusters/CLUSTER/snapshots/latest/connectivity?format=csv",
        "/v1/clusters/CLUSTER/snapshots/latest/lint",
        "/v1/clusters/CLUSTER/diff?base=1&head=1",
        "/docs",
        "/openapi.json",
    ],
)
def test_head_wherever_get(client: httpx.Client, shop: str, path: str) -> None:
    path = path.replace("CLUSTER", shop)
    got = client.get(path)
    head = client.head(path)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    if "x-netreach-snapshot" in got.headers:
        assert head.headers["x-netreach-snapshot"] == got.headers["x-netreach-snapshot"]


def test_head_of_a_missing_snapshot_is_404(client: httpx.Client, shop: str) -> None:
    response = client.head(f"/v1/clusters/{shop}/snapshots/99")
    assert response.status_code == 404
    assert response.content == b""


def test_head_where_there_is_no_get_is_405(client: httpx.Client, shop: str) -> None:
    assert client.head(f"/v1/clusters/{shop}/snapshots/latest/reachability").status_code == 405


def test_root_redirects_to_the_web_view(client: httpx.Client) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/ui/"
