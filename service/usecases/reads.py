"""Analyses hold no database connection while they compute.

A request's session keeps its pooled connection from its first read to its end. An
analysis reads for milliseconds and may compute for seconds, so ``N`` concurrent analyses
would hold ``N`` connections and starve every other request of the pool. Read-only units
of work (the API marks them: ``session.info[READ_ONLY]``) are therefore released before
each long computation: the transaction ends, the connection goes back to the pool, and a
later read simply begins a new transaction. Stored snapshots are immutable, so nothing a
later read sees can contradict an earlier one.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

READ_ONLY = "read_only"


def release(session: Session | None) -> None:
    """End a read-only session's transaction (its connection returns to the pool).

    Sessions not marked read-only are left alone: their unit of work may hold writes that
    only its owner may commit or roll back."""
    if session is not None and session.info.get(READ_ONLY) and session.in_transaction():
        session.rollback()
