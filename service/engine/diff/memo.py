"""A few recent answers of a function of immutable objects, by the objects' identity.

Compiled snapshots and maps are never changed once built, so what a diff derives from one
of them holds for as long as the object lives: a what-if's head shares its base's classes
and pods, and every what-if on one base shares the base. The key objects are held with the
answer, so their ids are never reused while the entry exists.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    def __init__(self, kept: int = 4) -> None:
        self._kept = kept
        self._entries: list[tuple[tuple[object, ...], V]] = []
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...], compute: Callable[[], V]) -> V:
        """The answer for these objects (the same objects, not equal ones), computed once
        (two threads asking at once may both compute it: it is the same answer)."""
        with self._lock:
            for held, value in self._entries:
                if len(held) == len(key) and all(a is b for a, b in zip(held, key, strict=True)):
                    return value
        value = compute()
        with self._lock:
            self._entries.insert(0, (key, value))
            del self._entries[self._kept :]
        return value
