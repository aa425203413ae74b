"""The query API: DuckDB SQL from ``queries/*.sql`` over the lake, results as Polars frames.

Serving path (DESIGN.md, "Measured pitfall: small files"): the lake keeps one Parquet file
per session date, which is the right durable layout but too many files to open per query.
:class:`Serving` keeps the three tables in an in-process DuckDB database and refreshes
them *incrementally*: when the lake version changes it reloads only the session-date
partitions whose version changed. Queries then scan memory, not 1,500 files.

Every public method goes through :class:`~etl_duck.cache.QueryCache`, keyed on (query,
parameters, last version that changed any partition the query reads). This module imports
no discord, asyncssh or matplotlib (checked by ``tests/contracts.py``).
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from etl_duck.cache import QueryCache
from etl_duck.sqlfiles import sql

if TYPE_CHECKING:  # heavy modules load on first use, so `import etl_duck.query` is cheap
    import duckdb
    import polars as pl

    from etl_duck.lake import Lake
    from etl_duck.metrics import Metric

log = logging.getLogger(__name__)
T = TypeVar("T")

ALL_FROM, ALL_TO = date(1970, 1, 1), date(9999, 12, 31)
WINDOWS = ("all", "season", "month", "week", "session")


class NoData(LookupError):
    """The lake holds no (counted) data for this request."""


class PlayerNotFound(LookupError):
    def __init__(self, text: str, suggestions: list[str]) -> None:
        self.text, self.suggestions = text, suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"No player matches {text!r}.{hint}")


# --------------------------------------------------------------------------- serving tables


class Serving:
    """The compact serving tables of the current snapshot, in memory, plus scoped views
    over the per-date partitions for detail questions (one session, a player's last
    rounds). Reloaded when the lake version changes (a few single files, ~0.1 s)."""

    DETAIL = ("player_rounds", "weapon_rounds")

    def __init__(self, lake: Lake, threads: int = 2) -> None:
        import duckdb

        from etl_duck.lake import SCHEMAS
        from etl_duck.rollups import ROLLUPS

        self.lake = lake
        self.threads = threads
        self.con = duckdb.connect(":memory:", config={"threads": threads})
        self._local = threading.local()
        self._lock = threading.Lock()
        self.version = 0
        self.snapshot: Path | None = None
        self.partitions: dict[str, dict[str, str]] = {}  # table → date → file
        self.changed_at: dict[date, int] = {}  # last lake version that changed each date
        self._loaded: dict[str, dict[str, int]] = {}
        self._serving_files: dict[str, dict[str, str]] = {}  # table → year → shard file
        self._dates: list[date] = []
        self.max_changed = 0
        self.last_date: date | None = None
        self.last_session: tuple[int, date] | None = None  # (session_id, session_date)
        # empty tables of every shape, so queries bind before the first commit
        for table, schema in SCHEMAS.items():
            self.con.register("_empty", schema.empty_table())
            self.con.execute(
                f"CREATE TABLE _empty_{table} AS SELECT *, NULL::DATE AS session_date FROM _empty"
            )
            self.con.unregister("_empty")
        self.con.execute("CREATE TABLE rounds AS SELECT * FROM _empty_rounds")
        for name, query in ROLLUPS.items():
            text = sql(query).replace("$dates::DATE[]", "[]::DATE[]")
            for detail in self.DETAIL:
                text = text.replace(f"FROM {detail}", f"FROM _empty_{detail}")
            self.con.execute(f"CREATE TABLE {name} AS {text} LIMIT 0")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """One cursor per thread (DuckDB connections are not shared across threads)."""
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            cur = self.con.cursor()
            self._local.cur = cur
        return cur

    def refresh(self) -> int:
        """Bring the tables to the lake's current version; cheap when nothing changed."""
        from etl_duck.lake import TABLES
        from etl_duck.rollups import SERVING_TABLES

        if self.lake.version() == self.version:
            return self.version
        with self._lock:
            snap = self.lake.current_dir()
            if snap is None:
                return self.version
            manifest = self.lake.manifest(snap)
            if manifest.version == self.version:
                return self.version
            t0 = time.perf_counter()
            cur = self.con.cursor()
            loaded: dict[str, dict[str, str]] = {}
            reloaded = 0
            # one thread for the load: a parallel scan of many shard files keeps ~15 MiB
            # more resident for good, and is barely faster (0.6 vs 0.7 s at 10 years)
            cur.execute("SET threads = 1")
            cur.execute("BEGIN TRANSACTION")
            try:
                for name in SERVING_TABLES:
                    # only the year shards whose file changed (names carry the version)
                    if manifest.shards:
                        shards = manifest.shards.get(f"serving/{name}", {})
                        new_files = {y: p.file for y, p in shards.items()}
                    else:  # a snapshot written before serving tables were sharded
                        flat = f"_serving/{name}.parquet"
                        new_files = {"*": flat} if (snap / flat).exists() else {}
                    old_files = self._serving_files.get(name, {})
                    if ("*" in old_files) != ("*" in new_files):  # layout changed: start over
                        cur.execute(f"DELETE FROM {name}")
                        old_files = {}
                    stale = sorted(
                        y
                        for y in old_files.keys() | new_files.keys()
                        if old_files.get(y) != new_files.get(y)
                    )
                    reloaded += len(stale)
                    if "*" in stale:
                        cur.execute(f"DELETE FROM {name}")
                    elif stale:
                        cur.execute(
                            f"DELETE FROM {name} WHERE year(session_date) IN "
                            "(SELECT unnest($years::INTEGER[]))",
                            {"years": [int(y) for y in stale]},
                        )
                    files = [str(snap / new_files[y]) for y in stale if y in new_files]
                    if files:  # one scan of every changed shard (a cold start: all of them)
                        cur.execute(
                            f"INSERT INTO {name} BY NAME SELECT * FROM read_parquet($f)",
                            {"f": files},
                        )
                    loaded[name] = new_files
                cur.execute("COMMIT")
                # the last session is asked for constantly: answer it from memory
                last = cur.execute(sql("last_session")).fetchall()
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.execute(f"SET threads = {int(self.threads)}")
                cur.close()
            self._serving_files = loaded
            self.last_session = (int(last[0][0]), last[0][1]) if last else None
            changed: set[str] = set()
            for table in TABLES:
                new = manifest.partition_versions(table)
                old = self._loaded.get(table, {})
                changed.update(d for d in old.keys() | new.keys() if old.get(d) != new.get(d))
                self._loaded[table] = new
            if reloaded and not changed:
                # serving tables changed with no partition (an old lake upgraded, a serving
                # table derived): answers may differ for any date, so every key moves on
                changed.update(self._loaded["rounds"])
            for d in changed:
                self.changed_at[date.fromisoformat(d)] = manifest.version
            self._dates = sorted(self.changed_at)
            self.max_changed = max(self.changed_at.values(), default=0)
            self.partitions = {
                t: {d: p.file for d, p in manifest.partitions[t].items()} for t in TABLES
            }
            live = self._loaded["rounds"]
            self.last_date = date.fromisoformat(max(live)) if live else None
            self.snapshot = snap
            self.version = manifest.version
            log.info(
                "serving refreshed to v%d (%d dates changed, %d shards reloaded) in %.0f ms",
                manifest.version,
                len(changed),
                reloaded,
                (time.perf_counter() - t0) * 1000,
            )
            return self.version

    def scope(self, cur: duckdb.DuckDBPyConnection, dates: list[date]) -> None:
        """Point this cursor's ``player_rounds`` / ``weapon_rounds`` at the partitions of
        ``dates`` only (temp views; file paths come from the manifest, never from users)."""
        key = (self.snapshot, tuple(dates))
        if getattr(self._local, "scope", None) == key and cur is getattr(self._local, "cur", None):
            return  # this cursor already looks at exactly these partitions
        for table in self.DETAIL:
            files = [
                str(self.snapshot / f)
                for d in dates
                if self.snapshot is not None
                and (f := self.partitions.get(table, {}).get(d.isoformat()))
            ]
            if files:
                listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
                source = (
                    f"read_parquet([{listed}], hive_partitioning = true, "
                    "hive_types = {'session_date': DATE})"
                )
            else:
                source = f"_empty_{table}"
            cur.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM {source}")
        self._local.scope = key

    def signature(self, date_from: date, date_to: date) -> int:
        """Last version that changed any partition in [date_from, date_to]."""
        if date_from <= ALL_FROM and date_to >= ALL_TO:
            return self.max_changed
        lo = bisect.bisect_left(self._dates, date_from)
        hi = bisect.bisect_right(self._dates, date_to)
        return max((self.changed_at[d] for d in self._dates[lo:hi]), default=0)


