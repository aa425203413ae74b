"""The original design as a baseline: PostgreSQL with its schema and its queries.

The system etl-duck replaces kept the stats in PostgreSQL (asyncpg) in three wide tables —
``rounds``, ``player_comprehensive_stats``, ``weapon_comprehensive_stats`` — and answered
every command with SQL over them. This module recreates that, on a throw-away server:

* :class:`PgServer` runs the machine's own PostgreSQL binaries: ``initdb`` into a temporary
  folder (``--auth=trust``), ``postgres`` listening on a unix socket in that folder only
  (``listen_addresses=''``), default configuration, stopped (``pg_ctl stop -m fast``) and
  removed afterwards — also on failure (context manager + ``atexit``). Run as root, the
  server runs as the ``postgres`` user (``runuser``), which owns the folder. Nothing is
  installed at run time: without binaries :class:`PgNotAvailable` says how to get them.
* :func:`load_from_lake` fills the original's tables from the lake's Parquet files — the
  very rows etl-duck serves (see "What is loaded" below) — with ``COPY``, then adds the
  original's own keys (primary keys, ``UNIQUE (round_id, player_guid)``, foreign keys)
  and runs ``VACUUM ANALYZE``. :func:`create_audit_indexes` adds the four indexes the
  audit recommended.
* The queries (``Q_*``) keep the original's shapes: the kills leaderboard with its
  correlated ``(SELECT player_name … LIMIT 1)`` subquery, the audit's LEFT JOIN rewrite,
  the all-time DPM leaderboard, the session aggregation over a list of round ids (with
  its LEFT JOIN over a per-round weapon sub-aggregate), the session DPM chart with the
  CROSS JOIN session total, the last session lookup, the ``!stats`` career card and a
  player's weapon totals. :class:`Original` runs them the way the bot did.
* :func:`backlog_sequential` models the original's ingest: one file at a time — parse it
  (and its round 1, for a round 2), then one transaction per file (duplicate check,
  session lookup, ``INSERT … RETURNING id``, player and weapon rows, processed_files).

What is loaded, and why the answers can be equal: the lake keeps every round and every
player line, with ``counted``/``reason``. The original filtered on ``rounds.round_status``
(``'completed'`` or NULL) and had no per-player flag. So every round is loaded, with
``round_status = 'completed'`` when the lake counts it and the lake's reason (orphan_r2,
restart, interrupted, bot_majority, …) otherwise; player and weapon rows are loaded when
they count, or when the whole round is excluded (the original kept those rows and its
status filter drops them). Rows the lake excludes one by one inside a counted round —
omni-bots and spectators — are not loaded: the original's queries could not tell them
apart. Values are the lake's round-only values (round 2 already differenced), renamed to
the original's columns. The equality check in :mod:`benchmarks.bench_query` then compares
both systems' answers before anything is timed.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import MemorySampler

__all__ = ["MemorySampler", "Original", "PgServer", "load_from_lake"]

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found in "
    "/usr/lib/postgresql/*/bin or $ETL_DUCK_PG_BIN. Install them, e.g. on Debian/Ubuntu:\n"
    "    apt-get update && apt-get install -y postgresql\n"
    "(the benchmark starts its own throw-away server; it needs no running cluster)."
)

AUDIT_INDEXES: tuple[tuple[str, str], ...] = (
    ("idx_rounds_session_round_status", "rounds (gaming_session_id, round_number, round_status)"),
    ("idx_rounds_round_date", "rounds (round_date)"),
    ("idx_pcs_player_name", "player_comprehensive_stats (player_name)"),
    ("idx_rounds_map_name", "rounds (map_name)"),
)


class PgNotAvailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (or psycopg missing)."""


def find_pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<v>/bin`` holding initdb, pg_ctl and postgres."""
    env = os.environ.get("ETL_DUCK_PG_BIN")
    candidates = [Path(env)] if env else []
    base = Path("/usr/lib/postgresql")
    if base.is_dir():
        versions = sorted(
            (p for p in base.iterdir() if p.name.split(".")[0].isdigit()),
            key=lambda p: [int(x) for x in p.name.split(".") if x.isdigit()],
            reverse=True,
        )
        candidates += [v / "bin" for v in versions]
    for c in candidates:
        if all((c / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres")):
            return c
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb") and shutil.which("postgres"):
        return Path(found).parent
    return None


def pg_available() -> tuple[bool, str]:
    """(usable, reason): server binaries and the psycopg client are both present."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False, "psycopg (3) is not installed: pip install 'psycopg[binary]'"
    if find_pg_bin() is None:
        return False, INSTALL_HINT
    if os.geteuid() == 0 and not _user_exists("postgres"):
        return False, "running as root but there is no 'postgres' user to run the server as"
    return True, ""


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


# --------------------------------------------------------------------------- the server


