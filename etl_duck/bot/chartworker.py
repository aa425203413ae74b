"""The bot's charts, drawn in a process of their own.

matplotlib (fonts, Agg, ~60 MiB) and each chart's allocations live in that process, so
the bot process stays small on a 2-core VPS (bot-like RSS at 10 years: 245 MiB with
charts drawn in process, see DECISIONS "Memory"). Agg also holds the GIL while it draws:
in another process it no longer delays the bot's event loop.

One worker, shared by everything in the process that draws bot charts, started by the
bot's warm-up (or the first chart) and spawned, not forked: the bot has threads and an
event loop that a fork would copy mid-flight. A worker that dies (killed, out of memory)
is replaced and the chart drawn again, once.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

from etl_duck import charts

P = ParamSpec("P")
T = TypeVar("T")


class ChartWorker:
    """Runs functions of :mod:`etl_duck.charts` in a worker process; call it from a worker
    thread (``render`` blocks until the PNG is back)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn")
                )
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def render(self, chart: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``chart(*args, **kwargs)`` in the worker (arguments and result are pickled)."""
        for attempt in (1, 2):
            pool = self._executor()
            try:
                return pool.submit(chart, *args, **kwargs).result()
            except BrokenProcessPool:  # the worker died: a new one draws it again, once
                self._discard(pool)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def warm_up(self) -> None:
        """Start the worker and load matplotlib's fonts there: the first chart is quick."""
        self.render(charts.warm_up)

    def pid(self) -> int | None:
        """The worker's process id (None before the first chart): for tests and status."""
        pool = self._pool
        procs = getattr(pool, "_processes", None) or {}
        return next(iter(procs), None)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_SHARED: ChartWorker | None = None
_SHARED_LOCK = threading.Lock()


def shared() -> ChartWorker:
    """The process's chart worker (one per process, like the bot it serves)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = ChartWorker()
        return _SHARED
