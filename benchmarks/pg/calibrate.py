"""Why PostgreSQL's times differ between runs: the baseline under controlled variations.

An independent run measured the original's kills leaderboard at ~239 ms (10 years, with
indexes) where ``RESULTS.md`` had ~500 ms. This module loads one lake into a throw-away
server once and times the same queries (the original's SQL from
:mod:`benchmarks.pg.baseline`) under one change at a time, with every variant of a phase
**interleaved** rep by rep (so a change in machine load lands on all alike):

* phase ``audit`` — the original schema + the audit's four indexes, ``ANALYZE`` after
  loading and after the indexes; session settings varied with ``SET``: the defaults,
  ``jit = off``, ``work_mem = 64MB``, both, ``max_parallel_workers_per_gather = 0``;
* phase ``guid`` — plus an index on ``player_comprehensive_stats (player_guid)`` (the
  correlated name subquery and the card look players up by GUID; neither the original's
  keys nor the audit's indexes lead with it); then also on
  ``weapon_comprehensive_stats (player_guid)``;
* phase ``tuned`` — the server restarted with ``shared_buffers = 1GB``, ``work_mem =
  64MB``, ``jit = off`` and every index above.

For every (variant, query): median and p95 of the client round trip, the first call after
a server restart (cold shared buffers), and per call the backend's time on a CPU and its
time waiting in the run queue for one (``/proc/<backend pid>/schedstat``): on a busy
machine the wall time is the CPU time plus that wait (plus any disk wait), so the CPU time
is the figure another machine would reproduce.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import Timing
from benchmarks.datasets import loadavg
from benchmarks.procmem import sched_ms

Progress = Callable[[str], None]

SESSION_VARIANTS: dict[str, dict[str, str]] = {
    "defaults": {},
    "jit off": {"jit": "off"},
    "work_mem 64MB": {"work_mem": "'64MB'"},
    "jit off + work_mem 64MB": {"jit": "off", "work_mem": "'64MB'"},
    "no parallel workers": {"max_parallel_workers_per_gather": "0"},
}
TUNED_SERVER = {"shared_buffers": "1GB", "work_mem": "64MB", "jit": "off"}
GUID_INDEXES = (
    ("idx_pcs_player_guid", "player_comprehensive_stats (player_guid)"),
    ("idx_wcs_player_guid", "weapon_comprehensive_stats (player_guid)"),
)


def _queries(orig: Any, name: str, guid: str) -> dict[str, Callable[[], Any]]:
    from benchmarks.pg import baseline as pgb

    overall = pgb.Q_CARD_OVERALL.format(valid=pgb.VALID)
    return {
        "kills_lb": orig.kills_leaderboard,
        "dpm_lb": orig.dpm_leaderboard,
        "card": lambda: orig.career_card(name),
        "card_overall": lambda: orig._all(overall, (guid,)),
        "weapon_totals": lambda: orig.weapon_totals(guid),
    }


def _phase(
    srv: Any,
    variants: dict[str, dict[str, str]],
    name: str,
    guid: str,
    reps: int,
    kmin: int,
    dmin: int,
    restart: bool = True,
) -> dict[str, dict[str, Any]]:
    """Every variant on its own connection; reps interleaved variant by variant."""
    from benchmarks.pg import baseline as pgb

    if restart:
        srv.restart()
    conns, calls, pids = {}, {}, {}
    try:
        for v, sets in variants.items():
            conn = srv.connect()
            for k, val in sets.items():
                conn.execute(f"SET {k} = {val}")
            conns[v] = conn
            pids[v] = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
            calls[v] = _queries(pgb.Original(conn, kmin, dmin), name, guid)
        samples: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        wait: dict[tuple[str, str], list[float]] = {}
        first: dict[tuple[str, str], float] = {}
        qkeys = list(next(iter(calls.values())))
        for rep in range(reps + 1):
            for q in qkeys:
                for v in variants:
                    c0, w0 = sched_ms(pids[v])
                    t0 = time.perf_counter()
                    calls[v][q]()
                    ms = (time.perf_counter() - t0) * 1000
                    c1, w1 = sched_ms(pids[v])
                    if rep == 0:  # after the restart: cold shared buffers (first variant)
                        first[(v, q)] = ms
                        continue
                    samples.setdefault((v, q), []).append(ms)
                    cpu.setdefault((v, q), []).append(c1 - c0)
                    wait.setdefault((v, q), []).append(w1 - w0)
        out: dict[str, dict[str, Any]] = {}
        for (v, q), s in samples.items():
            t = Timing(s)
            out.setdefault(v, {})[q] = {
                "median_ms": t.median,
                "p95_ms": t.p95,
                "first_ms": first[(v, q)],
                "n": t.n,
                "backend_cpu_ms": statistics.median(cpu[(v, q)]),
                "backend_runqueue_ms": statistics.median(wait[(v, q)]),
            }
        return out
    finally:
        for conn in conns.values():
            conn.close()


def _add_index(srv: Any, index: tuple[str, str]) -> None:
    """One of ``GUID_INDEXES`` (name, table and column), then fresh statistics."""
    name, target = index
    with srv.connect() as conn:
        conn.execute(f"CREATE INDEX {name} ON {target}")
        conn.execute("ANALYZE")


def _explain(srv: Any, sets: dict[str, str], kmin: int, dmin: int) -> dict[str, str]:
    from benchmarks.pg import baseline as pgb

    with srv.connect() as conn:
        for k, val in sets.items():
            conn.execute(f"SET {k} = {val}")
        orig = pgb.Original(conn, kmin, dmin)
        orig.kills_leaderboard()  # warm, so the plan shows a warm execution
        return {"kills_lb": orig.explain(orig.q_kills)}


def calibrate(
    data_dir: Path,
    card: tuple[str, str],
    *,
    reps: int = 20,
    kills_min_games: int = 10,
    dpm_min_games: int = 50,
    progress: Progress = print,
) -> dict[str, Any]:
    """Load ``data_dir``'s lake into a throw-away server and run the phases."""
    from benchmarks.pg import baseline as pgb

    name, guid = card
    kmin, dmin = kills_min_games, dpm_min_games
    out: dict[str, Any] = {"reps": reps, "loadavg_start": loadavg(), "card_player": name}
    with pgb.PgServer() as srv:
        with srv.connect() as conn:
            out["settings_default"] = srv.settings(conn)
            load = pgb.load_from_lake(conn, data_dir)
            out["load"] = {"player_rows": load.player_rows, "weapon_rows": load.weapon_rows,
                           "rounds": load.rounds, "db_mib": load.db_mib}  # fmt: skip
            pgb.create_audit_indexes(conn)  # ends with ANALYZE
        progress(f"    PG calibration: audit indexes, {len(SESSION_VARIANTS)} variants interleaved")
        out["audit"] = _phase(srv, SESSION_VARIANTS, name, guid, reps, kmin, dmin)
        out["explain_audit_defaults"] = _explain(srv, {}, kmin, dmin)
        two = {k: SESSION_VARIANTS[k] for k in ("defaults", "jit off + work_mem 64MB")}
        _add_index(srv, GUID_INDEXES[0])
        progress("    PG calibration: + index on player_comprehensive_stats (player_guid)")
        out["guid_pcs"] = _phase(srv, two, name, guid, reps, kmin, dmin)
        out["explain_guid_pcs_defaults"] = _explain(srv, {}, kmin, dmin)
        _add_index(srv, GUID_INDEXES[1])
        progress("    PG calibration: + index on weapon_comprehensive_stats (player_guid)")
        out["guid_both"] = _phase(srv, two, name, guid, reps, kmin, dmin)
        progress("    PG calibration: tuned server (shared_buffers 1GB, work_mem 64MB, jit off)")
        srv.restart(TUNED_SERVER)
        with srv.connect() as conn:
            out["settings_tuned"] = srv.settings(conn)
        out["tuned"] = _phase(srv, {"tuned server": {}}, name, guid, reps, kmin, dmin, False)
    out["loadavg_end"] = loadavg()
    return out


def best(cal: dict[str, Any]) -> dict[str, tuple[float, str]]:
    """Per query: the fastest median over every phase and variant, and where."""
    found: dict[str, tuple[float, str]] = {}
    for phase in ("audit", "guid_pcs", "guid_both", "tuned"):
        for variant, qs in cal.get(phase, {}).items():
            for q, t in qs.items():
                if q not in found or t["median_ms"] < found[q][0]:
                    where = (
                        PHASE_LABEL[phase]
                        if phase == "tuned"
                        else f"{PHASE_LABEL[phase]}, {variant}"
                    )
                    found[q] = (t["median_ms"], where)
    return found


PHASE_LABEL = {
    "audit": "audit indexes",
    "guid_pcs": "audit + player_guid index on player rows",
    "guid_both": "audit + player_guid indexes on player and weapon rows",
    "tuned": "all indexes, tuned server",
}
