"""Runs the fetcher's watch loop inside the bot (faster while a session is on)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from discord.ext import commands

from etl_duck.domain.sources import label

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot
    from etl_duck.bot.protocols import FetchReportLike


log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


class FetchCog(commands.Cog, name="Fetch"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot
        self._stop = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None
        #: each game server's current trouble (a failed poll's sentence), until it recovers
        self._troubles: dict[str, str] = {}

    async def cog_load(self) -> None:
        if self.bot.fetcher is not None:
            self._stop.clear()
            self._task = self.bot.spawn(self._watch(), "fetch-watch")

    async def cog_unload(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:  # a listing or download is dropped, an ingest under way commits; then watch returns
                await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self.bot.fetcher is not None:
            await self.bot.fetcher.close()

    def _on_report(self, report: FetchReportLike) -> None:
        state = self.bot.fetch_state
        state.last_poll = datetime.now()
        state.last_summary = str(report.summary())

    def _on_trouble(self, server: str, problem: str | None) -> None:
        """A failed poll (server down, folder gone, ingest failing) shows in /status until
        that server's next good poll: before, /status said "watching" through an outage."""
        if problem is None:
            self._troubles.pop(server, None)
        else:
            self._troubles[server] = problem
        several = len(self._troubles) > 1
        self.bot.fetch_state.error = (
            "; ".join(f"{label(s)}: {p}" if s or several else p for s, p in self._troubles.items())
            or None
        )

    async def _watch(self) -> None:
        fetcher = self.bot.fetcher
        assert fetcher is not None
        state = self.bot.fetch_state
        state.running, state.error = True, None
        self._troubles.clear()
        try:
            await fetcher.watch(
                self._stop,
                self.bot.session_active,
                on_report=self._on_report,
                on_trouble=self._on_trouble,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # host key, key or settings problems: retrying cannot fix them; queries go on
            state.error = f"{type(exc).__name__}: {exc}"
            log.error("fetch loop stopped: %s", state.error)
        finally:
            state.running = False
