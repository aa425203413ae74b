"""Query benchmarks: etl-duck side by side with the original PostgreSQL design.

* :class:`EtlOps` — the etl-duck counterpart of each original command, through the public
  :class:`~etl_duck.query.Stats` API (the call returns what the bot renders).
* :func:`check_equal` — before anything is timed, both systems must give the same answers:
  top-10 (GUID, value) of the kills and DPM leaderboards, the last session's id and its
  per-player kills, a career card's kills/rounds and a player's weapon kills.
* :func:`side_by_side` — for each operation: PostgreSQL without and with the audit's
  indexes, etl-duck on a cache miss (``stats.cache.clear()`` before each call; the
  in-memory serving tables stay loaded, as in the bot) and on a cache hit; PostgreSQL and
  etl-duck runs are interleaved. "First" is the first call: for PostgreSQL right after a
  server restart (cold shared buffers and backend caches, OS page cache warm), for
  etl-duck the first call of that operation on a cleared cache.
* :func:`serving_vs_small_files`, :func:`concurrency`, and :func:`rss_probe` (run in a
  fresh interpreter: ``python -m benchmarks.bench_query rss DATA_DIR``) cover the lake and
  query targets.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.common import Timing, measure, time_ms
from benchmarks.procmem import sched_ms
from etl_duck.query.aio import AsyncStats
from etl_duck.query.stats import Stats
from etl_duck.query.windows import ALL_FROM, ALL_TO, Window

# The original's leaderboard thresholds: HAVING COUNT(DISTINCT round_id) > 10 (kills) and
# > 50 (DPM); etl-duck's min_rounds is "at least", so it gets threshold + 1.
KILLS_MIN_GAMES = 10
DPM_MIN_GAMES = 50


# --------------------------------------------------------------------------- etl-duck side


@dataclass
class EtlOps:
    """The etl-duck calls that answer the original's commands."""

    stats: Stats
    card_name: str
    card_guid: str
    kills_min_games: int = KILLS_MIN_GAMES
    dpm_min_games: int = DPM_MIN_GAMES
    session: tuple[int, date] = field(init=False)

    def __post_init__(self) -> None:
        self.session = self.stats.session_id_for(None)

    @property
    def session_window(self) -> Window:
        sid, sdate = self.session
        return Window("session", sdate, sdate, sid)

    def kills(self) -> pl.DataFrame:
        return self.stats.leaderboard("kills", "all", 10, min_rounds=self.kills_min_games + 1)

    def dpm(self) -> pl.DataFrame:
        return self.stats.leaderboard("dpm", "all", 10, min_rounds=self.dpm_min_games + 1)

    def last_session_id(self) -> tuple[int, date]:
        return self.stats.session_id_for(None)

    def session_aggregation(self) -> pl.DataFrame:
        return self.stats.player_totals(self.session_window)

    def session_dpm(self) -> pl.DataFrame:
        return self.stats.leaderboard("dpm", self.session_window, 10)

    def last_session_report(self) -> Any:
        return self.stats.last_session()

    def career_card(self) -> Any:
        return self.stats.player(self.card_name)

    def weapon_totals(self) -> pl.DataFrame:
        return self.stats.weapon_stats(self.card_guid)


def pick_card_player(data_dir: Path) -> tuple[str, str]:
    """A busy player whose current name belongs to no other GUID: (name, guid)."""
    import duckdb

    glob = (Path(data_dir) / "lake" / "player_rounds" / "**" / "*.parquet").as_posix()
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(
            f"""
            WITH pr AS (SELECT * FROM read_parquet('{glob}', hive_partitioning = true)
                        WHERE NOT is_bot),
            cur AS (SELECT guid, arg_max(name, end_time) AS name, count(*) AS n
                    FROM pr WHERE counted GROUP BY guid),
            owners AS (SELECT name, count(DISTINCT guid) AS guids FROM pr GROUP BY name)
            SELECT cur.name, cur.guid FROM cur JOIN owners USING (name)
            WHERE owners.guids = 1 AND length(cur.name) >= 4
            ORDER BY cur.n DESC, cur.guid LIMIT 1
            """
        ).fetchall()
    finally:
        con.close()
    if not rows:
        raise RuntimeError("no player with a unique name in the lake")
    return str(rows[0][0]), str(rows[0][1])


