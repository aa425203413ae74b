"""Ingest benchmarks: a whole history, a 100-file backlog, and one late file's visibility.

Ingest runs in a fresh interpreter (``python -m benchmarks.bench_ingest ingest DATA LIST``)
so its peak memory is its own: VmHWM of the process, and the peak Σ PSS of its parse
workers sampled every 0.25 s (the ingest uses a process pool for big batches; PSS does not
count the pages they share with the parent twice). Wall time is measured inside that process
around ``ingest_paths`` (interpreter start and imports excluded).

The visibility latency is measured in the query process itself: a ``Stats`` serving the
lake, one new file ingested, then ``Stats.leaderboard`` polled until its answer includes
the new rounds (ingest commit + serving refresh + query).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    MemorySampler,
    children_memory,
    ingest_options,
    run_json_subprocess,
    vm_hwm_mib,
)


def ingest_files(data_dir: Path, paths: Sequence[Path]) -> dict[str, Any]:
    """``ingest_paths`` in THIS process (meant for the subprocess entry point)."""
    from etl_duck.ingest.run import ingest_paths

    with MemorySampler(children_memory) as workers:
        t0 = time.perf_counter()
        report = ingest_paths(data_dir, list(paths), ingest_options())
        wall = time.perf_counter() - t0
    return {
        "files": len(paths),
        "seconds": wall,
        "files_per_s": len(paths) / wall if wall else None,
        "ingested": len(report.ingested),
        "quarantined": len(report.quarantined),
        "partitions_written": report.partitions_written,
        "version": report.version,
        "peak_rss_mib": vm_hwm_mib(),
        "peak_pss_workers_mib": workers.peak_pss,  # Σ over the parse pool, sampled
    }


def ingest_in_subprocess(data_dir: Path, paths: Sequence[Path], work: Path) -> dict[str, Any]:
    listing = work / f"ingest-{time.monotonic_ns()}.txt"
    listing.write_text("\n".join(str(p) for p in paths))
    try:
        return run_json_subprocess(
            ["benchmarks.bench_ingest", "ingest", str(data_dir), str(listing)], timeout=3600
        )
    finally:
        listing.unlink(missing_ok=True)


def visible_rounds(stats: Any) -> int:
    """Σ counted rounds over all players: grows when a new counted round is queryable."""
    board = stats.leaderboard("games", "all", 1_000_000, min_rounds=0)
    return int(board["value"].sum()) if board.height else 0


def _board(stats: Any) -> Any:
    return stats.leaderboard("kills", "all", 1_000_000, min_rounds=0)


def backlog_to_queryable(
    stats: Any, data_dir: Path, paths: Sequence[Path], work: Path
) -> dict[str, Any]:
    """The backlog ingested in one commit (subprocess), then the time until the serving
    process answers a leaderboard that includes it."""
    before = visible_rounds(stats)
    ingest = ingest_in_subprocess(data_dir, paths, work)
    t0 = time.perf_counter()
    after = visible_rounds(stats)
    refresh_ms = (time.perf_counter() - t0) * 1000
    return {
        **ingest,
        "refresh_and_query_ms": refresh_ms,
        "to_queryable_s": ingest["seconds"] + refresh_ms / 1000,
        "player_rounds_added": after - before,
    }


def visibility(
    stats: Any, data_dir: Path, late_file: Path, timeout_s: float = 30
) -> dict[str, Any]:
    """One new file lands: ingest it (in process), then poll ``Stats.leaderboard`` until the
    answer includes it. Returns the split and the total in milliseconds."""
    from etl_duck.ingest.run import ingest_paths

    before = _board(stats)
    t0 = time.perf_counter()
    ingest_paths(data_dir, [late_file], ingest_options())
    t1 = time.perf_counter()
    polls = 0
    while True:
        polls += 1
        if not _board(stats).equals(before):  # the new round's kills are in the answer
            break
        if time.perf_counter() - t0 > timeout_s:
            raise RuntimeError(f"{late_file.name} not visible after {timeout_s} s")
    t2 = time.perf_counter()
    return {
        "file": late_file.name,
        "ingest_ms": (t1 - t0) * 1000,
        "refresh_and_query_ms": (t2 - t1) * 1000,
        "total_ms": (t2 - t0) * 1000,
        "polls": polls,
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "ingest":
        files = [Path(p) for p in Path(sys.argv[3]).read_text().splitlines() if p.strip()]
        print(json.dumps(ingest_files(Path(sys.argv[2]), files)))
    else:
        print("usage: python -m benchmarks.bench_ingest ingest DATA_DIR FILE_LIST", file=sys.stderr)
        sys.exit(2)
