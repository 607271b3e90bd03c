"""What snapshot references resolve to, cached per process.

``latest`` and version numbers are resolved once per ``ref_cache_seconds`` per process
instead of once per request. A process forgets a cluster's entries the moment it uploads
to or deletes from that cluster, so it reads its own writes; other processes and replicas
see the change within ``ref_cache_seconds`` (answers name the version they answer, in the
body and in ``X-Netreach-Snapshot``). Only found snapshots are cached: a version uploaded
elsewhere a moment ago is found at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from service.store.records import SnapshotRecord
from service.usecases.snapshots import Ref, get_snapshot

_LIMIT = 10_000  # entries kept (a bound, not a tuning knob)


class SnapshotRefs:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session_factory = session_factory
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[tuple[str, Ref], tuple[SnapshotRecord, float]] = {}
        self._epochs: dict[str, int] = {}  # per cluster: bumped by this process's writes
        self._lock = threading.Lock()

    def cached(self, cluster: str, ref: Ref) -> SnapshotRecord | None:
        with self._lock:
            hit = self._entries.get((cluster, ref))
        if hit is not None and hit[1] > self.clock():
            return hit[0]
        return None

    def resolve(self, cluster: str, ref: Ref) -> SnapshotRecord:
        """From the database (blocking); raises NotFoundError."""
        with self._lock:
            epoch = self._epochs.get(cluster, 0)
        with self.session_factory() as session, session.begin():
            record = get_snapshot(session, cluster, ref)
        if self.ttl > 0:
            with self._lock:
                # A write of this process while we read: what we read may be older.
                if self._epochs.get(cluster, 0) == epoch:
                    if len(self._entries) >= _LIMIT:
                        self._entries.clear()
                    self._entries[(cluster, ref)] = (record, self.clock() + self.ttl)
        return record

    def forget(self, cluster: str) -> None:
        """This process changed ``cluster``: resolve its references again."""
        with self._lock:
            self._epochs[cluster] = self._epochs.get(cluster, 0) + 1
            for key in [k for k in self._entries if k[0] == cluster]:
                del self._entries[key]
