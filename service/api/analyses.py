"""Bounds on analyses, so that heavy requests cannot take the whole process.

- At most ``max_concurrent_analyses`` analyses compute at once per process; one more is
  answered 503 ``analyses_busy`` at once (with ``Retry-After``) instead of queueing for a
  worker thread. The slot is taken on the event loop, before the route gets a thread, so
  the threadpool always has threads left for ``/readyz``, ``/metrics`` and cheap calls.
- Each analysis has a time budget (``analysis_timeout_seconds``): the engine checks the
  :class:`~service.engine.deadline.Deadline` between coarse units of work and stops with
  503 ``analysis_timeout`` naming the stage, which frees the thread.
- Its session is read-only: released before each long computation
  (:mod:`service.usecases.reads`), so analyses do not hold the database pool either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from service.api.deps import runtime_of
from service.api.errors import AnalysesBusyError
from service.engine.deadline import Deadline
from service.usecases.reads import READ_ONLY


class AnalysisSlots:
    """A counter of free slots, used on the event loop only (so no lock is needed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.free = limit

    def take(self) -> None:
        """Take a slot, or raise :class:`AnalysesBusyError` at once."""
        if self.free <= 0:
            raise AnalysesBusyError(
                f"{self.limit} analyses are already running in this process; retry shortly "
                "(the server's NETREACH_MAX_CONCURRENT_ANALYSES)",
                [{"running": self.limit, "setting": "NETREACH_MAX_CONCURRENT_ANALYSES"}],
                headers={"Retry-After": "1"},
            )
        self.free -= 1

    def give_back(self) -> None:
        self.free += 1


def slots_of(request: Request) -> AnalysisSlots:
    slots: AnalysisSlots | None = getattr(request.app.state, "analysis_slots", None)
    if slots is None:
        limit = runtime_of(request).settings.max_concurrent_analyses
        slots = request.app.state.analysis_slots = AnalysisSlots(limit)
    return slots


def deadline_of(request: Request) -> Deadline:
    return Deadline.of(runtime_of(request).settings.analysis_timeout_seconds)


async def analysis_slot(request: Request) -> AsyncIterator[Deadline]:
    """An analysis slot for the request, and its deadline."""
    slots = slots_of(request)
    slots.take()
    try:
        yield deadline_of(request)
    finally:
        slots.give_back()


async def read_only_session(request: Request) -> AsyncIterator[Session]:
    """A session that only reads, released before long computations; closed at the end
    (nothing to commit)."""
    session = runtime_of(request).session_factory(info={READ_ONLY: True})
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


AnalysisDeadline = Annotated[Deadline, Depends(analysis_slot, scope="function")]
AnalysisSession = Annotated[Session, Depends(read_only_session, scope="function")]
