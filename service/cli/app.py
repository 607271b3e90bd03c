"""The Typer application the command modules register on, and what they share."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from service.cli import progress
from service.engine.deadline import Deadline, DeadlineExceeded
from service.engine.options import HostNetworkPods, PodIPsInIPBlocks

if TYPE_CHECKING:
    from service.usecases.manifests import Manifests

app = typer.Typer(
    name="netreach",
    help="Who can talk to whom in a Kubernetes cluster, from its NetworkPolicies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, ...)
    rich_markup_mode=None,  # plain help: loading rich costs 90 ms on every --help
)


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
