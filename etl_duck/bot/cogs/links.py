"""/link, /unlink, /display_name and the admins' /admin_link: who is who.

One Discord account per player GUID and one GUID per account. A link needs a proof: the
player puts a four-digit code in his in-game name for one round (the stats file shows it
under his GUID), or an admin links him. An admin may also give a second account the same
GUID (``shared``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import discord
import polars as pl
from discord import app_commands
from discord.ext import commands

from etl_duck.bot import autocomplete as ac
from etl_duck.bot.format import code, esc
from etl_duck.bot.options import NameText, PlayerText
from etl_duck.bot.respond import Reply, UserError, respond
from etl_duck.links import Claim, LinkConflict

from ._common import ensure_data
from .admin import DENIED

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot


class LinksCog(commands.Cog, name="Links"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot

    async def proven(self, claim: Claim) -> str | None:
        """An in-game name of the claimed GUID that shows the claim's code, if any. A code is
        only handed out if no name of that GUID contains it yet (see :meth:`new_claim`), so
        a name with it was used after the claim."""
        try:
            card = await self.bot.stats.player(claim.guid)
        except LookupError:
            return None
        if card.aliases.is_empty():
            return None
        hits = card.aliases.filter(pl.col("name").str.contains(claim.code, literal=True))
        return None if hits.is_empty() else str(hits["name"][0])

    async def new_claim(self, user_id: int, guid: str) -> Claim:
        """A claim whose code no name of the GUID contains yet."""
        for _ in range(20):
            claim = await asyncio.to_thread(self.bot.links.claim, user_id, guid)
            if await self.proven(claim) is None:
                return claim
        raise UserError("Could not make a code for this player; ask an admin (/admin_link).")

    async def link_reply(self, user_id: int, player: str | None) -> Reply:
        await ensure_data(self.bot)
        links = self.bot.links
        claim = await asyncio.to_thread(links.claim_for, user_id)
        guid = name = None
        if player and player.strip():
            guid, name = await self.bot.stats.resolve_player(player)
        elif claim is None:
            raise UserError("Name your player: /link player:<your name or GUID>.")
        if guid is not None and (claim is None or claim.guid != guid):
            if await asyncio.to_thread(links.guid_for, user_id) == guid:
                return Reply(content=f"You are already linked to **{esc(name)}**.", ephemeral=True)
            try:
                claim = await self.new_claim(user_id, guid)
            except LinkConflict:
                raise UserError(
                    f"**{esc(name)}** is linked to another Discord account. If it is yours, "
                    "ask an admin (/admin_link)."
                ) from None
            return Reply(content=_instructions(name or guid, claim), ephemeral=True)
        assert claim is not None
        shown = await self.proven(claim)
        if shown is None:
            _, current = await self.bot.stats.resolve_player(claim.guid)
            return Reply(content="Not proven yet. " + _instructions(current, claim), ephemeral=True)
        try:
            await asyncio.to_thread(links.link, user_id, claim.guid, method="rename")
        except LinkConflict:
            raise UserError("Someone else linked this player meanwhile; ask an admin.") from None
        return Reply(
            content=f"Linked you to `{claim.guid}`: we saw **{esc(shown)}** in game. "
            "/stats now shows this player; you may change your name back.",
            ephemeral=True,
        )

    async def admin_link_reply(
        self, admin: discord.abc.User, member: discord.abc.User, player: str, shared: bool
    ) -> Reply:
        if not self.bot.is_admin(admin):
            raise UserError(DENIED)
        await ensure_data(self.bot)
        guid, name = await self.bot.stats.resolve_player(player)
        try:
            await asyncio.to_thread(
                self.bot.links.link, member.id, guid, method="admin", shared=shared
            )
        except LinkConflict as exc:
            raise UserError(
                f"**{esc(name)}** is linked to <@{exc.user_id}>; set shared to give "
                f"{esc(member.display_name)} the same player too."
            ) from None
        return Reply(
            content=f"Linked {esc(member.display_name)} to **{esc(name)}** (`{guid}`).",
            ephemeral=True,
        )

    async def unlink_reply(self, user_id: int) -> Reply:
        removed = await asyncio.to_thread(self.bot.links.unlink, user_id)
        text = "Your link is removed." if removed else "You were not linked to a player."
        return Reply(content=text, ephemeral=True)

    async def display_name_reply(self, user_id: int, name: str | None) -> Reply:
        done = await asyncio.to_thread(self.bot.links.set_display_name, user_id, name)
        if not done:
            raise UserError("Link your player first (/link).")
        text = (
            f"Your card now shows **{esc(name)}**."
            if name
            else "Your card shows your in-game name."
        )
        return Reply(content=text, ephemeral=True)

    @app_commands.command(name="link", description="Link your Discord account to your player")
    @app_commands.describe(player="Your player name or GUID (empty: check your pending link)")
    @app_commands.autocomplete(player=ac.players)
    async def link(
        self, interaction: discord.Interaction[Any], player: PlayerText | None = None
    ) -> None:
        await respond(
            interaction,
            self.link_reply(interaction.user.id, player),
            retry=lambda _, guid: self.link_reply(interaction.user.id, guid),
        )

    @app_commands.command(name="admin_link", description="Admin: link a member to a player")
    @app_commands.describe(
        member="The Discord member", player="Name or GUID",
        shared="Also if another account has this player already",
    )  # fmt: skip
    @app_commands.autocomplete(player=ac.players)
    async def admin_link(
        self,
        interaction: discord.Interaction[Any],
        member: discord.Member,
        player: PlayerText,
        shared: bool = False,
    ) -> None:
        await respond(
            interaction,
            self.admin_link_reply(interaction.user, member, player, shared),
            retry=lambda _, guid: self.admin_link_reply(interaction.user, member, guid, shared),
        )

    @app_commands.command(name="unlink", description="Remove the link to your player")
    async def unlink(self, interaction: discord.Interaction[Any]) -> None:
        await respond(interaction, self.unlink_reply(interaction.user.id))

    @app_commands.command(name="display_name", description="The name your card shows")
    @app_commands.describe(name="How you want to be called (empty: your in-game name)")
    async def display_name(
        self, interaction: discord.Interaction[Any], name: NameText | None = None
    ) -> None:
        await respond(interaction, self.display_name_reply(interaction.user.id, name))


def _instructions(name: str, claim: Claim) -> str:
    return (
        f"To show that **{esc(name)}** is you, put **{claim.code}** in your in-game name for "
        f"one round (e.g. {code(f'{name}{claim.code}')}), then run /link again. "
        "An admin can also link you (/admin_link)."
    )