def _to_polars(result: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Result → Polars via Arrow. DuckDB 2.0's ``con.sql(text).pl()`` re-tokenises the SQL in
    Python on every call (~40 % slower here); the DB-API path's extra copy is negligible
    for the small results these queries return."""
    import warnings

    import polars as pl

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
        table = result.to_arrow_table()
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    return df


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Window:
    name: str
    date_from: date
    date_to: date
    session_id: int | None = None

    @property
    def label(self) -> str:
        if self.name == "all":
            return "all time"
        if self.name == "session":
            return f"session of {self.date_from.isoformat()}"
        return f"{self.name} {self.date_from.isoformat()} → {self.date_to.isoformat()}"


@dataclass(frozen=True)
class Team:
    name: str
    guids: frozenset[str]
    players: tuple[str, ...]
    points: int


@dataclass(frozen=True)
class SessionReport:
    session_id: int
    session_date: date
    start_time: datetime
    end_time: datetime
    players: pl.DataFrame  # per-player totals + metrics, by DPM
    maps: pl.DataFrame  # per-match results incl. stopwatch outcome
    rounds: pl.DataFrame
    teams: tuple[Team, Team] | None
    mvp: dict[str, Any] | None
    dpm_timeline: pl.DataFrame

    @property
    def duration(self) -> timedelta:
        return self.end_time - self.start_time


class ByPlayer:
    """A frame ordered by ``guid``, looked up per player as a zero-copy slice (splitting it
    into one frame per player costs ~0.1 ms a player, ~150 ms per lake version)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        import polars as pl

        self.frame = frame
        runs = frame.group_by("guid", maintain_order=True).agg(pl.len().alias("n"))
        starts = runs["n"].cum_sum() - runs["n"]
        self._at = {
            str(g): (int(a), int(n))
            for g, a, n in zip(runs["guid"], starts, runs["n"], strict=True)
        }
        self._slices: dict[str, pl.DataFrame] = {}  # handed out: the same frame next time

    def __getitem__(self, guid: str) -> pl.DataFrame:
        got = self._slices.get(guid)
        if got is None:
            start, n = self._at[guid]
            got = self._slices[guid] = self.frame.slice(start, n).drop("guid")
        return got

    def get(self, guid: str, default: pl.DataFrame) -> pl.DataFrame:
        return self[guid] if guid in self._at else default


@dataclass(frozen=True)
class CareerIndex:
    """Per-player lookups for career cards, valid for one lake version."""

    version: int
    weapons: ByPlayer
    maps: ByPlayer
    aliases: ByPlayer  # newest name first
    names: dict[str, set[str]]  # lower-case alias → GUIDs
    current_names: dict[str, str]  # GUID → newest name
    last_rounds: ByPlayer  # newest first


@dataclass(frozen=True)
class PlayerCard:
    guid: str
    name: str
    totals: dict[str, Any]
    weapons: pl.DataFrame
    last_rounds: pl.DataFrame
    aliases: pl.DataFrame
    maps: pl.DataFrame


# --------------------------------------------------------------------------- the API


class Stats:
    """Everything a user can ask, over one data directory. Thread-safe."""

    LAST_ROUNDS = 5  # rounds on a career card (the serving tails keep this many per session)

    def __init__(
        self,
        data_dir: Path | str,
        *,
        min_rounds: int = 10,
        slow_query_ms: float = 50.0,
        cache: QueryCache | None = None,
        threads: int = 2,
    ) -> None:
        from etl_duck.lake import Lake

        self.lake = Lake(data_dir)
        self.serving = Serving(self.lake, threads=threads)
        self.cache = cache or QueryCache()
        self.min_rounds = min_rounds
        self.slow_query_ms = slow_query_ms
        self.timings: dict[str, list[float]] = {}
        self._all_time: tuple[int, pl.DataFrame] | None = None  # (version, totals)
        self._all_time_lock = threading.Lock()
        self._career_index: CareerIndex | None = None

    # ---- plumbing

    def version(self) -> int:
        return self.serving.refresh()

    def run(self, name: str, dates: list[date] | None = None, **params: Any) -> pl.DataFrame:
        """Run one ``queries/<name>.sql`` with named parameters (uncached, timed).

        Queries over the detail tables (``player_rounds``, ``weapon_rounds``) name the
        session ``dates`` whose partitions they read."""
        self.serving.refresh()
        t0 = time.perf_counter()
        text = sql(name)
        used = {k: v for k, v in params.items() if f"${k}" in text}
        cur = self.serving.cursor()
        if dates is not None:
            self.serving.scope(cur, dates)
        df = _to_polars(cur.execute(text, used))
        ms = (time.perf_counter() - t0) * 1000
        self.timings.setdefault(name, []).append(ms)
        if ms > self.slow_query_ms:
            log.warning("slow query %s %.1f ms params=%s", name, ms, used)
        return df

    def _cached(self, key: Hashable, window: tuple[date, date], compute: Callable[[], T]) -> T:
        self.serving.refresh()
        sig = self.serving.signature(*window)
        return self.cache.get_or_compute((key, sig), compute)

    # ---- windows

    def resolve_window(self, window: str = "all", as_of: date | None = None) -> Window:
        """`all`, `season` (calendar quarter), `month`, `week`, `session` (the last one) or
        `YYYY-MM-DD..YYYY-MM-DD`. Relative windows count from the latest session date in
        the lake (or ``as_of``), so history and live data behave the same."""
        w = window.strip().lower()
        if w == "all":
            return Window("all", ALL_FROM, ALL_TO)
        if ".." in w:
            a, _, b = w.partition("..")
            try:
                lo, hi = date.fromisoformat(a.strip()), date.fromisoformat(b.strip())
            except ValueError:
                raise ValueError(f"bad date range {window!r}; use YYYY-MM-DD..YYYY-MM-DD") from None
            if hi < lo:
                raise ValueError(f"date range {window!r} ends before it starts")
            return Window("range", lo, hi)
        self.serving.refresh()
        ref = as_of or self.serving.last_date or date.today()
        if w == "season":
            q0 = (ref.month - 1) // 3 * 3 + 1
            start = date(ref.year, q0, 1)
            end = date(ref.year + (q0 == 10), (q0 + 2) % 12 + 1, 1) - timedelta(days=1)
            return Window("season", start, end)
        if w == "month":
            start = ref.replace(day=1)
            end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            return Window("month", start, end)
        if w == "week":
            start = ref - timedelta(days=ref.weekday())
            return Window("week", start, start + timedelta(days=6))
        if w == "session":
            sid, sdate = self._last_session_id()
            return Window("session", sdate, sdate, sid)
        raise ValueError(f"unknown window {window!r}; use one of {', '.join(WINDOWS)} or FROM..TO")

    # ---- leaderboards

    def player_totals(self, window: Window) -> pl.DataFrame:
        """Per-player sums and every registry metric over a window (cached).

        All-time totals are materialised once per lake version (the serving refresh) —
        every all-time board and career card reads them — other windows are queried."""
        from etl_duck.metrics import with_metrics

        if window.name == "all":
            return self._all_time_totals()

        def compute() -> pl.DataFrame:
            df = self.run(
                "player_totals",
                date_from=window.date_from,
                date_to=window.date_to,
                session_id=window.session_id,
            )
            return with_metrics(df)

        key = ("player_totals", window.date_from, window.date_to, window.session_id)
        return self._cached(key, (window.date_from, window.date_to), compute)

    def _all_time_totals(self) -> pl.DataFrame:
        from etl_duck.metrics import with_metrics

        version = self.serving.refresh()
        cached = self._all_time
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._all_time_lock:
            cached = self._all_time
            if cached is not None and cached[0] == version:
                return cached[1]
            df = with_metrics(
                self.run("player_totals", date_from=ALL_FROM, date_to=ALL_TO, session_id=None)
            )
            self._all_time = (version, df)
            return df

    def leaderboard(
        self,
        metric: str,
        window: str | Window = "all",
        limit: int = 10,
        min_rounds: int | None = None,
    ) -> pl.DataFrame:
        """Top players by one metric: rank, guid, name, value, rounds + the base sums."""
        from etl_duck.metrics import resolve_metric

        m = resolve_metric(metric)
        w = window if isinstance(window, Window) else self.resolve_window(window)
        threshold = self.min_rounds if min_rounds is None else min_rounds
        if w.name == "session":
            threshold = 0  # one session: everyone who played counts
        key = ("leaderboard", m.key, w.date_from, w.date_to, w.session_id, limit, threshold)

        def compute() -> pl.DataFrame:
            return rank(self.player_totals(w), m, limit, threshold)

        return self._cached(key, (w.date_from, w.date_to), compute)

    @staticmethod
    def metrics() -> dict[str, Metric]:
        from etl_duck.metrics import METRICS

        return METRICS

    # ---- sessions

    def _last_session_id(self) -> tuple[int, date]:
        """From the serving refresh (``queries/last_session.sql`` runs once per version)."""
        self.serving.refresh()
        if self.serving.last_session is None:
            raise NoData("No sessions in the lake yet.")
        return self.serving.last_session

    def session_id_for(self, day: date | None) -> tuple[int, date]:
        if day is None:
            return self._cached(("last_session_id",), (ALL_FROM, ALL_TO), self._last_session_id)

        def compute() -> tuple[int, date]:
            df = self.run("session_on_date", day=day)
            if df.is_empty():
                raise NoData(f"No session on {day.isoformat()}.")
            return int(df["session_id"][0]), df["session_date"][0]

        return self._cached(("session_on", day), (day - timedelta(days=1), day), compute)

    def session(self, day: date | None = None) -> SessionReport:
        """The session that started on ``day`` (or the last session): players, maps, score."""
        sid, sdate = self.session_id_for(day)

        def compute() -> SessionReport:
            return self._session_report(sid, sdate)

        return self._cached(("session", sid), (sdate, sdate), compute)

    def last_session(self) -> SessionReport:
        return self.session(None)

    def _session_report(self, sid: int, sdate: date) -> SessionReport:
        import polars as pl

        window = Window("session", sdate, sdate, sid)
        players = self.player_totals(window).sort(
            ["dpm", "kills"], descending=True, nulls_last=True
        )
        rounds = self.run("session_rounds", session_id=sid)
        sides = self.run("session_sides", [sdate], session_id=sid)
        maps = self.run("session_maps", [sdate], session_id=sid)
        timeline = self.run("session_dpm_timeline", [sdate], session_id=sid)
        outcomes, teams = score_stopwatch(rounds, sides, players)
        if not outcomes.is_empty():
            maps = maps.join(outcomes, on="match_id", how="left")
        counted = rounds.filter(pl.col("counted"))
        mvp = pick_mvp(players, counted.height)
        start = rounds["end_time"].min() if rounds.is_empty() else rounds["start_time"].min()
        return SessionReport(
            session_id=sid,
            session_date=sdate,
            start_time=start,  # type: ignore[arg-type]
            end_time=rounds["end_time"].max(),  # type: ignore[arg-type]
            players=players,
            maps=maps,
            rounds=rounds,
            teams=teams,
            mvp=mvp,
            dpm_timeline=timeline,
        )

    def sessions(self, month: str | None = None) -> pl.DataFrame:
        """Sessions, newest first; ``month`` = `YYYY-MM` limits to that month."""
        if month:
            try:
                start = date.fromisoformat(f"{month}-01")
            except ValueError:
                raise ValueError(f"bad month {month!r}; use YYYY-MM") from None
            end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        else:
            start, end = ALL_FROM, ALL_TO

        def compute() -> pl.DataFrame:
            return self.run("session_list", date_from=start, date_to=end)

        return self._cached(("sessions", start, end), (start, end), compute)

    # ---- players

    def find_player(self, text: str, limit: int = 10) -> pl.DataFrame:
        """Players matching a GUID prefix or a (fuzzy) alias, best first: guid, name, score."""
        import polars as pl

        text = text.strip()
        if not text:
            return pl.DataFrame(schema={"guid": pl.String, "name": pl.String, "score": pl.Float64})

        def compute() -> pl.DataFrame:
            df = self.run("player_directory", text=text)
            if df.is_empty():
                return df.select("guid", "name", pl.lit(0.0).alias("score"), "rounds", "last_seen")
            scored = df.with_columns(
                score=pl.when(pl.col("guid_match") & (len(text) >= 4))
                .then(2.0)
                .when(pl.col("name").str.to_lowercase() == text.lower())
                .then(1.5)
                .when(pl.col("contains_text"))
                .then(1.0 + pl.col("similarity") / 10)
                .otherwise(pl.col("similarity"))
            )
            best = (
                scored.sort(["score", "last_seen"], descending=True)
                .group_by("guid", maintain_order=True)
                .agg(
                    pl.col("name").first(),
                    pl.col("score").first(),
                    pl.col("rounds").sum(),
                    pl.col("last_seen").max(),
                )
                .filter(pl.col("score") >= 0.75)
                .sort(["score", "rounds"], descending=True)
                .head(limit)
            )
            return best

        return self._cached(("find_player", text.lower(), limit), (ALL_FROM, ALL_TO), compute)

    def resolve_player(self, text: str) -> tuple[str, str]:
        """(guid, current name) for a GUID, GUID prefix or alias; PlayerNotFound otherwise."""
        career = self._career()
        key = text.strip()
        if key.upper() in career.current_names:  # a full GUID
            return key.upper(), career.current_names[key.upper()]
        exact = career.names.get(key.lower(), set())
        if len(exact) == 1:  # an unambiguous exact alias: no fuzzy search
            guid = next(iter(exact))
            return guid, career.current_names[guid]
        found = self.find_player(text)
        if found.is_empty():
            raise PlayerNotFound(text, [])
        top = found.row(0, named=True)
        strong = top["score"] >= 1.5 or (
            top["score"] >= 1.0 and (found.height == 1 or found["score"][1] < top["score"])
        )
        if not strong:
            raise PlayerNotFound(text, [str(n) for n in found["name"].head(5)])
        return str(top["guid"]), str(top["name"])

    def _career(self) -> CareerIndex:
        """Per-player weapons, maps, aliases and last rounds, built once per lake version
        (four queries over the serving tables) so a career card is dictionary lookups."""

        version = self.serving.refresh()
        index = self._career_index
        if index is not None and index.version == version:
            return index
        with self._all_time_lock:
            index = self._career_index
            if index is not None and index.version == version:
                return index

            aliases = ByPlayer(self.run("career_aliases"))
            names: dict[str, set[str]] = {}
            for guid, name in zip(aliases.frame["guid"], aliases.frame["name"], strict=True):
                names.setdefault(str(name).lower(), set()).add(str(guid))
            newest = aliases.frame.group_by("guid", maintain_order=True).first()
            index = CareerIndex(
                version,
                ByPlayer(self.run("career_weapons")),
                ByPlayer(self.run("career_maps")),
                aliases,
                names,
                {str(g): str(n) for g, n in zip(newest["guid"], newest["name"], strict=True)},
                ByPlayer(self.run("career_last_rounds", limit=self.LAST_ROUNDS)),
            )
            self._career_index = index
            return index

    def player(self, text: str) -> PlayerCard:
        """Career card: totals + metrics, top weapons, last rounds, aliases, maps."""
        import polars as pl

        guid, _ = self.resolve_player(text)

        def compute() -> PlayerCard:
            totals = self.player_totals(Window("all", ALL_FROM, ALL_TO)).filter(
                pl.col("guid") == guid
            )
            if totals.is_empty():
                raise NoData(f"Player {guid} has no counted rounds.")
            row = totals.row(0, named=True)
            career = self._career()
            empty = pl.DataFrame()
            return PlayerCard(
                guid=guid,
                name=str(row["name"]),
                totals=row,
                weapons=career.weapons.get(guid, empty),
                last_rounds=career.last_rounds.get(guid, empty),
                aliases=career.aliases.get(guid, empty),
                maps=career.maps.get(guid, empty),
            )

        return self._cached(("player", guid), (ALL_FROM, ALL_TO), compute)

    def map_stats(self, text: str) -> pl.DataFrame:
        """A player's all-time stats per map (from the per-version career index)."""
        import polars as pl

        guid, _ = self.resolve_player(text)
        return self._career().maps.get(guid, pl.DataFrame())

    def weapon_stats(self, text: str, window: str | Window = "all") -> pl.DataFrame:
        """A player's weapon totals over a window, most kills first: all time from the
        per-version career index, other windows from the per-session weapon rollup."""
        import polars as pl

        guid, _ = self.resolve_player(text)
        w = window if isinstance(window, Window) else self.resolve_window(window)

        def compute() -> pl.DataFrame:
            if w.name == "all":
                return self._career().weapons.get(guid, pl.DataFrame())
            return self.run("player_weapons", guid=guid, date_from=w.date_from, date_to=w.date_to)

        key = ("weapon_stats", guid, w.date_from, w.date_to)
        return self._cached(key, (w.date_from, w.date_to), compute)

    def compare(self, a: str, b: str, window: str = "all") -> pl.DataFrame:
        """Two players side by side: one row each, every metric."""
        import polars as pl

        ga, _ = self.resolve_player(a)
        gb, _ = self.resolve_player(b)
        w = self.resolve_window(window)
        totals = self.player_totals(w)
        out = totals.filter(pl.col("guid").is_in([ga, gb]))
        if out.height < 2 and ga != gb:
            missing = {ga, gb} - set(out["guid"].to_list())
            raise NoData(f"No counted rounds for {', '.join(sorted(missing))} in {w.label}.")
        return out.sort(pl.col("guid") == gb)

    def status(self) -> dict[str, Any]:
        """Headline numbers of the lake (version, sessions, rounds, players, dates)."""

        def compute() -> dict[str, Any]:
            row = self.run("lake_status").row(0, named=True)
            excluded = self.run("excluded_rounds")
            return {
                **row,
                "excluded": dict(zip(excluded["reason"], excluded["rounds"], strict=True)),
            }

        info = self._cached(("status",), (ALL_FROM, ALL_TO), compute)
        files = self.lake.read_state("files")
        quarantined = [r for r in files.to_pylist() if r["status"] == "quarantined"]
        partial = [r["file_name"] for r in files.to_pylist() if r["status"] == "partial"]
        return {
            "version": self.serving.version,
            **info,
            "player_rounds": sum(
                p.rows for p in self.lake.manifest().partitions["player_rounds"].values()
            ),
            "files": files.num_rows,
            "quarantined": {r["file_name"]: r["reason"] for r in quarantined},
            "partial": partial,
            "rejected_lines": self.lake.read_state("rejected_lines").num_rows,
        }

    def warm(self) -> None:
        """Fill the cache for the common questions (after each commit)."""
        try:
            self.last_session()
        except NoData:
            return
        for key in ("kills", "dpm", "kd"):
            self.leaderboard(key)
        self._career()


# --------------------------------------------------------------------------- pure helpers


def rank(totals: pl.DataFrame, metric: Metric, limit: int, min_rounds: int) -> pl.DataFrame:
    import polars as pl

    board = (
        totals.filter(pl.col(metric.sample) >= min_rounds)
        .filter(pl.col(metric.key).is_not_null())
        .sort([metric.key, "rounds", "guid"], descending=[metric.descending, True, False])
        .head(limit)
    )
    return board.select(
        pl.int_range(1, board.height + 1).alias("rank"),
        "guid",
        "name",
        pl.col(metric.key).alias("value"),
        pl.all().exclude("guid", "name"),
    )


def pick_mvp(players: pl.DataFrame, rounds: int) -> dict[str, Any] | None:
    """Highest DPM among players who played at least half the session's rounds."""
    import polars as pl

    eligible = players.filter(pl.col("rounds") * 2 >= rounds).filter(pl.col("dpm").is_not_null())
    if eligible.is_empty():
        return None
    return eligible.sort(["dpm", "kills"], descending=True).row(0, named=True)


def score_stopwatch(
    rounds: pl.DataFrame, sides: pl.DataFrame, players: pl.DataFrame
) -> tuple[pl.DataFrame, tuple[Team, Team] | None]:
    """Stopwatch results per match and the session's two teams (STATS_FORMAT.md §5.8).

    Teams are found by GUID sets, not side numbers (players swap sides each round); a player
    belongs to the team he played most maps with (teams may be redrafted). A map
    where the round-2 attackers completed is theirs (they beat the clock round 1 set);
    otherwise the round-1 attackers win if they completed; otherwise it is a double
    fullhold, scored 1–1. A map win is 2 points.
    """
    import polars as pl

    counted = rounds.filter(pl.col("counted"))
    by_round: dict[int, dict[str, int]] = {}
    for r in sides.iter_rows(named=True):
        by_round.setdefault(r["round_id"], {})[r["guid"]] = r["team"]
    # votes[guid] = [maps with team A, maps with team B]: teams can be redrafted during an
    # evening, so each player belongs to the team he played most of the session with
    votes: dict[str, list[int]] = {}
    points = [0, 0]
    rows: list[dict[str, Any]] = []
    matches: dict[int, dict[int, dict[str, Any]]] = {}
    for row in counted.iter_rows(named=True):  # a session has ~20 rounds: plain rows
        matches.setdefault(row["match_id"], {}).setdefault(row["round_number"], row)
    for match_id, by_number in matches.items():
        if 1 not in by_number or 2 not in by_number:
            continue
        r1, r2 = by_number[1], by_number[2]
        side1 = by_round.get(r1["round_id"], {})
        side2 = by_round.get(r2["round_id"], {})
        # the same people: R1 attackers defend in R2 (side numbers swap, GUIDs do not)
        group_att = {g for g, t in side1.items() if t in (1, 2) and t != r1["defender_side"]}
        group_att |= {g for g, t in side2.items() if t in (1, 2) and t == r2["defender_side"]}
        group_def = {g for g, t in side1.items() if t in (1, 2) and t == r1["defender_side"]}
        group_def |= {g for g, t in side2.items() if t in (1, 2) and t != r2["defender_side"]}
        lean = sum(votes.get(g, [0, 0])[0] - votes.get(g, [0, 0])[1] for g in group_att)
        lean -= sum(votes.get(g, [0, 0])[0] - votes.get(g, [0, 0])[1] for g in group_def)
        att_team = 0 if lean >= 0 else 1
        for g in group_att - group_def:
            votes.setdefault(g, [0, 0])[att_team] += 1
        for g in group_def - group_att:
            votes.setdefault(g, [0, 0])[1 - att_team] += 1
        if r2["attackers_won"]:
            winner: int | None = 1 - att_team  # R2 attackers = R1 defenders beat the clock
            outcome = "beat the clock"
        elif r1["attackers_won"]:
            winner = att_team
            outcome = "clock held"
        else:
            winner = None
            outcome = "double fullhold"
        if winner is None:
            points[0] += 1
            points[1] += 1
        else:
            points[winner] += 2
        rows.append(
            {
                "match_id": match_id,
                "winner": None if winner is None else ("A", "B")[winner],
                "outcome": outcome,
                "clock_s": r2["time_limit_s"],
                "r2_time_s": r2["next_time_limit_s"] if r2["attackers_won"] else None,
            }
        )
    if not rows:
        return pl.DataFrame(), None
    names = (
        dict(zip(players["guid"], players["name"], strict=True)) if not players.is_empty() else {}
    )
    rosters = (
        {g for g, v in votes.items() if v[0] > v[1]},
        {g for g, v in votes.items() if v[1] > v[0]},
    )
    result = tuple(
        Team(
            name=f"Team {label}",
            guids=frozenset(t),
            players=tuple(sorted(names.get(g, g) for g in t)),
            points=points[i],
        )
        for i, (label, t) in enumerate(zip(("A", "B"), rosters, strict=True))
    )
    return pl.DataFrame(rows), (result[0], result[1])


class AsyncStats:
    """The same API for an event loop: every call runs in a worker thread
    (``asyncio.to_thread``), so DuckDB and Polars never block the loop. Identical calls in
    flight at the same time share one thread hop (and the cache shares the computation)."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self._inflight: dict[Hashable, Any] = {}  # key → asyncio.Future

    def __getattr__(self, name: str) -> Callable[..., Any]:
        fn = getattr(self.stats, name)
        if not callable(fn):
            return fn  # type: ignore[no-any-return]

        async def call(*args: Any, **kwargs: Any) -> Any:
            import asyncio

            try:
                key: Hashable = (name, args, tuple(sorted(kwargs.items())))
                hash(key)
            except TypeError:
                return await asyncio.to_thread(fn, *args, **kwargs)
            pending = self._inflight.get(key)
            if pending is not None:
                return await asyncio.shield(pending)
            fut = asyncio.get_running_loop().create_future()
            self._inflight[key] = fut
            try:
                result = await asyncio.to_thread(fn, *args, **kwargs)
            except BaseException as exc:
                fut.set_exception(exc)
                fut.exception()  # retrieved: only the waiters re-raise it
                raise
            finally:
                self._inflight.pop(key, None)
            fut.set_result(result)
            return result

        return call
