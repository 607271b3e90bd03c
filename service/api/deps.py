"""Dependencies that read like types: ``SessionDep``, ``SettingsDep``, ``AnalyzerDep``,
``ReadAccess`` / ``WriteAccess`` (or ``require_scope(...)``).

The lifespan (:mod:`service.main`) builds one :class:`Runtime` per app; nothing here is
created at import time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.api.auth import Principal, Scope, authenticate, is_loopback
from service.api.errors import ForbiddenError
from service.api.metrics import Metrics
from service.settings import Settings
from service.usecases.snapshots import Analyzer


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the lifespan owns: the settings, the database, the analyzer and the metrics."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    analyzer: Analyzer
    metrics: Metrics
    head_revision: str

    @property
    def open_allowed(self) -> bool:
        """May ``/v1`` be open while no token exists?"""
        return self.settings.insecure or is_loopback(self.settings.host)


def get_runtime(request: Request) -> Runtime:
    return cast(Runtime, request.state.runtime)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings_dep(runtime: RuntimeDep) -> Settings:
    return runtime.settings


def get_analyzer(runtime: RuntimeDep) -> Analyzer:
    return runtime.analyzer


def get_metrics(runtime: RuntimeDep) -> Metrics:
    return runtime.metrics


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """The request's unit of work: commit on success, roll back on any error. The one
    place that commits; use cases and repositories only flush."""
    with runtime.session_factory() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
AnalyzerDep = Annotated[Analyzer, Depends(get_analyzer)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
# scope="function": commit before the response is sent, so a failed commit is the client's
# error response rather than a 201 for something that was not stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="a token from `netreach token create`")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _principal(runtime: RuntimeDep, credentials: BearerDep) -> Principal:
    secret = credentials.credentials if credentials is not None else None
    return await run_in_threadpool(
        authenticate, runtime.session_factory, secret, open_allowed=runtime.open_allowed
    )


Authenticated = Annotated[Principal, Depends(_principal)]


def require_scope(scope: Scope) -> Any:
    """A dependency: an authenticated caller holding ``scope`` and, when the path names a
    cluster, allowed to touch it (401 / 403 otherwise)."""

    def dependency(request: Request, principal: Authenticated) -> Principal:
        if not principal.has(scope):
            raise ForbiddenError(
                f"token {principal.token!r} lacks the {scope!r} scope",
                [{"required_scope": scope, "scopes": sorted(principal.scopes)}],
            )
        cluster = request.path_params.get("cluster")
        if cluster is not None and not principal.may_access(cluster):
            raise ForbiddenError(
                f"token {principal.token!r} may not access cluster {cluster!r}",
                [{"cluster": cluster, "allowed_clusters": list(principal.clusters)}],
            )
        return principal

    return Depends(dependency)


ReadAccess = Annotated[Principal, require_scope("read")]
WriteAccess = Annotated[Principal, require_scope("write")]
