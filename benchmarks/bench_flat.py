"""Cost flat in history (issue 20): every kind of first request, commits, memory.

For one history size (a :class:`~benchmarks.datasets.Prepared` size, on a scratch copy of
its cached lake), through the public API only (``Stats``, ``ingest_paths``, the
``etl-duck`` CLI), so the harness keeps working while the internals change:

* :func:`read_phase` — for every question the bot answers (:mod:`benchmarks.botqueries`):
  cache **hit**; LRU **miss** (``stats.cache.clear()`` before each call; per-version
  structures kept); **nothing warm** (a fresh process answers that one query first:
  ``query_ms`` is the call alone, ``open_query_ms`` adds ``Stats()``; spawn → answer is
  the whole process); **cold start → first leaderboard** (a fresh process importing only
  the query API); cProfile of the nothing-warm calls; a **bot-like process**'s RSS/PSS.
* :func:`write_phase` — a stream of one-file commits in process (new files of the
  following evenings in play order), each followed by one question timed as the **first
  request after the commit**; **new file → visible** through ``etl-duck ingest FILE`` and
  a reader process polling the query API; **syscalls of one commit** (``strace -c``);
  **disk** over a burst of quick commits; a cProfile of one in-process commit.

Fresh processes are run interleaved (one round of every query, then the next round), so
a change in machine load lands on every query alike.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.botqueries import QUERIES, Context, Query, check_metrics, pick_player, summarize
from benchmarks.common import NO_FUTURE_CHECK_ENV, ROOT, Timing, ingest_options
from benchmarks.datasets import NextFile, Prepared, disk_kib, etl_duck_command, loadavg

Progress = Callable[[str], None]

#: the nothing-warm calls profiled (cProfile, one fresh process each)
PROFILED = ("card", "weapons", "lb_kills", "session_summary", "last_session")


@dataclass(frozen=True)
class FlatOptions:
    """Repetitions. ``full()``: what the published figures use; ``reduced()``: the fast
    default of ``make bench``; ``quick()``: the smoke test."""

    miss_reps: int = 20
    miss_budget_s: float = 15.0  # per query; at least 3 reps
    hit_reps: int = 200
    cold_reps: int = 20  # fresh processes per headline query
    cold_reps_other: int = 5  # … per other query (the other boards, the bot's card)
    coldstart_reps: int = 20
    after_commit_reps: int = 5  # per headline query: the commit stream is 8 × this
    min_stream: int = 20  # one-file commits at least
    visible_reps: int = 20
    burst: int = 40
    syscall_commits: int = 3  # commits traced with strace -c
    settle_s: float = 5.0  # after the burst: expired snapshots' detached deletion
    profile: bool = True
    bot_memory: bool = True

    @classmethod
    def full(cls) -> FlatOptions:
        return cls()

    @classmethod
    def reduced(cls) -> FlatOptions:
        return cls(cold_reps=5, cold_reps_other=2, coldstart_reps=5, after_commit_reps=3,
                   visible_reps=10)  # fmt: skip

    @classmethod
    def quick(cls) -> FlatOptions:
        """The smoke test: every measurement once (the other boards only in process)."""
        return replace(
            cls(),
            miss_reps=3,
            miss_budget_s=2.0,
            hit_reps=20,
            cold_reps=1,
            cold_reps_other=0,
            coldstart_reps=1,
            after_commit_reps=1,
            min_stream=8,
            visible_reps=1,
            burst=3,
            syscall_commits=1,
            settle_s=0.5,
            profile=False,
        )

    def stream_length(self) -> int:
        return max(self.min_stream, self.after_commit_reps * sum(q.headline for q in QUERIES))

    def files_needed(self) -> int:
        return (
            self.stream_length() + self.visible_reps + self.syscall_commits + self.burst
            + (1 if self.profile else 0)
        )  # fmt: skip


def timing(samples: list[float]) -> dict[str, Any]:
    t = Timing(list(samples))
    return {"median_ms": t.median, "p95_ms": t.p95, "n": t.n, "min_ms": min(samples, default=None)}


# --------------------------------------------------------------------------- reads


def _child(args: list[str], timeout: float = 600) -> tuple[dict[str, Any], float, float]:
    """Run ``python -m benchmarks.flat_child ARGS``; (its JSON, spawn monotonic time,
    whole-process wall ms)."""
    t_spawn = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.flat_child", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall = (time.monotonic() - t_spawn) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"flat_child {' '.join(args[:2])} failed:\n{proc.stderr[-3000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]), t_spawn, wall


def in_process(
    stats: Any, ctx: Context, opts: FlatOptions, progress: Progress
) -> dict[str, dict[str, Any]]:
    """Per query: LRU miss (cleared cache before each call) and hit, in this process."""
    out: dict[str, dict[str, Any]] = {}
    for q in QUERIES:
        stats.cache.clear()
        first_t0 = time.perf_counter()
        result = q.call(stats, ctx)
        first = (time.perf_counter() - first_t0) * 1000
        miss: list[float] = []
        spent = 0.0
        for i in range(opts.miss_reps):
            stats.cache.clear()
            t0 = time.perf_counter()
            q.call(stats, ctx)
            ms = (time.perf_counter() - t0) * 1000
            miss.append(ms)
            spent += ms / 1000
            if i + 1 >= min(3, opts.miss_reps) and spent > opts.miss_budget_s:
                break
        q.call(stats, ctx)
        hit: list[float] = []
        for _ in range(opts.hit_reps):
            t0 = time.perf_counter()
            q.call(stats, ctx)
            hit.append((time.perf_counter() - t0) * 1000)
        out[q.key] = {
            "first_in_process_ms": first,
            "miss": timing(miss),
            "hit": timing(hit),
            "answer": summarize(result),
        }
        progress(
            f"    {q.key:<18} miss {out[q.key]['miss']['median_ms']:9.3f} ms   "
            f"hit {out[q.key]['hit']['median_ms'] * 1000:8.1f} µs"
        )
    return out


def nothing_warm(
    data: Path, ctx: Context, opts: FlatOptions, progress: Progress
) -> dict[str, dict[str, Any]]:
    """Per query: fresh processes, each answering that one query first (interleaved)."""
    want = {q.key: opts.cold_reps if q.headline else opts.cold_reps_other for q in QUERIES}
    runs: dict[str, list[dict[str, Any]]] = {q.key: [] for q in QUERIES}
    for rep in range(max(want.values(), default=0)):
        for q in QUERIES:
            if rep >= want[q.key]:
                continue
            got, t_spawn, wall = _child(["query", str(data), q.key, ctx.name, ctx.guid])
            got["spawn_to_answer_ms"] = (got["t_answer"] - t_spawn) * 1000
            got["process_wall_ms"] = wall
            runs[q.key].append(got)
        progress(f"    nothing warm: round {rep + 1}/{max(want.values())} done ({loadavg()})")
    out: dict[str, dict[str, Any]] = {}
    for key, rs in runs.items():
        if not rs:
            continue
        out[key] = {
            "query": timing([r["query_ms"] for r in rs]),
            "query_cpu": timing([r["query_cpu_ms"] for r in rs]),
            "query_runqueue": timing([r["query_runqueue_ms"] for r in rs]),
            "open_query": timing([r["open_ms"] + r["query_ms"] for r in rs]),
            "open": timing([r["open_ms"] for r in rs]),
            "import": timing([r["import_ms"] for r in rs]),
            "spawn_to_answer": timing([r["spawn_to_answer_ms"] for r in rs]),
            "process_wall": timing([r["process_wall_ms"] for r in rs]),
            "answer": rs[0]["summary"],
            "answers_identical": all(r["summary"] == rs[0]["summary"] for r in rs),
            "imported_by_query": rs[0]["imported_by_query"],
        }
    return out


def cold_start(data: Path, reps: int) -> dict[str, Any]:
    """Fresh process importing only the query API → first kills leaderboard."""
    samples, rows = [], []
    for _ in range(reps):
        got, t_spawn, _ = _child(["coldstart", str(data)])
        samples.append((got["t_answer"] - t_spawn) * 1000)
        rows.append(got["rows"])
    return {"spawn_to_answer": timing(samples), "rows": rows}


def profiles(data: Path, ctx: Context) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for key in PROFILED:
        got, _, _ = _child(["query", str(data), key, ctx.name, ctx.guid, "profile"])
        out[key] = got.get("profile", [])
    return out


def read_phase(prep: Prepared, data: Path, opts: FlatOptions, progress: Progress) -> dict[str, Any]:
    from etl_duck.query.stats import Stats

    stats = Stats(data)
    missing = check_metrics(Stats.metrics())
    if missing:
        raise RuntimeError(f"benchmarks/botqueries.py does not time these leaderboards: {missing}")
    ctx = pick_player(stats)
    status = stats.status()
    out: dict[str, Any] = {
        "player": {"name": ctx.name, "guid": ctx.guid},
        "lake": {
            k: status.get(k)
            for k in ("rounds", "counted_rounds", "player_rounds", "players", "sessions")
        },
        "loadavg_start": loadavg(),
    }
    progress(f"  {prep.label}: in-process miss and hit, {len(QUERIES)} queries")
    out["in_process"] = in_process(stats, ctx, opts, progress)
    del stats
    progress(f"  {prep.label}: nothing warm (fresh processes)")
    out["nothing_warm"] = nothing_warm(data, ctx, opts, progress)
    progress(f"  {prep.label}: cold start → first leaderboard ({opts.coldstart_reps} processes)")
    out["cold_start"] = cold_start(data, opts.coldstart_reps)
    if opts.profile:
        progress(f"  {prep.label}: cProfile of the nothing-warm calls")
        out["profiles"] = profiles(data, ctx)
    if opts.bot_memory:
        progress(f"  {prep.label}: bot-like process memory")
        got, _, wall = _child(["bot", str(data), ctx.name, ctx.guid])
        out["bot_memory"] = {**got, "process_wall_ms": wall}
    out["loadavg_end"] = loadavg()
    return out


# --------------------------------------------------------------------------- writes


def _headline() -> list[Query]:
    return [q for q in QUERIES if q.headline]


def commit_stream(
    data: Path, ctx: Context, files: list[NextFile], progress: Progress
) -> dict[str, Any]:
    """One-file commits in process, as the bot's ingestor makes them; after each, one
    question (in turn) timed as the first request after the commit."""
    from etl_duck.ingest.run import ingest_paths
    from etl_duck.query.stats import Stats

    stats = Stats(data)
    stats.warm()
    heads = _headline()
    for q in heads:  # a process that has answered queries
        q.call(stats, ctx)
    ingest: list[float] = []
    after: dict[str, list[float]] = {q.key: [] for q in heads}
    ingested = 0
    for i, f in enumerate(files):
        t0 = time.perf_counter()
        report = ingest_paths(data, [f.path], ingest_options())
        ingest.append((time.perf_counter() - t0) * 1000)
        ingested += len(report.ingested)
        q = heads[i % len(heads)]
        t0 = time.perf_counter()
        q.call(stats, ctx)
        after[q.key].append((time.perf_counter() - t0) * 1000)
    progress(
        f"    {len(files)} one-file commits: ingest p50 {Timing(ingest).median:.0f} ms, "
        f"p95 {Timing(ingest).p95:.0f} ms"
    )
    return {
        "files": len(files),
        "ingested": ingested,
        "ingest": timing(ingest),
        "ingest_samples_ms": ingest,
        "first_after_commit": {k: timing(v) for k, v in after.items() if v},
    }


def _talking_child(mode: str, data: Path) -> subprocess.Popen[str]:
    """A ``flat_child`` process in ``mode`` that reads lines on stdin and answers JSON lines."""
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.flat_child", mode, str(data)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def visibility(data: Path, files: list[NextFile], progress: Progress) -> dict[str, Any]:
    """``etl-duck ingest FILE`` (a fresh process) while a reader process polls the query
    API: new file → queryable, per file."""
    reader = _talking_child("reader", data)
    assert reader.stdin is not None and reader.stdout is not None
    visible, cli = [], []
    try:
        ready = json.loads(reader.stdout.readline())
        assert ready.get("ready")
        for f in files:
            t0 = time.monotonic()
            reader.stdin.write(f.path.name + "\n")
            reader.stdin.flush()
            proc = subprocess.run(
                [*etl_duck_command(), "--data-dir", str(data), "ingest", str(f.path)],
                cwd=ROOT,
                env={**os.environ, **NO_FUTURE_CHECK_ENV},
                capture_output=True,
                text=True,
                check=False,
            )
            cli.append((time.monotonic() - t0) * 1000)
            if proc.returncode not in (0, 3):  # 3: ingested, with an open problem to show
                raise RuntimeError(f"etl-duck ingest {f.path.name}: {proc.stderr[-2000:]}")
            got = json.loads(reader.stdout.readline())
            if "error" in got:
                raise RuntimeError(f"{f.path.name}: {got['error']}")
            visible.append((got["t_visible"] - t0) * 1000)
    finally:
        if reader.stdin:
            reader.stdin.close()
        reader.wait(timeout=60)
    progress(f"    new file → visible p50 {Timing(visible).median:.0f} ms ({len(files)} files)")
    return {"files": len(files), "visible": timing(visible), "cli_process": timing(cli)}


SYSCALLS_OF_INTEREST = (
    "mkdir", "mkdirat", "link", "linkat", "symlink", "symlinkat", "rename", "renameat",
    "renameat2", "unlink", "unlinkat", "rmdir", "fsync", "fdatasync", "sync", "syncfs",
    "sync_file_range", "openat", "open", "write", "pwrite64", "statx", "newfstatat", "stat",
    "lstat", "readlink", "readlinkat", "getdents64",
)  # fmt: skip


def commit_syscalls(data: Path, files: list[NextFile]) -> dict[str, Any]:
    """Syscalls of one-file commits, one ``strace -c -f`` per commit, attached to a process
    that has already imported everything, for the ingest call alone. A commit's work can
    depend on what earlier commits left (a spare snapshot folder, say), so several commits
    are traced: per syscall the median and the largest count, and every commit's table."""
    import shutil
    import statistics

    if shutil.which("strace") is None:
        return {"skipped": "strace is not installed"}
    child = _talking_child("commit", data)
    assert child.stdin is not None and child.stdout is not None
    out_file = data.parent / f"strace-{os.getpid()}.txt"
    tables: list[dict[str, dict[str, Any]]] = []
    ingest_ms: list[float] = []
    tracer = None
    try:
        json.loads(child.stdout.readline())
        for f in files:
            tracer = subprocess.Popen(
                ["strace", "-c", "-f", "-o", str(out_file), "-p", str(child.pid)],
                stderr=subprocess.PIPE,
                text=True,
            )
            assert tracer.stderr is not None
            tracer.stderr.readline()  # "Process N attached with M threads"
            time.sleep(0.2)
            child.stdin.write(str(f.path) + "\n")
            child.stdin.flush()
            done = json.loads(child.stdout.readline())
            ingest_ms.append(done["ingest_ms"])
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=30)
            tracer = None
            tables.append(_parse_strace(out_file.read_text()) if out_file.exists() else {})
            out_file.unlink(missing_ok=True)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return {"skipped": f"strace failed: {type(exc).__name__}: {exc}"}
    finally:
        if tracer is not None and tracer.poll() is None:
            tracer.kill()
        child.stdin.close()
        child.wait(timeout=60)
        out_file.unlink(missing_ok=True)
    if not tables or not all(tables):
        return {"skipped": "strace produced no summary (ptrace not permitted?)"}

    def counts(t: dict[str, dict[str, Any]]) -> dict[str, int]:
        return {k: int(t[k]["calls"]) for k in SYSCALLS_OF_INTEREST if k in t}

    per_commit = [counts(t) for t in tables]
    names = sorted({k for c in per_commit for k in c}, key=SYSCALLS_OF_INTEREST.index)
    return {
        "commits": len(tables),
        "ingest_ms_traced": ingest_ms,
        "total_calls": statistics.median(sum(v["calls"] for v in t.values()) for t in tables),
        "calls": {k: statistics.median(c.get(k, 0) for c in per_commit) for k in names},
        "max_calls": {k: max(c.get(k, 0) for c in per_commit) for k in names},
        "per_commit": per_commit,
    }


