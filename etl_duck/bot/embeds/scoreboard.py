"""The live scoreboard (one message per session, edited after each round) and the session
digest (posted when the evening ends)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
import polars as pl

from etl_duck.bot.embeds.posts import winner_name
from etl_duck.bot.format import (
    DESCRIPTION_MAX,
    FIELD_MAX,
    cut,
    day,
    duration,
    esc,
    fit_embed,
    fit_first,
    fit_last,
    frame_labels,
    label_of,
    num,
    player_name,
    room,
)
from etl_duck.domain.scoring import Award
from etl_duck.query.rating import roster_labels
from etl_duck.query.stats import SessionReport

COLOUR = discord.Colour.gold()


def where(rep: SessionReport) -> str:
    """Another server's session says so in a title (two servers may play the same
    evening), as /last_session does; the main server's reads as it always has."""
    return f" · server {rep.server}" if rep.server else ""


def score_lines(rep: SessionReport) -> list[str]:
    """The score per opponent: `slomix. 2–1 ///M. (maps 1–3)`; one line when nobody changed."""
    if not rep.segments:
        return []
    many = len(rep.segments) > 1
    return [f"**{esc(seg.line())}**" + (f" ({seg.where})" if many else "") for seg in rep.segments]


def map_line(i: int, m: dict[str, Any]) -> str:
    """`3. supply — ///M. set 11:52 · slomix. beat it in 7:52 → slomix.`"""
    first = m.get("team_a") if m.get("r1_attackers") == "A" else m.get("team_b")
    second = m.get("team_b") if m.get("r1_attackers") == "A" else m.get("team_a")
    first, second = esc(first or "?"), esc(second or "?")
    head = f"`{i:>2}` **{esc(m['map_name'])}** — "
    if m.get("r1_held"):
        r1 = f"{second} held {duration(m.get('r1_time_s'))}"
    else:
        r1 = f"{first} set {duration(m.get('r1_time_s'))}"
    if m.get("outcome") is None:
        return f"{head}{r1} · {second} to beat **{duration(m.get('clock_s'))}** …"
    if m.get("r2_held"):
        r2 = f"{second} fell short"
    else:
        r2 = f"{second} beat it in {duration(m.get('r2_time_s'))}"
    won = winner_name(m)
    return f"{head}{r1} · {r2} → **{esc(won)}**" if won else f"{head}{r1} · {r2} → draw"


def _map_lines(rep: SessionReport) -> list[str]:
    if rep.maps.is_empty() or "r1_time_s" not in rep.maps.columns:
        return []
    return [map_line(i + 1, m) for i, m in enumerate(rep.maps.iter_rows(named=True))]


def _mvp(rep: SessionReport, named: dict[str, str]) -> str | None:
    if rep.mvp is None:
        return None
    m = rep.mvp
    return f"**{esc(label_of(named, m))}** — {num(m['dpm'], 1)} DPM, {num(m['kills'])} kills"


#: the description's line for maps dropped to fit: "… 3 earlier maps"
EARLIER_MAPS = " maps"


