"""Voice-driven sessions: counts members in the configured voice channels, marks a
session's start (fast polling) and end (the session digest, see the digest cog).

The evening played in voice is every lake session (on any game server) that gained a
round after the voice session started: when it starts, each server's last played round
is noted, and when it ends, each session that ended after its server's note gets its
digest. A voice session with no new round (only talk, or the bot's own start) falls back
to the last evening in the lake: the session that ended last and those of other servers
that ended within the session gap before it began.

A voice session in progress survives a restart of the bot: its start and notes are kept
in the bot state until it ends (a restart with fewer than ``session_start_players`` in
voice would otherwise never start it again: no fast polling, no digest).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from etl_duck.bot.voice import CachedCount, Change
from etl_duck.query.stats import NoData

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

log = logging.getLogger(__name__)

TICK_S = 15.0  # the end countdown must run out even when nobody moves
#: the bot state's note of the voice session in progress: {"started": epoch s, "marks":
#: {server: its last played round's end when the session started (ISO), ...} or null}
VOICE, IN_PROGRESS = "voice", "session"
#: a voice session noted longer ago than this is not resumed after a restart
STALE_S = 24 * 3600.0
#: an evening's digests never reach back further than this before the lake's last round
#: (a whole server's history imported during the evening is not "tonight")
EVENING = timedelta(hours=24)

Marks = dict[str, datetime]


class VoiceCog(commands.Cog, name="Voice sessions"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot
        self.count = CachedCount(bot.settings.voice_recount_s, lambda: self.bot.clock())
        self._recount: asyncio.Task[Any] | None = None
        self._tick: asyncio.Task[Any] | None = None
        self.wall: Callable[[], float] = time.time  # the state's times outlive a restart
        #: each game server's last played round when the voice session started (None:
        #: unknown, or no voice session)
        self.marks: Marks | None = None

    @property
    def channel_ids(self) -> set[int]:
        return set(self.bot.settings.voice_channel_ids)

    async def cog_load(self) -> None:
        if self.channel_ids:
            await self._resume()
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
            await self._remember_start()
        elif change is Change.ENDED:
            log.info("voice session ended: posting the summary")
            marks, self.marks = self.marks, None
            # kept, marked ended, until every digest is out: a bot stopped during the final
            # fetch or the posts posts them when it starts again (the digests are once)
            await self._keep(marks, ended=True)
            self.bot.spawn(self._end(marks), "session-end-post")
        return change

    async def _end(self, marks: Marks | None) -> None:
        await self.post_session_end(marks)
        await self._forget_start()  # not reached when cancelled: the next start finishes

    async def _end_when_ready(self, marks: Marks | None) -> None:
        with contextlib.suppress(RuntimeError):  # a client never logged in (tests)
            await self.bot.wait_until_ready()
        await self._end(marks)

    # ------------------------------------------------------------------ kept across restarts

    async def _remember_start(self) -> None:
        marks = await self._lake_marks()
        if not self.bot.tracker.active:
            return  # it ended while the lake was asked: nothing to keep (or to write back)
        self.marks = marks
        await self._keep(marks, ended=False)

    async def _keep(self, marks: Marks | None, *, ended: bool) -> None:
        saved = {
            "started": self.wall(),
            "ended": ended,
            "marks": None if marks is None else {s: end.isoformat() for s, end in marks.items()},
        }
        try:
            await asyncio.to_thread(self.bot.state.set_note, VOICE, IN_PROGRESS, json.dumps(saved))
        except Exception:  # the session goes on; only a restart would lose it
            log.warning("could not keep the voice session in the bot state", exc_info=True)

    async def _forget_start(self) -> None:
        try:
            await asyncio.to_thread(self.bot.state.drop_note, VOICE, IN_PROGRESS)
        except Exception:
            log.warning("could not clear the voice session in the bot state", exc_info=True)

    async def _resume(self) -> None:
        """Go on with the voice session the bot state says was on when the bot stopped:
        fast polling, and the digest when voice empties (whoever is in voice now)."""
        try:
            text = await asyncio.to_thread(self.bot.state.note, VOICE, IN_PROGRESS)
        except Exception:
            log.warning("could not read the voice session from the bot state", exc_info=True)
            return
        if text is None:
            return
        try:
            saved = json.loads(text)
            started = float(saved["started"])
            ended = bool(saved.get("ended", False))
            raw = saved.get("marks")
            marks = (
                None if raw is None else {str(k): datetime.fromisoformat(v) for k, v in raw.items()}
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("the voice session in the bot state is unreadable: dropped")
            await self._forget_start()
            return
        if self.wall() - started > STALE_S:
            log.info("the voice session in the bot state is too old to go on: dropped")
            await self._forget_start()
            return
        if ended:  # stopped before its digests were out: post them once connected
            log.info("the voice session ended before a restart: posting its summary")
            self.bot.spawn(self._end_when_ready(marks), "session-end-post")
            return
        self.marks = marks
        self.bot.tracker.resume(self.bot.clock())
        log.info("voice session resumed after a restart: polling faster")

    # ------------------------------------------------------------------ the evening

    async def _lake_marks(self) -> Marks | None:
        """Each game server's last played round now (None: the lake could not say)."""
        try:
            table = await self.bot.stats.sessions()
        except NoData:
            return {}
        except Exception:
            log.warning("could not read the sessions at the voice session's start", exc_info=True)
            return None
        marks: Marks = {}
        for row in table.iter_rows(named=True):
            server, end = str(row["server"]), row["end_time"]
            if server not in marks or end > marks[server]:
                marks[server] = end
        return marks

    async def evening(self, marks: Marks | None) -> list[tuple[int, date]]:
        """(session id, date) of the sessions the voice session played, oldest first: those
        that ended after their server's mark (a server new since: after the latest mark);
        none (or no marks): the last evening in the lake."""
        try:
            table = await self.bot.stats.sessions()
        except NoData:
            return []
        rows = list(table.iter_rows(named=True))
        if not rows:
            return []
        newest = max(r["end_time"] for r in rows)
        recent = [r for r in rows if r["end_time"] >= newest - EVENING]
        chosen = []
        if marks is not None:
            latest = max(marks.values(), default=None)
            for r in recent:
                mark = marks.get(str(r["server"]), latest)
                if mark is None or r["end_time"] > mark:
                    chosen.append(r)
        if not chosen:  # the last session, and other servers' that ended within the gap
            last = max(rows, key=lambda r: (r["end_time"], r["session_id"]))
            since = last["start_time"] - timedelta(minutes=self.bot.settings.session_gap_minutes)
            chosen = [r for r in recent if r["end_time"] >= since]
        chosen.sort(key=lambda r: (r["start_time"], r["session_id"]))
        return [(int(r["session_id"]), r["session_date"]) for r in chosen]

    async def post_session_end(self, marks: Marks | None = None) -> None:
        """The digest of each session of the evening (a new one, or brought up to date:
        see the digest cog). ``marks``: the servers' last rounds when voice filled."""
        fetcher = self.bot.fetcher
        if fetcher is not None:
            try:  # the last round's file may have landed after the last poll
                await fetcher.poll_once()
            except Exception as exc:
                log.warning("final fetch before the session post failed: %s", exc)
        digest: Any = self.bot.get_cog("Digest")
        if digest is None:
            return
        for sid, sdate in await self.evening(marks):
            try:
                rep = await self.bot.stats.session_by_id(sid, sdate)
                await digest.post_digest(rep)
            except NoData:
                continue
            except Exception:  # one session's trouble does not keep the others' digests
                log.exception("the digest of session %s failed", sid)
