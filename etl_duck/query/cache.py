"""The query cache: an LRU keyed on (query, parameters, version of the data it read).

There is no TTL: a commit changes the version part of the key, so new data is never
hidden and unchanged data is never recomputed. Identical concurrent requests share one
computation (single flight); asyncio callers go through ``AsyncStats``, which runs it
in a worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cachetools import LRUCache

T = TypeVar("T")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    shared: int = 0  # requests that joined a computation already in flight
    size: int = 0
    maxsize: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class QueryCache:
    """Thread-safe LRU with single-flight computation."""

    def __init__(self, maxsize: int = 512) -> None:
        self._lru: LRUCache[Hashable, Any] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()
        self._inflight: dict[Hashable, Future[Any]] = {}
        self.hits = self.misses = self.shared = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                self.hits, self.misses, self.shared, len(self._lru), int(self._lru.maxsize)
            )

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()

    def peek(self, key: Hashable) -> tuple[bool, Any]:
        """(found, value) without computing; counts a hit when found."""
        with self._lock:
            try:
                value = self._lru[key]
            except KeyError:
                return False, None
            self.hits += 1
            return True, value

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return the cached value or compute it once, whoever else asks meanwhile."""
        with self._lock:
            try:
                value: T = self._lru[key]
                self.hits += 1
                return value
            except KeyError:
                pass
            fut = self._inflight.get(key)
            owner = fut is None
            if fut is None:
                fut = Future()
                self._inflight[key] = fut
                self.misses += 1
            else:
                self.shared += 1
        if not owner:
            return fut.result()  # type: ignore[no-any-return]
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                self._inflight.pop(key, None)
            fut.set_exception(exc)
            raise
        with self._lock:
            self._lru[key] = value
            self._inflight.pop(key, None)
        fut.set_result(value)
        return value


class VersionMemo(Generic[T]):
    """One value kept per lake version (``(epoch, version)``, ``Stats._at``): a table over
    all of history every answer of a version shares (all-time totals, the names index).
    Built once per version under a lock (first requests in several threads share one
    build); a newer version's value is never replaced by an older one's (an answer pinned
    to an older version builds its own and keeps it to itself)."""

    def __init__(self) -> None:
        self._held: tuple[tuple[int, int], T] | None = None
        self._lock = threading.Lock()

    def peek(self, at: tuple[int, int]) -> T | None:
        """The value of version ``at`` if built, else None (nothing built)."""
        held = self._held
        return held[1] if held is not None and held[0] == at else None

    def get(self, at: tuple[int, int], build: Callable[[], T]) -> T:
        held = self._held  # one read: a tuple replaced whole, never changed in place
        if held is not None and held[0] == at:
            return held[1]
        with self._lock:
            held = self._held
            if held is not None and held[0] == at:
                return held[1]
            value = build()
            if held is None or held[0] < at:
                self._held = (at, value)
            return value

    def clear(self) -> None:
        """Forget the value (another lake: its version numbers come again)."""
        self._held = None
