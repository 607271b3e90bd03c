"""The Typer application the command modules register on, and what they share."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from service.engine.options import HostNetworkPods, PodIPsInIPBlocks

if TYPE_CHECKING:
    from service.usecases.manifests import Manifests

app = typer.Typer(
    name="netreach",
    help="Who can talk to whom in a Kubernetes cluster, from its NetworkPolicies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: loading rich costs 90 ms on every --help
)

EXIT_DENIED = 1
EXIT_FAILED = 1
EXIT_INVALID = 2

Paths = Annotated[
    list[Path],
    typer.Argument(help="Manifest files or directories (recursive; .yaml, .yml, .json)."),
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
HostNetworkOption = Annotated[
    HostNetworkPods,
    typer.Option(
        "--host-network-pods",
        help="exempt: policies do not apply to host-network pods (default); as-pods.",
    ),
]


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    typer.echo(f"netreach: {message}", err=True)
    raise typer.Exit(code)


def write(chunks: Iterable[str]) -> None:
    out = sys.stdout
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def load(paths: list[Path], exclude: list[str] | None = None) -> Manifests:
    """Read and validate manifests; print every problem and exit 2 when any is invalid."""
    from service.usecases.manifests import load_paths

    return checked(lambda: load_paths(paths, exclude=exclude or ()))


def checked(read: Callable[[], Manifests]) -> Manifests:
    """Run ``read``; print every problem and exit 2 when the input is invalid, else print
    the warnings."""
    from service.engine.model import ManifestError

    try:
        manifests = read()
    except ManifestError as error:
        for problem in error.problems:
            typer.echo(f"error: {problem}", err=True)
        fail(f"{len(error.problems)} problem(s) in the input; nothing analysed")
    for warning in manifests.warnings:
        typer.echo(f"warning: {warning}", err=True)
    return manifests
