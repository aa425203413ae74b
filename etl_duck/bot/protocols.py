"""What the bot needs from the fetcher (``etl_duck.fetch.poller.Fetcher``), as protocols.

The bot never imports the fetch package at import time (it pulls in asyncssh); the fetcher
is built in :func:`etl_duck.bot.run_bot`. Test fakes are checked against these protocols
by mypy (``tests/bot_fakes.py`` assigns them to protocol-typed names), and the real
Fetcher is checked against them in ``tests/test_bot_background.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol


class FetchReportLike(Protocol):
    @property
    def downloaded(self) -> list[str]: ...

    def summary(self) -> str: ...


class FetcherLike(Protocol):
    #: local epoch seconds (``time.time()``) of the last poll that downloaded a file
    @property
    def last_download(self) -> float | None: ...

    async def poll_once(self) -> FetchReportLike: ...

    async def watch(
        self,
        stop: asyncio.Event,
        active: Callable[[], bool] | None = None,
        *,
        on_report: Callable[[FetchReportLike], object] | None = None,
        #: (server, sentence) after each failed poll; (server, None) once one works again
        on_trouble: Callable[[str, str | None], object] | None = None,
    ) -> None: ...

    async def check(self) -> str: ...

    async def close(self) -> None: ...
