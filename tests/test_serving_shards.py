"""A serving table's year in two shards: ``YYYY`` (dates before a cutoff) and ``YYYY-MM-DD``
(the cutoff and after, the latest sessions). A live commit rewrites only the second; a
late file for an earlier date, or a recent shard that outgrew its share, rewrites the year.
Whatever the path, the rows equal one batch's, and every question reads the same answer."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from etl_duck.ingest.run import ingest_paths
from etl_duck.lake import rollups
from etl_duck.lake.layout import SERVING_TABLES, shard_year
from etl_duck.lake.snapshot import Lake
from etl_duck.query.stats import Stats
from etl_duck.synth import generate
from tests.lakecheck import by_evening, content_digest, one_player_round


@pytest.fixture(scope="module")
def evenings(tmp_path_factory: pytest.TempPathFactory) -> list[list[Path]]:
    """Three weeks and a half across a new year (2024 → 2025), as the evenings they were played."""
    files = tmp_path_factory.mktemp("season")
    generate(files, seed=31, start=date(2024, 12, 19), days=24)
    return by_evening(files)


def year_shards(data: Path, year: str) -> dict[str, dict[str, int]]:
    """Serving table → its shards of ``year`` → the version that wrote each."""
    manifest = Lake(data).manifest()
    return {
        name: {
            k: p.version
            for k, p in manifest.shards.get(f"serving/{name}", {}).items()
            if shard_year(k) == year
        }
        for name in SERVING_TABLES
    }


def test_live_commits_rewrite_the_recent_shard_and_equal_one_batch(
    evenings: list[list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small shares, so that a short history folds its recent shards several times
    monkeypatch.setattr(rollups, "RECENT_MIN_ROWS", 40)
    monkeypatch.setattr(rollups, "RECENT_SHARE", 2)
    live = tmp_path / "live"
    late = evenings[-4].pop()  # the last round of an evening of 2025 arrives days late
    recent_only = folds = 0
    for i, night in enumerate(evenings):
        # every other evening in two commits: the second rewrites the same latest date
        halves = [night[: len(night) // 2], night[len(night) // 2 :]] if i % 2 else [night]
        for half in [h for h in halves if h]:
            year = half[0].name[:4]
            before = year_shards(live, year) if (live / "lake").exists() else {}
            assert ingest_paths(live, half).committed
            after = year_shards(live, year)
            version = Lake(live).version()
            for name, keys in after.items():
                base = before.get(name, {}).get(year)
                if base is None or year not in keys:
                    continue
                if keys[year] == base:  # the year's base shard was kept: only the recent one
                    assert [k for k, v in keys.items() if v == version and k != year], name
                    recent_only += 1
                elif set(before[name]) - {year}:  # rewritten although a recent shard existed
                    folds += 1
    assert recent_only > 30 and folds > 0, (recent_only, folds)
    # the latest year: a base and a recent shard at most; the year before it is one shard
    # again (all-time questions open one file per table and year)
    for name, keys in year_shards(live, "2025").items():
        assert len(keys) <= 2 and all(len(k) in (4, 10) for k in keys), (name, keys)
    ended = year_shards(live, "2024")
    assert all(set(keys) <= {"2024"} for keys in ended.values()), ended
    assert sum(bool(keys) for keys in ended.values()) >= 8  # the tables that have rows

    # a late round for an earlier date of 2025: the year is written whole again, split
    # at its latest date
    before = year_shards(live, "2025")
    assert ingest_paths(live, [late]).committed
    version = Lake(live).version()
    after = year_shards(live, "2025")
    latest = evenings[-1][0].name[:10]
    for name in ("rounds", "player_sessions", "player_weapon_sessions"):
        assert after[name] == {"2025": version, latest: version}, (name, before[name])

    batch = tmp_path / "batch"
    ingest_paths(batch, [p for night in evenings for p in night] + [late])
    assert content_digest(live) == content_digest(batch)
    # the read side picks a year's shards by their year, whatever their keys
    a, b = Stats(live), Stats(batch)
    for window in ("all", "month", "week", "2024-12-20..2025-01-03", "2025-01-02..2025-01-09"):
        for metric in ("kills", "dpm"):
            assert a.leaderboard(metric, window).equals(b.leaderboard(metric, window)), window
    assert a.last_session().session_id == b.last_session().session_id
    assert a.last_session().players.equals(b.last_session().players)


def test_a_commit_of_the_latest_date_reads_no_base_shard(
    evenings: list[list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live case reads the recent shard, not the year (the careers aside: they sum the
    year whole)."""
    from etl_duck.lake import snapshot as snapshot_mod

    data = tmp_path / "data"
    history = [p for night in evenings[:-1] for p in night]
    ingest_paths(data, history)
    last = evenings[-1]
    ingest_paths(data, last[:1])
    read: list[str] = []
    real_read = snapshot_mod.read_parquet_file

    def reading(path: Path) -> object:
        read.append(f"{path.parent.name}/{path.name}")
        return real_read(path)

    monkeypatch.setattr(snapshot_mod, "read_parquet_file", reading)
    assert ingest_paths(data, last[1:2]).committed
    careers = {"player_sessions", "player_weapon_sessions", "player_map_sessions",
               "player_name_sessions", "player_round_tails"}  # fmt: skip
    manifest = Lake(data).manifest()
    bases = 0
    for name in SERVING_TABLES:
        base = manifest.shards[f"serving/{name}"].get("2025")
        if base is None:
            continue
        bases += 1
        assert base.version < manifest.version, name  # kept, not rewritten
        if name not in careers:
            assert f"{name}/{Path(base.file).name}" not in read, name
    assert bases >= 8  # every table with rows has a base shard for the history


