"""``diff`` (files, directories or a server's stored snapshots) and ``history`` (time
travel over a server's versions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli import progress
from service.cli.app import (
    EXIT_FAILED,
    STDIN,
    HostNetworkOption,
    PodIPsOption,
    QuietOption,
    app,
    fail,
    load,
    quiet_if,
    write,
)
from service.engine.model.ports import Protocol
from service.engine.options import Granularity, HostNetworkPods, PodIPsInIPBlocks
from service.report.formats import DiffFormat, VerdictFormat

if TYPE_CHECKING:
    from service.usecases.manifests import Manifests


def _diff_side(spec: str, token: str | None, timeout: float) -> tuple[Manifests, str]:
    """A file, a directory, ``-`` (standard input), or ``URL#CLUSTER@REF`` of a server
    (its stored objects)."""
    if spec == STDIN:
        return load([Path(STDIN)]), "<stdin>"
    if "#" not in spec or not spec.startswith(("http://", "https://")):
        if not Path(spec).exists():
            fail(f"{spec}: no such file or directory")
        return load([Path(spec)]), spec
    return _stored_side(spec, token, timeout)


def _stored_side(spec: str, token: str | None, timeout: float) -> tuple[Manifests, str]:
    from service.client import NetreachClient, NetreachError, UnreachableError
    from service.engine.model import Document, ManifestError, Origin
    from service.usecases.manifests import from_documents

    server, _, where = spec.partition("#")
    cluster, _, ref = where.partition("@")
    if not cluster:
        fail(f"{spec}: expected URL#CLUSTER@REF, e.g. http://127.0.0.1:8000#prod@latest")
    ref = ref or "latest"
    progress.stage(f"fetching {cluster}@{ref}")
    try:
        with NetreachClient(server, token=token, timeout=timeout) as api:
            version = api.snapshot(cluster, ref).version  # `latest` resolved once
            bodies = [stored.body for stored in api.objects(cluster, version)]
    except UnreachableError as error:
        fail(error.message)
    except NetreachError as error:
        fail(f"{spec}: the server answered {error}")
    label = f"{cluster}@{version}"
    documents = [Document(Origin(label, i), b) for i, b in enumerate(bodies)]
    try:
        return from_documents(documents), label
    except ManifestError as error:
        fail(f"{spec}: the stored objects do not validate: {error}")


@app.command()
def diff(
    base: Annotated[str, typer.Argument(help="File, directory, - (stdin), or URL#CLUSTER@REF.")],
    head: Annotated[str, typer.Argument(help="File, directory, - (stdin), or URL#CLUSTER@REF.")],
    granularity: Annotated[
        Granularity, typer.Option(help="Endpoints: pods, workloads or namespaces.")
    ] = Granularity.WORKLOAD,
    output_format: Annotated[
        DiffFormat, typer.Option("--format", help="md (a PR comment) or json (the API's).")
    ] = DiffFormat.MD,
    fail_on: Annotated[
        str | None,
        typer.Option(
            help="Exit 1 on these findings (comma-separated): external-exposure, lost-dns, "
            "cross-namespace, lost-ingress, lost-egress, any (any connection change)."
        ),
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="NETREACH_TOKEN", help="Bearer token for URL sides.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a server.")] = 300.0,
    pod_ips_in_ipblocks: PodIPsOption = PodIPsInIPBlocks.MATCH,
    host_network_pods: HostNetworkOption = HostNetworkPods.EXEMPT,
    quiet: QuietOption = False,
) -> None:
    """What does going from BASE to HEAD open or close? Exit 0: no gated finding, 1: a gated
    finding (--fail-on), 2: invalid input."""
    from service.engine.diff import Finding
    from service.engine.options import AnalysisOptions
    from service.report.diff import DiffSide, iter_diff_json, render_markdown
    from service.usecases.compare import diff_manifests

    quiet_if(quiet)
    gates: set[Finding] = set()
    for word in filter(None, (w.strip() for w in (fail_on or "").split(","))):
        try:
            gates.add(Finding(word))
        except ValueError:
            fail(f"--fail-on: unknown finding {word!r} (one of {', '.join(Finding)})")
    if base == head == STDIN:
        fail("only one side can be - (standard input)")
    old, old_label = _diff_side(base, token, timeout)
    new, new_label = _diff_side(head, token, timeout)
    options = AnalysisOptions(pod_ips_in_ipblocks, host_network_pods)
    progress.stage("comparing")
    result = diff_manifests(old, new, granularity=granularity, options=options)
    sides = DiffSide(old_label, {"source": old_label}), DiffSide(new_label, {"source": new_label})
    if output_format is DiffFormat.JSON:
        write(iter_diff_json(result, *sides))
    else:
        write([render_markdown(result, *sides)])
    gated = result.gated(frozenset(gates))
    if gated:
        progress.stop()
        listed = ", ".join(f"{finding.value} ({count})" for finding, count in gated.items())
        typer.echo(f"netreach: gated findings: {listed}", err=True)
        raise typer.Exit(EXIT_FAILED)


@app.command()
def history(
    server: Annotated[
        str, typer.Option(envvar="NETREACH_SERVER", help="Base URL, e.g. http://127.0.0.1:8000")
    ],
    cluster: Annotated[str, typer.Option(help="Cluster name.")],
    source: Annotated[
        str, typer.Option("--from", help="x/pod, x/Deployment/name, x/Service/name or an IP.")
    ],
    target: Annotated[str, typer.Option("--to", help="Same forms as --from.")],
    port: Annotated[str | None, typer.Option(help="Port number or name.")] = None,
    protocol: Annotated[Protocol | None, typer.Option(help="TCP (default), UDP or SCTP.")] = None,
    at: Annotated[int | None, typer.Option(help="Was it allowed in this version?")] = None,
    first: Annotated[
        str | None, typer.Option(help="allowed|denied: which version first was (bisection)?")
    ] = None,
    output_format: Annotated[
        VerdictFormat, typer.Option("--format", help="text (default) or json.")
    ] = VerdictFormat.TEXT,
    token: Annotated[
        str | None, typer.Option(envvar="NETREACH_TOKEN", help="Bearer token.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the server.")] = 300.0,
) -> None:
    """Time travel over stored versions. --at: exit 0 allowed, 1 not. --first: exit 0 found,
    1 never."""
    from service.client import NetreachClient, NetreachError, UnreachableError

    if (at is None) == (first is None):
        fail("give exactly one of --at N and --first allowed|denied")
    if first is not None and first not in ("allowed", "denied"):
        fail("--first must be allowed or denied")
    try:
        with NetreachClient(server, token=token, timeout=timeout) as api:
            answer = api.history(
                cluster,
                source,
                target,
                port=int(port) if port is not None and port.isascii() and port.isdigit() else port,
                protocol=protocol.value if protocol is not None else None,
                at=at,
                first="allowed" if first == "allowed" else "denied" if first else None,
            )
    except UnreachableError as error:
        fail(error.message, EXIT_FAILED)
    except NetreachError as error:
        fail(f"the server answered {error}")
    if output_format is VerdictFormat.JSON:
        typer.echo(json.dumps(answer, indent=2))
    elif at is not None:
        typer.echo(f"version {answer['version']}: {answer['state'].upper()}: "
                   f"{source} -> {target}")  # fmt: skip
        if answer.get("note"):
            typer.echo(f"note: {answer['note']}")
    else:
        typer.echo(answer["note"])
        for item in answer["probes"]:
            typer.echo(f"  version {item['version']}: {item['state']}")
    found = answer["state"] == "allowed" if at is not None else answer["version"] is not None
    if not found:
        raise typer.Exit(EXIT_FAILED)