# --------------------------------------------------------------------------- equality


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def _same_top(
    name: str,
    pg: list[tuple[str, float]],
    duck: list[tuple[str, float]],
    duck_all: dict[str, float],
) -> list[str]:
    """Equal value sequences, and every PostgreSQL GUID has that value in etl-duck
    (ties at the same value may come in a different order)."""
    problems: list[str] = []
    if len(pg) != len(duck):
        problems.append(f"{name}: {len(pg)} rows in PostgreSQL, {len(duck)} in etl-duck")
    for i, ((g1, v1), (g2, v2)) in enumerate(zip(pg, duck, strict=False)):
        if not _close(v1, v2):
            problems.append(f"{name} #{i + 1}: PostgreSQL {g1}={v1} vs etl-duck {g2}={v2}")
    for g, v in pg:
        if g not in duck_all or not _close(duck_all[g], v):
            problems.append(f"{name}: {g}={v} in PostgreSQL, {duck_all.get(g)} in etl-duck")
    return problems


def check_equal(orig: Any, ops: EtlOps, session_of: dict[int, int]) -> dict[str, Any]:
    """Compare both systems' answers; returns {'ok', 'problems', 'checked'}."""
    problems: list[str] = []
    checked: list[str] = []
    stats = ops.stats

    def board(metric: str, min_games: int) -> tuple[list[tuple[str, float]], dict[str, float]]:
        top = stats.leaderboard(metric, "all", 10, min_rounds=min_games + 1)
        full = stats.leaderboard(metric, "all", 1_000_000, min_rounds=min_games + 1)
        return (
            [(str(g), float(v)) for g, v in zip(top["guid"], top["value"], strict=True)],
            {str(g): float(v) for g, v in zip(full["guid"], full["value"], strict=True)},
        )

    kills_top, kills_all = board("kills", ops.kills_min_games)
    for label, rows in (
        ("kills leaderboard (correlated)", orig.kills_leaderboard()),
        ("kills leaderboard (LEFT JOIN)", orig.kills_leaderboard_left_join()),
    ):
        pg = [(str(r[4]), float(r[1])) for r in rows]
        problems += _same_top(label, pg, kills_top, kills_all)
        checked.append(f"{label}: top {len(pg)} (GUID, kills)")
    dpm_top, dpm_all = board("dpm", ops.dpm_min_games)
    pg_dpm = [(str(r[4]), float(r[1])) for r in orig.dpm_leaderboard()]
    problems += _same_top("DPM leaderboard", pg_dpm, dpm_top, dpm_all)
    checked.append(f"DPM leaderboard: top {len(pg_dpm)} (GUID, DPM)")

    gsid = orig.last_session_id()
    sid, _ = ops.session
    if gsid is None or session_of.get(gsid) != sid:
        problems.append(
            f"last session: PostgreSQL {gsid} → {session_of.get(gsid or -1)}, etl-duck {sid}"
        )
    else:
        pg_kills: dict[str, int] = {}
        for r in orig.session_aggregation(gsid):
            pg_kills[str(r[1])] = pg_kills.get(str(r[1]), 0) + int(r[2])
        totals = ops.session_aggregation()
        duck_kills = {str(g): int(k) for g, k in zip(totals["guid"], totals["kills"], strict=True)}
        if pg_kills != duck_kills:
            problems.append(f"last session per-player kills differ: {pg_kills} vs {duck_kills}")
        checked.append(f"last session {sid}: per-player kills of {len(pg_kills)} players")

    card = orig.career_card(ops.card_name)
    duck_card = ops.career_card()
    if not card or card["guid"] != duck_card.guid:
        problems.append(
            f"career card {ops.card_name!r}: GUID {card.get('guid')} vs {duck_card.guid}"
        )
    else:
        overall = card["overall"][0]
        if (int(overall[0]), int(overall[1])) != (
            int(duck_card.totals["rounds"]),
            int(duck_card.totals["kills"]),
        ):
            problems.append(
                f"career card {ops.card_name!r}: rounds/kills {overall[:2]} vs "
                f"{duck_card.totals['rounds']}/{duck_card.totals['kills']}"
            )
        checked.append(f"career card {ops.card_name!r}: rounds and kills")
    pg_w = {str(r[0]): int(r[1]) for r in orig.weapon_totals(ops.card_guid)}
    w = ops.weapon_totals()
    duck_w = {"WS_" + str(n).upper(): int(k) for n, k in zip(w["weapon"], w["kills"], strict=True)}
    if pg_w != duck_w:
        problems.append(f"weapon totals of {ops.card_guid}: {pg_w} vs {duck_w}")
    checked.append(f"weapon totals of {ops.card_guid}: kills per weapon ({len(pg_w)} weapons)")
    return {"ok": not problems, "problems": problems, "checked": checked}


