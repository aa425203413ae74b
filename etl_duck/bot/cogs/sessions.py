"""/last_session, /session and /sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from etl_duck import charts
from etl_duck.bot import autocomplete as ac
from etl_duck.bot.embeds import board as board_embeds
from etl_duck.bot.embeds import session as session_embeds
from etl_duck.bot.options import DateText, MonthText, ServerText
from etl_duck.bot.paginate import paged
from etl_duck.bot.respond import Reply, UserError, before_chart, respond
from etl_duck.query.stats import SessionReport

from ._common import (
    chart_png,
    ensure_data,
    game_server,
    linked,
    noted,
    on_server,
    picked_session,
    site_server,
)

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

SessionView = Literal["summary", "top", "maps", "weapons", "graphs"]
OVERVIEW_PNG = "session_overview.png"
TIMELINE_PNG = "dpm_timeline.png"


async def session_charts(bot: EtlDuckBot, rep: SessionReport) -> tuple[bytes, bytes]:
    """Both session charts, drawn by the chart worker and cached per lake version under
    the report they draw: its players, timeline and teams (names, members, an admin's
    override: /set_teams changes the bot state, not the lake, so only the key sees it)."""
    await before_chart()
    day = (rep.session_date, rep.session_date)
    overview = await chart_png(bot, charts.session_overview_png, rep, window=day)
    timeline = await chart_png(bot, charts.dpm_timeline_png, rep, window=day)
    return overview, timeline


async def session_view_reply(bot: EtlDuckBot, rep: SessionReport, view: str) -> Reply:
    reply = await _session_view(bot, rep, view)
    linked(reply.embeds, bot.site.session(rep.session_id))
    return reply


async def _session_view(bot: EtlDuckBot, rep: SessionReport, view: str) -> Reply:
    if view == "top":
        return Reply(embeds=[session_embeds.top(rep)])
    if view == "maps":
        return Reply(embeds=[session_embeds.maps(rep)])
    if view == "weapons":
        table = await bot.stats.session_weapons(rep.session_id, rep.session_date)
        return Reply(embeds=[session_embeds.weapons(rep, table)])
    if view == "graphs":
        overview, timeline = await session_charts(bot, rep)
        return Reply(
            embeds=session_embeds.graphs(rep, OVERVIEW_PNG, TIMELINE_PNG),
            files=[(OVERVIEW_PNG, overview), (TIMELINE_PNG, timeline)],
        )
    return Reply(embeds=[session_embeds.summary(rep)])


class SessionsCog(commands.Cog, name="Sessions"):
    """Gaming sessions: the last one, one by date or id, the list."""

    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot

    async def _session(self, day: str | None, view: str, server: str | None = None) -> Reply:
        srv = await game_server(self.bot, server)
        rep, note = await picked_session(self.bot, day, srv)
        reply = await session_view_reply(self.bot, rep, view)
        noted(reply.embeds, note)
        return reply

    @app_commands.command(name="last_session", description="The last gaming session")
    @app_commands.describe(
        view="summary (default), top players, maps, weapons or graphs",
        server="One game server's last session (default: the last on any server)",
    )
    @app_commands.autocomplete(server=ac.servers)
    async def last_session(
        self,
        interaction: discord.Interaction[Any],
        view: SessionView = "summary",
        server: ServerText | None = None,
    ) -> None:
        await respond(interaction, self._session(None, view, server))

    @app_commands.command(name="session", description="The gaming session of a date or id")
    @app_commands.describe(
        date="The day the session started, YYYY-MM-DD (the last to start), or a session "
        "from the list",
        view="summary (default), top players, maps, weapons or graphs",
        server="One game server (two servers may have played that day)",
    )
    @app_commands.autocomplete(date=ac.session_dates, server=ac.servers)
    async def session(
        self,
        interaction: discord.Interaction[Any],
        date: DateText,
        view: SessionView = "summary",
        server: ServerText | None = None,
    ) -> None:
        await respond(interaction, self._session(date, view, server))

    @app_commands.command(name="sessions", description="Gaming sessions, newest first")
    @app_commands.describe(
        month="Only this month, YYYY-MM", server="One game server (default: every server)"
    )
    @app_commands.autocomplete(month=ac.months, server=ac.servers)
    async def sessions(
        self,
        interaction: discord.Interaction[Any],
        month: MonthText | None = None,
        server: ServerText | None = None,
    ) -> None:
        async def work() -> Reply:
            await ensure_data(self.bot)
            srv = await game_server(self.bot, server)
            try:
                table = await self.bot.stats.sessions(month, srv)
            except ValueError as exc:  # a bad month string: the message says the format
                raise UserError(str(exc)) from None
            title = on_server(f"Sessions in {month}" if month else "Sessions", srv)
            link = self.bot.site.sessions(await site_server(self.bot, srv))
            pages = linked(board_embeds.session_pages(table, title), link)
            first, view = paged(pages, interaction.user.id, self.bot.settings.page_timeout_s)
            return Reply(embeds=[first], view=view)

        await respond(interaction, work())
