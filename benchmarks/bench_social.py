"""The cost of the evening and social features on a year of synthetic history.

``python -m benchmarks.bench_social DIR [--days N]``: generates the history (once), backfills
all but its last rounds, then commits those one at a time (the live case: each commit also
maintains the new serving rollups — map results, best rounds, versus sums) and reports the
median commit; then the social index (every record, personal best and milestone ever,
built once per lake version) and the social questions, cold and warm. Prints JSON.
Run the same command with another tree first on ``PYTHONPATH`` to compare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--live", type=int, default=8, help="rounds committed one at a time")
    args = ap.parse_args()
    from benchmarks.common import ingest_options
    from etl_duck.ingest.run import ingest_paths
    from etl_duck.query.stats import Stats
    from etl_duck.synth import generate

    files_dir = args.work / f"files-{args.days}"
    if not files_dir.exists():
        generate(files_dir, seed=7, days=args.days)
    files = sorted(files_dir.iterdir())
    data = args.work / f"data-{time.time_ns()}"
    out: dict[str, Any] = {"files": len(files)}
    t0 = time.perf_counter()
    ingest_paths(data, files[: -args.live], ingest_options())
    out["backfill_s"] = time.perf_counter() - t0
    stats = Stats(data, min_rounds=1)
    stats.version()
    commits = []
    for f in files[-args.live :]:
        t0 = time.perf_counter()
        ingest_paths(data, [f], ingest_options())
        commits.append(time.perf_counter() - t0)
    out["live_commit_ms_median"] = statistics.median(commits) * 1000
    out["live_commit_ms"] = [round(c * 1000) for c in commits]
    if hasattr(stats, "social"):
        t0 = time.perf_counter()
        idx = stats.social()
        out["social_index_cold_ms"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        ev = stats.social_events()
        out["social_events_cold_ms"] = (time.perf_counter() - t0) * 1000
        out["events"] = {"records": len(ev.records), "personal_bests": len(ev.personal),
                         "milestones": len(ev.milestones)}  # fmt: skip
        guid = idx.results["guid"].value_counts(sort=True)["guid"][0]
        for name, call in (
            ("teammates", lambda: stats.teammates(guid)),
            ("rivals", lambda: stats.rivals(guid)),
            ("records", lambda: stats.records()),
            ("lineups", lambda: stats.lineups()),
            ("session_events", lambda: stats.session_events(stats.session_id_for(None)[0])),
        ):
            t0 = time.perf_counter()
            call()
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            call()
            out[f"{name}_ms"] = {"cold": cold * 1000, "warm": (time.perf_counter() - t0) * 1000}
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