class PgServer:
    """A throw-away PostgreSQL server: temp folder, unix socket only, default config."""

    def __init__(
        self, bin_dir: Path | None = None, port: int = 54329, settings: dict[str, str] | None = None
    ) -> None:
        found = bin_dir or find_pg_bin()
        if found is None:
            raise PgNotAvailable(INSTALL_HINT)
        self.bin = found
        self.port = port
        #: server settings on the command line (``-c name=value``); none: the defaults
        self.extra = dict(settings or {})
        self.tmp: Path | None = None
        self._as_user: list[str] = []
        self._running = False

    # ---- lifecycle

    @property
    def data(self) -> Path:
        assert self.tmp is not None
        return self.tmp / "data"

    def _run(self, args: Sequence[str], timeout: float = 120.0) -> str:
        proc = subprocess.run(
            [*self._as_user, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd="/",
        )
        if proc.returncode != 0:
            log = ""
            if self.tmp is not None and (self.tmp / "server.log").exists():
                log = (self.tmp / "server.log").read_text()[-3000:]
            raise RuntimeError(
                f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}\n{log}"
            )
        return proc.stdout

    def start(self) -> PgServer:
        self.tmp = Path(tempfile.mkdtemp(prefix="etl-duck-pg-"))
        atexit.register(self.stop)
        if os.geteuid() == 0:  # postgres refuses to run as root
            shutil.chown(self.tmp, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        os.chmod(self.tmp, 0o700)
        self._run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "--auth=trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",  # only initdb's own files; the server runs with fsync on
            ]
        )
        self._pg_ctl_start()
        return self

    def _pg_ctl_start(self) -> None:
        assert self.tmp is not None
        opts = f"-c listen_addresses='' -k {self.tmp} -p {self.port}"
        opts += "".join(f" -c {k}={v}" for k, v in self.extra.items())
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.tmp / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                opts,
                "start",
            ]
        )
        self._running = True

    def restart(self, settings: dict[str, str] | None = None) -> None:
        """Fast stop + start: cold shared buffers and backend caches (OS cache stays).
        ``settings``: start with these server settings instead (None: keep them)."""
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
        self._running = False
        if settings is not None:
            self.extra = dict(settings)
        self._pg_ctl_start()

    def stop(self) -> None:
        """Stop the server and remove its folder; safe to call twice."""
        if self.tmp is None:
            return
        if self._running:
            try:
                self._run(
                    [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                    timeout=60,
                )
            except Exception:
                pid = self.postmaster_pid()
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            self._running = False
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- clients and facts

    def connect(self, **kwargs: Any) -> Any:
        import psycopg

        return psycopg.connect(
            host=str(self.tmp),
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            **kwargs,
        )

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError, AssertionError):
            return None

    def memory(self) -> tuple[float, float]:
        """(Σ RSS, Σ PSS) of the postmaster and all its children, in MiB. PSS shares
        the shared-buffer pages fairly between processes; RSS counts them in each."""
        from benchmarks.procmem import tree_memory

        pid = self.postmaster_pid()
        return (0.0, 0.0) if pid is None else tree_memory(pid)

    def settings(self, conn: Any) -> dict[str, str]:
        names = (
            "server_version",
            "shared_buffers",
            "work_mem",
            "effective_cache_size",
            "max_parallel_workers_per_gather",
            "jit",
            "jit_above_cost",
            "random_page_cost",
            "synchronous_commit",
            "lc_collate",
        )
        out: dict[str, str] = {}
        for n in names:
            out[n] = str(conn.execute(f"SHOW {n}").fetchone()[0])
        return out


# --------------------------------------------------------------------------- schema


