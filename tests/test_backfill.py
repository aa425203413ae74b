"""A backfill (more files than ``BACKFILL_BATCH``) commits a year at a time: the main
process holds one year's bytes, rows and serving rows instead of the whole history's, and
the lake it leaves is the one a single batch gives."""

from __future__ import annotations

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
from tests.lakecheck import content_digest, header_only_round


def settings() -> Settings:
    """The settings as the environment gives them (no ``.env`` file)."""
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    """Three weeks across a new year (2024 → 2025)."""
    files = tmp_path_factory.mktemp("history")
    return files, generate(files, seed=31, start=date(2024, 12, 20), days=21)


def test_a_backfill_commits_a_year_at_a_time_and_equals_one_batch(
    history: tuple[Path, Truth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, truth = history
    one = ingest_paths(tmp_path / "one", [files])  # fewer files than a backfill: one commit
    assert one.version == 1
    monkeypatch.setattr(run, "BACKFILL_BATCH", 10)
    years = ingest_paths(tmp_path / "years", [files])
    assert years.version == 2 and years.committed  # 2024, then 2025
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
        "2024-12-31-230000",  # an evening that runs past midnight…
        "2025-01-01-003000",
        "2025-01-01-010000",  # …stays in 2024's batch
        "2025-01-03-200000",  # the first round after a quiet spell starts 2025's
        "2025-01-03-203000",
    ]
    for s in reversed(stamps):  # not in time order on disk
        header_only_round(tmp_path, s)
    (tmp_path / "notes.txt").write_text("not a stats file")
    monkeypatch.setattr(run, "BACKFILL_BATCH", 2)
    batches = [[Path(p).name[:17] for p in b] for b in backfill_batches([tmp_path])]
    assert batches == [stamps[:3], [*stamps[3:], "notes.txt"]]
    monkeypatch.setattr(run, "BACKFILL_BATCH", 6)
    assert backfill_batches([tmp_path]) == [[tmp_path]]  # a small batch: as given


def test_a_backfill_builds_in_process_unless_workers_are_asked_for(
    history: tuple[Path, Truth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parse workers cost ~170 MiB each: by default a backfill builds in the ingesting
    process; ``ETL_DUCK_INGEST_WORKERS`` turns them on."""
    files, _ = history
    pools: list[int] = []
    from concurrent.futures import ProcessPoolExecutor

    def counting(workers: int, **kw: Any) -> ProcessPoolExecutor:
        pools.append(workers)
        return ProcessPoolExecutor(workers, **kw)

    monkeypatch.setattr(build, "ProcessPoolExecutor", counting)
    monkeypatch.setattr(build, "POOL_MIN_FILES", 10)  # this history counts as a backfill
    monkeypatch.delenv("ETL_DUCK_INGEST_WORKERS", raising=False)
    assert settings().ingest_options().workers == 1
    ingest_paths(tmp_path / "lean", [files], settings().ingest_options())
    assert pools == []
    monkeypatch.setenv("ETL_DUCK_INGEST_WORKERS", "2")
    options = settings().ingest_options()
    assert options == IngestOptions(workers=2)
    ingest_paths(tmp_path / "workers", [files], options)
    assert pools == [2]
    assert content_digest(tmp_path / "workers") == content_digest(tmp_path / "lean")
