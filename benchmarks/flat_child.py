"""Fresh processes for :mod:`benchmarks.bench_flat` (``python -m benchmarks.flat_child``).

Modes (each prints one JSON line; times from ``time.monotonic()``, which is one clock for
every process on the machine, so the parent can subtract its spawn time):

* ``query DATA KEY NAME GUID [PROFILE]`` — nothing warm: import the query API and the
  libraries every query needs (DuckDB, Polars, PyArrow: a query process has them loaded
  before its first request), open ``Stats`` on DATA, answer ONE query of
  :mod:`benchmarks.botqueries`; ``query_ms`` is ``perf_counter`` around that call alone.
  With PROFILE, the call runs under cProfile and the top entries come back.
* ``coldstart DATA`` — cold start → first answer: import only
  ``etl_duck.query.stats``, open ``Stats``, answer the kills leaderboard; the parent
  takes spawn → answer.
* ``bot DATA NAME GUID`` — a bot-like process: import what ``etl-duck bot`` imports (the
  client, every cog, discord.py), open ``Stats``, warm it as the bot does, answer the usual
  questions, render the usual charts through the chart worker process as the bot does;
  then RSS and PSS (``/proc/self/smaps_rollup``) of the process and of its chart worker.
* ``reader DATA`` — the visibility reader: reads file names on stdin and, for each, polls
  the query API until the round is queryable; prints when.
* ``commit DATA`` — reads ``FILE`` lines on stdin, ingests each (one commit) and says
  when it is done: the parent attaches ``strace -c`` in between to count syscalls.
"""

from __future__ import annotations

import time

T_ENTER = time.monotonic()  # as early as this module can take it

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, default=str), flush=True)


def _profile_top(prof: Any, n: int = 25) -> list[dict[str, Any]]:
    import pstats

    st = pstats.Stats(prof)
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({func})",
                "file": file,
                "calls": nc,
                "tottime_ms": tt * 1000,
                "cumtime_ms": ct * 1000,
            }
        )
    rows.sort(key=lambda r: r["cumtime_ms"], reverse=True)
    top_cum = rows[:n]
    top_tot = sorted(rows, key=lambda r: r["tottime_ms"], reverse=True)[:n]
    return [{"by": "cumtime", **r} for r in top_cum] + [{"by": "tottime", **r} for r in top_tot]


def query(data: str, key: str, name: str, guid: str, profile: bool = False) -> None:
    from benchmarks.botqueries import BY_KEY, Context, summarize
    from benchmarks.procmem import sched_ms

    t0 = time.perf_counter()
    import duckdb  # noqa: F401
    import polars  # noqa: F401
    import pyarrow  # noqa: F401

    from etl_duck.query.stats import Stats

    t1 = time.perf_counter()
    stats = Stats(data)
    t2 = time.perf_counter()
    before = set(sys.modules)
    q = BY_KEY[key]
    ctx = Context(name, guid)
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    s0 = sched_ms()
    t3 = time.perf_counter()
    result = q.call(stats, ctx)
    t4 = time.perf_counter()
    t_answer = time.monotonic()
    s1 = sched_ms()
    if prof is not None:
        prof.disable()
    new_modules = sorted(set(sys.modules) - before)
    out: dict[str, Any] = {
        "t_enter": T_ENTER,
        "t_answer": t_answer,
        "import_ms": (t1 - t0) * 1000,
        "open_ms": (t2 - t1) * 1000,
        "query_ms": (t4 - t3) * 1000,
        "query_cpu_ms": s1[0] - s0[0],  # every thread of this process
        "query_runqueue_ms": s1[1] - s0[1],
        "summary": summarize(result),
        "imported_by_query": new_modules,
    }
    if prof is not None:
        out["profile"] = _profile_top(prof)
    _emit(out)


