"""The Typer application the command modules register on, and what they share."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import typer.core
import typer.main

from service.cli import progress
from service.engine.collector import paused_gc
from service.engine.deadline import Deadline, DeadlineExceeded
from service.engine.options import HostNetworkPods, PodIPsInIPBlocks

if TYPE_CHECKING:
    from typer._click import Command, Context

    from service.usecases.manifests import Manifests

# Every command, in the order ``--help`` lists them, and the module of service.cli that
# defines it (on its own :func:`command_set`).
COMMAND_MODULES = {
    "analyze": "analysis",
    "query": "analysis",
    "lint": "analysis",
    "capture": "capture",
    "diff": "diffing",
    "history": "diffing",
    "github-comment": "github",
    "serve": "server",
    "demo": "server",
    "push": "server",
    "db": "server",
    "token": "server",
}


class _Commands(MutableMapping[str, "Command"]):
    """The commands by name, each module imported and converted by Typer (from the
    functions' signatures) when one of its commands is first looked up.

    Converting every command at each start took 15-25 ms, and importing every command
    module about 7 ms: a command now pays only for its own module; ``--help`` (which lists
    them all) for all of them, as before."""

    def __init__(self) -> None:
        self._built: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            module = COMMAND_MODULES[name]  # KeyError: no such command
            with paused_gc():
                commands = importlib.import_module(f"service.cli.{module}").commands
                converted = typer.main.get_command(commands)
            if isinstance(converted, typer.core.TyperGroup):
                self._built.update(converted.commands)
            else:  # a module of one command
                self._built[converted.name or name] = converted
            if name not in self._built:  # not a KeyError: that would read "no such command"
                raise RuntimeError(f"service.cli.{module} defines no command {name!r}")
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(COMMAND_MODULES), **self._built})

    def __len__(self) -> int:
        return len({**dict.fromkeys(COMMAND_MODULES), **self._built})


class _LazyGroup(typer.core.TyperGroup):
    """The root command: click's lazily loaded subcommands (its documented pattern), on
    Typer's group class so that help, errors and completion stay Typer's."""

    def __init__(self, **attributes: Any) -> None:
        super().__init__(**attributes)
        self.commands = _Commands()

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # the names only: nothing imported or converted


app = typer.Typer(
    name="netreach",
    cls=_LazyGroup,
    help="Who can talk to whom in a Kubernetes cluster, from its NetworkPolicies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, ...)
    rich_markup_mode=None,  # plain help: loading rich costs 90 ms on every --help
)


def command_set() -> typer.Typer:
    """The Typer a command module registers its commands on (listed in COMMAND_MODULES);
    the root :data:`app` converts it when one of them runs."""
    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"netreach {version('netreach')}")
        except PackageNotFoundError:
            typer.echo("netreach (not installed)")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress on standard error.")
    ] = False,
) -> None:
    """Who can talk to whom in a Kubernetes cluster, from its NetworkPolicies."""
    if quiet:
        progress.stop()


EXIT_DENIED = 1
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_TIMEOUT = 3
EXIT_DEPENDS_ON_DNS = 4  # query: only a domainNames rule (resolved at run time) decides

STDIN = "-"
Paths = Annotated[
    list[Path],
    typer.Argument(
        help="Manifest files or directories (recursive; .yaml, .yml, .json), or - to read "
        "standard input."
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        help="Skip paths matching this glob (repeatable): values.yaml, 'charts/*', "
        "'**/kustomization.yaml'.",
    ),
]
PodIPsOption = Annotated[
    PodIPsInIPBlocks,
    typer.Option(
        "--pod-ips-in-ipblocks",
        help="match: ipBlocks match pod IPs too (default); ignore: only external addresses.",
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on standard error.")]
HostNetworkOption = Annotated[
    HostNetworkPods,
    typer.Option(
        "--host-network-pods",
        help="exempt: policies do not apply to host-network pods (default); as-pods.",
    ),
]


TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0.001,
        help="Stop when the command has run this many seconds (exit 3). Default: no limit.",
    ),
]


@contextmanager
def analysis_budget(timeout: float | None) -> Iterator[Deadline]:
    """The deadline of ``--timeout`` (from now); past it, the analysis stops with exit 3."""
    try:
        yield Deadline.of(timeout)
    except DeadlineExceeded as error:
        fail(f"{error} (--timeout)", EXIT_TIMEOUT)


def quiet_if(quiet: bool) -> None:
    """A command's own --quiet."""
    if quiet:
        progress.stop()


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    progress.message(f"netreach: {message}")
    raise typer.Exit(code)


def write(chunks: Iterable[str]) -> None:
    progress.before_output()
    progress.stage("writing")
    out = sys.stdout
    for chunk in chunks:
        out.write(chunk)
    out.flush()


_own_process = False  # see claim_process


def claim_process() -> None:
    """Called by ``main``: this is the ``netreach`` process itself, not an in-process runner
    (tests), so :func:`end_process` may end it."""
    global _own_process
    _own_process = True


def end_process() -> None:
    """After a command's output is complete: in the ``netreach`` process, exit now.

    Freeing a large compiled cluster object by object, then tearing the interpreter down,
    takes about half a second for 100,000 pods, for memory the system reclaims at once.
    Elsewhere (an in-process runner) this returns and the command ends as usual.
    """
    if not _own_process:
        return
    progress.stop()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def load(
    paths: list[Path], exclude: list[str] | None = None, *, whole_bodies: bool = False
) -> Manifests:
    """Read and validate manifests (``-``: standard input, YAML or JSON) without the paths
    matching ``exclude``; print every problem and exit 2 when any is invalid."""
    from service.usecases.manifests import load_bytes, load_paths

    from_stdin = [p for p in paths if str(p) == STDIN]
    if from_stdin and (len(paths) > 1):
        fail("- (standard input) cannot be combined with other files")
    progress.stage("reading manifests")
    if from_stdin:
        return checked(lambda: load_bytes(sys.stdin.buffer.read(), source="<stdin>"))
    return checked(lambda: load_paths(paths, whole_bodies=whole_bodies, exclude=exclude or ()))


def checked(read: Callable[[], Manifests]) -> Manifests:
    """Run ``read``; print every problem and exit 2 when the input is invalid, else print
    the warnings."""
    from service.engine.model import ManifestError

    try:
        manifests = read()
    except ManifestError as error:
        for problem in error.problems:
            progress.message(f"error: {problem}")
        fail(f"{len(error.problems)} problem(s) in the input; nothing analysed")
    for warning in manifests.warnings:
        progress.message(f"warning: {warning}")
    return manifests
