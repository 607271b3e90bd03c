"""File-only analysis: ``analyze``, ``query`` and ``lint`` (no database, no server)."""

import json
from pathlib import Path
from typing import Annotated

import typer

from service.cli import progress
from service.cli.app import (
    EXIT_DENIED,
    EXIT_DEPENDS_ON_DNS,
    ExcludeOption,
    HostNetworkOption,
    Paths,
    PodIPsOption,
    QuietOption,
    TimeoutOption,
    analysis_budget,
    command_set,
    end_process,
    fail,
    load,
    quiet_if,
    write,
)
from service.engine.collector import paused_gc
from service.engine.model.ports import Protocol
from service.engine.options import Granularity, HostNetworkPods, PodIPsInIPBlocks
from service.report.formats import FailOn, LintFormat, MapFormat, VerdictFormat

commands = command_set()


@commands.command()
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
    quiet: QuietOption = False,
    exclude: ExcludeOption = None,
    timeout: TimeoutOption = None,
) -> None:
    """Print every allowed connection (json is exactly the API's connectivity shape)."""
    with paused_gc():
        from service.engine.connectivity import connectivity_map
        from service.engine.options import AnalysisOptions
        from service.report.connectivity import (
            iter_map_csv,
            iter_map_dot,
            iter_map_json,
            iter_map_markdown,
        )
        from service.usecases.manifests import compile_snapshot

    quiet_if(quiet)
    options = AnalysisOptions(pod_ips_in_ipblocks, host_network_pods)
    with analysis_budget(timeout) as deadline:
        cluster = load(paths, exclude).cluster  # the documents are freed before compiling
        progress.stage("compiling")
        compiled = compile_snapshot(cluster, options, deadline)
        progress.stage("mapping")
        cmap = connectivity_map(compiled, granularity, deadline)
    if namespace:
        cmap = cmap.involving_namespace(namespace)
    renderers = {
        MapFormat.JSON: iter_map_json,
        MapFormat.CSV: iter_map_csv,
        MapFormat.MD: iter_map_markdown,
        MapFormat.DOT: iter_map_dot,
    }
    write(renderers[output_format](cmap))
    end_process()  # before the cluster, its compiled form and the map are freed


def _port(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value.isascii() and value.isdigit() else value


@commands.command()
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
    quiet: QuietOption = False,
    exclude: ExcludeOption = None,
    timeout: TimeoutOption = None,
) -> None:
    """May --from open a connection to --to? Explains which policies and rules decide."""
    from service.engine.endpoints import EndpointError, EndpointNotFoundError
    from service.engine.options import AnalysisOptions
    from service.engine.reachability import QueryError, check
    from service.report.verdict import verdict_to_api, verdict_to_text

    quiet_if(quiet)
    options = AnalysisOptions(pod_ips_in_ipblocks, host_network_pods)
    with analysis_budget(timeout) as deadline:
        manifests = load(paths, exclude)
        progress.stage("compiling")
        compiled = manifests.compile(options, deadline)
        progress.stop()
        try:
            verdict = check(
                compiled, source, target, port=_port(port), protocol=protocol, deadline=deadline
            )
        except (EndpointError, EndpointNotFoundError, QueryError) as error:
            fail(str(error))
    if output_format is VerdictFormat.JSON:
        typer.echo(json.dumps(verdict_to_api(verdict), indent=2))
    else:
        typer.echo(verdict_to_text(verdict), nl=False)
    if not verdict.allowed:
        raise typer.Exit(EXIT_DEPENDS_ON_DNS if verdict.depends_on_dns else EXIT_DENIED)


@commands.command()
def lint(
    paths: Paths,
    output_format: Annotated[
        LintFormat, typer.Option("--format", help="text (default), json, md or sarif (2.1.0).")
    ] = LintFormat.TEXT,
    suppress: Annotated[
        list[str] | None,
        typer.Option(
            "--suppress",
            help="CODE, CODE:namespace/name, CODE:namespace/Kind/name or CODE:namespace "
            "(wildcards allowed); repeat or separate with commas.",
        ),
    ] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option(help="Exit 1 when a finding is at or above this severity (or none)."),
    ] = FailOn.ERROR,
    pod_ips_in_ipblocks: PodIPsOption = PodIPsInIPBlocks.MATCH,
    host_network_pods: HostNetworkOption = HostNetworkPods.EXEMPT,
    quiet: QuietOption = False,
    exclude: ExcludeOption = None,
    timeout: TimeoutOption = None,
) -> None:
    """Find NetworkPolicy mistakes, explain each and suggest the fix.

    Exit codes: 0 no finding at or above --fail-on; 1 otherwise; 2 invalid input; 3 past
    --timeout.
    Objects annotated netreach.io/lint-ignore: "NR003,NR005" (or "*") are exempt.
    """
    from service.engine.options import AnalysisOptions
    from service.usecases.errors import UseCaseError
    from service.usecases.lint import lint_manifests

    quiet_if(quiet)
    with analysis_budget(timeout) as deadline:
        manifests = load(paths, exclude)
        options = AnalysisOptions(pod_ips_in_ipblocks, host_network_pods)
        progress.stage("linting")
        try:
            report = lint_manifests(manifests, options, suppress or [], deadline)
        except UseCaseError as error:
            fail(error.message)
    write([report.render(output_format, base=Path.cwd())])
    if report.fails(fail_on):
        raise typer.Exit(1)