# --------------------------------------------------------------------------- side by side


@dataclass
class OpResult:
    key: str
    label: str
    kind: str  # "aggregation" | "point"
    pg_noidx: Timing | None = None
    pg_idx: Timing | None = None
    etl_miss: Timing | None = None
    etl_hit: Timing | None = None
    # medians per call of (time on a CPU, time waiting in the run queue), ms: the PostgreSQL
    # backend's and this process's (every thread); see benchmarks.procmem.sched_ms
    pg_idx_sched: dict[str, float] | None = None
    etl_miss_sched: dict[str, float] | None = None

    @property
    def ratio(self) -> float | None:
        if self.pg_idx is None or self.etl_miss is None or not self.etl_miss.samples:
            return None
        return self.pg_idx.median / self.etl_miss.median

    def as_dict(self) -> dict[str, Any]:
        def d(t: Timing | None) -> dict[str, Any] | None:
            return None if t is None else t.as_dict()

        return {
            "key": self.key,
            "label": self.label,
            "kind": self.kind,
            "pg_noidx": d(self.pg_noidx),
            "pg_idx": d(self.pg_idx),
            "etl_miss": d(self.etl_miss),
            "etl_hit": d(self.etl_hit),
            "ratio": self.ratio,
            "pg_idx_sched": self.pg_idx_sched,
            "etl_miss_sched": self.etl_miss_sched,
            "cpu_ratio": (
                self.pg_idx_sched["cpu_ms"] / self.etl_miss_sched["cpu_ms"]
                if self.pg_idx_sched and self.etl_miss_sched and self.etl_miss_sched["cpu_ms"]
                else None
            ),
        }


@dataclass
class OpSpec:
    key: str
    label: str
    kind: str
    etl: Callable[[], Any]
    pg: Callable[[Any], Callable[[], Any]] | None  # Original → call


def op_specs(ops: EtlOps, pg_session: int | None) -> list[OpSpec]:
    """The operations compared, in report order."""
    name, guid = ops.card_name, ops.card_guid

    def pg_session_dpm(orig: Any) -> Callable[[], Any]:
        assert pg_session is not None
        ids: list[int] = orig.session_round_ids(pg_session)  # given, like the window
        return lambda: orig.session_dpm_cross_join(ids)

    specs = [
        OpSpec(
            "kills_lb",
            "Kills leaderboard (correlated name subquery)",
            "aggregation",
            ops.kills,
            lambda o: o.kills_leaderboard,
        ),
        OpSpec(
            "kills_lb_join",
            "Kills leaderboard (audit's LEFT JOIN rewrite)",
            "aggregation",
            ops.kills,
            lambda o: o.kills_leaderboard_left_join,
        ),
        OpSpec(
            "dpm_lb",
            "DPM leaderboard (all time)",
            "aggregation",
            ops.dpm,
            lambda o: o.dpm_leaderboard,
        ),
        OpSpec(
            "last_session",
            "Last session (point lookup)",
            "point",
            ops.last_session_id,
            lambda o: o.last_session_id,
        ),
        OpSpec(
            "session_agg",
            "Session aggregation (round ids → per-player totals)",
            "aggregation",
            ops.session_aggregation,
            lambda o: lambda: o.session_aggregation(pg_session),
        ),
        OpSpec(
            "session_dpm",
            "Session DPM top 10 (CROSS JOIN session total)",
            "aggregation",
            ops.session_dpm,
            pg_session_dpm,
        ),
        OpSpec(
            "last_session_full",
            "!last_session (whole report)",
            "aggregation",
            ops.last_session_report,
            lambda o: o.last_session_report,
        ),
        OpSpec(
            "career_card",
            "Career card (!stats <name>)",
            "aggregation",
            ops.career_card,
            lambda o: lambda: o.career_card(name),
        ),
        OpSpec(
            "weapon_totals",
            "A player's weapon totals",
            "aggregation",
            ops.weapon_totals,
            lambda o: lambda: o.weapon_totals(guid),
        ),
    ]
    if pg_session is None:
        for s in specs:
            s.pg = None
    return specs


