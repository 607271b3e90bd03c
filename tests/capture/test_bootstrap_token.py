"""``netreach token create --secret-env VAR --exist-ok``: the bootstrap token of deploy/, whose
secret lives in a Kubernetes Secret, created once and accepted by the server."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner, Result

from service.cli import app as cli
from service.settings import get_settings
from tests.api.conftest import running_server, test_settings
from tests.conftest import ThrowawayDatabases

SECRET = "nr_" + "k" * 40


def test_a_bootstrap_token_from_the_environment(throwaway_databases: ThrowawayDatabases) -> None:
    url = throwaway_databases.create("sqlite")

    def token(*args: str, secret: str = SECRET) -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(
                cli,
                ["token", "create", "snapshotter", "--scope", "write", *args],
                env={"NETREACH_DATABASE_URL": url, "BOOTSTRAP": secret},
            )
        finally:
            get_settings.cache_clear()

    created = token("--secret-env", "BOOTSTRAP", "--exist-ok")
    assert created.exit_code == 0, created.output
    assert "created token 'snapshotter' with the given secret" in created.stderr
    assert SECRET not in created.output  # never printed
    again = token("--secret-env", "BOOTSTRAP", "--exist-ok")  # every pod start runs it
    assert again.exit_code == 0, again.output
    assert "exists with this secret: unchanged" in again.stderr
    assert token("--secret-env", "BOOTSTRAP").exit_code == 2  # without --exist-ok: taken
    other = token("--secret-env", "BOOTSTRAP", "--exist-ok", secret="nr_" + "o" * 40)
    assert other.exit_code == 2
    assert "exists with another secret" in other.stderr
    assert "unset or empty" in token("--secret-env", "NOT_SET").stderr
    short = token("--secret-env", "BOOTSTRAP", secret="nr_short")
    assert short.exit_code == 2
    assert "at least 32 characters" in short.stderr
    with running_server(test_settings(url)) as base_url:
        listed = httpx.get(f"{base_url}/v1/clusters", headers={"Authorization": f"Bearer {SECRET}"})
        assert listed.status_code == 200, listed.text
        anonymous = httpx.get(f"{base_url}/v1/clusters")
        assert anonymous.status_code == 401
