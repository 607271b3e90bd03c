"""The diff, what-if and history routes over a real server (SQLite), and the CLI's
``URL#CLUSTER@REF`` sides and ``history`` command against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from service.cli import app
from service.store.migrate import upgrade
from service.usecases.diffs import apply_change
from tests.api.conftest import create_token, running_server, test_settings
from tests.diff.helpers import base_documents, case_change

runner = CliRunner()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'diff.db'}"
    upgrade(url)
    tokens = {
        "read": create_token(url, "read", "read"),
        "write": create_token(url, "write", "write"),
        "prod-only": create_token(url, "prod-only", "read", ("prod",)),
    }
    with running_server(test_settings(url)) as base_url:
        writer = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {tokens['write']}"}
        )
        base = base_documents()
        head = apply_change(base, case_change("new-ipblock-anywhere"))
        for cluster, versions in (("prod", (base, head)), ("staging", (head,))):
            for docs in versions:
                response = writer.post(f"/v1/clusters/{cluster}/snapshots", json=docs)
                assert response.status_code == 201, response.text
        yield base_url, tokens


def _client(server: tuple[str, dict[str, str]], token: str = "read") -> httpx.Client:
    base_url, tokens = server
    return httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {tokens[token]}"}, timeout=60
    )


def test_diff_of_two_versions(server: tuple[str, dict[str, str]]) -> None:
    with _client(server) as client:
        response = client.get("/v1/clusters/prod/diff", params={"base": "1", "head": "latest"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["summary"]["highlights"]["external_exposure"] == 1
        assert (body["base"]["version"], body["head"]["version"]) == (1, 2)
        md = client.get("/v1/clusters/prod/diff", params={"base": "1", "head": "2", "format": "md"})
        assert md.headers["content-type"].startswith("text/markdown")
        assert "Newly reachable from outside the cluster (1)" in md.text


def test_diff_across_clusters_and_its_errors(server: tuple[str, dict[str, str]]) -> None:
    with _client(server) as client:
        same = client.get("/v1/diff", params={"base": "prod@2", "head": "staging@latest"})
        assert same.status_code == 200
        assert same.json()["summary"]["connections"] == {"added": 0, "removed": 0, "changed": 0}
        for params, status in (
            ({"base": "prod@9", "head": "staging@1"}, 404),
            ({"base": "prod@x", "head": "staging@1"}, 422),
            ({"base": "@1", "head": "staging@1"}, 422),
        ):
            response = client.get("/v1/diff", params=params)
            assert response.status_code == status
            assert set(response.json()["error"]) == {"code", "message", "details"}
        bad = client.get(
            "/v1/clusters/prod/diff", params={"base": "1", "head": "2", "granularity": "x"}
        )
        assert bad.status_code == 422
    with _client(server, "prod-only") as client:
        response = client.get("/v1/diff", params={"base": "prod@1", "head": "staging@1"})
        assert response.status_code == 403


def test_what_if(server: tuple[str, dict[str, str]]) -> None:
    with _client(server) as client:
        response = client.post(
            "/v1/clusters/prod/snapshots/2/what-if",
            json={"delete": [{"kind": "NetworkPolicy", "namespace": "shop", "name": "allow-dns"}],
                  "format": "json"},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["highlights"]["lost_dns"]) == 3
        assert body["head"]["what_if"] == {"replaced_or_added": 0, "deleted": 1}
        invalid = client.post(
            "/v1/clusters/prod/snapshots/2/what-if",
            json={"manifests": [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                 "metadata": {"name": "p"}, "spec": {"podSelector": 5}}]},
        )  # fmt: skip
        assert invalid.status_code == 422
        assert invalid.json()["error"]["code"] == "invalid_manifests"
        versions = client.get("/v1/clusters/prod/snapshots").json()["items"]
        assert len(versions) == 2  # nothing stored


def test_history(server: tuple[str, dict[str, str]]) -> None:
    params = {"from": "203.0.113.9", "to": "shop/Deployment/web", "port": "8080"}
    with _client(server) as client:
        at = client.get("/v1/clusters/prod/history/reachability", params={**params, "at": 1})
        assert at.json()["state"] == "denied"
        first = client.get(
            "/v1/clusters/prod/history/reachability", params={**params, "first": "allowed"}
        )
        assert (first.json()["version"], first.json()["previous_version"]) == (2, 1)
        both = client.get(
            "/v1/clusters/prod/history/reachability",
            params={**params, "at": 1, "first": "allowed"},
        )
        assert both.status_code == 422


def test_cli_against_the_server(server: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    base_url, tokens = server
    env = {"NETREACH_TOKEN": tokens["read"]}
    result = runner.invoke(
        app,
        ["diff", f"{base_url}#prod@1", f"{base_url}#prod@2", "--format", "json",
         "--fail-on", "external-exposure"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 1
    assert json.loads(result.stdout)["summary"]["highlights"]["external_exposure"] == 1
    local = tmp_path / "head.json"
    local.write_text(json.dumps(apply_change(base_documents(), case_change("new-default-deny"))))
    mixed = runner.invoke(app, ["diff", f"{base_url}#prod@1", str(local)], env=env)
    assert mixed.exit_code == 0
    assert "Lost all ingress (1)" in mixed.stdout
    history = runner.invoke(
        app,
        ["history", "--server", base_url, "--cluster", "prod", "--from", "203.0.113.9",
         "--to", "shop/Deployment/web", "--port", "8080", "--first", "allowed"],
        env=env,
    )  # fmt: skip
    assert history.exit_code == 0, history.stdout
    assert "first allowed in version 2" in history.stdout
    denied = runner.invoke(
        app,
        ["history", "--server", base_url, "--cluster", "prod", "--from", "203.0.113.9",
         "--to", "shop/Deployment/web", "--port", "8080", "--at", "1"],
        env=env,
    )  # fmt: skip
    assert denied.exit_code == 1
    assert "DENIED" in denied.stdout
    unauthorised = runner.invoke(app, ["diff", f"{base_url}#prod@1", f"{base_url}#prod@2"])
    assert unauthorised.exit_code == 2


def test_stored_diffs_and_what_ifs_name_the_causes(server: tuple[str, dict[str, str]]) -> None:
    with _client(server) as client:
        body = client.get("/v1/clusters/prod/diff", params={"base": "1", "head": "2"}).json()
        [added] = body["connections"]["added"]
        assert added["causes"] == [
            {"kind": "policy-edited",
             "object": {"kind": "NetworkPolicy", "namespace": "shop", "name": "web"},
             "details": ["ingress rule 1 added"]}
        ]  # fmt: skip
        response = client.post(
            "/v1/clusters/prod/snapshots/1/what-if",
            json={"delete": [{"kind": "NetworkPolicy", "namespace": "shop", "name": "allow-dns"}]},
        )
        assert response.status_code == 200, response.text
        removed = response.json()["connections"]["removed"]
        assert removed
        for row in removed:
            assert row["causes"] == [
                {"kind": "policy-removed",
                 "object": {"kind": "NetworkPolicy", "namespace": "shop", "name": "allow-dns"},
                 "details": ["egress rule 0 peer 0"]}
            ]  # fmt: skip
        md = client.post(
            "/v1/clusters/prod/snapshots/1/what-if",
            json={"delete": [{"kind": "NetworkPolicy", "namespace": "shop", "name": "allow-dns"}],
                  "format": "md"},
        ).text  # fmt: skip
        assert "**`shop/NetworkPolicy/allow-dns` (removed: egress rule 0 peer 0)**: closed" in md