def side_by_side(
    specs: list[OpSpec],
    stats: Stats,
    srv: Any | None,
    make_original: Callable[[Any], Any] | None,
    *,
    reps: int = 20,
    min_reps: int = 5,
    budget_s: float = 8.0,
    hit_reps: int = 300,
    create_indexes: Callable[[Any], float] | None = None,
    restart: bool = True,
    progress: Callable[[str], None] = print,
) -> tuple[list[OpResult], dict[str, Any]]:
    """Phase 1: PostgreSQL without the audit's indexes. Phase 2: with them, interleaved
    with etl-duck misses. Then etl-duck hits. Returns results + facts (index build time)."""
    results = [OpResult(s.key, s.label, s.kind) for s in specs]
    facts: dict[str, Any] = {}
    clear = stats.cache.clear
    if srv is not None and make_original is not None:
        for spec, res in zip(specs, results, strict=True):
            if spec.pg is None:
                continue
            if restart:
                srv.restart()
            with srv.connect() as conn:
                fn = spec.pg(make_original(conn))
                res.pg_noidx = measure(fn, reps=reps, min_reps=min_reps, budget_s=budget_s)
            progress(f"  PG no index   {spec.key:<18} median {res.pg_noidx.median:9.2f} ms")
        if create_indexes is not None:
            with srv.connect() as conn:
                facts["audit_index_build_s"] = create_indexes(conn)
    for spec, res in zip(specs, results, strict=True):
        pg_fn: Callable[[], Any] | None = None
        conn = None
        backend = 0
        if srv is not None and make_original is not None and spec.pg is not None:
            if restart:
                srv.restart()
            conn = srv.connect()
            backend = int(conn.info.backend_pid)
            pg_fn = spec.pg(make_original(conn))
        try:
            pg_t, etl_t = Timing(), Timing()
            pg_s: list[tuple[float, float]] = []
            etl_s: list[tuple[float, float]] = []
            if pg_fn is not None:
                pg_t.first, _ = time_ms(pg_fn)
            clear()
            etl_t.first, _ = time_ms(spec.etl)
            spent = 0.0
            for i in range(reps):
                if pg_fn is not None:
                    s0 = sched_ms(backend)
                    ms, _ = time_ms(pg_fn)
                    s1 = sched_ms(backend)
                    pg_t.samples.append(ms)
                    pg_s.append((s1[0] - s0[0], s1[1] - s0[1]))
                    spent += ms / 1000
                clear()
                s0 = sched_ms()
                ms, _ = time_ms(spec.etl)
                s1 = sched_ms()
                etl_t.samples.append(ms)
                etl_s.append((s1[0] - s0[0], s1[1] - s0[1]))
                spent += ms / 1000
                if i + 1 >= min_reps and spent > budget_s:
                    break
            res.etl_miss = etl_t
            res.etl_miss_sched = _sched_medians(etl_s)
            if pg_fn is not None:
                res.pg_idx = pg_t
                res.pg_idx_sched = _sched_medians(pg_s)
        finally:
            if conn is not None:
                conn.close()
        spec.etl()  # fill the cache
        res.etl_hit = measure(spec.etl, reps=hit_reps, min_reps=hit_reps, budget_s=60, first=False)
        pg_med = f"{res.pg_idx.median:9.2f}" if res.pg_idx else "      n/a"
        progress(
            f"  PG idx {pg_med} ms | etl miss {res.etl_miss.median:8.3f} ms | "
            f"hit {res.etl_hit.median * 1000:7.1f} µs  {spec.key}"
        )
    return results, facts


