"""The ingest step the fetcher calls, with commit listeners for the bot.

The fetcher hands each downloaded batch to ``Ingestor(paths)`` in a worker thread. After
the commit, listeners (round posts, cache warming) are scheduled on the bot's event loop,
so a commit made by ``/sync`` and one made by the background watch behave the same.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl_duck.ingest.options import IngestOptions, IngestReport

if TYPE_CHECKING:
    from etl_duck.settings import Settings

log = logging.getLogger(__name__)

Listener = Callable[[IngestReport], Coroutine[Any, Any, None]]


class Ingestor:
    """``ingest_paths`` for one data directory, notifying listeners after each commit."""

    def __init__(self, data_dir: Path | str, options: IngestOptions | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.options = options or IngestOptions()
        self._listeners: list[tuple[asyncio.AbstractEventLoop, Listener]] = []
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Ingestor:
        return cls(settings.data_dir, settings.ingest_options())

    def for_server(self, server: str) -> Callable[[list[Path]], IngestReport]:
        """This ingest for the files of one game server (what its Fetcher is given)."""
        return functools.partial(self, server=server)

    def subscribe(self, loop: asyncio.AbstractEventLoop, listener: Listener) -> None:
        with self._lock:
            self._listeners.append((loop, listener))

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = [(lp, fn) for lp, fn in self._listeners if fn != listener]

    def __call__(self, paths: Sequence[Path], server: str = "") -> IngestReport:
        """Ingest one batch of ``server``'s files (blocking: call it from a worker thread)."""
        from etl_duck.ingest.run import ingest_paths  # PyArrow loads with the first batch

        report = ingest_paths(self.data_dir, list(paths), self.options, server=server)
        log.info("ingest: %s", report.summary())
        if report.settings_changed:  # another process's settings, derived back: say so
            from etl_duck.ingest.derived import rederived_note

            log.warning("ingest: %s", rederived_note(report.settings_changed))
        self.notify(report)
        return report

    def notify(self, report: IngestReport) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for loop, listener in listeners:
            if loop.is_closed():
                continue
            fut = asyncio.run_coroutine_threadsafe(listener(report), loop)
            with self._lock:
                self._pending.add(fut)
            fut.add_done_callback(self._done)

    def _done(self, fut: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._pending.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:
            log.error("a commit listener failed", exc_info=fut.exception())

    async def wait_idle(self) -> None:
        """Wait until every listener scheduled so far has finished (tests, shutdown)."""
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            await asyncio.gather(*(asyncio.wrap_future(f) for f in pending), return_exceptions=True)
