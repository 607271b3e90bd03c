"""Server-side commands: ``serve``, ``demo``, ``db``, ``token`` and ``push``.

Their imports stay inside the commands: nothing else needs FastAPI, uvicorn or the database.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.app import EXIT_FAILED, EXIT_INVALID, ExcludeOption, Paths, command_set, fail, load
from service.cli.database import database_help, opening

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from service.settings import Settings

DATABASE_HELP = database_help()
commands = command_set()
db_app = typer.Typer(
    help=f"The database schema (Alembic migrations). {DATABASE_HELP}", no_args_is_help=True
)
token_app = typer.Typer(
    help=f"API tokens: bearer secrets with scopes. {DATABASE_HELP}", no_args_is_help=True
)
commands.add_typer(db_app, name="db")
commands.add_typer(token_app, name="token")


class TokenScope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


def _settings(**overrides: object) -> "Settings":
    """Settings from the environment (``NETREACH_*``), CLI flags overriding."""
    from service.settings import Settings, get_settings

    given = {key: value for key, value in overrides.items() if value is not None}
    if not given:
        return get_settings()
    return Settings(**{**get_settings().model_dump(), **given})


@contextmanager
def _database(
    settings: "Settings", *, write: bool = False, structured: bool = False
) -> "Iterator[sessionmaker[Session]]":
    """Sessions on the configured database, migrated first when ``migrate_on_start``;
    ``write``: transactions that take SQLite's write lock when they begin."""
    from service.store import make_engine, make_session_factory
    from service.store.migrate import upgrade

    with opening(settings, structured=structured):
        if settings.migrate_on_start:
            upgrade(settings.database_url)
        engine = make_engine(settings.database_url, timeouts=settings.database_timeouts())
        try:
            yield make_session_factory(engine, write=write)
        finally:
            engine.dispose()


