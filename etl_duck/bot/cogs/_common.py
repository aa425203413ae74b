"""Small pieces the command cogs share: date parsing, session lookup, the empty-lake check,
charts cached under what they draw."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import struct
from collections.abc import Callable, Hashable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import discord

from etl_duck.bot.format import code
from etl_duck.bot.respond import UserError
from etl_duck.domain.sources import check_server_name, label
from etl_duck.query.stats import NoData, SessionReport
from etl_duck.query.windows import ALL_FROM, ALL_TO

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot


#: a session id as the lake writes it: YYYYMMDDHHMMSS of its first round's start (another
#: game server's: plus its offset, up to 18 digits); the date options' autocomplete sends it
SESSION_ID = re.compile(r"\d{14,18}")
#: the most other sessions of a date a note names
NOTE_OTHERS = 5


def parse_day(text: str | None) -> date | None:
    """`YYYY-MM-DD` (or empty / `last` for the last session)."""
    if text is None or text.strip().lower() in ("", "last"):
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            f"{code(text)} is not a session date or id; use YYYY-MM-DD (e.g. 2025-11-11) or "
            "pick a session from the list the option offers."
        ) from None


def parse_session(text: str | None) -> date | int | None:
    """A session id (one session, whatever else started that day), else :func:`parse_day`."""
    if text is not None and SESSION_ID.fullmatch(text.strip()):
        return int(text.strip())
    return parse_day(text)


def others_note(day: date, others: list[tuple[int, datetime]]) -> str | None:
    """One line naming the other sessions that started on the date that opened one, and
    how to open each (None when there are none)."""
    if not others:
        return None
    shown = others[:NOTE_OTHERS]
    more = len(others) - len(shown)
    how = ", ".join(f"{start:%H:%M} (date:{sid})" for sid, start in shown)
    return f"{day} holds {len(others) + 1} sessions; this is the last to start. Also: {how}" + (
        f" and {more} more" if more else ""
    )


async def picked_session(
    bot: EtlDuckBot, text: str | None, server: str | None = None
) -> tuple[SessionReport, str | None]:
    """The session a date option names (a date, a session id, or nothing: the last) and,
    for a date, the note naming the other sessions that started on it (:func:`others_note`)."""
    which = parse_session(text)
    report = await bot.stats.session(which, server)
    if not isinstance(which, date):
        return report, None
    return report, others_note(which, await bot.stats.others_on(which, report.session_id, server))


def noted(embeds: list[discord.Embed], note: str | None) -> list[discord.Embed]:
    """``note`` (the other sessions of a date) as a line under the first embed's footer."""
    if note and embeds:
        first = embeds[0]
        text = first.footer.text
        first.set_footer(text=f"{text}\n{note}" if text else note, icon_url=first.footer.icon_url)
    return embeds


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


def drawn(value: Any) -> Hashable:
    """What a chart is drawn from, as a cache key: equal for equal content. A table is its
    columns, types and a digest of its rows (``hash_rows``, a fixed seed); a report (a
    dataclass: a session's players, timeline, teams and the override flag) is its fields;
    lists, tuples and dicts their items; anything else (names, numbers, dates) itself."""
    import polars as pl

    if isinstance(value, pl.DataFrame):
        hashes = value.hash_rows(seed=0).to_list() if value.width else []
        digest = hashlib.blake2b(struct.pack(f"<{len(hashes)}Q", *hashes), digest_size=16)
        schema = tuple((name, str(dtype)) for name, dtype in value.schema.items())
        return ("frame", schema, value.height, digest.hexdigest())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (type(value).__name__, *(drawn(getattr(value, f.name)) for f in fields))
    if isinstance(value, list | tuple):
        return tuple(drawn(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, drawn(v)) for k, v in value.items())
    if isinstance(value, set):
        return frozenset(value)
    itself: Hashable = value  # hashable as it is (a name, a number, a date, a frozenset)
    return itself


async def chart_png(
    bot: EtlDuckBot,
    chart: Callable[..., bytes],
    *args: Any,
    window: tuple[date, date] = (ALL_FROM, ALL_TO),
) -> bytes:
    """``chart(*args)`` drawn by the chart worker, cached under what it draws
    (:func:`drawn` of ``args``) and the lake version of ``window``. The data was read
    before this call, and ``Stats.cached`` reads the version now: a commit in between must
    not file the old chart under the new version (the table would say 744 kills, the chart
    631, until the next commit); nor may an admin's team correction, which is not in the
    lake, leave the old teams drawn. Keyed on its content, a chart is only ever reused
    for the very data it shows."""
    key = ("chart", chart.__name__, drawn(args))
    return await bot.stats.cached(key, lambda: bot.chart_worker.render(chart, *args), window)
