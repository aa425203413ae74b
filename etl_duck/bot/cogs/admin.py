"""Admin-only commands: /sync (fetch now) and /cache (query cache statistics).

Gated inside the callback by the admin user / role lists from the settings, so the rule
holds however the command is reached (and is testable by calling the callback).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from etl_duck.bot.embeds import system
from etl_duck.bot.format import code
from etl_duck.bot.respond import Reply, UserError, respond

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

DENIED = "Only admins can use this command (see ETL_DUCK_ADMIN_USER_IDS / ADMIN_ROLE_IDS)."


class AdminCog(commands.Cog, name="Admin"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot

    def require_admin(self, user: discord.abc.User) -> None:
        if not self.bot.is_admin(user):
            raise UserError(DENIED)

    async def sync_reply(self, user: discord.abc.User) -> Reply:
        self.require_admin(user)
        fetcher = self.bot.fetcher
        if fetcher is None:
            raise UserError("Fetching is not configured (set ETL_DUCK_SSH_HOST and friends).")
        report = await fetcher.poll_once()
        summary = str(report.summary())
        state = self.bot.fetch_state
        state.last_poll, state.last_summary = datetime.now(), summary
        embed = discord.Embed(title="Fetched", description=summary, colour=discord.Colour.green())
        downloaded = list(getattr(report, "downloaded", []))
        if downloaded:
            embed.add_field(
                name=f"New files ({len(downloaded)})",
                value="\n".join(code(n) for n in downloaded[:15])[:1024],
                inline=False,
            )
        return Reply(embeds=[embed], ephemeral=True)

    async def cache_reply(self, user: discord.abc.User) -> Reply:
        self.require_admin(user)
        version: int = await self.bot.stats.version()
        timings = dict(self.bot.stats.timings)
        return Reply(
            embeds=[system.cache(self.bot.cache.stats(), version, timings)], ephemeral=True
        )

    @app_commands.command(name="sync", description="Admin: fetch new stats files now")
    async def sync(self, interaction: discord.Interaction[Any]) -> None:
        await respond(interaction, self.sync_reply(interaction.user))

    @app_commands.command(name="cache", description="Admin: query cache statistics")
    async def cache(self, interaction: discord.Interaction[Any]) -> None:
        await respond(interaction, self.cache_reply(interaction.user))
