"""The ``netreach`` command line: the same engine as the service, no server needed.

Exit codes: 0 success (for ``query``: allowed); 1 ``query`` denied or partially allowed;
2 invalid input or usage.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

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
from service.usecases.lint import FailOn, LintFormat, lint_manifests
from service.usecases.manifests import Manifests, load_paths

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session, sessionmaker

    from service.settings import Settings

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


# -- serve, db, token, push -----------------------------------------------------------
# Imports of the server side stay inside the commands: `analyze` and `query` need none of
# FastAPI, uvicorn or the database.

db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: bearer secrets with scopes.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")

EXIT_FAILED = 1


class TokenScope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


def _settings(**overrides: object) -> Settings:
    """Settings from the environment (``NETREACH_*``), CLI flags overriding."""
    from service.settings import Settings, get_settings

    given = {key: value for key, value in overrides.items() if value is not None}
    if not given:
        return get_settings()
    return Settings(**{**get_settings().model_dump(), **given})


@contextmanager
def _database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database, migrated first when ``migrate_on_start``."""
    from service.store import make_engine, make_session_factory
    from service.store.migrate import upgrade

    if settings.migrate_on_start:
        upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [8000].")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes [1].")] = None,
    insecure: Annotated[
        bool,
        typer.Option(help="Serve /v1 without tokens on a non-loopback address (never in prod)."),
    ] = False,
) -> None:
    """Run the API (uvicorn). Settings come from NETREACH_* variables; flags override them."""
    import os

    import uvicorn

    from service.api.auth import is_loopback
    from service.settings import get_settings
    from service.store import TokenRepository

    settings = _settings(host=host, port=port, workers=workers, insecure=insecure or None)
    with _database(settings) as factory, factory() as session:
        tokens_exist = TokenRepository(session).any_active()
    where = f"{settings.host}:{settings.port}"
    if not tokens_exist:
        if not is_loopback(settings.host) and not settings.insecure:
            _fail(
                f"refusing to serve on {where} (not a loopback address) while no API token "
                "exists: create one with `netreach token create NAME --scope admin`, or pass "
                "--insecure to serve /v1 open to anyone who can reach it"
            )
        typer.echo(
            f"WARNING: no API token exists: /v1 on {where} is OPEN, without authentication. "
            "Create a token with `netreach token create` to require one.",
            err=True,
        )
    # Worker processes build their app from the environment: hand the resolved settings on.
    # The schema was migrated above, once, so the workers do not race to migrate it.
    os.environ.update(
        {
            "NETREACH_DATABASE_URL": settings.database_url,
            "NETREACH_HOST": settings.host,
            "NETREACH_PORT": str(settings.port),
            "NETREACH_WORKERS": str(settings.workers),
            "NETREACH_INSECURE": "true" if settings.insecure else "false",
            "NETREACH_MIGRATE_ON_START": "false",
        }
    )
    get_settings.cache_clear()
    uvicorn.run(
        "service.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,  # the app logs one structured line per request
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=30,
    )


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Port [8000].")] = None,
) -> None:
    """Load the demo cluster (two versions of a small shop), print curl examples, serve."""
    from service.usecases.demo import curl_examples, load_demo

    settings = _settings(host="127.0.0.1", port=port, workers=None, insecure=None)
    with _database(settings) as factory, factory() as session:
        records = load_demo(session)
    versions = ", ".join(str(r.version) for r in records)
    base = f"http://{settings.host}:{settings.port}"
    typer.echo(f"demo cluster loaded (versions {versions}) into {settings.database_url}")
    typer.echo("try, once the server is up:\n  " + "\n  ".join(curl_examples(base)) + "\n")
    serve(host=settings.host, port=settings.port, workers=1, insecure=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database (NETREACH_DATABASE_URL) to the latest schema."""
    from service.store.migrate import current_revision, upgrade

    settings = _settings()
    upgrade(settings.database_url)
    typer.echo(f"database at revision {current_revision(settings.database_url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and the code's; exit 1 if they differ."""
    from service.store.migrate import current_revision, head_revision

    current, head = current_revision(_settings().database_url), head_revision()
    typer.echo(f"current: {current or '(empty database)'}\nhead:    {head}")
    if current != head:
        raise typer.Exit(EXIT_FAILED)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="A unique name (who or what uses it).")],
    scope: Annotated[
        TokenScope, typer.Option(help="read; write (implies read); admin (implies both).")
    ],
    cluster: Annotated[
        list[str] | None,
        typer.Option(help="Only clusters matching this fnmatch pattern (repeatable)."),
    ] = None,
) -> None:
    """Create a token and print its secret (shown once, stored only as a hash)."""
    from service.store import InvalidTokenError, TokenNameTakenError, TokenRepository

    try:
        with _database(_settings()) as factory, factory() as session, session.begin():
            record, secret = TokenRepository(session).create(name, [scope.value], cluster or ())
    except (InvalidTokenError, TokenNameTakenError) as error:
        _fail(str(error))
    clusters = ", ".join(record.clusters) or "all clusters"
    typer.echo(f"created token {record.name!r}: scope {scope.value}, {clusters}", err=True)
    typer.echo("the secret is shown once; store it now:", err=True)
    typer.echo(secret)


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    from service.store import TokenRepository

    with _database(_settings()) as factory, factory() as session:
        records = TokenRepository(session).list()
    if not records:
        typer.echo("no tokens: /v1 is open on loopback addresses only", err=True)
        return
    typer.echo(f"{'NAME':24} {'SCOPES':18} {'CLUSTERS':24} {'CREATED':20} STATUS")
    for record in records:
        status = "active" if record.active else f"revoked {record.revoked_at:%Y-%m-%d %H:%M}"
        typer.echo(
            f"{record.name:24} {','.join(record.scopes):18} "
            f"{','.join(record.clusters) or '*':24} {record.created_at:%Y-%m-%d %H:%M}     "
            f"{status}"
        )


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: requests with it are refused from now on."""
    from service.store import TokenRepository

    with _database(_settings()) as factory, factory() as session, session.begin():
        revoked = TokenRepository(session).revoke(name)
    if not revoked:
        _fail(f"no active token named {name!r}")
    typer.echo(f"revoked token {name!r}")


@app.command()
def push(
    paths: Paths,
    server: Annotated[
        str, typer.Option(envvar="NETREACH_SERVER", help="Base URL, e.g. http://127.0.0.1:8000")
    ],
    cluster: Annotated[str, typer.Option(help="Cluster name.")],
    token: Annotated[
        str | None, typer.Option(envvar="NETREACH_TOKEN", help="Bearer token.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Where the manifests came from.")] = None,
    label: Annotated[
        list[str] | None, typer.Option(help="key=value label of the snapshot (repeatable).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the server.")] = 300.0,
) -> None:
    """Validate manifests locally, then store them on a server as the cluster's next version."""
    from urllib.parse import quote

    import httpx

    manifests = _load(paths)
    body = json.dumps([document.body for document in manifests.documents])
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    params = httpx.QueryParams([("source", source)] if source else [])
    for item in label or ():
        params = params.add("label", item)
    url = f"{server.rstrip('/')}/v1/clusters/{quote(cluster, safe='')}/snapshots"
    try:
        response = httpx.post(url, content=body, headers=headers, params=params, timeout=timeout)
    except httpx.HTTPError as error:
        _fail(f"cannot reach {server}: {error}", EXIT_FAILED)
    if response.status_code not in (200, 201):
        try:
            error_body = response.json()["error"]
            message, details = str(error_body["message"]), list(error_body.get("details", []))
        except (ValueError, KeyError, TypeError):
            message, details = response.text.strip()[:500], []
        for detail in details[:50]:
            typer.echo(f"error: {json.dumps(detail)}", err=True)
        _fail(
            f"server refused the snapshot ({response.status_code}): {message}",
            EXIT_INVALID if response.status_code in (413, 415, 422) else EXIT_FAILED,
        )
    stored = response.json()
    outcome = "created" if response.status_code == 201 else "unchanged: identical content"
    typer.echo(f"{stored['cluster']} version {stored['version']} ({outcome})")