def coldstart(data: str) -> None:
    from etl_duck.query.stats import Stats

    stats = Stats(data)
    board = stats.leaderboard("kills")
    t_answer = time.monotonic()
    _emit({"t_enter": T_ENTER, "t_answer": t_answer, "rows": int(board.height)})


def bot(data: str, name: str, guid: str) -> None:
    """Memory of a process shaped like ``etl-duck bot`` after its usual work."""
    from benchmarks.procmem import self_memory

    mem: dict[str, Any] = {"start": self_memory()}
    import discord  # noqa: F401

    import etl_duck.bot.client
    import etl_duck.bot.cogs  # noqa: F401
    from benchmarks.procmem import rollup, status_mib
    from etl_duck import charts
    from etl_duck.bot.chartworker import ChartWorker
    from etl_duck.query.stats import Stats

    mem["after_import"] = self_memory()
    t0 = time.perf_counter()
    stats = Stats(data)
    stats.warm()  # what EtlDuckBot.prepare() does before the first command
    worker = ChartWorker()  # the bot draws its charts in a process of its own
    worker.warm_up()
    mem["warm_s"] = time.perf_counter() - t0
    mem["after_warm"] = self_memory()
    from benchmarks.botqueries import QUERIES, Context

    ctx = Context(name, guid)
    done = []
    for q in QUERIES:
        q.call(stats, ctx)
        done.append(q.key)
    report = stats.last_session()
    board = stats.leaderboard("kills", "all", 10)
    pngs = [
        worker.render(charts.session_overview_png, report),
        worker.render(charts.dpm_timeline_png, report),
        worker.render(charts.leaderboard_png, board, "Kills"),
        worker.render(charts.compare_radar_png,
                      stats.compare(str(board["guid"][0]), str(board["guid"][1])),
                      ["kills", "dpm", "accuracy"]),
    ]  # fmt: skip
    mem["after_queries"] = self_memory()
    pid = worker.pid()
    if pid is not None:  # reported beside the bot's own figures, never hidden
        mem["chart_worker"] = {**rollup(pid), "peak_rss": status_mib("VmHWM", pid)}
    mem["matplotlib_in_bot"] = "matplotlib" in sys.modules
    mem["queries"] = done
    mem["charts"] = len(pngs)
    mem["chart_bytes"] = sum(len(p) for p in pngs)
    import gc

    gc.collect()
    mem["after_gc"] = self_memory()
    _emit(mem)


def reader(data: str) -> None:
    """For each file name on stdin: poll until the query API knows the round."""
    from etl_duck.query.stats import Stats

    stats = Stats(data)
    stats.warm()
    version = stats.version()
    _emit({"ready": True, "t": time.monotonic()})
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        polls = 0
        t_start = time.monotonic()
        while True:
            # a cheap version check between polls (a tight loop of queries would take a
            # core from the ingest it waits for); the round query once the version moved
            now = stats.version()
            if now != version:
                polls += 1
                if stats.rounds_by_files([name]).height:
                    version = now
                    break
            if time.monotonic() - t_start > 120:
                _emit({"name": name, "error": "not visible after 120 s"})
                return
            time.sleep(0.002)
        _emit({"name": name, "t_visible": time.monotonic(), "polls": polls})


def commit(data: str) -> None:
    from benchmarks.common import ingest_options
    from etl_duck.ingest.run import ingest_paths

    _emit({"ready": True})
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        t0 = time.perf_counter()
        report = ingest_paths(data, [Path(path)], ingest_options())
        _emit({"ingest_ms": (time.perf_counter() - t0) * 1000, "ingested": len(report.ingested)})


def main(argv: list[str]) -> int:
    mode, args = argv[0], argv[1:]
    if mode == "query":
        query(args[0], args[1], args[2], args[3], profile=len(args) > 4 and args[4] == "profile")
    elif mode == "coldstart":
        coldstart(args[0])
    elif mode == "bot":
        bot(args[0], args[1], args[2])
    elif mode == "reader":
        reader(args[0])
    elif mode == "commit":
        commit(args[0])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
