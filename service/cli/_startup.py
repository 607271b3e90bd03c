"""The cyclic collector paused while the command line starts (imported first).

Start-up only makes long-lived objects (modules, classes, functions, the commands'
parameters); the collector would walk them again and again as they pile up, about 40 ms of
every command's start. Reference counting still frees everything meanwhile. When the pause
ends, what is alive is moved to the permanent generation (``gc.freeze()``, as
:func:`service.engine.collector.paused_gc` does), else the collector's next run would walk
it all at once.
"""

from __future__ import annotations

import gc

_collecting = gc.isenabled()
gc.disable()


def resume() -> None:
    """Start-up is over: the collector runs again (if it ran before)."""
    if _collecting:
        gc.freeze()
        gc.enable()
