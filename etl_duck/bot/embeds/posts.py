"""Embeds the bot posts on its own during an evening: a finished round (two team blocks), a
finished map (both halves, who set and who beat the clock, the map MVP) and a backlog."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
import polars as pl

from etl_duck.bot.format import (
    FIELD_MAX,
    cell_of,
    code,
    cut,
    duration,
    esc,
    fit_embed,
    fit_last,
    fit_table,
    frame_labels,
    label_of,
    num,
    room,
)
from etl_duck.query.stats import RoundDetail

COLOUR = discord.Colour.teal()
SIDES = {1: "Axis", 2: "Allies"}


def team_names(rnd: dict[str, Any], match: dict[str, Any] | None) -> dict[int, str]:
    """Side (1 Axis, 2 Allies) → the team's name in this round, from the session scoring's
    row of the match (R1 attackers defend in R2); plain side names without one."""
    names = dict(SIDES)
    if not match or not match.get("team_a") or not match.get("r1_attackers"):
        return names
    first = match["team_a"] if match["r1_attackers"] == "A" else match["team_b"]
    second = match["team_b"] if match["r1_attackers"] == "A" else match["team_a"]
    attackers = first if rnd["round_number"] == 1 else second
    defenders = second if rnd["round_number"] == 1 else first
    att_side = 3 - int(rnd["defender_side"])
    names[att_side], names[3 - att_side] = str(attackers), str(defenders)
    return names


def round_result(rnd: dict[str, Any], names: dict[int, str]) -> str:
    """What happened, in the stopwatch's words (never "Duration —")."""
    att_side = 3 - int(rnd["defender_side"])
    att, dfn = esc(names[att_side]), esc(names[3 - att_side])
    won = bool(rnd.get("attackers_won"))
    if rnd["round_number"] == 1:
        if won:
            clock = rnd.get("next_time_limit_s") or rnd.get("duration_s")
            return f"**{att}** completed the objective in **{duration(clock)}**: the time to beat"
        return f"**{dfn}** held for the full **{duration(rnd.get('time_limit_s'))}**"
    clock = rnd.get("time_limit_s")
    if won:
        took = rnd.get("next_time_limit_s")
        if not took or (clock and took > clock):
            took = rnd.get("duration_s")
        return f"**{att}** beat the clock: **{duration(took)}** against {duration(clock)}"
    return f"**{dfn}** held: the clock of **{duration(clock)}** stands"


def _core_rows(players: pl.DataFrame, named: dict[str, str]) -> list[list[str]]:
    return [
        [cell_of(named, p, 12), f"{num(p['kills'])}/{num(p['deaths'])}/{num(p['gibs'])}",
         num(p["dpm"]), f"{_k(p['damage_given'])}/{_k(p['damage_received'])}",
         num(p["accuracy"]), num(p["headshot_hits"]), num(p["revives"])]
        for p in players.iter_rows(named=True)
    ]  # fmt: skip


def _k(value: Any) -> str:
    """Damage compactly: 2.1k."""
    if value is None:
        return "—"
    v = float(value)
    return f"{v / 1000:.1f}k" if v >= 1000 else f"{v:.0f}"


def _time_rows(players: pl.DataFrame, named: dict[str, str]) -> list[list[str]]:
    return [
        [cell_of(named, p, 12), duration(p["time_played_s"]), duration(p["time_dead_s"]),
         duration(p["denied_playtime_s"]), num(p["multikills"])]
        for p in players.iter_rows(named=True)
    ]  # fmt: skip


CORE = ["player", "K/D/G", "DPM", "dmg ±", "acc", "HS", "rev"]
TIMES = ["player", "played", "dead", "denied", "MK"]
TIMES_NAME = "Time played · dead · denied, multikills"