def _sched_medians(samples: list[tuple[float, float]]) -> dict[str, float]:
    import statistics

    return {
        "cpu_ms": statistics.median(c for c, _ in samples),
        "runqueue_ms": statistics.median(w for _, w in samples),
    }


# --------------------------------------------------------------------------- lake / serving


# Per-player totals straight from the row tables (the query etl-duck used before its
# per-session rollup). Kept here so the small-file comparison does not depend on how
# queries/player_totals.sql evolves: the same SQL runs over the hive folders and over the
# in-memory serving tables.
ROW_PLAYER_TOTALS = """
WITH pr AS (
    SELECT * FROM player_rounds
    WHERE counted AND session_date BETWEEN $date_from AND $date_to
),
grenades AS (
    SELECT guid, sum(kills)::BIGINT AS grenade_kills
    FROM weapon_rounds
    WHERE counted AND weapon = 'grenade' AND session_date BETWEEN $date_from AND $date_to
    GROUP BY guid
)
SELECT pr.guid, arg_max(pr.name, pr.end_time) AS name, count(*) AS rounds,
    sum(pr.kills)::BIGINT AS kills, sum(pr.deaths)::BIGINT AS deaths,
    sum(pr.damage_given)::BIGINT AS damage_given,
    sum(pr.damage_received)::BIGINT AS damage_received,
    sum(pr.team_damage_given)::BIGINT AS team_damage_given,
    sum(pr.time_played_s)::BIGINT AS time_played_s,
    sum(CASE WHEN pr.time_played_s > 0 THEN pr.damage_given ELSE 0 END)::BIGINT AS dpm_damage,
    sum(pr.hits)::BIGINT AS hits, sum(pr.shots)::BIGINT AS shots,
    sum(pr.headshot_kills)::BIGINT AS headshot_kills,
    sum(pr.headshot_hits)::BIGINT AS headshot_hits,
    sum(pr.revives_given)::BIGINT AS revives, sum(pr.times_revived)::BIGINT AS times_revived,
    sum(pr.gibs)::BIGINT AS gibs, sum(pr.self_kills)::BIGINT AS self_kills,
    sum(pr.team_kills)::BIGINT AS team_kills, sum(pr.xp)::BIGINT AS xp,
    sum(pr.dynamites_planted + pr.dynamites_defused)::BIGINT AS objectives,
    sum(pr.multikill_2 + pr.multikill_3 + pr.multikill_4 + pr.multikill_5
        + pr.multikill_6)::BIGINT AS multikills,
    sum(pr.time_dead_s)::BIGINT AS time_dead_s,
    sum(pr.denied_playtime_s)::BIGINT AS denied_playtime_s,
    coalesce(any_value(g.grenade_kills), 0) AS grenade_kills
FROM pr LEFT JOIN grenades g USING (guid)
GROUP BY pr.guid
"""


