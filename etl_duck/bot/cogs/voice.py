"""Voice-driven sessions: counts members in the configured voice channels, marks a
session's start (fast polling) and end (a summary post)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from io import BytesIO
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from etl_duck.bot.embeds import session as session_embeds
from etl_duck.bot.voice import CachedCount, Change
from etl_duck.query.stats import NoData

from ._common import linked
from .sessions import OVERVIEW_PNG, session_charts

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

log = logging.getLogger(__name__)

TICK_S = 15.0  # the end countdown must run out even when nobody moves


class VoiceCog(commands.Cog, name="Voice sessions"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot
        self.count = CachedCount(bot.settings.voice_recount_s, lambda: self.bot.clock())
        self._recount: asyncio.Task[Any] | None = None
        self._tick: asyncio.Task[Any] | None = None

    @property
    def channel_ids(self) -> set[int]:
        return set(self.bot.settings.voice_channel_ids)

    async def cog_load(self) -> None:
        if self.channel_ids:
            self._tick = self.bot.spawn(self._tick_loop(), "voice-tick")

    async def cog_unload(self) -> None:
        for task in (self._tick, self._recount):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def members_in_voice(self) -> int:
        """Humans in the configured voice channels, from the gateway cache (no request)."""
        total = 0
        for cid in self.channel_ids:
            channel = self.bot.get_channel(cid)
            states = getattr(channel, "voice_states", None) or {}
            guild = getattr(channel, "guild", None)
            for uid in states:
                member = guild.get_member(uid) if guild is not None else None
                if member is None or not member.bot:
                    total += 1
        return total

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # people may already be in voice at (re)connect: count once without waiting for a move
        if self.channel_ids:
            self.count.mark_dirty()
            self.schedule_recount()

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        ids = self.channel_ids
        old = before.channel.id if before.channel else None
        new = after.channel.id if after.channel else None
        if old == new or (old not in ids and new not in ids):
            return  # mute/deafen, or channels we do not watch
        self.count.mark_dirty()
        self.schedule_recount()

    def schedule_recount(self) -> None:
        if self._recount is not None and not self._recount.done():
            return  # the pending recount will see this change too
        self._recount = self.bot.spawn(self._recount_later(), "voice-recount")

    async def _recount_later(self) -> None:
        await asyncio.sleep(self.count.wait_before_recount())
        await self.evaluate()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            await self.evaluate()

    async def evaluate(self) -> Change | None:
        players = self.count.get(self.members_in_voice)
        change = self.bot.tracker.update(players, self.bot.clock())
        if change is Change.STARTED:
            log.info("voice session started (%d players): polling faster", players)
        elif change is Change.ENDED:
            log.info("voice session ended: posting the summary")
            self.bot.spawn(self.post_session_end(), "session-end-post")
        return change

    async def post_session_end(self) -> None:
        fetcher = self.bot.fetcher
        if fetcher is not None:
            try:  # the last round's file may have landed after the last poll
                await fetcher.poll_once()
            except Exception as exc:
                log.warning("final fetch before the session post failed: %s", exc)
        channel = await self.bot.stats_channel()
        if channel is None:
            return
        try:
            rep = await self.bot.stats.last_session()
        except NoData:
            return
        embed = session_embeds.summary(rep)
        embed.title = f"Session over — {embed.title}"
        linked([embed], self.bot.site.session(rep.session_id))
        overview, _ = await session_charts(self.bot, rep)
        embed.set_image(url=f"attachment://{OVERVIEW_PNG}")
        buf = BytesIO(overview)
        file = discord.File(buf, filename=OVERVIEW_PNG)
        try:
            await channel.send(embed=embed, file=file)
        finally:
            file.close()
            buf.close()
