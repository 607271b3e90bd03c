"""Clusters: created implicitly by their first snapshot."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import Row, Select, delete, func, select
from sqlalchemy.orm import Session

from service.store.models import Cluster, Snapshot
from service.store.records import ClusterRecord


class ClusterRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, name: str) -> ClusterRecord | None:
        row = self.session.execute(self._select().where(Cluster.name == name)).first()
        return None if row is None else _record(row)

    def list(self) -> builtins.list[ClusterRecord]:
        """Every cluster by name, including those whose snapshots were all deleted."""
        rows = self.session.execute(self._select().order_by(Cluster.name)).all()
        return [_record(row) for row in rows]

    def delete(self, name: str) -> bool:
        """Delete a cluster and every snapshot of it; ``False`` if there was none. Its
        objects stay stored (other snapshots may share them)."""
        result = self.session.execute(
            delete(Cluster).where(Cluster.name == name).execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def _select(self) -> Select[*tuple[Any, ...]]:
        return (
            select(
                Cluster.name,
                Cluster.created_at,
                func.max(Snapshot.version).label("latest_version"),
                func.count(Snapshot.id).label("snapshot_count"),
            )
            .outerjoin(Snapshot, Snapshot.cluster_id == Cluster.id)
            .group_by(Cluster.id, Cluster.name, Cluster.created_at)
        )


def _record(row: Row[Any]) -> ClusterRecord:
    return ClusterRecord(
        name=row.name,
        created_at=row.created_at,
        latest_version=row.latest_version,
        snapshot_count=row.snapshot_count,
    )