SCHEMA = """
CREATE TABLE rounds (
    id                 SERIAL,
    round_date         TEXT NOT NULL,          -- 'YYYY-MM-DD' as the original stored it
    round_time         TEXT NOT NULL,          -- 'HHMMSS' (file-name time)
    match_id           TEXT,
    map_name           TEXT NOT NULL,
    round_number       INTEGER NOT NULL,
    gaming_session_id  INTEGER,
    round_status       VARCHAR(32),            -- 'completed' | exclusion reason
    time_limit         TEXT,                   -- 'M:SS'
    actual_time        TEXT,                   -- 'M:SS'
    defender_team      INTEGER DEFAULT 0,
    winner_team        INTEGER DEFAULT 0,
    server_name        TEXT,
    config_name        TEXT,
    created_at         TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE player_comprehensive_stats (
    id                   SERIAL,
    round_id             INTEGER NOT NULL,
    round_date           TEXT NOT NULL,
    map_name             TEXT NOT NULL,
    round_number         INTEGER NOT NULL,
    player_guid          VARCHAR(32) NOT NULL,
    player_name          TEXT NOT NULL,
    clean_name           TEXT NOT NULL,
    team                 INTEGER,
    kills                INTEGER DEFAULT 0,
    deaths               INTEGER DEFAULT 0,
    damage_given         INTEGER DEFAULT 0,
    damage_received      INTEGER DEFAULT 0,
    team_damage_given    INTEGER DEFAULT 0,
    team_damage_received INTEGER DEFAULT 0,
    gibs                 INTEGER DEFAULT 0,
    self_kills           INTEGER DEFAULT 0,
    team_kills           INTEGER DEFAULT 0,
    team_gibs            INTEGER DEFAULT 0,
    headshot_kills       INTEGER DEFAULT 0,
    time_played_seconds  INTEGER DEFAULT 0,
    time_played_minutes  REAL DEFAULT 0,
    time_dead_minutes    REAL DEFAULT 0,
    time_dead_ratio      REAL DEFAULT 0,
    xp                   INTEGER DEFAULT 0,
    kd_ratio             REAL DEFAULT 0,
    dpm                  REAL DEFAULT 0,
    efficiency           REAL DEFAULT 0,
    bullets_fired        INTEGER DEFAULT 0,
    accuracy             REAL DEFAULT 0,
    kill_assists         INTEGER DEFAULT 0,
    objectives_completed INTEGER DEFAULT 0,
    objectives_destroyed INTEGER DEFAULT 0,
    objectives_stolen    INTEGER DEFAULT 0,
    objectives_returned  INTEGER DEFAULT 0,
    dynamites_planted    INTEGER DEFAULT 0,
    dynamites_defused    INTEGER DEFAULT 0,
    times_revived        INTEGER DEFAULT 0,
    revives_given        INTEGER DEFAULT 0,
    most_useful_kills    INTEGER DEFAULT 0,
    useless_kills        INTEGER DEFAULT 0,
    kill_steals          INTEGER DEFAULT 0,
    denied_playtime      INTEGER DEFAULT 0,
    constructions        INTEGER DEFAULT 0,
    tank_meatshield      REAL DEFAULT 0,
    double_kills         INTEGER DEFAULT 0,
    triple_kills         INTEGER DEFAULT 0,
    quad_kills           INTEGER DEFAULT 0,
    multi_kills          INTEGER DEFAULT 0,
    mega_kills           INTEGER DEFAULT 0,
    killing_spree_best   INTEGER DEFAULT 0,
    death_spree_worst    INTEGER DEFAULT 0,
    full_selfkills       INTEGER DEFAULT 0,
    created_at           TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE weapon_comprehensive_stats (
    id            SERIAL,
    round_id      INTEGER NOT NULL,
    round_date    TEXT NOT NULL,
    map_name      TEXT NOT NULL,
    round_number  INTEGER NOT NULL,
    player_guid   VARCHAR(32) NOT NULL,
    player_name   TEXT NOT NULL,
    weapon_name   TEXT NOT NULL,               -- 'WS_MP40', …
    kills         INTEGER DEFAULT 0,
    deaths        INTEGER DEFAULT 0,
    headshots     INTEGER DEFAULT 0,
    shots         INTEGER DEFAULT 0,
    hits          INTEGER DEFAULT 0,
    accuracy      REAL DEFAULT 0,
    created_at    TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE processed_files (
    id            SERIAL PRIMARY KEY,
    filename      TEXT UNIQUE NOT NULL,
    file_hash     TEXT,
    success       BOOLEAN DEFAULT TRUE,
    error_message TEXT,
    processed_at  TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
"""

# The original's own keys (added after the bulk COPY; the end state is the same).
KEYS = """
ALTER TABLE rounds ADD PRIMARY KEY (id);
ALTER TABLE player_comprehensive_stats ADD PRIMARY KEY (id);
ALTER TABLE player_comprehensive_stats ADD CONSTRAINT pcs_round_player UNIQUE (round_id, player_guid);
ALTER TABLE player_comprehensive_stats ADD FOREIGN KEY (round_id) REFERENCES rounds (id);
ALTER TABLE weapon_comprehensive_stats ADD PRIMARY KEY (id);
ALTER TABLE weapon_comprehensive_stats
    ADD CONSTRAINT wcs_round_player_weapon UNIQUE (round_id, player_guid, weapon_name);
ALTER TABLE weapon_comprehensive_stats ADD FOREIGN KEY (round_id) REFERENCES rounds (id);
"""

PCS_COLUMNS: tuple[tuple[str, str], ...] = (
    # (original column, SQL over the lake's player_rounds row ``p``)
    ("kills", "p.kills"),
    ("deaths", "p.deaths"),
    ("damage_given", "p.damage_given"),
    ("damage_received", "p.damage_received"),
    ("team_damage_given", "p.team_damage_given"),
    ("team_damage_received", "p.team_damage_received"),
    ("gibs", "p.gibs"),
    ("self_kills", "p.self_kills"),
    ("team_kills", "p.team_kills"),
    ("team_gibs", "p.team_gibs"),
    ("headshot_kills", "p.headshot_kills"),
    ("time_played_seconds", "p.time_played_s"),
    ("time_played_minutes", "round(p.time_played_s / 60.0, 2)"),
    ("time_dead_minutes", "round(p.time_dead_s / 60.0, 2)"),
    ("time_dead_ratio", "p.time_dead_pct"),
    ("xp", "p.xp"),
    ("kd_ratio", "CASE WHEN p.deaths > 0 THEN p.kills / p.deaths ELSE p.kills END"),
    (
        "dpm",
        "CASE WHEN p.time_played_s > 0 THEN p.damage_given * 60.0 / p.time_played_s ELSE 0 END",
    ),
    (
        "efficiency",
        "CASE WHEN p.kills + p.deaths > 0 THEN 100.0 * p.kills / (p.kills + p.deaths) ELSE 0 END",
    ),
    ("bullets_fired", "p.bullets_fired"),
    ("accuracy", "CASE WHEN p.shots > 0 THEN 100.0 * p.hits / p.shots ELSE 0 END"),
    ("kill_assists", "p.kill_assists"),
    ("objectives_completed", "0"),
    ("objectives_destroyed", "0"),
    ("objectives_stolen", "p.objectives_stolen"),
    ("objectives_returned", "p.objectives_returned"),
    ("dynamites_planted", "p.dynamites_planted"),
    ("dynamites_defused", "p.dynamites_defused"),
    ("times_revived", "p.times_revived"),
    ("revives_given", "p.revives_given"),
    ("most_useful_kills", "p.useful_kills"),
    ("useless_kills", "p.useless_kills"),
    ("kill_steals", "p.kill_steals"),
    ("denied_playtime", "p.denied_playtime_s"),
    ("constructions", "p.repairs_constructions"),
    ("tank_meatshield", "p.tank_meatshield"),
    ("double_kills", "p.multikill_2"),
    ("triple_kills", "p.multikill_3"),
    ("quad_kills", "p.multikill_4"),
    ("multi_kills", "p.multikill_5"),
    ("mega_kills", "p.multikill_6"),
    ("killing_spree_best", "p.killing_spree"),
    ("death_spree_worst", "p.death_spree"),
    ("full_selfkills", "p.full_selfkills"),
)


