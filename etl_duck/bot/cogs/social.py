"""/teammates, /lineups, /rivals and /records; and the announcements of records, personal
bests and milestones in round posts and the digest — each once, ever (the marks live in
the bot state store, keyed by events whose keys a rebuild derives identically)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from etl_duck.bot import autocomplete as ac
from etl_duck.bot.embeds import social as embeds
from etl_duck.bot.format import esc, player_name
from etl_duck.bot.options import MapText, PlayerText, WindowText
from etl_duck.bot.paginate import paged
from etl_duck.bot.respond import Reply, UserError, respond
from etl_duck.query.rating import events_told_apart
from etl_duck.query.stats import SessionReport

from ._common import ensure_data, linked

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot
    from etl_duck.domain.records import Event

ANNOUNCED = "announced"


def told_apart(events: Iterable[Event]) -> list[Event]:
    """``events`` with each player holder (and previous holder) as the bot shows him: his
    GUID where his name shows nothing (``player_name``: not a ``****`` line), two of one
    name told apart."""
    return events_told_apart(
        replace(
            e,
            holder=player_name(e.holder, e.guid),
            previous_holder=e.previous_holder
            if e.previous_holder is None
            else player_name(e.previous_holder, e.previous_guid),
        )
        for e in events
    )


class SocialCog(commands.Cog, name="Social"):
    """Duos, lineups and rivals."""

    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot

    async def _target(self, user: discord.abc.User, player: str | None) -> str:
        players: Any = self.bot.get_cog("Players")
        return str(await players.target(user, player, None))

    async def teammates_reply(self, user: discord.abc.User, player: str | None) -> Reply:
        await ensure_data(self.bot)
        guid, name, mates = await self.bot.stats.teammates(await self._target(user, player))
        return Reply(
            embeds=linked([embeds.teammates(name, guid, mates)], self.bot.site.player(guid))
        )

    async def lineups_reply(self, window: str) -> Reply:
        await ensure_data(self.bot)
        try:
            w = await self.bot.stats.resolve_window(window)
            table = await self.bot.stats.lineups(window)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        return Reply(embeds=[embeds.lineups(table, w.label)])

    async def rivals_reply(self, user: discord.abc.User, player: str | None) -> Reply:
        await ensure_data(self.bot)
        guid, name, table = await self.bot.stats.rivals(await self._target(user, player))
        return Reply(embeds=linked([embeds.rivals(name, guid, table)], self.bot.site.player(guid)))

    @app_commands.command(name="teammates", description="Win rates with and without teammates")
    @app_commands.describe(player="Name or GUID (default: your linked player)")
    @app_commands.autocomplete(player=ac.players)
    async def teammates(
        self, interaction: discord.Interaction[Any], player: PlayerText | None = None
    ) -> None:
        user = interaction.user
        await respond(
            interaction,
            self.teammates_reply(user, player),
            retry=lambda _, guid: self.teammates_reply(user, guid),
        )

    @app_commands.command(name="lineups", description="Recurring rosters against each other")
    @app_commands.describe(window="all (default), season, month, week or FROM..TO")
    @app_commands.autocomplete(window=ac.windows)
    async def lineups(
        self, interaction: discord.Interaction[Any], window: WindowText = "all"
    ) -> None:
        await respond(interaction, self.lineups_reply(window))

    @app_commands.command(name="rivals", description="Nemesis, easiest prey, K/D per opponent")
    @app_commands.describe(player="Name or GUID (default: your linked player)")
    @app_commands.autocomplete(player=ac.players)
    async def rivals(
        self, interaction: discord.Interaction[Any], player: PlayerText | None = None
    ) -> None:
        user = interaction.user
        await respond(
            interaction,
            self.rivals_reply(user, player),
            retry=lambda _, guid: self.rivals_reply(user, guid),
        )


class RecordsCog(commands.Cog, name="Records"):
    """/records, and what round posts and the digest announce."""

    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot

    async def records_reply(self, user_id: int, map_name: str | None) -> Reply:
        await ensure_data(self.bot)
        rows = await self.bot.stats.records(map_name)
        if map_name and not any(r["scope"] != "all" for r in rows):
            raise UserError(f"No records on `{map_name}`: no completed round of that map yet.")
        pages = linked(embeds.records(rows, map_name), self.bot.site.records())
        first, view = paged(pages, user_id, self.bot.settings.page_timeout_s)
        return Reply(embeds=[first], view=view)

    @app_commands.command(name="records", description="Map and all-time records")
    @app_commands.describe(map="Only this map (default: every map)")
    async def records(
        self, interaction: discord.Interaction[Any], map: MapText | None = None
    ) -> None:
        await respond(interaction, self.records_reply(interaction.user.id, map))

    # ------------------------------------------------------------------ announcements

    async def _claim(self, events: list[Event]) -> list[Event]:
        keys = await asyncio.to_thread(
            self.bot.state.claim_many, ANNOUNCED, [e.key for e in events]
        )
        new = set(keys)
        return [e for e in events if e.key in new]

    async def round_notes(self, sid: int, file_name: str) -> list[str]:
        """What a round post announces: the records and personal bests this round set, and
        milestones the session has reached so far — each only if never announced."""
        return (await self.round_announcements(sid, file_name))[0]

    async def round_announcements(self, sid: int, file_name: str) -> tuple[list[str], list[str]]:
        """:meth:`round_notes` and the keys it claimed: a post the channel refused gives
        them back (:meth:`unannounce`), for the round's post when it goes out after all."""
        events = await self.bot.stats.session_events(sid)
        mine = [e for e in events if e.file_name == file_name or e.scope == "milestone"]
        told = await self._claim(mine)
        # two holders of one name told apart ("vid (D842)")
        return [e.text(esc) for e in told_apart(told)], [e.key for e in told]

    async def unannounce(self, keys: list[str]) -> None:
        """Announcements a refused post did not make: free to be made again."""

        def release() -> None:
            for key in keys:
                self.bot.state.release(ANNOUNCED, key)

        await asyncio.to_thread(release)

    async def session_highlights(
        self, rep: SessionReport, *, announce: bool, claimed: list[str] | None = None
    ) -> tuple[list[str], list[str]]:
        """(records and personal bests, milestones) of a session for its digest. Posted
        (``announce``): only those never announced (a round post may have), plus a count of
        the others; shown on request: all of them. ``claimed`` receives the keys this call
        claimed (a post that fails gives them back: :meth:`unannounce`)."""
        events = await self.bot.stats.session_events(rep.session_id)
        mine = await self._claim(events) if announce else events
        if announce and claimed is not None:
            claimed.extend(e.key for e in mine)
        told = told_apart(mine)
        records = [e.text(esc) for e in told if e.scope != "milestone"]
        milestones = [e.text(esc) for e in told if e.scope == "milestone"]
        earlier = sum(1 for e in events if e.scope != "milestone") - len(records)
        if announce and earlier > 0:
            records.append(f"… and {earlier} announced during the evening")
        return records, milestones
