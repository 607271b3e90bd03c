"""The ``netreach`` command line: the same engine as the service, no server needed.

Exit codes: 0 success (for ``query``: allowed); 1 ``query`` denied or partially allowed;
2 invalid input or usage.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from service.engine.connectivity import Granularity, connectivity_map
from service.engine.endpoints import EndpointError, EndpointNotFoundError
from service.engine.model import ManifestError, Protocol
from service.engine.options import AnalysisOptions, HostNetworkPods, PodIPsInIPBlocks
from service.engine.reachability import QueryError, check
from service.report.connectivity import (
    iter_map_csv,
    iter_map_dot,
    iter_map_json,
    iter_map_markdown,
)
from service.report.verdict import verdict_to_api, verdict_to_text
from service.usecases.manifests import Manifests, load_paths

app = typer.Typer(
    name="netreach",
    help="Who can talk to whom in a Kubernetes cluster, from its NetworkPolicies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_DENIED = 1
EXIT_INVALID = 2


class MapFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    MD = "md"
    DOT = "dot"


class VerdictFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


Paths = Annotated[
    list[Path],
    typer.Argument(help="Manifest files or directories (recursive; .yaml, .yml, .json)."),
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


def _fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    typer.echo(f"netreach: {message}", err=True)
    raise typer.Exit(code)


def _write(chunks: Iterable[str]) -> None:
    out = sys.stdout
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def _load(paths: list[Path]) -> Manifests:
    try:
        manifests = load_paths(paths)
    except ManifestError as error:
        for problem in error.problems:
            typer.echo(f"error: {problem}", err=True)
        _fail(f"{len(error.problems)} problem(s) in the input; nothing analysed")
    for warning in manifests.warnings:
        typer.echo(f"warning: {warning}", err=True)
    return manifests


@app.command()
def analyze(
    paths: Paths,
    granularity: Annotated[
        Granularity, typer.Option(help="Endpoints: pods, workloads or namespaces.")
    ] = Granularity.WORKLOAD,
    output_format: Annotated[MapFormat, typer.Option("--format", help="Output format.")] = (
        MapFormat.JSON
    ),
    namespace: Annotated[
        str | None, typer.Option(help="Only connections with an endpoint in this namespace.")
    ] = None,
    pod_ips_in_ipblocks: PodIPsOption = PodIPsInIPBlocks.MATCH,
    host_network_pods: HostNetworkOption = HostNetworkPods.EXEMPT,
) -> None:
    """Print every allowed connection (json is exactly the API's connectivity shape)."""
    options = AnalysisOptions(pod_ips_in_ipblocks, host_network_pods)
    compiled = _load(paths).compile(options)
    cmap = connectivity_map(compiled, granularity)
    if namespace:
        cmap = cmap.involving_namespace(namespace)
    renderers = {
        MapFormat.JSON: iter_map_json,
        MapFormat.CSV: iter_map_csv,
        MapFormat.MD: iter_map_markdown,
        MapFormat.DOT: iter_map_dot,
    }
    _write(renderers[output_format](cmap))


def _port(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


@app.command()
def query(
    paths: Paths,
    source: Annotated[
        str, typer.Option("--from", help="x/pod, x/Deployment/name, x/Service/name or an IP.")
    ],
    target: Annotated[str, typer.Option("--to", help="Same forms as --from.")],
    port: Annotated[
        str | None, typer.Option(help="Port number or name; omit to list allowed ports.")
    ] = None,
    protocol: Annotated[
        Protocol | None, typer.Option(help="TCP (default with --port), UDP or SCTP.")
    ] = None,
    output_format: Annotated[
        VerdictFormat, typer.Option("--format", help="text (default) or json.")
    ] = VerdictFormat.TEXT,
    pod_ips_in_ipblocks: PodIPsOption = PodIPsInIPBlocks.MATCH,
    host_network_pods: HostNetworkOption = HostNetworkPods.EXEMPT,
) -> None:
    """May --from open a connection to --to? Explains which policies and rules decide."""
    options = AnalysisOptions(pod_ips_in_ipblocks, host_network_pods)
    compiled = _load(paths).compile(options)
    try:
        verdict = check(compiled, source, target, port=_port(port), protocol=protocol)
    except (EndpointError, EndpointNotFoundError, QueryError) as error:
        _fail(str(error))
    if output_format is VerdictFormat.JSON:
        typer.echo(json.dumps(verdict_to_api(verdict), indent=2))
    else:
        typer.echo(verdict_to_text(verdict), nl=False)
    if not verdict.allowed:
        raise typer.Exit(EXIT_DENIED)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
