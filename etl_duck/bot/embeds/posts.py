"""Embeds the bot posts on its own: a finished round, a finished map, a finished session."""

from __future__ import annotations

from typing import Any

import discord
import polars as pl

from etl_duck.bot.format import cell, code, duration, esc, fit_table, num
from etl_duck.query.stats import RoundDetail

COLOUR = discord.Colour.teal()


def _players_table(players: pl.DataFrame, limit: int = 12) -> str:
    rows = [[cell(p["name"]), num(p["kills"]), num(p["deaths"]), num(p["dpm"], 1)]
            for p in players.head(limit).iter_rows(named=True)]  # fmt: skip
    return fit_table(["player", "K", "D", "DPM"], rows)


def round_post(detail: RoundDetail) -> discord.Embed:
    r = detail.round
    embed = discord.Embed(title=f"{esc(r['map_name'])} — round {r['round_number']}", colour=COLOUR)
    result = "attackers completed the objective" if r.get("attackers_won") else "defence held"
    parts = [f"Duration {duration(r.get('duration_s'))}", result]
    if r["round_number"] == 1 and r.get("attackers_won") and r.get("next_time_limit_s"):
        parts.append(f"clock set to {duration(r['next_time_limit_s'])}")
    embed.description = " · ".join(parts)
    if not detail.players.is_empty():
        embed.add_field(name="Players", value=_players_table(detail.players), inline=False)
    embed.set_footer(text=str(r["file_name"]))
    return embed


def map_post(map_name: str, players: pl.DataFrame, result: dict[str, Any] | None) -> discord.Embed:
    embed = discord.Embed(title=f"Map finished: {esc(map_name)}", colour=COLOUR)
    if result and result.get("outcome"):
        winner = f"Team {result['winner']} — " if result.get("winner") else ""
        embed.description = f"{winner}{result['outcome']}"
    if not players.is_empty():
        embed.add_field(name="Both rounds", value=_players_table(players), inline=False)
    return embed


def backlog_post(count: int, first: str, last: str) -> discord.Embed:
    return discord.Embed(
        title=f"{count} rounds ingested",
        description=f"A backlog from {code(first)} to {code(last)}; use /last_session for the summary.",
        colour=COLOUR,
    )
