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
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from service.api import diff as diff_routes
from service.api import lint as lint_routes
from service.api.deps import Runtime
from service.api.errors import install_error_handlers
from service.api.logging import configure_logging
from service.api.metrics import Metrics
from service.api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from service.api.routers import analysis, clusters, health, snapshots, summary
from service.settings import Settings, get_settings
from service.store import make_engine, make_session_factory
from service.store.migrate import head_revision, upgrade
from service.ui.router import mount_ui
from service.usecases.cache import LRUCache
from service.usecases.snapshots import Analyzer

log = structlog.get_logger("netreach")

DESCRIPTION = """Who can talk to whom in a Kubernetes cluster: versioned snapshots of
manifests, connectivity maps and explained reachability verdicts.

Every error is `{"error": {"code", "message", "details": [...]}}`."""


def analyzer_caches(analyzer: Analyzer) -> dict[str, LRUCache[Any, Any]]:
    """The analyzer's caches by attribute name (``compiled``, ``maps``, ...)."""
    return {name: value for name, value in vars(analyzer).items() if isinstance(value, LRUCache)}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Runtime]]:
        if settings.migrate_on_start:
            await run_in_threadpool(upgrade, settings.database_url)
        engine = make_engine(settings.database_url)
        analyzer = Analyzer(
            cache_size=settings.cache_size, on_compile=metrics.compile_seconds.observe
        )
        metrics.watch_caches(lambda: analyzer_caches(analyzer))
        runtime = Runtime(
            settings=settings,
            engine=engine,
            session_factory=make_session_factory(engine),
            analyzer=analyzer,
            metrics=metrics,
            head_revision=head_revision(),
        )
        log.info(
            "started",
            database=engine.url.render_as_string(hide_password=True),
            host=settings.host,
            open_while_no_token_exists=runtime.open_allowed,
        )
        try:
            yield {"runtime": runtime}
        finally:
            metrics.unwatch_caches()
            engine.dispose()
            log.info("stopped")

    app = FastAPI(
        title="netreach",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (health, clusters, snapshots, analysis, summary):
        app.include_router(module.router)
    app.include_router(diff_routes.router)
    app.include_router(lint_routes.router)
    mount_ui(app)
    app.add_api_route("/", lambda: RedirectResponse("/ui/"), include_in_schema=False)
    # Added last = outermost: the request id and the access log see every response,
    # including a 413 from the body limit.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app
