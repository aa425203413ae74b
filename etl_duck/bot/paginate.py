"""Paged embeds with ◀ / ▶ buttons that stop working after a timeout."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import discord

log = logging.getLogger(__name__)

PAGE_TIMEOUT_S = 180.0


class Paginator(discord.ui.View):
    """Pages of embeds; only the user who ran the command turns them."""

    def __init__(
        self, pages: Sequence[discord.Embed], *, owner_id: int, timeout: float = PAGE_TIMEOUT_S
    ) -> None:
        super().__init__(timeout=timeout)
        if not pages:
            raise ValueError("a paginator needs at least one page")
        self.pages = list(pages)
        self.owner_id = owner_id
        self.index = 0
        self.interaction: discord.Interaction[Any] | None = None
        self._update()

    @property
    def current(self) -> discord.Embed:
        return self.pages[self.index]

    def bind(self, interaction: discord.Interaction[Any]) -> None:
        """Remember the interaction whose message shows the pages (to edit it on timeout).

        Each page turn binds its own: a token lives 15 minutes and the timeout restarts at
        every turn, so the command's token may be dead when the pages expire."""
        self.interaction = interaction

    def _update(self) -> None:
        self.prev_page.disabled = self.index == 0
        self.next_page.disabled = self.index >= len(self.pages) - 1
        self.counter.label = f"{self.index + 1}/{len(self.pages)}"

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "Only the person who ran the command can turn these pages; run it yourself.",
            ephemeral=True,
        )
        return False

    async def _show(self, interaction: discord.Interaction[Any], index: int) -> None:
        self.index = max(0, min(index, len(self.pages) - 1))
        self._update()
        await interaction.response.edit_message(embed=self.current, view=self)
        self.bind(interaction)

    @discord.ui.button(label="◀", style=discord.ButtonStyle.secondary)
    async def prev_page(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Paginator]
    ) -> None:
        await self._show(interaction, self.index - 1)

    @discord.ui.button(label="1/1", style=discord.ButtonStyle.secondary, disabled=True)
    async def counter(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Paginator]
    ) -> None:
        await interaction.response.defer()  # a label, not a control

    @discord.ui.button(label="▶", style=discord.ButtonStyle.secondary)
    async def next_page(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Paginator]
    ) -> None:
        await self._show(interaction, self.index + 1)

    async def on_timeout(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self.interaction is not None:
            try:
                await self.interaction.edit_original_response(view=self)
            except discord.HTTPException:
                log.debug("could not disable the buttons of an expired paginator")


def paged(
    pages: Sequence[discord.Embed], owner_id: int, timeout: float = PAGE_TIMEOUT_S
) -> tuple[discord.Embed, Paginator | None]:
    """The first page and a paginator, or no paginator for a single page."""
    if len(pages) <= 1:
        return (pages[0] if pages else discord.Embed(description="Nothing to show.")), None
    view = Paginator(pages, owner_id=owner_id, timeout=timeout)
    return view.current, view