def _parse_strace(text: str) -> dict[str, dict[str, Any]]:
    """``strace -c`` table → {syscall: {calls, errors, seconds}}."""
    out: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5 or not re.match(r"^\d", parts[0]) or parts[-1] == "total":
            continue
        name = parts[-1]
        nums = parts[:-1]
        try:
            seconds, calls = float(nums[1]), int(nums[3])
            errors = int(nums[4]) if len(nums) > 4 else 0
        except (ValueError, IndexError):
            continue
        out[name] = {"calls": calls, "errors": errors, "seconds": seconds}
    return out


def burst(
    data: Path, files: list[NextFile], progress: Progress, settle_s: float = 5.0
) -> dict[str, Any]:
    """Quick one-file commits back to back; disk use sampled beside them (``du``)."""
    from etl_duck.ingest.run import ingest_paths

    before = disk_kib(data)
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], disk_kib(data))
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    times = []
    t_all = time.perf_counter()
    try:
        for f in files:
            t0 = time.perf_counter()
            ingest_paths(data, [f.path], ingest_options())
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        stop.set()
        sampler.join()
    wall = time.perf_counter() - t_all
    right_after = disk_kib(data)
    time.sleep(settle_s)  # detached deletions of expired snapshots finish
    settled = disk_kib(data)
    peak_kib = max(peak[0], right_after)
    progress(
        f"    burst of {len(files)} commits in {wall:.1f} s: disk {before / 1024:.0f} → peak "
        f"{peak_kib / 1024:.0f} → {settled / 1024:.0f} MiB"
    )
    return {
        "commits": len(files),
        "seconds": wall,
        "ingest": timing(times),
        "disk_before_mib": before / 1024,
        "disk_peak_mib": peak_kib / 1024,
        "disk_after_mib": right_after / 1024,
        "disk_settled_mib": settled / 1024,
    }


