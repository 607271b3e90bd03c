"""Uploaded snapshots compiled and mapped in the background, off the request path.

A fresh process's first what-if or diff of a stored snapshot needs its compiled form and
its connectivity map; the upload keeps only the resolved cluster in the cache directory,
so that first analysis would compile and map it (a 100,000-pod snapshot: seconds). After an
upload has been answered, a :class:`Preparer` compiles the snapshot with the default
analysis options, maps it at workload granularity (what what-if and diffs use by default)
and waits until both are written to the cache directory: the next process, and this one,
find them there.

* **One at a time**: one thread per process, started on the first upload; snapshots wait
  in a queue of at most ``max_pending``. Past it an upload's snapshot is not prepared
  (logged, counted ``dropped``): its first analysis does the work, as without a preparer.
* **Never fails an upload**: the upload's response has gone before its snapshot is
  queued; a failure is logged and counted ``failed``, and the first analysis then tries
  again itself.
* **Uploads first**: while an upload is being processed (:meth:`Preparer.upload`), a
  running preparation pauses at its next deadline check (for at most :data:`MAX_PAUSE`
  seconds at a time, so a stream of uploads cannot starve it; paused time does not count
  against its budget): back-to-back uploads are not slowed by the previous one's work.
  It does not pause, or stops pausing, while an analysis waits for what it computes.
* **Cancellable**: :meth:`Preparer.close` (the server stops) drops the waiting snapshots
  and stops the running one at its next deadline check (counted ``cancelled``).
* **Shared work**: preparation goes through the analyzer's caches, so a request that needs
  the same compiled form meanwhile waits for this computation instead of doing it twice.
* **Observable**: :meth:`Preparer.stats` (the ``netreach_preparations`` metrics): snapshots
  pending (waiting or running) and outcomes so far (``prepared``, ``ready``: the cache
  directory had both already, ``failed``, ``cancelled``, ``dropped``).
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session

from service.engine.deadline import Deadline, DeadlineExceeded
from service.engine.options import AnalysisOptions, Granularity
from service.store.records import SnapshotRecord
from service.usecases.reads import READ_ONLY
from service.usecases.snapshots import Analyzer

log = structlog.get_logger("netreach.prepare")

MAX_PENDING = 16
MAX_PAUSE = 30.0  # seconds a preparation waits for uploads at one deadline check
PAUSE_POLL = 0.05  # seconds between looks at whether an analysis waits for it
OUTCOMES = ("prepared", "ready", "failed", "cancelled", "dropped")


@dataclass(frozen=True, slots=True)
class PreparationStats:
    pending: int  # waiting or running
    outcomes: dict[str, int]


class Preparer:
    """Compiles and maps uploaded snapshots in a background thread (module docstring)."""

    def __init__(
        self,
        analyzer: Analyzer,
        sessions: Callable[..., Session],
        *,
        options: AnalysisOptions | None = None,
        granularity: Granularity = Granularity.WORKLOAD,
        timeout_seconds: float | None = None,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.analyzer = analyzer
        self._sessions = sessions
        self.options = options or AnalysisOptions()
        self.granularity = granularity
        self.timeout_seconds = timeout_seconds
        self.max_pending = max_pending
        self._state = threading.Condition()
        self._queue: deque[SnapshotRecord] = deque()
        self._running: SnapshotRecord | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._outcomes: Counter[str] = Counter()
        self._uploads = 0  # being processed
        self._paused = 0.0  # seconds preparations have waited for uploads

    # -- the requests' side -------------------------------------------------------------

    def submit(self, record: SnapshotRecord) -> bool:
        """Queue ``record``; False when it is not (closed, queued or running already, or
        the queue is full)."""
        with self._state:
            if self._closed:
                return False
            busy = [*self._queue, *([self._running] if self._running else [])]
            if any(r.content_hash == record.content_hash for r in busy):
                return False
            if len(self._queue) >= self.max_pending:
                self._outcomes["dropped"] += 1
                log.warning(
                    "snapshot_not_prepared",
                    cluster=record.cluster,
                    version=record.version,
                    reason=f"{self.max_pending} snapshots wait already",
                )
                return False
            self._queue.append(record)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="netreach-prepare", daemon=True
                )
                self._thread.start()
            self._state.notify_all()
        return True

    @contextmanager
    def upload(self) -> Iterator[None]:
        """An upload is being processed meanwhile: preparations pause."""
        with self._state:
            self._uploads += 1
        try:
            yield
        finally:
            with self._state:
                self._uploads -= 1
                self._state.notify_all()

    def stats(self) -> PreparationStats:
        with self._state:
            pending = len(self._queue) + (self._running is not None)
            return PreparationStats(pending, {o: self._outcomes[o] for o in OUTCOMES})

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until nothing is pending; False if ``timeout`` ran out first."""
        with self._state:
            return self._state.wait_for(lambda: not self._queue and self._running is None, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Prepare nothing more: drop the waiting snapshots, stop the running one (at its
        next deadline check) and wait for the thread (at most ``timeout`` seconds)."""
        with self._state:
            self._closed = True
            self._outcomes["cancelled"] += len(self._queue)
            self._queue.clear()
            thread = self._thread
            self._state.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._state:
                self._state.wait_for(lambda: self._queue or self._closed)
                if self._closed:
                    return
                record = self._running = self._queue.popleft()
            try:
                outcome = self._prepare(record)
            except Exception:  # logged; the thread goes on
                log.exception("snapshot_preparation_failed", cluster=record.cluster,
                              version=record.version)  # fmt: skip
                outcome = "failed"
            with self._state:
                self._outcomes[outcome] += 1
                self._running = None
                self._state.notify_all()

    def _clock(self) -> float:
        """The deadline's clock, checked between coarse units of work: it waits while
        uploads are processed, and is past any deadline once the preparer is closed."""
        running = self._running
        if self._uploads and running is not None:  # read unlocked: at worst, paused later
            started = time.monotonic()
            with self._state:
                while (
                    self._uploads
                    and not self._closed
                    and not self.analyzer.awaited(running.content_hash)
                    and time.monotonic() - started < MAX_PAUSE
                ):
                    self._state.wait(PAUSE_POLL)  # an analysis that starts waiting: no notice
            self._paused += time.monotonic() - started
        return math.inf if self._closed else time.monotonic() - self._paused

    def _prepare(self, record: SnapshotRecord) -> str:
        started = time.perf_counter()
        budget = self.timeout_seconds
        at = sys.float_info.max if budget is None else self._clock() + budget
        deadline = Deadline(at, budget or 0.0, self._clock)
        try:
            with self._sessions(info={READ_ONLY: True}) as session:
                done = self.analyzer.prepare(
                    session, record, self.options, self.granularity, deadline
                )
        except DeadlineExceeded as error:
            if self._closed:
                return "cancelled"
            log.warning("snapshot_not_prepared", cluster=record.cluster,
                        version=record.version, reason=str(error))  # fmt: skip
            return "failed"
        log.info(
            "snapshot_prepared" if done else "snapshot_ready",
            cluster=record.cluster,
            version=record.version,
            seconds=round(time.perf_counter() - started, 3),
        )
        return "prepared" if done else "ready"
