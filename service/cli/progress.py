"""Progress on standard error while a command works: one line, rewritten in place.

Shown only when standard error is a terminal (never in CI logs or pipes), only once the
work has lasted ``NETREACH_PROGRESS_AFTER`` seconds (1 by default: most commands finish
sooner), and never with ``--quiet``. Standard output is never written to; when it is the
same terminal, the line is cleared before the command's output starts. Commands name
their stages with :func:`stage`; anything else printed on standard error goes through
:func:`message`, so messages never land in the middle of the line.

Deliberately tiny (no rich): it is imported by every command, and ``--help`` must stay fast.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from typing import TextIO

DEFAULT_AFTER = 1.0
TICK = 0.25


class Progress:
    """Draws ``netreach: <stage>... <seconds>`` on ``stream`` from a background thread."""

    def __init__(self, stream: TextIO, *, after: float = DEFAULT_AFTER, tick: float = TICK):
        self.stream = stream
        self.after = after
        self.tick = tick
        self.started = time.monotonic()
        self.label = ""
        self.shown = ""  # the line on screen
        self.width = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def stage(self, label: str) -> None:
        with self._lock:
            self.label = label
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()

    def clear(self) -> None:
        """Erase the line (the next tick draws it again)."""
        with self._lock:
            self._erase()

    def message(self, text: str) -> None:
        """Print a line of its own (the next tick draws the progress below it)."""
        with self._lock:
            self._erase()
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Stop drawing and erase the line."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.clear()

    def _run(self) -> None:
        wait = self.after - (time.monotonic() - self.started)
        if wait > 0 and self._stop.wait(wait):
            return
        while not self._stop.is_set():
            with self._lock:
                self._draw()
            self._stop.wait(self.tick)

    def _draw(self) -> None:
        text = f"netreach: {self.label}... {time.monotonic() - self.started:.0f} s"
        if text != self.shown:
            self.stream.write("\r" + text.ljust(self.width))
            self.stream.flush()
            self.shown, self.width = text, len(text)

    def _erase(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.shown, self.width = "", 0


_quiet = False
_current: Progress | None = None


def _start_after() -> float:
    try:
        return max(0.0, float(os.environ.get("NETREACH_PROGRESS_AFTER", DEFAULT_AFTER)))
    except ValueError:
        return DEFAULT_AFTER


def stage(label: str) -> None:
    """The command now does ``label`` (``reading manifests``, ``compiling``, ...)."""
    global _current
    if _quiet:
        return
    if _current is None:
        stream = sys.stderr
        if not stream.isatty():
            return
        _current = Progress(stream, after=_start_after())
        atexit.register(stop)
    _current.stage(label)


def message(text: str) -> None:
    """Print a line on standard error, never in the middle of the progress line."""
    if _current is None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    else:
        _current.message(text)


def stop() -> None:
    """No more progress in this process (``--quiet``, or the output is about to start on
    the same terminal); the line is erased."""
    global _current, _quiet
    _quiet = True
    if _current is not None:
        _current.close()
        _current = None


def before_output() -> None:
    """Called before writing to standard output: stop if that is the terminal too."""
    if _current is not None and sys.stdout.isatty():
        stop()
