"""Start-up: file-only commands never import the database, web or HTTP layers.

Each command runs in a fresh interpreter, which then reports which of the heavy server-side
packages got imported. ``netreach --help`` must not even load the engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "service" / "demo"
SERVER_SIDE = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "httpx", "psycopg")
ENGINE = ("numpy", "service.engine.compile")

PROBE = """
import json, sys
from service.cli import app
try:
    app(sys.argv[1:], prog_name="netreach")
except SystemExit:
    pass
loaded = sorted({name.split(".")[0] for name in sys.modules} | set(sys.modules))
print(json.dumps(loaded), file=sys.stderr)
"""


def _loaded_modules(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


FILE_COMMANDS = {
    "analyze": ["analyze", str(DEMO / "v2.yaml"), "--format", "md"],
    "query": ["query", str(DEMO / "v2.yaml"), "--from", "shop/Deployment/web", "--to",
              "shop/Service/api", "--port", "80"],
    "lint": ["lint", str(DEMO / "v2.yaml")],
    "diff": ["diff", str(DEMO / "v1.yaml"), str(DEMO / "v2.yaml")],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FILE_COMMANDS))
def test_file_only_commands_never_import_server_side_packages(name: str) -> None:
    loaded = _loaded_modules(*FILE_COMMANDS[name])
    assert "service.engine.compile" in loaded, "the probe did not run the command"
    assert not loaded & set(SERVER_SIDE), f"{name} imported {sorted(loaded & set(SERVER_SIDE))}"


def test_help_loads_neither_the_engine_nor_the_server_side() -> None:
    loaded = _loaded_modules("--help")
    assert "service.cli" in loaded
    assert not loaded & {*SERVER_SIDE, *ENGINE}, sorted(loaded & {*SERVER_SIDE, *ENGINE})
