"""The server-side commands: token, db, serve's safety check, and push to a real server."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pytest
from typer.testing import CliRunner, Result

from service.cli import app as cli
from service.settings import get_settings
from tests.api.conftest import Api
from tests.api.manifests import INVALID_YAML, SHOP_YAML, WEB_TO_DB_YAML
from tests.conftest import ThrowawayDatabases


class Invoke(Protocol):
    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result: ...


@pytest.fixture
def run(throwaway_databases: ThrowawayDatabases) -> Invoke:
    """Invoke the CLI against a fresh SQLite database (``NETREACH_DATABASE_URL``)."""
    url = throwaway_databases.create("sqlite")

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(
                cli, list(args), env={"NETREACH_DATABASE_URL": url, **(env or {})}
            )
        finally:
            get_settings.cache_clear()

    return invoke


def test_token_lifecycle(run: Invoke) -> None:
    created = run("token", "create", "ci", "--scope", "write", "--cluster", "prod-*")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("nr_")
    assert run("token", "create", "ci", "--scope", "read").exit_code == 2  # name taken
    listed = run("token", "list")
    assert "prod-*" in listed.stdout
    assert secret not in listed.stdout
    assert run("token", "revoke", "ci").exit_code == 0
    assert "revoked" in run("token", "list").stdout
    assert run("token", "revoke", "ci").exit_code == 2
    assert run("token", "create", "x", "--scope", "root").exit_code == 2


def test_db_upgrade_and_current(run: Invoke) -> None:
    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    current = run("db", "current")
    assert current.exit_code == 0
    assert "head" in current.stdout


def test_serve_refuses_a_public_address_without_tokens(run: Invoke) -> None:
    refused = run("serve", "--host", "0.0.0.0", "--port", "1")
    assert refused.exit_code == 2
    assert "refusing" in refused.output


def test_push(api: Api, tmp_path: Path, run: Invoke) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP_YAML)
    cluster = f"push-{api.backend}-{tmp_path.name[-8:].lower().replace('_', '-')}".strip("-")
    args = ["push", "--server", api.base_url, "--cluster", cluster, str(tmp_path)]
    token = {"NETREACH_TOKEN": api.tokens["write"]}

    first = run(*args, "--source", "ci", "--label", "env=test", env=token)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == f"{cluster} version 1 (created)"
    again = run(*args, env=token)
    assert "version 1 (unchanged" in again.stdout
    (tmp_path / "more.yaml").write_text(WEB_TO_DB_YAML)
    assert "version 2 (created)" in run(*args, env=token).stdout

    denied = run(*args, env={"NETREACH_TOKEN": api.tokens["read"]})
    assert denied.exit_code == 1
    assert "403" in denied.output

    (tmp_path / "broken.yaml").write_text(INVALID_YAML)
    invalid = run(*args, env=token)
    assert invalid.exit_code == 2  # refused locally, nothing sent
    with api.client("admin") as client:
        versions = client.get(f"/v1/clusters/{cluster}/snapshots").json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["source"] == "ci"
    assert versions[1]["labels"] == {"env": "test"}


def test_push_to_an_unreachable_server_fails(tmp_path: Path, run: Invoke) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP_YAML)
    result = run("push", "--server", "http://127.0.0.1:1", "--cluster", "x", str(tmp_path))
    assert result.exit_code == 1
    assert "cannot reach" in result.output
