"""Garbage collection after deletes: run after the response, one at a time per process.

A delete schedules a collection (:class:`Collector`); deletes that arrive while one runs
make it run once more when it ends, so a burst of 60 deletes costs two collections, not 60.
On PostgreSQL a collection never waits for uploads in flight (they would hold up every
upload queued behind it); a collection that fails (SQLite: the busy timeout ran out while
a long upload held the write lock) is logged. Either tries again :data:`RETRY_SECONDS`
later, up to :data:`MAX_RETRIES` times; the next delete, or ``netreach db gc``, frees what
is left.
"""

from __future__ import annotations

import threading

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.store.garbage import Collected, collect_garbage

log = structlog.get_logger("netreach.gc")

RETRY_SECONDS = 5.0
MAX_RETRIES = 12  # a minute of uploads in flight, or of a database that refuses


class Collector:
    def __init__(
        self, write_sessions: sessionmaker[Session], retry_seconds: float = RETRY_SECONDS
    ) -> None:
        self._sessions = write_sessions
        self._retry_seconds = retry_seconds
        self._state = threading.Lock()
        self._running = False
        self._again = False
        self._retries = 0
        self._retry: threading.Timer | None = None
        self._closed = False

    def run(self) -> None:
        """Collect now, or have the collection in progress run once more."""
        with self._state:
            if self._running or self._closed:
                self._again = True
                return
            self._running = True
        while True:
            try:
                self._collect_or_retry()
            except BaseException:
                with self._state:
                    self._running = False
                raise
            with self._state:
                if not self._again:
                    self._running = False
                    return
                self._again = False

    def close(self) -> None:
        """No collection from now on (the app stops)."""
        with self._state:
            self._closed = True
            if self._retry is not None:
                self._retry.cancel()

    def _collect_or_retry(self) -> None:
        if self.collect_once() is not None:
            self._retries = 0
            return
        with self._state:  # uploads in flight, or a failure: later, a few times
            if self._closed or self._retries >= MAX_RETRIES:
                self._retries = 0
                return
            self._retries += 1
            self._retry = threading.Timer(self._retry_seconds, self.run)
            self._retry.daemon = True
            self._retry.start()

    def collect_once(self) -> Collected | None:
        """One collection; ``None`` when it could not run (logged)."""
        try:
            with self._sessions() as session, session.begin():
                freed = collect_garbage(session, wait=False)
        except SQLAlchemyError as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()
            log.warning("garbage_collection_failed", error=reason[0] if reason else "")
            return None
        if freed is not None and freed.objects:
            log.info(
                "garbage_collected",
                objects=freed.objects,
                bytes=freed.bytes,
                stored_bytes=freed.stored_bytes,
            )
        return freed
