"""Stopwatch scoring, the session MVP and session awards (STATS_FORMAT.md §5.8): pure
functions over a session's rounds, sides and per-player totals. Team names and the
per-opponent split come from :mod:`etl_duck.domain.teams`."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from etl_duck.domain.teams import (
    Lineup,
    MapSides,
    Segment,
    clan_tags,
    mostly,
    name_teams,
    split_segments,
)

if TYPE_CHECKING:  # polars loads on first use: `import etl_duck.query` stays cheap
    import polars as pl


@dataclass(frozen=True)
class Team:
    name: str
    guids: frozenset[str]
    players: tuple[str, ...]
    points: int


@dataclass(frozen=True)
class TeamOverride:
    """An admin's word on one team of a session (``/set_teams``): its name (None: name it
    automatically) and players who belong to it (the rest go where they played)."""

    name: str | None
    guids: frozenset[str]


def team_name(name: str | None) -> str | None:
    """A team name as an admin gives it (``/set_teams``, ``etl-duck set-teams``): trimmed;
    a blank one (none, "", spaces) is None — the team is named automatically."""
    return (name or "").strip() or None


@dataclass(frozen=True)
class OverrideClash:
    """Why an admin's two teams cannot stand, each front end saying it in its own words:
    ``players``, the GUIDs anchored to both teams (sorted; one player named by his name on
    one side and by his GUID on the other too), or ``name``, the one name both teams were
    given (equal once trimmed, in any case; as the second team gave it)."""

    players: tuple[str, ...] = ()
    name: str | None = None


def override_clash(teams: Sequence[TeamOverride]) -> OverrideClash | None:
    """The one rule of ``/set_teams`` and ``etl-duck set-teams``: a player belongs to one
    team only (:func:`score_stopwatch` would silently keep him on the first) and the two
    teams have two names (else the score reads "Foo 8 – 12 Foo"). None when they stand.
    Compares resolved GUIDs and :func:`team_name`'d names; a blank name is automatic."""
    if len(teams) < 2:
        return None
    a, b = teams[0], teams[1]
    both = a.guids & b.guids
    if both:
        return OverrideClash(players=tuple(sorted(both)))
    na, nb = team_name(a.name), team_name(b.name)
    if na is not None and nb is not None and na.casefold() == nb.casefold():
        return OverrideClash(name=nb)
    return None


@dataclass(frozen=True)
class SessionScore:
    """``maps``: one row per match with R1 (complete or not): winner (`A`/`B`/None),
    outcome (None while round 2 is missing), both halves' times, who attacked first and
    the segment; ``teams``: the session's two teams (None without a complete map);
    ``segments``: the score per opponent."""

    maps: pl.DataFrame
    teams: tuple[Team, Team] | None
    segments: tuple[Segment, ...] = field(default=())


#: the per-match rows of :func:`score_stopwatch` (typed: a session may hold one map only)
SCORE_COLUMNS: dict[str, str] = {
    "match_id": "Int64", "winner": "String", "outcome": "String", "r1_time_s": "Float64",
    "r1_held": "Boolean", "clock_s": "Float64", "r2_time_s": "Float64", "r2_held": "Boolean",
    "r1_attackers": "String", "segment": "Int64", "team_a": "String", "team_b": "String",
}  # fmt: skip


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    import polars as pl

    schema = {k: getattr(pl, v) for k, v in SCORE_COLUMNS.items()}
    return pl.DataFrame(rows, schema=schema)


def pick_mvp(players: pl.DataFrame, rounds: int) -> dict[str, Any] | None:
    """Highest DPM among players who played at least half the session's rounds."""
    import polars as pl

    eligible = players.filter(pl.col("rounds") * 2 >= rounds).filter(pl.col("dpm").is_not_null())
    if eligible.is_empty():
        return None
    return eligible.sort(["dpm", "kills"], descending=True).row(0, named=True)


