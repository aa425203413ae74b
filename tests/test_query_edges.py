"""Query edge cases: empty lake, one round, midnight, renames, orphans, zero deaths/time."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from etl_duck.domain.parse import read_round_file
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import NoData, PlayerNotFound, Stats
from tests.lakecheck import R1, R2, one_player_round


def test_empty_lake(data_dir: Path) -> None:
    stats = Stats(data_dir)
    assert stats.version() == 0
    assert stats.leaderboard("kills").is_empty()
    assert stats.sessions().is_empty()
    with pytest.raises(NoData):
        stats.last_session()
    with pytest.raises(PlayerNotFound):
        stats.player("anyone")
    assert stats.status()["rounds"] == 0


def test_one_round(data_dir: Path) -> None:
    ingest_paths(data_dir, [R1])
    stats = Stats(data_dir, min_rounds=0)
    board = stats.leaderboard("kills", limit=3)
    kills = sorted((int(p.values["kills"] or 0) for p in read_round_file(R1).players), reverse=True)
    assert board["value"].to_list() == kills[:3]
    rep = stats.last_session()
    assert rep.players.height == 6 and rep.teams is None  # no complete map to score


def test_zero_deaths_and_zero_time(data_dir: Path, tmp_path: Path) -> None:
    ingest_paths(data_dir, [R1])
    stats = Stats(data_dir, min_rounds=0)
    blue = stats.player("BlueJay").totals  # 9 kills, 0 deaths in round 1
    assert (blue["deaths"], blue["kd"], blue["efficiency"]) == (0, 9.0, 100.0)
    # a line with X22 = 0.0: DPM is undefined (null), never a division by zero
    text = R1.read_text().splitlines()
    fields = text[2].split("\t")
    fields[23] = "0.0"
    text[2] = "\t".join(fields)
    zero = tmp_path / "2026-03-20-213512-supply-round-1.txt"
    zero.write_text("\n".join(text) + "\n")
    other = Stats(tmp_path / "d2", min_rounds=0)
    ingest_paths(tmp_path / "d2", [zero])
    card = other.player(text[2].split("\\")[0]).totals
    assert card["time_played_s"] == 0 and card["dpm"] is None


def test_renamed_player_keeps_one_identity(data_dir: Path, tmp_path: Path) -> None:
    ingest_paths(data_dir, [R1, R2])
    renamed = tmp_path / "2026-03-15-213512-supply-round-1.txt"
    renamed.write_bytes(
        R1.read_bytes().replace(b"^1Ra^7ven", b"^1Crow").replace(b"Server", b"Srv", 1)
    )
    ingest_paths(data_dir, [renamed])
    stats = Stats(data_dir, min_rounds=0)
    card = stats.player("Raven")
    assert card.name == "Crow"  # the latest name
    assert set(card.aliases["name"]) == {"Raven", "Crow"}
    board = stats.leaderboard("kills", limit=50)
    assert board.filter(board["guid"] == "7A3E9B21")["name"].item() == "Crow"
    assert board.filter(board["guid"] == "7A3E9B21")["value"].item() == 8 + 7 + 8


def test_orphan_round2_is_left_out(data_dir: Path) -> None:
    ingest_paths(data_dir, [R2])
    stats = Stats(data_dir, min_rounds=0)
    assert stats.leaderboard("kills").is_empty()
    assert stats.status()["excluded"] == {"orphan_r2": 1}


def test_a_date_resolves_to_the_session_that_started_that_day(
    data_dir: Path, tmp_path: Path
) -> None:
    files = [
        one_player_round(tmp_path, "2026-01-10-234500"),
        one_player_round(tmp_path, "2026-01-11-003000", "supply"),
    ]
    ingest_paths(data_dir, files)
    stats = Stats(data_dir)
    a = stats.session(date(2026, 1, 10))
    assert a.session_date == date(2026, 1, 10) and a.rounds.height == 2
    assert stats.session(date(2026, 1, 11)).session_id == a.session_id  # ran into that day
    with pytest.raises(NoData):
        stats.session(date(2026, 1, 12))


def test_unknown_player_gets_suggestions(data_dir: Path) -> None:
    ingest_paths(data_dir, [R1])
    stats = Stats(data_dir)
    with pytest.raises(PlayerNotFound) as exc:
        stats.player("Ravn")
    assert "Raven" in exc.value.suggestions or stats.resolve_player("Ravn")[1] == "Raven"


def test_bad_window_and_metric_are_clear_errors(data_dir: Path) -> None:
    stats = Stats(data_dir)
    with pytest.raises(ValueError, match="unknown leaderboard"):
        stats.leaderboard("nonsense")
    with pytest.raises(ValueError, match="window"):
        stats.resolve_window("fortnight")
    with pytest.raises(ValueError, match="ends before"):
        stats.resolve_window("2026-02-01..2026-01-01")


def test_sql_injection_is_just_a_name(data_dir: Path) -> None:
    ingest_paths(data_dir, [R1])
    stats = Stats(data_dir)
    assert stats.find_player("x'; DROP TABLE player_rounds; --").is_empty()
    assert stats.leaderboard("kills", min_rounds=0).height == 6


def test_the_calendars_first_and_last_days_are_plain_no_data(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`/session date:0001-01-01` got the bug apology and `etl-duck session 0001-01-01`
    "unexpected error" (the day before it does not exist); the month 9999-12 too."""
    from etl_duck.cli import run

    ingest_paths(data_dir, [R1, R2])
    stats = Stats(data_dir)
    for day in (date.min, date.max):
        with pytest.raises(NoData, match="No session on"):
            stats.session(day)
    assert stats.sessions("9999-12").is_empty() and stats.sessions("0001-01").is_empty()
    capsys.readouterr()
    code = run(["--data-dir", str(data_dir), "session", "0001-01-01"])
    err = capsys.readouterr().err
    assert "unexpected" not in err and "No session on 0001-01-01" in err, (code, err)


def test_excluded_rounds_ties_come_in_a_stable_order() -> None:
    """`export excluded_rounds` and `status`'s "not counted" rows: two reasons with as many
    rounds came in either order (an upgrade's comparison of two exports differed)."""
    import duckdb

    from etl_duck.sqlfiles import sql

    con = duckdb.connect()
    reasons = ["restart"] * 4 + ["orphan_r2"] * 4 + ["filler_map"] * 2 + ["zz_other"] * 4
    con.execute("CREATE TABLE rounds (reason VARCHAR, counted BOOLEAN)")
    for order in (reasons, reasons[::-1]):  # rows stored in both orders
        con.execute("DELETE FROM rounds")
        con.executemany("INSERT INTO rounds VALUES (?, false)", [[r] for r in order])
        con.execute("INSERT INTO rounds VALUES ('', true)")
        got = con.execute(sql("excluded_rounds")).fetchall()
        assert got == [("orphan_r2", 4), ("restart", 4), ("zz_other", 4), ("filler_map", 2)]
