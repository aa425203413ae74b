"""Deterministic synthetic community: c0rnp0rn8 stats files plus the ground truth behind them.

A pool of regulars (GUIDs, colour-coded names, skill, activity, favourite classes) plays
3–4 stopwatch evenings a week. Every map is a round 1 + round 2 pair written exactly as the
c0rnp0rn8 Lua writes it (``shared/docs/STATS_FORMAT.md``): 9-field header with H8 in ms,
38 extended fields, cumulative round-2 engine counters, per-round Lua counters. The
generator also produces the awkward cases a parser must survive — late joiners, leavers,
reconnects between rounds (with and without a visible drop in the counters), spectators
in round 2, omni-bots (and bot-majority maps), restarted round 1s, orphan round 2s,
shutdown-path (interrupted) rounds, renames and evenings running past midnight — and
returns what really happened as round-only values (:class:`Truth`), so tests and
benchmarks can check a whole pipeline end to end.

Everything derives from ``random.Random`` instances seeded from the ``seed`` argument, so
the same arguments give byte-identical files. The schedule is drawn per week and the
community evolves evening by evening, so a shorter history is a prefix of a longer one
(except for a final partial week).
"""

from __future__ import annotations

import math
import random
import re
from bisect import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from etl_duck.domain import fields

__all__ = [
    "VALUE_NAMES",
    "Truth",
    "TruthPlayerRound",
    "TruthRound",
    "clean_name",
    "generate",
    "write_evening",
]

#: Names of the round-only truth values, in this order: CUM fields, then ROUND fields.
VALUE_NAMES: tuple[str, ...] = fields.CUM_FIELDS + fields.ROUND_FIELDS

_COLOUR_RE = re.compile(r"\^[^^]")
SERVER_NAME = "^1ET^7:^4L ^7Synth ^$Comm^7unity ^/#1"
BOT_GUID = "OMNIBOT0"
SESSION_GAP_S = 3600


def clean_name(raw: str) -> str:  # deliberately not the parser's: the truth stays independent
    """ET colour rule: ``^`` followed by any character except ``^`` is a colour code."""
    return _COLOUR_RE.sub("", raw)


# --------------------------------------------------------------------------------------
# Public truth model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TruthPlayerRound:
    """One written player line, with what the player really did in that round only."""

    file_name: str
    guid: str
    name_raw: str
    name: str
    team: int
    is_bot: bool
    #: round-only values for every name in VALUE_NAMES (times in whole seconds, multiples of 6)
    values: dict[str, int]
    #: round-only (hits, shots, kills, deaths, headshots) by weapon id; all-zero groups omitted
    weapons: dict[int, tuple[int, int, int, int, int]]
    #: a round-2 row whose counters were reset by a reconnect: its raw values are round-only
    reset: bool = False


@dataclass(frozen=True, slots=True)
class TruthRound:
    """One written stats file."""

    file_name: str
    map_name: str
    round_number: int  # as labelled in the file name (inverted for "interrupted")
    end_time: datetime  # naive server-local time of the file name
    duration_s: float  # true play time (pauses excluded); positive even when H8 is not
    defender_side: int  # H4
    winner_side: int  # H5 as written
    session_index: int  # 0-based, by the 60-minute gap rule over file times
    kind: str  # "normal" | "orphan_r2" | "interrupted" | "restart" | "bot_majority"
    players: int  # player lines in the file


@dataclass
class Truth:
    """Ground truth of a generated history, in file-time order."""

    rounds: list[TruthRound] = field(default_factory=list)
    player_rounds: list[TruthPlayerRound] = field(default_factory=list)
    #: every human player's latent skill by GUID (~0.6–1.7): it drives his volume of fire,
    #: accuracy and deaths, and which team wins a map (the rating should recover its order)
    skills: dict[str, float] = field(default_factory=dict)

    def round_by_file(self) -> dict[str, TruthRound]:
        return {r.file_name: r for r in self.rounds}

    def rows_by_file(self) -> dict[str, list[TruthPlayerRound]]:
        out: dict[str, list[TruthPlayerRound]] = {r.file_name: [] for r in self.rounds}
        for row in self.player_rounds:
            out[row.file_name].append(row)
        return out

    def counted_rows(self) -> Iterable[TruthPlayerRound]:
        """Rows that count toward aggregates: normal rounds, humans, not spectating."""
        kinds = {r.file_name: r.kind for r in self.rounds}
        for row in self.player_rounds:
            if kinds[row.file_name] == "normal" and not row.is_bot and row.team != 3:
                yield row

    def player_totals(self, counted_only: bool = True) -> dict[str, dict[str, int]]:
        """Per GUID sums of the round-only values (over counted rows unless told otherwise)."""
        rows = self.counted_rows() if counted_only else iter(self.player_rounds)
        totals: dict[str, list[int]] = {}
        for row in rows:
            acc = totals.get(row.guid)
            if acc is None:
                acc = totals[row.guid] = [0] * len(VALUE_NAMES)
            vals = row.values
            for i, name in enumerate(VALUE_NAMES):
                acc[i] += vals[name]
        return {g: dict(zip(VALUE_NAMES, acc, strict=True)) for g, acc in totals.items()}


# --------------------------------------------------------------------------------------
# Static tables: weapons, classes, maps, names
# --------------------------------------------------------------------------------------

AXIS, ALLIES, SPECTATOR = 1, 2, 3


@dataclass(frozen=True, slots=True)
class _Kind:
    """A weapon family: engine ids per side and the numbers that drive its statistics."""

    axis: int
    allies: int
    shots_per_min: float
    acc: float  # bullets: hit ratio; splash: hits per shot (can exceed 1)
    hits_per_kill: float
    damage: int  # per hit
    bullet: bool  # hit ratio ≤ 1 and headshots possible
    kills: bool = True


_K: dict[str, _Kind] = {
    "knife": _Kind(0, 1, 0.6, 0.5, 1.6, 30, False),
    "pistol": _Kind(2, 3, 4.0, 0.30, 6.5, 22, True),
    "smg": _Kind(4, 5, 38.0, 0.30, 7.5, 23, True),
    "covsmg": _Kind(26, 6, 34.0, 0.28, 8.0, 21, True),
    "fg42": _Kind(7, 7, 26.0, 0.28, 7.0, 22, True),
    "panzer": _Kind(8, 9, 1.1, 1.3, 1.5, 95, False),
    "flamer": _Kind(10, 10, 45.0, 0.45, 28.0, 5, False),
    "grenade": _Kind(11, 11, 0.6, 0.9, 3.0, 80, False),
    "mortar": _Kind(12, 13, 2.2, 0.8, 2.2, 80, False),
    "dynamite": _Kind(14, 14, 0.25, 0.5, 1.3, 150, False),
    "airstrike": _Kind(15, 15, 0.3, 1.5, 2.5, 70, False),
    "artillery": _Kind(16, 16, 0.25, 1.3, 2.5, 70, False),
    "satchel": _Kind(17, 17, 0.25, 0.8, 1.6, 100, False),
    "rgren": _Kind(18, 18, 1.6, 0.6, 2.5, 70, False),
    "landmine": _Kind(19, 19, 0.35, 0.4, 1.2, 120, False),
    "mg": _Kind(20, 21, 48.0, 0.20, 7.5, 23, True),
    "rifle": _Kind(23, 22, 9.0, 0.45, 3.6, 34, True),
    "scoped": _Kind(25, 24, 5.5, 0.55, 2.3, 50, True),
    "syringe": _Kind(27, 27, 0.7, 0.85, 1.0, 0, False, kills=False),
}
_SYRINGE = 27
_DYNAMITE = 14

