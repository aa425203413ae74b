"""How a process without PyArrow (the bot) turns a query's answer into a Polars frame:
from the DB-API result's Python rows (``serving.frame_by_rows``, what ``query_polars``
takes for an answer of ≤ 1,000 rows of plain types) against the Arrow C stream of a
relation (``serving.frame_by_relation``, the only path before; DuckDB 2.0's relation binds
a query and then plans it again to run it).

Every query the bot's questions run (``benchmarks.botqueries``, on the player with the most
rounds) is timed both ways in this one process, interleaved, the answers compared.

    python -m benchmarks.bench_rows DATA_DIR [REPEATS]
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def main(data: Path, repeats: int = 21) -> dict[str, Any]:
    import etl_duck.query.stats as stats_module
    from benchmarks.botqueries import QUERIES, pick_player
    from etl_duck.query import serving
    from etl_duck.query.stats import Stats

    if "pyarrow" in sys.modules:
        raise SystemExit("PyArrow is loaded: this measures the bot's process, without it")
    logging.getLogger("etl_duck").setLevel(logging.ERROR)  # its "slow query" lines time the loop
    out: dict[str, Any] = {}

    def timed(cur: Any, text: str, params: dict[str, Any]) -> Any:
        """Each query's first run, timed both ways on its cursor (its views in place)."""
        key = text.splitlines()[0][3:70]
        first = serving.frame_by_rows(cur, text, params)
        if key in out or first is None:  # a query by relation (many rows, nested types)
            return serving.frame_by_relation(cur, text, params)
        times: dict[str, list[float]] = {"rows": [], "relation": []}
        for _ in range(repeats):
            for kind, fn in (
                ("rows", serving.frame_by_rows),
                ("relation", serving.frame_by_relation),
            ):
                t = time.perf_counter()
                fn(cur, text, params)
                times[kind].append((time.perf_counter() - t) * 1000)
        rows, rel = (statistics.median(times[k]) for k in ("rows", "relation"))
        out[key] = {
            "rows": first.height,
            "rows_ms": round(rows, 2),
            "relation_ms": round(rel, 2),
            "ratio": round(rel / rows, 2),
        }
        return first

    stats = Stats(data)
    ctx = pick_player(stats)
    stats_module.__dict__["query_polars"] = timed
    try:
        for q in QUERIES:
            stats.cache.clear()
            q.call(stats, ctx)
    finally:
        stats_module.__dict__["query_polars"] = serving.query_polars
    return out


def report(result: dict[str, Any], data: Path, repeats: int) -> str:
    """The RESULTS.md section: each query's medians both ways, and their sum."""
    import os

    total = [sum(r[k] for r in result.values()) for k in ("relation_ms", "rows_ms")]
    lines = [
        "## The bot's answers without PyArrow (bench_rows)",
        "",
        f"`python -m benchmarks.bench_rows {data} {repeats}` ({time.strftime('%Y-%m-%d %H:%M')}, "
        f"load average {os.getloadavg()[0]:.1f}): each query of the bot's questions, its "
        "frame built from the Arrow C stream of a relation (before) and from the result's "
        f"Python rows (now), {repeats} times each, interleaved, in one process without "
        "PyArrow. Medians, ms:",
        "",
        "| query | rows | relation | rows | × |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, r in result.items():
        lines.append(
            f"| {key.rstrip()} | {r['rows']} | {r['relation_ms']:.2f} | {r['rows_ms']:.2f} "
            f"| {r['ratio']:.2f} |"
        )
    lines.append(f"| **sum** | | {total[0]:.1f} | {total[1]:.1f} | {total[0] / total[1]:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from benchmarks.common import write_section

    data, repeats = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 21
    result = main(data, repeats)
    text = report(result, data, repeats)
    print(text)
    write_section(Path(__file__).with_name("RESULTS.md"), "rows", text)
    print(json.dumps(result))
