"""The metric registry: one formula per leaderboard metric, used everywhere.

Each metric is a Polars expression over the per-player sums of ``queries/player_totals.sql``
(always Σ first, then the ratio — never an average of per-round ratios), plus its sort
order and the minimum-sample rule that keeps one lucky round off the board.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


def _ratio(num: pl.Expr, den: pl.Expr, scale: float = 1.0) -> pl.Expr:
    return pl.when(den > 0).then(num.cast(pl.Float64) * scale / den).otherwise(None)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    expr: pl.Expr
    descending: bool = True
    sample: str = "rounds"  # the column the minimum-sample threshold applies to
    decimals: int = 0
    unit: str = ""
    help: str = ""

    def format(self, value: float | int | None) -> str:
        if value is None:
            return "—"
        return f"{value:,.{self.decimals}f}{self.unit}"


KD = (
    pl.when(pl.col("deaths") > 0)
    .then(pl.col("kills") / pl.col("deaths"))
    .otherwise(pl.col("kills").cast(pl.Float64))
)
DPM = _ratio(pl.col("dpm_damage"), pl.col("time_played_s"), 60.0)
ACCURACY = _ratio(pl.col("hits"), pl.col("shots"), 100.0)
HEADSHOT_RATE = _ratio(pl.col("headshot_kills"), pl.col("kills"), 100.0)
EFFICIENCY = _ratio(pl.col("kills"), pl.col("kills") + pl.col("deaths"), 100.0)
TEAMWORK = _ratio(
    pl.col("team_damage_given"), pl.col("damage_given") + pl.col("team_damage_given"), 100.0
)

METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("kills", "Kills", pl.col("kills"), help="enemy kills (Σ weapon kills)"),
        Metric("kd", "K/D", KD, decimals=2, help="Σkills / Σdeaths (kills when no deaths)"),
        Metric("dpm", "DPM", DPM, decimals=1, help="Σdamage·60 / Σown seconds played"),
        Metric("accuracy", "Accuracy", ACCURACY, decimals=1, unit="%", help="Σhits / Σshots"),
        Metric(
            "headshot_rate", "Headshot rate", HEADSHOT_RATE, decimals=1, unit="%",
            help="headshot kills / kills",
        ),
        Metric("games", "Rounds played", pl.col("rounds"), help="counted rounds played"),
        Metric("revives", "Revives", pl.col("revives"), help="revives given as a medic"),
        Metric("gibs", "Gibs", pl.col("gibs")),
        Metric(
            "objectives", "Objectives", pl.col("objectives"),
            help="dynamites planted + defused (stolen/returned are unreliable in the files)",
        ),
        Metric(
            "efficiency", "Efficiency", EFFICIENCY, decimals=1, unit="%",
            help="Σkills / (Σkills + Σdeaths)",
        ),
        Metric(
            "teamwork", "Teamwork", TEAMWORK, descending=False, decimals=2, unit="%",
            help="share of damage that hit team-mates (lower is better)",
        ),
        Metric("multikills", "Multikills", pl.col("multikills"), help="multi-kill chains (2+)"),
        Metric("grenade_kills", "Grenade kills", pl.col("grenade_kills")),
    )
}  # fmt: skip

ALIASES = {"k/d": "kd", "damage": "dpm", "acc": "accuracy", "hs": "headshot_rate",
           "rounds": "games", "grenades": "grenade_kills", "eff": "efficiency"}  # fmt: skip


def resolve_metric(name: str) -> Metric:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    try:
        return METRICS[key]
    except KeyError:
        raise ValueError(
            f"unknown leaderboard {name!r}; choose one of: {', '.join(METRICS)}"
        ) from None


def with_metrics(totals: pl.DataFrame) -> pl.DataFrame:
    """Add every registry metric as a column (named by its key) to per-player totals."""
    return totals.with_columns(
        [m.expr.alias(m.key) for m in METRICS.values() if m.key not in totals.columns]
    )
