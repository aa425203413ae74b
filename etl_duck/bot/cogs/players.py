"""/stats, /compare, /find_player and /map_stats."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from etl_duck import charts
from etl_duck.bot import autocomplete as ac
from etl_duck.bot.embeds import player as player_embeds
from etl_duck.bot.options import PlayerText, ServerText, WindowText
from etl_duck.bot.paginate import paged
from etl_duck.bot.respond import Reply, UserError, before_chart, picked, respond

from ._common import chart_png, ensure_data, game_server, linked, on_server

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

RADAR_PNG = "compare.png"


class PlayersCog(commands.Cog, name="Players"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot

    async def target(
        self, user: discord.abc.User, player: str | None, member: discord.abc.User | None
    ) -> str:
        """What to look up: the player given, else the member's or the caller's link."""
        if player and player.strip():
            return player
        who = member or user
        guid = await asyncio.to_thread(self.bot.links.guid_for, who.id)
        if guid is not None:
            return guid
        if member is not None:
            raise UserError(f"{member.display_name} has not linked a player (they can use /link).")
        raise UserError("Name a player, or link yourself to your player once with /link.")

    # ------------------------------------------------------------------ /stats

    async def stats_reply(
        self,
        user: discord.abc.User,
        player: str | None,
        member: discord.abc.User | None,
        server: str | None = None,
    ) -> Reply:
        await ensure_data(self.bot)
        srv = await game_server(self.bot, server)
        text = await self.target(user, player, member)
        card = await self.bot.stats.player(text, srv)
        _, _, bests = await self.bot.stats.personal_bests(card.guid)
        shown = await asyncio.to_thread(self.bot.links.display_name_for, card.guid)
        # a player's bests are his career's, on every server (said when the card is one's)
        title = "Personal bests" if srv is None else "Personal bests (every server)"
        embed = player_embeds.card(card, bests, shown, title)
        embed.title = on_server(embed.title or card.name, srv)
        return Reply(embeds=linked([embed], self.bot.site.player(card.guid)))

    @app_commands.command(name="stats", description="A player's career card")
    @app_commands.describe(
        player="Name or GUID (default: your linked player)",
        member="A server member who linked a player",
        server="One game server (default: every server)",
    )
    @app_commands.autocomplete(player=ac.players, server=ac.servers)
    async def stats(
        self,
        interaction: discord.Interaction[Any],
        player: PlayerText | None = None,
        member: discord.Member | None = None,
        server: ServerText | None = None,
    ) -> None:
        await respond(
            interaction,
            self.stats_reply(interaction.user, player, member, server),
            retry=lambda _, guid: self.stats_reply(interaction.user, guid, None, server),
        )

    # ------------------------------------------------------------------ /compare

    async def compare_reply(self, p1: str, p2: str, window: str) -> Reply:
        stats = self.bot.stats
        await ensure_data(self.bot)
        try:
            w = await stats.resolve_window(window)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        rows = await stats.compare(p1, p2, window)
        if rows.height < 2:
            raise UserError("Those are the same player; pick two different ones.")
        metrics = player_embeds.RADAR_METRICS
        await before_chart()
        # keyed on the rows drawn: they were read before the version is
        png = await chart_png(
            self.bot, charts.compare_radar_png, rows, metrics, window=(w.date_from, w.date_to)
        )
        embed = player_embeds.compare(rows, w.label, RADAR_PNG)
        return Reply(embeds=[embed], files=[(RADAR_PNG, png)])

    @app_commands.command(
        name="compare", description="Two players side by side, with a radar chart"
    )
    @app_commands.describe(
        player1="Name or GUID", player2="Name or GUID", window="all (default), season, month, …"
    )
    @app_commands.autocomplete(player1=ac.players, player2=ac.players, window=ac.windows)
    async def compare(
        self,
        interaction: discord.Interaction[Any],
        player1: PlayerText,
        player2: PlayerText,
        window: WindowText = "all",
    ) -> None:
        await respond(
            interaction,
            self.compare_reply(player1, player2, window),
            # both names through picked(): when both are ambiguous, the second menu's
            # retry must keep the first pick
            retry=lambda _t, _g: self.compare_reply(picked(player1), picked(player2), window),
        )

    # ------------------------------------------------------------------ /find_player

    async def find_reply(self, text: str) -> Reply:
        if not text.strip():
            raise UserError("Type part of a name or a GUID.")
        await ensure_data(self.bot)
        found = await self.bot.stats.find_player(text, limit=15)
        return Reply(embeds=[player_embeds.find_results(text, found)])

    @app_commands.command(name="find_player", description="Search players by name or GUID")
    @app_commands.describe(text="Part of a name (any alias) or a GUID prefix")
    async def find_player(self, interaction: discord.Interaction[Any], text: PlayerText) -> None:
        await respond(interaction, self.find_reply(text))

    # ------------------------------------------------------------------ /map_stats

    async def maps_reply(self, user: discord.abc.User, player: str | None) -> Reply:
        await ensure_data(self.bot)
        text = await self.target(user, player, None)
        guid, name = await self.bot.stats.resolve_player(text)
        maps = await self.bot.stats.map_stats(guid)
        pages = linked(player_embeds.map_pages(name, guid, maps), self.bot.site.player(guid))
        first, view = paged(pages, user.id, self.bot.settings.page_timeout_s)
        return Reply(embeds=[first], view=view)

    @app_commands.command(name="map_stats", description="A player's results per map")
    @app_commands.describe(player="Name or GUID (default: your linked player)")
    @app_commands.autocomplete(player=ac.players)
    async def map_stats(
        self, interaction: discord.Interaction[Any], player: PlayerText | None = None
    ) -> None:
        await respond(
            interaction,
            self.maps_reply(interaction.user, player),
            retry=lambda _, guid: self.maps_reply(interaction.user, guid),
        )
