"""Connectivity maps in four formats (and paginated JSON), and reachability verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from service.cli import app as cli
from tests.api.conftest import MAX_PAGE_SIZE, assert_error
from tests.api.manifests import SHOP_YAML


def connectivity(client: httpx.Client, cluster: str, **params: object) -> httpx.Response:
    return client.get(f"/v1/clusters/{cluster}/snapshots/latest/connectivity", params=params)  # type: ignore[arg-type]


def reachability(client: httpx.Client, cluster: str, body: object, **params: str) -> httpx.Response:
    return client.post(
        f"/v1/clusters/{cluster}/snapshots/latest/reachability", json=body, params=params
    )


@pytest.mark.parametrize("granularity", ["pod", "workload", "namespace"])
def test_json_is_exactly_the_cli_analyze_output(
    client: httpx.Client, shop: str, granularity: str, tmp_path: Path
) -> None:
    response = connectivity(client, shop, granularity=granularity)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    manifest = tmp_path / "shop.yaml"
    manifest.write_text(SHOP_YAML)
    result = CliRunner().invoke(
        cli, ["analyze", str(manifest), "--granularity", granularity, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    answer = response.json()
    assert answer["connections"] == json.loads(result.stdout)["connections"]
    assert set(json.loads(result.stdout)) == {"connections"}
    # The API adds which snapshot it answers, and that the map is whole.
    assert answer["cluster"] == shop
    assert answer["version"] == 1
    assert answer["limit"] is None
    assert answer["next_cursor"] is None
    assert answer["total"] == len(answer["connections"])
    assert response.headers["x-netreach-snapshot"] == f"{shop}@1"


def test_workload_map(client: httpx.Client, shop: str) -> None:
    connections = connectivity(client, shop).json()["connections"]
    assert {
        "from": {"kind": "Pod", "namespace": "shop", "name": "api-0"},
        "to": {"kind": "Pod", "namespace": "db", "name": "pg-0"},
        "ports": [{"protocol": "TCP", "port": 5432}],
    } in connections
    web = {"kind": "Deployment", "namespace": "shop", "name": "web"}
    pg = {"kind": "Pod", "namespace": "db", "name": "pg-0"}
    assert not [c for c in connections if c["from"] == web and c["to"] == pg]
    assert {"kind": "IPBlock", "cidr": "0.0.0.0/0"} in [c["to"] for c in connections]


def test_namespace_filter(client: httpx.Client, shop: str) -> None:
    connections = connectivity(client, shop, namespace="monitoring").json()["connections"]
    assert connections
    for c in connections:
        assert "monitoring" in (c["from"].get("namespace"), c["to"].get("namespace"))
    error = assert_error(connectivity(client, shop, namespace="monitorin"), 404, "not_found")
    assert "did you mean 'monitoring'" in error["message"]
    assert error["details"][0]["suggestions"] == ["monitoring"]
    assert error["details"][0]["field"] == "query.namespace"


@pytest.mark.parametrize(
    ("fmt", "media", "start"),
    [
        ("csv", "text/csv", "from,to,ports\n"),
        ("md", "text/markdown", "### Connectivity (workload granularity)"),
        ("dot", "text/vnd.graphviz", "digraph connectivity {"),
    ],
)
def test_text_formats(client: httpx.Client, shop: str, fmt: str, media: str, start: str) -> None:
    response = connectivity(client, shop, format=fmt)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media
    assert response.text.startswith(start)
    assert "shop/api-0" in response.text
    assert "TCP 5432" in response.text


def test_paginated_json_walks_the_whole_map(client: httpx.Client, shop: str) -> None:
    whole = connectivity(client, shop, granularity="pod").json()["connections"]
    collected: list[object] = []
    cursor = None
    while True:
        params: dict[str, object] = {"granularity": "pod", "limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = connectivity(client, shop, **params).json()
        assert set(page) == {
            "cluster", "version", "granularity", "total", "limit", "next_cursor", "connections"
        }  # fmt: skip
        assert page["granularity"] == "pod"
        assert page["total"] == len(whole)
        assert len(page["connections"]) <= 5
        collected += page["connections"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert collected == whole
    capped = connectivity(client, shop, limit=10**6).json()
    assert capped["limit"] == MAX_PAGE_SIZE


def test_analysis_options_change_the_answer(client: httpx.Client, shop: str) -> None:
    default = connectivity(client, shop, pod_ips_in_ipblocks="match", host_network_pods="exempt")
    other = connectivity(client, shop, pod_ips_in_ipblocks="ignore", host_network_pods="as-pods")
    assert default.status_code == other.status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"granularity": "cluster"}, "query.granularity"),
        ({"format": "xml"}, "query.format"),
        ({"pod_ips_in_ipblocks": "sometimes"}, "query.pod_ips_in_ipblocks"),
        ({"host_network_pods": "maybe"}, "query.host_network_pods"),
        ({"limit": -1}, "query.limit"),
        ({"limit": "many"}, "query.limit"),
        ({"cursor": "c.bm9wZQ"}, "query.cursor"),
        ({"cursor": "o.MQ"}, "query.cursor"),
        ({"format": "csv", "limit": 5}, "query.limit"),
    ],
)
def test_bad_connectivity_parameters_are_422(
    client: httpx.Client, shop: str, params: dict[str, object], field: str
) -> None:
    error = assert_error(connectivity(client, shop, **params), 422)
    assert field in [d.get("field") for d in error["details"]]


# -- reachability ------------------------------------------------------------------------


def test_allowed_on_a_named_port_with_explanation(client: httpx.Client, shop: str) -> None:
    response = reachability(client, shop, {"from": "shop/api-0", "to": "db/pg-0", "port": "pg"})
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert verdict["allowed"] is True
    assert verdict["ports"] == [{"protocol": "TCP", "port": 5432}]
    ingress = verdict["explanation"]["ingress"]
    assert ingress["isolated"] is True
    assert {"namespace": "db", "name": "pg-from-api"} in ingress["policies"]
    assert [e["policy"]["name"] for e in ingress["effects"]] == ["pg-from-api"]
    assert verdict["explanation"]["egress"]["isolated"] is False
    assert len(verdict["pairs"]) == verdict["pair_count"] == 1


def test_denied_from_a_workload_says_why(client: httpx.Client, shop: str) -> None:
    body = {"from": "shop/Deployment/web", "to": "db/pg-0", "port": 5432, "protocol": "TCP"}
    verdict = reachability(client, shop, body).json()
    assert verdict["allowed"] is False
    assert verdict["ports"] == []
    ingress = verdict["explanation"]["ingress"]
    assert ingress["isolated"] is True
    assert "default-deny" in ingress["reason"]


def test_service_endpoint_and_numeric_port_as_text(client: httpx.Client, shop: str) -> None:
    body = {"from": "shop/api-0", "to": "db/Service/pg", "port": "5432"}
    verdict = reachability(client, shop, body).json()
    assert verdict["allowed"] is True
    assert verdict["pairs"][0]["to"] == "db/pg-0"


def test_any_port_lists_allowed_ports(client: httpx.Client, shop: str) -> None:
    verdict = reachability(
        client, shop, {"from": "monitoring/prometheus-0", "to": "db/pg-0"}
    ).json()
    assert verdict["allowed"] is True
    assert verdict["ports"] == [{"protocol": "TCP", "port": 9187}]


def test_external_address_is_denied_into_the_database(client: httpx.Client, shop: str) -> None:
    verdict = reachability(client, shop, {"from": "203.0.113.9", "to": "db/pg-0"}).json()
    assert verdict["allowed"] is False


def test_unknown_endpoint_is_404_naming_the_field(client: httpx.Client, shop: str) -> None:
    error = assert_error(
        reachability(client, shop, {"from": "shop/api-0", "to": "db/Service/nope"}), 404
    )
    assert error["details"] == [{"field": "to"}]
    error = assert_error(reachability(client, shop, {"from": "shop/ghost", "to": "db/pg-0"}), 404)
    assert error["details"] == [{"field": "from"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "shop", "to": "db/pg-0"}, "from"),
        ({"from": "shop/api-0", "to": "a/b/c/d"}, "to"),
        ({"from": "shop/api-0"}, "body.to"),
        ({"from": "", "to": "db/pg-0"}, "body.from"),
        ({"from": "shop/api-0", "to": "db/pg-0", "port": 70000}, "body.port"),
        ({"from": "shop/api-0", "to": "db/pg-0", "port": "99999"}, "body.port"),
        ({"from": "shop/api-0", "to": "db/pg-0", "port": True}, "body.port"),
        ({"from": "shop/api-0", "to": "db/pg-0", "port": 1.5}, "body.port"),
        ({"from": "shop/api-0", "to": "db/pg-0", "protocol": "ICMP"}, "body.protocol"),
        ({"from": "shop/api-0", "to": "db/pg-0", "extra": 1}, "body.extra"),
        ({"from": 1, "to": "db/pg-0"}, "body.from"),
        ([], "body"),
        (None, "body"),
    ],
)
def test_malformed_queries_are_422(
    client: httpx.Client, shop: str, body: object, field: str
) -> None:
    error = assert_error(reachability(client, shop, body), 422)
    fields = [d.get("field") for d in error["details"]]
    assert any(f == field or str(f).startswith(field + ".") for f in fields), error


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"{not json", {"Content-Type": "application/json"}),
        (b"", {"Content-Type": "application/json"}),
        (b'{"from": "shop/api-0", "to": "db/pg-0"}', {"Content-Type": "text/plain"}),
    ],
)
def test_unreadable_query_bodies_are_422(
    client: httpx.Client, shop: str, content: bytes, headers: dict[str, str]
) -> None:
    response = client.post(
        f"/v1/clusters/{shop}/snapshots/latest/reachability", content=content, headers=headers
    )
    assert_error(response, 422)


def test_options_as_query_parameters(client: httpx.Client, shop: str) -> None:
    body = {"from": "shop/api-0", "to": "db/pg-0", "port": 5432}
    ok = reachability(client, shop, body, pod_ips_in_ipblocks="ignore", host_network_pods="as-pods")
    assert ok.json()["allowed"] is True
    assert_error(reachability(client, shop, body, host_network_pods="sure"), 422)


def test_missing_snapshot_is_404(client: httpx.Client, shop: str) -> None:
    response = client.post(
        f"/v1/clusters/{shop}/snapshots/9/reachability",
        json={"from": "shop/api-0", "to": "db/pg-0"},
    )
    assert_error(response, 404, "not_found")
    assert json.loads(response.text)["error"]["message"]


def test_absurdly_nested_query_body_is_400(client: httpx.Client, shop: str) -> None:
    response = client.post(
        f"/v1/clusters/{shop}/snapshots/latest/reachability",
        content=b"[" * 100_000,
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "bad_request")
