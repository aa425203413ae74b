"""Header-only rounds (an idle server's timeouts) with the same bytes are separate rounds;
files with player lines under another name stay duplicates."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from tests.conftest import REAL
from tests.lakecheck import HEADER_ONLY as LAKE_HEADER_ONLY
from tests.lakecheck import table_rows

SERVER_ZONE = "Europe/Berlin"  # the ingest's default zone (IngestOptions.timezone)


HEADER_ONLY = REAL / "2024-09-12-174949-supply-round-2.txt"  # an idle server's timeout


def test_two_header_only_rounds_with_the_same_bytes_are_both_stored(
    data_dir: Path, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    a = files / HEADER_ONLY.name
    b = files / "2024-09-19-181002-supply-round-2.txt"
    shutil.copy(HEADER_ONLY, a)
    shutil.copy(HEADER_ONLY, b)
    assert a.read_bytes() == b.read_bytes() and len(a.read_bytes().splitlines()) == 1
    report = ingest_paths(data_dir, [files])
    assert sorted(report.ingested) == [a.name, b.name] and not report.duplicates
    names = sorted(str(r["file_name"]) for r in table_rows(data_dir, "rounds"))
    assert names == [a.name, b.name]

    # the same files again (and the same name from another folder): duplicates
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy(HEADER_ONLY, again / a.name)
    report = ingest_paths(data_dir, [files, again])
    assert not report.ingested and sorted(report.duplicates) == [a.name, a.name, b.name]
    assert not report.committed

    # a third round, header only, arrives later under its own name: stored too
    c = tmp_path / "2024-10-01-200000-supply-round-2.txt"
    shutil.copy(HEADER_ONLY, c)
    report = ingest_paths(data_dir, [c])
    assert report.ingested == [c.name] and not report.duplicates


def test_a_file_with_player_lines_under_another_name_stays_a_duplicate(
    data_dir: Path, tmp_path: Path
) -> None:
    src = REAL / "2024-09-11-212540-supply-round-1.txt"
    assert len(src.read_bytes().splitlines()) > 1
    ingest_paths(data_dir, [src])
    copy = tmp_path / "2024-09-11-222540-supply-round-1.txt"
    shutil.copy(src, copy)
    report = ingest_paths(data_dir, [copy])
    assert report.duplicates == [copy.name] and not report.ingested


def test_header_only_rounds_dismissed_resent_and_rebuilt(data_dir: Path, tmp_path: Path) -> None:
    """The other duplicate rules hold: a dismissed header-only file sent again stays a
    dismissed duplicate (its name and bytes), another round with its bytes lands, and a
    rebuild from raw/ gives the same lake."""
    from etl_duck.ingest.run import rebuild, resolve
    from tests.lakecheck import content_digest

    a = tmp_path / HEADER_ONLY.name
    shutil.copy(HEADER_ONLY, a)
    ingest_paths(data_dir, [a])
    resolve(data_dir, a.name, dismiss=True)
    assert Stats(data_dir).status()["dismissed"] == [a.name]
    report = ingest_paths(data_dir, [a])
    assert report.duplicates == [a.name] and not report.ingested
    assert Stats(data_dir).status()["dismissed"] == [a.name]

    b = tmp_path / "2024-09-19-181002-supply-round-2.txt"
    shutil.copy(HEADER_ONLY, b)
    report = ingest_paths(data_dir, [b])
    assert report.ingested == [b.name] and not report.duplicates
    assert Stats(data_dir).status()["dismissed"] == [a.name]
    live = content_digest(data_dir)
    rebuild(data_dir)
    assert content_digest(data_dir) == live


def test_an_idle_server_day_never_joins_two_evenings(data_dir: Path, tmp_path: Path) -> None:
    """An idle server writes a header-only round for each map that times out, all day (here
    every 13 minutes for a day). Stored, none counts (nobody played), and they never link
    rounds into one session: the next evening is a session of its own day, the last
    session and the month window are its, whether the files come at once or one by one."""
    import random
    from datetime import datetime, timedelta

    from tests.lakecheck import renamed_pair

    files = tmp_path / "files"
    files.mkdir()
    evening1 = renamed_pair(files, "2025-09-30-210000", "2025-09-30-211000", "a")
    idle = []
    t = datetime(2025, 9, 30, 21, 23)
    while t < datetime(2025, 10, 1, 21, 20):
        idle.append(files / f"{t:%Y-%m-%d-%H%M%S}-supply-round-2.txt")
        shutil.copy(HEADER_ONLY, idle[-1])
        t += timedelta(minutes=13)
    evening2 = renamed_pair(files, "2025-10-01-213333", "2025-10-01-214239", "b")
    report = ingest_paths(data_dir, [files])
    assert len(report.ingested) == 4 + len(idle) and not report.duplicates
    rounds = {str(r["file_name"]): r for r in table_rows(data_dir, "rounds")}
    assert {rounds[p.name]["reason"] for p in idle} == {"no_players"}
    assert not any(rounds[p.name]["counted"] for p in idle)
    sids = {p.name: rounds[p.name]["session_id"] for p in (*evening1, *evening2)}
    assert sids[evening1[0].name] == sids[evening1[1].name]
    assert sids[evening2[0].name] == sids[evening2[1].name] != sids[evening1[0].name]
    assert str(rounds[evening2[0].name]["session_date"]) == "2025-10-01"
    stats = Stats(data_dir)
    last = stats.last_session()
    assert (last.session_id, str(last.session_date)) == (sids[evening2[0].name], "2025-10-01")
    # the idle rounds within the gap before it are in it; its times are its played rounds'
    assert last.rounds.height > 2
    played = (rounds[evening2[0].name]["start_time"], rounds[evening2[1].name]["end_time"])
    assert (last.start_time, last.end_time) == played
    listed = stats.sessions().filter(pl.col("session_id") == last.session_id)
    assert (listed["start_time"][0], listed["end_time"][0]) == played
    # the site's table of the evening's rounds shows its two played rounds only
    from etl_duck.site.pages import _round_rows

    assert [r["file_name"] for r in _round_rows(last)] == [p.name for p in evening2]
    assert Stats(data_dir).resolve_window("month").date_from.isoformat() == "2025-10-01"

    # the same files one by one in a shuffled order: the same sessions
    live = tmp_path / "live"
    order = [*evening1, *idle[:12], *idle[-12:], *evening2]
    random.Random(7).shuffle(order)
    for p in order:
        ingest_paths(live, [p])
    live_rounds = {str(r["file_name"]): r["session_id"] for r in table_rows(live, "rounds")}
    assert live_rounds == {p.name: rounds[p.name]["session_id"] for p in order}


def _bot_posts(tmp_path: Path, factory: pytest.TempPathFactory, files: list[Path]) -> list[str]:
    """What the bot sends while an ingest commits ``files`` into a copy of the test lake."""
    from tests.bot_fakes import FakeChannel, ingest_under_a_bot, lake_copy

    channel = FakeChannel()
    ingest_under_a_bot(lake_copy(factory, tmp_path / "data"), tmp_path / "links.db", channel, files)
    return [str(s.embed.title if s.embed else s.content) for s in channel.sent]


def _idle_round(folder: Path, stamp: str) -> Path:
    path = folder / f"{stamp}-etl_frostbite-round-1.txt"
    path.write_bytes(LAKE_HEADER_ONLY.read_bytes().replace(b"Server", f"Server{stamp}".encode(), 1))
    return path


def test_the_bot_posts_nothing_for_an_idle_night(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Six map timeouts of an empty server in one commit: no post (they were a "6 rounds
    ingested" backlog post)."""
    files = tmp_path / "in"
    files.mkdir()
    sent = _bot_posts(
        tmp_path,
        tmp_path_factory,
        [_idle_round(files, f"2026-01-05-0{h}0000") for h in range(1, 7)],
    )
    assert sent == []


