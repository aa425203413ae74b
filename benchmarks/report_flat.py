"""The cost-flat section of ``benchmarks/RESULTS.md`` (issue 20), from one run's JSON.

:func:`goal_rows` is the table the issue asks for — one row per measured quantity, one
column per history size plus PostgreSQL (audit indexes) — with each goal and whether it
is met; :func:`section` renders it with the per-size detail, the profiles and the
PostgreSQL calibration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.botqueries import BY_KEY, QUERIES
from benchmarks.common import fmt_ms, size_days

# goals (issue 20; DESIGN.md "Targets")
G_NOTHING_WARM_MS = 10.0  # card, weapon totals, every leaderboard: fresh process, after a commit
G_SESSION_MS = 2.0  # last-session per-player summary
G_INGEST_P50_MS = 200.0  # one-file ingest in process
G_VISIBLE_P50_MS = 500.0  # new file → visible
G_FLAT = 0.25  # commit figures within 25 % across sizes
G_BACKFILL_TREE_MIB = 500.0  # backfill, whole process tree
G_BOT_MIB = 200.0  # bot process after its usual queries and charts
G_COLD_START_MS = 300.0  # cold start → first answer
G_HIT_MS = 0.1  # every cache hit (DESIGN.md)

TEN, THIRTY = size_days(10), size_days(30)
BIG = (TEN, THIRTY)  # "at 10 and 30 years"


ms = fmt_ms  # the main report's format for milliseconds


def mib(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def _get(d: Any, *path: str | int) -> Any:
    for p in path:
        if d is None:
            return None
        d = d.get(p) if isinstance(d, dict) else None
    return d


def _med(d: Any, *path: str) -> float | None:
    v = _get(d, *path, "median_ms")
    return float(v) if v is not None else None


@dataclass
class Row:
    """One line of the goal table: a cell per size (display text, value checked)."""

    what: str
    goal: str
    sizes_checked: tuple[int, ...] | None  # None: every size
    cells: dict[int, tuple[str, float | None]] = field(default_factory=dict)
    pg: str = ""
    limit: float | None = None  # value ≤ limit is met
    met_override: bool | None = None
    note: str = ""

    def met(self, measured: list[int]) -> tuple[bool | None, str]:
        if self.met_override is not None:
            return self.met_override, ""
        if self.limit is None:
            return None, ""
        wanted = [d for d in (self.sizes_checked or measured) if d in measured]
        scope = ""
        if not wanted:  # the goal's sizes were not run: judge on what was
            wanted, scope = measured, " (at the sizes run)"
        vals = [v for d in wanted if d in self.cells and (v := self.cells[d][1]) is not None]
        if not vals:
            return None, ""
        return all(v <= self.limit for v in vals), scope


def _nw(size: dict[str, Any], key: str, part: str = "query") -> float | None:
    return _med(size, "flat_reads", "nothing_warm", key, part)


def _after(size: dict[str, Any], key: str) -> float | None:
    return _med(size, "flat_writes", "stream", "first_after_commit", key)


def _miss(size: dict[str, Any], key: str) -> float | None:
    return _med(size, "flat_reads", "in_process", key, "miss")


def goal_rows(run: dict[str, Any]) -> list[Row]:
    sizes: list[dict[str, Any]] = run["sizes"]
    pg = next((s["pg_side"] for s in reversed(sizes) if s.get("pg_side")), None)
    pg_ops = pg["ops"] if pg else {}

    def pgcell(key: str) -> str:
        t = pg_ops.get(key)
        if not t:
            return ""
        return f"{ms(t['median_ms'])} (first after restart {ms(t['first_ms'])})"

    rows: list[Row] = []

    def add(row: Row, value: Callable[[dict[str, Any]], float | None],
            text: Callable[[dict[str, Any]], str] | None = None) -> None:  # fmt: skip
        for s in sizes:
            v = value(s)
            row.cells[s["days"]] = (text(s) if text else ms(v), v)
        rows.append(row)

    nw = f"≤ {G_NOTHING_WARM_MS:g} ms at 10 and 30 y"
    add(Row("player card, nothing warm (fresh process: the call)", nw, BIG,
            pg=pgcell("career_card"), limit=G_NOTHING_WARM_MS), lambda s: _nw(s, "card"))  # fmt: skip
    add(Row("player card, nothing warm: `Stats()` + the call", "(shown: what open costs)", None),
        lambda s: _nw(s, "card", "open_query"))  # fmt: skip
    add(Row("player card, first request after a commit", nw, BIG, limit=G_NOTHING_WARM_MS),
        lambda s: _after(s, "card"))  # fmt: skip
    add(Row("player card as /player shows it (+ personal bests), nothing warm",
            "(the bot's real first request)", None), lambda s: _nw(s, "card_bot"))  # fmt: skip
    add(Row("weapon totals, nothing warm", nw, BIG, pg=pgcell("weapon_totals"),
            limit=G_NOTHING_WARM_MS), lambda s: _nw(s, "weapons"))  # fmt: skip
    add(Row("weapon totals, first request after a commit", nw, BIG, limit=G_NOTHING_WARM_MS),
        lambda s: _after(s, "weapons"))  # fmt: skip
    add(Row("kills leaderboard (all time), nothing warm", nw, BIG, pg=pgcell("kills_lb"),
            limit=G_NOTHING_WARM_MS), lambda s: _nw(s, "lb_kills"))  # fmt: skip
    add(Row("DPM leaderboard (all time), nothing warm", nw, BIG, pg=pgcell("dpm_lb"),
            limit=G_NOTHING_WARM_MS), lambda s: _nw(s, "lb_dpm"))  # fmt: skip

    def worst_board(s: dict[str, Any]) -> tuple[float | None, str]:
        vals = [(_nw(s, q.key), q.key[3:]) for q in QUERIES if q.key.startswith("lb_")]
        vals = [(v, k) for v, k in vals if v is not None]
        return max(vals) if vals else (None, "")

    add(Row("every leaderboard (13 all-time + month), nothing warm: the slowest", nw, BIG,
            limit=G_NOTHING_WARM_MS), lambda s: worst_board(s)[0],
        lambda s: f"{ms(worst_board(s)[0])} ({worst_board(s)[1]})")  # fmt: skip

    def worst_after(s: dict[str, Any]) -> tuple[float | None, str]:
        vals = [(_after(s, k), k) for k in ("lb_kills", "lb_dpm", "lb_month")]
        vals = [(v, k) for v, k in vals if v is not None]
        return max(vals) if vals else (None, "")

    add(Row("leaderboards, first request after a commit: the slowest", nw, BIG,
            limit=G_NOTHING_WARM_MS), lambda s: worst_after(s)[0],
        lambda s: f"{ms(worst_after(s)[0])} ({worst_after(s)[1][3:]})")  # fmt: skip
    sess = f"≤ {G_SESSION_MS:g} ms at 10 and 30 y"
    add(Row("last session per-player summary, miss", sess, BIG, pg=pgcell("session_agg"),
            limit=G_SESSION_MS), lambda s: _miss(s, "session_summary"))  # fmt: skip
    add(Row("last session per-player summary, nothing warm", sess, BIG, limit=G_SESSION_MS),
        lambda s: _nw(s, "session_summary"))  # fmt: skip
    add(Row("last session per-player summary, first request after a commit", sess, BIG,
            limit=G_SESSION_MS), lambda s: _after(s, "session_summary"))  # fmt: skip

    def p50p95(d: Any) -> str:
        if not d:
            return "—"
        return f"{ms(d['median_ms'])} ({ms(d['p95_ms'])})"

    pg_file = pg.get("backlog_ms_per_file") if pg else None
    add(Row("one-file ingest in process, p50 (p95)", f"p50 ≤ {G_INGEST_P50_MS:g} ms", None,
            pg=f"{ms(pg_file)} per file, one transaction each" if pg_file else "",
            limit=G_INGEST_P50_MS),
        lambda s: _med(s, "flat_writes", "stream", "ingest"),
        lambda s: p50p95(_get(s, "flat_writes", "stream", "ingest")))  # fmt: skip
    add(Row("new file → visible via `etl-duck ingest FILE`, p50 (p95)",
            f"p50 ≤ {G_VISIBLE_P50_MS:g} ms", None, limit=G_VISIBLE_P50_MS),
        lambda s: _med(s, "flat_writes", "visibility", "visible"),
        lambda s: p50p95(_get(s, "flat_writes", "visibility", "visible")))  # fmt: skip
    rows.append(_flatness(sizes))
    add(Row("backfill peak RSS: largest process / Σ tree (Σ PSS), MiB",
            f"tree ≤ {G_BACKFILL_TREE_MIB:g} MiB at 10 and 30 y", BIG,
            limit=G_BACKFILL_TREE_MIB),
        lambda s: _get(s, "backfill", "peak_tree_rss_mib"),
        lambda s: (f"{mib(_get(s, 'backfill', 'peak_largest_rss_mib'))} / "
                   f"{mib(_get(s, 'backfill', 'peak_tree_rss_mib'))} "
                   f"({mib(_get(s, 'backfill', 'peak_tree_pss_mib'))})"))  # fmt: skip
    pgm = pg.get("memory_queries") if pg else None
    add(Row("bot-like process after its queries and charts: RSS / PSS, MiB",
            f"≤ {G_BOT_MIB:g} MiB at 10 y", (TEN,),
            pg=f"server tree Σ RSS {mib(pgm['rss'])} / Σ PSS {mib(pgm['pss'])}" if pgm else "",
            limit=G_BOT_MIB),
        lambda s: _get(s, "flat_reads", "bot_memory", "after_queries", "rss"),
        lambda s: (f"{mib(_get(s, 'flat_reads', 'bot_memory', 'after_queries', 'rss'))} / "
                   f"{mib(_get(s, 'flat_reads', 'bot_memory', 'after_queries', 'pss'))}"
                   + (f" (+ chart worker {mib(cw['rss'])} / {mib(cw['pss'])})"
                      if (cw := _get(s, 'flat_reads', 'bot_memory', 'chart_worker')) else "")))  # fmt: skip
    add(Row("cold start → first leaderboard (spawn → answer), p50",
            f"≤ {G_COLD_START_MS:g} ms at 10 y", (TEN,), limit=G_COLD_START_MS),
        lambda s: _med(s, "flat_reads", "cold_start", "spawn_to_answer"))  # fmt: skip

    def hits(s: dict[str, Any]) -> tuple[float | None, str]:
        vals = [(_med(s, "flat_reads", "in_process", q.key, "hit"), q.key) for q in QUERIES]
        vals = [(v, k) for v, k in vals if v is not None]
        return max(vals) if vals else (None, "")

    add(Row("cache hit, the slowest query's median", f"≤ {G_HIT_MS * 1000:g} µs", None,
            limit=G_HIT_MS), lambda s: hits(s)[0],
        lambda s: f"{ms((hits(s)[0] or 0) * 1000)} µs ({hits(s)[1]})" if hits(s)[0] else "—")  # fmt: skip

    def disk(s: dict[str, Any]) -> str:
        b = _get(s, "flat_writes", "burst")
        if not b:
            return "—"
        return (f"{mib(b['disk_before_mib'])} → {mib(b['disk_peak_mib'])} → "
                f"{mib(b['disk_settled_mib'])}")  # fmt: skip

    n_burst = next((_get(s, "flat_writes", "burst", "commits") for s in sizes), None)
    add(Row(f"disk over {n_burst} quick commits: before → peak → settled, MiB",
            "(the snapshot rule of the data-safety issue)", None),
        lambda s: _get(s, "flat_writes", "burst", "disk_peak_mib"), disk)  # fmt: skip

    def sysc(s: dict[str, Any]) -> str:
        sc = _get(s, "flat_writes", "syscalls") or {}
        c, top = sc.get("calls"), sc.get("max_calls") or sc.get("calls")
        if not c or not top:
            return str(sc.get("skipped") or "—")

        def four(d: dict[str, Any]) -> str:
            mk = d.get("mkdir", 0) + d.get("mkdirat", 0)
            ln = d.get("link", 0) + d.get("linkat", 0)
            fs = d.get("fsync", 0) + d.get("fdatasync", 0)
            sy = d.get("sync", 0) + d.get("syncfs", 0)
            return f"{mk:,.0f} / {ln:,.0f} / {fs:,.0f} / {sy:,.0f}"

        n = sc.get("commits", 1)
        return four(c) if n == 1 else f"{four(c)} (largest of {n}: {four(top)})"

    add(Row("syscalls of a one-file commit (median): mkdir / link / fsync / sync+syncfs",
            "no per-partition folder farm; sync only what was written", None),
        lambda s: None, sysc)  # fmt: skip
    return rows


def _flatness(sizes: list[dict[str, Any]]) -> Row:
    """Largest ÷ smallest p50 over the sizes, for the ingest and the visibility."""
    row = Row("commits flat across sizes: largest ÷ smallest p50 (ingest; visible)",
              f"within {G_FLAT:.0%} across 1, 10, 30 y", None)  # fmt: skip
    spread = []
    for part in ("stream", "visibility"):
        leaf = "ingest" if part == "stream" else "visible"
        vals = [_med(s, "flat_writes", part, leaf) for s in sizes]
        vals2 = [v for v in vals if v]
        if len(vals2) >= 2:
            spread.append(max(vals2) / min(vals2))
    text = "; ".join(f"{x:.2f}×" for x in spread) if spread else "— (one size)"
    for s in sizes:
        row.cells[s["days"]] = ("", None)
    if sizes:
        row.cells[sizes[-1]["days"]] = (text, None)
    if spread:
        row.met_override = all(x <= 1 + G_FLAT for x in spread)
    return row


def _ok(flag: bool | None) -> str:
    return "—" if flag is None else ("✅" if flag else "❌")


def goal_table(run: dict[str, Any]) -> list[str]:
    sizes = run["sizes"]
    measured = [s["days"] for s in sizes]
    pg = next((s["pg_side"] for s in reversed(sizes) if s.get("pg_side")), None)
    head = ["", *(s["label"] for s in sizes)]
    if pg:
        head.append(f"PostgreSQL, audit indexes, {pg['label']}")
    head += ["Goal", "Met"]
    L = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in goal_rows(run):
        cells = [r.cells.get(d, ("—", None))[0] for d in measured]
        met, scope = r.met(measured)
        line = [r.what, *cells]
        if pg:
            line.append(r.pg)
        line += [r.goal + scope, _ok(met)]
        L.append("| " + " | ".join(line) + " |")
    return L


def query_table(size: dict[str, Any]) -> list[str]:
    reads = size.get("flat_reads", {})
    ip, nw = reads.get("in_process", {}), reads.get("nothing_warm", {})
    after = _get(size, "flat_writes", "stream", "first_after_commit") or {}
    L = [
        "| Query | hit (µs) | LRU miss median / p95 (ms) | nothing warm: the call, median / p95 "
        "(ms) | … CPU + run-queue wait, summed over threads | nothing warm: `Stats()` + call | "
        "fresh process: spawn → answer | first after a commit, median (n) | rows |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for q in QUERIES:
        i, n = ip.get(q.key, {}), nw.get(q.key, {})
        a = after.get(q.key)
        hit = _get(i, "hit", "median_ms")
        L.append(
            f"| {q.label} | {ms(hit * 1000) if hit is not None else '—'} | "
            f"{ms(_get(i, 'miss', 'median_ms'))} / {ms(_get(i, 'miss', 'p95_ms'))} | "
            f"{ms(_get(n, 'query', 'median_ms'))} / {ms(_get(n, 'query', 'p95_ms'))} "
            f"(n={_get(n, 'query', 'n') or 0}) | {ms(_get(n, 'query_cpu', 'median_ms'))} + "
            f"{ms(_get(n, 'query_runqueue', 'median_ms'))} | "
            f"{ms(_get(n, 'open_query', 'median_ms'))} | "
            f"{ms(_get(n, 'spawn_to_answer', 'median_ms'))} | "
            f"{ms(a['median_ms']) + ' (' + str(a['n']) + ')' if a else '—'} | "
            f"{_get(i, 'answer', 'rows')} |"
        )
    return L


def _profile_lines(prof: list[dict[str, Any]], n: int = 8) -> list[str]:
    rows = [r for r in prof if r["by"] == "cumtime"][:n]
    return [
        f"    {r['cumtime_ms']:9.1f} ms cum {r['tottime_ms']:8.1f} ms own {r['calls']:>7} "
        f"calls  {r['function']}"
        for r in rows
    ]


def profiles(sizes: list[dict[str, Any]]) -> list[str]:
    L: list[str] = []
    for s in sizes:
        profs = _get(s, "flat_reads", "profiles")
        cp = _get(s, "flat_writes", "commit_profile")
        if not profs and not cp:
            continue
        L.append(f"<details><summary>cProfile, {s['label']}: nothing-warm calls and one "
                 "in-process commit</summary>")  # fmt: skip
        L.append("")
        L.append("```")
        for key, prof in (profs or {}).items():
            L.append(f"{BY_KEY[key].label} (fresh process, the call alone):")
            L += _profile_lines(prof)
        if cp:
            L.append(f"one-file commit in process ({ms(cp['ingest_ms'])} ms under the profiler):")
            L += _profile_lines(cp["top"], 12)
            fs = ", ".join(
                f"os.{k} {v['calls']:,}× {ms(v['ms'])} ms" for k, v in cp["python_fs_calls"].items()
            )
            L.append(f"    file-system calls from Python: {fs or 'none'}")
        L.append("```")
        L.append("</details>")
        L.append("")
    return L


def calibration(sizes: list[dict[str, Any]]) -> list[str]:
    from benchmarks.pg.calibrate import PHASE_LABEL, best

    s = next((x for x in sizes if x.get("pg_calibration")), None)
    if s is None:
        return []
    cal = s["pg_calibration"]
    qs = ("kills_lb", "dpm_lb", "card", "card_overall", "weapon_totals")
    names = {"kills_lb": "kills board", "dpm_lb": "DPM board", "card": "!stats (5 queries)",
             "card_overall": "card 'overall' query", "weapon_totals": "weapon totals"}  # fmt: skip
    L = [f"### PostgreSQL: what moves its figures ({s['label']}, {cal['reps']} reps per cell, "
         "interleaved)", ""]  # fmt: skip
    d = cal["settings_default"]
    L.append(
        f"Server: PostgreSQL {d['server_version']}, its defaults (shared_buffers "
        f"{d['shared_buffers']}, work_mem {d['work_mem']}, jit {d['jit']} above cost "
        f"{d.get('jit_above_cost', '?')}, max_parallel_workers_per_gather "
        f"{d['max_parallel_workers_per_gather']}); {cal['load']['player_rows']:,} player rows, "
        f"{cal['load']['weapon_rows']:,} weapon rows; ANALYZE after the load and after every "
        f"index. Load average {cal['loadavg_start']} → {cal['loadavg_end']}. Cells: median "
        "wall ms of the client round trip (the backend's median ms on a CPU + ms waiting in "
        "the run queue for one, from /proc/PID/schedstat)."
    )
    L.append("")
    L.append("| Schema, settings | " + " | ".join(names[q] for q in qs) + " |")
    L.append("|---|" + "---|" * len(qs))
    for phase in ("audit", "guid_pcs", "guid_both", "tuned"):
        for variant, cells in cal.get(phase, {}).items():
            line = [PHASE_LABEL[phase] if phase == "tuned" else f"{PHASE_LABEL[phase]}, {variant}"]
            for q in qs:
                c = cells.get(q)
                line.append(
                    f"{ms(c['median_ms'])} ({ms(c['backend_cpu_ms'])} + "
                    f"{ms(c.get('backend_runqueue_ms'))})"
                    if c
                    else "—"
                )
            L.append("| " + " | ".join(line) + " |")
    first = _get(cal, "audit", "defaults")
    if first:
        L.append("")
        L.append(
            "First call after a server restart (cold shared buffers, OS cache warm), "
            "defaults: " + ", ".join(f"{names[q]} {ms(first[q]['first_ms'])} ms" for q in qs)
            + "."
        )  # fmt: skip
    b = best(cal)
    L.append("")
    L.append("Fastest PostgreSQL per query: " + "; ".join(
        f"{names[q]} {ms(b[q][0])} ms ({b[q][1]})" for q in qs if q in b) + ".")  # fmt: skip
    L.append("")
    L += explain_gap(cal)
    return L


def explain_gap(cal: dict[str, Any]) -> list[str]:
    """The reading of the calibration table, from its numbers: per change, the backend's
    CPU time (what a quiet machine reproduces) beside the wall time."""

    def cell(phase: str, variant: str, q: str = "kills_lb") -> dict[str, Any] | None:
        got = _get(cal, phase, variant, q)
        return got if isinstance(got, dict) else None

    base = cell("audit", "defaults")
    if base is None:
        return []

    def say(label: str, c: dict[str, Any] | None) -> str:
        if c is None:
            return ""
        return (f"{label}: {ms(c['median_ms'])} ms wall, {ms(c['backend_cpu_ms'])} ms CPU, "
                f"{ms(c.get('backend_runqueue_ms'))} ms waiting for a core")  # fmt: skip

    parts = [
        say("the defaults", base),
        say("`jit = off`", cell("audit", "jit off")),
        say("`work_mem = 64MB`", cell("audit", "work_mem 64MB")),
        say("both", cell("audit", "jit off + work_mem 64MB")),
        say("no parallel workers", cell("audit", "no parallel workers")),
        say("+ index on `player_comprehensive_stats (player_guid)`", cell("guid_pcs", "defaults")),
        say("a tuned server with every index", cell("tuned", "tuned server")),
    ]
    return [
        "Kills leaderboard (the original's correlated name subquery), one change at a time — "
        + "; ".join(p for p in parts if p)
        + "."
    ]


def section(run: dict[str, Any]) -> str:
    m = run["machine"]
    sizes = run["sizes"]
    L = ["## Cost flat in history: nothing warm, commits, memory (issue 20)", ""]
    L.append(f"Command: `{run['command']}` ({run.get('mode')} repetitions)  ")
    L.append(
        f"Run: {run['started']} → {run.get('finished', '?')} "
        f"({run.get('wall_s', 0) / 60:.1f} min) on {m['cpu']} × {m['cores']} cores, "
        f"{m['ram_gib']} GiB, {m['os']}; Python {m['python']}, DuckDB {m['duckdb']}, "
        f"Polars {m['polars']}, PyArrow {m['pyarrow']}. Load average (1, 5, 15 min) per size, "
        "start → end: "
        + "; ".join(
            f"{s['label']} {_get(s, 'flat_reads', 'loadavg_start')} → "
            f"{_get(s, 'flat_writes', 'loadavg_end')}"
            for s in sizes
        )
        + ". A shared 2-core machine: medians are robust to other work, p95 less so."
    )
    L.append("")
    L.append("| Size | files | rounds (counted) | player-rounds | players | backfill (cached?) |")
    L.append("|---|---|---|---|---|---|")
    for s in sizes:
        lake = _get(s, "flat_reads", "lake") or {}
        b = s.get("backfill", {})
        L.append(
            f"| {s['label']} | {s['history_files']:,} | {lake.get('rounds') or 0:,} "
            f"({lake.get('counted_rounds') or 0:,}) | {lake.get('player_rounds') or 0:,} | "
            f"{lake.get('players') or 0:,} | {b.get('seconds', 0):.1f} s on "
            f"{b.get('measured', '?')}, load {b.get('loadavg', '?')}"
            f"{' (cached lake)' if _get(s, 'reused', 'lake') else ''} |"
        )
    L.append("")
    L.append("### Measured against the goals")
    L.append("")
    L += goal_table(run)
    L.append("")
    L += [
        "**Sizes**: each history ends on 27 December (1 year = 358 days from 4 January "
        "2016, 10 years = 3,645, 30 years = 10,950), so at every size the new files land in "
        "the last days of a full year, where a commit used to cost most (it rewrote its "
        "year's serving shards; it now rewrites the latest dates' shard, and re-sums the "
        "year into the careers; earlier runs ended 1 and 10 years in early January). "
        "How each figure is taken (`benchmarks/bench_flat.py`, public API only): **nothing "
        "warm** = a fresh interpreter imports the query API and DuckDB/Polars/PyArrow, "
        "opens `Stats` on the lake and answers that one query first; the call alone is "
        "timed (`perf_counter`), `Stats()` + call shown beside it, spawn → answer is the "
        "whole process. **LRU miss** = `stats.cache.clear()` before each call in a process "
        "that keeps its per-version structures. **First request after a commit** = in a "
        "process that has answered the questions, `ingest_paths` of one new file (the next "
        "evening's files in play order, as the bot's ingestor does), then one question "
        "(in turn) timed. **New file → visible** = `etl-duck ingest FILE` in a fresh "
        "process while a reader process (warm `Stats`) polls `Stats.rounds_by_files` "
        "after each lake version change. **Cold start** = a fresh interpreter importing only "
        "`etl_duck.query.stats` → first kills leaderboard. **Backfill** = `etl-duck ingest` "
        "of the whole history, the process tree sampled every 50 ms (RSS from "
        "/proc/PID/status, PSS from /proc/PID/smaps_rollup). **Bot-like process** = "
        "imports `etl_duck.bot.client`, every cog and discord.py, `Stats.warm()`, every "
        "query above, the session, timeline, leaderboard and radar charts.",
        "",
    ]
    for s in sizes:
        L.append(f"### {s['label']}: every question")
        L.append("")
        p = _get(s, "flat_reads", "player") or {}
        L.append(f"Card player: {p.get('name')} ({p.get('guid')}).")
        L.append("")
        L += query_table(s)
        L.append("")
        w = s.get("flat_writes", {})
        st, vis, bu = w.get("stream"), w.get("visibility"), w.get("burst")
        if st and vis and bu:
            L.append(
                f"Commits: {st['files']} one-file commits in process, p50 "
                f"{ms(st['ingest']['median_ms'])} ms, p95 {ms(st['ingest']['p95_ms'])} ms; "
                f"new file → visible over {vis['files']} files p50 "
                f"{ms(vis['visible']['median_ms'])} ms, p95 {ms(vis['visible']['p95_ms'])} ms "
                f"(the `etl-duck ingest` process alone: p50 "
                f"{ms(vis['cli_process']['median_ms'])} ms); a burst of {bu['commits']} "
                f"commits took {bu['seconds']:.1f} s (p50 {ms(bu['ingest']['median_ms'])} ms)."
            )
            sc = w.get("syscalls", {})
            if sc.get("per_commit"):
                L.append(
                    f"Syscalls of {sc['commits']} one-file commits (`strace -c -f`, one each; "
                    f"median {sc['total_calls']:,.0f} calls in all): "
                    + "; ".join(
                        ", ".join(f"{k} {v:,}" for k, v in c.items()) for c in sc["per_commit"]
                    )
                    + "."
                )
            L.append("")
        bm = _get(s, "flat_reads", "bot_memory")
        if bm:
            L.append(
                "Bot-like process, RSS / PSS MiB: "
                f"after imports {mib(bm['after_import']['rss'])} / "
                f"{mib(bm['after_import']['pss'])}, after `warm()` + starting the chart worker "
                f"{mib(bm['after_warm']['rss'])} / {mib(bm['after_warm']['pss'])}, after the "
                f"queries and {bm['charts']} charts {mib(bm['after_queries']['rss'])} / "
                f"{mib(bm['after_queries']['pss'])} (peak {mib(bm['after_queries']['peak_rss'])})."
                + (
                    f" Its chart worker process (matplotlib): {mib(cw['rss'])} / "
                    f"{mib(cw['pss'])} (peak {mib(cw['peak_rss'])})."
                    if (cw := bm.get("chart_worker"))
                    else ""
                )
            )
            L.append("")
    L += profiles(sizes)
    L += calibration(sizes)
    return "\n".join(L)
