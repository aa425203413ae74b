"""A live commit's DuckDB and Parquet work on two threads: the nine rollup queries, the five
career sums and the ~19 files a commit encodes. The rows and files must be exactly those of
the same work done one step after another, and every file must match its manifest checksum."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from etl_duck.ingest import run
from etl_duck.ingest.run import ingest_paths
from etl_duck.lake import careers, rollups, snapshot
from etl_duck.lake.snapshot import Lake, verify
from etl_duck.synth import generate
from tests.lakecheck import by_evening, content_digest


@pytest.fixture(scope="module")
def evenings(tmp_path_factory: pytest.TempPathFactory) -> list[list[Path]]:
    """A week and a half across a new year, as the evenings they were played."""
    files = tmp_path_factory.mktemp("season")
    generate(files, seed=17, start=date(2024, 12, 26), days=10)
    return by_evening(files)


def _live(data: Path, evenings: list[list[Path]]) -> None:
    for night in evenings:
        assert ingest_paths(data, night).committed


def _watch_threads(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The names of the threads that run rollups, career sums and Parquet encodes from now on
    (a pool's thread ``prefix_N`` as ``prefix``)."""
    seen: set[str] = set()
    wrapped = {
        (rollups, "_rollups"): rollups._rollups,
        (careers, "combine"): careers.combine,
        (snapshot, "_write_parquet"): snapshot._write_parquet,
    }
    for (module, name), fn in wrapped.items():

        def spy(*args: object, __fn: object = fn, **kwargs: object) -> object:
            seen.add(threading.current_thread().name.rsplit("_", 1)[0])
            return __fn(*args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(module, name, spy)
    return seen


def test_threaded_commits_equal_one_thread_and_match_their_checksums(
    evenings: list[list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _watch_threads(monkeypatch)
    threaded = tmp_path / "threaded"
    _live(threaded, evenings)
    assert {"etl-duck-rollup", "etl-duck-career", "etl-duck-write"} <= seen, seen
    manifest, damages = verify(Lake(threaded))
    assert not damages and manifest.version == len(evenings)

    monkeypatch.setattr(run, "LIVE_THREADS", 1)
    seen.clear()
    one = tmp_path / "one"
    _live(one, evenings)
    assert not {"etl-duck-rollup", "etl-duck-write"} & seen, seen
    assert content_digest(threaded) == content_digest(one)


def test_a_backfill_of_many_dates_keeps_to_one_thread(
    evenings: list[list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two cursors over a year's rows held ~40 MiB more at the peak of a 30-year backfill:
    a batch of more dates than a live commit's builds, sums and encodes on one thread."""
    monkeypatch.setattr(rollups, "SPLIT_MAX_DATES", 3)  # a batch of 4+ dates is "many"
    seen = _watch_threads(monkeypatch)
    data = tmp_path / "data"
    assert len(evenings) >= 5
    assert ingest_paths(data, [p for night in evenings[:-1] for p in night]).committed
    assert not {"etl-duck-rollup", "etl-duck-write"} & seen, seen
    assert "etl-duck-career" in seen  # its one thread: the pool of one
    seen.clear()
    assert ingest_paths(data, evenings[-1]).committed  # then a live commit uses both
    assert {"etl-duck-rollup", "etl-duck-career", "etl-duck-write"} <= seen, seen


def test_rollups_on_threads_return_the_rows_of_one_cursor(
    evenings: list[list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rollups.fresh_rows
    captured: list[Mapping[date, Mapping[str, pa.Table]]] = []

    def capture(rebuilt: Mapping[date, Mapping[str, pa.Table]], threads: int = 1) -> object:
        captured.append(rebuilt)
        return real(rebuilt, threads)

    monkeypatch.setattr(rollups, "fresh_rows", capture)
    ingest_paths(tmp_path / "data", [p for night in evenings for p in night])
    assert sum(len(b) for b in captured) == len(evenings)  # every date built once
    for built in captured:
        one = real(built, 1)
        assert sum(t.num_rows for t in one.values()) > 0
        for threads in (2, 3):
            many = real(built, threads)
            assert list(many) == list(one)
            for name in one:
                assert many[name].equals(one[name]), name


def test_threads_asking_for_the_connection_at_once_share_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The careers' threads may be the first in a process (a forked child) to need the
    rollups' connection: they must open one, not one each (the others would be lost)."""
    import duckdb

    opened: list[object] = []
    real_connect = duckdb.connect

    def slow_connect(*args: object, **kwargs: object) -> object:
        time.sleep(0.05)  # a connect takes 12-80 ms: wide enough for the others to arrive
        con = real_connect(*args, **kwargs)  # type: ignore[arg-type]
        opened.append(con)
        return con

    rollups._drop_connection()
    monkeypatch.setattr(duckdb, "connect", slow_connect)
    start = threading.Barrier(4)

    def ask() -> object:
        start.wait()
        return rollups._connection()

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: ask(), range(4)))
    assert len(opened) == 1 and all(c is opened[0] for c in got)
    rollups._drop_connection()


def test_a_fork_while_a_cursor_is_busy_leaves_the_running_query_alone() -> None:
    """The fork hook drops the process's connection; if a thread is running a query on a
    cursor of it, DuckDB refuses to close it, and the hook must not raise."""
    from duckdb import sqltypes

    cur = rollups._connection().cursor()
    started = threading.Event()

    def nap(x: int) -> int:
        started.set()
        time.sleep(0.3)  # the cursor is busy this long
        return x

    cur.create_function("nap", nap, [sqltypes.BIGINT], sqltypes.BIGINT)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(lambda: cur.execute("SELECT nap(7)").fetchall())
        assert started.wait(10)
        rollups._drop_connection()
        assert rollups._CON is None  # the next _connection() opens a new one
        assert running.result() == [(7,)]
    cur.close()


def test_a_failed_encode_stops_the_others(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A full disk while a commit encodes its files on two threads fails the commit at once:
    the files not yet started are not written (``Executor.map`` cancels them)."""
    tables = {f"t{i}/x.parquet": pa.table({"a": [i]}) for i in range(12)}
    tried: list[str] = []

    def write(table: pa.Table, path: Path, *, make_folder: bool = True) -> None:
        tried.append(path.parent.name)
        if path.parent.name == "t0":
            raise OSError(28, "No space left on device")
        time.sleep(0.05)

    monkeypatch.setattr(snapshot, "_write_parquet", write)
    build = snapshot._Build(tmp_path, {}, threads=2)
    with pytest.raises(OSError, match="No space"):
        build._encode_all(tables)
    assert "t0" in tried and len(tried) <= 3, tried  # t0, and what the other thread had begun
