"""Embeds for one gaming session (a :class:`~etl_duck.query.SessionReport`)."""

from __future__ import annotations

from typing import Any

import discord
import polars as pl

from etl_duck.bot.format import (
    FIELD_MAX,
    cell,
    cell_of,
    cut,
    day,
    duration,
    esc,
    fit_embed,
    fit_first,
    fit_table,
    frame_labels,
    label_of,
    num,
    player_name,
)
from etl_duck.domain.scoring import Award
from etl_duck.query.stats import SessionReport

COLOUR = discord.Colour.blurple()


def counted_rounds(rep: SessionReport) -> int:
    return rep.rounds.filter(pl.col("counted")).height


def _title(rep: SessionReport, what: str = "") -> str:
    # another server's session says so (two servers may play the same evening); the
    # main server's reads as it always has
    where = f" · server {rep.server}" if rep.server else ""
    return f"Session {day(rep.session_date)}{where}" + (f" — {what}" if what else "")


def _base(rep: SessionReport, what: str = "") -> discord.Embed:
    embed = discord.Embed(title=_title(rep, what), colour=COLOUR)
    embed.set_footer(text=f"session {rep.session_id}")
    return embed


def score_line(rep: SessionReport) -> str | None:
    """Stopwatch points (2 a map); when the opponents changed during the evening, the score
    per opponent in maps instead (a total over two opponents tells nobody anything)."""
    if rep.teams is None:
        return None
    if len(rep.segments) > 1:
        return "\n".join(f"**{esc(seg.line())}** ({seg.where})" for seg in rep.segments)
    a, b = rep.teams
    return f"{esc(a.name)} **{a.points}** – **{b.points}** {esc(b.name)}"


def named_players(rep: SessionReport) -> dict[str, str]:
    """GUID → the name to show for the session's players: two of one name told apart
    (``vid (D842)``, ``vid (no GUID)``)."""
    return frame_labels(rep.players)


def mvp_line(rep: SessionReport) -> str | None:
    if rep.mvp is None:
        return None
    m = rep.mvp
    return f"**{esc(label_of(named_players(rep), m))}** — {num(m['dpm'], 1)} DPM, {num(m['kills'])} kills"


def _player_rows(rep: SessionReport, limit: int | None = None) -> list[list[str]]:
    named = named_players(rep)
    rows = rep.players.head(limit) if limit else rep.players
    return [
        [
            cell_of(named, r),
            num(r["kills"]),
            num(r["deaths"]),
            num(r["kd"], 2),
            num(r["dpm"], 1),
        ]
        for r in rows.iter_rows(named=True)
    ]


def summary(rep: SessionReport) -> discord.Embed:
    embed = _base(rep)
    embed.description = (
        f"{rep.start_time:%H:%M} → {rep.end_time:%H:%M} ({duration(rep.duration)}) · "
        f"{rep.maps.height} maps · {counted_rounds(rep)} rounds · {rep.players.height} players"
    )
    if (score := score_line(rep)) is not None:
        embed.add_field(name="Score", value=cut(score, FIELD_MAX), inline=True)
    if (mvp := mvp_line(rep)) is not None:
        embed.add_field(name="MVP", value=mvp, inline=True)
    if not rep.players.is_empty():
        embed.add_field(
            name="Top players by DPM",
            value=fit_table(["player", "K", "D", "K/D", "DPM"], _player_rows(rep, 5)),
            inline=False,
        )
    if not rep.maps.is_empty():
        maps = fit_first([esc(m) for m in rep.maps["map_name"].to_list()], FIELD_MAX)
        embed.add_field(name="Maps", value=maps, inline=False)
    return fit_embed(embed)


def top(rep: SessionReport) -> discord.Embed:
    embed = _base(rep, "players")
    named = named_players(rep)
    rows = [
        [cell_of(named, r, 14), num(r["rounds"]), num(r["kills"]), num(r["deaths"]),
         num(r["dpm"], 1), num(r["accuracy"], 1), num(r["revives"])]
        for r in rep.players.iter_rows(named=True)
    ]  # fmt: skip
    embed.description = fit_table(
        ["player", "rnd", "K", "D", "DPM", "acc%", "rev"], rows, limit=4000
    )
    return fit_embed(embed)


