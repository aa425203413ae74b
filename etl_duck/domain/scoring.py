"""Stopwatch scoring, the session MVP and session awards (STATS_FORMAT.md §5.8): pure
functions over a session's rounds, sides and per-player totals."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # polars loads on first use: `import etl_duck.query` stays cheap
    import polars as pl


@dataclass(frozen=True)
class Team:
    name: str
    guids: frozenset[str]
    players: tuple[str, ...]
    points: int


def pick_mvp(players: pl.DataFrame, rounds: int) -> dict[str, Any] | None:
    """Highest DPM among players who played at least half the session's rounds."""
    import polars as pl

    eligible = players.filter(pl.col("rounds") * 2 >= rounds).filter(pl.col("dpm").is_not_null())
    if eligible.is_empty():
        return None
    return eligible.sort(["dpm", "kills"], descending=True).row(0, named=True)


def score_stopwatch(
    rounds: pl.DataFrame, sides: pl.DataFrame, players: pl.DataFrame
) -> tuple[pl.DataFrame, tuple[Team, Team] | None]:
    """Stopwatch results per match and the session's two teams (STATS_FORMAT.md §5.8).

    Teams are found by GUID sets, not side numbers (players swap sides each round); a player
    belongs to the team he played most maps with (teams may be redrafted). A map
    where the round-2 attackers completed is theirs (they beat the clock round 1 set);
    otherwise the round-1 attackers win if they completed; otherwise it is a double
    fullhold, scored 1–1. A map win is 2 points.
    """
    import polars as pl

    counted = rounds.filter(pl.col("counted"))
    by_round: dict[int, dict[str, int]] = {}
    for r in sides.iter_rows(named=True):
        by_round.setdefault(r["round_id"], {})[r["guid"]] = r["team"]
    # votes[guid] = [maps with team A, maps with team B]: teams can be redrafted during an
    # evening, so each player belongs to the team he played most of the session with
    votes: dict[str, list[int]] = {}
    points = [0, 0]
    rows: list[dict[str, Any]] = []
    matches: dict[int, dict[int, dict[str, Any]]] = {}
    for row in counted.iter_rows(named=True):  # a session has ~20 rounds: plain rows
        matches.setdefault(row["match_id"], {}).setdefault(row["round_number"], row)
    for match_id, by_number in matches.items():
        if 1 not in by_number or 2 not in by_number:
            continue
        r1, r2 = by_number[1], by_number[2]
        side1 = by_round.get(r1["round_id"], {})
        side2 = by_round.get(r2["round_id"], {})
        # the same people: R1 attackers defend in R2 (side numbers swap, GUIDs do not)
        group_att = {g for g, t in side1.items() if t in (1, 2) and t != r1["defender_side"]}
        group_att |= {g for g, t in side2.items() if t in (1, 2) and t == r2["defender_side"]}
        group_def = {g for g, t in side1.items() if t in (1, 2) and t == r1["defender_side"]}
        group_def |= {g for g, t in side2.items() if t in (1, 2) and t != r2["defender_side"]}
        lean = sum(votes.get(g, [0, 0])[0] - votes.get(g, [0, 0])[1] for g in group_att)
        lean -= sum(votes.get(g, [0, 0])[0] - votes.get(g, [0, 0])[1] for g in group_def)
        att_team = 0 if lean >= 0 else 1
        for g in group_att - group_def:
            votes.setdefault(g, [0, 0])[att_team] += 1
        for g in group_def - group_att:
            votes.setdefault(g, [0, 0])[1 - att_team] += 1
        if r2["attackers_won"]:
            winner: int | None = 1 - att_team  # R2 attackers = R1 defenders beat the clock
            outcome = "beat the clock"
        elif r1["attackers_won"]:
            winner = att_team
            outcome = "clock held"
        else:
            winner = None
            outcome = "double fullhold"
        if winner is None:
            points[0] += 1
            points[1] += 1
        else:
            points[winner] += 2
        rows.append(
            {
                "match_id": match_id,
                "winner": None if winner is None else ("A", "B")[winner],
                "outcome": outcome,
                "clock_s": r2["time_limit_s"],
                "r2_time_s": r2["next_time_limit_s"] if r2["attackers_won"] else None,
            }
        )
    if not rows:
        return pl.DataFrame(), None
    names = (
        dict(zip(players["guid"], players["name"], strict=True)) if not players.is_empty() else {}
    )
    rosters = (
        {g for g, v in votes.items() if v[0] > v[1]},
        {g for g, v in votes.items() if v[1] > v[0]},
    )
    result = tuple(
        Team(
            name=f"Team {label}",
            guids=frozenset(t),
            players=tuple(sorted(names.get(g, g) for g in t)),
            points=points[i],
        )
        for i, (label, t) in enumerate(zip(("A", "B"), rosters, strict=True))
    )
    return pl.DataFrame(rows), (result[0], result[1])


# --------------------------------------------------------------------------- awards


@dataclass(frozen=True)
class Award:
    title: str
    guid: str
    name: str
    value: float
    shown: str  # the value, formatted


@dataclass(frozen=True)
class Category:
    title: str
    column: str
    unit: str = ""
    decimals: int = 0
    min_shots: int = 0  # accuracy needs a sample: a one-shot 100 % is not an award


CATEGORIES = (
    Category("Damage dealer", "dpm", " DPM", 1),
    Category("Frag master", "kills", " kills"),
    Category("Survivor", "kd", " K/D", 2),
    Category("Sharpshooter", "accuracy", " % accuracy", 1, min_shots=100),
    Category("Headhunter", "headshot_kills", " headshot kills"),
    Category("Field medic", "revives", " revives"),
    Category("Butcher", "gibs", " gibs"),
    Category("Engineer", "objectives", " objectives"),
    Category("Grenadier", "grenade_kills", " grenade kills"),
    Category("Multikiller", "multikills", " multikills"),
)


def _award_order(column: str, row: dict[str, Any]) -> tuple[float, float, str]:
    return (-row[column], -row["rounds"], str(row["name"]))


def session_awards(players: pl.DataFrame) -> list[Award]:
    """The best player per category (ties: more rounds, then name); zero values win nothing."""
    out: list[Award] = []
    if players.is_empty():
        return out
    # plain rows: a session has ~10 players, and ten filter+sort passes in Polars cost
    # ~4 ms a session (the static site renders every session)
    rows = players.to_dicts()
    for cat in CATEGORIES:
        if cat.column not in players.columns:
            continue
        pool = [
            r
            for r in rows
            if r[cat.column] is not None
            and r[cat.column] > 0
            and (not cat.min_shots or r["shots"] >= cat.min_shots)
        ]
        if not pool:
            continue
        # the first of the best in row order, like a stable sort by (value↓, rounds↓, name)
        best = min(pool, key=functools.partial(_award_order, cat.column))
        value = float(best[cat.column])
        shown = f"{value:,.{cat.decimals}f}{cat.unit}"
        out.append(Award(cat.title, str(best["guid"]), str(best["name"]), value, shown))
    return out
