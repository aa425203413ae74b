"""Smoke test of the benchmark code at a tiny size (7 days of history).

One run of ``python -m benchmarks.run`` at 7 days with few repetitions: the etl-duck half
always; the PostgreSQL half (throw-away server, load, equality check, timings, backlog)
when the machine has PostgreSQL server binaries — skipped with the reason otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench_query import _same_top
from benchmarks.pg_baseline import pg_available
from benchmarks.run import evaluate, main

PG_OK, PG_WHY = pg_available()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "RESULTS.md"
    args = ["--days", "7", "--quick", "--min-games", "2,5", "--no-fetch", "--out", str(out)]
    if not PG_OK:
        args.append("--no-pg")
    assert main(args) == 0
    result: dict[str, Any] = json.loads(out.with_suffix(".json").read_text())
    result["_out"] = str(out)
    return result


def test_etl_half(run: dict[str, Any]) -> None:
    (size,) = run["sizes"]
    ops = {o["key"]: o for o in size["ops"]}
    assert {"kills_lb", "dpm_lb", "last_session", "career_card", "weapon_totals"} <= set(ops)
    for o in ops.values():
        assert o["etl_miss"]["median_ms"] > 0
        assert o["etl_hit"]["median_ms"] < o["etl_miss"]["median_ms"]
    assert size["ingest_history"]["files"] == size["dataset"]["history_files"] > 0
    assert size["etl_backlog"]["player_rounds_added"] > 0
    assert size["visibility"]["total_ms"] > 0
    assert size["serving_vs_small_files"]["rows"] > 0
    assert size["concurrency"]["identical_answers"]
    assert size["rss_probe"]["after_queries"] > 0
    assert evaluate(size)


def test_pg_half(run: dict[str, Any]) -> None:
    if not PG_OK:
        pytest.skip(f"PostgreSQL baseline not available: {PG_WHY}")
    (size,) = run["sizes"]
    assert size["equality"]["ok"], size["equality"]["problems"]
    assert len(size["equality"]["checked"]) >= 5
    assert size["pg_load"]["player_rows"] > 0
    for o in size["ops"]:
        assert o["pg_noidx"]["median_ms"] > 0 and o["pg_idx"]["median_ms"] > 0
        assert o["ratio"] is not None
    assert size["pg_backlog"]["files"] == size["dataset"]["backlog_files"]


def test_report_written(run: dict[str, Any]) -> None:
    out = Path(run["_out"])
    text = out.read_text()
    assert "| Operation |" in text and "## Targets" in text and "Command: `" in text
    if PG_OK:
        assert (out.parent / "ratios.png").stat().st_size > 0


def test_equality_check_catches_differences() -> None:
    same = [("A", 10.0), ("B", 9.0)]
    assert _same_top("x", same, same, {"A": 10.0, "B": 9.0}) == []
    # a tie may come in another order
    tie = [("A", 10.0), ("B", 10.0)]
    assert _same_top("x", tie, tie[::-1], {"A": 10.0, "B": 10.0}) == []
    assert _same_top("x", same, [("A", 10.0), ("B", 8.0)], {"A": 10.0, "B": 8.0})
    assert _same_top("x", same, [("A", 10.0), ("C", 9.0)], {"A": 10.0, "C": 9.0})
