"""Rate-limit friendly edits: run ``work(key)`` at most once per interval per key, folding
every request that arrives in between into the next run.

Discord allows a handful of message edits per channel every few seconds; a backlog of
rounds (or several commits in a burst) must become one edit of the live scoreboard, not
twenty. Pure asyncio with an injected clock, so the rule is tested without Discord.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)


class Coalescer(Generic[K]):
    """``request(key)`` schedules ``work(key)``: at once if the key's last run is at least
    ``min_interval`` seconds old, else when it is; requests meanwhile fold into that run."""

    def __init__(
        self,
        work: Callable[[K], Awaitable[None]],
        min_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.work = work
        self.min_interval = min_interval
        self.clock = clock
        self._dirty: set[K] = set()
        self._tasks: dict[K, asyncio.Task[None]] = {}
        self._last: dict[K, float] = {}
        self.runs = 0

    def request(self, key: K) -> None:
        self._dirty.add(key)
        task = self._tasks.get(key)
        if task is None or task.done():
            self._tasks[key] = asyncio.get_running_loop().create_task(
                self._drain(key), name=f"coalesce-{key}"
            )

    async def _drain(self, key: K) -> None:
        while key in self._dirty:
            last = self._last.get(key)
            wait = 0.0 if last is None else last + self.min_interval - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                await asyncio.sleep(0)  # requests made in the same tick join this run
            self._dirty.discard(key)
            try:
                await self.work(key)
            except Exception:
                log.exception("coalesced work for %s failed", key)
            finally:
                self._last[key] = self.clock()
                self.runs += 1

    async def flush(self) -> None:
        """Wait until every requested run has happened (tests, shutdown)."""
        while True:
            pending = [t for t in self._tasks.values() if not t.done()]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    def cancel(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        self._dirty.clear()
