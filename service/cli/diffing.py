"""``diff`` (files, directories, git revisions of the current repository, or a server's
stored snapshots) and ``history`` (time travel over a server's versions)."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli import progress
from service.cli.app import (
    EXIT_FAILED,
    STDIN,
    ExcludeOption,
    HostNetworkOption,
    PodIPsOption,
    QuietOption,
    analysis_budget,
    checked,
    command_set,
    fail,
    load,
    quiet_if,
    write,
)
from service.engine.model.ports import Protocol
from service.engine.options import Granularity, HostNetworkPods, PodIPsInIPBlocks
from service.report.formats import DiffFormat, VerdictFormat

if TYPE_CHECKING:
    from service.engine.diff import Finding, SemanticDiff
    from service.report.diff import DiffSide
    from service.usecases.manifests import Manifests

commands = command_set()
SERVER_TIMEOUT = 300.0  # seconds to wait for a server side without --timeout


def _diff_side(
    spec: str, token: str | None, timeout: float, exclude: list[str]
) -> "tuple[Manifests, str]":
    """A file, a directory, ``-`` (standard input), or ``URL#CLUSTER@REF`` of a server
    (its stored objects)."""
    if spec == STDIN:
        return load([Path(STDIN)]), "<stdin>"
    if "#" not in spec or not spec.startswith(("http://", "https://")):
        if not Path(spec).exists():
            fail(f"{spec}: no such file or directory")
        return load([Path(spec)], exclude), spec
    return _stored_side(spec, token, timeout)


def _stored_side(spec: str, token: str | None, timeout: float) -> "tuple[Manifests, str]":
    from service.client import NetreachClient, NetreachError, UnreachableError
    from service.engine.model import Document, ManifestError, Origin
    from service.engine.parse.counts import CountLimits
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
        return from_documents(documents, counts=CountLimits.unbounded()), label  # validated
    except ManifestError as error:
        fail(f"{spec}: the stored objects do not validate: {error}")


def _parse_gates(fail_on: str | None) -> "frozenset[Finding]":
    from service.engine.diff import Finding

    gates: set[Finding] = set()
    for word in filter(None, (w.strip() for w in (fail_on or "").split(","))):
        try:
            gates.add(Finding(word))
        except ValueError:
            fail(f"--fail-on: unknown finding {word!r} (one of {', '.join(Finding)})")
    return frozenset(gates)


def _revision_side(ref: str, paths: list[str], exclude: list[str]) -> "tuple[Manifests, str]":
    """The manifests under ``paths`` at git revision ``ref`` of the current repository."""
    from service.ingest.git import GitError, Revision
    from service.usecases.manifests import load_sources

    try:
        revision = Revision.resolve(ref)
        files, warnings = revision.files(paths, exclude)
    except GitError as error:
        fail(f"--base-ref/--head-ref {ref}: {error}")
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    return checked(lambda: load_sources(files)), f"{ref}"


def _write_reports(
    directory: Path, result: "SemanticDiff", sides: "tuple[DiffSide, DiffSide]", comment: str
) -> None:
    """The comment, the full markdown report and the JSON report, for a CI job's artifact."""
    from service.report.diff import iter_diff_json, render_markdown

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "comment.md").write_text(comment, encoding="utf-8")
    full = render_markdown(result, *sides, limit=None, full_report="netreach-diff.json")
    (directory / "netreach-diff.md").write_text(full, encoding="utf-8")
    with (directory / "netreach-diff.json").open("w", encoding="utf-8") as out:
        for chunk in iter_diff_json(result, *sides):
            out.write(chunk)


