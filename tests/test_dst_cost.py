"""What reading sessions across a clock change costs, and a wrong zone's skipped hour.

The listing after every commit (``Stats.sessions``) showed each history session a clock
change touches on the real clock by weighing every reading of the names in the repeated
autumn hour (up to 2^12 evenings each), again at each lake version: ~1 s a commit on a lake
with seven such nights, on the bot's 2-core host. A history session's rounds do not change
between commits, so its clock is read once; and the readings weighed are few.

A server that is not in the configured zone (the default, Europe/Berlin) can write names
in the hour Berlin's clock skips; those read as the jump's instant, which was found to a
fraction of a second, and the session showed an end with microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from etl_duck.domain import sessions
from etl_duck.domain.sessions import RoundTime, ServerClock, session_clock
from etl_duck.ingest.options import IngestOptions
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from tests.lakecheck import R1, R2
from tests.test_dst_sessions import BREAK, LENGTH, WRITE, Played, _evening, _expected, _wall


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Count the calls of ``sessions.<name>`` (the real function still runs)."""
    calls = [0]
    real: Callable[..., Any] = getattr(sessions, name)

    def counted(*args: Any) -> Any:
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(sessions, name, counted)
    return calls


def test_a_commit_reads_no_history_session_across_a_change_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An evening through the repeated hour, listed; then a commit of another evening (a
    new lake version): the listing is computed again, but the history evening's readings
    are not weighed again, neither by the bot's Stats nor by a fresh one in the same
    process (a CLI call, the site) — and it still shows the real start, end and length."""
    files, data = tmp_path / "files", tmp_path / "data"
    files.mkdir()
    # 01:31 summer time, 6 maps: through both passes of 02:00-03:00 (its own times: no
    # other test reads this evening, so nothing of it is known before)
    played = _evening(files, datetime(2025, 10, 25, 23, 31, tzinfo=UTC), 6)
    ingest_paths(data, [files], IngestOptions(timezone="Europe/Berlin"))
    searched = _spy(monkeypatch, "_played_ends")
    start, end, length, _ = _expected(played)

    def autumn_row(stats: Stats) -> tuple[datetime, datetime, int]:
        listing = stats.sessions()
        (row,) = listing.filter(listing["session_date"] == date(2025, 10, 26)).iter_rows(named=True)
        return row["start_time"], row["end_time"], row["duration_s"]

    bot = Stats(data, min_rounds=0)
    assert autumn_row(bot) == (start, end, length.total_seconds())
    assert searched[0] == 1
    version = bot.version()

    later = tmp_path / "later"
    later.mkdir()
    _evening(later, datetime(2025, 11, 8, 19, 0, tzinfo=UTC), 2)
    ingest_paths(data, [later], IngestOptions(timezone="Europe/Berlin"))
    assert bot.version() > version
    assert autumn_row(bot) == (start, end, length.total_seconds())
    assert bot.sessions().height == 2  # the listing is the new version's
    assert autumn_row(Stats(data, min_rounds=0)) == (start, end, length.total_seconds())
    assert searched[0] == 1


def _through_the_change(first: datetime, maps: int) -> tuple[list[Played], list[RoundTime]]:
    """The supply pair's rounds back to back from the real instant ``first`` (a minute
    between them), as Berlin's clock names them."""
    played: list[Played] = []
    at = first
    for m in range(maps):
        for n in (1, 2):
            end = at + LENGTH[n] + WRITE
            played.append(Played(f"{_wall(end):%Y-%m-%d-%H%M%S}-m{m}-round-{n}.txt", at, end))
            at = end + BREAK
    rounds = [RoundTime(p.name, _wall(p.end), _wall(p.end) - (p.end - p.start)) for p in played]
    return played, rounds


