"""Garbage collection after deletes: run after the response, one at a time per process.

A delete schedules a collection (:class:`Collector`); deletes that arrive while one runs
make it run once more when it ends, so a burst of 60 deletes costs two collections, not 60.
On PostgreSQL a collection never waits for uploads in flight (they would hold up every
upload queued behind it): it tries again :data:`RETRY_SECONDS` later. A collection that
fails is logged; the next one, or ``netreach db gc``, frees what it did not.
"""

from __future__ import annotations

import threading

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.store.garbage import Collected, collect_garbage

log = structlog.get_logger("netreach.gc")

RETRY_SECONDS = 5.0


class Collector:
    def __init__(self, write_sessions: sessionmaker[Session]) -> None:
        self._sessions = write_sessions
        self._state = threading.Lock()
        self._running = False
        self._again = False

    def run(self) -> None:
        """Collect now, or have the collection in progress run once more."""
        with self._state:
            if self._running:
                self._again = True
                return
            self._running = True
        try:
            while True:
                with self._state:
                    self._again = False
                self.collect_once()
                with self._state:
                    if not self._again:
                        return
        finally:
            with self._state:
                self._running = False

    def collect_once(self) -> Collected | None:
        try:
            with self._sessions() as session, session.begin():
                freed = collect_garbage(session, wait=False)
        except SQLAlchemyError as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()
            log.warning("garbage_collection_failed", error=reason[0] if reason else "")
            return None
        if freed is None:  # uploads in flight: later
            retry = threading.Timer(RETRY_SECONDS, self.run)
            retry.daemon = True
            retry.start()
            return None
        if freed.objects:
            log.info(
                "garbage_collected",
                objects=freed.objects,
                bytes=freed.bytes,
                stored_bytes=freed.stored_bytes,
            )
        return freed
