"""A time budget for one analysis, so that no input can hold a worker for ever.

The engine stays pure: it reads no setting and owns no clock. It is handed a
:class:`Deadline` (a point on a monotonic clock the caller chose, and that clock) and checks
it between coarse units of work (a policy compiled, a destination mapped, a lint check
run). The caller decides the budget and maps :class:`DeadlineExceeded` to its own error
(the API: 503 ``analysis_timeout``; the CLI: exit code 3).

>>> Deadline.none().check("compile")
>>> Deadline.after(-1.0).expired
True
>>> ticks = iter(range(100))
>>> deadline = Deadline.after(2.0, clock=lambda: float(next(ticks)))
>>> deadline.check("compile: policy a/x")
>>> deadline.check("compile: policy a/y")
>>> deadline.check("compile: policy a/z")
Traceback (most recent call last):
...
service.engine.deadline.DeadlineExceeded: compile: policy a/z exceeded the analysis budget of 2 s
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


class DeadlineExceeded(Exception):  # noqa: N818  (reads as the event it reports)
    """An analysis ran past its budget; ``stage`` says where it was."""

    def __init__(self, stage: str, budget: float) -> None:
        super().__init__(f"{stage} exceeded the analysis budget of {budget:g} s")
        self.stage = stage
        self.budget = budget


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point on ``clock`` (monotonic seconds); ``at`` None = no deadline."""

    at: float | None = None
    budget: float = 0.0
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def none(cls) -> Deadline:
        return _NONE

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, seconds, clock)

    @classmethod
    def of(cls, seconds: float | None) -> Deadline:
        """A budget of ``seconds`` from now, or none for None."""
        return _NONE if seconds is None else cls.after(seconds)

    @property
    def expired(self) -> bool:
        return self.at is not None and self.clock() > self.at

    def check(self, stage: str | Callable[[], str]) -> None:
        """Raise :class:`DeadlineExceeded` once the deadline has passed (``stage`` may be a
        callable, so that naming the stage costs nothing while time remains)."""
        if self.at is not None and self.clock() > self.at:
            raise DeadlineExceeded(stage if isinstance(stage, str) else stage(), self.budget)


_NONE = NO_DEADLINE = Deadline()
