"""/session_score, /teams and /awards for the last session or the session of a date."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from etl_duck.bot import autocomplete as ac
from etl_duck.bot.embeds import session as session_embeds
from etl_duck.bot.respond import Reply, respond
from etl_duck.domain.scoring import session_awards

from ._common import linked, session_report

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

DATE_HELP = "The day the session started, YYYY-MM-DD (default: the last session)"


class ScoringCog(commands.Cog, name="Scoring"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot

    async def score_reply(self, date: str | None) -> Reply:
        rep = await session_report(self.bot, date)
        return Reply(
            embeds=linked([session_embeds.score(rep)], self.bot.site.session(rep.session_id))
        )

    async def teams_reply(self, date: str | None) -> Reply:
        rep = await session_report(self.bot, date)
        return Reply(
            embeds=linked([session_embeds.teams(rep)], self.bot.site.session(rep.session_id))
        )

    async def awards_reply(self, date: str | None) -> Reply:
        rep = await session_report(self.bot, date)
        embed = session_embeds.awards(rep, session_awards(rep.players))
        return Reply(embeds=linked([embed], self.bot.site.session(rep.session_id)))

    @app_commands.command(name="session_score", description="Stopwatch score of a session")
    @app_commands.describe(date=DATE_HELP)
    @app_commands.autocomplete(date=ac.session_dates)
    async def session_score(
        self, interaction: discord.Interaction[Any], date: str | None = None
    ) -> None:
        await respond(interaction, self.score_reply(date))

    @app_commands.command(name="teams", description="The two teams of a session")
    @app_commands.describe(date=DATE_HELP)
    @app_commands.autocomplete(date=ac.session_dates)
    async def teams(self, interaction: discord.Interaction[Any], date: str | None = None) -> None:
        await respond(interaction, self.teams_reply(date))

    @app_commands.command(name="awards", description="Awards of a session: best DPM, most kills, …")
    @app_commands.describe(date=DATE_HELP)
    @app_commands.autocomplete(date=ac.session_dates)
    async def awards(self, interaction: discord.Interaction[Any], date: str | None = None) -> None:
        await respond(interaction, self.awards_reply(date))
