"""Pausing the cyclic garbage collector around allocation-heavy work (one implementation
for decoding, compiling, maps and the command line's start-up)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False
_freeze = False


@contextmanager
def paused_gc(*, freeze: bool = True) -> Iterator[None]:
    """Disable the cyclic collector for the duration of the block.

    Decoding, compiling and mapping build millions of small dicts, tuples and port sets,
    and the collector would traverse them again and again as they pile up (decoding runs
    about three times slower; M with 200 ClusterNetworkPolicies makes about 55 young
    collections per map). None of them form reference cycles, so nothing is lost by
    pausing: reference counting still frees everything as usual.

    Re-enabling alone would only defer that work: the collector's next run traverses every
    object allocated during the pause (seconds after decoding a large cluster). So with
    ``freeze`` (the default) the objects alive when the outermost pause ends are moved to
    the permanent generation (``gc.freeze()``) first. They are still freed by reference
    counting; the cost is that a reference cycle among objects alive at that moment (in
    any thread) would never be collected. Pass ``freeze=False`` where what the block
    leaves alive is small or short-lived (a map).

    Nested and concurrent uses are counted: the collector is re-enabled (if it was enabled
    to begin with) only when the last one ends, and frozen if any of them asked for it.

    >>> enabled = gc.isenabled()
    >>> with paused_gc(freeze=False):
    ...     gc.isenabled()
    False
    >>> gc.isenabled() == enabled
    True
    """
    global _depth, _was_enabled, _freeze
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            _freeze = False
            gc.disable()
        _depth += 1
        _freeze = _freeze or freeze
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                if _freeze:
                    gc.freeze()
                gc.enable()