@dataclass
class LoadReport:
    rounds: int = 0
    player_rows: int = 0
    weapon_rows: int = 0
    seconds: float = 0.0
    db_mib: float = 0.0
    session_of: dict[int, int] = field(default_factory=dict)  # gaming_session_id → lake id
    round_of: dict[int, int] = field(default_factory=dict)  # lake round_id → rounds.id


def _lake_views(con: Any, data_dir: Path) -> None:
    lake = Path(data_dir) / "lake"
    for t in ("rounds", "player_rounds", "weapon_rounds"):
        glob = (lake / t / "**" / "*.parquet").as_posix()
        con.execute(
            f"CREATE OR REPLACE VIEW l_{t} AS SELECT * FROM read_parquet('{glob}', "
            "hive_partitioning = true)"
        )


def _mss(expr: str) -> str:
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL ELSE printf('%d:%02d', "
        f"CAST(floor({expr}) AS BIGINT) // 60, CAST(floor({expr}) AS BIGINT) % 60) END"
    )


def load_from_lake(conn: Any, data_dir: Path) -> LoadReport:
    """Create the original schema and COPY the lake's rows into it (see module doc)."""
    import duckdb

    t0 = time.perf_counter()
    rep = LoadReport()
    con = duckdb.connect(":memory:")
    try:
        _lake_views(con, data_dir)
        con.execute(
            f"""
            CREATE TABLE rmap AS
            SELECT row_number() OVER (ORDER BY end_time, file_name)::INTEGER AS id,
                   round_id AS lake_round_id,
                   session_id AS lake_session_id,
                   dense_rank() OVER (ORDER BY session_id)::INTEGER AS gaming_session_id,
                   strftime(end_time, '%Y-%m-%d') AS round_date,
                   strftime(end_time, '%H%M%S') AS round_time,
                   CAST(match_id AS VARCHAR) AS match_id,
                   map_name, round_number,
                   CASE WHEN counted THEN 'completed' ELSE reason END AS round_status,
                   {_mss("time_limit_s")} AS time_limit,
                   {_mss("duration_s")} AS actual_time,
                   defender_side AS defender_team, winner_side AS winner_team,
                   server_name, config AS config_name, counted
            FROM l_rounds
            """
        )
        con.execute(
            """
            CREATE TABLE kept AS
            SELECT p.*, m.id AS pg_round_id, m.round_date AS pg_round_date
            FROM l_player_rounds p JOIN rmap m ON m.lake_round_id = p.round_id
            WHERE NOT p.is_bot AND (p.counted OR NOT m.counted)
            """
        )
        rounds = con.sql(
            "SELECT id, round_date, round_time, match_id, map_name, round_number, "
            "gaming_session_id, round_status, time_limit, actual_time, defender_team, "
            "winner_team, server_name, config_name FROM rmap ORDER BY id"
        ).pl()
        pcs_cols = ", ".join(f"coalesce({sql}, 0) AS {name}" for name, sql in PCS_COLUMNS)
        pcs = con.sql(
            f"""
            SELECT p.pg_round_id AS round_id, p.pg_round_date AS round_date, p.map_name,
                   p.round_number, p.guid AS player_guid, p.name AS player_name,
                   p.name AS clean_name, p.team, {pcs_cols}
            FROM kept p ORDER BY p.pg_round_id, p.line_no
            """
        ).pl()
        wcs = con.sql(
            """
            SELECT k.pg_round_id AS round_id, k.pg_round_date AS round_date, w.map_name,
                   k.round_number, w.guid AS player_guid, k.name AS player_name,
                   'WS_' || upper(w.weapon) AS weapon_name, w.kills, w.deaths, w.headshots,
                   w.shots, w.hits,
                   CASE WHEN w.shots > 0 THEN 100.0 * w.hits / w.shots ELSE 0 END AS accuracy
            FROM l_weapon_rounds w
            JOIN kept k ON k.round_id = w.round_id AND k.guid = w.guid
            ORDER BY k.pg_round_id, k.line_no, w.weapon_id
            """
        ).pl()
        for lake_rid, rid, lake_sid, gsid in con.execute(
            "SELECT lake_round_id, id, lake_session_id, gaming_session_id FROM rmap"
        ).fetchall():
            rep.round_of[int(lake_rid)] = int(rid)
            rep.session_of[int(gsid)] = int(lake_sid)
    finally:
        con.close()

    conn.execute(SCHEMA)
    for table, frame in (
        ("rounds", rounds),
        ("player_comprehensive_stats", pcs),
        ("weapon_comprehensive_stats", wcs),
    ):
        buf = io.BytesIO()
        frame.write_csv(buf)
        cols = ", ".join(frame.columns)
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv, HEADER true)") as copy,
        ):
            copy.write(buf.getvalue())
    for table in ("rounds", "player_comprehensive_stats", "weapon_comprehensive_stats"):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )
    conn.execute(KEYS)
    conn.execute("VACUUM ANALYZE")
    rep.rounds, rep.player_rows, rep.weapon_rows = rounds.height, pcs.height, wcs.height
    rep.db_mib = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20
    rep.seconds = time.perf_counter() - t0
    return rep


