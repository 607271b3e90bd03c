"""A time budget for one analysis, so that no input can hold a worker for ever.

The engine stays pure: it never reads a clock setting, it is handed a :class:`Deadline` and
checks it between units of work (a policy compiled, a destination mapped). The caller
decides the budget and maps :class:`DeadlineExceeded` to its own error (the API: 503).

>>> Deadline.none().check("compile")
>>> Deadline.after(-1.0).expired
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass


class DeadlineExceeded(Exception):  # noqa: N818  (reads as the event it reports)
    """An analysis ran past its budget; ``stage`` says where it was."""

    def __init__(self, stage: str, budget: float) -> None:
        super().__init__(f"{stage} exceeded the analysis budget of {budget:g} s")
        self.stage = stage
        self.budget = budget


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point on the monotonic clock; ``at`` None = no deadline."""

    at: float | None = None
    budget: float = 0.0

    @classmethod
    def none(cls) -> Deadline:
        return _NONE

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds, seconds)

    @property
    def expired(self) -> bool:
        return self.at is not None and time.monotonic() > self.at

    def check(self, stage: str) -> None:
        """Raise :class:`DeadlineExceeded` once the deadline has passed."""
        if self.at is not None and time.monotonic() > self.at:
            raise DeadlineExceeded(stage, self.budget)


_NONE = Deadline()
