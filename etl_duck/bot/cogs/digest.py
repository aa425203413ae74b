"""The session digest: posted once when the evening ends (the voice channel empties), and
on request with /digest. Score per opponent, MVP, awards, records and milestones, and each
player's night against his own average, with the session chart.

A session that gains counted rounds after its digest (a break in voice shorter than the
lake's session gap: the voice session ended, the lake session went on) has its digest
brought up to date at the next session end: the posted message is edited (the bot state
keeps its id with the mark, and how many counted rounds it covered), or, when it cannot
be (deleted, another channel), an updated digest is posted. Nothing new: nothing posted.

A late round of an earlier session (no live post: see the posts cog) has that session's
posted digest edited in place (:meth:`DigestCog.refresh_digest`), never a new message: an
old evening's digest posted again in the middle of tonight would be noise, and a digest
never posted stays unposted (the session's numbers are in the lake, /digest shows them).
"""

from __future__ import annotations

import asyncio
import logging
from io import BytesIO
from typing import TYPE_CHECKING, Any

import discord
import polars as pl
from discord import app_commands
from discord.ext import commands

from etl_duck.bot import autocomplete as ac
from etl_duck.bot.deliver import nonce, post
from etl_duck.bot.embeds import scoreboard as board
from etl_duck.bot.options import DateText
from etl_duck.bot.respond import Reply, respond
from etl_duck.domain.scoring import session_awards
from etl_duck.query.stats import SessionReport

from ._common import linked, noted, picked_session
from .posts import POSTING, REFUSALS, refusal
from .sessions import OVERVIEW_PNG, session_charts

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

log = logging.getLogger(__name__)
DIGEST = "digest"  # the mark (and its message) of a posted digest; the note: rounds covered
UPDATED = "Session digest (updated)"


def counted_rounds(rep: SessionReport) -> int:
    return rep.rounds.filter(pl.col("counted")).height


