"""The server-side commands: token, db, serve's safety check, and push to a real server."""

from __future__ import annotations

import json
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


def test_version(run: Invoke) -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("netreach ")


def test_shell_completion_is_offered(run: Invoke) -> None:
    result = run("--help")
    assert "--install-completion" in result.stdout
    assert "--show-completion" in result.stdout


def test_push_reads_standard_input(api: Api, run: Invoke, tmp_path: Path) -> None:
    cluster = f"stdin-{api.backend}-{tmp_path.name[-6:].lower().replace('_', '-')}".strip("-")
    token = {"NETREACH_TOKEN": api.tokens["write"]}
    result = CliRunner().invoke(
        cli,
        ["push", "--server", api.base_url, "--cluster", cluster, "-"],
        input=SHOP_YAML,
        env=token,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{cluster} version 1 (created)"
    with api.client("admin") as client:
        stored = client.get(f"/v1/clusters/{cluster}/snapshots/latest/objects",
                            params={"kind": "Deployment"}).json()["items"]  # fmt: skip
    # push stores whole objects, not only what the analysis reads
    assert stored[0]["body"]["spec"]["template"]["spec"]["containers"][0]["image"]


def test_push_refused_by_the_server_shows_its_details(
    api: Api, run: Invoke, tmp_path: Path
) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP_YAML)
    refused = run(
        "push", "--server", api.base_url, "--cluster", "Not-Valid", str(tmp_path),
        env={"NETREACH_TOKEN": api.tokens["write"]},
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "422" in refused.output
    assert "path.cluster" in refused.output


@pytest.mark.parametrize("command", ["analyze", "lint"])
def test_file_commands_read_standard_input(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "-", "--format", "json"], input=SHOP_YAML)
    assert result.exit_code in (0, 1), result.output
    assert result.stdout.lstrip().startswith("{")


def test_query_reads_standard_input() -> None:
    result = CliRunner().invoke(
        cli, ["query", "-", "--from", "shop/api-0", "--to", "db/pg-0", "--port", "5432"],
        input=SHOP_YAML,
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_stdin_cannot_be_mixed_with_files(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP_YAML)
    result = CliRunner().invoke(cli, ["analyze", "-", str(tmp_path)], input=SHOP_YAML)
    assert result.exit_code == 2
    assert "standard input" in result.output


def test_diff_reads_one_side_from_standard_input(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(SHOP_YAML)
    result = CliRunner().invoke(
        cli, ["diff", str(tmp_path / "base.yaml"), "-", "--format", "json"],
        input=SHOP_YAML + "---\n" + WEB_TO_DB_YAML,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["head"]["source"] == "<stdin>"
    both = CliRunner().invoke(cli, ["diff", "-", "-"], input=SHOP_YAML)
    assert both.exit_code == 2