def rounds_keys(data: Path, year: str) -> set[str]:
    return set(year_shards(data, year)["rounds"])


def test_only_the_latest_year_keeps_a_recent_shard(data_dir: Path, tmp_path: Path) -> None:
    """A catch-up batch across a new year, and a late file for an older year after all its
    dates: the older year is one shard (all-time questions open one file per year)."""
    ingest_paths(data_dir, [one_player_round(tmp_path, s) for s in ("2024-12-20-200000",
                                                                        "2024-12-27-200000")])  # fmt: skip
    assert rounds_keys(data_dir, "2024") == {"2024", "2024-12-27"}  # the latest date apart
    catch_up = ["2024-12-30-200000", "2025-01-02-200000", "2025-01-03-200000"]
    assert ingest_paths(data_dir, [one_player_round(tmp_path, s) for s in catch_up]).committed
    assert rounds_keys(data_dir, "2024") == {"2024"}
    assert rounds_keys(data_dir, "2025") == {"2025-01-02"}  # from its first date: all new
    assert ingest_paths(data_dir, [one_player_round(tmp_path, "2024-12-31-200000")]).committed
    assert rounds_keys(data_dir, "2024") == {"2024"}
    assert ingest_paths(data_dir, [one_player_round(tmp_path, "2025-01-04-200000")]).committed
    assert rounds_keys(data_dir, "2025") == {"2025-01-02"}  # the recent shard grew
    rounds = Lake(data_dir).read_serving()["rounds"].column("file_name").to_pylist()
    assert len(rounds) == len(set(rounds)) == 7  # every round, each once


def test_check_names_an_intact_copy_of_the_same_shard_only(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A damaged recent shard's intact older copy is that shard's, never the year's base
    (which holds other dates)."""
    from etl_duck.cli import run as cli

    first = [one_player_round(tmp_path, s) for s in ("2025-01-05-200000", "2025-01-10-200000")]
    ingest_paths(data_dir, first)
    ingest_paths(data_dir, [one_player_round(tmp_path, "2025-01-12-200000")])
    lake = Lake(data_dir)
    manifest = lake.manifest()
    shards = manifest.shards["serving/rounds"]
    assert set(shards) == {"2025", "2025-01-10"} and shards["2025"].version == 1
    snap = lake.current_dir()
    assert snap is not None
    path = snap / shards["2025-01-10"].file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    assert cli(["--data-dir", str(data_dir), "check"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "an intact copy of an older version is at" in err
    assert "_serving/rounds/2025-01-10-v00000001.parquet" in err, err


def test_a_batch_of_many_dates_writes_each_year_as_one_shard(
    data_dir: Path, tmp_path: Path
) -> None:
    """A backfill's year batches (many dates each) leave one ``YYYY`` shard per year; the
    first live commit after them starts the latest year's recent shard."""
    for year in (2023, 2024):
        days = [date(year, 3, 1) + timedelta(days=7 * i) for i in range(20)]
        batch = [one_player_round(tmp_path, f"{d.isoformat()}-200000") for d in days]
        assert ingest_paths(data_dir, batch).committed
    assert rounds_keys(data_dir, "2023") == {"2023"}
    assert rounds_keys(data_dir, "2024") == {"2024"}
    assert ingest_paths(data_dir, [one_player_round(tmp_path, "2024-12-30-200000")]).committed
    assert rounds_keys(data_dir, "2024") == {"2024", "2024-12-30"}
    assert Lake(data_dir).manifest().shards["serving/rounds"]["2024"].version == 2  # kept