SOLDIER, MEDIC, ENGINEER, FIELDOPS, COVERT = range(5)
# primary weapon families with weights
_PRIMARY: tuple[tuple[tuple[str, float], ...], ...] = (
    (("smg", 0.45), ("panzer", 0.25), ("mg", 0.15), ("mortar", 0.1), ("flamer", 0.05)),
    (("smg", 1.0),),
    (("smg", 0.7), ("rifle", 0.3)),
    (("smg", 1.0),),
    (("covsmg", 0.4), ("fg42", 0.3), ("scoped", 0.3)),
)
# secondary families: (family, use probability when attacking, when defending, time share)
_SECONDARY: tuple[tuple[tuple[str, float, float, float], ...], ...] = (
    (("grenade", 0.6, 0.6, 1.0), ("pistol", 0.3, 0.3, 0.12), ("knife", 0.04, 0.04, 1.0)),
    (
        ("syringe", 0.95, 0.95, 1.0),
        ("grenade", 0.35, 0.35, 0.6),
        ("pistol", 0.3, 0.3, 0.12),
        ("knife", 0.05, 0.05, 1.0),
    ),
    (
        ("grenade", 0.55, 0.55, 1.0),
        ("pistol", 0.3, 0.3, 0.12),
        ("dynamite", 0.65, 0.08, 1.0),
        ("landmine", 0.1, 0.45, 1.0),
        ("knife", 0.04, 0.04, 1.0),
    ),
    (
        ("airstrike", 0.6, 0.6, 1.0),
        ("artillery", 0.4, 0.4, 1.0),
        ("grenade", 0.55, 0.55, 1.0),
        ("pistol", 0.3, 0.3, 0.12),
    ),
    (
        ("satchel", 0.3, 0.3, 1.0),
        ("grenade", 0.5, 0.5, 1.0),
        ("pistol", 0.35, 0.35, 0.15),
        ("knife", 0.06, 0.06, 1.0),
    ),
)


#: A weapon family flattened for the hot loop: (axis id, allies id, shots per minute × time
#: share, acc, hits per kill, damage, bullet, lethal).
_KindT = tuple[int, int, float, float, float, int, bool, bool]


def _flat(kd: _Kind, share: float) -> _KindT:
    return (kd.axis, kd.allies, kd.shots_per_min * share, kd.acc, kd.hits_per_kill,
            kd.damage, kd.bullet, kd.kills)  # fmt: skip


def _primaries(items: Sequence[tuple[str, float]]) -> tuple[tuple[_KindT, ...], tuple[float, ...]]:
    kinds = tuple(_flat(_K[name], 0.85) for name, _ in items)
    cw: list[float] = []
    acc = 0.0
    for _, w in items:
        acc += w
        cw.append(acc)
    return kinds, tuple(cw)


# the same tables, resolved for the hot loop
_PRIMARY_T = tuple(_primaries(p) for p in _PRIMARY)
_SECONDARY_T = tuple(tuple((_flat(_K[n], sh), pa, pd) for n, pa, pd, sh in c) for c in _SECONDARY)
_RIFLE_T = _PRIMARY_T[ENGINEER][0][1]
_RGREN_T = _flat(_K["rgren"], 1.0)
_MULTI_TIERS = ((3, 0.2), (4, 0.04), (5, 0.008), (6, 0.002))
_BULLET_IDS = frozenset(wid for k in _K.values() if k.bullet for wid in (k.axis, k.allies))


@dataclass(frozen=True, slots=True)
class _Map:
    name: str
    limit_s: int  # R1 time limit (H6)
    defender: int  # H4: the defending side is fixed by the map
    p_complete: float  # chance the attackers finish in round 1
    frac: float  # typical completion time as a fraction of the limit
    weight: float  # how often the community votes it


_MAPS: tuple[_Map, ...] = (
    _Map("supply", 720, AXIS, 0.7, 0.75, 10),
    _Map("te_escape2", 720, AXIS, 0.85, 0.38, 12),
    _Map("etl_adlernest", 600, AXIS, 0.75, 0.45, 11),
    _Map("sw_goldrush_te", 720, AXIS, 0.6, 0.78, 9),
    _Map("etl_sp_delivery", 720, AXIS, 0.55, 0.6, 8),
    _Map("et_brewdog", 600, AXIS, 0.6, 0.4, 8),
    _Map("etl_frostbite", 600, AXIS, 0.75, 0.45, 8),
    _Map("erdenberg_t2", 720, AXIS, 0.7, 0.45, 7),
    _Map("braundorf_b4", 600, AXIS, 0.65, 0.6, 7),
    _Map("etl_ice", 720, AXIS, 0.6, 0.6, 2),
    _Map("mp_sub_rc", 600, AXIS, 0.65, 0.55, 2),
    _Map("decay_sw", 600, AXIS, 0.65, 0.5, 1.5),
    _Map("et_ufo_final", 720, AXIS, 0.6, 0.6, 1),
    _Map("missile_b3", 900, AXIS, 0.5, 0.7, 0.7),
    _Map("railgun", 720, ALLIES, 0.6, 0.6, 0.8),  # the Allies defend here
)
_SHORT_MAPS = frozenset({"te_escape2", "etl_adlernest", "etl_frostbite", "et_brewdog"})

_HANDLES: tuple[str, ...] = (
    "Raven", "Kestrel", "Moth", "Grimm", "Vandal", "Nox", "Pike", "Rook", "Sable", "Tusk",
    "Quill", "Brick", "Fennec", "Gecko", "Hex", "Jinx", "Krill", "Lynx", "Mako", "Nomad",
    "Onyx", "Pixel", "Quark", "Rust", "Sprocket", "Tinker", "Umbra", "Vex", "Wisp", "Yeti",
    "Zed", "Ash", "Bolt", "Cinder", "Dusk", "Ember", "Flint", "Ghost", "Hawk", "Ivy", "Jolt",
    "Knox", "Loki", "Mint", "Nitro", "Otter", "Puck", "Razz", "Shade", "Tango", "Volt",
    "Walrus", "Xeno", "Yoyo", "Zorro", "Dr. Fun", "lefty:)", "mr. T", "big boss", "old man",
    "the kid", "?!?", "x_x", "o.O", "n00b", "s1lent", "k4ne", "f0x", "b4con", "Ice Man",
    "Sgt. Pepper", "Captain", "Muffin", "Pretzel", "Waffle", "Noodle", "Dumpling", "Sushi",
    "Taco", "Kebab", "Gnocchi", "Strudel", "Pierogi", "Borscht", "Goulash", "Paprika",
    "Basil", "Oregano", "Saffron", "Wasabi", "Chili", "Pepper", "Ginger", "Nutmeg", "Clove",
    "Anise", "Juniper", "Sorrel", "Fig", "Quince", "Kumquat", "Lychee", "Mango", "Papaya",
    "Guava", "Durian", "Plum", "Damson", "Medlar", "Sloe", "Rowan", "Alder", "Birch",
    "Cedar", "Elm", "Hazel", "Larch", "Maple", "Oak", "Pine", "Spruce", "Willow", "Yew",
)  # fmt: skip
#: ET keeps at most 35 characters of a name (MAX_NETNAME 36 with the terminating NUL)
MAX_NAME = 35
_MARKDOWN = "*_~`|>#-[]():"  # characters Discord's Markdown reacts to (embeds escape them)


