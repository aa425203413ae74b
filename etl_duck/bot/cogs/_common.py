"""Small pieces the command cogs share: date parsing, session lookup, the empty-lake check."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import discord

from etl_duck.bot.format import code
from etl_duck.bot.respond import UserError
from etl_duck.domain.sources import check_server_name, label
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


async def session_report(
    bot: EtlDuckBot, text: str | None, server: str | None = None
) -> SessionReport:
    report = await bot.stats.session(parse_day(text), server)
    return report


async def game_server(bot: EtlDuckBot, text: str | None) -> str | None:
    """The game server an option names (``main`` = the first; ``""`` inside the lake), or
    None (every server). A name the lake has no session of is the user's error."""
    if text is None or not text.strip():
        return None
    try:
        server = check_server_name(text.strip().lower())
    except ValueError as exc:
        raise UserError(str(exc)) from None
    known = await bot.stats.servers()
    if server not in known:
        names = ", ".join(label(s) for s in known) or "none yet"
        raise UserError(f"No game server {code(text)} in the stats; servers: {names}.")
    return server


async def site_server(bot: EtlDuckBot, server: str | None) -> str | None:
    """The server whose own pages a link may point at: the site builds them only when the
    lake has more than one server (else the community's pages are that server's)."""
    if server is None or len(await bot.stats.servers()) < 2:
        return None
    return server


def on_server(text: str, server: str | None) -> str:
    """A title or label, naming the server when the answer covers one."""
    return text if server is None else f"{text} · server {label(server)}"


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
        raise NoData("No data yet: nothing has been ingested into the lake yet.")
