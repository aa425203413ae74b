"""An answer built from several queries reads ONE lake version (review 204).

A commit that lands between the queries of one answer (another process, the fetch) made a
session report of 18 rounds with 913 kills and 10 maps — the old rounds, the new players
and maps — cached under the old version's key. Each test lands a commit at a chosen point
of one answer (a hook on ``Stats.run``: the order is forced, nothing is timed) and checks
that the answer is wholly the old version's or wholly the new one's, and that the cache
entry it went under is keyed by the version it read.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from etl_duck.ingest.run import ingest_paths
from etl_duck.lake.snapshot import REPIN_GRACE_S, LakeError, SnapshotGone
from etl_duck.query.aio import AsyncStats
from etl_duck.query.serving import PIN_RENEW_S
from etl_duck.query.stats import SessionReport, SocialIndex, Stats
from etl_duck.query.windows import ALL_FROM, ALL_TO
from tests.lakecheck import renamed_pair

DAY = date(2026, 3, 14)
GUID = "7A3E9B21"  # plays every round of the supply fixture


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[tuple[Path, list[Path]]]:
    """(data dir at v1: one supply map; the files of v2: a second map the same evening)."""
    data = tmp_path / "data"
    first = renamed_pair(tmp_path, "2026-03-14-210000", "2026-03-14-211000", "a")
    later = tmp_path / "later"
    later.mkdir()
    second = renamed_pair(later, "2026-03-14-212000", "2026-03-14-213000", "b")
    ingest_paths(data, list(first))
    yield data, list(second)


def report_shape(rep: SessionReport) -> tuple[int, int, int, int]:
    return (rep.rounds.height, int(rep.players["kills"].sum()), rep.maps.height,
            rep.dpm_timeline.height)  # fmt: skip


def card_shape(stats: Stats) -> tuple[int, int, int, int]:
    card = stats.player(GUID)
    return (int(card.totals["rounds"]), int(card.totals["kills"]), card.last_rounds.height,
            int(card.maps["rounds"].sum()))  # fmt: skip


def social_shape(idx: SocialIndex) -> tuple[int, int, int]:
    return idx.results.height, idx.rounds.height, int(idx.sessions["kills"].sum())


def commit_after(stats: Stats, query: str, files: list[Path], before: bool = False) -> list[str]:
    """Land a commit of ``files`` (as another process would) right after the first run of
    ``query`` in this Stats (``before``: right before it); returns the queries run."""
    real_run = stats.run
    ran: list[str] = []

    def run(name: str, dates: list[date] | None = None, **params: Any) -> Any:
        if before and name == query and not ran.count(query):
            ingest_paths(stats.lake.data_dir, files)
        ran.append(name)
        out = real_run(name, dates, **params)
        if not before and name == query and ran.count(query) == 1:
            ingest_paths(stats.lake.data_dir, files)
        return out

    stats.run = run  # type: ignore[method-assign]
    return ran


def keyed_by_version_read(
    stats: Stats, key: Hashable, shape_at: dict[int, Any], shape: Callable[[Any], Any]
) -> list[int]:
    """The version parts of the cache entries of ``key``; each entry's value must be the
    answer of that version (its window's signature: the version that last changed it)."""
    found = []
    for k in list(stats.cache._lru.keys()):  # private: the entries, as the LRU holds them
        assert isinstance(k, tuple)
        if k[0] == key:
            sig = k[2]
            assert shape(stats.cache._lru[k]) == shape_at[sig], f"{key} at v{sig}"
            found.append(sig)
    return sorted(found)


def expected(data: Path, files: list[Path], ask: Callable[[Stats], Any]) -> dict[int, Any]:
    """The answer at v1 and at v2, each from a fresh process's view of that version."""
    old = ask(Stats(data, min_rounds=1))
    ingest_paths(data, files)
    new = ask(Stats(data, min_rounds=1))
    return {1: old, 2: new}


@pytest.mark.parametrize("when", ["between", "before"])
def test_a_session_report_reads_one_version(
    lake: tuple[Path, list[Path]], tmp_path: Path, when: str
) -> None:
    """The reviewer's case: a commit between ``session_rounds`` and the report's other
    queries (or right after the cache key was taken, before the first query)."""
    data, files = lake
    twin = tmp_path / "twin"
    import shutil

    shutil.copytree(data, twin, symlinks=True)
    sid = Stats(data, min_rounds=1).session_id_for(DAY)[0]
    truth = expected(twin, files, lambda s: report_shape(s.session_by_id(sid, DAY)))
    assert truth[1] != truth[2]

    stats = Stats(data, min_rounds=1)
    stats.version()
    ran = commit_after(stats, "session_rounds", files, before=when == "before")
    got = report_shape(stats.session_by_id(sid, DAY))
    assert ran.count("session_rounds") == 1 and len(ran) > 1  # the commit fell inside
    assert got in (truth[1], truth[2]), f"half old, half new: {got} vs {truth}"
    assert got == truth[1]  # read at the version its key was taken at
    assert keyed_by_version_read(stats, ("session", sid, 0), truth, report_shape) == [1]
    # asked again: the new version's report, under the new version's key
    assert report_shape(stats.session_by_id(sid, DAY)) == truth[2]
    assert keyed_by_version_read(stats, ("session", sid, 0), truth, report_shape) == [1, 2]


def test_a_player_card_reads_one_version(lake: tuple[Path, list[Path]], tmp_path: Path) -> None:
    """A career card: the career totals, then its weapons, maps, last rounds and aliases
    in a second query; the commit lands between the two."""
    import shutil

    data, files = lake
    twin = tmp_path / "twin"
    shutil.copytree(data, twin, symlinks=True)
    truth = expected(twin, files, card_shape)
    assert truth[1] != truth[2]

    stats = Stats(data, min_rounds=1)
    stats.version()
    ran = commit_after(stats, "career_totals", files)
    got = card_shape(stats)
    assert "career_totals" in ran and stats.lake.version() == 2  # the commit fell inside
    assert got in (truth[1], truth[2]), f"half old, half new: {got} vs {truth}"
    assert card_shape(stats) == truth[2]  # and the next question reads the new version


def test_the_social_index_reads_one_version(lake: tuple[Path, list[Path]], tmp_path: Path) -> None:
    """Records, rivals, teammates and events read the social index: five queries, the
    commit lands after the first; the entry is keyed by the version read."""
    import shutil

    data, files = lake
    twin = tmp_path / "twin"
    shutil.copytree(data, twin, symlinks=True)
    truth = expected(twin, files, lambda s: social_shape(s.social()))
    assert truth[1] != truth[2]

    stats = Stats(data, min_rounds=1)
    stats.version()
    commit_after(stats, "social_match_results", files)
    got = social_shape(stats.social())
    assert got in (truth[1], truth[2]), f"half old, half new: {got} vs {truth}"
    assert keyed_by_version_read(stats, ("social",), truth, social_shape) == [1]
    stats.records()  # built on the index of the version now
    assert keyed_by_version_read(stats, ("social",), truth, social_shape) == [1, 2]


def test_a_pin_blocks_no_other_thread(lake: tuple[Path, list[Path]]) -> None:
    """One thread reading an answer at the old version holds no lock: another thread
    answers at the new version meanwhile (the pin is per thread), and the old snapshot
    stays readable until the pinned answer ends; a pin inside a pin reads the same."""
    data, files = lake
    stats = Stats(data, min_rounds=1)
    window = (ALL_FROM, ALL_TO)
    got: dict[str, Any] = {}
    with stats.serving.pinned() as (version, _):
        assert version == 1
        old = stats.run("career_totals")

        def other() -> None:
            ingest_paths(data, files)
            got["version"] = stats.version()
            got["kills"] = int(stats.run("career_totals")["kills"].sum())
            got["sig"] = stats.serving.signature(*window)

        t = threading.Thread(target=other)
        t.start()
        t.join(60)  # returns when the thread ends; long only when it is blocked
        assert not t.is_alive(), "a pin in one thread blocked another's refresh"
        assert got["version"] == got["sig"] == 2
        assert got["kills"] > int(old["kills"].sum())
        # this thread still reads v1, inside a nested pin too
        with stats.serving.pinned() as (inner, _):
            assert inner == 1 == stats.version() == stats.serving.signature(*window)
            assert stats.run("career_totals").equals(old)
    assert stats.version() == 2
    assert int(stats.run("career_totals")["kills"].sum()) == got["kills"]


def test_the_rating_asked_at_an_older_version_than_the_book(
    lake: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    """An answer pinned at v1 asks for the ratings after another thread brought the rating
    book to v2: it gets v1's ratings (replayed for it), and the book stays at v2."""
    import shutil

    data, files = lake
    twin = tmp_path / "twin"
    shutil.copytree(data, twin, symlinks=True)
    truth = expected(twin, files, lambda s: s.ratings().maps)

    stats = Stats(data, min_rounds=1)
    with stats.serving.pinned():
        t = threading.Thread(target=lambda: (ingest_paths(data, files), stats.ratings()))
        t.start()
        t.join(60)  # returns when the thread ends; long only when it is blocked
        assert not t.is_alive(), "a pin in one thread blocked another's refresh"
        assert stats.ratings().maps == truth[1]
    assert stats.ratings().maps == truth[2]
    assert stats._rating_book._version == 2  # private: the book was not taken back


# ---- a pin past the lease an older snapshot keeps (review 209)


def later_commits(folder: Path, n: int = 3) -> list[list[Path]]:
    """``n`` more maps of the same evening, a commit each: enough for expiry to remove a
    snapshot whose lease has lapsed (it keeps the last few otherwise)."""
    out = []
    for i in range(n):
        f = folder / f"more{i}"
        f.mkdir()
        a, b = f"2026-03-14-22{2 * i}000", f"2026-03-14-22{2 * i + 1}000"
        out.append(list(renamed_pair(f, a, b, f"m{i}")))
    return out


def served_elsewhere(stats: Stats, files: list[Path]) -> None:
    """Commit ``files`` and serve the new version in another thread (this one is pinned):
    the pinned thread's snapshot is now an older one, held a minute."""
    t = threading.Thread(target=lambda: (ingest_paths(stats.lake.data_dir, files), stats.version()))
    t.start()
    t.join(120)  # returns when the thread ends; long only when it is blocked
    assert not t.is_alive() and stats.lake.version() == 2


def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Move this process's wall clock on (``time.time``: leases, expiry, pins read it)."""
    real, ahead = time.time, [0.0]
    monkeypatch.setattr(time, "time", lambda: real() + ahead[0])

    def move(seconds: float) -> None:
        ahead[0] += seconds

    return move


def lease_until(stats: Stats, snap: Path) -> float:
    """When the Serving's lease of ``snap`` ends (its lease file's mtime)."""
    holder = stats.serving._holder  # private: the lease file's name
    return (stats.lake.snapshots / "leases" / f"{snap.name}.{os.getpid()}.{holder}").stat().st_mtime


def test_a_pinned_answer_reads_on_past_the_minute(
    lake: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewer's case: an answer pinned at v1 while v2 is served elsewhere; once a
    newer version is served the older one is leased a minute, and an answer still reading
    it after that lost its files to the next commit's expiry — failing as a damaged lake
    ("run `etl-duck check` / `rebuild`"). The pin renews its lease as it reads."""
    import shutil

    assert PIN_RENEW_S == REPIN_GRACE_S / 2
    data, files = lake
    more = later_commits(tmp_path)
    twin = tmp_path / "twin"  # (a reader of this lake would hold v1 for ten minutes)
    shutil.copytree(data, twin, symlinks=True)
    expect = report_shape(Stats(twin, min_rounds=1).session(DAY))
    stats = Stats(data, min_rounds=1)
    move = clock(monkeypatch)
    with stats.serving.pinned() as (version, snap):
        assert version == 1 and snap is not None
        stats.run("career_totals")
        served_elsewhere(stats, files)
        move(PIN_RENEW_S + 1)
        stats.run("career_totals")  # the answer reads on (a slow one): its lease renewed
        move(PIN_RENEW_S)  # 61 s after v2 was served: past the minute v1 was held for
        for f in more:
            ingest_paths(data, f)  # each commit expires what no lease holds
        assert snap.exists()
        assert report_shape(stats.session(DAY)) == expect  # read at v1, whole
    # the pin ended: v1 is let go at once (the renewal keeps nothing after it)
    assert stats.serving._active == 0 and lease_until(stats, snap) <= time.time()
    assert stats.version() == 5


@pytest.mark.parametrize("how", ["read nothing for a minute", "lease cut"])
def test_a_pinned_answer_whose_snapshot_is_gone_says_ask_again(
    lake: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """When the pinned snapshot is gone anyway (the answer read nothing for over a minute,
    or the lease was cut), the answer fails with one sentence naming that — not as a
    damaged lake telling the operator to run `check` or `rebuild`."""
    data, files = lake
    more = later_commits(tmp_path)
    stats = Stats(data, min_rounds=1)
    move = clock(monkeypatch)
    with stats.serving.pinned() as (_, snap):
        assert snap is not None
        stats.run("career_totals")
        served_elsewhere(stats, files)
        if how == "lease cut":  # cut between two renewals: the read itself finds out
            stats.run("career_totals")  # renewed: the next renewal is half a minute away
            for p in (stats.lake.snapshots / "leases").iterdir():
                if p.name.startswith(snap.name + "."):
                    os.utime(p, (time.time() - 1, time.time() - 1))
        else:
            move(REPIN_GRACE_S + 1)
        for f in more:
            ingest_paths(data, f)
        assert not snap.exists()
        with pytest.raises(SnapshotGone) as caught:
            stats.session(DAY)
    said = str(caught.value)
    assert isinstance(caught.value, LakeError)  # the CLI prints it as is: one sentence
    assert said.startswith(f"the lake version this answer was reading ({snap.name}) was removed")
    assert said.endswith("; ask again") and "rebuild" not in said and "check" not in said
    took = re.search(r"took over (\d+) s", said)
    assert took is not None and int(took[1]) >= (61 if how != "lease cut" else 0)
    assert stats.serving._active == 0 and not stats.serving.is_pinned()
    assert stats.session(DAY).rounds.height > 0  # asked again: the current version


# ---- a chart holds no snapshot while it is drawn (review 209)


def test_a_chart_being_drawn_holds_no_snapshot(lake: tuple[Path, list[Path]]) -> None:
    """A chart is drawn from rows already read (``AsyncStats.cached``, the bot's
    ``chart_png``): while the chart worker draws, nothing is read, so nothing is held. In a
    pin it counted as a running query: a commit meanwhile kept the old snapshot leased a
    minute instead of letting it go, and commits found no spare folder to build in."""
    data, files = lake
    stats = Stats(data, min_rounds=1)
    stats.version()
    old = stats.serving.snapshot
    assert old is not None
    drawing, drawn = threading.Event(), threading.Event()

    def draw() -> bytes:  # what the chart worker does: reads no lake, takes its time
        drawing.set()
        assert drawn.wait(60)
        return b"png"

    async def answer() -> bytes:
        a = AsyncStats(stats)
        chart = asyncio.create_task(a.cached(("chart", "kills"), draw))
        try:
            assert await asyncio.to_thread(drawing.wait, 60)
            assert stats.serving._active == 0  # not counted as a reader
            assert await asyncio.to_thread(lambda: (ingest_paths(data, files), stats.version()))
            assert stats.serving.snapshot != old
            # let go at the refresh: not left for the last reader, not held a minute
            assert not stats.serving._left and lease_until(stats, old) <= time.time()
        finally:
            drawn.set()
        return await chart

    assert asyncio.run(answer()) == b"png"
    # filed under the version its key was taken at (v1), as before
    assert [
        k[2] for k in stats.cache._lru if isinstance(k, tuple) and k[0] == ("chart", "kills")
    ] == [1]
