"""The compact serving tables of the current snapshot, in an in-process DuckDB database,
refreshed incrementally when the lake version changes (DESIGN.md "small files")."""

from __future__ import annotations

import bisect
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from etl_duck.query.windows import ALL_FROM, ALL_TO
from etl_duck.sqlfiles import sql

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from etl_duck.lake.snapshot import Lake

log = logging.getLogger(__name__)


class Serving:
    """The compact serving tables of the current snapshot, in memory, plus scoped views
    over the per-date partitions for detail questions (one session, a player's last
    rounds). Reloaded when the lake version changes (a few single files, ~0.1 s)."""

    DETAIL = ("player_rounds", "weapon_rounds", "endstats_awards", "endstats_versus")

    def __init__(self, lake: Lake, threads: int = 2) -> None:
        import duckdb

        from etl_duck.lake.rollups import ROLLUPS
        from etl_duck.lake.schemas import SCHEMAS

        self.lake = lake
        self.threads = threads
        self.con = duckdb.connect(":memory:", config={"threads": threads})
        self._local = threading.local()
        self._lock = threading.Lock()
        self.version = 0
        self.snapshot: Path | None = None
        self._lease_renew_at = 0.0
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
            for detail in (t for t in SCHEMAS if t != "rounds"):
                text = text.replace(f"FROM {detail}", f"FROM _empty_{detail}")
            self.con.execute(f"CREATE TABLE {name} AS {text} LIMIT 0")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """One cursor per thread (DuckDB connections are not shared across threads)."""
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            cur = self.con.cursor()
            self._local.cur = cur
        return cur

    @contextlib.contextmanager
    def pinned(self) -> Iterator[tuple[int, Path | None]]:
        """Hold the tables at their current version while this thread reads several things
        that must agree (other threads' refreshes wait; this thread's are no-ops)."""
        with self._lock:
            self._local.pinned = True
            try:
                yield self.version, self.snapshot
            finally:
                self._local.pinned = False

    def refresh(self) -> int:
        """Bring the tables to the lake's current version; cheap when nothing changed."""
        from etl_duck.lake.rollups import SERVING_TABLES
        from etl_duck.lake.schemas import TABLES

        if getattr(self._local, "pinned", False):
            return self.version
        current = self.lake.version()
        if current == self.version:
            if self.snapshot is not None and time.time() > self._lease_renew_at:
                self._hold(self.snapshot)
            elif current == 0:
                self._check_link()  # no link: a new data dir, or one deleted by hand
            return self.version
        with self._lock:
            # lease before reading: expiry must not remove the snapshot mid-load
            snap = self.lake.pin()
            if snap is None:
                self._check_link()
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
            except BaseException as exc:
                cur.execute("ROLLBACK")
                import duckdb

                if isinstance(exc, duckdb.Error):
                    from etl_duck.lake.snapshot import LakeDamaged

                    first = str(exc).splitlines()[0]
                    raise LakeDamaged(
                        f"the serving tables of {snap} cannot be read ({first}); "
                        "`etl-duck check` lists damaged files, `etl-duck rebuild` repairs "
                        "the lake from raw/"
                    ) from None
                raise
            finally:
                cur.execute(f"SET threads = {int(self.threads)}")
                cur.close()
            self._serving_files = loaded
            self.last_session = (int(last[0][0]), last[0][1]) if last else None
            changed: set[str] = set()
            written: dict[str, int] = {}  # date → newest version that wrote one of its files
            for table in TABLES:
                new = manifest.partition_versions(table)
                old = self._loaded.get(table, {})
                changed.update(d for d in old.keys() | new.keys() if old.get(d) != new.get(d))
                self._loaded[table] = new
                for d, v in new.items():
                    written[d] = max(v, written.get(d, 0))
            if reloaded and not changed:
                # serving tables changed with no partition (an old lake upgraded, a serving
                # table derived): answers may differ for any date, so every key moves on
                changed.update(self._loaded["rounds"])
                written = {}
            for d in changed:
                # the version that last wrote the date's partitions (a changed date's files
                # were written by this commit), so a fresh process derives the same keys as
                # a long-running one and keys persisted outside (the static site) stay
                # valid across restarts; a date that vanished changed now
                self.changed_at[date.fromisoformat(d)] = written.get(d, manifest.version)
            self._dates = sorted(self.changed_at)
            self.max_changed = max(self.changed_at.values(), default=0)
            self.partitions = {
                t: {d: p.file for d, p in manifest.partitions[t].items()} for t in TABLES
            }
            live = self._loaded["rounds"]
            self.last_date = date.fromisoformat(max(live)) if live else None
            self._hold(snap)
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

    def _check_link(self) -> None:
        """No ``lake`` link: a new data dir, or a link deleted by hand (say so: queries
        would otherwise answer as if the lake were empty)."""
        from etl_duck.lake.snapshot import LakeDamaged

        try:
            versions = [c.name for c in self.lake.snapshots.iterdir() if c.name[1:].isdigit()]
        except FileNotFoundError:
            return
        if versions:
            raise LakeDamaged(
                f"{self.lake.link} is missing although {self.lake.snapshots} holds snapshots "
                f"up to {max(versions)}: run `etl-duck ingest` (it relinks the newest "
                "complete snapshot) or `etl-duck rebuild`"
            )

    def _hold(self, snap: Path) -> None:
        """Lease the snapshot the views read (the writer's expiry keeps it); renewed by
        queries after half the lease, so a busy process never loses its files mid-query.
        The snapshot left behind keeps a short lease for queries still running on it."""
        from etl_duck.lake.snapshot import LEASE_SECONDS

        if self.snapshot is not None and self.snapshot != snap:
            self.lake.lease(self.snapshot, 60.0)
        self.lake.lease(snap, LEASE_SECONDS)
        self._lease_renew_at = time.time() + LEASE_SECONDS / 2

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

    def date_version(self, day: date) -> int:
        """``signature(day, day)`` as one lookup (keys of thousands of single dates)."""
        return self.changed_at.get(day, 0)

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