def profile_commit(data: Path, f: NextFile) -> dict[str, Any]:
    """cProfile of one in-process one-file commit: top entries, and the file-system
    calls made from Python (``os.mkdir``, ``os.link``, ``os.fsync``, ``os.sync`` …)."""
    import cProfile

    from benchmarks.flat_child import _profile_top
    from etl_duck.ingest.run import ingest_paths

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    ingest_paths(data, [f.path], ingest_options())
    prof.disable()
    ms = (time.perf_counter() - t0) * 1000
    import pstats

    st = pstats.Stats(prof)
    fs: dict[str, dict[str, float]] = {}
    for (_file, _line, func), (_cc, nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        m = re.match(r"<built-in method (?:posix|os)\.(\w+)>", func)
        if m and m.group(1) in (
            "mkdir", "link", "symlink", "rename", "replace", "unlink", "rmdir", "fsync",
            "fdatasync", "sync", "open", "stat", "lstat", "readlink", "scandir", "listdir",
        ):  # fmt: skip
            fs[m.group(1)] = {"calls": nc, "ms": tt * 1000}
    return {"ingest_ms": ms, "python_fs_calls": fs, "top": _profile_top(prof, 20)}


def write_phase(
    prep: Prepared, data: Path, ctx: Context, opts: FlatOptions, progress: Progress
) -> tuple[dict[str, Any], int]:
    """Every measurement that commits into ``data``; returns (results, files used)."""
    files = prep.next_files
    need = opts.files_needed()
    if len(files) < need:
        raise RuntimeError(f"{prep.label}: {len(files)} new files, {need} needed")
    i = 0

    def take(n: int) -> list[NextFile]:
        nonlocal i
        got = files[i : i + n]
        i += n
        return got

    out: dict[str, Any] = {"loadavg_start": loadavg()}
    progress(f"  {prep.label}: one-file commits in process + first request after each")
    out["stream"] = commit_stream(data, ctx, take(opts.stream_length()), progress)
    progress(f"  {prep.label}: new file → visible (`etl-duck ingest FILE` + reader process)")
    out["visibility"] = visibility(data, take(opts.visible_reps), progress)
    progress(f"  {prep.label}: syscalls of one commit (strace -c)")
    out["syscalls"] = commit_syscalls(data, take(opts.syscall_commits))
    if opts.profile:
        out["commit_profile"] = profile_commit(data, take(1)[0])
    progress(f"  {prep.label}: burst of {opts.burst} quick commits (disk)")
    out["burst"] = burst(data, take(opts.burst), progress, opts.settle_s)
    out["loadavg_end"] = loadavg()
    return out, i
