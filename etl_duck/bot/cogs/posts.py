"""After each ingest commit: warm the cache, post new rounds (and finished maps), and keep
the session's live scoreboard up to date.

Each round, map and scoreboard is posted once, ever: the marks live in the bot's state store
(``etl_duck.botstate``), outside the lake, so neither a restart nor a rebuild (whose commit
lists every file as new) repeats a post. A mark is claimed before its post and settled with
the message after it; every attempt carries the same nonce (``deliver``), so a post that a
restart interrupted (claimed, never settled) is sent again by the next bot without risk of a
second copy — Discord returns the first if it did arrive. A file fetched while still partial
is posted when its complete version lands, or once a later round makes its cut final. A
round that does not count for a reason a later file can change (a round 2 in before its round
1, a cut file, a round 1 a replay seemed to restart: :data:`CHANGEABLE`) gets no mark but
waits (:data:`WAITING`): it is looked at again with every commit, and posted (with its
map) once it counts. A large batch (a backlog after downtime) gets
one line instead of a wall of posts, and the scoreboard is edited once for it.

Live posts are for the rounds of tonight's evening: every session that ended within 24 hours
of the lake's last round (the lake's rule, the voice evening's reach, :func:`live_sessions`;
both halves of an evening the session gap split). A late round of an earlier evening's
session (the fetcher was down, an admin uploaded last week's missing file) is no news in
the middle of tonight's posts: it is settled with nothing to post, its numbers are in the
lake, and its session's posted digest and scoreboard, if it has them, are edited in place
to the whole session — no new message.

A post the channel refuses (403: the bot lacks a permission there, or the channel is out of
its sight; 404: the channel was deleted) made no message, so sending it later cannot make a
second one: its rounds are remembered and go out with the next commit (or the bot's next
start) once a channel takes them, and /status names the refusal and its fix until a post
goes through.

Rounds another process committed (a cron ``etl-duck fetch``, ``etl-duck watch``, an admin's
``etl-duck ingest``) are posted too: the bot looks at the lake's version every
:data:`LAKE_CHECK_S` (one readlink; nothing else while it is unchanged) and after each of
its own commits. When it moved, the rounds of tonight's live sessions that were not live at
the bot's last look (:data:`SEEN`, kept in the state store: a restart posts what others
committed while the bot was away) go through the same path as the bot's own new rounds —
marks, waiting, refusals, the late rule and the backlog line. A rebuild brings no round
name that was not there, so it posts nothing; a late round is not in tonight's sessions. A
bot that never looked (a new state file, or one an older etl-duck wrote) takes the lake as
it finds it: the lake's last evening, which may be weeks old, is no news.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

import discord
import polars as pl
from discord.ext import commands

from etl_duck.bot.coalesce import Coalescer
from etl_duck.bot.deliver import nonce, post
from etl_duck.bot.embeds import posts
from etl_duck.bot.embeds.scoreboard import scoreboard
from etl_duck.bot.format import code
from etl_duck.domain.counting import NOT_A_GAME
from etl_duck.domain.scoring import pick_mvp
from etl_duck.ingest.options import IngestReport
from etl_duck.query.stats import NoData, RoundDetail, SessionReport
from etl_duck.settings import Settings

from ._common import linked
from .voice import EVENING

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

log = logging.getLogger(__name__)

MAX_ROUND_POSTS = 4  # more new rounds than this in one commit is a backlog, not live play
ROUND, MAP, BACKLOG, SCOREBOARD = "round", "map", "backlog", "scoreboard"
#: a post claimed but never settled (a restart interrupted it) is sent again by the next bot
#: within this long: Discord checks a nonce "in the past few minutes", so later it could repeat
RESEND_WITHIN_S = 240.0
NOTHING = 0  # the message id of a mark with nothing to post (a round that does not count)
#: reasons a round does not count that a later file can take away (DECISIONS "What counts"):
#: a round 2 whose round 1 is not in yet, a cut file a later round of its server makes final,
#: a round 1 that a replay made a restart until a round 2 of the map between them lands.
#: Such a round gets no mark: it waits (:data:`WAITING`) and is posted if it comes to count
CHANGEABLE: Final = frozenset({"orphan_r2", "partial", "restart"})
WAITING = "waiting"  # rounds that may come to count: looked at again with every commit
WAIT_S = 24 * 3600.0  # … for this long after they arrived (a lost round 1 never comes)
#: rounds whose post (or whose map's post) the channel refused: sent when it takes them
REFUSED = "refused"
POSTING = "posting"  # the bot state's problem that /status shows: the last refused post
#: the bot state's problem of a scoreboard edit Discord refused as malformed (400): the
#: scoreboard stays as last shown; /status tells it until an edit goes through
BOARD_REFUSED = "scoreboard"
BOARD_FIX = (
    "it shows the last edit that went through — the bot made a scoreboard Discord will not "
    "take: report it with the bot's log"
)
FIX = "give the bot Send Messages and Embed Links in {where}"
#: the setting that names the stats channel, as the environment spells it
CHANNEL_SETTING = f"{Settings.model_config.get('env_prefix', '')}stats_channel_id".upper()
GONE = "{where} no longer exists — set the bot's stats channel ({setting}) to one that does"
#: a channel's definite no to a post: 403 (the bot may not post there) or 404 (Unknown
#: Channel: it was deleted). Neither made a message, so the post is kept and sent again later
#: without risk of a second copy; only an admin's fix lets it through, so /status tells it.
#: A 429 or 5xx passes (``deliver`` rides it out) and is no refusal.
REFUSALS: Final = (discord.Forbidden, discord.NotFound)
#: how often the bot looks whether another process committed (a readlink: the lake's version)
LAKE_CHECK_S = 10.0
#: the note (kind, key) naming the rounds of the live sessions at the bot's last look at the
#: lake: a round of tonight's evening not among them is news, whoever committed it. One
#: evening's rounds: it does not grow with the lake's history
SEEN: Final = ("lake", "live")


class RoundPostsCog(commands.Cog, name="Round posts"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot
        self._lock = asyncio.Lock()  # one commit at a time, in commit order
        self._boards: dict[int, date] = {}  # sessions whose scoreboard wants an edit
        self.scoreboards = Coalescer(self._update_scoreboard, bot.settings.scoreboard_interval_s)
        self._resumed = False
        #: the lake version of the bot's last look at the live rounds (None: not looked yet)
        self._version: int | None = None
        self.check_every = LAKE_CHECK_S
        self._watcher: asyncio.Task[Any] | None = None

    async def cog_load(self) -> None:
        if self.bot.ingestor is not None:
            self.bot.ingestor.subscribe(asyncio.get_running_loop(), self.on_commit)

    async def cog_unload(self) -> None:
        if self.bot.ingestor is not None:
            self.bot.ingestor.unsubscribe(self.on_commit)
        if self._watcher is not None:
            self._watcher.cancel()
        self.scoreboards.cancel()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Once per process: send again the posts a restart interrupted."""
        if self._resumed:
            return
        self._resumed = True
        async with self._lock:
            await self._follow_teams()  # commits made while the bot was away
            try:
                await self.resume_interrupted()
            except Exception:
                log.exception("resending interrupted posts failed")
            try:  # a restart is what an admin may try after fixing the channel; with the
                # rounds others committed while the bot was away (or since its last commit)
                await self._post_live(set())
            except REFUSALS:
                log.info("refused posts wait until the stats channel takes them")
            except Exception:
                log.exception("sending refused posts again failed")
        self._watcher = self.bot.spawn(self._watch_lake(), "lake-watch")

    # ------------------------------------------------------------------ others' commits

    async def _watch_lake(self) -> None:
        """Look at the lake's version every :attr:`check_every` seconds (:meth:`check_lake`)."""
        while True:
            await asyncio.sleep(self.check_every)
            try:
                await self.check_lake()
            except Exception:  # a lake out of reach for a moment: look again next time
                log.exception("looking at the lake's version failed")

    def _lake_version(self) -> int:
        return self.bot.stats.stats.lake.version()

    async def check_lake(self) -> bool:
        """Post the live rounds another process committed since the bot's last look; False
        (and nothing else read) while the lake's version is the one last looked at."""
        version = await asyncio.to_thread(self._lake_version)  # one readlink, off the loop
        if version == self._version:
            return False
        async with self._lock:  # after a commit of ours in progress, which may look first
            try:
                if await asyncio.to_thread(self._lake_version) == self._version:
                    return True
                if self._version is not None:  # what a commit of ours does first (the
                    await self._follow_teams()  # start did it before the first look)
                    await self.bot.stats.warm()
                await self._post_live(set())
            except REFUSALS:  # logged, kept for the next commit and shown in /status
                log.info("posts of lake version %s wait for the stats channel", version)
            except Exception:
                log.exception("posting the rounds of lake version %s failed", version)
        return True

    async def _live_rounds(self) -> set[str]:
        """The round files of tonight's live sessions (:func:`live_sessions`): a handful of
        sessions, read from the serving rounds table."""
        try:
            table = await self.bot.stats.sessions()
        except NoData:
            return set()
        live = live_sessions(table)
        if not live:
            return set()
        days = table.filter(pl.col("session_id").is_in(sorted(live)))["session_date"]
        stats = self.bot.stats.stats
        rows = await asyncio.to_thread(
            stats.run, "session_rounds", session_id=None, date_from=days.min(), date_to=days.max()
        )
        rows = rows.filter(pl.col("session_id").is_in(sorted(live)))
        return {str(n) for n in rows["file_name"].to_list()}

    async def _post_live(self, complete: set[str], own: Iterable[str] = ()) -> None:
        """Under the lock: post ``complete`` (a commit of ours brought them) with the rounds
        of tonight's sessions that were not live at the last look (:data:`SEEN`), whoever
        committed them — less ``own``, the rounds our commit listed: one batch, in play
        order, under the rules of :meth:`_post_rounds` (claims keep a round that two paths
        see from being posted twice). Then this look is the last."""
        state = self.bot.state
        # the version before the read: a commit landing meanwhile is looked at again
        version = await asyncio.to_thread(self._lake_version)
        live = await self._live_rounds()
        seen = await asyncio.to_thread(state.note, *SEEN)
        # a bot that never looked takes the lake as it finds it (its last evening may be old)
        new = set() if seen is None else live - set(seen.splitlines()) - set(own)
        self._version = version  # a failure below is tried again with the next change
        if new:
            log.info(
                "%d round(s) of tonight's sessions that another process committed: %s",
                len(new), ", ".join(sorted(new)[:10]),
            )  # fmt: skip

        def looked() -> None:
            state.set_note(*SEEN, "\n".join(sorted(live)))

        try:
            await self._post_rounds(complete | new)
        finally:
            # after a failure too: a refused round is kept (REFUSED), and a post that failed
            # otherwise may have made its message (Discord's answer lost): sending it at the
            # next change, maybe an hour on, past the nonce's minutes, could post it twice —
            # as before, a released post is not sent again (review 123)
            await asyncio.to_thread(looked)

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
        await self._post_each(channel, names)
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

    async def _send(
        self, channel: Any, kind: str, keys: list[str], embed: Any, rounds: list[str] | None = None
    ) -> None:
        """Post (exactly once, see ``deliver``) and settle the marks with the message; a post
        that fails for good releases them. A refused post (:data:`REFUSALS`) made no message:
        its rounds (``rounds``; default: the keys, round file names) are kept in
        :data:`REFUSED` to be posted once a channel takes them, and /status shows the refusal
        until a post goes through."""
        state = self.bot.state
        about = keys if rounds is None else rounds
        cid = int(getattr(channel, "id", 0) or 0)
        try:
            msg = await post(channel, nonce(kind, *keys), embed=embed)
        except REFUSALS as exc:
            text = refusal(_what(kind, keys, about), exc, cid)
            log.warning("%s", text)

            def refused() -> None:
                for key in keys:
                    state.release(kind, key)
                state.claim_many(REFUSED, about)
                state.set_problem(POSTING, text)

            await asyncio.to_thread(refused)
            raise
        except Exception:
            for key in keys:
                await asyncio.to_thread(state.release, kind, key)
            raise

        def sent() -> None:
            state.settle(kind, keys, cid, msg.id)
            for name in about:
                state.release(REFUSED, name)
            state.clear_problem(POSTING)

        await asyncio.to_thread(sent)

    async def _post_each(self, channel: Any, names: list[str]) -> None:
        """Post rounds claimed up front (with their maps); when the channel refuses one, the
        rest would be refused too: their claims are released and they join the refused."""
        for i, name in enumerate(names):
            try:
                await self._post_round(channel, name, resume=True)
            except REFUSALS:
                await self._unsent(names[i:])
                raise

    async def _unsent(self, names: list[str]) -> None:
        """Rounds claimed up front and not posted (the channel refused): release their round
        marks and the marks of their maps, and remember them to post later."""
        state = self.bot.state
        unsent = [n for n in names if await asyncio.to_thread(state.message, ROUND, n) is None]
        if not unsent:
            return
        rows = await self.bot.stats.rounds_by_files(unsent)
        finished = rows.filter(pl.col("counted") & (pl.col("round_number") == 2))
        keys = [str(m) for m in finished["match_id"].to_list()]

        def undo() -> None:
            for name in unsent:
                state.release(ROUND, name)
            for key in keys:
                if state.message(MAP, key) is None:  # claimed, never posted
                    state.release(MAP, key)
            state.claim_many(REFUSED, unsent)

        await asyncio.to_thread(undo)

    async def status_line(self) -> str | None:
        """The last post the channel refused, its fix and how many rounds wait, and a
        scoreboard edit Discord refused as malformed (400), for /status; None while posting
        works."""
        state = self.bot.state
        lines = []
        got = await asyncio.to_thread(state.problem, POSTING)
        if got is not None:
            text, at = got
            lines.append(f"{text} (<t:{int(at.timestamp())}:f>)")
            waiting = len(await asyncio.to_thread(state.keys, REFUSED))
            if waiting:
                lines.append(
                    f"{waiting} round post(s) wait: they go out with the next round, or when "
                    "the bot starts again"
                )
        board = await asyncio.to_thread(state.problem, BOARD_REFUSED)
        if board is not None:  # a malformed edit (400): the scoreboard stands still
            text, at = board
            lines.append(f"{text} (<t:{int(at.timestamp())}:f>)")
        return "\n".join(lines) or None

    async def on_commit(self, report: IngestReport) -> None:
        async with self._lock:
            try:
                await self._after_commit(report)
            except REFUSALS:  # logged, kept for the next commit and shown in /status
                log.info("posts of lake version %s wait for the stats channel", report.version)
            except Exception:
                log.exception("after-commit work failed (lake version %s)", report.version)

    async def _after_commit(self, report: IngestReport) -> None:
        # a partial file (still being written when fetched) is posted once it is complete:
        # when a later commit replaces it with the grown file
        complete = (set(report.ingested) | set(report.replaced)) - set(report.partial)
        partial = set(report.partial)
        if report.rebuilt:
            # the same rounds again, from raw/: only what this batch brought is news (a
            # lake re-read after a parser upgrade, in the commit of a newly fetched round)
            complete &= set(report.arrived)
            partial &= set(report.arrived)
        if partial:  # … or once a later round of its server makes its cut final
            await asyncio.to_thread(self.bot.state.claim_many, WAITING, sorted(partial))
        # before the reports are warmed and posted: a late round may have moved a corrected
        # session's id, and the posts and the scoreboard show its teams
        await self._follow_teams()
        # warm first: the commit changed the version, so the first /last_session after it
        # would otherwise pay for the refresh and the queries
        await self.bot.stats.warm()
        # with the rounds another process committed since the last look
        await self._post_live(complete, [*report.ingested, *report.replaced, *report.partial])

    async def _post_rounds(self, complete: set[str]) -> None:
        """Post the new rounds ``complete``, those the channel refused before (a refusal
        made no message: sending them now cannot repeat one) and the waiting rounds
        (:data:`WAITING`) that count now."""
        state = self.bot.state
        refused = await asyncio.to_thread(state.keys, REFUSED)
        waiting = await asyncio.to_thread(self._waiting)
        wanted = sorted(complete | set(refused) | set(waiting))
        names = await asyncio.to_thread(state.unclaimed, ROUND, wanted)
        for name in set(waiting) - set(names):  # posted meanwhile (or settled): waits no more
            await asyncio.to_thread(state.release, WAITING, name)
        maps = [n for n in refused if n not in names]  # their round went out, their map not
        if not names and not maps:
            return
        names, rows = await self._without_idle(names, waiting)
        names, rows = await self._without_late(names, rows, set(refused))
        if not names and not maps:
            return
        live = len(names) <= MAX_ROUND_POSTS
        if names:
            await self._scoreboards_for(names, live)
        channel = await self.bot.stats_channel()
        if channel is None:
            if self.bot.settings.stats_channel_id is not None:  # out of sight, or deleted
                cid = self.bot.settings.stats_channel_id
                if isinstance(self.bot.stats_channel_error, discord.NotFound):
                    gone = GONE.format(where=f"<#{cid}>", setting=CHANNEL_SETTING)
                    text = f"The stats channel {gone}"
                else:
                    text = (
                        f"The stats channel <#{cid}> is out of the bot's reach: give the bot"
                        " View Channel, Send Messages and Embed Links there"
                    )

                def unreachable() -> None:  # the rounds wait (and the maps already do)
                    state.claim_many(REFUSED, names)
                    state.set_problem(POSTING, text)

                await asyncio.to_thread(unreachable)
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
        finished = rows.filter(
            pl.col("file_name").is_in(claimed) & pl.col("counted") & (pl.col("round_number") == 2)
        )
        keys = [str(m) for m in finished["match_id"].to_list()]
        await asyncio.to_thread(state.claim_many, MAP, keys)
        await self._post_each(channel, claimed)
        await self._post_refused_maps(channel, maps)

    def _waiting(self) -> list[str]:
        """The rounds that wait to count (:data:`WAITING`); those that waited longer than
        :data:`WAIT_S` are let go (a lost round 1 never comes: no post, as before)."""
        state = self.bot.state
        for name in state.abandoned(WAITING, WAIT_S):
            state.release(WAITING, name)
        return state.keys(WAITING)

    async def _without_idle(
        self, names: list[str], waiting: list[str]
    ) -> tuple[list[str], pl.DataFrame]:
        """``names`` less the rounds that were no game (an idle server's header-only map
        timeouts, a dozen an hour; a player alone on a server): nothing to post, ever
        (settled as such), and never a "backlog" that would turn an evening's live round
        posts into one summary; and less the rounds that do not count yet but may
        (:data:`CHANGEABLE`, or ``waiting`` already: a cut file's lines may make it look
        like no game): they wait, unmarked, for a later commit. With the rounds' rows
        (``rounds_by_files``, read once for the commit)."""
        rows = await self.bot.stats.rounds_by_files(names)
        if not names:
            return names, rows
        uncounted = ~pl.col("counted")
        later = uncounted & (
            pl.col("reason").is_in(sorted(CHANGEABLE)) | pl.col("file_name").is_in(waiting)
        )
        wait = sorted(set(rows.filter(later)["file_name"].to_list()))
        no_game = pl.col("reason").is_in(sorted(NOT_A_GAME))  # idle, or one side alone
        idle = sorted(set(rows.filter(no_game)["file_name"].to_list()) - set(wait))
        state = self.bot.state
        done = [n for n in names if n in set(waiting) - set(wait)]

        def sort_out() -> None:
            state.claim_many(ROUND, idle)
            state.settle(ROUND, idle, 0, NOTHING)
            for name in idle:
                state.release(REFUSED, name)
            state.claim_many(WAITING, wait)
            for name in wait:  # a refused round that counts no more waits as any other
                state.release(REFUSED, name)
            for name in done:  # counts now (posted below, or kept as refused): waits no more
                state.release(WAITING, name)

        await asyncio.to_thread(sort_out)
        out = set(idle) | set(wait)
        return [n for n in names if n not in out], rows.filter(~pl.col("file_name").is_in(out))

    async def _without_late(
        self, names: list[str], rows: pl.DataFrame, refused: set[str]
    ) -> tuple[list[str], pl.DataFrame]:
        """``names`` less the late rounds: those of a session of an earlier evening
        (:func:`live_sessions`). Settled with nothing to post, ever (a restart does not post
        them either); their session's scoreboard and posted digest, if any, are brought up
        to date in place. A round the channel refused keeps its post: it was live when it
        came, and /status said it waits."""
        if rows.is_empty():
            return names, rows
        try:
            table = await self.bot.stats.sessions()
        except NoData:
            return names, rows
        live = live_sessions(table)
        old = ~pl.col("session_id").is_in(sorted(live)) & ~pl.col("file_name").is_in(
            sorted(refused)
        )
        late_rows = rows.filter(old)
        if late_rows.is_empty():
            return names, rows
        late = [n for n in names if n in set(late_rows["file_name"].to_list())]
        log.info(
            "no live post for %d late round(s) of earlier sessions: %s",
            len(late), ", ".join(late[:10]),
        )  # fmt: skip
        state = self.bot.state

        def settle() -> None:
            state.claim_many(ROUND, late)
            state.settle(ROUND, late, 0, NOTHING)
            for name in late:
                state.release(WAITING, name)

        await asyncio.to_thread(settle)
        await self._scoreboards_for(late, False)  # only a session that has a scoreboard
        counted = late_rows.filter(pl.col("counted"))
        await self._late_digests(counted.select("session_id", "session_date").unique().rows())
        return [n for n in names if n not in set(late)], rows.filter(~old)

    async def _late_digests(self, sessions: list[tuple[int, date]]) -> None:
        """Edit the posted digest of each session that gained late rounds (see the digest
        cog's ``refresh_digest``: in place, or nothing)."""
        digest: Any = self.bot.get_cog("Digest")
        if digest is None:
            return
        for sid, sdate in sorted(sessions):
            try:
                rep = await self.bot.stats.session_by_id(int(sid), sdate)
                await digest.refresh_digest(rep)
            except REFUSALS:  # the digest cog noted it for /status; the round posts go on
                log.info("the digest of session %s could not be edited", sid)
            except Exception:
                log.exception("bringing the digest of session %s up to date failed", sid)

    async def _follow_teams(self) -> None:
        """Team corrections, and the scoreboard's and the digest's marks, follow their
        session when a late round changed its id (the scoring cog's ``follow_sessions``)."""
        scoring: Any = self.bot.get_cog("Scoring")
        if scoring is None:
            return
        try:
            await scoring.follow_sessions()
        except Exception:
            log.exception("moving what is kept by session id to the sessions' new ids failed")

    async def _post_refused_maps(self, channel: Any, names: list[str]) -> None:
        """Map posts the channel refused after their round 2's post went through."""
        state = self.bot.state
        for name in names:
            if await asyncio.to_thread(state.message, ROUND, name) is None:
                continue  # the round's own post is pending: the next start sends both
            detail = await self.bot.stats.round_detail(name)
            r = detail.round if detail is not None else {}
            whole = r.get("round_number") == 2 and r.get("paired_round_id") is not None
            if detail is not None and r.get("counted") and whole:
                rep = await self._report(detail)
                match = _match_row(rep, r["match_id"])
                await self._post_map(channel, detail, rep, match)
            await asyncio.to_thread(state.release, REFUSED, name)

    async def _post_round(self, channel: Any, name: str, *, resume: bool = False) -> None:
        state = self.bot.state
        detail = await self.bot.stats.round_detail(name)
        why = None if detail is None or detail.round.get("counted") else detail.round.get("reason")
        if why in CHANGEABLE:  # not counted yet, but it may come to: it waits
            log.info("no round post for %s yet: %s", name, why)

            def wait() -> None:
                state.claim(WAITING, name)
                if state.message(ROUND, name) is None:  # claimed up front, not posted
                    state.release(ROUND, name)

            await asyncio.to_thread(wait)
            return
        if detail is None or not detail.round.get("counted"):
            log.info("no round post for %s: not a counted round", name)
            await asyncio.to_thread(state.claim, ROUND, name)  # nothing to post, ever
            await asyncio.to_thread(state.settle, ROUND, [name], 0, NOTHING)
            await asyncio.to_thread(state.release, REFUSED, name)
            return
        if not await self._claim(ROUND, name, resume=resume):
            return  # another process posted it meanwhile
        rep = await self._report(detail)
        match = _match_row(rep, detail.round["match_id"])
        notes: list[str] = []
        told: list[str] = []
        records: Any = self.bot.get_cog("Records")
        if records is not None:
            sid = int(detail.round["session_id"])
            notes, told = await records.round_announcements(sid, name)
            shown = posts.fit_notes(notes)[1]
            if shown < len(told):  # not in the post (its field is full): the digest tells them
                await records.unannounce(told[shown:])
                told = told[:shown]
        url = self.bot.site.session(detail.round["session_id"])
        embed = linked([posts.round_post(detail, match, notes)], url)[0]
        try:
            await self._send(channel, ROUND, [name], embed)
        except REFUSALS:
            if records is not None and told:  # not seen: the post that goes out later tells
                await records.unannounce(told)
            raise
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
        await self._send(channel, MAP, [key], embed, [str(r["file_name"])])

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
        try:
            await self.bot.edit_or_send(SCOREBOARD, str(sid), channel, scoreboard(rep))
        except REFUSALS as exc:
            cid = int(getattr(channel, "id", 0) or 0)
            text = refusal("live scoreboard", exc, cid)
            await asyncio.to_thread(self.bot.state.set_problem, POSTING, text)
            raise
        except discord.HTTPException as exc:
            if exc.status != 400:  # the rest as before (discord.py rides out 429s and 5xx)
                raise
            # 400: Discord will not take what the bot made (a limit the embed broke): no
            # retry helps, and the scoreboard would stand still for the evening unseen
            why = " ".join(f"{exc.status} {exc.text or 'Bad Request'}".split())
            text = f"The live scoreboard edit was refused ({why[:300]}): {BOARD_FIX}"
            log.error("%s", text)
            await asyncio.to_thread(self.bot.state.set_problem, BOARD_REFUSED, text)
            return
        await asyncio.to_thread(self.bot.state.clear_problem, BOARD_REFUSED)


