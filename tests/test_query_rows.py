"""A process without PyArrow (the bot) builds a small answer from the result's Python rows,
not from a relation (which plans each query twice): every answer must be the frame the
Arrow path gives, the same values and the same dtypes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from benchmarks.botqueries import QUERIES, Context
from etl_duck.query import serving
from etl_duck.query.stats import Stats
from etl_duck.synth import Truth


def same(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """The same rows (in any order: a query without ORDER BY may return them in another
    order each run), the same dtypes."""
    if a.schema != b.schema:
        return False
    if a.equals(b):
        return True
    plain = [c for c, t in a.schema.items() if not t.is_nested()]
    return a.sort(plain, nulls_last=True).equals(b.sort(plain, nulls_last=True))


def test_every_answer_by_rows_is_the_answer_by_arrow(
    synthetic_lake: tuple[Path, Truth], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ = synthetic_lake
    by_rows: list[str] = []
    not_by_rows: list[str] = []

    def checked(cur: Any, text: str, params: dict[str, Any]) -> pl.DataFrame:
        arrow = serving.frame_by_arrow(cur, text, params)
        relation = serving.frame_by_relation(cur, text, params)
        assert same(relation, arrow), text
        rows = serving.frame_by_rows(cur, text, params)
        if rows is None:
            not_by_rows.append(text)
        else:
            by_rows.append(text)
            assert same(rows, arrow), text
        return arrow

    monkeypatch.setattr("etl_duck.query.stats.query_polars", checked)
    stats = Stats(data)
    board = stats.leaderboard("games", "all", 5, min_rounds=0)
    ctx = Context(str(board["name"][0]), str(board["guid"][0]))
    for q in QUERIES:
        q.call(stats, ctx)
    for window in ("session", "week", "month", "season"):
        stats.leaderboard("dpm", window)
    stats.rivals(ctx.guid)
    stats.records()
    month = stats.resolve_window("month")
    stats.session_reports(month.date_from, month.date_to)
    # the board, card, sessions, reports, records and rivals: dozens of queries by rows
    assert len(set(by_rows)) >= 12, len(set(by_rows))
    assert by_rows and len(by_rows) > len(not_by_rows)


def test_a_large_or_nested_answer_goes_by_relation_and_stays_there(
    synthetic_lake: tuple[Path, Truth], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the row limit, or with a type rows do not carry (a list), the rows path gives
    up (the result dropped, the cursor free) and the query text is not tried by rows again."""
    data, _ = synthetic_lake
    monkeypatch.setattr(serving, "_NOT_BY_ROWS", set())
    monkeypatch.delitem(sys.modules, "pyarrow")  # as in the bot's process
    stats = Stats(data)
    cur = stats.serving.cursor()
    big = f"SELECT range AS n FROM range({serving._ROWS_MAX + 1})"
    nested = "SELECT [1, 2] AS l, {'a': 1} AS s"
    small = f"SELECT range AS n, 'x' AS s, DATE '2024-02-29' AS d FROM range({serving._ROWS_MAX})"
    assert serving.frame_by_rows(cur, big, {}) is None
    assert serving.frame_by_rows(cur, nested, {}) is None
    assert cur.execute("SELECT 42").fetchall() == [(42,)]  # nothing left open
    assert serving.query_polars(cur, big, {})["n"].to_list() == list(range(serving._ROWS_MAX + 1))
    assert serving.query_polars(cur, nested, {}).row(0) == ([1, 2], {"a": 1})
    assert serving.query_polars(cur, small, {}).schema == pl.Schema(
        {"n": pl.Int64, "s": pl.String, "d": pl.Date}
    )
    assert {big, nested} == serving._NOT_BY_ROWS


def test_the_benchmark_times_the_bot_questions_in_a_process_without_pyarrow(
    synthetic_lake: tuple[Path, Truth],
) -> None:
    """benchmarks/bench_rows.py: every query of the bot's questions that goes by rows, timed
    both ways in a fresh process that never loads PyArrow (as the bot's)."""
    import json
    import subprocess

    data, _ = synthetic_lake
    code = (
        "import json, sys; from pathlib import Path; from benchmarks.bench_rows import main; "
        f"r = main(Path({str(data)!r}), 3); assert 'pyarrow' not in sys.modules; "
        "print(json.dumps(r))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    assert len(result) >= 8, sorted(result)
    assert all(0 < r["rows"] <= serving._ROWS_MAX for r in result.values())
    assert all(r["rows_ms"] > 0 and r["relation_ms"] > 0 for r in result.values())
    assert any(k.startswith("Per-player totals over a window") for k in result)
