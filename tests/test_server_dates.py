"""Dates on the game server's clock: today in its zone, relative windows from the latest
session date, and a session's history as every session that started before it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from typer.testing import CliRunner

from etl_duck.cli import app
from etl_duck.ingest.options import IngestOptions
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from tests.lakecheck import renamed_pair

SERVER_ZONE = "Europe/Berlin"  # the ingest's default zone (IngestOptions.timezone)


# --------------------------------------------------------------------------- 1: vs average


def test_vs_average_counts_an_earlier_session_of_the_same_date(
    data_dir: Path, tmp_path: Path
) -> None:
    """Two sessions on one date (more than the gap apart): the second one's history is the
    first one, not "a first night"."""
    files = tmp_path / "files"
    files.mkdir()
    renamed_pair(files, "2026-03-14-170000", "2026-03-14-170937", "early")
    renamed_pair(files, "2026-03-14-213512", "2026-03-14-214449", "late")
    ingest_paths(data_dir, [files])
    stats = Stats(data_dir, min_rounds=0)
    day = date(2026, 3, 14)
    listed = stats.sessions().sort("start_time")
    assert listed["session_date"].to_list() == [day, day]
    early, late = (int(s) for s in listed["session_id"])

    first = stats.session_vs_average(early, day)
    assert first["history_rounds"].to_list() == [0] * first.height  # nothing before it

    before = stats.session_vs_average(late, day)
    earlier = first.select("guid", pl.col("rounds").alias("h"), pl.col("dpm").alias("d"))
    got = before.join(earlier, on="guid", how="left").sort("guid")
    assert got.height == first.height and got["h"].null_count() == 0
    assert got["history_rounds"].to_list() == got["h"].to_list()
    assert min(got["history_rounds"]) > 0
    assert got["avg_dpm"].to_list() == pytest.approx(got["d"].to_list())


# --------------------------------------------------------------------------- 2: today


@pytest.fixture
def host_zone() -> Iterator[Callable[[str], None]]:
    """Set this process's own time zone (what ``date.today()`` reads); restored after."""
    old = os.environ.get("TZ")

    def put(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    yield put
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def _zone_off_the_servers_date() -> str:
    """A host zone whose date differs from the server's now (UTC+14 and UTC−12 are 26 hours
    apart: the server's date equals at most one of theirs)."""
    server = datetime.now(ZoneInfo(SERVER_ZONE)).date()
    for zone in ("Etc/GMT-14", "Etc/GMT+12"):
        if datetime.now(ZoneInfo(zone)).date() != server:
            return zone
    raise AssertionError("unreachable")


def test_session_today_is_the_servers_today(
    data_dir: Path,
    tmp_path: Path,
    host_zone: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ETL_DUCK_TIMEZONE", SERVER_ZONE)
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    host_zone(_zone_off_the_servers_date())
    today = datetime.now(ZoneInfo(SERVER_ZONE)).date()
    assert date.today() != today  # the host's date is another one
    files = tmp_path / "files"
    files.mkdir()
    for k in (-2, -1, 0, 1):
        d = (today + timedelta(days=k)).isoformat()
        renamed_pair(files, f"{d}-120000", f"{d}-120937", d)
    # tomorrow's round is dated up to 36 hours ahead of the real clock: the check of files
    # dated ahead (a wrong server clock) is off, or it would quarantine it half the day
    ingest_paths(data_dir, [files], IngestOptions(future_tolerance_hours=None))

    runner = CliRunner()
    for which, day in (("today", today), ("yesterday", today - timedelta(days=1))):
        res = runner.invoke(app, ["--data-dir", str(data_dir), "session", which])
        assert res.exit_code == 0, res.output
        assert res.output.splitlines()[0].startswith(f"Session {day.isoformat()}"), res.output

    # the query API's today (the "latest data" label of relative windows): the zone the
    # lake was built in, without settings; or the one it is given
    assert Stats(data_dir).today() == today
    far = "Etc/GMT+12"
    assert Stats(data_dir, timezone=far).today() == datetime.now(ZoneInfo(far)).date()


# --------------------------------------------------------------------------- 3: records


def test_relative_windows_count_from_the_latest_session_date(
    data_dir: Path, tmp_path: Path
) -> None:
    """The main server's session starts on 31 January and ends last; the scrim server's
    starts on 1 February: "this month" is February, the last session the main one."""
    main, scrim = tmp_path / "main", tmp_path / "scrim"
    main.mkdir()
    scrim.mkdir()
    renamed_pair(main, "2025-01-31-230000", "2025-01-31-230937", "a")
    renamed_pair(main, "2025-02-01-000000", "2025-02-01-000937", "b")
    renamed_pair(main, "2025-02-01-005000", "2025-02-01-005937", "c")
    renamed_pair(scrim, "2025-02-01-003000", "2025-02-01-003937", "d")
    ingest_paths(data_dir, [main])
    ingest_paths(data_dir, [scrim], server="scrim")
    stats = Stats(data_dir, min_rounds=0)
    assert sorted(stats.sessions()["session_date"].to_list()) == [
        date(2025, 1, 31),
        date(2025, 2, 1),
    ]
    sid, sdate = stats.session_id_for(None)
    assert sdate == date(2025, 1, 31)  # the session that ended last
    month = stats.resolve_window("month")
    assert (month.date_from, month.date_to) == (date(2025, 2, 1), date(2025, 2, 28))
    week = stats.resolve_window("week")
    assert week.date_from <= date(2025, 2, 1) <= week.date_to
    assert stats.resolve_window("session").session_id == sid
    # a fresh process agrees (the anchor is read when the serving tables are)
    again = Stats(data_dir, min_rounds=0)
    assert again.resolve_window("month").date_from == date(2025, 2, 1)


# --------------------------------------------------------------------------- 5: header-only
