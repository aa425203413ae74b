"""etl-duck: ET:Legacy stopwatch stats as an embedded Parquet lake queried by DuckDB."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def snapshot_path(data_dir: str | Path = "data", lease_s: float = 600.0) -> Path:
    """The lake's current snapshot, resolved ONCE and held for ``lease_s`` seconds: read
    ``snapshot_path(d) / "player_rounds" / "**" / "*.parquet"`` from a notebook or another
    process and every file belongs to one commit, and none is removed while you read
    (call it again to renew). Globbing ``data/lake/**`` instead resolves the ``lake`` link
    once per folder, so a commit in the middle of a listing can mix two versions.

    Raises ``FileNotFoundError`` when the data directory holds no lake yet."""
    from etl_duck.lake.snapshot import Lake  # lazy: importing etl_duck stays cheap

    snap = Lake(data_dir).pin(lease_s)
    if snap is None:
        raise FileNotFoundError(f"no lake at {Path(data_dir) / 'lake'}: run `etl-duck ingest`")
    return snap