@commands.command()
def diff(
    sides: Annotated[
        list[str],
        typer.Argument(
            help="BASE HEAD: files, directories, - (stdin) or URL#CLUSTER@REF. With "
            "--base-ref: the PATHs (files or directories) to read at both revisions.",
            show_default=False,
            metavar="BASE HEAD | PATH...",
        ),
    ],
    base_ref: Annotated[
        str | None,
        typer.Option(help="Git revision of the current repository to read PATHs at (base)."),
    ] = None,
    head_ref: Annotated[
        str | None,
        typer.Option(help="Git revision for the head (default: the working tree)."),
    ] = None,
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
            "cross-namespace, lost-ingress, lost-egress, narrowed-egress, any (any "
            "connection change)."
        ),
    ] = None,
    max_length: Annotated[
        int, typer.Option(help="Longest markdown, in characters (0: no limit).")
    ] = 65_536,
    full_report: Annotated[
        str | None,
        typer.Option(help="Where a reader finds what a cut comment leaves out (markdown)."),
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option(
            help="Also write comment.md, netreach-diff.md (full) and netreach-diff.json here."
        ),
    ] = None,
    exclude: ExcludeOption = None,
    token: Annotated[
        str | None, typer.Option(envvar="NETREACH_TOKEN", help="Bearer token for URL sides.")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            help="Stop when the command has run this many seconds (exit 3); also how long "
            "to wait for a server (default: no limit; 300 s for a server).",
        ),
    ] = None,
    pod_ips_in_ipblocks: PodIPsOption = PodIPsInIPBlocks.MATCH,
    host_network_pods: HostNetworkOption = HostNetworkPods.EXEMPT,
    quiet: QuietOption = False,
) -> None:
    """What does going from BASE to HEAD open or close, and which object changes did it?

    netreach diff BASE HEAD, or netreach diff --base-ref main [--head-ref HEAD] PATH...
    (the manifests under PATH at two revisions of this repository, no second checkout).
    Exit 0: no gated finding, 1: a gated finding (--fail-on), 2: invalid input, 3: past
    --timeout."""
    from service.engine.options import AnalysisOptions
    from service.report.comment import DEFAULT_FULL_REPORT
    from service.report.diff import DiffSide, iter_diff_json, render_markdown
    from service.usecases.compare import diff_manifests

    quiet_if(quiet)
    gates = _parse_gates(fail_on)
    patterns = exclude or []
    if base_ref is not None:
        old, old_label = _revision_side(base_ref, sides, patterns)
        if head_ref is not None:
            new, new_label = _revision_side(head_ref, sides, patterns)
        else:
            missing = [p for p in sides if not Path(p).exists()]
            if missing:
                fail(f"{missing[0]}: no such file or directory")
            new, new_label = load([Path(p) for p in sides], patterns), "working tree"
    elif head_ref is not None:
        fail("--head-ref needs --base-ref")
    elif len(sides) != 2:
        fail("give BASE and HEAD, or --base-ref REF and the PATHs to compare")
    elif sides[0] == sides[1] == STDIN:
        fail("only one side can be - (standard input)")
    else:
        wait = SERVER_TIMEOUT if timeout is None else timeout
        old, old_label = _diff_side(sides[0], token, wait, patterns)
        new, new_label = _diff_side(sides[1], token, wait, patterns)
    options = AnalysisOptions(pod_ips_in_ipblocks, host_network_pods)
    progress.stage("comparing")
    with analysis_budget(timeout) as deadline:
        result = diff_manifests(
            old, new, granularity=granularity, options=options, deadline=deadline
        )
    labels = DiffSide(old_label, {"source": old_label}), DiffSide(new_label, {"source": new_label})
    comment = render_markdown(
        result, *labels, limit=max_length or None, full_report=full_report or DEFAULT_FULL_REPORT
    )
    if report_dir is not None:
        _write_reports(report_dir, result, labels, comment)
    if output_format is DiffFormat.JSON:
        write(iter_diff_json(result, *labels))
    else:
        write([comment])
    gated = result.gated(gates)
    if gated:
        progress.stop()
        listed = ", ".join(f"{finding.value} ({count})" for finding, count in gated.items())
        typer.echo(f"netreach: gated findings: {listed}", err=True)
        raise typer.Exit(EXIT_FAILED)


@commands.command()
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
