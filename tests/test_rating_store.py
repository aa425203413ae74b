"""The rating saved between processes (``data/cache/rating.pickle``): a new process starts
from it and gets exactly the full replay's answer; a saved state from other content, code
or settings, or a damaged file, is never trusted."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from etl_duck.cli import app
from etl_duck.domain.rating import RatingRun
from etl_duck.ingest.run import ingest_paths
from etl_duck.query import ratingstore
from etl_duck.query.ratingstore import RatingStore, store_path
from etl_duck.query.stats import Stats
from etl_duck.synth import generate
from tests.bot_fakes import make_lake


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[Path]]:
    """Five weeks of synthetic evenings (~300 rating events, several checkpoints): every
    file before the last evening, and the last evening's."""
    out = tmp_path_factory.mktemp("season")
    generate(out, seed=11, days=35)
    files = sorted(p for p in out.iterdir() if p.is_file())
    last = files[-1].name[:10]
    return [f for f in files if f.name[:10] != last], [f for f in files if f.name[:10] == last]


def _stats(data: Path, *, save: bool | None) -> Stats:
    store = None if save is None else RatingStore.in_data_dir(data, save=save)
    return Stats(data, ratings=store)


def _same(a: RatingRun, b: RatingRun) -> None:
    assert a.states == b.states  # floats compared exactly
    assert a.predictions == b.predictions
    assert a.history.points() == b.history.points()
    assert a.last_time == b.last_time


@pytest.fixture(scope="module")
def two_commits_template(
    tmp_path_factory: pytest.TempPathFactory, season: tuple[list[Path], list[Path]]
) -> Path:
    early, late = season
    data = make_lake(tmp_path_factory.mktemp("two-commits") / "data", early)
    first = _stats(data, save=True).ratings()
    assert first.replayed == len(first.events) and store_path(data).is_file()
    ingest_paths(data, late)
    return data


@pytest.fixture
def two_commits(tmp_path: Path, two_commits_template: Path) -> Path:
    """A lake of the season but its last evening, its rating saved; then the last evening
    committed (the saved state is one commit behind). A private copy per test."""
    return Path(shutil.copytree(two_commits_template, tmp_path / "data", symlinks=True))


def test_a_new_process_brings_the_saved_rating_forward_to_the_full_replays_answer(
    two_commits: Path,
) -> None:
    full = _stats(two_commits, save=None).ratings()
    restored = _stats(two_commits, save=False).ratings()
    _same(restored, full)
    assert 0 < restored.replayed < len(full.events)  # from a checkpoint, not from the start
    again = _stats(two_commits, save=False).ratings()  # not saved (save=False): same work
    assert again.replayed == restored.replayed