def half_times(r1: dict[str, Any] | None, r2: dict[str, Any] | None) -> dict[str, Any]:
    """Both halves of a map as players tell them: round 1 either set a time (the
    attackers completed: the clock for round 2) or was held for the full limit; round 2
    either beat the clock (its time) or was held for the whole clock."""
    out: dict[str, Any] = {"r1_time_s": None, "r1_held": None, "clock_s": None,
                           "r2_time_s": None, "r2_held": None}  # fmt: skip
    if r1 is not None:
        done = bool(r1["attackers_won"])
        t = r1["next_time_limit_s"] if done and r1.get("next_time_limit_s") else None
        if done and t is None:
            t = r1.get("duration_s")
        out["r1_time_s"] = t if done else r1["time_limit_s"]
        out["r1_held"] = not done
    if r2 is not None:
        clock = r2["time_limit_s"]
        done = bool(r2["attackers_won"])
        h7 = r2.get("next_time_limit_s")
        t = h7 if done and h7 and (clock is None or h7 <= clock) else None
        if done and t is None:
            t = r2.get("duration_s")
        out.update(clock_s=clock, r2_time_s=t if done else clock, r2_held=not done)
    elif r1 is not None:
        out["clock_s"] = out["r1_time_s"]  # the time round 2 will have to beat
    return out


def _sides_of(
    side: Mapping[str, int], defender: int, attackers_first: bool
) -> tuple[frozenset[str], frozenset[str]]:
    """(attackers, defenders) of one round — (defenders, attackers) if not
    ``attackers_first`` — from its players' side numbers (spectators are on neither)."""
    att = frozenset(g for g, t in side.items() if t in (1, 2) and t != defender)
    dfn = frozenset(g for g, t in side.items() if t in (1, 2) and t == defender)
    return (att, dfn) if attackers_first else (dfn, att)


