"""Hostile and malformed uploads over a real server, on SQLite and PostgreSQL: each is a
clear 4xx naming the document and field (and nothing is stored), or is stored exactly as
written; never a 500, then or later."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import YAML, Api, assert_error, running_server, test_settings

JSON = {"Content-Type": "application/json"}


def _upload(client: httpx.Client, cluster: str, body: str | bytes, headers: dict[str, str]) -> Any:
    return client.post(f"/v1/clusters/{cluster}/snapshots", content=body, headers=headers)


def _refused(response: httpx.Response, status: int = 422) -> list[dict[str, Any]]:
    """The details of a refused upload (every one names its document)."""
    error = assert_error(response, status)
    assert all("document" in detail for detail in error["details"]), error
    return list(error["details"])


def _nothing_stored(client: httpx.Client, cluster: str) -> None:
    assert client.get(f"/v1/clusters/{cluster}/snapshots/latest").status_code == 404


# -- numbers ----------------------------------------------------------------------------------

BIG = 123456789012345678901234567890
NEGATIVE = -(10**308)
WIDGET = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w", "namespace": "shop"},
    "spec": {"big": BIG, "list": [NEGATIVE, 2**64], "small": 1},
}
POD = """apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
"""


def _widget(**spec: Any) -> dict[str, Any]:
    return {**WIDGET, "spec": {**WIDGET["spec"], **spec}}


def _bodies(client: httpx.Client, cluster: str, version: int) -> dict[str, Any]:
    response = client.get(f"/v1/clusters/{cluster}/snapshots/{version}/objects")
    assert response.status_code == 200, response.text
    return {item["kind"]: item["body"] for item in response.json()["items"]}


@pytest.mark.parametrize("form", ["json", "yaml"])
def test_integers_of_any_decodable_size_round_trip_exactly(
    api: Api, client: httpx.Client, cluster: str, form: str
) -> None:
    if form == "json":
        body, headers = json.dumps({"kind": "List", "apiVersion": "v1", "items": [WIDGET]}), JSON
    else:
        body, headers = json.dumps(WIDGET), YAML  # JSON is YAML: the YAML readers decode it
    first = _upload(client, cluster, body + ("\n---\n" + POD if form == "yaml" else ""), headers)
    assert first.status_code == 201, first.text
    second = _upload(client, cluster, json.dumps(_widget(big=BIG + 1)), JSON)
    assert second.status_code == 201, second.text
    version = first.json()["version"]
    stored = _bodies(client, cluster, version)["Widget"]
    assert stored["spec"] == WIDGET["spec"]
    assert type(stored["spec"]["big"]) is int
    diff = client.get("/v1/diff", params={"base": f"{cluster}@{version}", "head": f"{cluster}@2"})
    assert diff.status_code == 200, diff.text
    # A server started afresh on the same database reads them back just as exactly.
    with (
        running_server(test_settings(api.database_url)) as base_url,
        httpx.Client(base_url=base_url, headers=client.headers, timeout=60) as again,
    ):
        assert _bodies(again, cluster, version)["Widget"]["spec"] == WIDGET["spec"]
        for path in (
            f"/v1/clusters/{cluster}/snapshots/{version}/connectivity",
            f"/v1/diff?base={cluster}@{version}&head={cluster}@2",
        ):
            assert again.get(path).status_code == 200, path


@pytest.mark.parametrize(
    ("body", "headers", "field", "message"),
    [
        (
            '{"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"count": 1'
            + "0" * 309
            + "}}",
            JSON,
            "spec.count",
            "beyond the float64 range",
        ),
        (
            '{"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}, '
            '"spec": {"count": [1e400]}}',
            JSON,
            "spec.count[0]",
            "beyond the float64 range",
        ),
        (
            "apiVersion: v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  count: "
            + "9" * 5000
            + "\n",
            YAML,
            "spec.count",
            "(5000 characters) is beyond the float64 range",
        ),
        (
            '{"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"count": -'
            + "9" * 5000
            + "}}",
            JSON,
            "spec.count",
            "(5001 characters) is beyond",
        ),
        (
            POD.replace("80", str(2**63)),
            YAML,
            "spec.containers[0].ports[0].containerPort",
            "invalid port 9223372036854775808",
        ),
        (
            POD.replace("80", str(10**30)),
            YAML,
            "spec.containers[0].ports[0].containerPort",
            "invalid port 1000000000000000000000000000000",
        ),
    ],
    ids=[
        "310-digits-json",
        "1e400-json",
        "5000-digits-yaml",
        "5000-digits-json",
        "port-beyond-int64",
        "port-of-31-digits",
    ],
)
def test_numbers_kubernetes_refuses_are_422_naming_the_field(
    client: httpx.Client,
    cluster: str,
    body: str,
    headers: dict[str, str],
    field: str,
    message: str,
) -> None:
    [detail] = _refused(_upload(client, cluster, body, headers))
    assert detail["document"] == 0
    assert field in (detail.get("field") or detail["message"])
    assert message in detail["message"]
    _nothing_stored(client, cluster)