def test_idle_rounds_do_not_turn_an_evenings_posts_into_a_backlog(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A played map and three idle rounds before it in one commit: the two round posts and
    the map post go out live (the idle rounds made it a "5 rounds ingested" backlog)."""
    from tests.lakecheck import renamed_pair

    files = tmp_path / "in"
    files.mkdir()
    idle = [_idle_round(files, s) for s in ("2026-01-05-200000", "2026-01-05-201300")]
    idle.append(_idle_round(files, "2026-01-05-202600"))
    pair = list(renamed_pair(files, "2026-01-05-210000", "2026-01-05-211000", "P"))
    sent = _bot_posts(tmp_path, tmp_path_factory, [*idle, *pair])
    posts = [t for t in sent if not t.startswith("Scoreboard")]
    assert posts == ["supply — round 1", "supply — round 2", "Map finished: supply"]


def test_an_empty_server_shut_down_is_no_evenings_round(data_dir: Path, tmp_path: Path) -> None:
    """A header-only round on the shutdown path (c0rnp0rn8's H8 < 0: an empty server
    restarted) after an evening: `no_players` like any header-only round, so the evening
    ends with its last played round (it read 21:50, the empty server's restart)."""
    from tests.lakecheck import one_player_round

    files = tmp_path / "files"
    files.mkdir()
    one_player_round(files, "2025-03-01-210000", tag="a")
    last = one_player_round(files, "2025-03-01-213000", map_name="supply", tag="b")
    cut = files / "2025-03-01-215000-etl_frostbite-round-1.txt"
    header = LAKE_HEADER_ONLY.read_bytes().replace(b"Server", b"ServerX", 1)
    assert header.endswith(b"\\600210\n")
    cut.write_bytes(header.replace(b"\\600210\n", b"\\-5\n"))
    ingest_paths(data_dir, [files])
    rounds = {str(r["file_name"]): r for r in table_rows(data_dir, "rounds")}
    assert rounds[cut.name]["reason"] == "no_players"
    stats = Stats(data_dir)
    report = stats.last_session()
    assert report.end_time == rounds[last.name]["end_time"]
    assert stats.sessions()["end_time"].to_list() == [rounds[last.name]["end_time"]]


def test_lone_players_rounds_do_not_turn_an_evenings_posts_into_a_backlog(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A player alone on a public server (`one_side`: no game, no post) three times before an
    evening's map, in one commit: the two round posts and the map post go out live (the lone
    rounds made it a "5 rounds ingested" backlog post)."""
    from tests.lakecheck import renamed_pair

    files = tmp_path / "in"
    files.mkdir()
    lone = REAL / "2024-09-11-212540-supply-round-1.txt"
    alone = []
    for stamp in ("2026-01-05-200000", "2026-01-05-201600", "2026-01-05-203200"):
        path = files / f"{stamp}-supply-round-1.txt"
        path.write_bytes(stamp.encode() + lone.read_bytes())  # its own bytes: server name
        alone.append(path)
    pair = list(renamed_pair(files, "2026-01-05-210000", "2026-01-05-211000", "P"))
    sent = _bot_posts(tmp_path, tmp_path_factory, [*alone, *pair])
    posts = [t for t in sent if not t.startswith("Scoreboard")]
    assert posts == ["supply — round 1", "supply — round 2", "Map finished: supply"]
