"""The cyclic collector paused while the command line starts (imported first).

Start-up only makes long-lived objects (modules, classes, functions, the commands'
parameters); the collector would walk them again and again as they pile up, about 40 ms of
every command's start. Reference counting still frees everything meanwhile. When the pause
ends, what is alive is moved to the permanent generation (``gc.freeze()``, as
:func:`service.ingest.gc.paused_gc` does), else the collector's next run would walk it all
at once.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_collecting = gc.isenabled()
gc.disable()


def resume() -> None:
    """Start-up is over: the collector runs again (if it ran before)."""
    if _collecting:
        gc.freeze()
        gc.enable()


@contextmanager
def collector_paused() -> Iterator[None]:
    """For a command's own imports (numpy, the engine): the collector paused meanwhile.

    Not :func:`service.ingest.gc.paused_gc`: importing that package loads the manifest
    reader (about 150 ms), which every command would then pay at start-up."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()
            gc.enable()
