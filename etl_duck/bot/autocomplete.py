"""Autocomplete for option values: players, leaderboard types, windows, sessions, months,
game servers.

Autocomplete must answer quickly and never fail loudly: each callback goes through the
cached query API in a worker thread, gives up after :data:`BUDGET_S` and offers nothing
rather than an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import discord
import polars as pl
from discord import app_commands

from etl_duck.domain.metrics import METRICS

if TYPE_CHECKING:
    from etl_duck.bot.client import EtlDuckBot

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_CHOICES = 25  # Discord's limit
BUDGET_S = 2.0
WINDOW_CHOICES = (
    ("all", "all time"),
    ("season", "this season (calendar quarter)"),
    ("month", "this month"),
    ("week", "this week"),
    ("session", "the last session"),
)

Choices = list[app_commands.Choice[str]]


def _bot(interaction: discord.Interaction[Any]) -> EtlDuckBot:
    return cast("EtlDuckBot", interaction.client)


async def _guarded(work: Awaitable[T], default: T) -> T:
    try:
        return await asyncio.wait_for(work, BUDGET_S)
    except Exception:
        log.debug("autocomplete gave up", exc_info=True)
        return default


def _choice(name: str, value: str) -> app_commands.Choice[str]:
    return app_commands.Choice(name=name[:100], value=value[:100])


async def players(interaction: discord.Interaction[Any], current: str) -> Choices:
    """Matching players (or the most active ones): shows the name, sends the GUID."""
    stats = _bot(interaction).stats
    text = current.strip()

    async def lookup() -> pl.DataFrame:
        if text:
            found = await stats.find_player(text, limit=MAX_CHOICES)
            return found
        board = await stats.leaderboard("games", "all", limit=MAX_CHOICES, min_rounds=0)
        return board

    found = await _guarded(lookup(), pl.DataFrame())
    if found.is_empty():
        return []
    return [
        _choice(f"{r['name']} ({r['guid']})", str(r["guid"]))
        for r in found.head(MAX_CHOICES).iter_rows(named=True)
    ]


async def metrics(interaction: discord.Interaction[Any], current: str) -> Choices:
    text = current.strip().lower()
    out = []
    for m in METRICS.values():
        if not text or text in m.key or text in m.label.lower():
            out.append(_choice(f"{m.label} — {m.help}" if m.help else m.label, m.key))
    return out[:MAX_CHOICES]


async def windows(interaction: discord.Interaction[Any], current: str) -> Choices:
    text = current.strip().lower()
    out = [_choice(label, key) for key, label in WINDOW_CHOICES if text in key or text in label]
    if ".." in text or (text[:1].isdigit() and not out):
        out.append(_choice(f"custom range {current.strip()} (YYYY-MM-DD..YYYY-MM-DD)", text))
    return out[:MAX_CHOICES]


async def session_dates(interaction: discord.Interaction[Any], current: str) -> Choices:
    """Sessions, newest first, filtered by what was typed (a date, a time, an id): shows the
    date and start time, sends the session id — a break longer than the session gap splits
    an evening in two, and each half is a choice of its own."""
    from etl_duck.domain.sources import label

    stats = _bot(interaction).stats
    sessions = await _guarded(stats.sessions(None), pl.DataFrame())
    if sessions.is_empty():
        return []
    text = current.strip()
    out: Choices = []
    for s in sessions.iter_rows(named=True):
        sid = str(s["session_id"])
        where = f" · server {label(s['server'])}" if s["server"] else ""
        name = (
            f"{s['session_date'].isoformat()} {s['start_time']:%H:%M} · {s['rounds']} rounds · "
            f"{s['players']} players{where}"
        )
        if text and text not in name and text not in sid:
            continue
        out.append(_choice(name, sid))
        if len(out) >= MAX_CHOICES:
            break
    return out


async def servers(interaction: discord.Interaction[Any], current: str) -> Choices:
    """The lake's game servers (``main`` = the first)."""
    from etl_duck.domain.sources import label

    names = await _guarded(_bot(interaction).stats.servers(), [])
    text = current.strip().lower()
    return [_choice(label(s), label(s)) for s in names if text in label(s)][:MAX_CHOICES]


async def months(interaction: discord.Interaction[Any], current: str) -> Choices:
    stats = _bot(interaction).stats
    sessions = await _guarded(stats.sessions(None), pl.DataFrame())
    if sessions.is_empty():
        return []
    counts: dict[str, int] = {}
    for d in sessions["session_date"].to_list():
        key = d.strftime("%Y-%m")
        counts[key] = counts.get(key, 0) + 1
    text = current.strip()
    return [
        _choice(f"{m} · {n} sessions", m)
        for m, n in sorted(counts.items(), reverse=True)
        if not text or text in m
    ][:MAX_CHOICES]