def _longest_name(handle: str, n: int) -> str:
    """A 35-character name made of the handle and Markdown characters (no colour codes)."""
    core = f"{_MARKDOWN[n % 4]}{handle}{n}"
    return (core + _MARKDOWN * 3)[:MAX_NAME]


# Names that exercise the colour rule's corners: "^^7" cleans to "^", a lone trailing "^" stays.
_ODD_NAMES: tuple[str, ...] = ("^^7up^7!", "^3Hat^", "^.^/dot^$.^/slash")
_TAGS: tuple[str, ...] = (
    "FTW", "=ET=", "slx.", "|FF|", "dK.", "(sW)", "-=A=-", "rK.", "#ez", "oO.",
)  # fmt: skip
_COLOURS = (
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "0123456789012345678901234567890123456789" + "$/.:*-!?=+<>;'&%#@()~_,|"
)
_BOT_NAMES: tuple[str, ...] = (
    "Hans", "Fritz", "Sgt.Rock", "Miller", "Dietrich", "Klaus", "Jackson", "Parker",
    "Otto", "Wolfgang", "Baker", "Cooper", "Schmidt", "Riley",
)  # fmt: skip

# evening preferences by weekday (Mon..Sun)
_WEEKDAY_WEIGHT = (0.8, 1.2, 1.0, 1.2, 0.9, 1.0, 1.1)
_MAPS_PER_EVENING = ((6, 1.0), (7, 1.0), (8, 2.0), (9, 3.0), (10, 4.0))
_PLAYERS_PER_EVENING = ((6, 1.5), (7, 0.7), (8, 2.0), (9, 1.2), (10, 3.0), (11, 1.5), (12, 3.0))


# --------------------------------------------------------------------------------------
# Simulation state
# --------------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Player:
    guid: str
    key: str  # unique per player: the GUID, or GUID + name for omni-bots (they share one)
    name: str  # raw, current
    skill: float  # ~0.6–1.6: drives accuracy, volume of fire and how often one dies
    activity: float  # weight for turning up to an evening
    classes: tuple[int, ...]
    class_cw: tuple[float, ...]
    hs_rate: float
    is_bot: bool = False
    root: float = 1.0  # sqrt(skill): scales volume of fire and accuracy
    handle: str = ""  # the name without colours and decoration ("" for the odd names)


class _PR:
    """Round-only statistics of one player in one round (mutable while simulating)."""

    __slots__ = ("c8", "dead", "p", "rnd", "side", "t", "w")

    def __init__(self, p: _Player, side: int, t: int) -> None:
        self.p = p
        self.side = side
        self.t = t  # time on team, in 6-second units (= tenths of a minute)
        self.w: dict[int, list[int]] = {}  # weapon id -> [hits, shots, kills, deaths, hs]
        # X0..X7: damage given/received, team damage given/received, gibs, self kills,
        # team kills, team gibs
        self.c8 = [0] * 8
        self.dead = 0  # time dead, 6-second units
        self.rnd = [0] * len(fields.ROUND_FIELDS)  # ROUND fields in file order, X25 in units


_RI = {name: i for i, name in enumerate(fields.ROUND_FIELDS)}
_R_XP, _R_KSPREE, _R_DSPREE = _RI["xp"], _RI["killing_spree"], _RI["death_spree"]
_R_ASSIST, _R_STEAL, _R_HSK = _RI["kill_assists"], _RI["kill_steals"], _RI["headshot_kills"]
_R_DYN, _R_DEF, _R_REVIVED = (
    _RI["dynamites_planted"],
    _RI["dynamites_defused"],
    _RI["times_revived"],
)
_R_DEAD, _R_USEFUL, _R_DENIED = _RI["time_dead_s"], _RI["useful_kills"], _RI["denied_playtime_s"]
_R_MK2, _R_USELESS, _R_FSK = _RI["multikill_2"], _RI["useless_kills"], _RI["full_selfkills"]
_R_REPAIR, _R_REVIVES = _RI["repairs_constructions"], _RI["revives_given"]

# The truth vector and the line writer lay values out in the field table's order; refuse to
# run (rather than write wrong files) if that table is ever re-scoped or re-ordered.
_CUM_X = tuple(f.index for f in fields.EXTENDED_FIELDS if f.scope is fields.Scope.CUM)
_ROUND_X = tuple(f.index for f in fields.EXTENDED_FIELDS if f.scope is fields.Scope.ROUND)
_ROUND_X_EXPECTED = (*range(9, 20), 25, *range(27, 38))  # X9–X19, X25, X27–X37
if (
    fields.DERIVED_TOTALS != ("kills", "deaths", "shots", "hits", "headshot_hits")
    or _CUM_X != (0, 1, 2, 3, 4, 5, 6, 7, 20, 22)
    or _ROUND_X != _ROUND_X_EXPECTED
):  # pragma: no cover
    raise RuntimeError("etl_duck.domain.fields changed: update etl_duck.synth's layout")


@dataclass(slots=True)
class _File:
    truth: TruthRound  # session_index still unset (-1)
    rows: list[TruthPlayerRound]