def _outcome(m: dict[str, Any], *, in_code: bool = False) -> str:
    """The winner and the outcome; ``in_code``: for a code-block table, where Markdown is off
    (an escape would show its backslash), so the name is as typed, backticks replaced."""
    winner = m.get("winner")
    outcome = m.get("outcome") or "—"
    if winner:
        name = m.get("team_a") if winner == "A" else m.get("team_b")
        name = name or f"Team {winner}"
        return f"{cell(name, 24) if in_code else esc(name)}: {outcome}"
    return str(outcome)


def maps(rep: SessionReport) -> discord.Embed:
    embed = _base(rep, "maps")
    rows = [
        [cell(m["map_name"], 18), duration(m.get("play_time_s")), num(m.get("kills")),
         _outcome(m, in_code=True)]
        for m in rep.maps.iter_rows(named=True)
    ]  # fmt: skip
    embed.description = fit_table(
        ["map", "time", "kills", "result"], rows, limit=4000, right=[False, True, True, False]
    )
    if (score := score_line(rep)) is not None:
        embed.add_field(name="Score", value=cut(score, FIELD_MAX))
    return fit_embed(embed)


def weapons(rep: SessionReport, table: pl.DataFrame) -> discord.Embed:
    embed = _base(rep, "weapons")
    rows = [
        [cell(w["weapon"], 14), num(w["kills"]), num(w["deaths"]), num(w["accuracy"], 1),
         num(w["headshots"])]
        for w in table.iter_rows(named=True)
    ]  # fmt: skip
    embed.description = (
        fit_table(["weapon", "kills", "deaths", "acc%", "hs"], rows, limit=4000)
        if rows
        else "No weapon stats in this session."
    )
    return fit_embed(embed)


def graphs(rep: SessionReport, overview: str, timeline: str) -> list[discord.Embed]:
    """Two embeds showing the attached PNGs ``overview`` and ``timeline``."""
    first = _base(rep, "overview")
    first.description = f"{rep.players.height} players · {rep.maps.height} maps"
    first.set_image(url=f"attachment://{overview}")
    second = discord.Embed(title="DPM per map", colour=COLOUR)
    second.set_image(url=f"attachment://{timeline}")
    return [first, second]


def score(rep: SessionReport) -> discord.Embed:
    embed = _base(rep, "stopwatch score")
    line = score_line(rep)
    embed.description = line or "No complete map (round 1 + round 2) in this session."
    wins = [
        f"**{esc(m['map_name'])}** — {_outcome(m)}"
        + (f" ({duration(m['r2_time_s'])} vs {duration(m['clock_s'])})"
           if m.get("r2_time_s") is not None else "")
        for m in rep.maps.iter_rows(named=True)
        if m.get("outcome")
    ]  # fmt: skip
    if wins:
        embed.add_field(name="Maps", value=fit_first(wins, FIELD_MAX, "\n"), inline=False)
    return fit_embed(embed)


def teams(rep: SessionReport) -> discord.Embed:
    embed = _base(rep, "teams")
    if rep.teams is None:
        embed.description = "Teams could not be determined (no complete map in this session)."
        return embed
    by_guid = {r["guid"]: r for r in rep.players.iter_rows(named=True)}
    named = named_players(rep)
    if rep.overridden:
        embed.description = "Teams as corrected by an admin (/set_teams)."
    for team in rep.teams:
        members = sorted(
            (by_guid[g] for g in team.guids if g in by_guid),
            key=lambda r: -(r["dpm"] or 0.0),
        )
        rows = [[cell_of(named, r), num(r["kills"]), num(r["dpm"], 1)] for r in members]
        embed.add_field(
            name=f"{cut(esc(team.name), 200)} — {team.points} points",
            value=fit_table(["player", "K", "DPM"], rows) if rows else "—",
            inline=True,
        )
    return fit_embed(embed)


def awards(rep: SessionReport, won: list[Award]) -> discord.Embed:
    embed = _base(rep, "awards")
    if not won:
        embed.description = "No awards: nobody played a counted round."
    named = named_players(rep)
    for a in won:
        who = named.get(a.guid, player_name(a.name, a.guid))
        embed.add_field(name=a.title, value=f"**{esc(who)}** — {a.shown}", inline=True)
    return fit_embed(embed)