def round_post(
    detail: RoundDetail,
    match: dict[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> discord.Embed:
    """A finished round: the result, then one block per team (K/D/gibs, DPM, damage given/
    received, accuracy, headshots, revives) and the time block (played, dead, denied,
    multikills). ``notes``: records and personal bests this round set."""
    r = detail.round
    names = team_names(r, match)
    embed = discord.Embed(title=f"{esc(r['map_name'])} — round {r['round_number']}", colour=COLOUR)
    embed.description = round_result(r, names)
    players = detail.players
    # two players of one name told apart ("vid (D842)"), in the tables and the awards
    named = frame_labels(players, _award_people(detail.awards))
    if not players.is_empty():
        att_side = 3 - int(r["defender_side"])
        for side in (att_side, 3 - att_side):
            mine = players.filter(pl.col("team") == side)
            if mine.is_empty():
                continue
            role = "attack" if side == att_side else "defence"
            embed.add_field(
                name=f"{esc(names[side])} — {role}",
                value=fit_table(CORE, _core_rows(mine, named)),
                inline=False,
            )
        # counted, on no side: played part of the round, then moved to spectator (his
        # numbers count; DECISIONS "Spectators")
        left = players.filter(~pl.col("team").is_in([1, 2]))
        if not left.is_empty():
            embed.add_field(
                name="Moved to spectator — no side",
                value=fit_table(CORE, _core_rows(left, named)),
                inline=False,
            )
    later: list[tuple[str, str]] = []  # the fields after the time block
    if detail.awards is not None and not detail.awards.is_empty():
        # a round 2's engine counters carry its round 1 (as the writer reads them)
        round_two = r["round_number"] == 2 and r.get("paired_round_id") is not None
        later.append(("Awards", awards_text(detail.awards, round_two, named)))
    if notes:  # whole: what does not fit the field is told later (fit_notes)
        later.append(("Records", fit_notes(notes)[0]))
    footer = str(r["file_name"])
    if not players.is_empty():
        # what matters least gives way first: the time block's last rows (6,000 in all)
        spare = room(embed, TIMES_NAME, footer, *(t for field in later for t in field))
        embed.add_field(
            name=TIMES_NAME,
            value=fit_table(TIMES, _time_rows(players, named), min(FIELD_MAX, spare)),
            inline=False,
        )
    for name, value in later:
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=footer)
    return fit_embed(embed)


def fit_notes(notes: Sequence[str], limit: int = FIELD_MAX) -> tuple[str, int]:
    """A round post's records field: the first ``notes`` that fit whole in ``limit``
    characters, then "… N more" for the rest; and how many notes it shows. The rest are not
    told by this post: the caller gives back their announcement (the digest, or the next
    round's post, tells them). The fitting is the digest's (:func:`fit_last`, which keeps
    the last lines under "… N earlier") over the notes backwards: the same characters, and
    "more" is shorter than "earlier"."""
    lines = [" ".join(n.splitlines()) for n in notes]  # a note is one line of the field
    whole = "\n".join(lines)
    backwards = fit_last(lines[::-1], limit)
    if backwards == "\n".join(lines[::-1]):
        return whole, len(lines)
    dropped = int(backwards.partition("\n")[0].split()[1])  # "… N earlier"
    shown = len(lines) - dropped
    return "\n".join([*lines[:shown], f"… {dropped} more"]), shown


AWARDS_SHOWN = 8  # of the ~25 a file lists: the first ones (the writer's order)


MATCH_MARK = " (match)"
MATCH_NOTE = (
    "(match): the total of rounds 1 + 2, not this round's (the game's counters carry round 1)"
)


def _award_people(awards: pl.DataFrame | None) -> list[dict[str, Any]]:
    if awards is None or "guid" not in awards.columns:
        return []
    return [a for a in awards.select("guid", "name").iter_rows(named=True) if a["guid"]]


def awards_text(
    awards: pl.DataFrame, round_two: bool = False, named: dict[str, str] | None = None
) -> str:
    """`Most damage given: **vid** (3214)` for the first awards of the endstats file. In a
    round 2 (``round_two``: paired with its round 1) the awards the writer takes from the
    game's counters are match totals (:func:`~etl_duck.domain.endstats.award_scope`): they
    are marked, with a note, not to be read as the round's next to its table. ``named``: the
    names to show (:func:`~etl_duck.query.rating.labels`; default: the awards' own)."""
    from etl_duck.domain.endstats import award_scope

    seen: set[str] = set()
    lines: list[str] = []
    marked = False
    for a in awards.iter_rows(named=True):
        if a["award"] in seen:  # the writer repeats "Longest killing spree"
            continue
        seen.add(a["award"])
        match = award_scope(a["award"], round_two) == "match"
        mark = MATCH_MARK if match else ""
        if len(lines) < AWARDS_SHOWN:
            marked |= match
        who = label_of(named or {}, a) if a.get("guid") else str(a["name"])
        lines.append(f"{esc(a['award'])}{mark}: **{esc(who)}** ({esc(a['value_text'])})")
    more = len(seen) - AWARDS_SHOWN
    text = "\n".join(lines[:AWARDS_SHOWN]) + (f"\n… {more} more" if more > 0 else "")
    note = f"\n{MATCH_NOTE}" if marked else ""
    return cut(text, FIELD_MAX - len(note)) + note


def halves(match: dict[str, Any]) -> list[str]:
    """Both halves of a finished map: who set the clock, who beat it (or held)."""
    first = match["team_a"] if match.get("r1_attackers") == "A" else match.get("team_b")
    second = match.get("team_b") if match.get("r1_attackers") == "A" else match.get("team_a")
    first, second = esc(first or "Round-1 attackers"), esc(second or "Round-2 attackers")
    lines = []
    if match.get("r1_held"):
        lines.append(f"Round 1: {second} held for the full **{duration(match['r1_time_s'])}**")
    else:
        lines.append(f"Round 1: {first} set the clock: **{duration(match['r1_time_s'])}**")
    if match.get("r2_held") is None:
        lines.append(f"Round 2: {second} to beat **{duration(match.get('clock_s'))}**")
    elif match["r2_held"]:
        lines.append(f"Round 2: {first} held, the clock of {duration(match['clock_s'])} stands")
    else:
        lines.append(
            f"Round 2: {second} beat the clock in **{duration(match['r2_time_s'])}** "
            f"(against {duration(match['clock_s'])})"
        )
    return lines


def winner_name(match: dict[str, Any]) -> str | None:
    w = match.get("winner")
    if w is None:
        return None
    return str(match.get("team_a") if w == "A" else match.get("team_b") or f"Team {w}")


def map_post(
    map_name: str,
    players: pl.DataFrame,
    result: dict[str, Any] | None,
    mvp: dict[str, Any] | None = None,
    score: str | None = None,
) -> discord.Embed:
    embed = discord.Embed(title=f"Map finished: {esc(map_name)}", colour=COLOUR)
    lines: list[str] = []
    if result and result.get("outcome"):
        won = winner_name(result)
        head = f"**{esc(won)}** win — {result['outcome']}" if won else str(result["outcome"])
        lines = [head, *halves(result)]
    if score:
        lines.append(f"Score: {esc(score)}")
    embed.description = "\n".join(lines) or None
    named = frame_labels(players)  # two players of one name told apart: "vid (D842)"
    if mvp is not None:
        embed.add_field(
            name="Map MVP",
            value=f"**{esc(label_of(named, mvp))}** — {num(mvp['dpm'], 1)} DPM, {num(mvp['kills'])} kills",
            inline=False,
        )
    if not players.is_empty():
        rows = [[cell_of(named, p), num(p["kills"]), num(p["deaths"]), num(p["dpm"], 1)]
                for p in players.head(12).iter_rows(named=True)]  # fmt: skip
        embed.add_field(
            name="Both rounds", value=fit_table(["player", "K", "D", "DPM"], rows), inline=False
        )
    return fit_embed(embed)


def backlog_post(count: int, first: str, last: str) -> discord.Embed:
    return discord.Embed(
        title=f"{count} rounds ingested",
        description=f"A backlog from {code(first)} to {code(last)}; use /last_session for the summary.",
        colour=COLOUR,
    )
