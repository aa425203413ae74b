"""/session_score, /teams and /awards for the last session or the session of a date, and
the admins' /set_teams correction (kept in the bot state store, outside the lake).

A correction is kept under its session's id, the start of the session's first round; a
late round before that round (or one that joins two sessions) gives the session an
earlier id. :meth:`ScoringCog.follow_sessions` moves such a correction (and the session's
scoreboard and digest marks, kept by id too) to the session that now holds its rounds:
after every commit, when the bot starts, and before these commands answer (a commit of
another process). Of two corrections that end up on one session the later set wins; the
other is kept, never deleted, and applies again if the sessions split again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import discord
from discord import app_commands
from discord.ext import commands

from etl_duck.bot import autocomplete as ac
from etl_duck.bot.embeds import session as session_embeds
from etl_duck.bot.format import esc
from etl_duck.bot.options import DateText, NameText, PlayersText
from etl_duck.bot.respond import Reply, UserError, respond
from etl_duck.botstate import state_path
from etl_duck.domain.scoring import (
    OverrideClash,
    TeamOverride,
    override_clash,
    session_awards,
    team_name,
)
from etl_duck.pipeline import follow_done, follow_pending, log_moves, session_spans
from etl_duck.query.rating import frame_labels
from etl_duck.query.stats import NoData, PlayerNotFound

from ._common import linked, noted, picked_session
from .admin import DENIED
from .digest import DIGEST
from .posts import SCOREBOARD

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

#: marks kept under a session id, which follow the session as its team correction does
SESSION_MARKS: Final = (SCOREBOARD, DIGEST)

DATE_HELP = (
    "The day the session started, YYYY-MM-DD, or a session from the list (default: the last)"
)


def _pending_here(state_file: Path, data_dir: Path) -> str | None:
    """The data directory's ``FOLLOW_PENDING`` marker (``follow_pending``) when the bot's
    state is that directory's file (a link, a relative data directory: one file), else None:
    a follow of another file settles nothing of it."""
    try:
        ours = state_file.samefile(state_path(data_dir))
    except OSError:
        ours = False
    return follow_pending(data_dir) if ours else None


def _clash_text(clash: OverrideClash, players: Any) -> str:
    """/set_teams' one sentence for two teams that cannot stand (:func:`override_clash`):
    the player as the session's answers tell him apart ("vid (D842)"), or the name."""
    if clash.players:
        named = frame_labels(players)
        who = ", ".join(esc(named.get(g, g)) for g in clash.players)
        verb, whom = ("is", "him") if len(clash.players) == 1 else ("are", "each")
        return f"{who} {verb} on both teams: name {whom} in players1 or players2, not both."
    return (
        f"Both teams are named {esc(clash.name or '')}: give team2 another name (or leave it "
        "empty to name that team automatically)."
    )


