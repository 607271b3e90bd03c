"""Plain values the repositories take and return. No SQLAlchemy in here.

Sequences in records are tuples (immutable); mappings are plain dicts that the store never
touches after building the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class NewObject:
    """A Kubernetes object to store. ``kind``, ``namespace`` and ``name`` describe ``body``."""

    kind: str
    namespace: str | None
    name: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredObject:
    """A stored object: ``body`` is the normalised body (see ``canonical.strip_noise``)."""

    kind: str
    namespace: str | None
    name: str
    content_hash: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    id: int
    cluster: str
    version: int
    content_hash: str
    created_at: datetime
    source: str | None
    labels: dict[str, str]
    counts: dict[str, int]
    warnings: tuple[str, ...]
    object_count: int


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    name: str
    created_at: datetime
    latest_version: int | None
    snapshot_count: int


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    name: str
    scopes: tuple[str, ...]
    clusters: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None