def _mss(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def _weapon_totals(w: dict[int, list[int]]) -> tuple[int, int, int, int, int]:
    h = s = k = d = hs = 0
    for g in w.values():
        h += g[0]
        s += g[1]
        k += g[2]
        d += g[3]
        hs += g[4]
    return k, d, s, h, hs


def _truth_values(
    pr: _PR | None,
) -> tuple[dict[str, int], dict[int, tuple[int, int, int, int, int]]]:
    if pr is None:  # spectator with carried-over counters: nothing happened this round
        return dict.fromkeys(VALUE_NAMES, 0), {}
    k, d, s, h, hs = _weapon_totals(pr.w)
    rnd = list(pr.rnd)
    rnd[_R_DEAD] = pr.dead * 6
    vals = [k, d, s, h, hs, *pr.c8, s, pr.t * 6, *rnd]
    weapons = {
        wid: (g[0], g[1], g[2], g[3], g[4])
        for wid, g in sorted(pr.w.items())
        if g[0] or g[1] or g[2] or g[3]
    }
    return dict(zip(VALUE_NAMES, vals, strict=True)), weapons


def _format_line(
    guid: str,
    name: str,
    p2: int,
    team: int,
    cur: _PR | None,
    base: _PR | None,
) -> tuple[str, float]:
    """Emulate the c0rnp0rn8 player line; ``base`` (R1) is added for cumulative fields.

    Returns the line and the unrounded alive percentage (X8), which the shutdown path's
    H7 fallback needs.
    """
    # cumulative engine counters: weapons, X0–X7, X20, X22; the alive time for X8 is too
    if base is None:
        assert cur is not None
        w = cur.w
        c8 = cur.c8
        t = cur.t
        dead_cum = cur.dead
    elif cur is None:
        w, c8, t, dead_cum = base.w, base.c8, base.t, base.dead
    else:
        w = {wid: list(g) for wid, g in base.w.items()}
        for wid, g in cur.w.items():
            acc = w.get(wid)
            if acc is None:
                w[wid] = list(g)
            else:
                acc[0] += g[0]
                acc[1] += g[1]
                acc[2] += g[2]
                acc[3] += g[3]
                acc[4] += g[4]
        c8 = [a + b for a, b in zip(base.c8, cur.c8, strict=True)]
        t = base.t + cur.t
        dead_cum = base.dead + cur.dead
    rnd = cur.rnd if cur is not None else [0] * len(fields.ROUND_FIELDS)
    dead_round = cur.dead if cur is not None else 0

    mask = 0
    groups: list[str] = []
    kills = deaths = shots = 0
    for wid in sorted(w):
        h, s, k, d, hs = w[wid]
        if h or s or k or d:
            mask |= 1 << wid
            groups.append(f"{h} {s} {k} {d} {hs}")
            kills += k
            deaths += d
            shots += s
    dr = c8[1]
    alive_pct = 100.0 * (t - dead_cum) / t if t else 0.0
    # X23: (dr / deaths) / 130, or (dr + 1) / 130 without deaths; only if dr > 1000 and > 3
    if dr > 1000 and (dr > 390 * deaths if deaths else dr + 1 > 390):
        tank = (
            (20 * dr + 130 * deaths) // (260 * deaths) if deaths else (20 * (dr + 1) + 130) // 260
        )
    else:
        tank = 0
    # X24: ROUND time dead over CUM team time, only with more than 2 minutes on a team
    dead_ratio = (2000 * dead_round + t) // (2 * t) if t > 20 else 0
    # X26: kills/deaths rounded half-up, or kills + 1 without deaths
    kd = (20 * kills + deaths) // (2 * deaths) if deaths else 10 * (kills + 1)
    c = c8
    r = rnd
    weapons = (" " + " ".join(groups)) if groups else ""
    # one f-string for the whole line: the hot path of writing ten years of files
    line = (
        f"{guid}\\{name}\\{p2}\\{team}\\{mask}{weapons} \t"
        f"{c[0]}\t{c[1]}\t{c[2]}\t{c[3]}\t{c[4]}\t{c[5]}\t{c[6]}\t{c[7]}\t"
        f"{alive_pct:0.1f}\t"
        f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\t{r[5]}\t{r[6]}\t{r[7]}\t{r[8]}\t{r[9]}\t{r[10]}\t"
        f"{shots}\t0.0\t{t // 10}.{t % 10}\t{tank // 10}.{tank % 10}\t"
        f"{dead_ratio // 10}.{dead_ratio % 10}\t{dead_round // 10}.{dead_round % 10}\t"
        f"{kd // 10}.{kd % 10}\t"
        f"{r[12]}\t{r[13]}\t{r[14]}\t{r[15]}\t{r[16]}\t{r[17]}\t"
        f"{r[18]}\t{r[19]}\t{r[20]}\t{r[21]}\t{r[22]}"
    )
    return line, alive_pct


class _Sim:
    def __init__(
        self, seed: int, out_dir: Path | None, crowd: int | None = None, longest: bool = False
    ) -> None:
        self.seed = seed
        self.out_dir = out_dir  # files are written as they are made: no texts held in memory
        self.rng = random.Random(seed)
        self.crowd = crowd
        self.longest = longest
        self.guids: set[str] = {BOT_GUID}
        self.handles_used: set[str] = set()
        self.odd_names = [] if longest else list(_ODD_NAMES)
        self.skills: dict[str, float] = {}  # GUID -> latent skill (the Truth's)
        pool = self.rng.randint(40, 60)
        if crowd is not None:
            pool = max(pool, crowd + 10)
        self.pool: list[_Player] = [self._new_player() for _ in range(pool)]
        self.bots = [
            _Player(BOT_GUID, f"bot:{n}", f"^o[BOT]^7{n}", 0.0, 0.0, (), (), 0.1, is_bot=True)
            for n in _BOT_NAMES
        ]
        for b in self.bots:
            self._skill(b, bot=True)
        self.files: list[_File] = []
        self.clean: dict[str, str] = {}  # raw name -> clean name

    # ---------------------------------------------------------------- community
    def _skill(self, p: _Player, bot: bool = False) -> None:
        rng = self.rng
        p.skill = rng.uniform(0.5, 0.85) if bot else min(1.7, max(0.6, rng.gauss(1.0, 0.22)))
        p.activity = rng.random() ** 1.5 * 0.9 + 0.05
        n = rng.randint(1, 3)
        classes = tuple(rng.sample(range(5), n))
        weights = [rng.uniform(0.5, 3.0) for _ in classes]
        cw: list[float] = []
        acc = 0.0
        for x in weights:
            acc += x
            cw.append(acc)
        p.classes, p.class_cw = classes, tuple(cw)
        p.hs_rate = rng.uniform(0.08, 0.22)
        p.root = p.skill**0.5

    def _new_guid(self) -> str:
        while True:
            g = f"{self.rng.getrandbits(32):08X}"
            if g not in self.guids:
                self.guids.add(g)
                return g

    def _colourize(self, handle: str) -> str:
        rng = self.rng
        c = _COLOURS
        style = rng.random()
        if style < 0.15:
            raw = handle
        elif style < 0.45:
            raw = f"^{rng.choice(c)}{handle}"
        elif style < 0.75 and len(handle) > 2:
            i = rng.randint(1, len(handle) - 1)
            raw = f"^{rng.choice(c)}{handle[:i]}^{rng.choice(c)}{handle[i:]}"
        else:
            raw = f"^{rng.choice(c)}{handle}^{rng.choice(c)}{rng.choice('.:!*~')}"
        if rng.random() < 0.3:
            raw = f"^{rng.choice(c)}{rng.choice(_TAGS)}^7{raw}"
        return raw if len(raw) <= 35 else handle[:35]

    def _new_handle(self) -> str:
        free = [h for h in _HANDLES if h not in self.handles_used]
        if free:
            h = self.rng.choice(free)
        else:  # a very long history: numbered handles
            h = f"{self.rng.choice(_HANDLES)}{len(self.handles_used)}"
        self.handles_used.add(h)
        return h

    def _new_player(self) -> _Player:
        handle = ""
        if self.longest:
            handle = self._new_handle()
            name = _longest_name(handle, len(self.handles_used))
        elif self.odd_names and self.rng.random() < 0.08:
            name = self.odd_names.pop()
        else:
            handle = self._new_handle()
            name = self._colourize(handle)
        guid = self._new_guid()
        p = _Player(guid, guid, name, 1.0, 0.5, (), (), 0.1, handle=handle)
        self._skill(p)
        self.skills[guid] = p.skill
        return p

    def _rename(self, p: _Player) -> None:
        """Same GUID, new name: new colours, a clan tag, or a different handle."""
        if not p.handle or self.rng.random() < 0.4:
            p.handle = self._new_handle()
        if self.longest:
            p.name = _longest_name(p.handle, len(self.handles_used))
            return
        for _ in range(5):
            new = self._colourize(p.handle)
            if new != p.name:
                p.name = new
                return

    def _churn(self) -> None:
        rng = self.rng
        if rng.random() < 0.02:  # a regular retires, a newcomer joins
            self.pool[rng.randrange(len(self.pool))] = self._new_player()
        for p in self.pool:
            if rng.random() < 0.003:
                self._rename(p)

    def _attendance(self) -> list[_Player]:
        rng = self.rng
        n = _weighted(rng, _PLAYERS_PER_EVENING)
        guests = 1 if rng.random() < 0.12 else 0
        if self.crowd is not None:
            n, guests = self.crowd, 0
        cands = list(self.pool)
        out: list[_Player] = []
        weights = [p.activity for p in cands]
        for _ in range(n - guests):
            i = _pick_index(rng, weights)
            out.append(cands.pop(i))
            weights.pop(i)
        for _ in range(guests):  # a one-off visitor
            out.append(self._new_player())
        return out

    # ---------------------------------------------------------------- one round
    def _play_round(
        self, slots: Sequence[tuple[_Player, int, float]], dur_ms: int, defender: int
    ) -> list[_PR]:
        """Simulate one round for (player, side, fraction of the round on a team) slots."""
        rng = self.rng
        rand = rng.random
        t_full = (dur_ms + 3000) // 6000
        n = len(slots)
        prs: list[_PR] = []
        kills_by: list[list[int]] = []  # per player: the weapon id of every kill
        dmg_given: list[int] = []
        for p, side, frac in slots:
            t = t_full if frac >= 1.0 else max(1, int(t_full * frac + 0.5))
            pr = _PR(p, side, t)
            prs.append(pr)
            w = pr.w
            rnd = pr.rnd
            m = t / 10.0
            attacking = side != defender
            axis = side == AXIS
            ci = p.classes[_pick_cum(rng, p.class_cw)]
            prim, prim_cw = _PRIMARY_T[ci]
            first = prim[0] if len(prim) == 1 else prim[_pick_cum(rng, prim_cw)]
            loadout = [first]
            loadout += [x for x, pa, pd in _SECONDARY_T[ci] if rand() < (pa if attacking else pd)]
            if first is _RIFLE_T:
                loadout.append(_RGREN_T)
            root = p.root
            hs_rate = p.hs_rate
            kl: list[int] = []
            dmg = 0
            for j, (wa, wb, rate, acc, hpk, damage, bullet, lethal) in enumerate(loadout):
                wid = wa if axis else wb
                shots = int(rate * m * root * (0.7 + 0.6 * rand()) + rand())
                if not shots:
                    if j:
                        continue
                    shots = 1  # anyone on a team fires at least once: the line is written
                if bullet:
                    hits = int(shots * acc * root * (0.85 + 0.3 * rand()) + rand())
                    if hits > shots:
                        hits = shots
                    hs = int(hits * hs_rate * (0.6 + 0.8 * rand()) + rand())
                    if hs > hits:
                        hs = hits
                else:
                    hits = int(shots * acc * (0.3 + 1.4 * rand()) + rand())
                    hs = 0
                if lethal:
                    k = int(hits / hpk * (0.75 + 0.5 * rand()) + rand())
                    if k > hits:
                        k = hits
                    if k:
                        kl += [wid] * k
                else:  # syringe: every hit is a revive
                    if hits > shots:
                        hits = shots
                    rnd[_R_REVIVES] = hits
                    k = 0
                w[wid] = [hits, shots, k, 0, hs]  # families never share a weapon id
                dmg += (hits + hs) * damage
                if wid == _DYNAMITE:
                    rnd[_R_DYN] = shots
            if ci == ENGINEER:
                rnd[_R_REPAIR] = int(m * 0.5 * rand() + rand() * (1.5 if attacking else 0.8))
                if not attacking and rand() < 0.3:
                    rnd[_R_DEF] = 2 if rand() < 0.25 else 1
            kills_by.append(kl)
            dmg_given.append(int(dmg * (0.9 + 0.15 * rand())))

        # deaths: every kill lands on a player of the other side, weighted by time on
        # team and inversely by skill; the death is booked under the killer's weapon
        deaths = [0] * n
        victims_of: dict[int, tuple[list[int], list[float]]] = {}
        for side in (AXIS, ALLIES):
            idx = [i for i in range(n) if prs[i].side != side]  # victims of this side's kills
            cw: list[float] = []
            acc = 0.0
            for i in idx:
                acc += prs[i].t / prs[i].p.skill
                cw.append(acc)
            victims_of[side] = (idx, cw)
        ws = [pr.w for pr in prs]
        for i, kl in enumerate(kills_by):
            if not kl:
                continue
            victims, cw = victims_of[prs[i].side]
            if not victims:  # nobody to kill: drop the kills again
                for g in ws[i].values():
                    g[2] = 0
                continue
            total, hi = cw[-1], len(cw) - 1
            for wid in kl:  # what rng.choices(cum_weights=) does, without its overhead
                v = victims[bisect(cw, rand() * total, 0, hi)]
                deaths[v] += 1
                got = ws[v].get(wid)
                if got is None:
                    ws[v][wid] = [0, 0, 0, 1, 0]
                else:
                    got[3] += 1

        # damage received: the other side's damage, shared by deaths and time exposed
        for side in (AXIS, ALLIES):
            idx = [i for i in range(n) if prs[i].side == side]
            if not idx:
                continue
            given = sum(dmg_given[i] for i in range(n) if prs[i].side != side)
            shares_d = [deaths[i] * 150 + prs[i].t * 5 + 1 for i in idx]
            tot = sum(shares_d)
            for i, sh in zip(idx, shares_d, strict=True):
                prs[i].c8[1] = given * sh // tot

        # revives: a medic's revives land on his team-mates who died
        for pi, pr in enumerate(prs):
            rv = pr.rnd[_R_REVIVES]
            if not rv:
                continue
            mates = [i for i in range(n) if prs[i].side == pr.side and i != pi and deaths[i]]
            if not mates:
                continue
            mcw: list[float] = []
            acc = 0.0
            for i in mates:
                acc += deaths[i]
                mcw.append(acc)
            for i in rng.choices(mates, cum_weights=mcw, k=rv):
                q = prs[i].rnd
                if q[_R_REVIVED] < deaths[i]:
                    q[_R_REVIVED] += 1

        # the rest of the line, per player
        for pi, pr in enumerate(prs):
            k = 0
            bullet_kills = 0
            for wid, g in pr.w.items():
                if g[2]:
                    k += g[2]
                    if wid in _BULLET_IDS:
                        bullet_kills += g[2]
            d = deaths[pi]
            m = pr.t / 10.0
            c8, rnd = pr.c8, pr.rnd
            sk = int(m * 0.12 * rand() + rand() * 0.8)
            c8[0] = dmg_given[pi]
            c8[2] = int(rand() ** 3 * m * 30)
            c8[3] = int(rand() ** 3 * m * 30)
            c8[4] = min(k, int(k * (0.1 + 0.4 * rand()) + rand()))
            c8[5] = sk
            if rand() < 0.07:
                c8[6] = 1
                c8[7] = 1 if rand() < 0.5 else 0
            pr.dead = min(int((d + sk) * (1.6 + 1.6 * rand()) + rand()), int(pr.t * 0.8))
            rnd[_R_XP] = (
                3 * k
                + 4 * rnd[_R_REVIVES]
                + 5 * rnd[_R_DYN]
                + 3 * rnd[_R_REPAIR]
                + int(m * (2.0 + 4.0 * rand()))
            )
            if k >= 3:
                spree = -(-k // (d + 1)) + int(rand() * 3)
                rnd[_R_KSPREE] = min(k, spree) if spree >= 3 else 0
            ds = d + sk
            if k and ds >= 3:
                spree = -(-ds // (k + 1)) + int(rand() * 2)
                rnd[_R_DSPREE] = min(ds, spree) if spree >= 3 else 0
            if k:
                rnd[_R_ASSIST] = int(k * (0.2 + 0.6 * rand()) + rand() * 2)
                rnd[_R_STEAL] = int(k * 0.3 * rand() + rand() * 0.5)
                rnd[_R_HSK] = min(bullet_kills, int(bullet_kills * (0.05 + 0.3 * rand()) + rand()))
                useful = min(k, int(k * (0.2 + 0.4 * rand()) + rand()))
                rnd[_R_USEFUL] = useful
                rnd[_R_USELESS] = min(k - useful, int(k * 0.2 * rand() + rand() * 0.5))
                rnd[_R_DENIED] = int(k * (8.0 + 14.0 * rand()))
                mk2 = min(k // 2, int(k * 0.15 * rand() + rand() * 0.7))
                rnd[_R_MK2] = mk2
                left = k - 2 * mk2
                for tier, pt in _MULTI_TIERS:
                    if left >= tier and k >= 2 * tier and rand() < pt:
                        rnd[_R_MK2 + tier - 2] = 1
                        left -= tier
            else:  # assists happen without kills too
                rnd[_R_ASSIST] = int(rand() * 1.5)
            if sk:
                rnd[_R_FSK] = sum(1 for _ in range(sk) if rand() < 0.3)
        return prs

    # ---------------------------------------------------------------- one map
    def _durations(
        self, mp: _Map, edge1: float = 0.0, edge2: float = 0.0
    ) -> tuple[int, int, int, int, int, int]:
        """The stopwatch clock of a map (§2, §5.8): R1 play ms, R1 H7 (= the time R2 must
        beat, in s), R1 H5, R2 play ms, R2 H7 (s), R2 H5.

        ``edge1`` / ``edge2``: how much stronger the attackers of round 1 / round 2 are than
        their defenders (see :func:`_edge`): stronger attackers complete more often and
        faster, so the latent skill decides maps through the clock, as in the game."""
        rng = self.rng
        limit = mp.limit_s
        d = mp.defender
        a = 3 - d
        p_complete = min(0.95, max(0.05, mp.p_complete + _EDGE_COMPLETE * edge1))
        r = rng.random()
        if r < 0.03:  # attackers surrender: short round, but H7 = H6 and defenders "win"
            ms1 = int(rng.uniform(60, limit * 0.5) * 1000)
            t1, w1 = limit, d
        elif r < 0.03 + p_complete:
            pace = mp.frac * math.exp(-_EDGE_PACE * edge1)
            s = min(limit - 5.0, max(60.0, rng.gauss(pace * limit, 0.18 * limit)))
            ms1 = int(s * 1000)
            t1, w1 = ms1 // 1000, a
        else:
            ms1 = limit * 1000 + rng.randrange(0, 500)
            t1, w1 = limit, d
        r = rng.random()
        pace = mp.frac * math.exp(-_EDGE_PACE * edge2)
        attempt = max(45.0, rng.gauss(pace * limit, 0.2 * limit))
        if r < 0.02:
            ms2 = int(rng.uniform(45, max(46.0, t1 * 0.6)) * 1000)
            h7, w2 = t1, d
        elif attempt < t1 - 1:
            ms2 = int(attempt * 1000)
            h7, w2 = ms2 // 1000, a
        else:  # defenders hold the clock: H7 stays at H6 (engine did not reset it)
            ms2 = t1 * 1000 + rng.randrange(0, 500)
            h7, w2 = t1, d
        return ms1, t1, w1, ms2, h7, w2

    def _emit(
        self,
        when: datetime,
        mp: _Map,
        label: int,
        h5: int,
        h6: int,
        h7: int | None,
        h8: int,
        dur_s: float,
        kind: str,
        lines: list[tuple[_Player, int, int, _PR | None, _PR | None, bool]],
        config: str = "legacy3",
    ) -> None:
        """Write one file. ``lines``: (player, P2, team, round PR, R1 PR to add, reset).

        ``h7 is None`` asks for the writer's nextTimeLimit fallback (shutdown path).
        """
        rng = self.rng
        order = list(range(len(lines)))
        rng.shuffle(order)  # Lua hash-table order: arbitrary
        name = f"{when:%Y-%m-%d-%H%M%S}-{mp.name}-round-{label}.txt"
        texts: list[str] = []
        rows: list[TruthPlayerRound] = []
        fallback: dict[int, int] = {}
        # the lines are only needed for files, and for the shutdown path's H7 fallback
        render = self.out_dir is not None or h7 is None
        clean = self.clean
        for i in order:
            p, p2, team, cur, base, reset = lines[i]
            if render:
                text, alive = _format_line(p.guid, p.name, p2, team, cur, base)
                texts.append(text)
                if team in (AXIS, ALLIES):
                    v = int(alive * 60 / 5 + 0.5) * 5
                    fallback[v] = fallback.get(v, 0) + 1
            vals, weapons = _truth_values(cur)
            cn = clean.get(p.name)
            if cn is None:
                cn = clean[p.name] = clean_name(p.name)
            rows.append(
                TruthPlayerRound(name, p.guid, p.name, cn, team, p.is_bot, vals, weapons, reset)
            )
        if h7 is None:
            # c0rnp0rn8 nextTimeLimit fallback: alive % read as minutes, mode, minus H6
            best = max(fallback.items(), key=lambda kv: kv[1])[0] if fallback else 0
            h7 = max(0, best - h6)
        tr = TruthRound(name, mp.name, label, when, dur_s, mp.defender, h5, -1, kind, len(rows))
        self.files.append(_File(tr, rows))
        if self.out_dir is not None:
            header = f"{SERVER_NAME}\\{mp.name}\\{config}\\{label}\\{mp.defender}\\{h5}\\"
            header += f"{_mss(h6)}\\{_mss(h7)}\\{h8}"
            text = header + "\n" + "".join(t + "\n" for t in texts)
            (self.out_dir / name).write_bytes(text.encode("utf-8"))

    def _map_play(
        self,
        ev: _Evening,
        mp: _Map,
        r1: list[_Player],
        r2: list[_Player],
    ) -> None:
        """Play one map (R1 + R2) with the players present in each round."""
        rng = self.rng
        # sides: one clan attacks in round 1 and defends in round 2 (stopwatch swap)
        att_clan = rng.randrange(2)
        edge1 = _edge([p for p in r1 if ev.clan[p.key] == att_clan],
                      [p for p in r1 if ev.clan[p.key] != att_clan])  # fmt: skip
        edge2 = _edge([p for p in r2 if ev.clan[p.key] != att_clan],
                      [p for p in r2 if ev.clan[p.key] == att_clan])  # fmt: skip
        ms1, t1, w1, ms2, h7_2, w2 = self._durations(mp, edge1, edge2)
        bots_in = sum(p.is_bot for p in r1)
        humans_in = len(r1) - bots_in
        kind = "bot_majority" if bots_in > humans_in else "normal"
        special = kind == "normal" and not ev.no_specials

        in_both = [p for p in r1 if p in r2 and not p.is_bot]
        r1_frac = {p.key: 1.0 for p in r1}
        r2_frac = {p.key: 1.0 for p in r2}
        for p in r1:
            if p in ev.partial_r1:
                r1_frac[p.key] = rng.uniform(0.25, 0.9)
        for p in r2:
            if p in ev.partial_r2:
                r2_frac[p.key] = rng.uniform(0.3, 0.9)
        resets: set[str] = set()
        spectators: set[str] = set()
        renamed: _Player | None = None
        if special and len(in_both) >= 5:
            if rng.random() < 0.025:  # reconnect in the R1→R2 break
                p = rng.choice(in_both)
                resets.add(p.key)
                if rng.random() < 0.5:  # joined R1 late: his R2 counters will not drop
                    r1_frac[p.key] = rng.uniform(0.15, 0.4)
            if rng.random() < 0.04:  # someone spectates round 2 (counters carried over)
                p = rng.choice(in_both)
                if p.key not in resets:
                    spectators.add(p.key)
            if rng.random() < 0.01:
                renamed = rng.choice(in_both)
        kind_r2 = kind
        # orphans and shutdown files only where no round 1 of the map lies within an hour,
        # so that the truth about what they pair with is unambiguous
        lonely = ev.now - ev.last_r1.get(mp.name, -1e9) > 3600
        orphan = special and lonely and rng.random() < 0.02
        if orphan:
            kind_r2 = "orphan_r2"

        def side_of(p: _Player, rnd: int) -> int:
            attacking = (ev.clan[p.key] == att_clan) == (rnd == 1)
            return (3 - mp.defender) if attacking else mp.defender

        slots1 = [(p, side_of(p, 1), r1_frac[p.key]) for p in r1]
        r2_players = [p for p in r2 if p.key not in spectators]
        slots2 = [(p, side_of(p, 2), r2_frac[p.key]) for p in r2_players]

        # optional restart / interruption before the real round 1
        restart = special and not orphan and rng.random() < 0.02
        interrupted = special and lonely and not (restart or orphan) and rng.random() < 0.012

        if interrupted:
            cut_ms = int(rng.uniform(45, 240) * 1000)
            cut_ms -= cut_ms % 6000  # whole 6-second units of play: exact truth times
            prs = self._play_round(slots1, cut_ms, mp.defender)
            ev.now += cut_ms / 1000  # the shutdown path saves at once, no 3-second wait
            h8 = -rng.randrange(60_000, 8_000_000)
            self._emit(
                ev.when(),
                mp,
                2,  # label inverted: an interrupted round 1 is saved as round 2
                1,  # map-winner key missing → 1
                mp.limit_s,
                None,
                h8,
                cut_ms / 1000,
                "interrupted",
                [(pr.p, ev.p2(pr.p), pr.side, pr, None, False) for pr in prs],
            )
            ev.connected.clear()  # server restart: everybody reconnects
            ev.now += rng.uniform(240, 720)
        if restart:
            rms = int(rng.uniform(60, 300) * 1000)
            prs = self._play_round(slots1, rms, mp.defender)
            done = rng.random() < 0.7
            ev.now += rms / 1000 + 3
            self._emit(
                ev.when(),
                mp,
                1,
                (3 - mp.defender) if done else mp.defender,
                mp.limit_s,
                rms // 1000 if done else mp.limit_s,
                rms,
                rms / 1000,
                "restart",
                [(pr.p, ev.p2(pr.p), pr.side, pr, None, False) for pr in prs],
            )
            ev.now += rng.uniform(30, 100)

        # round 1
        pause1 = rng.uniform(30, 240) if rng.random() < 0.04 else 0.0
        prs1 = self._play_round(slots1, ms1, mp.defender)
        ev.now += ms1 / 1000 + pause1 + 3
        p2_r1 = {pr.p.key: ev.p2(pr.p) for pr in prs1}
        if not orphan:
            self._emit(
                ev.when(),
                mp,
                1,
                w1,
                mp.limit_s,
                t1,
                ms1,
                ms1 / 1000,
                kind,
                [(pr.p, p2_r1[pr.p.key], pr.side, pr, None, False) for pr in prs1],
            )
            ev.last_r1[mp.name] = ev.now
        for pr in prs1:
            ev.connected.add(pr.p.key)
        if renamed is not None:
            self._rename(renamed)

        # round 2
        ev.now += rng.uniform(32, 58)
        pause2 = rng.uniform(30, 240) if rng.random() < 0.04 else 0.0
        prs2 = self._play_round(slots2, ms2, mp.defender)
        ev.now += ms2 / 1000 + pause2 + 3
        by_key1 = {pr.p.key: pr for pr in prs1}
        lines: list[tuple[_Player, int, int, _PR | None, _PR | None, bool]] = []
        for pr in prs2:
            p = pr.p
            base = by_key1.get(p.key)
            if p.key in resets:
                lines.append((p, 0, pr.side, pr, None, True))
            elif base is None:  # joined in round 2: fresh counters
                lines.append((p, 0, pr.side, pr, None, False))
            else:
                lines.append((p, p2_r1[p.key] + 1, pr.side, pr, base, False))
        for g in spectators:
            base = by_key1[g]
            lines.append((base.p, p2_r1[g] + 1, SPECTATOR, None, base, False))
        self._emit(ev.when(), mp, 2, w2, t1, h7_2, ms2, ms2 / 1000, kind_r2, lines)
        for pr in prs2:
            ev.connected.add(pr.p.key)
        for g in spectators:
            ev.connected.add(g)
        # who did not make it into round 2 is disconnected now
        present = {pr.p.key for pr in prs2} | spectators
        for pr in prs1:
            if pr.p.key not in present:
                ev.connected.discard(pr.p.key)

    # ---------------------------------------------------------------- one evening
    def evening(self, day: date) -> None:
        rng = self.rng
        self._churn()
        roster = self._attendance()
        n_maps = _weighted(rng, _MAPS_PER_EVENING)
        maps = self._pick_maps(n_maps)
        start = datetime(day.year, day.month, day.day, 19, 45) + timedelta(
            seconds=int(rng.uniform(0, 105 * 60))
        )
        ev = _Evening(start)

        # presence: core players all evening, the others arrive later and/or leave early;
        # a (map, round) pair is the unit: arriving at (i, 2) makes a round-2-only player
        n_core = min(len(roster), 6)
        arrive: dict[str, tuple[int, int]] = {}
        leave: dict[str, tuple[int, int]] = {}
        for i, p in enumerate(roster):
            a, lv = (0, 1), (n_maps - 1, 2)
            if i >= n_core:
                if rng.random() < 0.4:
                    a = (rng.randrange(1, n_maps), 2 if rng.random() < 0.35 else 1)
                if rng.random() < 0.35:
                    lo = a[0]
                    li = rng.randrange(lo, n_maps)
                    lr = 1 if rng.random() < 0.4 else 2
                    lv = max((li, lr), a)
            arrive[p.key], leave[p.key] = a, lv

        bot_first = rng.random() < 0.07
        for mi, mp in enumerate(maps):
            ev.partial_r1.clear()
            ev.partial_r2.clear()
            r1 = [p for p in roster if arrive[p.key] <= (mi, 1) <= leave[p.key]]
            r2 = [p for p in roster if arrive[p.key] <= (mi, 2) <= leave[p.key]]
            for p in roster:
                if arrive[p.key] == (mi, 1) and mi > 0 and rng.random() < 0.5:
                    ev.partial_r1.add(p)
                if arrive[p.key] == (mi, 2) and rng.random() < 0.5:
                    ev.partial_r2.add(p)
                lv = leave[p.key]
                if lv == (mi, 1) and mi < n_maps - 1 and rng.random() < 0.4:
                    ev.partial_r1.add(p)  # left during round 1: stale last snapshot
                if lv == (mi, 2) and mi < n_maps - 1 and rng.random() < 0.4:
                    ev.partial_r2.add(p)
            # core players drop out of a round 2 or miss a round 1 now and then
            core = [p for p in r1 if p in r2]
            if len(core) >= 6 and rng.random() < 0.05:
                r2.remove(rng.choice(core))
            if len(core) >= 6 and rng.random() < 0.04:
                p = rng.choice(core)
                r1.remove(p)  # crashed during round 1, back for round 2
                if rng.random() < 0.5:
                    ev.partial_r2.add(p)
            # teams: drafted by skill, kept between maps (newcomers fill the smaller side),
            # redrafted now and then
            present = [p for p in roster if p in r1 or p in r2]
            if mi == 0 or rng.random() < 0.25:
                self._draft(ev, present)
            else:
                self._balance(ev, present)
            ev.no_specials = False
            if mi == 0 and bot_first:
                # early evening: a few humans and omni-bots fill the server
                humans = r1[: rng.randint(2, 3)]
                bots = rng.sample(self.bots, rng.randint(len(humans) + 1, len(humans) + 4))
                for j, b in enumerate(bots):
                    ev.clan[b.key] = j % 2
                r1 = r2 = humans + bots
                ev.no_specials = True
            else:
                # the odd omni-bot evens out uneven teams
                counts = [0, 0]
                for p in r1:
                    counts[ev.clan[p.key]] += 1
                if counts[0] != counts[1] and rng.random() < 0.25:
                    b = rng.choice(self.bots)
                    ev.clan[b.key] = 0 if counts[0] < counts[1] else 1
                    r1 = [*r1, b]
                    r2 = [*r2, b]
            self._map_play(ev, mp, r1, r2)
            # between maps: map vote, loading, warm-up; now and then a longer break
            r = rng.random()
            gap = (
                rng.uniform(40, 200)
                if r < 0.75
                else rng.uniform(200, 720)
                if r < 0.95
                else rng.uniform(720, 1800)
            )
            ev.now += gap

    def _pick_maps(self, n: int) -> list[_Map]:
        rng = self.rng
        out: list[_Map] = []
        weights = [m.weight for m in _MAPS]
        while len(out) < n:
            mp = _MAPS[_pick_index(rng, weights)]
            if out and out[-1] is mp and not (mp.name in _SHORT_MAPS and rng.random() < 0.4):
                continue  # short maps are played twice in a row now and then
            if mp in out[-4:-1]:
                continue
            out.append(mp)
        return out

    def _draft(self, ev: _Evening, present: list[_Player]) -> None:
        rng = self.rng
        noisy = [(p.skill + rng.uniform(-0.25, 0.25), i) for i, p in enumerate(present)]
        first = rng.randrange(2)
        for j, (_, i) in enumerate(sorted(noisy, reverse=True)):
            # snake draft: 0 1 1 0 0 1 1 0 …
            ev.clan[present[i].key] = first ^ ((j + 1) // 2 % 2)

    def _balance(self, ev: _Evening, present: list[_Player]) -> None:
        sides: list[list[_Player]] = [[], []]
        for p in present:
            c = ev.clan.get(p.key)
            if c is not None:
                sides[c].append(p)
        for p in present:
            if p.key not in ev.clan:
                c = 0 if len(sides[0]) <= len(sides[1]) else 1
                ev.clan[p.key] = c
                sides[c].append(p)
        while abs(len(sides[0]) - len(sides[1])) > 1:
            big = 0 if len(sides[0]) > len(sides[1]) else 1
            p = sides[big].pop(self.rng.randrange(len(sides[big])))
            ev.clan[p.key] = 1 - big
            sides[1 - big].append(p)


class _Evening:
    """Mutable state of one evening: the clock, connections, teams."""

    def __init__(self, start: datetime) -> None:
        self.base = datetime(start.year, start.month, start.day)
        self.now = float((start - self.base).total_seconds())
        self.connected: set[str] = set()
        self.clan: dict[str, int] = {}
        self.partial_r1: set[_Player] = set()
        self.partial_r2: set[_Player] = set()
        self.last_r1: dict[str, float] = {}  # map -> time of its last round-1 file
        self.no_specials = False

    def when(self) -> datetime:
        return self.base + timedelta(seconds=int(self.now))

    def p2(self, p: _Player) -> int:
        """P2 of a round-1 line: 0 on a fresh connection, 1 once a map was played."""
        return 1 if p.key in self.connected else 0


_BULLET_IDS = frozenset(wid for k in _K.values() if k.bullet for wid in (k.axis, k.allies))


# How the latent skill decides maps: the attackers' edge (difference of the teams' summed
# skill per player of an average team, ~±0.1 after a snake draft) moves the chance to
# complete round 1 and scales the pace of an attack.
_EDGE_COMPLETE = 2.5
_EDGE_PACE = 2.5


def _edge(attackers: Sequence[_Player], defenders: Sequence[_Player]) -> float:
    """The attackers' advantage: summed skill per player of an average-sized team, so a
    numbers advantage counts too (an omni-bot counts with its own, weak, skill)."""
    n = (len(attackers) + len(defenders)) / 2
    if not n:
        return 0.0
    return (sum(p.skill for p in attackers) - sum(p.skill for p in defenders)) / n


def _pick_index(rng: random.Random, weights: Sequence[float]) -> int:
    x = rng.random() * sum(weights)
    for i, w in enumerate(weights):
        x -= w
        if x < 0:
            return i
    return len(weights) - 1


def _pick_cum(rng: random.Random, cw: Sequence[float]) -> int:
    x = rng.random() * cw[-1]
    for i, c in enumerate(cw):
        if x < c:
            return i
    return len(cw) - 1


def _weighted(rng: random.Random, items: Sequence[tuple[int, float]]) -> int:
    return items[_pick_index(rng, [w for _, w in items])][0]


# --------------------------------------------------------------------------------------
# Schedule and entry points
# --------------------------------------------------------------------------------------


def _evening_days(seed: int, start: date, days: int, per_week: tuple[int, int]) -> list[date]:
    """3–4 evenings in every 7-day block (fewer, but at least one, in a partial block)."""
    out: list[date] = []
    lo, hi = per_week
    for week, first in enumerate(range(0, days, 7)):
        n_avail = min(7, days - first)
        rng = random.Random(seed * 1_000_003 + week)  # per week: histories are prefixes
        k = rng.randint(lo, hi)
        if n_avail < 7:
            k = min(n_avail, max(1, round(k * n_avail / 7)))
        cands = [start + timedelta(days=first + i) for i in range(n_avail)]
        weights = [_WEEKDAY_WEIGHT[d.weekday()] for d in cands]
        chosen: list[date] = []
        for _ in range(k):
            i = _pick_index(rng, weights)
            chosen.append(cands.pop(i))
            weights.pop(i)
        out.extend(sorted(chosen))
    return out


def generate(
    out_dir: Path,
    *,
    seed: int = 7,
    start: date = date(2025, 1, 6),
    days: int = 28,
    evenings_per_week: tuple[int, int] = (3, 4),
    write: bool = True,
    crowd: int | None = None,
    longest_names: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> Truth:
    """Generate ``days`` days of community history into ``out_dir`` (flat) and return the truth.

    ``write=False`` skips the files (same truth, same randomness). ``progress(phase, done,
    total)`` is told after each evening. Stress options for the bot's output (both off by
    default, leaving the history unchanged): ``crowd`` puts exactly that many players in every
    evening; ``longest_names`` gives every player a name as long as ET allows (35 characters)
    made of Markdown characters.
    """
    if write:
        out_dir.mkdir(parents=True, exist_ok=True)
    sim = _Sim(seed, out_dir if write else None, crowd, longest_names)
    evenings = _evening_days(seed, start, days, evenings_per_week)
    for i, day in enumerate(evenings, start=1):
        sim.evening(day)
        if progress is not None:
            progress("writing evenings", i, len(evenings))
    files = sim.files
    truth = Truth(skills=dict(sim.skills))
    # session index by the 60-minute rule over file times (end to end)
    session = -1
    prev: datetime | None = None
    for f in files:
        t = f.truth.end_time
        if prev is None or (t - prev).total_seconds() > SESSION_GAP_S:
            session += 1
        prev = t
        truth.rounds.append(replace(f.truth, session_index=session))
        truth.player_rounds.extend(f.rows)
    return truth


def write_evening(
    out_dir: Path, *, seed: int = 7, day: date = date(2025, 1, 6), write: bool = True
) -> Truth:
    """Exactly one evening (6–10 maps) on ``day``."""
    return generate(out_dir, seed=seed, start=day, days=1, write=write)
