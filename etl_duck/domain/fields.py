"""The c0rnp0rn player-line layout as data: one declarative table per field.

Every rule about a field lives here — its name, unit, how to parse it and, above all, its
*scope* in a round-2 file (STATS_FORMAT.md §3.5, §5.1):

* ``CUM``   engine counter carried across the R1→R2 map_restart: round-only = R2 − R1;
* ``ROUND`` reset every round: the R2 value is already round-only;
* ``RATIO`` mixed: never differenced, recomputed from differenced absolutes;
* ``IGNORE`` written but meaningless (X21 "DPM" is always 0.0).

Parsing, differencing, the generator and the lake schema all read this table, so a field
is added or re-scoped in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    CUM = "cum"
    ROUND = "round"
    RATIO = "ratio"
    IGNORE = "ignore"


class Kind(StrEnum):
    INT = "int"  # %d
    TENTHS = "tenths"  # %0.1f, kept as a float
    MINUTES = "minutes"  # %0.1f minutes, stored as integer seconds (0.1 min = 6 s, exact)


@dataclass(frozen=True, slots=True)
class ExtendedField:
    """One TAB-separated extended field X<index> of a player line."""

    index: int
    name: str
    kind: Kind
    scope: Scope
    since: int = 33  # smallest layout (extended-field count) that writes it


def _f(index: int, name: str, kind: Kind, scope: Scope, since: int = 33) -> ExtendedField:
    return ExtendedField(index, name, kind, scope, since)


INT, T, M = Kind.INT, Kind.TENTHS, Kind.MINUTES
CUM, ROUND, RATIO, IGNORE = Scope.CUM, Scope.ROUND, Scope.RATIO, Scope.IGNORE

#: The 38-field layout (c0rnp0rn3 v3.0 code, c0rnp0rn7, c0rnp0rn8). Index = X<n>.
EXTENDED_FIELDS: tuple[ExtendedField, ...] = (
    _f(0, "damage_given", INT, CUM),
    _f(1, "damage_received", INT, CUM),
    _f(2, "team_damage_given", INT, CUM),
    _f(3, "team_damage_received", INT, CUM),
    _f(4, "gibs", INT, CUM),
    _f(5, "self_kills", INT, CUM),
    _f(6, "team_kills", INT, CUM),
    _f(7, "team_gibs", INT, CUM),
    _f(8, "time_alive_pct", T, RATIO),
    _f(9, "xp", INT, ROUND),
    _f(10, "killing_spree", INT, ROUND),
    _f(11, "death_spree", INT, ROUND),
    _f(12, "kill_assists", INT, ROUND),
    _f(13, "kill_steals", INT, ROUND),
    _f(14, "headshot_kills", INT, ROUND),
    _f(15, "objectives_stolen", INT, ROUND),
    _f(16, "objectives_returned", INT, ROUND),
    _f(17, "dynamites_planted", INT, ROUND),
    _f(18, "dynamites_defused", INT, ROUND),
    _f(19, "times_revived", INT, ROUND),
    _f(20, "bullets_fired", INT, CUM),
    _f(21, "dpm_written", T, IGNORE),
    _f(22, "time_played_s", M, CUM),
    _f(23, "tank_meatshield", T, RATIO),
    _f(24, "time_dead_pct", T, RATIO),
    _f(25, "time_dead_s", M, ROUND),
    _f(26, "kd_written", T, RATIO),
    _f(27, "useful_kills", INT, ROUND),
    _f(28, "denied_playtime_s", INT, ROUND, since=36),
    _f(29, "multikill_2", INT, ROUND),
    _f(30, "multikill_3", INT, ROUND),
    _f(31, "multikill_4", INT, ROUND),
    _f(32, "multikill_5", INT, ROUND),
    _f(33, "multikill_6", INT, ROUND),
    _f(34, "useless_kills", INT, ROUND, since=36),
    _f(35, "full_selfkills", INT, ROUND, since=36),
    _f(36, "repairs_constructions", INT, ROUND, since=37),
    _f(37, "revives_given", INT, ROUND, since=38),
)

FIELD_BY_NAME: dict[str, ExtendedField] = {f.name: f for f in EXTENDED_FIELDS}

#: For each known extended-field count, the field name at each position. Older layouts
#: grew by appending, except the 33-field one, which lacks X28 (denied playtime) and
#: so shifts the multikills down by one (STATS_FORMAT.md §3.6).
LAYOUTS: dict[int, tuple[str, ...]] = {
    38: tuple(f.name for f in EXTENDED_FIELDS),
    37: tuple(f.name for f in EXTENDED_FIELDS[:37]),
    36: tuple(f.name for f in EXTENDED_FIELDS[:36]),
    33: tuple(f.name for f in EXTENDED_FIELDS if f.since == 33 and f.index <= 33),
}

#: Per-weapon values in the order the writer emits them for each set mask bit.
WEAPON_STATS: tuple[str, ...] = ("hits", "shots", "kills", "deaths", "headshots")

#: Weapon ids (engine weapon-stat buckets), STATS_FORMAT.md §4.1.
WEAPONS: tuple[str, ...] = (
    "knife", "knife_kbar", "luger", "colt", "mp40", "thompson", "sten", "fg42",
    "panzerfaust", "bazooka", "flamethrower", "grenade", "mortar", "mortar2",
    "dynamite", "airstrike", "artillery", "satchel", "grenadelauncher", "landmine",
    "mg42", "browning", "carbine", "kar98", "garand", "k43", "mp34", "syringe",
)  # fmt: skip

#: Player totals derived from the weapon groups (the file has no kills/deaths fields).
#: All are CUM: the engine's weapon stats carry over into round 2.
DERIVED_TOTALS: tuple[str, ...] = ("kills", "deaths", "shots", "hits", "headshot_hits")

#: Names of all fields that are round-2 cumulative (differenced as R2 − R1).
CUM_FIELDS: tuple[str, ...] = DERIVED_TOTALS + tuple(
    f.name for f in EXTENDED_FIELDS if f.scope is Scope.CUM
)
ROUND_FIELDS: tuple[str, ...] = tuple(f.name for f in EXTENDED_FIELDS if f.scope is Scope.ROUND)
RATIO_FIELDS: tuple[str, ...] = tuple(f.name for f in EXTENDED_FIELDS if f.scope is Scope.RATIO)

#: Fields whose decrease from R1 to R2 means the player's counters were reset (§5.6).
RESET_SENTINELS: tuple[str, ...] = (
    "kills", "deaths", "damage_given", "damage_received", "time_played_s",
)  # fmt: skip
