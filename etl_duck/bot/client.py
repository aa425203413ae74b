"""The bot: a ``commands.Bot`` that receives its dependencies and loads one cog per feature."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from etl_duck.bot.chartworker import ChartWorker, shared
from etl_duck.bot.deliver import nonce, post
from etl_duck.bot.protocols import FetcherLike
from etl_duck.bot.respond import APOLOGY
from etl_duck.bot.voice import SessionTracker
from etl_duck.botstate import BotState
from etl_duck.links import LinkStore
from etl_duck.pipeline import Ingestor
from etl_duck.query.aio import AsyncStats
from etl_duck.query.cache import QueryCache
from etl_duck.settings import Settings
from etl_duck.site.urls import SiteLinks

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class FetchState:
    """What /status shows about the background fetch."""

    configured: bool = False
    running: bool = False
    last_poll: datetime | None = None
    last_summary: str | None = None
    error: str | None = None


def intents() -> discord.Intents:
    """Guilds (channel cache) and voice states (session detection): no privileged intent."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.voice_states = True
    return wanted


class EtlDuckBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        stats: AsyncStats,
        links: LinkStore,
        *,
        state: BotState | None = None,
        fetcher: FetcherLike | None = None,
        ingestor: Ingestor | None = None,
        cache: QueryCache | None = None,
        chart_worker: ChartWorker | None = None,
        clock: Callable[[], float] = time.monotonic,
        sync_commands: bool = True,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,  # slash commands only
            help_command=None,
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),  # player names never ping
        )
        self.settings = settings
        self.stats = stats
        self.cache = cache or stats.cache
        self.links = links
        # what was posted / announced, scoreboard messages, team overrides: outside the lake
        self.state = state or BotState.in_data_dir(settings.data_dir)
        self.fetcher = fetcher
        self.ingestor = ingestor
        # charts are drawn in a process of their own: matplotlib stays out of the bot's
        self.chart_worker = chart_worker or shared()
        self.clock = clock
        self.sync_commands = sync_commands
        self.fetch_state = FetchState(configured=fetcher is not None)
        self.site = SiteLinks(settings.site_url)  # page links in embeds (None: no site)
        self.tracker = SessionTracker(
            start_players=settings.session_start_players,
            end_players=settings.session_end_players,
            end_after_s=settings.session_end_minutes * 60.0,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        #: why the last :meth:`stats_channel` found no channel: Discord's 404 (it was
        #: deleted: a new one must be set) or 403 (the bot may not see it); None if it did
        self.stats_channel_error: discord.HTTPException | None = None
        self.tree.error(self._on_app_command_error)

    # ------------------------------------------------------------------ lifecycle

    async def setup_hook(self) -> None:
        await self.load_cogs()
        await self.prepare()
        if self.sync_commands:
            from etl_duck.bot.commandsync import sync_if_changed

            await sync_if_changed(self)

    async def load_cogs(self) -> None:
        from etl_duck.bot.cogs import COGS

        for cog in COGS:
            await self.add_cog(cog(self))

    async def prepare(self) -> None:
        """Pay one-time costs before the first command: fill the serving tables and the
        cache, start the chart worker (its fonts load there), then freeze the start-up
        objects out of the GC's view (a full collection over discord.py would pause every
        thread)."""
        try:
            await self.stats.warm()
            await asyncio.to_thread(self.chart_worker.warm_up)
        except Exception:  # commands still work (and report the problem) without it
            log.exception("warming up failed")
        gc.collect()
        gc.freeze()

    async def close(self) -> None:
        for name in list(self.cogs):
            await self.remove_cog(name)  # cogs stop their background work in cog_unload
        for task in list(self._tasks):
            task.cancel()
        await super().close()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A background task that is kept referenced and whose failure is logged."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task %s failed", name, exc_info=t.exception())

        task.add_done_callback(done)
        return task

    # ------------------------------------------------------------------ shared services

    def is_admin(self, user: discord.abc.User | Any) -> bool:
        """Admins are listed by user id or role id in the settings (nobody if both empty)."""
        s = self.settings
        if user.id in s.admin_user_ids:
            return True
        roles = getattr(user, "roles", None) or []
        return any(r.id in s.admin_role_ids for r in roles)

    def session_active(self) -> bool:
        """Poll fast: a voice session is on, or a file arrived within the session gap."""
        if self.tracker.active:
            return True
        last = self.fetcher.last_download if self.fetcher is not None else None
        gap = self.settings.session_gap_minutes * 60.0
        return last is not None and time.time() - last < gap

    async def edit_or_send(
        self, kind: str, key: str, channel: Any, embed: discord.Embed
    ) -> tuple[str, Any]:
        """Edit the message remembered for ``(kind, key)``, or send a new one (first time,
        or the old one was deleted) and remember it: ("edited" | "sent", message)."""
        where = await asyncio.to_thread(self.state.message, kind, key)
        if where is not None and where[0] == getattr(channel, "id", where[0]):
            partial = getattr(channel, "get_partial_message", None)
            try:
                msg = partial(where[1]) if partial else await channel.fetch_message(where[1])
                await msg.edit(embed=embed)
                return "edited", msg
            except discord.NotFound:
                log.info("%s message %s was deleted: posting a new one", kind, where[1])
        # a nonce of this message's generation: a lost answer cannot make two scoreboards
        msg = await post(channel, nonce(kind, key, where[1] if where else 0), embed=embed)
        cid = getattr(channel, "id", None) or 0
        await asyncio.to_thread(self.state.set_message, kind, key, cid, msg.id)
        return "sent", msg

    async def stats_channel(self) -> discord.abc.Messageable | None:
        cid = self.settings.stats_channel_id
        if cid is None:
            return None
        channel: Any = self.get_channel(cid)
        if channel is None:
            try:
                channel = await self.fetch_channel(cid)
            except discord.HTTPException as exc:
                log.warning("stats channel %s is not reachable: %s", cid, exc)
                self.stats_channel_error = exc
                return None
        self.stats_channel_error = None
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("stats channel %s cannot receive messages", cid)
            return None
        return channel

    # ------------------------------------------------------------------ errors

    async def _on_app_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        # commands answer through respond(), which handles their errors; this catches the
        # rest (argument conversion, checks, a failure inside discord.py)
        if isinstance(error, app_commands.CheckFailure):
            message = "You are not allowed to use this command."
        else:
            message = APOLOGY
            log.error("app command failed", exc_info=error)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True)
            else:
                await interaction.response.send_message(message, ephemeral=True)
        except discord.HTTPException:
            log.debug("could not report an app command error", exc_info=True)
