"""/leaderboard: any registry metric over any window, paged, optionally charted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from etl_duck import charts
from etl_duck.bot import autocomplete as ac
from etl_duck.bot.embeds.board import leaderboard_pages
from etl_duck.bot.options import ServerText, StatText, WindowText
from etl_duck.bot.paginate import paged
from etl_duck.bot.respond import Reply, UserError, before_chart, respond
from etl_duck.domain.metrics import resolve_metric

from ._common import chart_png, ensure_data, game_server, linked, on_server, site_server

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

BOARD_LIMIT = 50  # five pages of ten
CHART_ROWS = 10
CHART_PNG = "leaderboard.png"


class LeaderboardCog(commands.Cog, name="Leaderboards"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot

    async def board_reply(
        self, user_id: int, stat: str, window: str, chart: bool, server: str | None = None
    ) -> Reply:
        stats = self.bot.stats
        await ensure_data(self.bot)
        srv = await game_server(self.bot, server)
        try:
            metric = resolve_metric(stat)
            w = await stats.resolve_window(window, srv)
        except ValueError as exc:  # unknown stat / bad window: the message lists the options
            raise UserError(str(exc)) from None
        min_rounds = 0 if w.name == "session" else stats.min_rounds
        board = await stats.leaderboard(metric.key, w, limit=BOARD_LIMIT, server=srv)
        where = on_server(w.label, srv)
        files: list[tuple[str, bytes]] = []
        if chart and not board.is_empty():
            top = board.head(CHART_ROWS)
            label = f"{metric.label} — {where}"
            await before_chart()
            # keyed on the rows drawn: the board was read before the version is
            png = await chart_png(
                self.bot, charts.leaderboard_png, top, label, window=(w.date_from, w.date_to)
            )
            files.append((CHART_PNG, png))
        pages = leaderboard_pages(board, metric, where, min_rounds, CHART_PNG if files else None)
        linked(
            pages, self.bot.site.leaderboard(metric.key, w.name, await site_server(self.bot, srv))
        )
        first, view = paged(pages, user_id, self.bot.settings.page_timeout_s)
        return Reply(embeds=[first], view=view, files=files)

    @app_commands.command(name="leaderboard", description="Top players by one stat")
    @app_commands.describe(
        stat="What to rank by (kills, kd, dpm, accuracy, …)",
        window="all (default), season, month, week, session or YYYY-MM-DD..YYYY-MM-DD",
        chart="Attach a bar chart of the top ten",
        server="One game server (default: every server)",
    )
    @app_commands.autocomplete(stat=ac.metrics, window=ac.windows, server=ac.servers)
    async def leaderboard(
        self,
        interaction: discord.Interaction[Any],
        stat: StatText,
        window: WindowText = "all",
        chart: bool = False,
        server: ServerText | None = None,
    ) -> None:
        await respond(
            interaction, self.board_reply(interaction.user.id, stat, window, chart, server)
        )
