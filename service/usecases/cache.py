"""A bounded, thread-safe LRU cache that computes each missing value once.

Compiled snapshots are immutable, so entries never go stale; the bound keeps memory in
check. Concurrent requests for the same missing key wait for one computation instead of
each compiling the snapshot again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[K, threading.Lock] = {}
        self._waiting: dict[K, int] = {}  # threads waiting for a computation of the key
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> tuple[V, bool]:
        """``(value, hit)``."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key], True
            gate = self._pending.setdefault(key, threading.Lock())
            self._waiting[key] = self._waiting.get(key, 0) + 1
        with gate:
            with self._lock:
                if self._waiting[key] == 1:
                    del self._waiting[key]
                else:
                    self._waiting[key] -= 1
                if key in self._items:  # computed by another thread while we waited
                    self._items.move_to_end(key)
                    self.hits += 1
                    return self._items[key], True
            value = compute()
            with self._lock:
                self.misses += 1
                self._items[key] = value
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._pending.pop(key, None)
            return value, False

    def awaited(self, predicate: Callable[[K], bool]) -> bool:
        """Does a thread wait for another's computation of a key ``predicate`` accepts?"""
        with self._lock:
            return any(predicate(key) for key in self._waiting)

    def peek(self, key: K) -> V | None:
        """The cached value, without computing it (and without counting a hit or a miss)."""
        with self._lock:
            return self._items.get(key)

    def discard(self, predicate: Callable[[K], bool]) -> None:
        with self._lock:
            for key in [k for k in self._items if predicate(k)]:
                del self._items[key]

    def __len__(self) -> int:
        return len(self._items)