def score_stopwatch(
    rounds: pl.DataFrame,
    sides: pl.DataFrame,
    players: pl.DataFrame,
    override: Sequence[TeamOverride] | None = None,
) -> SessionScore:
    """Stopwatch results per match, the session's two teams and the score per opponent.

    Teams are found by GUID sets, not side numbers (players swap sides each round). A map
    whose sides are, by a clear majority, the previous maps' two line-ups is oriented as
    they are; otherwise (new opponents, a reshuffle) toward the team each side's players
    played most for so far. An admin ``override`` anchors players to a team and orients
    any map they play first.

    A player belongs to the team he played most rounds for (teams may be redrafted), on a
    tie the one he played for last (:class:`~etl_duck.domain.teams.Lineup`); an anchored
    player to his team. A map where the round-2 attackers completed is theirs (they beat
    the clock round 1 set); otherwise the round-1 attackers win if they completed;
    otherwise it is a double fullhold, scored 1–1. A map win is 2 points for the session's
    teams only where both sides of the map are, by a clear majority, those two teams: a
    reshuffled line-up's map is its own segment's score (``scored`` False), nobody's
    points — never a team's whose players mostly played on the other side.
    """
    import polars as pl

    counted = rounds.filter(pl.col("counted"))
    by_round: dict[int, dict[str, int]] = {}
    for r in sides.iter_rows(named=True):
        by_round.setdefault(r["round_id"], {})[r["guid"]] = r["team"]
    anchors: list[frozenset[str]] = [o.guids for o in override or ()][:2]
    session = Lineup()  # every map, complete or not: the session's two teams
    current = Lineup()  # the segment being read: its complete maps
    rows: list[dict[str, Any]] = []
    played: list[MapSides] = []
    rosters_of: list[tuple[frozenset[str], frozenset[str]]] = []  # per row: teams A, B
    matches: dict[int, dict[int, dict[str, Any]]] = {}
    for row in counted.iter_rows(named=True):  # a session has ~20 rounds: plain rows
        matches.setdefault(row["match_id"], {}).setdefault(row["round_number"], row)

    def anchored(group: Set[str]) -> int:
        """Anchored players of ``group`` on team A minus those on team B."""
        lean = len(group & anchors[0]) if anchors else 0
        return lean - (len(group & anchors[1]) if len(anchors) > 1 else 0)

    for match_id, by_number in matches.items():
        r1, r2 = by_number.get(1), by_number.get(2)
        if r1 is None:
            continue  # an orphan round 2 does not count, so this is only defensive
        # both sides of each round, round-1 attackers first: they defend round 2 (side
        # numbers swap, GUIDs do not)
        lineups = [_sides_of(by_round.get(r1["round_id"], {}), r1["defender_side"], True)]
        if r2 is not None:
            lineups.append(_sides_of(by_round.get(r2["round_id"], {}), r2["defender_side"], False))
        group_att = frozenset().union(*(lu[0] for lu in lineups))
        group_def = frozenset().union(*(lu[1] for lu in lineups))
        att, dfn = group_att - group_def, group_def - group_att  # who changed sides: neither
        if lean := anchored(group_att) - anchored(group_def):
            att_team = 0 if lean > 0 else 1
        elif current.maps and current.fits((att, dfn)):
            att_team = 0
        elif current.maps and current.fits((dfn, att)):
            att_team = 1
        else:  # a new segment: toward the team its players played most for so far
            att_team = 0 if session.lean(group_att) >= session.lean(group_def) else 1
        flip = att_team == 1
        pair = (dfn, att) if flip else (att, dfn)
        oriented = tuple((b, a) if flip else (a, b) for a, b in lineups)
        times = half_times(r1, r2)
        row = {"match_id": match_id, "winner": None, "outcome": None, **times,
               "r1_attackers": ("A", "B")[att_team], "segment": None,
               "team_a": None, "team_b": None}  # fmt: skip
        rows.append(row)
        rosters_of.append(pair)
        if r2 is None:  # round 2 still to come: the scoreboard shows the time to beat
            session.add(MapSides(pair, None, oriented))
            continue
        if r2["attackers_won"]:
            winner: int | None = 1 - att_team  # R2 attackers = R1 defenders beat the clock
            outcome = "beat the clock"
        elif r1["attackers_won"]:
            winner = att_team
            outcome = "clock held"
        else:
            winner = None
            outcome = "double fullhold"
        row.update(winner=None if winner is None else ("A", "B")[winner], outcome=outcome)
        sides_of_map = MapSides(pair, winner, oriented)
        if not current.fits(pair):  # another line-up: the next maps are read against it
            current = Lineup()
        current.add(sides_of_map)
        session.add(sides_of_map)
        played.append(sides_of_map)
    names = (
        dict(zip(players["guid"], players["name"], strict=True)) if not players.is_empty() else {}
    )
    rounds_of = (
        dict(zip(players["guid"], players["rounds"], strict=True)) if not players.is_empty() else {}
    )
    fixed = [o.name for o in override or ()][:2]

    def own_names(pair: tuple[frozenset[str], frozenset[str]]) -> tuple[str, str]:
        """Both sides by their admin's name, clan tag or captain."""
        a, b = name_teams(pair, rounds_of, names, fixed)
        return a, b

    if not played:
        for r, pair in zip(rows, rosters_of, strict=True):  # maps in progress
            r["team_a"], r["team_b"] = own_names(pair)
        return SessionScore(_frame(rows), None, ())
    # each player on the team he played most for; an anchored player on his team
    pin_a = anchors[0] if anchors else frozenset()
    pin_b = (anchors[1] if len(anchors) > 1 else frozenset()) - pin_a
    voted_a, voted_b = session.members()
    rosters = ((voted_a - pin_b) | pin_a, (voted_b - pin_a) | pin_b)
    base = own_names(rosters)  # the session teams' own names

    def of_teams(pair: tuple[frozenset[str], frozenset[str]]) -> bool:
        """Whether both sides are the session's two teams (:func:`mostly`); with an admin's
        teams, every map is theirs: the admin decided who played for whom (a split against
        how people played scored a silent 0–0)."""
        if anchors:
            return True
        a, b = rosters
        return mostly(pair[0], a, b) and mostly(pair[1], b, a)

    def name_pair(pair: tuple[frozenset[str], frozenset[str]]) -> tuple[str, str]:
        """The session teams' names for their maps — a side with a clan tag of its own by
        its tag (a new opponent: `///M.`, then `ripaZha`); other line-ups (reshuffled)
        by their own names (a captain of one segment would name it after somebody the
        score card puts in the other team)."""
        if of_teams(pair):
            tags = clan_tags(pair, names)
            a, b = (base[i] if i < len(fixed) and fixed[i] else tags[i] or base[i] for i in (0, 1))
            if a != b:
                return a, b
        return own_names(pair)

    for r, pair in zip(rows, rosters_of, strict=True):
        if r["outcome"] is None:  # a map in progress: name the sides it has so far
            r["team_a"], r["team_b"] = name_pair(pair)
    segments = split_segments(played, name_pair, lambda m: of_teams(m.rosters))
    scored = [seg for seg in segments if seg.scored]
    points = [sum(2 * seg.wins[i] + seg.draws for seg in scored) for i in (0, 1)]
    team_names = [
        (fixed[i] if i < len(fixed) else None)
        or " / ".join(dict.fromkeys(seg.names[i] for seg in scored))
        or base[i]
        for i in (0, 1)
    ]
    result = tuple(
        Team(
            name=team_names[i],
            guids=rosters[i],
            players=tuple(sorted(names.get(g, g) for g in rosters[i])),
            points=points[i],
        )
        for i in (0, 1)
    )
    complete = [r for r in rows if r["outcome"] is not None]
    for seg_index, seg in enumerate(segments):
        for r in complete[seg.first : seg.last + 1]:
            r.update(segment=seg_index, team_a=seg.names[0], team_b=seg.names[1])
    return SessionScore(_frame(rows), (result[0], result[1]), tuple(segments))


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
    #: a rate (per minute, per death, per shot) needs the MVP's sample — half the
    #: session's rounds — or a four-round guest's hot streak beats a whole evening's work;
    #: a count (kills, revives…) is earned by playing, so it stays open to everybody
    rate: bool = False


