"""Small pieces the command cogs share: date parsing, session lookup, the empty-lake check."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import discord

from etl_duck.bot.format import code
from etl_duck.bot.respond import UserError
from etl_duck.query.stats import NoData, SessionReport

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot


def parse_day(text: str | None) -> date | None:
    """`YYYY-MM-DD` (or empty / `last` for the last session)."""
    if text is None or text.strip().lower() in ("", "last"):
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{code(text)} is not a date; use YYYY-MM-DD (e.g. 2025-11-11).") from None


async def session_report(bot: EtlDuckBot, text: str | None) -> SessionReport:
    report = await bot.stats.session(parse_day(text))
    return report


def linked(embeds: list[discord.Embed], url: str | None) -> list[discord.Embed]:
    """Make each embed's title a link to its page on the static site (when there is one)."""
    if url:
        for embed in embeds:
            if embed.title:
                embed.url = url
    return embeds


async def ensure_data(bot: EtlDuckBot) -> None:
    """Raise NoData on an empty lake, so a lookup says "no data yet", not "not found"."""
    version: int = await bot.stats.version()
    if version == 0:
        raise NoData("nothing has been ingested into the lake yet.")
