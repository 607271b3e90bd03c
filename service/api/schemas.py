"""Request and response models of the API, separate from the store's records."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from service.store.records import ClusterRecord, SnapshotRecord, StoredObject


class SnapshotOut(BaseModel):
    cluster: str
    version: int
    id: int
    content_hash: str
    created_at: datetime
    counts: dict[str, int] = Field(description="objects per kind")
    warnings: list[str]
    labels: dict[str, str]
    source: str | None
    object_count: int

    @classmethod
    def of(cls, record: SnapshotRecord) -> SnapshotOut:
        return cls(
            cluster=record.cluster,
            version=record.version,
            id=record.id,
            content_hash=record.content_hash,
            created_at=record.created_at,
            counts=record.counts,
            warnings=list(record.warnings),
            labels=record.labels,
            source=record.source,
            object_count=record.object_count,
        )


class ClusterOut(BaseModel):
    name: str
    created_at: datetime
    latest_version: int | None = Field(description="null once every snapshot was deleted")
    snapshot_count: int

    @classmethod
    def of(cls, record: ClusterRecord) -> ClusterOut:
        return cls(
            name=record.name,
            created_at=record.created_at,
            latest_version=record.latest_version,
            snapshot_count=record.snapshot_count,
        )


class ClusterList(BaseModel):
    items: list[ClusterOut]


class ObjectOut(BaseModel):
    kind: str
    namespace: str | None
    name: str
    content_hash: str
    body: dict[str, Any]

    @classmethod
    def of(cls, stored: StoredObject) -> ObjectOut:
        return cls(
            kind=stored.kind,
            namespace=stored.namespace,
            name=stored.name,
            content_hash=stored.content_hash,
            body=stored.body,
        )


class ObjectPage(BaseModel):
    """One page of a snapshot's objects; ``cluster`` and ``version`` name the snapshot."""

    cluster: str
    version: int
    items: list[ObjectOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end. Bound to this "
        "version: paging `latest` stays on the version the first page answered"
    )
    limit: int = Field(description="the page size used (requested, capped)")


Port = (
    Annotated[StrictInt, Field(ge=1, le=65535)]
    | Annotated[StrictStr, Field(min_length=1, max_length=63)]
)


class ReachabilityQuery(BaseModel):
    """``from`` / ``to``: ``ns/pod``, ``ns/Kind/name`` (a workload, or ``Service``), or an IP."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    source: str = Field(
        alias="from",
        min_length=1,
        max_length=512,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="`ns/pod`, `ns/Kind/name` (a workload, or a Service) or an IP address",
        examples=["shop/web-0"],
    )
    target: str = Field(
        alias="to",
        min_length=1,
        max_length=512,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="the same forms as `from`",
        examples=["db/Service/pg"],
    )
    port: Port | None = Field(
        None, description="number or name; null: list the allowed ports", examples=[5432]
    )
    protocol: Literal["TCP", "UDP", "SCTP"] | None = Field(
        None, description="TCP when a port is given and no protocol"
    )

    @field_validator("port")
    @classmethod
    def _numeric_names(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, str) and value.isascii() and value.isdigit():
            number = int(value)
            if not 1 <= number <= 65535:
                raise ValueError("port numbers are 1-65535")
            return number
        return value


class BatchQuery(BaseModel):
    """Up to 1,000 questions about one snapshot, answered in order."""

    model_config = ConfigDict(extra="forbid")

    questions: list[ReachabilityQuery] = Field(min_length=1, max_length=1000)


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    database: str
    schema_revision: str
