"""After each ingest commit: warm the cache, then post new rounds (and finished maps).

Each round file is posted at most once per bot process (a duplicate re-ingest does not
repost it); a file fetched while still partial is posted when its complete version lands.
A large batch (a backlog after downtime) gets one line instead of a wall of posts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import polars as pl
from discord.ext import commands

from etl_duck.bot.embeds import posts
from etl_duck.ingest.options import IngestReport
from etl_duck.query.stats import NoData, RoundDetail

from ._common import linked

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

log = logging.getLogger(__name__)

MAX_ROUND_POSTS = 4  # more new rounds than this in one commit is a backlog, not live play
REMEMBER = 10_000  # posted file names kept (a few years of rounds)


class RoundPostsCog(commands.Cog, name="Round posts"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot
        self._posted: set[str] = set()
        self._order: deque[str] = deque()
        self._lock = asyncio.Lock()  # one commit at a time, in commit order

    async def cog_load(self) -> None:
        if self.bot.ingestor is not None:
            self.bot.ingestor.subscribe(asyncio.get_running_loop(), self.on_commit)

    async def cog_unload(self) -> None:
        if self.bot.ingestor is not None:
            self.bot.ingestor.unsubscribe(self.on_commit)

    def _remember(self, name: str) -> None:
        self._posted.add(name)
        self._order.append(name)
        while len(self._order) > REMEMBER:
            self._posted.discard(self._order.popleft())

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
        names = sorted(n for n in complete if n not in self._posted)
        # warm first: the commit changed the version, so the first /last_session after it
        # would otherwise pay for the refresh and the queries
        await self.bot.stats.warm()
        if not names:
            return
        for n in names:
            self._remember(n)
        channel = await self.bot.stats_channel()
        if channel is None:
            return
        if len(names) > MAX_ROUND_POSTS:
            (embed,) = linked(
                [posts.backlog_post(len(names), names[0], names[-1])], self.bot.site.sessions()
            )
            await channel.send(embed=embed)
            return
        for name in names:
            detail = await self.bot.stats.round_detail(name)
            if detail is None or not detail.round.get("counted"):
                log.info("no round post for %s: not a counted round", name)
                continue
            url = self.bot.site.session(detail.round["session_id"])
            await channel.send(embed=linked([posts.round_post(detail)], url)[0])
            if detail.round["round_number"] == 2:
                await self._post_map(channel, detail)

    async def _post_map(self, channel: Any, detail: RoundDetail) -> None:
        r = detail.round
        players = await self.bot.stats.match_players(detail.session_date, r["match_id"])
        result = None
        try:
            rep = await self.bot.stats.session(detail.session_date)
        except NoData:
            log.info("no session report for %s yet", detail.session_date)
        else:
            # the stopwatch outcome comes from the session scoring (same rules as /session_score)
            if rep.session_id == r["session_id"] and "outcome" in rep.maps.columns:
                hit = rep.maps.filter(pl.col("match_id") == r["match_id"])
                result = None if hit.is_empty() else hit.row(0, named=True)
        embed = posts.map_post(str(r["map_name"]), players, result)
        await channel.send(embed=linked([embed], self.bot.site.session(r["session_id"]))[0])
