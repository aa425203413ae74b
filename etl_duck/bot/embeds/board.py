"""Paged list embeds: leaderboards and the session list."""

from __future__ import annotations

from datetime import timedelta

import discord
import polars as pl

from etl_duck.bot.format import cell_of, duration, fit_table, frame_labels, num
from etl_duck.domain.metrics import Metric

COLOUR = discord.Colour.gold()
PAGE_SIZE = 10


def _chunks(n: int, size: int) -> list[range]:
    return [range(i, min(i + size, n)) for i in range(0, n, size)] or [range(0)]


def leaderboard_pages(
    board: pl.DataFrame,
    metric: Metric,
    window_label: str,
    min_rounds: int,
    chart: str | None = None,
) -> list[discord.Embed]:
    """One embed per :data:`PAGE_SIZE` ranks: rank, player, value, rounds."""
    named = frame_labels(board)  # two players of one name told apart: "vid (D842)"
    rows = [
        [str(r["rank"]), cell_of(named, r), metric.format(r["value"]), num(r["rounds"])]
        for r in board.iter_rows(named=True)
    ]
    chunks = _chunks(len(rows), PAGE_SIZE)
    pages = []
    for i, idx in enumerate(chunks):
        embed = discord.Embed(title=f"{metric.label} — {window_label}", colour=COLOUR)
        shown = [rows[j] for j in idx]
        embed.description = (
            fit_table(
                ["#", "player", metric.label, "rounds"],
                shown,
                limit=4000,
                right=[True, False, True, True],
            )
            if shown
            else f"Nobody has {min_rounds}+ rounds in this window yet."
        )
        if metric.help:
            embed.add_field(name="How it is computed", value=metric.help, inline=False)
        embed.set_footer(text=f"page {i + 1}/{len(chunks)} · minimum {min_rounds} rounds")
        if chart and i == 0:
            embed.set_image(url=f"attachment://{chart}")
        pages.append(embed)
    return pages


def session_pages(sessions: pl.DataFrame, title: str) -> list[discord.Embed]:
    rows = [
        [s["session_date"].isoformat(), f"{s['start_time']:%H:%M}",
         duration(timedelta(seconds=s["duration_s"]), compact=True), num(s["rounds"]), num(s["maps"]),
         num(s["players"])]
        for s in sessions.iter_rows(named=True)
    ]  # fmt: skip
    chunks = _chunks(len(rows), PAGE_SIZE)
    pages = []
    for i, idx in enumerate(chunks):
        embed = discord.Embed(title=title, colour=COLOUR)
        shown = [rows[j] for j in idx]
        embed.description = (
            fit_table(["date", "start", "length", "rnd", "maps", "plrs"], shown, limit=4000)
            if shown
            else "No sessions."
        )
        embed.set_footer(text=f"page {i + 1}/{len(chunks)} · {len(rows)} sessions")
        pages.append(embed)
    return pages