CATEGORIES = (
    Category("Damage dealer", "dpm", " DPM", 1, rate=True),
    Category("Frag master", "kills", " kills"),
    Category("Survivor", "kd", " K/D", 2, rate=True),
    Category("Sharpshooter", "accuracy", " % accuracy", 1, min_shots=100, rate=True),
    Category("Headhunter", "headshot_kills", " headshot kills"),
    Category("Field medic", "revives", " revives"),
    Category("Butcher", "gibs", " gibs"),
    Category("Engineer", "objectives", " objectives"),
    Category("Grenadier", "grenade_kills", " grenade kills"),
    Category("Multikiller", "multikills", " multikills"),
)


def _award_order(column: str, row: dict[str, Any]) -> tuple[float, float, str]:
    return (-row[column], -row["rounds"], str(row["name"]))


def session_awards(players: pl.DataFrame, rounds: int | None = None) -> list[Award]:
    """The best player per category (ties: more rounds, then name); zero values win nothing.

    Rate categories (:attr:`Category.rate`) go to players eligible for the MVP
    (:func:`pick_mvp`): at least half the session's ``rounds`` (its counted rounds). Without
    ``rounds``, half the most rounds any player played — the same number whenever somebody
    played the whole session (every session of the demo and the real lakes), and never
    stricter, so the MVP is always eligible."""
    out: list[Award] = []
    if players.is_empty():
        return out
    # plain rows: a session has ~10 players, and ten filter+sort passes in Polars cost
    # ~4 ms a session (the static site renders every session)
    rows = players.to_dicts()
    sample = rounds if rounds is not None else max(int(r["rounds"] or 0) for r in rows)
    for cat in CATEGORIES:
        if cat.column not in players.columns:
            continue
        pool = [
            r
            for r in rows
            if r[cat.column] is not None
            and r[cat.column] > 0
            and (not cat.min_shots or r["shots"] >= cat.min_shots)
            and (not cat.rate or r["rounds"] * 2 >= sample)
        ]
        if not pool:
            continue
        # the first of the best in row order, like a stable sort by (value↓, rounds↓, name)
        best = min(pool, key=functools.partial(_award_order, cat.column))
        value = float(best[cat.column])
        shown = f"{value:,.{cat.decimals}f}{cat.unit}"
        out.append(Award(cat.title, str(best["guid"]), str(best["name"]), value, shown))
    return out