def live_sessions(table: pl.DataFrame) -> set[int]:
    """The sessions whose rounds are posted live (``table``: ``Stats.sessions``' rows): every
    session, of any game server, that ended within :data:`~etl_duck.bot.cogs.voice.EVENING`
    of the lake's last round (the voice evening's reach: a server idle since last week has
    no live session; both halves of an evening the session gap split are live). The lake's
    rule, not the clock's: the same for a replay or a catch-up after downtime."""
    latest: dict[str, tuple[datetime, int]] = {}
    for sid, end, server in table.select("session_id", "end_time", "server").iter_rows():
        key = (end, int(sid))
        if str(server) not in latest or key > latest[str(server)]:
            latest[str(server)] = key
    if not latest:
        return set()
    newest = max(end for end, _ in latest.values())
    # every session of tonight's evening, not only the latest: an evening the gap split
    # in two, caught up in one commit, keeps its first half's posts
    return {
        int(sid)
        for sid, end in table.select("session_id", "end_time").iter_rows()
        if end >= newest - EVENING
    }


def _what(kind: str, keys: list[str], rounds: list[str]) -> str:
    if kind == MAP:
        return f"map post after {code(rounds[0])}" if rounds else "map post"
    if len(keys) == 1:
        return f"round post of {code(keys[0])}"
    return f"post of {len(keys)} new rounds"


def refusal(what: str, exc: discord.HTTPException, channel_id: int) -> str:
    """/status's sentence for a post the channel refused (:data:`REFUSALS`), with its fix."""
    mention = f"<#{channel_id}>" if channel_id else ""
    if isinstance(exc, discord.NotFound):
        why = f"{exc.status} {exc.text or 'Not Found'}"
        where = f"channel {mention}" if mention else "the stats channel"
        fix = GONE.format(where=where, setting=CHANNEL_SETTING)
    else:
        why = f"{exc.status} {exc.text or 'Forbidden'}"
        fix = FIX.format(where=mention or "the stats channel")
    return f"The {what} was refused ({why}): {fix}"


def _match_row(rep: SessionReport | None, match_id: int) -> dict[str, Any] | None:
    if rep is None or rep.maps.is_empty():
        return None
    hit = rep.maps.filter(pl.col("match_id") == match_id)
    return None if hit.is_empty() else hit.row(0, named=True)