def create_audit_indexes(conn: Any) -> float:
    """The audit's four recommended indexes, then ANALYZE. Returns seconds."""
    t0 = time.perf_counter()
    for name, target in AUDIT_INDEXES:
        conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
    conn.execute("ANALYZE")
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- the queries

# The original filtered valid rounds with this predicate (R0 summaries / cancelled out).
VALID = (
    "r.round_number IN (1, 2) "
    "AND (r.round_status IN ('completed', 'substitution') OR r.round_status IS NULL)"
)

Q_KILLS_CORRELATED = """
SELECT
    (SELECT player_name FROM player_comprehensive_stats
      WHERE player_guid = p.player_guid
      GROUP BY player_name
      ORDER BY COUNT(*) DESC LIMIT 1)           AS primary_name,
    SUM(p.kills)                                AS total_kills,
    SUM(p.deaths)                               AS total_deaths,
    COUNT(DISTINCT p.round_id)                  AS games,
    p.player_guid
FROM player_comprehensive_stats p
JOIN rounds r ON p.round_id = r.id
WHERE {valid}
GROUP BY p.player_guid
HAVING COUNT(DISTINCT p.round_id) > {min_games}
ORDER BY total_kills DESC
LIMIT 10 OFFSET 0
"""

Q_KILLS_LEFT_JOIN = """
SELECT n.player_name AS primary_name, t.total_kills, t.total_deaths, t.games, t.player_guid
FROM (
    SELECT p.player_guid,
           SUM(p.kills)               AS total_kills,
           SUM(p.deaths)              AS total_deaths,
           COUNT(DISTINCT p.round_id) AS games
    FROM player_comprehensive_stats p
    JOIN rounds r ON p.round_id = r.id
    WHERE {valid}
    GROUP BY p.player_guid
    HAVING COUNT(DISTINCT p.round_id) > {min_games}
) t
LEFT JOIN (
    SELECT DISTINCT ON (player_guid) player_guid, player_name
    FROM (SELECT player_guid, player_name, COUNT(*) AS uses
          FROM player_comprehensive_stats
          GROUP BY player_guid, player_name) c
    ORDER BY player_guid, uses DESC
) n ON n.player_guid = t.player_guid
ORDER BY t.total_kills DESC
LIMIT 10 OFFSET 0
"""

Q_DPM = """
SELECT
    MAX(p.player_name)                          AS primary_name,
    CASE WHEN SUM(p.time_played_seconds) > 0
         THEN (SUM(p.damage_given) * 60.0) / SUM(p.time_played_seconds)
         ELSE 0 END                             AS weighted_dpm,
    SUM(p.kills)                                AS total_kills,
    COUNT(DISTINCT p.round_id)                  AS games,
    p.player_guid
FROM player_comprehensive_stats p
JOIN rounds r ON p.round_id = r.id
WHERE {valid}
GROUP BY p.player_guid
HAVING COUNT(DISTINCT p.round_id) > {min_games}
ORDER BY weighted_dpm DESC
LIMIT 10 OFFSET 0
"""

Q_LAST_SESSION = """
SELECT gaming_session_id
FROM rounds
WHERE gaming_session_id IS NOT NULL
ORDER BY round_date DESC, round_time DESC
LIMIT 1
"""

Q_SESSION_ROUNDS = """
SELECT id
FROM rounds r
WHERE r.gaming_session_id = %s AND {valid}
ORDER BY r.round_date, r.round_time
"""