class DigestCog(commands.Cog, name="Digest"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot
        self._lock = asyncio.Lock()  # one digest post or update at a time

    async def build(
        self,
        rep: SessionReport,
        *,
        announce: bool,
        shown: tuple[list[str], list[str]] | None = None,
        claimed: list[str] | None = None,
    ) -> tuple[discord.Embed, bytes]:
        """The digest embed and its chart. ``announce``: claim the session's records and
        milestones not announced yet (the posted digest; their keys into ``claimed``); a
        /digest request only shows. ``shown``: the (records, milestones) to show instead."""
        vs = await self.bot.stats.session_vs_average(rep.session_id, rep.session_date)
        if shown is None:
            shown = await self.highlights(rep, announce=announce, claimed=claimed)
        records, milestones = shown
        overview, _ = await session_charts(self.bot, rep)
        embed = board.digest(
            rep, session_awards(rep.players), vs, records, milestones, chart=OVERVIEW_PNG
        )
        return embed, overview

    async def highlights(
        self, rep: SessionReport, *, announce: bool, claimed: list[str] | None = None
    ) -> tuple[list[str], list[str]]:
        """Records and milestones of the session (see the records cog)."""
        cog: Any = self.bot.get_cog("Records")
        if cog is None:
            return [], []
        result: tuple[list[str], list[str]] = await cog.session_highlights(
            rep, announce=announce, claimed=claimed
        )
        return result

    async def _give_back(self, claimed: list[str]) -> None:
        """Announcements a digest that did not go out claimed: free for the next post."""
        cog: Any = self.bot.get_cog("Records")
        if cog is not None and claimed:
            await cog.unannounce(claimed)

    async def post_digest(self, rep: SessionReport) -> bool:
        """Post the digest of a session to the stats channel, once ever; bring it up to
        date when the session gained counted rounds since (True: posted or updated)."""
        channel = await self.bot.stats_channel()
        if channel is None:
            return False
        async with self._lock:
            key = str(rep.session_id)
            if await asyncio.to_thread(self.bot.state.claim, DIGEST, key):
                return await self._first(channel, rep, key)
            covered = await asyncio.to_thread(self.bot.state.note, DIGEST, key)
            rounds = counted_rounds(rep)
            if covered is None or not covered.isdigit() or rounds <= int(covered):
                # (no note: posted by an older bot, or its post is still under way)
                log.info("the digest of session %s was already posted", key)
                return False
            return await self._update(channel, rep, key, rounds)

    async def refresh_digest(self, rep: SessionReport) -> bool:
        """A late round came for a session of an earlier evening: edit its posted digest to
        the whole session, in place; no digest, nothing new, or a message that cannot be
        edited (deleted, another channel): nothing (True: edited)."""
        channel = await self.bot.stats_channel()
        if channel is None:
            return False
        async with self._lock:
            key = str(rep.session_id)
            state = self.bot.state
            covered = await asyncio.to_thread(state.note, DIGEST, key)
            rounds = counted_rounds(rep)
            if covered is None or not covered.isdigit() or rounds <= int(covered):
                return False
            return await self._update(channel, rep, key, rounds, edit_only=True)

    async def _first(self, channel: Any, rep: SessionReport, key: str) -> bool:
        claimed: list[str] = []
        try:
            embed, png = await self.build(rep, announce=True, claimed=claimed)
            linked([embed], self.bot.site.session(rep.session_id))
            msg = await post(channel, nonce(DIGEST, key), embed=embed, png=(OVERVIEW_PNG, png))
        except REFUSALS as exc:  # /status says so, with the fix, as for the posts
            await self._refused(channel, exc)
            await asyncio.to_thread(self.bot.state.release, DIGEST, key)
            await self._give_back(claimed)
            raise
        except Exception:
            await asyncio.to_thread(self.bot.state.release, DIGEST, key)
            await self._give_back(claimed)
            raise
        await self._covered(channel, key, msg, counted_rounds(rep))
        return True

    async def _update(
        self, channel: Any, rep: SessionReport, key: str, rounds: int, *, edit_only: bool = False
    ) -> bool:
        """The session went on after its digest: edit the digest message to the whole
        session, or post an updated digest when that message cannot be edited (not when
        ``edit_only``: a late round's, then nothing is posted)."""
        state = self.bot.state
        link = self.bot.site.session(rep.session_id)
        claimed: list[str] = []  # given back if neither the edit nor the post goes out
        try:
            # claimed: no round post repeats it
            new = await self.highlights(rep, announce=True, claimed=claimed)
            where = await asyncio.to_thread(state.message, DIGEST, key)
            partial = getattr(channel, "get_partial_message", None)
            if (
                where is not None
                and partial is not None
                and where[0] == getattr(channel, "id", None)
            ):
                # the message shows every record and milestone of the session (what it
                # showed before, and what came since), as /digest does
                embed, png = await self.build(rep, announce=False)
                embed.set_footer(text=f"session {rep.session_id} · updated")
                linked([embed], link)
                with BytesIO(png) as buf:
                    chart = discord.File(buf, filename=OVERVIEW_PNG)
                    try:
                        msg = partial(where[1])
                        await msg.edit(embed=embed, attachments=[chart])
                    except discord.NotFound:
                        log.info("digest message %s was deleted: posting an update", where[1])
                    else:
                        log.info("digest of session %s updated to %d rounds", key, rounds)
                        await self._covered(channel, key, msg, rounds)
                        return True
                    finally:
                        chart.close()
            if edit_only:
                log.info("the digest of session %s cannot be edited: left as it is", key)
                await self._give_back(claimed)
                return False
            embed, png = await self.build(rep, announce=True, shown=new)
            embed.title = UPDATED + str(embed.title).removeprefix("Session digest")
            linked([embed], link)
            msg = await post(
                channel, nonce(DIGEST, key, rounds), embed=embed, png=(OVERVIEW_PNG, png)
            )
        except REFUSALS as exc:
            await self._refused(channel, exc)
            await self._give_back(claimed)
            raise
        except BaseException:
            await self._give_back(claimed)
            raise
        log.info("updated digest of session %s posted (%d rounds)", key, rounds)
        await self._covered(channel, key, msg, rounds)
        return True

    async def _covered(self, channel: Any, key: str, msg: Any, rounds: int) -> None:
        """The digest message of ``key`` and how many counted rounds it shows."""
        cid = int(getattr(channel, "id", 0) or 0)

        def keep() -> None:
            self.bot.state.settle(DIGEST, [key], cid, int(msg.id))
            self.bot.state.set_note(DIGEST, key, str(rounds))
            self.bot.state.clear_problem(POSTING)

        await asyncio.to_thread(keep)

    async def _refused(self, channel: Any, exc: discord.HTTPException) -> None:
        cid = int(getattr(channel, "id", 0) or 0)
        text = refusal("session digest", exc, cid)
        log.warning("%s", text)
        await asyncio.to_thread(self.bot.state.set_problem, POSTING, text)

    async def digest_reply(self, date: str | None) -> Reply:
        rep, note = await picked_session(self.bot, date)
        embed, png = await self.build(rep, announce=False)
        noted(linked([embed], self.bot.site.session(rep.session_id)), note)
        return Reply(embeds=[embed], files=[(OVERVIEW_PNG, png)])

    @app_commands.command(name="digest", description="The digest of a session")
    @app_commands.describe(
        date="The day the session started, YYYY-MM-DD, or a session from the list "
        "(default: the last)"
    )
    @app_commands.autocomplete(date=ac.session_dates)
    async def digest(
        self, interaction: discord.Interaction[Any], date: DateText | None = None
    ) -> None:
        await respond(interaction, self.digest_reply(date))
