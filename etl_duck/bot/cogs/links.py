"""/link and /unlink: a Discord user ↔ player GUID (for /stats without a name)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from etl_duck.bot import autocomplete as ac
from etl_duck.bot.format import esc
from etl_duck.bot.options import PlayerText
from etl_duck.bot.respond import Reply, respond

from ._common import ensure_data

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot


class LinksCog(commands.Cog, name="Links"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot

    async def link_reply(self, user_id: int, player: str) -> Reply:
        await ensure_data(self.bot)
        guid, name = await self.bot.stats.resolve_player(player)
        await asyncio.to_thread(self.bot.links.link, user_id, guid)
        return Reply(
            content=f"Linked you to **{esc(name)}** (`{guid}`). /stats now shows this player.",
            ephemeral=True,
        )

    async def unlink_reply(self, user_id: int) -> Reply:
        removed = await asyncio.to_thread(self.bot.links.unlink, user_id)
        text = "Your link is removed." if removed else "You were not linked to a player."
        return Reply(content=text, ephemeral=True)

    @app_commands.command(name="link", description="Link your Discord account to your player")
    @app_commands.describe(player="Your player name or GUID")
    @app_commands.autocomplete(player=ac.players)
    async def link(self, interaction: discord.Interaction[Any], player: PlayerText) -> None:
        await respond(interaction, self.link_reply(interaction.user.id, player))

    @app_commands.command(name="unlink", description="Remove the link to your player")
    async def unlink(self, interaction: discord.Interaction[Any]) -> None:
        await respond(interaction, self.unlink_reply(interaction.user.id))
