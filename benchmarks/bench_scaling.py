"""Figures for ``docs/SCALING.md``: rows and bytes per round, evening and year; lake size,
load and query times at 1, 10 and 30 years; memory and latency of several communities in
one process (the basis of "communities per 2-core VPS").

``python -m benchmarks.bench_scaling [--years 1,10,30] [--communities 1,2,4,8] [--work DIR]``
writes ``benchmarks/SCALING.json`` (the doc quotes it). Each size: the synthetic history
(``make_dataset``: same generator and seed as the other benchmarks) ingested in one
backfill, then a fresh process per measurement so load times and RSS are its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, ingest_options, machine_info, make_dataset, vm_hwm_mib

OUT = ROOT / "benchmarks" / "SCALING.json"
REPS = 7


def log(msg: str) -> None:
    print(f"[bench_scaling {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rss_mib() -> float:
    from benchmarks.procmem import status_mib

    return status_mib("VmRSS") or float("nan")


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _median_ms(fn: Any, clear: Any) -> float:
    samples = []
    for _ in range(REPS):
        clear()
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


# --------------------------------------------------------------------------- probes (own process)


def probe_queries(data: Path) -> dict[str, Any]:
    """Cold load, RSS, and cache-miss query times of one community's lake."""
    t0 = time.perf_counter()
    from etl_duck.query.stats import Stats

    stats = Stats(data)
    stats.version()
    load_s = time.perf_counter() - t0
    after_load = rss_mib()
    top = stats.leaderboard("games", limit=1)["guid"][0]
    clear = stats.cache.clear
    out = {
        "load_s": load_s,
        "rss_after_load_mib": after_load,
        "kills_lb_ms": _median_ms(lambda: stats.leaderboard("kills"), clear),
        "dpm_lb_ms": _median_ms(lambda: stats.leaderboard("dpm"), clear),
        "dpm_month_ms": _median_ms(lambda: stats.leaderboard("dpm", "month"), clear),
        "last_session_ms": _median_ms(stats.last_session, clear),
        "player_card_ms": _median_ms(lambda: stats.player(str(top)), clear),
        "sessions_list_ms": _median_ms(stats.sessions, clear),
    }
    out["rss_after_queries_mib"] = rss_mib()
    out["peak_rss_mib"] = vm_hwm_mib()
    return out


def probe_communities(data: Path, n: int) -> dict[str, Any]:
    """``n`` communities served by one process (each its own Stats: serving tables, cache),
    then every community asked a cache-missing question at the same moment."""
    from etl_duck.query.stats import Stats

    base = rss_mib()
    communities = []
    for _ in range(n):
        s = Stats(data)
        s.version()
        s.last_session()
        communities.append(s)
    loaded = rss_mib()
    latencies: list[float] = []
    lock = threading.Lock()

    def ask(s: Any, what: str) -> None:
        s.cache.clear()
        t0 = time.perf_counter()
        if what == "session":
            s.last_session()
        else:
            s.leaderboard(what)
        ms = (time.perf_counter() - t0) * 1000
        with lock:
            latencies.append(ms)

    for what in ("session", "dpm", "kills", "session", "dpm", "kills"):
        threads = [threading.Thread(target=ask, args=(s, what)) for s in communities]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    latencies.sort()
    return {
        "communities": n,
        "rss_base_mib": base,
        "rss_loaded_mib": loaded,
        "rss_per_community_mib": (loaded - base) / n,
        "burst_p50_ms": latencies[len(latencies) // 2],
        "burst_p95_ms": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
        "burst_max_ms": latencies[-1],
    }


def _subprocess(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scaling", *args],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


# --------------------------------------------------------------------------- one size


def measure_size(days: int, work: Path) -> dict[str, Any]:
    import polars as pl

    from etl_duck.ingest.run import ingest_paths

    ds = make_dataset(days, work / "files", backlog=20)
    data = work / "data"
    log(f"{ds.label}: ingesting {len(ds.history):,} files")
    t0 = time.perf_counter()
    ingest_paths(data, ds.history, ingest_options())
    backfill_s = time.perf_counter() - t0
    snap = (data / "lake").resolve()
    tables = {}
    for table in ("rounds", "player_rounds", "weapon_rounds"):
        files = list((snap / table).rglob("*.parquet"))
        rows = pl.scan_parquet(snap / table / "**" / "*.parquet").select(pl.len()).collect().item()
        tables[table] = {"rows": rows, "bytes": sum(f.stat().st_size for f in files),
                         "files": len(files)}  # fmt: skip
    serving = du(snap / "_serving")
    state = du(snap / "_state")
    raw = du(data / "raw")
    rounds = tables["rounds"]["rows"]
    sessions = (
        pl.scan_parquet(snap / "rounds" / "**" / "*.parquet")
        .select(pl.col("session_id").n_unique())
        .collect()
        .item()
    )
    log(f"{ds.label}: probing queries in a fresh process")
    queries = _subprocess("probe", str(data))
    # a one-file commit into this lake (the live path), then the serving process's refresh
    commits = []
    for f in ds.backlog[:5]:
        t1 = time.perf_counter()
        ingest_paths(data, [f], ingest_options())
        commits.append((time.perf_counter() - t1) * 1000)
    return {
        "days": days,
        "label": ds.label,
        "files": len(ds.history),
        "raw_bytes": raw,
        "sessions": sessions,
        "rounds": rounds,
        "tables": tables,
        "serving_bytes": serving,
        "state_bytes": state,
        "lake_bytes": sum(t["bytes"] for t in tables.values()) + serving + state,
        "backfill_s": backfill_s,
        "one_file_commit_ms": statistics.median(commits),
        "queries": queries,
        "data": str(data),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["probe"]:
        print(json.dumps(probe_queries(Path(argv[1]))))
        return 0
    if argv[:1] == ["communities"]:
        print(json.dumps(probe_communities(Path(argv[1]), int(argv[2]))))
        return 0
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_scaling")
    p.add_argument("--years", default="1,10,30")
    p.add_argument("--communities", default="1,2,4,8")
    p.add_argument("--community-years", type=float, default=10, help="history of each community")
    p.add_argument("--work", type=Path, help="keep generated data here (default: a temp dir)")
    args = p.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="etl-duck-scaling-"))
    res: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.bench_scaling", *argv]),
        "machine": machine_info(),
        "started": f"{datetime.now():%Y-%m-%d %H:%M}",
        "sizes": [],
    }
    t0 = time.perf_counter()
    for years in [float(y) for y in args.years.split(",")]:
        days = round(years * 365)
        res["sizes"].append(measure_size(days, work / f"d{days}"))
        OUT.write_text(json.dumps(res, indent=1, default=str))
    cdays = round(args.community_years * 365)
    cdata = next((Path(s["data"]) for s in res["sizes"] if s["days"] == cdays), None)
    if cdata is not None:
        res["communities"] = []
        for n in (int(x) for x in args.communities.split(",")):
            log(f"{n} communities of {args.community_years:g} years in one process")
            res["communities"].append(_subprocess("communities", str(cdata), str(n)))
    res["wall_s"] = time.perf_counter() - t0
    res["load_avg"] = os.getloadavg()
    OUT.write_text(json.dumps(res, indent=1, default=str))
    log(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
