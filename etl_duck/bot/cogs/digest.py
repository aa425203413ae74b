"""The session digest: posted once when the evening ends (the voice channel empties), and
on request with /digest. Score per opponent, MVP, awards, records and milestones, and each
player's night against his own average, with the session chart."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from etl_duck.bot import autocomplete as ac
from etl_duck.bot.deliver import nonce, post
from etl_duck.bot.embeds import scoreboard as board
from etl_duck.bot.options import DateText
from etl_duck.bot.respond import Reply, respond
from etl_duck.domain.scoring import session_awards
from etl_duck.query.stats import SessionReport

from ._common import linked, session_report
from .posts import POSTING, REFUSALS, refusal
from .sessions import OVERVIEW_PNG, session_charts

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

log = logging.getLogger(__name__)
DIGEST = "digest"


class DigestCog(commands.Cog, name="Digest"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot

    async def build(self, rep: SessionReport, *, announce: bool) -> tuple[discord.Embed, bytes]:
        """The digest embed and its chart. ``announce``: claim the session's records and
        milestones not announced yet (the posted digest); a /digest request only shows."""
        vs = await self.bot.stats.session_vs_average(rep.session_id, rep.session_date)
        records, milestones = await self.highlights(rep, announce=announce)
        overview, _ = await session_charts(self.bot, rep)
        embed = board.digest(
            rep, session_awards(rep.players), vs, records, milestones, chart=OVERVIEW_PNG
        )
        return embed, overview

    async def highlights(
        self, rep: SessionReport, *, announce: bool
    ) -> tuple[list[str], list[str]]:
        """Records and milestones of the session (see the records cog)."""
        cog: Any = self.bot.get_cog("Records")
        if cog is None:
            return [], []
        result: tuple[list[str], list[str]] = await cog.session_highlights(rep, announce=announce)
        return result

    async def post_digest(self, rep: SessionReport) -> bool:
        """Post the digest of a session to the stats channel, once ever."""
        channel = await self.bot.stats_channel()
        if channel is None:
            return False
        key = str(rep.session_id)
        if not await asyncio.to_thread(self.bot.state.claim, DIGEST, key):
            log.info("the digest of session %s was already posted", key)
            return False
        try:
            embed, png = await self.build(rep, announce=True)
            linked([embed], self.bot.site.session(rep.session_id))
            await post(channel, nonce(DIGEST, key), embed=embed, png=(OVERVIEW_PNG, png))
        except REFUSALS as exc:  # /status says so, with the fix, as for the posts
            cid = int(getattr(channel, "id", 0) or 0)
            text = refusal("session digest", exc, cid)
            log.warning("%s", text)
            await asyncio.to_thread(self.bot.state.release, DIGEST, key)
            await asyncio.to_thread(self.bot.state.set_problem, POSTING, text)
            raise
        except Exception:
            await asyncio.to_thread(self.bot.state.release, DIGEST, key)
            raise
        await asyncio.to_thread(self.bot.state.clear_problem, POSTING)
        return True

    async def digest_reply(self, date: str | None) -> Reply:
        rep = await session_report(self.bot, date)
        embed, png = await self.build(rep, announce=False)
        linked([embed], self.bot.site.session(rep.session_id))
        return Reply(embeds=[embed], files=[(OVERVIEW_PNG, png)])

    @app_commands.command(name="digest", description="The digest of a session")
    @app_commands.describe(date="The day the session started, YYYY-MM-DD (default: the last)")
    @app_commands.autocomplete(date=ac.session_dates)
    async def digest(
        self, interaction: discord.Interaction[Any], date: DateText | None = None
    ) -> None:
        await respond(interaction, self.digest_reply(date))