def test_a_long_running_process_also_follows_later_commits_from_a_restored_state(
    tmp_path: Path, season: tuple[list[Path], list[Path]]
) -> None:
    early, late = season
    data = make_lake(tmp_path / "data", early)
    _stats(data, save=True).ratings()
    live = _stats(data, save=False)
    assert live.ratings().replayed == 0  # restored as saved
    ingest_paths(data, late[: len(late) // 2])
    ingest_paths(data, late[len(late) // 2 :])
    _same(live.ratings(), _stats(data, save=None).ratings())


def test_a_saved_rating_of_other_content_at_the_same_versions_is_not_trusted(
    tmp_path: Path, season: tuple[list[Path], list[Path]]
) -> None:
    """Two lakes whose commits have the same version numbers but other rounds (a data dir
    deleted and filled again): the saved state is compared on content, date by date."""
    early, late = season
    a = make_lake(tmp_path / "a", early)
    ingest_paths(a, late)
    _stats(a, save=True).ratings()
    b = make_lake(tmp_path / "b", [f for f in early if not f.name.endswith("2.txt")][:-4])
    ingest_paths(b, late)
    assert Stats(a).version() == Stats(b).version()
    store_path(b).parent.mkdir()
    shutil.copy(store_path(a), store_path(b))
    from_b = _stats(b, save=False).ratings()
    _same(from_b, _stats(b, save=None).ratings())
    assert from_b.states != _stats(a, save=None).ratings().states


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_saved_rating_is_ignored_and_replaced(
    two_commits: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = store_path(two_commits)
    data = path.read_bytes()
    path.write_bytes({"garbage": b"not a pickle", "truncated": data[: len(data) // 2],
                      "empty": b""}[damage])  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="etl_duck.query.ratingstore"):
        run = _stats(two_commits, save=True).ratings()
    assert "ignoring the saved rating" in caplog.text
    assert run.replayed == len(run.events)  # a full replay
    _same(run, _stats(two_commits, save=None).ratings())
    assert _stats(two_commits, save=False).ratings().replayed == 0  # the file was replaced


def test_a_rating_saved_by_other_code_or_settings_is_not_used(
    two_commits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratingstore, "_code_fingerprint", lambda: "another release")
    run = _stats(two_commits, save=False).ratings()
    assert run.replayed == len(run.events)
    _same(run, _stats(two_commits, save=None).ratings())


def test_an_unwritable_cache_costs_speed_not_answers(
    two_commits: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = store_path(two_commits).parent
    shutil.rmtree(cache)
    cache.write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING, logger="etl_duck.query.ratingstore"):
        run = _stats(two_commits, save=True).ratings()
    assert "could not save the rating" in caplog.text
    _same(run, _stats(two_commits, save=None).ratings())


def test_cli_commands_save_the_rating_and_the_next_one_starts_from_it(
    tmp_path: Path, season: tuple[list[Path], list[Path]]
) -> None:
    early, late = season
    data = make_lake(tmp_path / "data", early)
    runner = CliRunner()
    res = runner.invoke(app, ["--data-dir", str(data), "rating", "--json"])
    assert res.exit_code == 0, res.output
    assert store_path(data).is_file()
    ingest_paths(data, late)
    saved = store_path(data).stat().st_mtime_ns
    res = runner.invoke(app, ["--data-dir", str(data), "rating", "--json"])
    assert res.exit_code == 0, res.output
    # a few maps later the saved state is left as it is (re-saving costs more than the
    # replay it spares); the next process replays the same few maps from it
    assert store_path(data).stat().st_mtime_ns == saved


def test_a_rebuild_rewrites_the_same_rows_and_costs_no_reread(two_commits: Path) -> None:
    """A rebuild writes every partition again at a new version with the same rows: the
    saved state still matches them (rows and checksums, not versions)."""
    from etl_duck.ingest.run import rebuild

    store_path(two_commits).unlink()
    _stats(two_commits, save=True).ratings()  # saved at the lake's current rows
    rebuild(two_commits)
    run = _stats(two_commits, save=False).ratings()
    assert run.replayed == 0
    _same(run, _stats(two_commits, save=None).ratings())


def test_a_serving_table_derived_later_is_not_missed(
    tmp_path: Path, season: tuple[list[Path], list[Path]]
) -> None:
    """A lake written before the rating's input table existed (``map_players``): the
    upgrade's next ingest derives it for every date at once, without touching their
    partitions. A state saved before must not be brought forward (it knew no maps), nor
    a long-running process's run."""
    import json

    early, late = season
    data = make_lake(tmp_path / "data", early)
    manifest_path = data / "lake" / "_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["shards"].pop("serving/map_players")
    manifest_path.write_text(json.dumps(manifest))
    before = _stats(data, save=True).ratings()
    assert before.maps == 0 and store_path(data).is_file()
    live = _stats(data, save=False)  # a long-running process across the upgrade
    assert live.ratings().maps == 0
    ingest_paths(data, late)  # the next commit derives map_players for every date
    full = _stats(data, save=None).ratings()
    assert full.maps > 0
    _same(_stats(data, save=False).ratings(), full)
    _same(live.ratings(), full)


def test_a_failed_read_leaves_the_book_as_it_was(
    tmp_path: Path, season: tuple[list[Path], list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error while bringing a saved state forward (a read error) must not leave half of
    it installed: the retry gives the full replay's answer."""
    from etl_duck.query import rating as rating_query

    early, late = season
    data = make_lake(tmp_path / "data", [*early, *late])
    _stats(data, save=True).ratings()
    # the same data dir filled again without the last evening: a date only the saved
    # state has
    shutil.rmtree(data)
    make_lake(data, early)
    real = rating_query.maps_from_rows  # type: ignore[attr-defined]
    calls = {"n": 0}

    def flaky(rows: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("a transient read error")
        return real(rows)

    monkeypatch.setattr(rating_query, "maps_from_rows", flaky)
    stats = _stats(data, save=False)
    with pytest.raises(OSError):
        stats.ratings()
    _same(stats.ratings(), _stats(data, save=None).ratings())


def test_the_saved_file_is_readable_by_others_and_killed_saves_leave_nothing(
    two_commits: Path,
) -> None:
    import os
    import time

    cache = store_path(two_commits).parent
    stale = cache / f"{ratingstore.TEMP_PREFIX}killed"
    stale.write_bytes(b"half a pickle")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    store_path(two_commits).unlink()
    _stats(two_commits, save=True).ratings()  # nothing saved yet: it saves
    assert not stale.exists()
    assert store_path(two_commits).stat().st_mode & 0o777 == 0o644
    assert [p.name for p in cache.iterdir()] == [ratingstore.NAME]
