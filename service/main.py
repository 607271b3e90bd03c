"""The ASGI application: ``create_app(settings) -> FastAPI``.

Nothing is created at import time. The lifespan owns the database engine, the session
factory and the analyzer (the compiled-snapshot cache); it migrates the schema to head on
start when ``settings.migrate_on_start`` (so the SQLite default needs no setup) and disposes
the engine on shutdown. ``uvicorn --factory service.main:create_app`` works as is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError

from service.api import diff as diff_routes
from service.api import lint as lint_routes
from service.api.auth import Gatekeeper, is_loopback, open_refusal
from service.api.compression import ResponseCompressionMiddleware
from service.api.database_errors import (
    SchemaGuard,
    install_database_error_handlers,
    require_schema_at_head,
)
from service.api.decoding import RequestDecodingMiddleware
from service.api.deps import Runtime
from service.api.docs import install_docs
from service.api.errors import install_error_handlers
from service.api.garbage import Collector
from service.api.head import HeadMiddleware
from service.api.logging import configure_logging
from service.api.memory import ReleaseMemoryMiddleware
from service.api.metrics import Metrics
from service.api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from service.api.openapi import install_openapi
from service.api.protocol import IMPORT_NAME, deadline_protocol
from service.api.refs import SnapshotRefs
from service.api.routers import analysis, clusters, health, snapshots, summary
from service.api.strict import strict_parameters
from service.settings import Settings, get_settings
from service.store import TokenRepository, make_engine, make_session_factory
from service.store.migrate import head_revision, upgrade
from service.ui.router import mount_ui
from service.usecases.cache import LRUCache
from service.usecases.cluster_cache import ClusterCache
from service.usecases.preparation import Preparer
from service.usecases.snapshots import Analyzer

log = structlog.get_logger("netreach")

DESCRIPTION = """Who can talk to whom in a Kubernetes cluster: versioned snapshots of
manifests, connectivity maps and explained reachability verdicts, diffs between versions,
what-if analyses and lint.

- **Errors** always have one shape: `{"error": {"code", "message", "details": [...]}}`.
- **Which snapshot**: every answer about a snapshot names it, in the body (`cluster`,
  `version`) and in the header `X-Netreach-Snapshot: cluster@version`; `latest` is resolved
  once per request, and a page cursor stays on the version its first page answered.
- **Strict**: unknown query parameters and control characters are a 422; filters naming a
  kind or namespace the snapshot lacks are a 404 with suggestions.
- **HEAD** is answered wherever GET is.
- **Auth**: `Authorization: Bearer <token>` (`netreach token create`), scopes read, write,
  admin. A revoked token is refused by every replica within `token_cache_seconds`.
"""
TAGS = [
    {"name": "snapshots", "description": "Versioned, immutable sets of manifests"},
    {"name": "clusters", "description": "Clusters and their latest versions"},
    {"name": "analysis", "description": "Connectivity, reachability and lint of a snapshot"},
    {"name": "diff", "description": "Diffs, what-if and time travel across versions"},
    {"name": "operations", "description": "Health, readiness and metrics (no token needed)"},
]


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("netreach")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


def analyzer_caches(analyzer: Analyzer) -> dict[str, LRUCache[Any, Any]]:
    """The analyzer's caches by attribute name (``compiled``, ``maps``, ...)."""
    return {name: value for name, value in vars(analyzer).items() if isinstance(value, LRUCache)}


def server_options(settings: Settings, *, worker_processes: bool = False) -> dict[str, Any]:
    """uvicorn options that bound what slow or idle clients can hold. Worker processes
    import the protocol by name and read its deadline from their (inherited) settings."""
    return {
        "http": IMPORT_NAME
        if worker_processes
        else deadline_protocol(settings.timeout_request_head),
        "timeout_keep_alive": settings.timeout_keep_alive,
        "limit_concurrency": settings.limit_concurrency,
    }


def _refuse_open_start(settings: Settings, session_factory: Any) -> None:
    """A server configured for a non-loopback address needs a token (or --insecure)."""
    if settings.insecure or is_loopback(settings.host):
        return
    try:
        with session_factory() as session:
            ever = TokenRepository(session).ever_created()
    except SQLAlchemyError:
        return  # nothing is served open anyway: the database decides per request
    reason = open_refusal(settings, tokens_ever_created=ever)
    if reason is not None:
        log.error("refusing_to_start", reason=reason)
        raise RuntimeError(reason)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Runtime]]:
        if settings.migrate_on_start:
            await run_in_threadpool(upgrade, settings.database_url)
        engine = make_engine(settings.database_url, timeouts=settings.database_timeouts())
        session_factory = make_session_factory(engine)
        write_session_factory = make_session_factory(engine, write=True)
        await run_in_threadpool(_refuse_open_start, settings, session_factory)
        analyzer = Analyzer(
            cache_size=settings.cache_size,
            on_compile=metrics.compile_seconds.observe,
            files=ClusterCache.open(settings.cache_dir, settings.cache_dir_max_bytes),
        )
        metrics.watch_caches(lambda: analyzer_caches(analyzer))
        preparer = None
        if settings.prepare_after_upload and analyzer.files is not None:
            preparer = Preparer(
                analyzer, session_factory, timeout_seconds=settings.analysis_timeout_seconds
            )
            metrics.watch_preparations(preparer.stats)
        runtime = Runtime(
            settings=settings,
            engine=engine,
            session_factory=session_factory,
            write_session_factory=write_session_factory,
            analyzer=analyzer,
            metrics=metrics,
            head_revision=head_revision(),
            gate=Gatekeeper(settings, session_factory),
            refs=SnapshotRefs(session_factory, settings.ref_cache_seconds),
            schema=SchemaGuard(),
            collector=Collector(write_session_factory),
            preparer=preparer,
        )
        log.info(
            "started",
            database=engine.url.render_as_string(hide_password=True),
            host=settings.host,
            open_to_local_requests_while_no_token_exists=settings.insecure
            or is_loopback(settings.host),
        )
        try:
            yield {"runtime": runtime}
        finally:
            metrics.unwatch_caches()
            runtime.collector.close()
            if preparer is not None:
                preparer.close()
            analyzer.close()
            engine.dispose()
            log.info("stopped")

    app = FastAPI(
        title="netreach",
        version=package_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=TAGS,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_database_error_handlers(app)
    strict = [Depends(strict_parameters)]
    app.include_router(health.router, dependencies=strict)
    guarded = [*strict, Depends(require_schema_at_head)]
    for module in (clusters, snapshots, analysis, summary, diff_routes, lint_routes):
        app.include_router(module.router, dependencies=guarded)
    install_docs(app)
    mount_ui(app)
    install_openapi(app)
    # Added last = outermost: the request id and the access log see every response,
    # including a 413 from the body limit. HEAD runs as GET outside the compression, so it
    # answers with the GET's headers; the wire body is limited before it is decoded.
    app.add_middleware(ReleaseMemoryMiddleware)
    app.add_middleware(ResponseCompressionMiddleware)
    app.add_middleware(HeadMiddleware)
    app.add_middleware(RequestDecodingMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app
