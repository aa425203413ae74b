"""The `etl-duck` command line, end to end on real files in a temp data dir."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from etl_duck.cli import app
from tests.conftest import FIXTURES, REAL
from tests.lakecheck import R1, R2

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_parse_json_shows_round_only_values() -> None:
    code, out = run("parse", str(R1), str(R2), "--json")
    assert code == 0
    files = {f["file"]: f for f in json.loads(out)}
    r2 = {p["guid"]: p for p in files[R2.name]["players"]}
    raven = r2["7A3E9B21"]
    assert (raven["name"], raven["kills"], raven["deaths"], raven["damage_given"], raven["time_played_s"]) == (
        "Raven", 7, 7, 1006, 474,
    )  # fmt: skip
    assert files[R2.name]["header"]["duration_s"] == 472.31


def test_parse_pairs_across_the_clock_change_and_ignores_unrelated_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`parse` pairs with the server's zone (a round 2 named in the repeated hour), and an
    unrelated bad setting does not stop it from showing files."""
    r1 = tmp_path / "2025-10-26-025500-supply-round-1.txt"  # 02:55 summer time
    r2 = tmp_path / "2025-10-26-020437-supply-round-2.txt"  # 03:04:37 summer = 02:04:37 winter
    r1.write_bytes(R1.read_bytes())
    r2.write_bytes(R2.read_bytes())
    monkeypatch.setenv("ETL_DUCK_POLL_INTERVAL_S", "abc")
    code, out = run("parse", str(r1), str(r2), "--json")
    assert code == 0, out
    files = {f["file"]: f for f in json.loads(out)}
    raven = {p["guid"]: p for p in files[r2.name]["players"]}["7A3E9B21"]
    assert (raven["row"], raven["kills"]) == ("r2_diff", 7)
    monkeypatch.setenv("ETL_DUCK_TIMEZONE", "UTC")  # no repeated hour: the names' order
    code, out = run("parse", str(r1), str(r2), "--json")
    raven = {p["guid"]: p for p in json.loads(out)[1]["players"]}["7A3E9B21"]
    assert raven["row"] == "orphan_r2"


def test_parse_reports_bad_lines_and_fails_on_a_bad_file(tmp_path: Path) -> None:
    code, out = run(
        "parse", str(FIXTURES / "2026-03-14-224455-sw_goldrush_te-round-1.txt"), "--json"
    )
    assert code == 3 and [r["line"] for r in json.loads(out)["rejected"]] == [3, 4, 5]
    bad = tmp_path / "2026-03-14-235959-supply-round-1.txt"
    bad.write_text("srv\\supply\\cfg\\x\\1\\2\\12:00\\8:41\n")
    code, out = run("parse", str(bad))
    assert code == 1 and f"{bad.name}:1: H3 round" in out


def test_ingest_status_top_session_player_export(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    code, out = run("--data-dir", d, "ingest", str(REAL))
    assert code == 3 and "92 ingested" in out and "4 duplicate" in out  # README.md skipped
    assert f"skipped {REAL / 'README.md'}: not a round stats file name" in " ".join(out.split())
    code, out = run("--data-dir", d, "status", "--json")
    status = json.loads(out)
    # one_side: 2024-09-11's supply round 1, a player alone on the server for 15 minutes
    excluded = {"orphan_r2": 9, "no_players": 1, "one_side": 1}
    assert (status["rounds"], status["excluded"]) == (92, excluded)
    code, out = run("--data-dir", d, "top", "kills", "--limit", "3", "--min-rounds", "1", "--json")
    rows = json.loads(out)["rows"]
    assert len(rows) == 3 and {
        "guid",
        "name",
        "kills",
        "deaths",
        "damage_given",
        "dpm",
        "rounds",
    } <= set(rows[0])
    truth = (
        pl.scan_parquet(Path(d) / "lake/player_rounds/**/*.parquet", hive_partitioning=True)
        .filter(pl.col("counted"))
        .group_by("guid")
        .agg(pl.col("kills").sum())
        .sort("kills", descending=True)
        .collect()
    )
    assert [r["kills"] for r in rows] == truth["kills"].head(3).to_list()
    code, out = run("--data-dir", d, "session", "2025-11-11", "--json")
    s = json.loads(out)
    assert s["session_date"] == "2025-11-11" and len(s["maps"]) == 10 and s["mvp"]["guid"]
    code, out = run("--data-dir", d, "player", "vid", "--json")
    assert json.loads(out)["guid"] == "D8423F90"
    code, out = run("--data-dir", d, "player", "nobody-like-this")
    assert code == 2 and "No player matches" in out
    target = tmp_path / "totals.parquet"
    code, out = run(
        "--data-dir", d, "export", "player_totals", "--format", "parquet", "--out", str(target)
    )
    assert code == 0 and pl.read_parquet(target)["kills"].sum() == truth["kills"].sum()
    code, out = run("--data-dir", d, "sessions", "--month", "2025-10", "--json")
    assert {r["session_date"] for r in json.loads(out)} == {"2025-10-02", "2025-10-12"}


def test_rebuild_keeps_the_content(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    run("--data-dir", d, "ingest", str(REAL))
    before = run("--data-dir", d, "status", "--json")[1]
    code, out = run("--data-dir", d, "rebuild")
    assert code == 0 and "92 ingested" in out  # rebuild reads raw/ only: nothing skipped
    after = json.loads(run("--data-dir", d, "status", "--json")[1])
    assert {k: v for k, v in after.items() if k != "version"} == {
        k: v for k, v in json.loads(before).items() if k != "version"
    }


def test_bad_arguments_are_clear(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    code, out = run("--data-dir", d, "session", "last")
    assert code == 1 and "no lake at" in out
    run("--data-dir", d, "ingest", str(FIXTURES / "2026-03-14-223140-etl_frostbite-round-1.txt"))
    code, out = run("--data-dir", d, "top", "nonsense")
    assert code == 2 and "unknown leaderboard" in out
    code, out = run("--data-dir", d, "session", "2020-01-01")
    assert code == 1 and "No session on 2020-01-01" in out


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    d = tmp_path / "data"
    code, out = run("--data-dir", str(d), "demo", "--days", "10")
    assert code == 0, out
    assert "ingested" in out and "MVP" in out
    # its last words say where the command is (it is not on PATH after `make demo`)
    assert "etl-duck is installed in the project's virtualenv" in " ".join(out.split())
    charts = list((d / "charts").glob("session-*.png"))
    assert len(charts) == 1 and charts[0].read_bytes()[:4] == b"\x89PNG"
