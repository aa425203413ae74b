"""After each ingest commit: warm the cache, post new rounds (and finished maps), and keep
the session's live scoreboard up to date.

Each round, map and scoreboard is posted once, ever: the marks live in the bot's state store
(``etl_duck.botstate``), outside the lake, so neither a restart nor a rebuild (whose commit
lists every file as new) repeats a post. A mark is claimed before its post and settled with
the message after it; every attempt carries the same nonce (``deliver``), so a post that a
restart interrupted (claimed, never settled) is sent again by the next bot without risk of a
second copy — Discord returns the first if it did arrive. A file fetched while still partial
is posted when its complete version lands. A large batch (a backlog after downtime) gets
one line instead of a wall of posts, and the scoreboard is edited once for it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl
from discord.ext import commands

from etl_duck.bot.coalesce import Coalescer
from etl_duck.bot.deliver import nonce, post
from etl_duck.bot.embeds import posts
from etl_duck.bot.embeds.scoreboard import scoreboard
from etl_duck.domain.scoring import pick_mvp
from etl_duck.ingest.options import IngestReport
from etl_duck.query.stats import NoData, RoundDetail, SessionReport

from ._common import linked

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

log = logging.getLogger(__name__)

MAX_ROUND_POSTS = 4  # more new rounds than this in one commit is a backlog, not live play
ROUND, MAP, BACKLOG, SCOREBOARD = "round", "map", "backlog", "scoreboard"
#: a post claimed but never settled (a restart interrupted it) is sent again by the next bot
#: within this long: Discord checks a nonce "in the past few minutes", so later it could repeat
RESEND_WITHIN_S = 240.0
NOTHING = 0  # the message id of a mark with nothing to post (a round that does not count)


class RoundPostsCog(commands.Cog, name="Round posts"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot
        self._lock = asyncio.Lock()  # one commit at a time, in commit order
        self._boards: dict[int, date] = {}  # sessions whose scoreboard wants an edit
        self.scoreboards = Coalescer(self._update_scoreboard, bot.settings.scoreboard_interval_s)
        self._resumed = False

    async def cog_load(self) -> None:
        if self.bot.ingestor is not None:
            self.bot.ingestor.subscribe(asyncio.get_running_loop(), self.on_commit)

    async def cog_unload(self) -> None:
        if self.bot.ingestor is not None:
            self.bot.ingestor.unsubscribe(self.on_commit)
        self.scoreboards.cancel()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Once per process: send again the posts a restart interrupted."""
        if self._resumed:
            return
        self._resumed = True
        async with self._lock:
            try:
                await self.resume_interrupted()
            except Exception:
                log.exception("resending interrupted posts failed")

    async def resume_interrupted(self) -> int:
        """Round posts claimed but never settled, then map posts whose round post went
        through but not the map's; returns how many rounds were sent again."""
        state = self.bot.state
        for kind in (ROUND, MAP):  # too old to resend: say so rather than drop them silently
            stale = await asyncio.to_thread(state.abandoned, kind, RESEND_WITHIN_S)
            if stale:
                log.warning(
                    "%d %s post(s) interrupted more than %.0f minutes ago are not sent again "
                    "(Discord no longer knows their nonce: a resend could post them twice): %s",
                    len(stale), kind, RESEND_WITHIN_S / 60, ", ".join(stale[:10]),
                )  # fmt: skip
        names = await asyncio.to_thread(state.pending, ROUND, RESEND_WITHIN_S)
        maps = set(await asyncio.to_thread(state.pending, MAP, RESEND_WITHIN_S))
        channel = await self.bot.stats_channel() if names or maps else None
        if channel is None:
            return 0
        log.info("sending %d round and %d map post(s) a restart interrupted", len(names), len(maps))
        if names:  # their session's scoreboard missed them too (or was never sent)
            await self._scoreboards_for(names, True)
        for name in names:
            await self._post_round(channel, name, resume=True)
        maps = set(await asyncio.to_thread(state.pending, MAP, RESEND_WITHIN_S))
        if maps:
            recent = await asyncio.to_thread(state.recent, ROUND, RESEND_WITHIN_S)
            rows = await self.bot.stats.rounds_by_files(recent)
            for r in rows.filter(pl.col("round_number") == 2).iter_rows(named=True):
                if str(r["match_id"]) not in maps:
                    continue
                detail = await self.bot.stats.round_detail(str(r["file_name"]))
                if detail is not None:
                    rep = await self._report(detail)
                    match = _match_row(rep, detail.round["match_id"])
                    await self._post_map(channel, detail, rep, match, resume=True)
        return len(names)

    async def _claim(self, kind: str, key: str, *, resume: bool = False) -> bool:
        """Claim a mark; ``resume``: a mark claimed but never settled counts as ours (this
        commit claimed it up front, or a restart interrupted its post)."""
        state = self.bot.state
        if await asyncio.to_thread(state.claim, kind, key):
            return True
        return resume and key in await asyncio.to_thread(
            state.pending, kind, RESEND_WITHIN_S, [key]
        )

    async def _send(self, channel: Any, kind: str, keys: list[str], embed: Any) -> None:
        """Post (exactly once, see ``deliver``) and settle the marks with the message; a post
        that fails for good releases them (a later commit may post them)."""
        state = self.bot.state
        try:
            msg = await post(channel, nonce(kind, *keys), embed=embed)
        except Exception:
            for key in keys:
                await asyncio.to_thread(state.release, kind, key)
            raise
        cid = int(getattr(channel, "id", 0) or 0)
        await asyncio.to_thread(state.settle, kind, keys, cid, msg.id)

    async def on_commit(self, report: IngestReport) -> None:
        async with self._lock:
            try:
                await self._after_commit(report)
            except Exception:
                log.exception("after-commit work failed (lake version %s)", report.version)

    async def _after_commit(self, report: IngestReport) -> None:
        # a partial file (still being written when fetched) is posted once it is complete:
        # when a later commit replaces it with the grown file
        complete = (set(report.ingested) | set(report.replaced)) - set(report.partial)
        if report.rebuilt:
            # the same rounds again, from raw/: only what this batch brought is news (a
            # lake re-read after a parser upgrade, in the commit of a newly fetched round)
            complete &= set(report.arrived)
        state = self.bot.state
        names = await asyncio.to_thread(state.unclaimed, ROUND, sorted(complete))
        # warm first: the commit changed the version, so the first /last_session after it
        # would otherwise pay for the refresh and the queries
        await self.bot.stats.warm()
        if not names:
            return
        live = len(names) <= MAX_ROUND_POSTS
        await self._scoreboards_for(names, live)
        channel = await self.bot.stats_channel()
        if channel is None:
            return
        if not live:
            claimed = await asyncio.to_thread(state.claim_many, ROUND, names)
            if claimed:
                backlog = posts.backlog_post(len(claimed), claimed[0], claimed[-1])
                embed = linked([backlog], self.bot.site.sessions())[0]
                await self._send(channel, ROUND, claimed, embed)
            return
        # claim every round of the commit, and the map of every round 2, before the first
        # post: a restart part-way through finds the rest claimed but unsettled and sends them
        claimed = await asyncio.to_thread(state.claim_many, ROUND, names)
        rows = await self.bot.stats.rounds_by_files(claimed)
        finished = rows.filter(pl.col("counted") & (pl.col("round_number") == 2))
        keys = [str(m) for m in finished["match_id"].to_list()]
        await asyncio.to_thread(state.claim_many, MAP, keys)
        for name in claimed:
            await self._post_round(channel, name, resume=True)

    async def _post_round(self, channel: Any, name: str, *, resume: bool = False) -> None:
        state = self.bot.state
        detail = await self.bot.stats.round_detail(name)
        if detail is None or not detail.round.get("counted"):
            log.info("no round post for %s: not a counted round", name)
            await asyncio.to_thread(state.claim, ROUND, name)  # nothing to post, ever
            await asyncio.to_thread(state.settle, ROUND, [name], 0, NOTHING)
            return
        if not await self._claim(ROUND, name, resume=resume):
            return  # another process posted it meanwhile
        rep = await self._report(detail)
        match = _match_row(rep, detail.round["match_id"])
        notes: list[str] = []
        records: Any = self.bot.get_cog("Records")
        if records is not None:
            notes = await records.round_notes(int(detail.round["session_id"]), name)
        url = self.bot.site.session(detail.round["session_id"])
        embed = linked([posts.round_post(detail, match, notes)], url)[0]
        await self._send(channel, ROUND, [name], embed)
        if detail.round["round_number"] == 2 and detail.round.get("paired_round_id") is not None:
            # a round 2 without a round 1 (another gametype's round) was the whole map
            await self._post_map(channel, detail, rep, match, resume=resume)

    async def _report(self, detail: RoundDetail) -> SessionReport | None:
        try:
            rep = await self.bot.stats.session_by_id(
                int(detail.round["session_id"]), detail.session_date
            )
        except NoData:
            log.info("no session report for %s yet", detail.session_date)
            return None
        return rep

    async def _post_map(
        self,
        channel: Any,
        detail: RoundDetail,
        rep: SessionReport | None,
        match: dict[str, Any] | None,
        *,
        resume: bool = False,
    ) -> None:
        r = detail.round
        key = str(r["match_id"])
        if not await self._claim(MAP, key, resume=resume):
            return
        players = await self.bot.stats.match_players(detail.session_date, r["match_id"])
        mvp = pick_mvp(players, 2) if not players.is_empty() else None
        score = None
        if rep is not None and match is not None and match.get("segment") is not None:
            score = rep.segments[int(match["segment"])].line()
        embed = posts.map_post(str(r["map_name"]), players, match, mvp, score)
        embed = linked([embed], self.bot.site.session(r["session_id"]))[0]
        await self._send(channel, MAP, [key], embed)

    # ------------------------------------------------------------------ live scoreboard

    async def _scoreboards_for(self, names: list[str], live: bool) -> None:
        """Ask for a scoreboard edit of each session these rounds belong to: a session that
        has a scoreboard, or the lake's last session when rounds arrive live (a backlog of
        old sessions does not open scoreboards for them)."""
        rows = await self.bot.stats.rounds_by_files(names)
        rows = rows.filter(pl.col("counted"))
        if rows.is_empty():
            return
        try:
            last_sid, _ = await self.bot.stats.session_id_for(None)
        except NoData:
            return
        for sid, sdate in rows.select("session_id", "session_date").unique().iter_rows():
            has = await asyncio.to_thread(self.bot.state.message, SCOREBOARD, str(sid))
            if has is not None or (live and sid == last_sid):
                self._boards[int(sid)] = sdate
                self.scoreboards.request(int(sid))

    async def refresh_scoreboard(self, sid: int, sdate: date) -> None:
        """Edit a session's scoreboard if it has one (its teams were corrected)."""
        if await asyncio.to_thread(self.bot.state.message, SCOREBOARD, str(sid)) is not None:
            self._boards[sid] = sdate
            self.scoreboards.request(sid)

    async def _update_scoreboard(self, sid: int) -> None:
        channel = await self.bot.stats_channel()
        if channel is None:
            return
        rep = await self.bot.stats.session_by_id(sid, self._boards[sid])
        await self.bot.edit_or_send(SCOREBOARD, str(sid), channel, scoreboard(rep))


def _match_row(rep: SessionReport | None, match_id: int) -> dict[str, Any] | None:
    if rep is None or rep.maps.is_empty():
        return None
    hit = rep.maps.filter(pl.col("match_id") == match_id)
    return None if hit.is_empty() else hit.row(0, named=True)