def test_an_hour_of_rounds_weighs_few_readings(monkeypatch: pytest.MonkeyPatch) -> None:
    """12 names in the repeated hour (the most read every way: 4,096 evenings): a few
    hundred readings are weighed, and the evening is the real one."""
    played, rounds = _through_the_change(datetime(2025, 10, 25, 23, 0, tzinfo=UTC), 9)
    clock = ServerClock("Europe/Berlin")
    assert sum(len(clock.readings(r.end_time)) == 2 for r in rounds) == 12
    round1_of = {p.name: q.name for q, p in zip(played[::2], played[1::2], strict=True)}
    weighed = _spy(monkeypatch, "_cost")
    got = session_clock(rounds, "Europe/Berlin", round1_of)
    start, end, length, order = _expected(played)
    assert (got.rounds, got.start, got.end, got.duration) == (tuple(order), start, end, length)
    assert 0 < weighed[0] <= 512


def _skipped_hour_rounds() -> Iterator[tuple[datetime, timedelta]]:
    """A server on UTC (Berlin's zone configured): rounds of 8 minutes named 01:00 to 02:50
    on the day Berlin skips 02:00-03:00, every 10 minutes."""
    for i in range(12):
        yield datetime(2025, 3, 30, 1, 0) + timedelta(minutes=10 * i), timedelta(minutes=8)


def test_a_name_in_the_skipped_hour_reads_as_the_whole_second_of_the_jump() -> None:
    """Berlin's clock jumps at 01:00:00 UTC on 2025-03-30 (the EU rule: the last Sunday of
    March, 01:00 UTC): every name the jump skipped reads as that instant, to the second."""
    jump = datetime(2025, 3, 30, 1, 0, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")  # the change, independently: the offset either side
    assert (jump - timedelta(seconds=1)).astimezone(berlin).utcoffset() == timedelta(hours=1)
    assert jump.astimezone(berlin).utcoffset() == timedelta(hours=2)
    clock = ServerClock("Europe/Berlin")
    for name in (datetime(2025, 3, 30, 2, 0), datetime(2025, 3, 30, 2, 30, 17)):
        assert clock.readings(name) == (jump,)
    assert clock.gap(datetime(2025, 3, 30, 1, 58), datetime(2025, 3, 30, 2, 30)) == timedelta(
        minutes=2
    )


def test_a_session_in_the_skipped_hour_shows_its_names(tmp_path: Path) -> None:
    """Names the zone's clock never shows are another clock's: the session shows its
    names' start, end and length (00:52 to 02:50, 1 h 58 min), to the second, in their
    order — not an end at the jump's instant with microseconds, 1 h 08 min long."""
    rounds = [
        RoundTime(f"{t:%Y-%m-%d-%H%M%S}-supply-round-{i % 2 + 1}.txt", t, t - length)
        for i, (t, length) in enumerate(_skipped_hour_rounds())
    ]
    got = session_clock(list(reversed(rounds)), "Europe/Berlin")
    assert got.rounds == tuple(r.name for r in rounds)
    assert (got.start, got.end) == (datetime(2025, 3, 30, 0, 52), datetime(2025, 3, 30, 2, 50))
    assert got.duration == timedelta(hours=1, minutes=58)

    # through the lake: the listing and the session report
    files, data = tmp_path / "files", tmp_path / "data"
    files.mkdir()
    for i, (t, length) in enumerate(_skipped_hour_rounds()):
        src = (R1, R2)[i % 2]
        head, _, rest = src.read_bytes().partition(b"\n")
        ms = int((length - WRITE).total_seconds() * 1000)  # the start: end - play - 3 s
        head = re.sub(rb"\\\d+(\r?)$", rb"\\%d\1" % ms, head)
        head = head.replace(b"Server", f"Server skip{i // 2}".encode(), 1)
        (files / f"{t:%Y-%m-%d-%H%M%S}-supply-round-{i % 2 + 1}.txt").write_bytes(
            head + b"\n" + rest
        )
    ingest_paths(data, [files], IngestOptions(timezone="Europe/Berlin"))
    stats = Stats(data, min_rounds=0)
    (row,) = stats.sessions().iter_rows(named=True)
    shown = (row["start_time"], row["end_time"], row["duration_s"])
    assert shown == (datetime(2025, 3, 30, 0, 52), datetime(2025, 3, 30, 2, 50), 7080)
    rep = stats.session(int(row["session_id"]))
    assert (rep.start_time, rep.end_time) == (shown[0], shown[1])
    assert rep.duration == timedelta(hours=1, minutes=58)
    assert rep.rounds["file_name"].to_list() == [r.name for r in rounds]
