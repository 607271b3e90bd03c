"""``netreach capture --every``: one cycle per interval until a signal stops it.

A failed cycle is logged and retried after an exponential backoff with jitter, never longer
than the interval itself. SIGTERM or SIGINT stops the loop: while it waits, at once; during a
cycle, by abandoning the cycle where it is (an upload either happened or did not: the server
stores a snapshot whole or not at all).
"""

from __future__ import annotations

import logging
import random
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType

from service.capture.errors import CaptureError

INITIAL_BACKOFF = 1.0  # seconds after the first failure
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration: ``30s``, ``5m``, ``1h30m``, ``500ms``.

    >>> parse_duration("1h30m"), parse_duration("500ms"), parse_duration("2.5s")
    (5400.0, 0.5, 2.5)
    """
    pieces = _DURATION.findall(text)
    if not text or "".join(number + unit for number, unit in pieces) != text:
        raise ValueError(f"invalid duration {text!r}: use a number and a unit, e.g. 30s, 5m, 1h")
    seconds = sum(float(number) * _UNITS[unit] for number, unit in pieces)
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: it must be longer than zero")
    return seconds


def backoff(
    failures: int,
    interval: float,
    *,
    initial: float = INITIAL_BACKOFF,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after ``failures`` consecutive failures: ``initial * 2**(failures-1)``
    capped at ``interval``, then jittered to between half and all of that (so that many
    snapshotters failing together do not retry together).

    >>> [backoff(n, 60, rand=lambda: 1.0) for n in (1, 2, 3, 7, 8)]
    [1.0, 2.0, 4.0, 60.0, 60.0]
    >>> backoff(3, 60, rand=lambda: 0.0)
    2.0
    """
    ceiling = min(interval, initial * 2.0 ** min(failures - 1, 62))
    return ceiling / 2 + rand() * ceiling / 2


class Stopped(BaseException):  # like KeyboardInterrupt: not caught as an error
    """Raised in the main thread by a stop signal that arrives during a cycle."""


class StopSignals:
    """SIGTERM and SIGINT set :attr:`event`; inside :meth:`cycle` they also raise
    :class:`Stopped`, so that a cycle blocked on the network is abandoned at once."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.event = threading.Event()
        self.received: str | None = None
        self._in_cycle = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        for number in self.SIGNALS:
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self.received = signal.Signals(number).name
        self.event.set()
        if self._in_cycle:
            self._in_cycle = False
            raise Stopped

    @contextmanager
    def cycle(self) -> Iterator[None]:
        if self.event.is_set():
            raise Stopped
        self._in_cycle = True
        try:
            yield
        finally:
            self._in_cycle = False


def run_every(
    interval: float,
    cycle: Callable[[], str],
    *,
    signals: StopSignals,
    log: logging.Logger,
    wait: Callable[[float], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] = random.random,
    expected: tuple[type[Exception], ...] = (CaptureError,),
) -> int:
    """Run ``cycle`` (which returns a line to log) every ``interval`` seconds, start to
    start, until ``signals`` stops it; returns the number of cycles that succeeded.

    ``wait(seconds)`` returns True when it was stopped; the default waits on the signals.
    Failures of the ``expected`` types are logged as one line, any other with its traceback.
    """
    wait = wait or signals.event.wait
    failures = succeeded = 0
    while True:
        started = clock()
        try:
            with signals.cycle():
                outcome = cycle()
        except Stopped:
            log.info("stop signal (%s) during a cycle: abandoned it", signals.received)
            break
        except Exception as error:
            failures += 1
            delay = backoff(failures, interval, rand=rand)
            if isinstance(error, expected):
                log.warning(
                    "cycle failed (%d in a row): %s; retrying in %.1fs", failures, error, delay
                )
            else:  # a bug, or an error nobody translated: keep the traceback
                log.exception("cycle failed (%d in a row); retrying in %.1fs", failures, delay)
        else:
            failures = 0
            succeeded += 1
            log.info("%s", outcome)
            delay = max(0.0, interval - (clock() - started))
        if wait(delay):
            log.info("stop signal (%s): stopped", signals.received)
            break
    return succeeded
