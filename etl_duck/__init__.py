"""etl-duck: ET:Legacy stopwatch stats as an embedded Parquet lake queried by DuckDB."""

from __future__ import annotations

import warnings
from pathlib import Path

__version__ = "0.1.0"

# DuckDB 2.0 warns that Arrow output from a DB-API result makes an extra copy. Our results
# are small: the copy costs less than the relation API, which re-tokenises the SQL in
# Python (~0.4 ms a query). Set once here: a filter set per call is not thread-safe.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)


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
