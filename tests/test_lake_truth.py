"""A multi-month synthetic history through the lake equals the generator's ground truth."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from etl_duck.domain.fields import CUM_FIELDS, ROUND_FIELDS
from etl_duck.synth import Truth


@pytest.fixture
def lake_and_truth(synthetic_lake: tuple[Path, Truth]) -> tuple[Path, Truth]:
    return synthetic_lake


def test_per_player_totals_equal_the_truth(lake_and_truth: tuple[Path, Truth]) -> None:
    data, truth = lake_and_truth
    fields = [f for f in CUM_FIELDS + ROUND_FIELDS]
    sums = ", ".join(f"sum({f})::BIGINT AS {f}" for f in fields)
    cur = duckdb.connect().execute(
        f"SELECT guid, {sums} FROM read_parquet($g, hive_partitioning = true) "
        "WHERE counted GROUP BY guid",
        {"g": f"{data}/lake/player_rounds/**/*.parquet"},
    )
    got = {row[0]: dict(zip(fields, row[1:], strict=True)) for row in cur.fetchall()}
    expected = truth.player_totals()
    assert set(got) == set(expected)
    for guid, values in expected.items():
        for f in fields:
            assert got[guid][f] == values[f], (guid, f)


def test_rounds_sessions_and_reasons_match_the_truth(lake_and_truth: tuple[Path, Truth]) -> None:
    data, truth = lake_and_truth
    cur = duckdb.connect().execute(
        "SELECT file_name, session_id, counted, reason FROM read_parquet($g, hive_partitioning = true)",
        {"g": f"{data}/lake/rounds/**/*.parquet"},
    )
    rows = {r[0]: r[1:] for r in cur.fetchall()}
    assert set(rows) == {r.file_name for r in truth.rounds}
    expected_reason = {"normal": None, "orphan_r2": "orphan_r2", "interrupted": "interrupted",
                       "restart": "restart", "bot_majority": "bot_majority"}  # fmt: skip
    for r in truth.rounds:
        assert rows[r.file_name][2] == expected_reason[r.kind], r.file_name
    # the session grouping agrees with the generator's evenings
    by_evening: dict[int, set[int]] = {}
    for r in truth.rounds:
        by_evening.setdefault(r.session_index, set()).add(rows[r.file_name][0])
    assert all(len(ids) == 1 for ids in by_evening.values())
    assert len({next(iter(ids)) for ids in by_evening.values()}) == len(by_evening)