def serving_vs_small_files(stats: Stats, data_dir: Path, reps: int = 10) -> dict[str, Any]:
    """All-time per-player totals three ways: the row-level SQL (:data:`ROW_PLAYER_TOTALS`)
    over the hive folders opened per query — DuckDB ``read_parquet('lake/<table>/**/
    *.parquet', hive_partitioning=true)``, the naive small-file path — and over the same rows
    loaded once into DuckDB tables (one in-memory table per lake table: the floor for that
    SQL); then etl-duck's serving path, ``Stats.run('player_totals')`` (uncached)."""
    import duckdb

    lake = Path(data_dir) / "lake"
    files = sorted((lake / "player_rounds").glob("*/*.parquet"))
    params = {"date_from": ALL_FROM, "date_to": ALL_TO}
    naive = duckdb.connect(":memory:", config={"threads": 2})
    loaded = duckdb.connect(":memory:", config={"threads": 2})
    try:
        for t in ("player_rounds", "weapon_rounds"):
            glob = (lake / t / "**" / "*.parquet").as_posix()
            source = (
                f"read_parquet('{glob}', hive_partitioning = true, "
                "hive_types = {'session_date': DATE})"
            )
            naive.execute(f"CREATE VIEW {t} AS SELECT * FROM {source}")
            loaded.execute(f"CREATE TABLE {t} AS SELECT * FROM {source}")
        small = measure(
            lambda: naive.execute(ROW_PLAYER_TOTALS, params).fetchall(), reps=reps, budget_s=15
        )
        small_rows = len(naive.execute(ROW_PLAYER_TOTALS, params).fetchall())
        in_memory = measure(
            lambda: loaded.execute(ROW_PLAYER_TOTALS, params).fetchall(),
            reps=max(reps, 20),
            budget_s=10,
        )
    finally:
        naive.close()
        loaded.close()
    app = measure(
        lambda: stats.run(
            "player_totals", date_from=ALL_FROM, date_to=ALL_TO, session_id=None, server=None
        ),
        reps=max(reps, 20),
        budget_s=10,
    )
    return {
        "partitions": len(files),
        "small_files": small.as_dict(),
        "in_memory": in_memory.as_dict(),
        "app": app.as_dict(),
        "rows": small_rows,
        "speedup_in_memory": small.median / in_memory.median if in_memory.median else None,
        "speedup_app": small.median / app.median if app.median else None,
    }


def concurrency(stats: Stats, n: int = 100, rounds: int = 5) -> dict[str, Any]:
    """``n`` identical ``leaderboard('kills')`` requests at once through AsyncStats
    (asyncio.gather): wall time of the whole burst, on a cleared cache and on a warm one."""
    astats = AsyncStats(stats)

    async def bursts() -> tuple[list[float], list[float], bool]:
        miss: list[float] = []
        hit: list[float] = []
        same = True
        for _ in range(rounds):
            stats.cache.clear()
            t0 = time.perf_counter()
            out = await asyncio.gather(*(astats.leaderboard("kills") for _ in range(n)))
            miss.append((time.perf_counter() - t0) * 1000)
            same = same and all(o.equals(out[0]) for o in out)
            t0 = time.perf_counter()
            await asyncio.gather(*(astats.leaderboard("kills") for _ in range(n)))
            hit.append((time.perf_counter() - t0) * 1000)
        return miss, hit, same

    miss, hit, same = asyncio.run(bursts())
    m, h = Timing(miss), Timing(hit)
    return {"requests": n, "miss": m.as_dict(), "hit": h.as_dict(), "identical_answers": same}


def rss_probe(data_dir: Path) -> dict[str, Any]:
    """A bot-like process: import the query API, load 10 years into Stats, answer the common
    questions; RSS at each step (MiB). Meant for a fresh interpreter."""
    import psutil

    from benchmarks.common import vm_hwm_mib

    proc = psutil.Process()

    def rss() -> float:
        return float(proc.memory_info().rss / 2**20)

    out: dict[str, Any] = {"after_import": rss()}
    t0 = time.perf_counter()
    stats = Stats(data_dir)
    stats.version()
    out["load_s"] = time.perf_counter() - t0
    out["after_load"] = rss()
    stats.warm()
    for metric in ("kills", "dpm", "kd", "accuracy", "revives"):
        stats.leaderboard(metric)
    stats.last_session()
    top = stats.leaderboard("kills")
    stats.player(str(top["guid"][0]))
    out["after_queries"] = rss()
    out["peak"] = vm_hwm_mib()
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "rss":
        print(json.dumps(rss_probe(Path(sys.argv[2]))))
    else:
        print("usage: python -m benchmarks.bench_query rss DATA_DIR", file=sys.stderr)
        sys.exit(2)
