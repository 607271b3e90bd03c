"""Start-up: file-only commands never import the database, web or HTTP layers.

Each command runs in a fresh interpreter, which then reports which of the heavy server-side
packages got imported. ``netreach --help`` must not even load the engine. A command imports
only its own module of service.cli (the others are imported for ``--help``).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.core
import typer.main

from service.cli import app
from service.cli.app import COMMAND_MODULES

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


COMMAND_MODULE_NAMES = {f"service.cli.{module}" for module in COMMAND_MODULES.values()}


@pytest.mark.parametrize("name", sorted(FILE_COMMANDS))
def test_a_command_imports_only_its_own_command_module(name: str) -> None:
    loaded = _loaded_modules(*FILE_COMMANDS[name])
    own = f"service.cli.{COMMAND_MODULES[name]}"
    assert loaded & COMMAND_MODULE_NAMES == {own}, sorted(loaded & COMMAND_MODULE_NAMES)


def test_help_lists_every_command_and_each_resolves() -> None:
    loaded = _loaded_modules("--help")
    assert loaded >= COMMAND_MODULE_NAMES
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    context = typer.Context(group)
    assert group.list_commands(context) == list(COMMAND_MODULES)
    for name in COMMAND_MODULES:
        command = group.get_command(context, name)
        assert command is not None, name
        assert command.help, name
    assert group.get_command(context, "no-such-command") is None


@pytest.mark.parametrize("module", sorted(set(COMMAND_MODULES.values())))
def test_the_table_names_every_command_a_module_defines(module: str) -> None:
    converted = typer.main.get_command(importlib.import_module(f"service.cli.{module}").commands)
    names = (
        set(converted.commands)
        if isinstance(converted, typer.core.TyperGroup)
        else {converted.name}
    )
    assert names == {name for name, owner in COMMAND_MODULES.items() if owner == module}


@pytest.mark.parametrize("module", sorted(set(COMMAND_MODULES.values())))
def test_command_signatures_hold_no_string_annotations(module: str) -> None:
    """Typer would evaluate them at every start (see service.cli)."""
    commands = importlib.import_module(f"service.cli.{module}").commands
    typers = [commands, *(group.typer_instance for group in commands.registered_groups)]
    callbacks = [c.callback for t in typers if t for c in t.registered_commands]
    assert callbacks
    for callback in callbacks:
        strings = {k: v for k, v in callback.__annotations__.items() if isinstance(v, str)}
        assert not strings, f"{callback.__name__}: {strings}"
