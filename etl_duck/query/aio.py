"""The query API for an event loop: every call runs in a worker thread."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from etl_duck.query.stats import Stats


class AsyncStats:
    """The same API for an event loop: every call runs in a worker thread
    (``asyncio.to_thread``), so DuckDB and Polars never block the loop. Identical calls in
    flight at the same time share one thread hop (and the cache shares the computation)."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self._inflight: dict[Hashable, Any] = {}  # key → asyncio.Future

    def __getattr__(self, name: str) -> Callable[..., Any]:
        fn = getattr(self.stats, name)
        if not callable(fn):
            return fn  # type: ignore[no-any-return]

        async def call(*args: Any, **kwargs: Any) -> Any:
            import asyncio

            try:
                key: Hashable = (name, args, tuple(sorted(kwargs.items())))
                hash(key)
            except TypeError:
                return await asyncio.to_thread(fn, *args, **kwargs)
            pending = self._inflight.get(key)
            if pending is not None:
                return await asyncio.shield(pending)
            fut = asyncio.get_running_loop().create_future()
            self._inflight[key] = fut
            try:
                result = await asyncio.to_thread(fn, *args, **kwargs)
            except BaseException as exc:
                fut.set_exception(exc)
                fut.exception()  # retrieved: only the waiters re-raise it
                raise
            finally:
                self._inflight.pop(key, None)
            fut.set_result(result)
            return result

        return call
