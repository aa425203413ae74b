"""A backfill (more files than ``BACKFILL_BATCH``) commits a year at a time: the main
process holds one year's bytes, rows and serving rows instead of the whole history's, and
the lake it leaves is the one a single batch gives."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from etl_duck.ingest import build, run
from etl_duck.ingest.options import IngestOptions
from etl_duck.ingest.run import backfill_batches, ingest_paths
from etl_duck.lake.snapshot import Lake
from etl_duck.settings import Settings
from etl_duck.synth import Truth, generate
from tests.lakecheck import content_digest, one_player_round


def settings() -> Settings:
    """The settings as the environment gives them (no ``.env`` file)."""
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    """Three weeks across a new year (2024 → 2025)."""
    files = tmp_path_factory.mktemp("history")
    return files, generate(files, seed=31, start=date(2024, 12, 20), days=21)


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The worker count of every parse-process pool an ingest starts (the pools still run)."""
    from concurrent.futures import ProcessPoolExecutor

    started: list[int] = []

    def counting(workers: int, **kw: Any) -> ProcessPoolExecutor:
        started.append(workers)
        return ProcessPoolExecutor(workers, **kw)

    monkeypatch.setattr(build, "ProcessPoolExecutor", counting)
    return started


def test_a_backfill_commits_a_year_at_a_time_and_equals_one_batch(
    history: tuple[Path, Truth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, truth = history
    one = ingest_paths(tmp_path / "one", [files])  # fewer files than a backfill: one commit
    assert one.version == 1
    # a backfill (more files than the batch size), no year of it twice the size
    monkeypatch.setattr(run, "BACKFILL_BATCH", len(list(files.iterdir())) - 1)
    phases: set[str] = set()
    years = ingest_paths(tmp_path / "years", [files], progress=lambda p, d, t: phases.add(p))
    assert years.version == 2 and years.committed  # 2024, then 2025
    # each year's phases are named for it (a bar per year, not one going back to 0)
    assert {"reading files (year 1/2)", "committing (year 2/2)"} <= phases, phases
    assert sorted(years.ingested) == sorted(one.ingested)
    assert len(years.ingested) > 10 and {r.file_name for r in truth.rounds} >= set(years.ingested)
    assert content_digest(tmp_path / "years") == content_digest(tmp_path / "one")
    # a rerun (after a crash, say) has nothing left to do
    again = ingest_paths(tmp_path / "years", [files])
    assert not again.committed and Lake(tmp_path / "years").version() == 2


def test_years_break_at_a_quiet_spell_and_odd_names_go_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stamps = [
        "2024-12-31-170000",
        "2025-01-01-010000",  # after a quiet evening, but began on Dec 31 (its session's
        "2025-01-01-013000",  # date): 2024's batch
        "2025-01-03-200000",  # the first round of 2025 after a quiet spell starts its batch
        "2025-01-03-203000",
    ]
    for s in reversed(stamps):  # not in time order on disk
        one_player_round(tmp_path, s)
    (tmp_path / "notes.txt").write_text("not a stats file")
    monkeypatch.setattr(run, "BACKFILL_BATCH", 2)
    batches = [[Path(p).name[:17] for p in b] for b in backfill_batches([tmp_path])]
    assert batches == [stamps[:3], [*stamps[3:], "notes.txt"]]
    monkeypatch.setattr(run, "BACKFILL_BATCH", 6)
    assert backfill_batches([tmp_path]) == [[tmp_path]]  # a small batch: as given


def test_a_year_without_a_quiet_new_year_still_ends_between_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server busy around the clock: the year's batch ends once it holds twice the
    backfill size, at the first gap longer than a session gap (+ a round), never inside
    a session."""
    hours = [0, 1, 2, 3, 4, 8, 9, 10, 14]  # rounds hourly, with two 4-hour gaps
    stamps = [f"2025-03-01-{h:02d}0000" for h in hours]
    for s in stamps:
        one_player_round(tmp_path, s)
    monkeypatch.setattr(run, "BACKFILL_BATCH", 2)  # full at 4 files
    batches = [[Path(p).name[:17] for p in b] for b in backfill_batches([tmp_path])]
    # full at hour 3, but the next round is an hour later (the same session): the batch
    # ends at the first 4-hour gap; the second never fills
    assert batches == [stamps[:5], stamps[5:]]


def test_a_backfill_builds_in_process_unless_workers_are_asked_for(
    history: tuple[Path, Truth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pools: list[int]
) -> None:
    """Parse workers cost ~170 MiB each: by default a backfill builds in the ingesting
    process; ``ETL_DUCK_INGEST_WORKERS`` turns them on."""
    files, _ = history
    monkeypatch.setattr(build, "POOL_MIN_FILES", 10)  # this history counts as a backfill
    monkeypatch.delenv("ETL_DUCK_INGEST_WORKERS", raising=False)
    assert settings().ingest_options().workers == 0
    ingest_paths(tmp_path / "lean", [files], settings().ingest_options())
    assert pools == []
    monkeypatch.setenv("ETL_DUCK_INGEST_WORKERS", "2")
    options = settings().ingest_options()
    assert options == IngestOptions(workers=2)
    ingest_paths(tmp_path / "workers", [files], options)
    assert pools == [2]
    assert content_digest(tmp_path / "workers") == content_digest(tmp_path / "lean")


def test_a_rebuild_stays_one_commit_and_uses_the_cores(
    history: tuple[Path, Truth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pools: list[int]
) -> None:
    """A rebuild replaces a lake readers use: one commit, whatever its size, and it holds
    the whole history anyway, so parse workers only make it faster."""
    files, _ = history
    data = tmp_path / "data"
    ingest_paths(data, [files])
    before = content_digest(data)
    monkeypatch.setattr(build, "POOL_MIN_FILES", 10)
    monkeypatch.setattr(run, "BACKFILL_BATCH", 10)
    report = run.rebuild(data)
    assert report.version == 2 and len(report.ingested) > 10
    cores = min(len(os.sched_getaffinity(0)), 4)
    assert pools == ([cores] if cores > 1 else [])
    assert content_digest(data) == before
    # ETL_DUCK_INGEST_WORKERS=1 asks for no parse process, a rebuild included
    pools.clear()
    run.rebuild(data, IngestOptions(workers=1))
    assert pools == [] and content_digest(data) == before


def test_a_full_disk_in_a_later_year_says_what_is_committed(
    history: tuple[Path, Truth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from etl_duck.lake.snapshot import DiskFull

    files, _ = history
    data = tmp_path / "data"
    monkeypatch.setattr(run, "BACKFILL_BATCH", len(list(files.iterdir())) - 1)
    real_commit = Lake.commit
    commits: list[int] = []

    def commit(self: Lake, *args: Any, **kw: Any) -> Any:
        commits.append(1)
        if len(commits) == 2:  # the second year's commit finds the disk full
            raise OSError(errno.ENOSPC, "No space left on device", str(self.snapshots))
        return real_commit(self, *args, **kw)

    monkeypatch.setattr(Lake, "commit", commit)
    with pytest.raises(DiskFull) as err:
        ingest_paths(data, [files])
    message = str(err.value)
    assert "the lake is unchanged at version 1" in message
    assert "of this backfill's earlier years are committed" in message
    monkeypatch.setattr(Lake, "commit", real_commit)
    # the same command again finishes the job: the lake one batch gives
    assert ingest_paths(data, [files]).version == 2
    monkeypatch.undo()  # a batch of this size is one commit again
    whole = tmp_path / "whole"
    ingest_paths(whole, [files])
    assert Lake(whole).version() == 1
    assert content_digest(data) == content_digest(whole)


def test_a_backfill_killed_in_any_year_is_finished_by_a_rerun(
    history: tuple[Path, Truth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL at failpoints spread over every year's commit: the lake is always at a
    committed version, and the same command run again gives the lake one batch gives."""
    import signal

    from etl_duck.lake import fsutil

    files, _ = history
    whole = tmp_path / "whole"
    ingest_paths(whole, [files])
    expected = content_digest(whole)
    monkeypatch.setattr(run, "BACKFILL_BATCH", len(list(files.iterdir())) - 1)
    fsutil.set_failpoint(10**9)  # count the failpoints a two-year backfill passes
    try:
        ingest_paths(tmp_path / "count", [files])
        points = fsutil._fail_count
    finally:
        fsutil.set_failpoint(0)
    assert points > 20
    seen: set[int] = set()
    for k in sorted({points // 4, points // 2, points // 2 + 3, 3 * points // 4}):
        work = tmp_path / f"kill-{k}"
        pid = os.fork()
        if pid == 0:  # the child dies at its k-th failpoint
            try:
                fsutil.set_failpoint(k)
                ingest_paths(work, [files])
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, k
        assert Lake(work).version() in (0, 1, 2), k  # a committed version, or none yet
        seen.add(Lake(work).version())
        ingest_paths(work, [files])  # the same command again
        assert content_digest(work) == expected, k
    assert {0, 1} <= seen, seen  # kills in the first year and in the second
