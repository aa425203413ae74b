"""Embeds for the social questions: teammates, lineups, rivals and records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
import polars as pl

from etl_duck.bot.format import (
    DESCRIPTION_MAX,
    FIELD_MAX,
    cell,
    esc,
    fit_first,
    fit_table,
    label_of,
    labels,
    num,
    player_name,
)
from etl_duck.domain.records import ROUND_RECORDS, _shown
from etl_duck.domain.social import MIN_MAPS, MIN_ROUNDS, best_partner, nemesis_and_prey

COLOUR = discord.Colour.dark_teal()


def _wld(w: Any, lost: Any, d: Any) -> str:
    return f"{w}-{lost}-{d}"


def _pct(v: Any) -> str:
    return "—" if v is None else f"{v:.0f}%"


def teammates(name: str, guid: str, mates: pl.DataFrame) -> discord.Embed:
    embed = discord.Embed(title=f"{esc(player_name(name, guid))} — teammates", colour=COLOUR)
    if mates.is_empty():
        embed.description = "No complete map (round 1 + round 2) played yet."
        return embed
    best = best_partner(mates)
    named = labels(zip(mates["guid"], mates["name"], strict=True))
    lines = [
        "Win rate on maps together vs apart (won / maps; W-L-D), "
        f"teammates with at least {MIN_MAPS} maps together."
    ]
    if best is not None:
        lines.append(
            f"Best partner: **{esc(named[str(best['guid'])])}** — {_pct(best['together_rate'])} over "
            f"{best['together_maps']} maps together (apart: {_pct(best['apart_rate'])} of "
            f"{best['apart_maps']})"
        )
    embed.description = "\n".join(lines)
    regular = mates.filter(pl.col("regular"))
    rows = [
        [cell(named[r["guid"]], 13), str(r["together_maps"]),
         _wld(r["together_won"], r["together_lost"], r["together_drawn"]),
         _pct(r["together_rate"]), str(r["apart_maps"]), _pct(r["apart_rate"])]
        for r in regular.head(15).iter_rows(named=True)
    ]  # fmt: skip
    if rows:
        embed.add_field(
            name="Together · apart",
            value=fit_table(["teammate", "maps", "W-L-D", "win", "apart", "win"], rows),
            inline=False,
        )
    others = mates.height - regular.height
    embed.set_footer(text=f"GUID {guid} · {others} more teammates with fewer maps together")
    return embed


def _roster(key: str, names: Sequence[str]) -> list[str]:
    """A lineup's names as the bot shows them (:func:`player_name`): ``key`` is its GUIDs
    joined in the order of ``names`` (``domain.social.lineups``)."""
    guids = key.split(",")
    if len(guids) != len(names):  # not the shape lineups() makes: the names as they are
        return [str(n) for n in names]
    return [player_name(n, g) for g, n in zip(guids, names, strict=True)]


def lineups(table: pl.DataFrame, window_label: str) -> discord.Embed:
    embed = discord.Embed(title=f"Lineups — {window_label}", colour=COLOUR)
    if table.is_empty():
        embed.description = f"No two rosters met on {MIN_MAPS} maps or more."
        return embed
    lines = []
    for r in table.head(8).iter_rows(named=True):
        a = esc(", ".join(_roster(r["lineup_a"], r["names_a"])))
        b = esc(", ".join(_roster(r["lineup_b"], r["names_b"])))
        lines.append(
            f"**{r['won_a']}–{r['won_b']}**" + (f"–{r['drawn']}" if r["drawn"] else "")
            + f" in {r['maps']} maps · last {r['last_met']:%Y-%m-%d}\n{a}\n  vs {b}"
        )  # fmt: skip
    embed.description = fit_first(lines, DESCRIPTION_MAX, "\n\n")
    embed.set_footer(text="exact rosters of one side of a map; W–L(–D) of the first roster")
    return embed


def rivals(name: str, guid: str, table: pl.DataFrame) -> discord.Embed:
    embed = discord.Embed(title=f"{esc(player_name(name, guid))} — rivals", colour=COLOUR)
    if table.is_empty():
        embed.description = (
            "No attributed versus rows: the server's endstats files need the VS_HEADER lines "
            "of the newer endstats writer (older files cannot say whose kills they list)."
        )
        return embed
    nemesis, prey = nemesis_and_prey(table)
    named = labels(zip(table["guid"], table["name"], strict=True))
    lines = []
    if nemesis is not None:
        lines.append(
            f"Nemesis: **{esc(named[str(nemesis['guid'])])}** killed you {nemesis['deaths']}× in "
            f"{nemesis['rounds']} rounds (you: {nemesis['kills']})"
        )
    if prey is not None:
        lines.append(
            f"Easiest prey: **{esc(named[str(prey['guid'])])}** — you killed him {prey['kills']}× in "
            f"{prey['rounds']} rounds (he: {prey['deaths']})"
        )
    lines.append(f"(opponents met in at least {MIN_ROUNDS} rounds)")
    embed.description = "\n".join(lines)
    rows = [
        [cell(named[r["guid"]], 14), num(r["rounds"]), num(r["kills"]), num(r["deaths"]),
         num(r["kd"], 2)]
        for r in table.head(15).iter_rows(named=True)
    ]  # fmt: skip
    embed.add_field(
        name="Per opponent (most deaths first)",
        value=fit_table(["opponent", "rnd", "K", "D", "K/D"], rows),
        inline=False,
    )
    embed.set_footer(text=f"GUID {guid} · from the endstats files (who killed whom)")
    return embed


def record_line(r: dict[str, Any], named: dict[str, str] | None = None) -> str:
    """One record; ``named``: :func:`labels` of the answer's holders (two of one name told
    apart, ``vid (D842)``; a team's names as they are)."""
    label, unit, _ = ROUND_RECORDS[r["kind"]]
    # the session's date (what /session opens), not the calendar day of the round's end
    day = r.get("session_date")
    when = f" ({day:%Y-%m-%d})" if day is not None else ""
    holder = label_of(named or {}, r, "holder")
    return f"{label}: **{_shown(r['value'], unit)}** — {esc(holder)}{when}"


def records(rows: Sequence[dict[str, Any]], map_name: str | None) -> list[discord.Embed]:
    """Pages: all-time first, then one field per map."""
    title = f"Records — {esc(map_name)}" if map_name else "Records"
    if not rows:
        return [discord.Embed(title=title, description="No records yet.", colour=COLOUR)]
    pages: list[discord.Embed] = []
    page = discord.Embed(title=title, colour=COLOUR)
    named = labels((r["guid"], r["holder"]) for r in rows if r.get("guid") is not None)
    by_scope: dict[str, list[str]] = {}
    for r in rows:
        by_scope.setdefault(r["scope"], []).append(record_line(r, named))
    for scope, lines in by_scope.items():
        if len(page.fields) >= 6:
            pages.append(page)
            page = discord.Embed(title=title, colour=COLOUR)
        page.add_field(
            name="All time" if scope == "all" else esc(scope), value=fit_first(lines, FIELD_MAX, "\n"),
            inline=False,
        )  # fmt: skip
    pages.append(page)
    for i, p in enumerate(pages):
        p.set_footer(text=f"page {i + 1}/{len(pages)} · best round DPM: rounds of ≥ 5 minutes")
    return pages