Q_SESSION_PLAYERS = """
SELECT p.player_name,
    p.player_guid,
    SUM(p.kills) AS kills,
    SUM(p.deaths) AS deaths,
    CASE WHEN SUM(p.time_played_seconds) > 0
         THEN (SUM(p.damage_given) * 60.0) / SUM(p.time_played_seconds)
         ELSE 0 END AS weighted_dpm,
    COALESCE(SUM(w.hits), 0) AS total_hits,
    COALESCE(SUM(w.shots), 0) AS total_shots,
    COALESCE(SUM(w.headshots), 0) AS total_headshots,
    SUM(p.headshot_kills) AS headshot_kills,
    SUM(p.time_played_seconds) AS total_seconds,
    CAST(SUM(p.time_played_seconds * p.time_dead_ratio / 100.0) AS INTEGER) AS total_time_dead,
    SUM(p.denied_playtime) AS total_denied,
    SUM(p.gibs) AS total_gibs,
    SUM(p.revives_given) AS total_revives_given,
    SUM(p.times_revived) AS total_times_revived,
    SUM(p.damage_received) AS total_damage_received,
    SUM(p.damage_given) AS total_damage_given,
    SUM(p.most_useful_kills) AS total_useful_kills,
    SUM(p.double_kills) AS total_double_kills,
    SUM(p.triple_kills) AS total_triple_kills,
    SUM(p.quad_kills) AS total_quad_kills,
    SUM(p.multi_kills) AS total_multi_kills,
    SUM(p.mega_kills) AS total_mega_kills
FROM player_comprehensive_stats p
LEFT JOIN (
    SELECT round_id, player_guid,
        SUM(hits) AS hits, SUM(shots) AS shots, SUM(headshots) AS headshots
    FROM weapon_comprehensive_stats
    WHERE weapon_name NOT IN ('WS_GRENADE', 'WS_SYRINGE', 'WS_DYNAMITE', 'WS_AIRSTRIKE',
                              'WS_ARTILLERY', 'WS_SATCHEL', 'WS_LANDMINE')
    GROUP BY round_id, player_guid
) w ON p.round_id = w.round_id AND p.player_guid = w.player_guid
WHERE p.round_id IN ({ids})
GROUP BY p.player_guid, p.player_name
ORDER BY kills DESC
"""

Q_SESSION_DPM_CROSS = """
SELECT p.player_name,
    SUM(p.kills) AS kills,
    SUM(p.deaths) AS deaths,
    CASE WHEN session_total.total_seconds > 0
         THEN (SUM(p.damage_given) * 60.0) / session_total.total_seconds
         ELSE 0 END AS dpm,
    session_total.total_seconds AS time_played,
    CAST(SUM(p.time_played_seconds * p.time_dead_ratio / 100.0) AS INTEGER) AS time_dead,
    SUM(p.denied_playtime) AS denied
FROM player_comprehensive_stats p
CROSS JOIN (
    SELECT SUM(CASE WHEN r.actual_time LIKE '%%:%%'
                    THEN CAST(SPLIT_PART(r.actual_time, ':', 1) AS INTEGER) * 60
                         + CAST(SPLIT_PART(r.actual_time, ':', 2) AS INTEGER)
                    ELSE CAST(r.actual_time AS INTEGER) END) AS total_seconds
    FROM rounds r
    WHERE r.id IN ({ids})
      AND r.round_number IN (1, 2)
      AND (r.round_status = 'completed' OR r.round_status IS NULL)
) session_total
WHERE p.round_id IN ({ids})
GROUP BY p.player_name, session_total.total_seconds
ORDER BY kills DESC
LIMIT 10
"""

Q_SESSION_WEAPONS = """
SELECT player_name, weapon_name,
    SUM(kills) AS total_kills, SUM(hits) AS total_hits,
    SUM(shots) AS total_shots, SUM(headshots) AS total_headshots
FROM weapon_comprehensive_stats
WHERE round_id IN ({ids})
GROUP BY player_guid, player_name, weapon_name
ORDER BY player_name, total_kills DESC
"""

Q_PLAYER_BY_NAME = """
SELECT player_guid, player_name
FROM player_comprehensive_stats
WHERE player_name = %s
GROUP BY player_guid, player_name
LIMIT 1
"""

Q_CARD_OVERALL = """
SELECT
    COUNT(DISTINCT p.round_id) AS total_games,
    SUM(p.kills) AS total_kills,
    SUM(p.deaths) AS total_deaths,
    SUM(p.damage_given) AS total_damage,
    SUM(p.damage_received) AS total_damage_received,
    SUM(p.headshot_kills) AS total_headshots,
    CASE WHEN SUM(p.time_played_seconds) > 0
         THEN (SUM(p.damage_given) * 60.0) / SUM(p.time_played_seconds)
         ELSE 0 END AS weighted_dpm,
    AVG(p.kd_ratio) AS avg_kd
FROM player_comprehensive_stats p
JOIN rounds r ON p.round_id = r.id
WHERE p.player_guid = %s AND {valid}
"""

Q_CARD_WEAPON_OVERALL = """
SELECT SUM(w.hits) AS total_hits, SUM(w.shots) AS total_shots, SUM(w.headshots) AS total_hs
FROM weapon_comprehensive_stats w
JOIN rounds r ON w.round_id = r.id
WHERE w.player_guid = %s AND {valid}
"""

Q_CARD_FAVOURITE_WEAPONS = """
SELECT w.weapon_name, SUM(w.kills) AS total_kills
FROM weapon_comprehensive_stats w
JOIN rounds r ON w.round_id = r.id
WHERE w.player_guid = %s AND {valid}
GROUP BY w.weapon_name
ORDER BY total_kills DESC
LIMIT 3
"""

Q_CARD_RECENT = """
SELECT s.round_date, s.map_name, p.kills, p.deaths
FROM player_comprehensive_stats p
JOIN rounds s ON p.round_id = s.id
WHERE p.player_guid = %s AND s.round_number IN (1, 2)
ORDER BY s.round_date DESC
LIMIT 3
"""

