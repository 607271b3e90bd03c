"""Dependencies that read like types: ``SessionDep``, ``SettingsDep``, ``AnalyzerDep``,
``ReadAccess`` / ``WriteAccess``, and ``ReadSnapshot`` (a resolved ``{cluster}/{ref}``).

The hot path costs no thread hop and no database round trip when nothing changed: these
dependencies are ``async`` and answer from the process's caches (verified tokens, resolved
references, compiled snapshots); only a miss goes to the threadpool and the database. The
lifespan (:mod:`service.main`) builds one :class:`Runtime` per app; nothing here is created
at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, cast

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.api.auth import Gatekeeper, Principal, Scope, arrived_locally
from service.api.database_errors import SchemaGuard
from service.api.errors import ForbiddenError
from service.api.garbage import Collector
from service.api.metrics import Metrics
from service.api.params import ClusterPath, RefPath, parse_ref_param
from service.api.refs import SnapshotRefs
from service.settings import Settings
from service.store.records import SnapshotRecord
from service.usecases.preparation import Preparer
from service.usecases.snapshots import Analyzer

SNAPSHOT_HEADER = "X-Netreach-Snapshot"


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the lifespan owns: the settings, the database, the caches and the metrics."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    write_session_factory: sessionmaker[Session]
    analyzer: Analyzer
    metrics: Metrics
    head_revision: str
    gate: Gatekeeper
    refs: SnapshotRefs
    schema: SchemaGuard
    collector: Collector
    preparer: Preparer | None  # None: uploaded snapshots are not prepared
    # Threads of /readyz's own: a check stuck on a database that stopped answering never
    # holds one of the requests' threads.
    readiness_threads: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(2)
    )


def runtime_of(request: Request) -> Runtime:
    return cast(Runtime, request.state.runtime)


async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings_dep(request: Request) -> Settings:
    return runtime_of(request).settings


async def get_analyzer(request: Request) -> Analyzer:
    return runtime_of(request).analyzer


async def get_metrics(request: Request) -> Metrics:
    return runtime_of(request).metrics


async def _unit_of_work(factory: sessionmaker[Session]) -> AsyncIterator[Session]:
    """The request's unit of work: commit on success, roll back on any error. The one
    place that commits; use cases and repositories only flush. A session that never
    touched the database (every answer came from a cache) costs no thread hop to close."""
    session = factory()
    try:
        yield session
    except BaseException:
        if session.in_transaction():
            await run_in_threadpool(session.rollback)
        await run_in_threadpool(session.close)
        raise
    if session.in_transaction():
        await run_in_threadpool(session.commit)
        await run_in_threadpool(session.close)
    else:
        session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    async for session in _unit_of_work(runtime_of(request).session_factory):
        yield session


async def get_write_session(request: Request) -> AsyncIterator[Session]:
    """A unit of work that writes: on SQLite it takes the write lock when it begins
    (``BEGIN IMMEDIATE``), so it waits its turn (the busy timeout) instead of failing with
    "database is locked" when it reads before it writes."""
    async for session in _unit_of_work(runtime_of(request).write_session_factory):
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
AnalyzerDep = Annotated[Analyzer, Depends(get_analyzer)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
# scope="function": commit before the response is sent, so a failed commit is the client's
# error response rather than a 201 for something that was not stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
WriteSessionDep = Annotated[Session, Depends(get_write_session, scope="function")]

# Declared in the OpenAPI document (service.main); read here without a dependency of its
# own: every dependency costs the hot path (FastAPI solves each one per request).
BEARER = HTTPBearer(auto_error=False, description="a token from `netreach token create`")


def _secret(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None  # as no token at all (what HTTPBearer does)
    return credentials.strip()


async def authorize(request: Request, scope: Scope) -> Principal:
    """The caller, holding ``scope`` and, when the path names a cluster, allowed to touch
    it (401 / 403 otherwise)."""
    gate = runtime_of(request).gate
    secret = _secret(request)
    principal = gate.cached(secret)
    if principal is None:
        local = arrived_locally(request.scope)
        principal = await run_in_threadpool(gate.authenticate, secret, local=local)
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


async def read_access(request: Request) -> Principal:
    return await authorize(request, "read")


async def write_access(request: Request) -> Principal:
    return await authorize(request, "write")


ReadAccess = Annotated[Principal, Depends(read_access)]
WriteAccess = Annotated[Principal, Depends(write_access)]


async def resolve_snapshot(request: Request, cluster: ClusterPath, ref: RefPath) -> SnapshotRecord:
    """``{cluster}/{ref}`` of the path, for a caller allowed to read it (404 if absent)."""
    await authorize(request, "read")
    parsed = parse_ref_param(cluster, ref)
    refs = runtime_of(request).refs
    record = refs.cached(cluster, parsed)
    if record is None:
        record = await run_in_threadpool(refs.resolve, cluster, parsed)
    return record


ReadSnapshot = Annotated[SnapshotRecord, Depends(resolve_snapshot)]


def snapshot_label(record: SnapshotRecord) -> str:
    return f"{record.cluster}@{record.version}"


def snapshot_headers(*records: SnapshotRecord) -> dict[str, str]:
    """``X-Netreach-Snapshot: cluster@version`` (two, comma-separated, for a diff)."""
    return {SNAPSHOT_HEADER: ", ".join(snapshot_label(r) for r in records)}
