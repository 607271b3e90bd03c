"""``GET /v1/clusters/{cluster}/snapshots/{ref}/lint`` over a real server (SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest

from tests.api.conftest import create_token, running_server, test_settings
from tests.lint.builders import DENY_EGRESS, base, policy

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())
OBJECTS = [
    *base(),
    policy("shop", "deny-egress", DENY_EGRESS),
    policy("shop", "allow-wbe", {"podSelector": {"matchLabels": {"app": "wbe"}}}),
    policy(
        "shop",
        "allow-typo",
        {"podSelector": {"matchLabels": {"app": "typo"}}},
        annotations={"netreach.io/lint-ignore": "NR003"},
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('lint-api') / 'netreach.db'}"
    with running_server(test_settings(database_url)) as base_url:
        tokens = {
            "read": create_token(database_url, "read", "read"),
            "write": create_token(database_url, "write", "write"),
        }
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {tokens['write']}"}
        ) as writer:
            response = writer.post("/v1/clusters/lint-shop/snapshots", json=OBJECTS)
            assert response.status_code == 201, response.text
        yield base_url, tokens


@pytest.fixture
def client(server: tuple[str, dict[str, str]]) -> Iterator[httpx.Client]:
    base_url, tokens = server
    headers = {"Authorization": f"Bearer {tokens['read']}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        yield client


URL = "/v1/clusters/lint-shop/snapshots/latest/lint"


def test_json_findings(client: httpx.Client) -> None:
    response = client.get(URL)
    assert response.status_code == 200, response.text
    answer = response.json()
    codes = {f["code"] for f in answer["findings"]}
    assert {"NR001", "NR003"} <= codes
    first = answer["findings"][0]
    assert {"severity", "code", "message", "object"} <= first.keys()
    assert "location" not in first  # stored snapshots came from a request body


def test_suppress_parameters(client: httpx.Client) -> None:
    answer = client.get(URL, params={"suppress": ["NR001", "NR003:shop/allow-wbe"]}).json()
    assert {f["code"] for f in answer["findings"]}.isdisjoint({"NR001", "NR003"})
    assert answer["suppressed"] >= 2


def test_annotation_suppresses(client: httpx.Client) -> None:
    answer = client.get(URL).json()
    named = {f["object"]["name"] for f in answer["findings"] if f["code"] == "NR003"}
    assert named == {"allow-wbe"}
    assert answer["suppressed"] == 1


def test_sarif_is_valid(client: httpx.Client) -> None:
    response = client.get(URL, params={"format": "sarif"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/sarif+json")
    jsonschema.validate(response.json(), SCHEMA)


@pytest.mark.parametrize(("fmt", "start"), [("md", "## NetworkPolicy lint"), ("text", "error")])
def test_text_formats(client: httpx.Client, fmt: str, start: str) -> None:
    response = client.get(URL, params={"format": fmt})
    assert response.status_code == 200
    assert response.text.startswith(start)


def test_bad_suppression_is_422(client: httpx.Client) -> None:
    response = client.get(URL, params={"suppress": "NR999"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"] == [{"field": "suppress"}]


def test_unknown_snapshot_is_404(client: httpx.Client) -> None:
    assert client.get("/v1/clusters/lint-shop/snapshots/99/lint").status_code == 404


def test_needs_a_token(server: tuple[str, dict[str, str]]) -> None:
    assert httpx.get(server[0] + URL).status_code == 401
