"""Embeds about players: career card, comparison, search results, per-map stats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
import polars as pl

from etl_duck.bot.format import (
    FIELD_MAX,
    cell,
    cell_of,
    cut,
    esc,
    fit_first,
    fit_table,
    frame_labels,
    label_of,
    num,
    player_name,
    table,
)
from etl_duck.domain.metrics import METRICS
from etl_duck.domain.parse import shows_something
from etl_duck.query.players import PlayerCard

COLOUR = discord.Colour.green()
CARD_METRICS = ("kills", "kd", "dpm", "accuracy", "headshot_rate", "efficiency", "revives",
                "gibs", "objectives")  # fmt: skip
COMPARE_METRICS = ("games", "kills", "kd", "dpm", "accuracy", "headshot_rate", "efficiency",
                   "revives", "gibs", "objectives", "multikills", "teamwork")  # fmt: skip
RADAR_METRICS = ["dpm", "kd", "accuracy", "headshot_rate", "efficiency"]
MAPS_PER_PAGE = 15


def card(
    c: PlayerCard,
    bests: Sequence[dict[str, Any]] = (),
    display_name: str | None = None,
    bests_title: str = "Personal bests",
) -> discord.Embed:
    t = c.totals
    name = esc(player_name(c.name, c.guid))
    title = esc(display_name) + f" ({name})" if display_name else name
    embed = discord.Embed(title=title, colour=COLOUR)
    embed.description = f"GUID `{c.guid}` · {num(t['rounds'])} counted rounds"
    embed.add_field(name="Deaths", value=num(t["deaths"]), inline=True)
    for key in CARD_METRICS:
        m = METRICS[key]
        embed.add_field(name=m.label, value=m.format(t.get(key)), inline=True)
    if not c.weapons.is_empty():
        rows = [[cell(w["weapon"], 12), num(w["kills"]), num(w["accuracy"], 1)]
                for w in c.weapons.head(5).iter_rows(named=True)]  # fmt: skip
        embed.add_field(name="Top weapons", value=fit_table(["weapon", "K", "acc%"], rows))
    if not c.maps.is_empty():
        rows = [[cell(m["map_name"], 14), num(m["rounds"]), num(m["dpm"], 1)]
                for m in c.maps.head(5).iter_rows(named=True)]  # fmt: skip
        embed.add_field(name="Most played maps", value=fit_table(["map", "rnd", "DPM"], rows))
    if bests:
        embed.add_field(name=bests_title, value=cut(bests_text(bests), FIELD_MAX), inline=False)
    if not c.last_rounds.is_empty():
        embed.add_field(
            name="Recent form", value=cut(form_text(c.last_rounds, t), FIELD_MAX), inline=False
        )
    aliases = [] if c.aliases.is_empty() else [str(a) for a in c.aliases["name"].to_list()]
    # an alias that shows nothing adds nothing (the GUID is in the description), as on the site
    others = [a for a in aliases if a != c.name and shows_something(a)]
    if others:
        embed.add_field(
            name="Also known as",
            value=fit_first([esc(a) for a in others[:10]], FIELD_MAX),
            inline=False,
        )
    return embed


def _best_value(b: dict[str, Any]) -> str:
    if b["kind"] in ("round_dpm", "session_dpm"):
        return f"{b['value']:,.1f} DPM"
    unit = {"round_kills": "kills", "session_kills": "kills", "round_damage": "damage"}[b["kind"]]
    return f"{b['value']:,.0f} {unit}"


def bests_text(bests: Sequence[dict[str, Any]]) -> str:
    """`most kills in a round: 26 kills (etl_sp_delivery, 2024-05-19)`."""
    lines = []
    for b in bests:
        where = [esc(b["map_name"])] if b.get("map_name") else []
        # the session's date (what /session opens), not the calendar day of the round's end
        if b.get("session_date") is not None:
            where.append(f"{b['session_date']:%Y-%m-%d}")
        lines.append(f"{b['label']}: **{_best_value(b)}** ({', '.join(where)})")
    return "\n".join(lines)


def form_text(last: pl.DataFrame, totals: dict[str, Any]) -> str:
    """The last rounds, newest first, and their DPM against the career DPM."""
    rows = [[cell(r["map_name"], 14), f"R{r['round_number']}", f"{num(r['kills'])}/{num(r['deaths'])}",
             num(r["dpm"], 0), f"{r['end_time']:%m-%d}"]
            for r in last.iter_rows(named=True)]  # fmt: skip
    table = fit_table(["map", "rnd", "K/D", "DPM", "day"], rows, limit=900)
    # DPM's one rule (domain.metrics.DPM): Σ damage of rounds with time played · 60 / Σ time
    played = [r for r in last.iter_rows(named=True) if (r["time_played_s"] or 0) > 0]
    dmg = sum(int(r["damage_given"] or 0) for r in played)
    secs = sum(int(r["time_played_s"]) for r in played)
    career = totals.get("dpm")
    if secs > 0 and career:
        recent = dmg * 60.0 / secs
        arrow = "▲" if recent >= career else "▼"
        table += f"last {last.height} rounds: {recent:,.0f} DPM {arrow} career {career:,.0f}"
    return table


def compare(rows: pl.DataFrame, window_label: str, chart: str | None) -> discord.Embed:
    """Two players side by side; ▲ marks the better value of each metric."""
    a, b = rows.row(0, named=True), rows.row(1, named=True) if rows.height > 1 else None
    # two players of one name told apart ("vid (D842) vs vid (7B84)"), as /teams does
    named = frame_labels(rows) if "guid" in rows.columns else {}
    name_a = label_of(named, a)
    name_b = label_of(named, b) if b else None
    embed = discord.Embed(
        title=f"{esc(name_a)} vs {esc(name_b) if name_b is not None else '—'}",
        description=f"Window: {window_label}",
        colour=COLOUR,
    )
    lines = []
    for key in COMPARE_METRICS:
        m = METRICS[key]
        va, vb = a.get(key), (b.get(key) if b else None)
        mark_a = mark_b = " "
        if va is not None and vb is not None and va != vb:
            a_better = (va > vb) == m.descending
            mark_a, mark_b = ("▲", " ") if a_better else (" ", "▲")
        lines.append([m.label, m.format(va) + mark_a, m.format(vb) + mark_b])
    embed.add_field(
        name="Side by side",
        value=table(["", cell_of(named, a, 12), cell_of(named, b, 12) if b else "—"], lines),
        inline=False,
    )
    if chart:
        embed.set_image(url=f"attachment://{chart}")
    return embed


def find_results(text: str, found: pl.DataFrame) -> discord.Embed:
    embed = discord.Embed(title=f"Players matching “{esc(text)}”", colour=COLOUR)
    if found.is_empty():
        embed.description = "Nobody. Try part of a name, or a GUID prefix."
        return embed
    rows = [
        [cell(player_name(r["name"], r["guid"])), str(r["guid"]), num(r["rounds"]),
         r["last_seen"].strftime("%Y-%m-%d") if r.get("last_seen") else "—"]
        for r in found.iter_rows(named=True)
    ]  # fmt: skip
    embed.description = fit_table(
        ["name", "guid", "rounds", "last seen"], rows, limit=4000, right=[False, False, True, True]
    )
    return embed


def map_pages(name: str, guid: str, maps: pl.DataFrame) -> list[discord.Embed]:
    title = f"{esc(player_name(name, guid))} — maps"
    if maps.is_empty():
        return [discord.Embed(title=title, description="No counted rounds.", colour=COLOUR)]
    rows = [
        [cell(m["map_name"], 16), num(m["rounds"]), num(m["kills"]), num(m["deaths"]),
         num(m["kd"], 2), num(m["dpm"], 1)]
        for m in maps.iter_rows(named=True)
    ]  # fmt: skip
    pages = []
    chunks = [rows[i : i + MAPS_PER_PAGE] for i in range(0, len(rows), MAPS_PER_PAGE)]
    for i, chunk in enumerate(chunks):
        embed = discord.Embed(title=title, colour=COLOUR)
        embed.description = fit_table(["map", "rnd", "K", "D", "K/D", "DPM"], chunk, limit=4000)
        embed.set_footer(text=f"GUID {guid} · page {i + 1}/{len(chunks)} · {len(rows)} maps")
        pages.append(embed)
    return pages
