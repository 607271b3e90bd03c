"""Give memory back to the system after large requests.

Parsing a 50 MB upload allocates hundreds of MB of small Python objects. Python frees them
when the request ends, but glibc's allocator keeps the freed pages in its arenas, so an
idle server stays at its peak for ever (after four uploads of 100,000 ConfigMaps: 6x its
fresh size). :class:`ReleaseMemoryMiddleware` counts the bytes of each request and its
response; after one larger than ``threshold`` (once the response is sent) it collects
cyclic garbage and calls glibc's ``malloc_trim(0)``, which returns the free pages of every
arena to the kernel. Elsewhere (musl, macOS) only the collection runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
from collections.abc import Callable
from functools import cache

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MiB = 1024 * 1024
DEFAULT_THRESHOLD = 8 * MiB


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_releasing = threading.Lock()


def release_memory() -> bool:
    """Collect garbage and return free heap pages to the system (glibc); ``False`` when
    another thread is doing it already or there is no ``malloc_trim``."""
    if not _releasing.acquire(blocking=False):
        return False
    try:
        gc.collect()
        trim = _malloc_trim()
        if trim is None:
            return False
        trim(0)
        return True
    finally:
        _releasing.release()


class ReleaseMemoryMiddleware:
    """After a request whose body or response exceeded ``threshold`` bytes, release memory
    (in a worker thread, after the response was sent)."""

    def __init__(self, app: ASGIApp, threshold: int = DEFAULT_THRESHOLD) -> None:
        self.app = app
        self.threshold = threshold

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        moved = 0

        async def counting_receive() -> Message:
            nonlocal moved
            message = await receive()
            moved += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal moved
            if message["type"] == "http.response.body":
                moved += len(message.get("body", b""))
            await send(message)

        await self.app(scope, counting_receive, counting_send)
        if moved > self.threshold:
            await anyio.to_thread.run_sync(release_memory)
