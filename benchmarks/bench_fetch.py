"""Backlog → queryable: N stats files over loopback SFTP, fetched and ingested in one poll.

The server is the test SFTP server (tests/sftp_server.py, asyncssh) in its OWN process, so the
client is measured alone, as against a real sshd. Each run: fresh data dir, fresh Fetcher,
connection opened first (``watch`` keeps it open between polls), then the timed
``poll_once()``: list → download (5 in parallel) → verify → atomic move → ingest returned.
With the real ingest, the rounds are then counted through DuckDB to prove they are queryable.

Original design, for comparison: paramiko in a thread, one file at a time, 60 s poll:
100 files → 300 s; with its proposed Semaphore(5): 60 s.

    python -m benchmarks.bench_fetch [N]
    python -m benchmarks.bench_fetch --quiet-poll [N]   # a poll that finds nothing new
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl_duck.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "stats"
R1 = FIXTURES / "2026-03-14-213512-supply-round-1.txt"
R2 = FIXTURES / "2026-03-14-214449-supply-round-2.txt"
RUNS = 5
LATENCY_POLL_S = 1.0  # poll interval for the new-file latency measurement
LATENCY_FILES = 5


def _write_backlog(folder: Path, n_files: int) -> int:
    """n real-sized files (the supply R1/R2 fixtures, ~1.3-1.4 KB), as R1/R2 pairs 10 min
    apart. Each pair's server name is made unique so the ingest's content dedup keeps all."""
    r1, r2 = R1.read_bytes(), R2.read_bytes()
    start = datetime(2026, 3, 14, 12, 0, 0)
    old = time.time() - 3600  # settled long ago: taken at the first look
    total = 0
    for i in range(n_files):
        pair, rnd = divmod(i, 2)
        t = start + timedelta(minutes=25 * pair + 10 * rnd)
        content = (r2 if rnd else r1).replace(b"Test", f"Test{pair:05d}".encode(), 1)
        path = folder / f"{t:%Y-%m-%d-%H%M%S}-supply-round-{rnd + 1}.txt"
        path.write_bytes(content)
        os.utime(path, (old, old))
        total += len(content)
    return total


@contextlib.contextmanager
def _sftp_server(base: Path) -> Iterator[int]:
    """The test SFTP server over ``base`` in a process of its own (the client is measured
    alone, as against a real sshd): its port, until the block ends."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.sftp_server", str(base)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        yield int(server.stdout.readline())
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(10)


def _settings(base: Path, port: int, data: Path, **more: Any) -> Settings:
    """Settings for a fetch from :func:`_sftp_server` over ``base`` into ``data``."""
    from etl_duck.settings import Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data,
        ssh_host="127.0.0.1",
        ssh_port=port,
        ssh_user="etl",
        ssh_key_path=base / "keys" / "id_ed25519",
        ssh_known_hosts=base / "keys" / "known_hosts",
        ssh_remote_dir="gamestats",
        **more,
    )


def _real_ingest_available() -> bool:
    try:
        from etl_duck.ingest.run import ingest_paths  # noqa: F401
    except ImportError:
        return False
    return True