def _missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite file URL whose file does not exist, else ``None``."""
    from pathlib import Path

    from service.store.database import normalise_url

    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return None if Path(parsed.database).exists() else parsed.database


@commands.command(
    help="Run the API (uvicorn). Settings come from NETREACH_* variables; flags override "
    f"them. {DATABASE_HELP}"
)
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [8000].")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes [1].")] = None,
    insecure: Annotated[
        bool,
        typer.Option(help="Serve /v1 without tokens on a non-loopback address (never in prod)."),
    ] = False,
) -> None:
    import os

    import uvicorn

    from service.api.auth import open_refusal
    from service.main import server_options
    from service.settings import get_settings
    from service.store import TokenRepository

    settings = _settings(host=host, port=port, workers=workers, insecure=insecure or None)
    with _database(settings, structured=True) as factory, factory() as session:
        tokens_ever_created = TokenRepository(session).ever_created()
    refusal = open_refusal(settings, tokens_ever_created=tokens_ever_created)
    if refusal is not None:
        fail(refusal)
    if not tokens_ever_created:
        where = f"{settings.host}:{settings.port}"
        scope = "anyone who can reach it" if settings.insecure else "local requests"
        typer.echo(
            f"WARNING: no API token exists: /v1 on {where} is OPEN to {scope}, without "
            "authentication. Create a token with `netreach token create` to require one.",
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
        **server_options(settings, worker_processes=True),
    )


@commands.command(
    help="Load the demo cluster (two versions of a small shop), print curl examples, "
    f"serve. {DATABASE_HELP}"
)
def demo(
    port: Annotated[int | None, typer.Option(help="Port [8000].")] = None,
) -> None:
    from service.usecases.demo import curl_examples, load_demo

    settings = _settings(host="127.0.0.1", port=port, workers=None, insecure=None)
    with _database(settings, write=True) as factory, factory() as session:
        records = load_demo(session)
    versions = ", ".join(str(r.version) for r in records)
    base = f"http://{settings.host}:{settings.port}"
    typer.echo(f"demo cluster loaded (versions {versions}) into {settings.database_url}")
    typer.echo(f"web view: {base}/ui/")
    typer.echo("try, once the server is up:\n  " + "\n  ".join(curl_examples(base)) + "\n")
    serve(host=settings.host, port=settings.port, workers=1, insecure=False)


@db_app.command("upgrade", help=f"Migrate the database to the latest schema. {DATABASE_HELP}")
def db_upgrade() -> None:
    from service.store.migrate import current_revision, upgrade

    settings = _settings()
    with opening(settings):
        upgrade(settings.database_url)
        typer.echo(f"database at revision {current_revision(settings.database_url)}")


@db_app.command(
    "current",
    help="Print the database's schema revision and the code's; exit 1 if they differ. "
    + DATABASE_HELP,
)
def db_current() -> None:
    from service.store.migrate import current_revision, head_revision

    settings = _settings()
    with opening(settings):
        missing = _missing_sqlite_file(settings.database_url)
        if missing is not None:  # reading it must not create it
            fail(f"no database file {missing}: `netreach db upgrade` creates it", EXIT_FAILED)
        current, head = current_revision(settings.database_url), head_revision()
    typer.echo(f"current: {current or '(empty database)'}\nhead:    {head}")
    if current != head:
        raise typer.Exit(EXIT_FAILED)


@db_app.command(
    "gc",
    help="Delete the stored objects no snapshot holds any more and print what was freed. "
    "Safe while the server runs: uploads that reuse an object wait for it (or it for them). "
    + DATABASE_HELP,
)
def db_gc() -> None:
    from service.store.garbage import collect_garbage

    with _database(_settings(), write=True) as factory, factory() as session, session.begin():
        freed = collect_garbage(session)
    assert freed is not None  # it waited for the lock
    typer.echo(
        f"freed {freed.objects} object(s): {freed.bytes:,} bytes of JSON, "
        f"{freed.stored_bytes:,} bytes stored"
    )


@token_app.command(
    "create",
    help="Create a token and print its secret (shown once, stored only as a hash). "
    + DATABASE_HELP,
)
def token_create(
    name: Annotated[str, typer.Argument(help="A unique name (who or what uses it).")],
    scope: Annotated[
        TokenScope, typer.Option(help="read; write (implies read); admin (implies both).")
    ],
    cluster: Annotated[
        list[str] | None,
        typer.Option(help="Only clusters matching this fnmatch pattern (repeatable)."),
    ] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(
            help="Take the secret from this environment variable instead of generating one "
            "(a bootstrap token kept in a Kubernetes Secret; nr_ and 32+ characters)."
        ),
    ] = None,
    exist_ok: Annotated[
        bool,
        typer.Option(help="With --secret-env: succeed if this token already exists."),
    ] = False,
) -> None:
    import os

    from service.store import InvalidTokenError, TokenNameTakenError, TokenRepository

    given = None
    if secret_env is not None:
        given = os.environ.get(secret_env, "").strip()
        if not given:
            fail(f"--secret-env: the environment variable {secret_env} is unset or empty")
    try:
        with _database(_settings(), write=True) as factory, factory() as session, session.begin():
            tokens = TokenRepository(session)
            existing = tokens.authenticate(given) if given and exist_ok else None
            if existing is not None and existing.name == name:
                if set(existing.scopes) != {scope.value} or set(existing.clusters) != set(
                    cluster or ()
                ):
                    fail(f"token {name!r} exists with other scopes or clusters")
                typer.echo(f"token {name!r} exists with this secret: unchanged", err=True)
                return
            record, secret = tokens.create(name, [scope.value], cluster or (), secret=given)
    except TokenNameTakenError as error:
        if exist_ok:
            fail(f"token {name!r} exists with another secret: revoke it (`netreach token "
                 "revoke`) or choose another name")  # fmt: skip
        fail(str(error))
    except InvalidTokenError as error:
        fail(str(error))
    if given:
        clusters = ", ".join(record.clusters) or "all clusters"
        typer.echo(f"created token {record.name!r} with the given secret: scope "
                   f"{scope.value}, {clusters}", err=True)  # fmt: skip
        return
    clusters = ", ".join(record.clusters) or "all clusters"
    typer.echo(f"created token {record.name!r}: scope {scope.value}, {clusters}", err=True)
    typer.echo("the secret is shown once; store it now:", err=True)
    typer.echo(secret)


@token_app.command("list", help=f"List tokens (never their secrets). {DATABASE_HELP}")
def token_list() -> None:
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


@token_app.command(
    "revoke", help=f"Revoke a token: requests with it are refused from now on. {DATABASE_HELP}"
)
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    from service.store import TokenRepository

    with _database(_settings(), write=True) as factory, factory() as session, session.begin():
        revoked = TokenRepository(session).revoke(name)
    if not revoked:
        fail(f"no active token named {name!r}")
    typer.echo(f"revoked token {name!r}")


@commands.command()
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
    exclude: ExcludeOption = None,
    gzip: Annotated[
        bool, typer.Option(help="Send the manifests gzip-compressed (about a tenth the bytes).")
    ] = True,
) -> None:
    """Validate manifests locally, then store them on a server as the cluster's next version.

    PATHS may be - to read the manifests from standard input."""
    from service.client import NetreachClient, NetreachError, UnreachableError

    manifests = load(paths, exclude, whole_bodies=True)  # store the objects as they are
    body = json.dumps([document.body for document in manifests.documents]).encode()
    try:
        with NetreachClient(server, token=token, timeout=timeout) as api:
            stored, created = api.upload(
                cluster,
                body,
                content_type="application/json",
                source=source,
                labels=label or (),
                gzip=gzip,
            )
    except UnreachableError as error:
        fail(error.message, EXIT_FAILED)
    except NetreachError as error:
        for detail in error.details[:50]:
            typer.echo(f"error: {json.dumps(detail)}", err=True)
        fail(
            f"server refused the snapshot ({error.status}): {error.message}",
            EXIT_INVALID if error.status in (413, 415, 422) else EXIT_FAILED,
        )
    outcome = "created" if created else "unchanged: identical content"
    typer.echo(f"{stored.cluster} version {stored.version} ({outcome})")