Q_WEAPON_TOTALS = """
SELECT w.weapon_name,
    SUM(w.kills) AS kills, SUM(w.deaths) AS deaths, SUM(w.hits) AS hits,
    SUM(w.shots) AS shots, SUM(w.headshots) AS headshots
FROM weapon_comprehensive_stats w
JOIN rounds r ON w.round_id = r.id
WHERE w.player_guid = %s AND {valid}
GROUP BY w.weapon_name
ORDER BY kills DESC, shots DESC
"""


def _ids(n: int) -> str:
    return ", ".join(["%s"] * n)


class Original:
    """The original bot's commands as round trips (execute + fetchall) on one connection."""

    def __init__(self, conn: Any, kills_min_games: int = 10, dpm_min_games: int = 50) -> None:
        self.conn = conn
        self.q_kills = Q_KILLS_CORRELATED.format(valid=VALID, min_games=int(kills_min_games))
        self.q_kills_join = Q_KILLS_LEFT_JOIN.format(valid=VALID, min_games=int(kills_min_games))
        self.q_dpm = Q_DPM.format(valid=VALID, min_games=int(dpm_min_games))
        self.q_session_rounds = Q_SESSION_ROUNDS.format(valid=VALID)

    def _all(self, q: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(q, params)
            rows: list[tuple[Any, ...]] = cur.fetchall()
            return rows

    # ---- commands

    def kills_leaderboard(self) -> list[tuple[Any, ...]]:
        return self._all(self.q_kills)

    def kills_leaderboard_left_join(self) -> list[tuple[Any, ...]]:
        return self._all(self.q_kills_join)

    def dpm_leaderboard(self) -> list[tuple[Any, ...]]:
        return self._all(self.q_dpm)

    def last_session_id(self) -> int | None:
        rows = self._all(Q_LAST_SESSION)
        return int(rows[0][0]) if rows else None

    def session_round_ids(self, gaming_session_id: int) -> list[int]:
        return [int(r[0]) for r in self._all(self.q_session_rounds, (gaming_session_id,))]

    def session_players(self, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        return self._all(Q_SESSION_PLAYERS.format(ids=_ids(len(ids))), list(ids))

    def session_dpm_cross_join(self, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        q = Q_SESSION_DPM_CROSS.format(ids=_ids(len(ids)))
        return self._all(q, [*ids, *ids])

    def session_weapons(self, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        return self._all(Q_SESSION_WEAPONS.format(ids=_ids(len(ids))), list(ids))

    def session_aggregation(self, gaming_session_id: int) -> list[tuple[Any, ...]]:
        """The session's round ids, then the per-player aggregation over that id list."""
        return self.session_players(self.session_round_ids(gaming_session_id))

    def last_session_report(self) -> dict[str, Any]:
        """``!last_session``: latest session, its rounds, players, DPM chart, weapons."""
        sid = self.last_session_id()
        if sid is None:
            return {}
        ids = self.session_round_ids(sid)
        return {
            "session": sid,
            "players": self.session_players(ids),
            "dpm_chart": self.session_dpm_cross_join(ids),
            "weapons": self.session_weapons(ids),
        }

    def career_card(self, name: str) -> dict[str, Any]:
        """``!stats <name>``: name → GUID, then overall, weapons, favourites, recent."""
        found = self._all(Q_PLAYER_BY_NAME, (name,))
        if not found:
            return {}
        guid = found[0][0]
        return {
            "guid": guid,
            "overall": self._all(Q_CARD_OVERALL.format(valid=VALID), (guid,)),
            "weapons": self._all(Q_CARD_WEAPON_OVERALL.format(valid=VALID), (guid,)),
            "favourites": self._all(Q_CARD_FAVOURITE_WEAPONS.format(valid=VALID), (guid,)),
            "recent": self._all(Q_CARD_RECENT, (guid,)),
        }

    def weapon_totals(self, guid: str) -> list[tuple[Any, ...]]:
        return self._all(Q_WEAPON_TOTALS.format(valid=VALID), (guid,))

    def explain(self, q: str, params: Sequence[Any] | None = None) -> str:
        rows = self._all(f"EXPLAIN (ANALYZE, BUFFERS) {q}", params)
        return "\n".join(str(r[0]) for r in rows)


# --------------------------------------------------------------------------- the backlog


def _mss_text(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"


def _pcs_values(rid: int, rdate: str, rf: Any, row: Any) -> tuple[Any, ...]:
    v = row.values
    line = row.line

    def i(name: str) -> int:
        x = v.get(name)
        return int(x) if x is not None else 0

    kills, deaths, played = i("kills"), i("deaths"), i("time_played_s")
    shots, hits = i("shots"), i("hits")
    return (
        rid,
        rdate,
        rf.file.map_name,
        rf.file.round_number,
        line.guid,
        line.name,
        line.name,
        line.team,
        kills,
        deaths,
        i("damage_given"),
        i("damage_received"),
        i("team_damage_given"),
        i("team_damage_received"),
        i("gibs"),
        i("self_kills"),
        i("team_kills"),
        i("team_gibs"),
        i("headshot_kills"),
        played,
        round(played / 60, 2),
        round(i("time_dead_s") / 60, 2),
        float(v.get("time_dead_pct") or 0),
        i("xp"),
        kills / deaths if deaths else float(kills),
        i("damage_given") * 60 / played if played else 0.0,
        100 * kills / (kills + deaths) if kills + deaths else 0.0,
        i("bullets_fired"),
        100 * hits / shots if shots else 0.0,
        i("kill_assists"),
        i("times_revived"),
        i("revives_given"),
        i("multikill_2"),
        i("multikill_3"),
        i("multikill_4"),
        i("multikill_5"),
        i("multikill_6"),
    )


_PCS_INSERT = (
    "INSERT INTO player_comprehensive_stats (round_id, round_date, map_name, round_number, "
    "player_guid, player_name, clean_name, team, kills, deaths, damage_given, damage_received, "
    "team_damage_given, team_damage_received, gibs, self_kills, team_kills, team_gibs, "
    "headshot_kills, time_played_seconds, time_played_minutes, time_dead_minutes, "
    "time_dead_ratio, xp, kd_ratio, dpm, efficiency, bullets_fired, accuracy, kill_assists, "
    "times_revived, revives_given, double_kills, triple_kills, quad_kills, multi_kills, "
    "mega_kills) VALUES (" + ", ".join(["%s"] * 37) + ")"
)
_WCS_INSERT = (
    "INSERT INTO weapon_comprehensive_stats (round_id, round_date, map_name, round_number, "
    "player_guid, player_name, weapon_name, kills, deaths, headshots, shots, hits, accuracy) "
    "VALUES (" + ", ".join(["%s"] * 13) + ")"
)


def backlog_sequential(conn: Any, files: Sequence[Path], round1_of: dict[str, Path]) -> float:
    """The original's ingest, one file after another: parse (plus the round 1 of a round
    2, re-read to difference it), then ONE transaction per file. Returns seconds."""
    import hashlib

    from etl_duck.domain.fields import WEAPONS
    from etl_duck.domain.pairing import round_only_rows
    from etl_duck.domain.parse import read_round_file

    t0 = time.perf_counter()
    for path in files:
        data = path.read_bytes()
        rf = read_round_file(path)
        r1_path = round1_of.get(path.name)
        r1 = read_round_file(r1_path) if r1_path is not None else None
        rows = round_only_rows(rf, r1, orphan=rf.file.round_number == 2 and r1 is None)
        end: datetime = rf.file.end_time
        rdate, rtime = end.strftime("%Y-%m-%d"), end.strftime("%H%M%S")
        h = rf.header
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT 1 FROM processed_files WHERE filename = %s", (path.name,))
            if cur.fetchone():
                continue
            cur.execute(
                "SELECT id FROM rounds WHERE map_name = %s AND round_date = %s "
                "AND round_time = %s AND round_number = %s",
                (rf.file.map_name, rdate, rtime, rf.file.round_number),
            )
            if cur.fetchone():
                continue
            cur.execute(
                "SELECT gaming_session_id, round_date, round_time FROM rounds "
                "WHERE gaming_session_id IS NOT NULL "
                "ORDER BY round_date DESC, round_time DESC LIMIT 1"
            )
            last = cur.fetchone()
            if last is None:
                session = 1
            else:
                prev = datetime.strptime(f"{last[1]} {last[2]}", "%Y-%m-%d %H%M%S")
                session = int(last[0]) + (end - prev > timedelta(minutes=60))
            cur.execute(
                "INSERT INTO rounds (round_date, round_time, map_name, round_number, "
                "gaming_session_id, round_status, time_limit, actual_time, defender_team, "
                "winner_team, server_name, config_name) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    rdate,
                    rtime,
                    rf.file.map_name,
                    rf.file.round_number,
                    session,
                    "completed",
                    _mss_text(h.time_limit_s if h else None),
                    _mss_text(rf.duration_s),
                    h.defender_side if h else 0,
                    h.winner_side if h else 0,
                    h.server_name if h else None,
                    h.config if h else None,
                ),
            )
            row = cur.fetchone()
            assert row is not None
            rid = int(row[0])
            humans = [r for r in rows if not r.line.is_bot]
            seen: set[str] = set()
            players = []
            for r in humans:
                if r.line.guid not in seen:  # UNIQUE (round_id, player_guid)
                    seen.add(r.line.guid)
                    players.append(r)
            if players:
                cur.executemany(_PCS_INSERT, [_pcs_values(rid, rdate, rf, r) for r in players])
            weapons = [
                (
                    rid,
                    rdate,
                    rf.file.map_name,
                    rf.file.round_number,
                    r.line.guid,
                    r.line.name,
                    "WS_" + WEAPONS[wid].upper(),
                    k,
                    d,
                    hs,
                    s,
                    hi,
                    100 * hi / s if s else 0.0,
                )
                for r in players
                for wid, (hi, s, k, d, hs) in sorted(r.weapons.items())
            ]
            if weapons:
                cur.executemany(_WCS_INSERT, weapons)
            cur.execute(
                "INSERT INTO processed_files (filename, file_hash, success) VALUES (%s, %s, TRUE)",
                (path.name, hashlib.sha256(data).hexdigest()),
            )
    return time.perf_counter() - t0


@contextlib.contextmanager
def server() -> Iterator[PgServer]:
    """A started throw-away server, stopped and removed on exit."""
    srv = PgServer()
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
