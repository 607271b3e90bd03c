"""Persistence: tables, sessions, repositories and migrations. Never imports the engine.

Repositories are built from a :class:`~sqlalchemy.orm.Session`, take domain arguments and return
plain frozen dataclasses (:mod:`service.store.records`). They only flush: the caller owns the
unit of work (commit on success, rollback on error).
"""

from service.store.clusters import ClusterRepository
from service.store.database import (
    make_engine,
    make_session_factory,
    safe_url,
)
from service.store.errors import (
    InvalidTokenError,
    SnapshotNotFoundError,
    StoreError,
    TokenNameTakenError,
    UnsupportedDatabaseError,
)
from service.store.location import default_database_url
from service.store.records import (
    ClusterRecord,
    NewObject,
    SnapshotRecord,
    StoredObject,
    TokenRecord,
)
from service.store.snapshots import SnapshotRepository
from service.store.tokens import SCOPES, TokenRepository

__all__ = [
    "SCOPES",
    "ClusterRecord",
    "ClusterRepository",
    "InvalidTokenError",
    "NewObject",
    "SnapshotNotFoundError",
    "SnapshotRecord",
    "SnapshotRepository",
    "StoreError",
    "StoredObject",
    "TokenNameTakenError",
    "TokenRecord",
    "TokenRepository",
    "UnsupportedDatabaseError",
    "default_database_url",
    "make_engine",
    "make_session_factory",
    "safe_url",
]
