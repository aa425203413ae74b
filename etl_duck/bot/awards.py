"""Session awards: one winner per category from a session's per-player totals."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


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


def session_awards(players: pl.DataFrame) -> list[Award]:
    """The best player per category (ties: more rounds, then name); zero values win nothing."""
    out: list[Award] = []
    if players.is_empty():
        return out
    for cat in CATEGORIES:
        if cat.column not in players.columns:
            continue
        pool = players.filter(pl.col(cat.column).is_not_null() & (pl.col(cat.column) > 0))
        if cat.min_shots:
            pool = pool.filter(pl.col("shots") >= cat.min_shots)
        if pool.is_empty():
            continue
        best = pool.sort([cat.column, "rounds", "name"], descending=[True, True, False]).row(
            0, named=True
        )
        value = float(best[cat.column])
        shown = f"{value:,.{cat.decimals}f}{cat.unit}"
        out.append(Award(cat.title, str(best["guid"]), str(best["name"]), value, shown))
    return out