# -- diff and history ------------------------------------------------------------------


class DiffFormat(StrEnum):
    MD = "md"
    JSON = "json"


def _diff_side(spec: str, token: str | None, timeout: float) -> tuple[Manifests, str]:
    """A file, a directory, or ``URL#CLUSTER@REF`` of a server (its stored objects)."""
    from urllib.parse import quote

    import httpx

    from service.engine.model import Document, Origin
    from service.usecases.manifests import from_documents

    if "#" not in spec or not spec.startswith(("http://", "https://")):
        if not Path(spec).exists():
            _fail(f"{spec}: no such file or directory")
        return _load([Path(spec)]), spec
    server, _, where = spec.partition("#")
    cluster, _, ref = where.partition("@")
    if not cluster:
        _fail(f"{spec}: expected URL#CLUSTER@REF, e.g. http://127.0.0.1:8000#prod@latest")
    ref = ref or "latest"
    url = (
        f"{server.rstrip('/')}/v1/clusters/{quote(cluster, safe='')}/snapshots/"
        f"{quote(ref, safe='')}/objects"
    )
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    bodies: list[dict[str, object]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
        try:
            response = httpx.get(url, params=params, headers=headers, timeout=timeout)
        except httpx.HTTPError as error:
            _fail(f"cannot reach {server}: {error}")
        if response.status_code != 200:
            _fail(f"{spec}: the server answered {response.status_code}: {response.text[:300]}")
        page = response.json()
        bodies += [item["body"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    documents = [Document(Origin(f"{cluster}@{ref}", i), b) for i, b in enumerate(bodies)]
    try:
        return from_documents(documents), f"{cluster}@{ref}"
    except ManifestError as error:
        _fail(f"{spec}: the stored objects do not validate: {error}")


@app.command()
def diff(
    base: Annotated[str, typer.Argument(help="File, directory, or URL#CLUSTER@REF.")],
    head: Annotated[str, typer.Argument(help="File, directory, or URL#CLUSTER@REF.")],
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
) -> None:
    """What does going from BASE to HEAD open or close? Exit 0: no gated finding, 1: a gated
    finding (--fail-on), 2: invalid input."""
    from service.engine.diff import Finding
    from service.report.diff import DiffSide, iter_diff_json, render_markdown
    from service.usecases.diffs import diff_manifests

    gates: set[Finding] = set()
    for word in filter(None, (w.strip() for w in (fail_on or "").split(","))):
        try:
            gates.add(Finding(word))
        except ValueError:
            _fail(f"--fail-on: unknown finding {word!r} (one of {', '.join(Finding)})")
    old, old_label = _diff_side(base, token, timeout)
    new, new_label = _diff_side(head, token, timeout)
    options = AnalysisOptions(pod_ips_in_ipblocks, host_network_pods)
    result = diff_manifests(old, new, granularity=granularity, options=options)
    sides = DiffSide(old_label, {"source": old_label}), DiffSide(new_label, {"source": new_label})
    if output_format is DiffFormat.JSON:
        _write(iter_diff_json(result, *sides))
    else:
        _write([render_markdown(result, *sides)])
    gated = result.gated(frozenset(gates))
    if gated:
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
    from urllib.parse import quote

    import httpx

    if (at is None) == (first is None):
        _fail("give exactly one of --at N and --first allowed|denied")
    if first is not None and first not in ("allowed", "denied"):
        _fail("--first must be allowed or denied")
    params: dict[str, str] = {"from": source, "to": target}
    if port is not None:
        params["port"] = port
    if protocol is not None:
        params["protocol"] = protocol.value
    if at is not None:
        params["at"] = str(at)
    if first is not None:
        params["first"] = first
    url = f"{server.rstrip('/')}/v1/clusters/{quote(cluster, safe='')}/history/reachability"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(url, params=params, headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        _fail(f"cannot reach {server}: {error}", EXIT_FAILED)
    if response.status_code != 200:
        _fail(f"the server answered {response.status_code}: {response.text[:500]}")
    answer = response.json()
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


@app.command()
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
) -> None:
    """Find NetworkPolicy mistakes, explain each and suggest the fix.

    Exit codes: 0 no finding at or above --fail-on; 1 otherwise; 2 invalid input.
    Objects annotated netreach.io/lint-ignore: "NR003,NR005" (or "*") are exempt.
    """
    from service.usecases.errors import UseCaseError

    manifests = _load(paths)
    options = AnalysisOptions(pod_ips_in_ipblocks, host_network_pods)
    try:
        report = lint_manifests(manifests, options, suppress or [])
    except UseCaseError as error:
        _fail(error.message)
    _write([report.render(output_format, base=Path.cwd())])
    if report.fails(fail_on):
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
