"""The version-keyed cache: never stale, never recomputed needlessly, single flight."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from etl_duck.ingest.run import ingest_paths
from etl_duck.query.aio import AsyncStats
from etl_duck.query.cache import QueryCache, VersionMemo
from etl_duck.query.stats import Stats
from tests.lakecheck import R1, R2, num, renamed_pair


def test_a_commit_changes_the_answer_at_once(data_dir: Path, tmp_path: Path) -> None:
    ingest_paths(data_dir, [R1])
    stats = Stats(data_dir, min_rounds=0)
    before = stats.leaderboard("kills")
    raven = before.filter(before["guid"] == "7A3E9B21")["value"].item()
    ingest_paths(data_dir, [R2])  # the next call must see it: no TTL, no stale entry
    after = stats.leaderboard("kills")
    assert after.filter(after["guid"] == "7A3E9B21")["value"].item() == raven + 7


def test_no_commit_means_the_same_object_and_no_query(data_dir: Path) -> None:
    ingest_paths(data_dir, [R1, R2])
    stats = Stats(data_dir, min_rounds=0)
    first = stats.leaderboard("dpm")
    runs = sum(len(v) for v in stats.timings.values())
    assert stats.leaderboard("dpm") is first
    assert sum(len(v) for v in stats.timings.values()) == runs
    assert stats.cache.stats().hits >= 1


def test_a_commit_elsewhere_keeps_other_windows_cached(data_dir: Path, tmp_path: Path) -> None:
    ingest_paths(data_dir, [R1, R2])
    stats = Stats(data_dir, min_rounds=0)
    session_board = stats.leaderboard("kills", "2026-03-14..2026-03-14")
    ingest_paths(
        data_dir, list(renamed_pair(tmp_path, "2026-04-01-210000", "2026-04-01-211000", "x"))
    )
    # the March partition did not change: same object; all-time did: recomputed
    assert stats.leaderboard("kills", "2026-03-14..2026-03-14") is session_board
    assert num(stats.leaderboard("kills")["value"].max()) > num(session_board["value"].max())


def test_concurrent_identical_requests_run_once(data_dir: Path) -> None:
    ingest_paths(data_dir, [R1, R2])
    stats = Stats(data_dir, min_rounds=0)
    stats.version()
    real_run = stats.run
    calls = []

    def slow_run(name: str, dates: Any = None, **params: Any) -> Any:
        calls.append(name)
        time.sleep(0.2)
        return real_run(name, dates, **params)

    stats.run = slow_run  # type: ignore[method-assign]
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(stats.leaderboard("kd"))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["career_totals"]
    assert len({id(r) for r in results}) == 1
    assert stats.cache.stats().shared == 7


def test_async_identical_requests_share_one_computation(data_dir: Path) -> None:
    ingest_paths(data_dir, [R1, R2])
    stats = Stats(data_dir, min_rounds=0)
    api = AsyncStats(stats)

    async def main() -> list[object]:
        return list(await asyncio.gather(*[api.leaderboard("kills") for _ in range(100)]))

    results = asyncio.run(main())
    assert len({id(r) for r in results}) == 1
    assert len(stats.timings["career_totals"]) == 1


def test_errors_are_not_cached_and_reach_every_waiter() -> None:
    cache = QueryCache()
    attempts = []

    def boom() -> int:
        attempts.append(1)
        raise RuntimeError("no")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            cache.get_or_compute("k", boom)
    assert len(attempts) == 2
    assert cache.get_or_compute("k", lambda: 5) == 5


def test_lru_evicts_the_oldest() -> None:
    cache = QueryCache(maxsize=2)
    for k in "abc":
        cache.get_or_compute(k, functools.partial(str, k))
    assert cache.peek("a") == (False, None)
    assert cache.peek("c") == (True, "c")


def test_a_call_after_a_commit_never_joins_one_started_before_it(data_dir: Path) -> None:
    """In-flight sharing is per lake version: a question asked once a commit is visible
    gets the new answer, not the one a slower call began on the old snapshot."""
    ingest_paths(data_dir, [R1])
    stats = Stats(data_dir, min_rounds=0)
    api = AsyncStats(stats)
    stats.version()
    real_run = stats.run
    started = threading.Event()

    def slow_run(name: str, dates: Any = None, **params: Any) -> Any:
        out = real_run(name, dates, **params)  # read from the snapshot current now
        started.set()
        time.sleep(0.5)  # a slow moment (a busy core): the commit lands meanwhile
        return out

    stats.run = slow_run  # type: ignore[method-assign]

    def raven(board: Any) -> int:
        return int(board.filter(board["guid"] == "7A3E9B21")["value"].item())

    async def main() -> tuple[int, int]:
        early = asyncio.ensure_future(api.leaderboard("kills"))
        await asyncio.to_thread(started.wait)
        await asyncio.to_thread(ingest_paths, data_dir, [R2])  # round 2: +7 kills
        late = await api.leaderboard("kills")  # asked after the commit is visible
        return raven(await early), raven(late)

    before, after = asyncio.run(main())
    assert after == before + 7


def test_a_version_memo_builds_once_per_version_and_never_goes_back() -> None:
    """Per-version tables (all-time totals, the names index): threads asking for one version
    at once share one build; an answer pinned to an older version gets its own value, and
    the newer one stays kept."""
    memo: VersionMemo[str] = VersionMemo()
    builds: list[tuple[int, int]] = []
    gate = threading.Event()

    def build(at: tuple[int, int]) -> str:
        builds.append(at)
        gate.wait(5)
        return f"v{at[1]}"

    got: list[str] = []
    threads = [
        threading.Thread(target=lambda: got.append(memo.get((0, 2), lambda: build((0, 2)))))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    time.sleep(0.05)
    gate.set()
    for t in threads:
        t.join()
    assert got == ["v2"] * 4 and builds == [(0, 2)]
    assert memo.get((0, 1), lambda: build((0, 1))) == "v1"  # an older pin: its own value
    assert memo.peek((0, 2)) == "v2" and memo.peek((0, 1)) is None
    memo.clear()
    assert memo.peek((0, 2)) is None