class ScoringCog(commands.Cog, name="Scoring"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot

    async def follow_sessions(self) -> list[tuple[str, int, int]]:
        """Move what is kept under a session id that no longer names a session (a late
        round changed it) — team corrections, the scoreboard's and the digest's marks — to
        the session that holds that instant now; the moves (see ``BotState.follow_sessions``).

        A whole follow that went through also settles a CLI writer's failed one
        (``pipeline.FOLLOW_PENDING``, an open problem of `etl-duck status`), when the
        bot's state is the data directory's file that writer could not write: every
        correction was checked against the lake's sessions and is where it belongs (or
        there is none). One that did not look (no session in the lake) leaves it."""
        data_dir = self.bot.settings.data_dir
        # read before the lake: a failure of another process from here on is kept
        pending = await asyncio.to_thread(_pending_here, self.bot.state.path, data_dir)
        moves = await self._follow()
        if moves is not None and pending is not None:
            await asyncio.to_thread(follow_done, data_dir, pending)
        return moves or []

    async def _follow(self) -> list[tuple[str, int, int]] | None:
        """:meth:`follow_sessions`' moves; None when it could not check the corrections."""
        state = self.bot.state
        kept = await asyncio.to_thread(state.session_keys, SESSION_MARKS)
        if not kept and not await asyncio.to_thread(state.kept_teams):
            return []  # no correction, no mark: nothing can be out of place
        try:
            table = await self.bot.stats.sessions()
        except NoData:
            return None  # no session to place them by: nothing checked
        # the CLI's writers place corrections by the same spans (a few ms: off the loop)
        spans = await asyncio.to_thread(session_spans, table)
        if not await asyncio.to_thread(state.follow_due, spans, SESSION_MARKS):
            return []  # everything is where it belongs: the usual case
        moves = await asyncio.to_thread(state.follow_sessions, spans, SESSION_MARKS)
        log_moves(moves)
        return moves

    async def score_reply(self, date: str | None) -> Reply:
        await self.follow_sessions()
        rep, note = await picked_session(self.bot, date)
        embeds = linked([session_embeds.score(rep)], self.bot.site.session(rep.session_id))
        return Reply(embeds=noted(embeds, note))

    async def teams_reply(self, date: str | None) -> Reply:
        await self.follow_sessions()
        rep, note = await picked_session(self.bot, date)
        embeds = linked([session_embeds.teams(rep)], self.bot.site.session(rep.session_id))
        return Reply(embeds=noted(embeds, note))

    async def awards_reply(self, date: str | None) -> Reply:
        await self.follow_sessions()
        rep, note = await picked_session(self.bot, date)
        embed = session_embeds.awards(rep, session_awards(rep.players))
        return Reply(embeds=noted(linked([embed], self.bot.site.session(rep.session_id)), note))

    async def set_teams_reply(
        self,
        user: discord.abc.User,
        date: str | None,
        team1: str | None,
        players1: str | None,
        team2: str | None,
        players2: str | None,
        clear: bool = False,
    ) -> Reply:
        if not self.bot.is_admin(user):
            raise UserError(DENIED)
        await self.follow_sessions()  # a correction to clear or replace is where it belongs
        rep, note = await picked_session(self.bot, date)
        state = self.bot.state
        if clear:
            removed = await asyncio.to_thread(state.clear_teams, rep.session_id)
            text = "Teams are automatic again." if removed else "There was no correction."
            rep = await self.bot.stats.session_by_id(rep.session_id, rep.session_date)
            await self._refresh_board(rep.session_id, rep)
            return Reply(content=text, embeds=noted([session_embeds.teams(rep)], note))
        played = set(rep.players["guid"].to_list())
        teams: list[TeamOverride] = []
        for name, listed in ((team1, players1), (team2, players2)):
            guids = await self._guids(listed or "", played)
            if team_name(name) or guids:  # a blank name: named automatically
                teams.append(TeamOverride(team_name(name), frozenset(guids)))
        if not any(t.guids for t in teams):
            raise UserError("Name at least one player of a team (names or GUIDs, comma-separated).")
        clash = override_clash(teams)  # the CLI's `set-teams` rule too
        if clash is not None:
            raise UserError(_clash_text(clash, rep.players))
        await asyncio.to_thread(state.set_teams, rep.session_id, teams, user.id)
        rep = await self.bot.stats.session_by_id(rep.session_id, rep.session_date)
        await self._refresh_board(rep.session_id, rep)
        return Reply(
            content="Teams corrected for this session.",
            embeds=noted([session_embeds.teams(rep)], note),
        )

    async def _guids(self, listed: str, played: set[str]) -> set[str]:
        out: set[str] = set()
        for item in (x.strip() for x in listed.split(",")):
            if not item:
                continue
            try:
                guid, name = await self.bot.stats.resolve_player(item)
            except PlayerNotFound as exc:
                raise UserError(str(exc)) from None
            if guid not in played:
                raise UserError(f"{esc(name)} ({guid}) did not play in that session.")
            out.add(guid)
        return out

    async def _refresh_board(self, sid: int, rep: Any) -> None:
        posts: Any = self.bot.get_cog("Round posts")
        if posts is not None:
            await posts.refresh_scoreboard(sid, rep.session_date)

    @app_commands.command(name="set_teams", description="Admin: correct the teams of a session")
    @app_commands.describe(
        team1="Name of one team (empty: named automatically)",
        players1="Its players, comma-separated names or GUIDs (the rest go where they played)",
        team2="Name of the other team",
        players2="Its players",
        date=DATE_HELP,
        clear="Remove the correction: teams are detected again",
    )
    @app_commands.autocomplete(date=ac.session_dates)
    async def set_teams(
        self,
        interaction: discord.Interaction[Any],
        team1: NameText | None = None,
        players1: PlayersText | None = None,
        team2: NameText | None = None,
        players2: PlayersText | None = None,
        date: DateText | None = None,
        clear: bool = False,
    ) -> None:
        await respond(
            interaction,
            self.set_teams_reply(interaction.user, date, team1, players1, team2, players2, clear),
        )

    @app_commands.command(name="session_score", description="Stopwatch score of a session")
    @app_commands.describe(date=DATE_HELP)
    @app_commands.autocomplete(date=ac.session_dates)
    async def session_score(
        self, interaction: discord.Interaction[Any], date: DateText | None = None
    ) -> None:
        await respond(interaction, self.score_reply(date))

    @app_commands.command(name="teams", description="The two teams of a session")
    @app_commands.describe(date=DATE_HELP)
    @app_commands.autocomplete(date=ac.session_dates)
    async def teams(
        self, interaction: discord.Interaction[Any], date: DateText | None = None
    ) -> None:
        await respond(interaction, self.teams_reply(date))

    @app_commands.command(name="awards", description="Awards of a session: best DPM, most kills, …")
    @app_commands.describe(date=DATE_HELP)
    @app_commands.autocomplete(date=ac.session_dates)
    async def awards(
        self, interaction: discord.Interaction[Any], date: DateText | None = None
    ) -> None:
        await respond(interaction, self.awards_reply(date))
