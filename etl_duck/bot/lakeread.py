"""Small reads the query API does not offer: one round, one match, one session's weapons.

They read one session-date partition of the current snapshot (found through the
manifest and the round index), the same plain Parquet a notebook reads, so they cost a
few milliseconds and never open the whole lake. Blocking: call them in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from etl_duck.lake.snapshot import Lake


@dataclass(frozen=True)
class RoundDetail:
    round: dict[str, Any]  # the `rounds` row
    players: pl.DataFrame  # its `player_rounds` rows (round-only values), by DPM
    session_date: date


def _partition(lake: Lake, snap: Path, table: str, day: date) -> pl.DataFrame | None:
    part = lake.manifest(snap).partitions.get(table, {}).get(day.isoformat())
    return None if part is None else pl.read_parquet(snap / part.file)


def _with_dpm(df: pl.DataFrame) -> pl.DataFrame:
    # Σdamage·60 / Σown seconds, numerator only over rows with time (as the query API does)
    return df.with_columns(
        dpm=pl.when(pl.col("time_played_s") > 0)
        .then(pl.col("dpm_damage") * 60.0 / pl.col("time_played_s"))
        .otherwise(None)
    )


def _sums(rows: pl.DataFrame) -> pl.DataFrame:
    return _with_dpm(
        rows.sort("end_time")
        .group_by("guid")
        .agg(
            pl.col("name").last(),
            pl.len().alias("rounds"),
            pl.col("kills").sum(),
            pl.col("deaths").sum(),
            pl.col("damage_given").sum(),
            pl.col("time_played_s").sum(),
            pl.when(pl.col("time_played_s") > 0)
            .then(pl.col("damage_given"))
            .otherwise(0)
            .sum()
            .alias("dpm_damage"),
            pl.col("revives_given").sum(),
            pl.col("gibs").sum(),
        )
    ).sort(["dpm", "kills"], descending=True, nulls_last=True)


def round_detail(data_dir: Path | str, file_name: str) -> RoundDetail | None:
    """The round stored from ``file_name`` and its players; None if not in the lake."""
    lake = Lake(data_dir)
    snap = lake.current_dir()
    if snap is None:
        return None
    index = pl.from_arrow(lake.read_state("round_index", snap))
    assert isinstance(index, pl.DataFrame)
    hit = index.filter(pl.col("file_name") == file_name)
    if hit.is_empty():
        return None
    sdate: date = hit["session_date"][0]
    rounds = _partition(lake, snap, "rounds", sdate)
    players = _partition(lake, snap, "player_rounds", sdate)
    if rounds is None or players is None:
        return None
    row = rounds.filter(pl.col("file_name") == file_name)
    if row.is_empty():
        return None
    rnd = row.row(0, named=True)
    mine = players.filter((pl.col("round_id") == rnd["round_id"]) & pl.col("counted"))
    return RoundDetail(round=rnd, players=_sums(mine), session_date=sdate)


def match_players(data_dir: Path | str, session_date: date, match_id: int) -> pl.DataFrame:
    """Per-player totals over both rounds of one match (counted rows), by DPM."""
    lake = Lake(data_dir)
    snap = lake.current_dir()
    players = None if snap is None else _partition(lake, snap, "player_rounds", session_date)
    if players is None:
        return pl.DataFrame()
    return _sums(players.filter((pl.col("match_id") == match_id) & pl.col("counted")))


def session_weapons(data_dir: Path | str, session_id: int, session_date: date) -> pl.DataFrame:
    """Weapon totals of one session (counted rows): weapon, kills, deaths, hits, shots, …"""
    lake = Lake(data_dir)
    snap = lake.current_dir()
    weapons = None if snap is None else _partition(lake, snap, "weapon_rounds", session_date)
    if weapons is None:
        return pl.DataFrame()
    return (
        weapons.filter((pl.col("session_id") == session_id) & pl.col("counted"))
        .group_by("weapon")
        .agg(
            pl.col("kills").sum(),
            pl.col("deaths").sum(),
            pl.col("hits").sum(),
            pl.col("shots").sum(),
            pl.col("headshots").sum(),
            pl.col("guid").n_unique().alias("players"),
        )
        .with_columns(
            accuracy=pl.when(pl.col("shots") > 0)
            .then(pl.col("hits") * 100.0 / pl.col("shots"))
            .otherwise(None)
        )
        .filter((pl.col("kills") > 0) | (pl.col("shots") > 0))
        .sort(["kills", "shots"], descending=True)
    )
