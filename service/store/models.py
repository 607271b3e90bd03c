"""Tables. Typed declarative models; every constraint and index named by convention.

- ``clusters``: one row per cluster name; ``last_version`` is the version counter (versions
  are never reused, even after their snapshot is deleted).
- ``objects``: content-addressed Kubernetes objects, shared between snapshots and clusters.
  ``body`` is the zlib-compressed canonical JSON, ``size`` its uncompressed length.
- ``snapshots``: one immutable version of one cluster; ``members`` packs the ids of its
  objects (see :mod:`service.store.members`) instead of one association row per object.
- ``tokens``: API tokens; only the sha256 of the secret is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

HASH_LENGTH = 64  # sha256 as hex

# A 64-bit primary key that still is SQLite's auto-assigned rowid (INTEGER PRIMARY KEY).
BigIntPrimaryKey = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE``; values in and out are timezone-aware UTC datetimes.

    SQLite keeps no zone, so values are stored as UTC and read back as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Cluster(Base):
    __tablename__ = "clusters"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint("last_version >= 0", name="last_version_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ObjectRow(Base):
    __tablename__ = "objects"
    __table_args__ = (
        UniqueConstraint("content_hash"),
        Index("ix_objects_kind_name_namespace", "kind", "name", "namespace"),
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    kind: Mapped[str] = mapped_column(Text)
    namespace: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)


class Snapshot(Base):
    __tablename__ = "snapshots"
    __table_args__ = (
        UniqueConstraint("cluster_id", "version"),
        Index("ix_snapshots_cluster_id_content_hash", "cluster_id", "content_hash"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str | None] = mapped_column(Text)
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    warnings: Mapped[list[str]] = mapped_column(JSON)
    object_count: Mapped[int] = mapped_column(Integer)
    members: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class Token(Base):
    __tablename__ = "tokens"
    __table_args__ = (UniqueConstraint("name"), UniqueConstraint("secret_hash"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    secret_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    clusters: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


__all__ = ["Base", "Cluster", "ObjectRow", "Snapshot", "Token", "utcnow"]
