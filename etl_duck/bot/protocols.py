"""What the bot needs from the fetcher (``etl_duck.fetch.Fetcher``), as a protocol.

The bot never imports the fetch module at import time (it pulls in asyncssh); it is
built in :func:`etl_duck.bot.run_bot` and tests pass a fake with the same methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol


class FetchReportLike(Protocol):
    downloaded: list[str]

    def summary(self) -> str: ...


class FetcherLike(Protocol):
    async def poll_once(self) -> Any: ...

    async def watch(self, stop: asyncio.Event, active: Callable[[], bool] | None = None) -> None:
        """Poll until ``stop``; the real one also takes ``on_report=`` (used when present)."""

    async def check(self) -> str: ...

    async def close(self) -> None: ...