def scoreboard(rep: SessionReport) -> discord.Embed:
    """The live scoreboard: the score and one line per map (the description), the rosters,
    the MVP so far. A long evening of a crowd of long names fits Discord's limits (6,000
    characters in all, else the edit is refused and the scoreboard freezes): the rosters
    keep whole names ("… and N more"), and the oldest maps give way first ("… N earlier
    maps"): the score stays."""
    counted = rep.rounds.filter(pl.col("counted")).height
    embed = discord.Embed(title=f"Scoreboard — {day(rep.session_date)}{where(rep)}", colour=COLOUR)
    named = frame_labels(rep.players)  # two players of one name told apart: "vid (D842)"
    if rep.teams is not None:
        # one total across two opponents means nothing (the score lines split them)
        several = len(rep.segments) > 1
        for team in rep.teams:
            who = roster_labels(named, team.guids, team.players)
            embed.add_field(
                name=esc(team.name) if several else f"{esc(team.name)} — {team.points} pts",
                value=fit_first([esc(w) for w in who], FIELD_MAX) or "—",
                inline=True,
            )
    if (mvp := _mvp(rep, named)) is not None:
        embed.add_field(name="MVP so far", value=mvp, inline=False)
    embed.set_footer(
        text=f"Live · {counted} rounds · last round {rep.end_time:%H:%M} · session {rep.session_id}"
    )
    # the description takes what the rest leaves of the embed's 6,000
    left = min(DESCRIPTION_MAX, room(embed))
    maps = _map_lines(rep)
    if not maps:
        embed.description = cut("First round in: warming up.", left)
        return fit_embed(embed)
    score = cut("\n".join(score_lines(rep)), left // 2)  # the score stays, within reason
    head = f"{score}\n\n" if score else ""
    embed.description = head + fit_last(maps, left - len(head), EARLIER_MAPS)
    return fit_embed(embed)


def vs_average_lines(
    table: pl.DataFrame, limit: int = 16, named: dict[str, str] | None = None
) -> list[str]:
    """`carniee: +6 kills · −40 DPM` (tonight against the player's own average); ``named``:
    the names to show (:func:`~etl_duck.query.rating.labels`; default: the table's own,
    two of one name told apart)."""
    if named is None:
        named = frame_labels(table) if "guid" in table.columns else {}
    out = []
    for r in table.head(limit).iter_rows(named=True):
        who = label_of(named, r)
        if r.get("history_rounds", 0) == 0:
            out.append(f"**{esc(who)}**: first night with us")
            continue
        dk = r["kills"] - r["expected_kills"]
        parts = [f"{_signed(dk)} kills"]
        if r.get("dpm") is not None and r.get("avg_dpm") is not None:
            parts.append(f"{_signed(r['dpm'] - r['avg_dpm'])} DPM")
        out.append(f"**{esc(who)}**: " + " · ".join(parts))
    return out


def _signed(value: float) -> str:
    v = round(value)
    return f"+{v}" if v > 0 else (f"−{-v}" if v < 0 else "±0")


#: what the digest cog adds to a digest it updates (" · updated", "Session digest
#: (updated)"): kept free of the 6,000
UPDATED_SLACK = 32
#: below this, tonight against the average is left out rather than shown as one line
VS_LEAST = 64


def digest(
    rep: SessionReport,
    awards: Sequence[Award],
    vs_average: pl.DataFrame,
    records: Sequence[str] = (),
    milestones: Sequence[str] = (),
    chart: str | None = None,
) -> discord.Embed:
    counted = rep.rounds.filter(pl.col("counted")).height
    embed = discord.Embed(
        title=f"Session digest — {day(rep.session_date)}{where(rep)}", colour=COLOUR
    )
    embed.description = (
        f"{rep.start_time:%H:%M} → {rep.end_time:%H:%M} ({duration(rep.duration)}) · "
        f"{rep.maps.height} maps · {counted} rounds · {rep.players.height} players"
    )
    if score := score_lines(rep):
        embed.add_field(name="Score", value=cut("\n".join(score), FIELD_MAX), inline=False)
    named = frame_labels(rep.players, vs_average)  # two of one name told apart: "vid (D842)"
    if (mvp := _mvp(rep, named)) is not None:
        embed.add_field(name="MVP", value=mvp, inline=False)
    if awards:
        lines = [
            f"{a.title}: **{esc(named.get(a.guid, player_name(a.name, a.guid)))}** ({a.shown})"
            for a in awards
        ]
        embed.add_field(name="Awards", value=fit_last(lines, FIELD_MAX), inline=False)
    if records:
        embed.add_field(name="Records broken", value=fit_last(records, FIELD_MAX), inline=False)
    if milestones:
        embed.add_field(name="Milestones", value=fit_last(milestones, FIELD_MAX), inline=False)
    footer = f"session {rep.session_id}"
    lines = vs_average_lines(vs_average, named=named)
    # what matters least gives way first: tonight against the average takes what is left
    vs_name = "Tonight vs your average"
    left = min(FIELD_MAX, room(embed, vs_name, footer) - UPDATED_SLACK)
    if lines and left >= VS_LEAST:
        embed.add_field(name=vs_name, value=fit_last(lines, left), inline=False)
    if chart:
        embed.set_image(url=f"attachment://{chart}")
    embed.set_footer(text=footer)
    return fit_embed(embed)