def run(n_files: int = 100, runs: int = RUNS) -> dict[str, Any]:
    from etl_duck.fetch.poller import Fetcher

    real_ingest = _real_ingest_available()
    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
        base = Path(tmp)
        folder = base / "server-root" / "gamestats"
        folder.mkdir(parents=True)
        total_bytes = _write_backlog(folder, n_files)
        with _sftp_server(base) as port:
            times, connects, rounds = [], [], []

            def settings_for(data: Path, **more: Any) -> Settings:
                return _settings(base, port, data, **more)

            for i in range(runs):
                data = base / f"data-{i}"
                settings = settings_for(data)
                from etl_duck.pipeline import Ingestor

                ingest: Any = Ingestor(data) if real_ingest else (lambda paths: len(paths))
                took, connect, report = asyncio.run(_one(Fetcher(settings, ingest)))
                if len(report.downloaded) != n_files or report.ingest_error:
                    raise RuntimeError(f"run {i}: {report.summary()} {report.ingest_error}")
                times.append(took)
                connects.append(connect)
                if real_ingest:
                    rounds.append(_count_rounds(data))
            latencies = asyncio.run(
                _latency(settings_for(base / "data-watch", poll_interval_s=LATENCY_POLL_S), folder)
            )
    median = statistics.median(times)
    return {
        "benchmark": "fetch_backlog",
        "n_files": n_files,
        "bytes": total_bytes,
        "mode": "download + real ingest (queryable)" if real_ingest else "download only",
        "runs": runs,
        "median_s": round(median, 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "median_connect_s": round(statistics.median(connects), 3),
        "rounds_queryable": rounds[-1] if rounds else None,
        "parallel": 5,
        "new_file_poll_interval_s": LATENCY_POLL_S,
        "new_file_to_ingested_median_s": round(statistics.median(latencies), 3),
        "new_file_to_ingested_max_s": round(max(latencies), 3),
        "new_file_target_s": LATENCY_POLL_S + 1.0,
        "target_s": 2.0,
        "original_s": 300.0,
        "original_semaphore5_s": 60.0,
        "speedup_vs_original": round(300.0 / median, 1),
        "speedup_vs_semaphore5": round(60.0 / median, 1),
        "server": "asyncssh test SFTP server, own process, 127.0.0.1",
    }


async def _one(fetcher: Any) -> tuple[float, float, Any]:
    async with fetcher:
        t0 = time.perf_counter()
        await fetcher.check()  # connect (and list once): watch holds the connection
        connect = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = await fetcher.poll_once()
        return time.perf_counter() - t0, connect, report


async def _latency(settings: Any, folder: Path) -> list[float]:
    """``watch`` running; a new round file appears at a random moment of the poll cycle:
    seconds from the file being complete on the server to ingest returned (queryable)."""
    import random

    from etl_duck.fetch.poller import Fetcher

    real = _real_ingest_available()
    done: dict[str, float] = {}

    def ingest(paths: list[Path]) -> object:
        if real:
            from etl_duck.ingest.run import ingest_paths

            result: object = ingest_paths(settings.data_dir, paths)
        else:
            result = len(paths)
        now = time.monotonic()
        for p in paths:
            done[p.name] = now
        return result

    r1 = R1.read_bytes()
    stop = asyncio.Event()
    out: list[float] = []
    async with Fetcher(settings, ingest) as fetcher:
        task = asyncio.create_task(fetcher.watch(stop))
        while not done:  # the backlog lands first
            await asyncio.sleep(0.05)
        rng = random.Random(7)
        for k in range(LATENCY_FILES):
            await asyncio.sleep(rng.uniform(0, settings.poll_interval_s))
            name = f"2027-01-01-{k:02d}0000-supply-round-1.txt"
            (folder / name).write_bytes(r1.replace(b"Test", f"Late{k:02d}".encode(), 1))
            written = time.monotonic()
            while name not in done:
                await asyncio.sleep(0.01)
            out.append(done[name] - written)
        stop.set()
        await task
    return out


def _count_rounds(data: Path) -> int:
    import duckdb

    glob = data / "lake" / "rounds" / "**" / "*.parquet"
    rows = duckdb.execute(
        f"select count(*) from read_parquet('{glob}', hive_partitioning=true)"
    ).fetchall()
    return int(rows[0][0])


def quiet_poll(n_files: int, polls: int = 5) -> dict[str, Any]:
    """CPU and wall time of a poll that finds nothing new in a folder of ``n_files`` (all
    already in ``raw/``): what `watch` pays every 10 s in a session on a server that keeps
    every round it ever wrote. The client's CPU time only (the server is its own process)."""
    from etl_duck.fetch.poller import Fetcher
    from etl_duck.lake.rawstore import RawStore

    def ingest(paths: list[Path]) -> int:
        if paths:
            raise RuntimeError(f"a quiet poll handed over {len(paths)} files")
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        base = Path(tmp)
        folder = base / "server-root" / "gamestats"
        folder.mkdir(parents=True)
        _write_backlog(folder, n_files)
        data = base / "data"
        RawStore(data).store((p.name, p.read_bytes()) for p in sorted(folder.iterdir()))
        with _sftp_server(base) as port:
            settings = _settings(base, port, data)

            async def measure() -> tuple[list[tuple[float, float]], int]:
                out = []
                async with Fetcher(settings, ingest) as fetcher:
                    await fetcher.poll_once()  # learns what raw/ holds, as a first poll does
                    for _ in range(polls):
                        c0, w0 = time.process_time(), time.perf_counter()
                        report = await fetcher.poll_once()
                        out.append((time.process_time() - c0, time.perf_counter() - w0))
                return out, report.known

            samples, known = asyncio.run(measure())
    return {
        "benchmark": "quiet_poll",
        "n_files": n_files,
        "known": known,
        "polls": polls,
        "median_cpu_s": round(statistics.median(c for c, _ in samples), 3),
        "median_wall_s": round(statistics.median(w for _, w in samples), 3),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--quiet-poll"]:
        print(json.dumps(quiet_poll(int(sys.argv[2]) if len(sys.argv) > 2 else 20_000), indent=2))
    else:
        n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
        print(json.dumps(run(n), indent=2))
