"""The current snapshot as DuckDB views over its files, re-pointed when the lake version
changes (DESIGN.md "small files").

Nothing is loaded: a view reads the Parquet files a question needs, when it is asked. The
serving rollups are per-session rows in year shards, so a query over a window reads the
shards of its years only; the career tables (all time per player) are one small file
each, written by the commit, so a leaderboard or a player card reads a few hundred rows
whatever the length of the history — in a fresh process and right after a commit as much
as after hours of uptime. DuckDB caches the files' metadata; the OS caches their pages.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl_duck.lake.layout import (
    CAREER_ALL,
    CAREERS,
    ROLLUPS,
    SERVING_TABLES,
    TABLES,
    shard_year,
)
from etl_duck.query.windows import ALL_FROM, ALL_TO
from etl_duck.sqlfiles import sql

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from etl_duck.lake.manifest import Manifest, Partition
    from etl_duck.lake.snapshot import Lake, LakeError

log = logging.getLogger(__name__)

#: every table a query may name besides the partitioned detail tables
VIEWS: tuple[str, ...] = (*SERVING_TABLES, *CAREERS)
_NAMED = {t: re.compile(rf"\b{t}\b") for t in VIEWS}
_DETAIL_NAMED = {t: re.compile(rf"\b{t}\b") for t in TABLES if t != "rounds"}
#: a pin renews the lease of the snapshot it holds this often while it reads: half the
#: minute an older snapshot is held once a newer one is served (``Lake.pin``'s
#: ``REPIN_GRACE_S``, ``Serving._let_go``), so a pinned answer that goes on reading keeps
#: its files however long it takes
PIN_RENEW_S = 30.0


@dataclass(frozen=True)
class _View:
    """What a query reads, published by a refresh as ONE object: a query takes it once, so
    it never joins one snapshot's folder with another's file names; an answer of several
    queries holds it (``Serving.pinned``), so its queries and its cache key read one
    version."""

    snapshot: Path | None = None
    #: the lake it reads (``Serving.epoch``): a recreated lake's snapshot has the same path
    #: and file names as the old one's, and a cursor's views must not be taken as current
    epoch: int = 0
    #: serving/career table → shard (year, or "all"/"prior-YYYY") → file in the snapshot
    files: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    partitions: dict[str, dict[str, str]] = dataclasses.field(
        default_factory=dict
    )  # table → date → file
    version: int = 0  # the lake version of ``snapshot`` (0: none yet)
    #: last lake version that changed each session date (ISO: sorts like the dates, and a
    #: 10-year lake's 1,800 dates need no parsing); never changed once published
    changed_at: dict[str, int] = dataclasses.field(default_factory=dict)
    dates: tuple[str, ...] = ()  # ``changed_at``'s dates, sorted
    max_changed: int = 0
    #: the latest SESSION date (a counted round) and the session that ended last
    last_date: date | None = None
    last_session: tuple[int, date] | None = None  # (session_id, session_date)
    #: the game server's zone the content was derived with (the manifest's options)
    timezone: str | None = None


class Serving:
    """The current snapshot's serving and career tables as per-cursor views over their
    files, plus scoped views over the per-date partitions for detail questions (one
    session, one round). Re-pointed (not reloaded) when the lake version changes."""

    DETAIL = ("player_rounds", "weapon_rounds", "endstats_awards", "endstats_versus")

    def __init__(self, lake: Lake, threads: int = 2) -> None:
        import duckdb

        self.lake = lake
        self.threads = threads
        self.con = duckdb.connect(":memory:", config={"threads": threads})
        # the parquet footers of the shards are parsed once per process, not per query
        # (a SET: as a connect option DuckDB 2.0 refuses it before parquet is loaded)
        self.con.execute("SET parquet_metadata_cache = true")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._view = _View()
        self._lease_renew_at = 0.0
        self._holder = f"serving-{id(self):x}"  # this object's leases, whatever the thread
        self._active = 0  # queries and pins running in this process (any snapshot)
        #: snapshots left behind while queries ran → when (the time a newer one was served)
        self._left: dict[Path, float] = {}
        self._readers_lock = threading.Lock()
        #: table → session date → the partition read (the manifest's own)
        self._loaded: dict[str, dict[str, Partition]] = {}
        self._shapes: set[str] = set()  # empty tables of each shape, made when first needed
        self._shape_lock = threading.Lock()
        #: the lake served (its manifest's id). Which lake this is for this object is the
        #: view's ``epoch``: it moves on when the data dir turns out to hold another lake
        #: (deleted and rebuilt, or a backup restored), whose version numbers name other
        #: content. Anything kept per version must be kept per (epoch, version) — or
        #: dropped by ``on_new_lake``
        self.lake_id = ""
        self._stamp: tuple[int, int, int] | None = None  # the served snapshot folder's
        self._new_lake: list[Callable[[], None]] = []

    def view(self) -> _View:
        """What this thread reads: the view its pin holds (:meth:`pinned`), else the one
        published last."""
        held: _View | None = getattr(self._local, "view", None)
        return self._view if held is None else held

    def is_pinned(self) -> bool:
        """Whether this thread holds a pin (:meth:`pinned`)."""
        return getattr(self._local, "view", None) is not None

    # what this thread reads (its pin's, else the latest refresh's): one view, read whole

    @property
    def snapshot(self) -> Path | None:
        return self.view().snapshot

    @property
    def files(self) -> dict[str, dict[str, str]]:
        return self.view().files

    @property
    def partitions(self) -> dict[str, dict[str, str]]:
        return self.view().partitions

    @property
    def version(self) -> int:
        return self.view().version

    @property
    def epoch(self) -> int:
        return self.view().epoch

    @property
    def changed_at(self) -> dict[str, int]:
        return self.view().changed_at

    @property
    def max_changed(self) -> int:
        return self.view().max_changed

    @property
    def last_date(self) -> date | None:
        return self.view().last_date

    @property
    def last_session(self) -> tuple[int, date] | None:
        return self.view().last_session

    @property
    def timezone(self) -> str | None:
        return self.view().timezone

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """One cursor per thread (DuckDB connections are not shared across threads)."""
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            cur = self.con.cursor()
            self._local.cur = cur
            self._local.views = {}
        return cur

    def pinned(self) -> _Pin:
        """Read the lake's current version, and only it, in this thread until the block
        ends: every query, view, signature and cache key of an answer built from several
        reads (``with serving.pinned() as (version, snapshot):``). The pin is this thread's
        alone and takes no lock: other threads refresh and answer at newer versions
        meanwhile, and this thread's refreshes only renew the held snapshot's lease (every
        :data:`PIN_RENEW_S`: an older snapshot is otherwise held a minute once a newer one
        is served). The snapshot stays leased while pinned (a pin counts as a running
        query, see :meth:`_let_go`). A pin inside a pin holds what the outer one holds."""
        return _Pin(self)

    def on_new_lake(self, forget: Callable[[], None]) -> None:
        """Call ``forget()`` (under the refresh's lock: keep it short, query nothing) when
        the data dir turns out to hold another lake than the one served: what was kept for
        the old one's versions must go, as the new one reuses their numbers."""
        self._new_lake.append(forget)

    def refresh(self) -> int:
        """Point at the lake's current version; cheap when nothing changed (a version
        change reads the manifest, ~10 ms at 10 years, and loads no data).

        The version number alone does not say which content it is: a lake deleted and
        rebuilt from raw/ (or a backup restored) counts from 1 again. So the same number
        in another snapshot folder is read (one stat to tell), and a manifest of another
        lake — another id, a lower version, or a partition that differs from the one read
        and is not newer than the version served — is read as by a fresh process: the
        ``epoch`` moves on and every ``on_new_lake`` callback drops what it kept."""
        held: _View | None = getattr(self._local, "view", None)
        if held is not None:  # pinned: this thread reads the version it holds
            if held is not self._view or time.time() > self._lease_renew_at:
                self._renew_pin(held)  # a newer version is served, or the lease is due
            return held.version
        now = self._view
        current = self.lake.version()
        if current == now.version and (current == 0 or _stamp(self.lake.link) == self._stamp):
            if now.snapshot is not None and time.time() > self._lease_renew_at:
                self._hold(now.snapshot)
            elif current == 0:
                self._check_link()  # no link: a new data dir, or one deleted by hand
            return now.version
        with self._lock:
            old = self._view  # the one published last (another thread's refresh may have)
            # lease before reading: expiry must not remove the snapshot while we read it
            snap = self.lake.pin(holder=self._holder)
            if snap is None:
                self._check_link()
                return old.version
            manifest = self.lake.manifest(snap)
            stamp = _stamp(snap)
            if manifest.version == old.version and stamp == self._stamp:
                return old.version
            t0 = time.perf_counter()
            files: dict[str, dict[str, str]] = {}
            for name in VIEWS:
                if manifest.shards:
                    shards = manifest.shards.get(f"serving/{name}", {})
                    files[name] = {key: p.file for key, p in shards.items()}
                else:  # a snapshot written before serving tables were sharded
                    flat = f"_serving/{name}.parquet"
                    files[name] = {"*": flat} if (snap / flat).exists() else {}
            reshaped = {n for n in VIEWS if set(files[n]) != set(old.files.get(n, {}))}
            changed, rewound = self._changed(self._loaded, manifest, old.version)
            another = bool(old.version) and (
                (bool(self.lake_id) and manifest.lake != self.lake_id)
                or manifest.version < old.version
                or rewound
                or (manifest.version == old.version and bool(reshaped))
            )
            if another:
                # another lake under the same name: read it as a fresh process would (what
                # was kept of the old one is not compared with it, nor kept)
                log.warning(
                    "%s holds another lake than the one served (v%d, id %s → v%d, id %s): "
                    "reading it anew",
                    self.lake.link,
                    old.version,
                    self.lake_id or "none",
                    manifest.version,
                    manifest.lake or "none",
                )
                reshaped = set()
                changed, _ = self._changed({}, manifest, old.version)
            elif manifest.version == old.version and not changed:
                # the same snapshot, its folder's status changed (an owner or mode set by
                # hand): nothing to read again
                self._stamp, self.lake_id = stamp, manifest.lake
                return old.version
            served = 0 if another else old.version
            last, latest = self._last_session(snap, files.get("rounds", {}))
            written: dict[str, int] = {}  # date → newest version that wrote one of its files
            # the manifest's own mappings (parsed for this version, never changed): compared
            # whole with the next version's
            self._loaded = {t: manifest.partitions.get(t, {}) for t in TABLES}
            for new in self._loaded.values():
                for d, p in new.items():
                    written[d] = max(p.version, written.get(d, 0))
            if served and reshaped and not changed:
                # serving tables changed with no partition (an old lake upgraded, a serving
                # table derived): answers may differ for any date, so every key moves on
                changed.update(self._loaded["rounds"])
                written = {}
            changed_at = {} if another else dict(old.changed_at)
            for d in changed:
                # the version that last wrote the date's partitions (a changed date's files
                # were written by this commit), so a fresh process derives the same keys as
                # a long-running one and keys persisted outside (the static site) stay
                # valid across restarts; a date that vanished changed now
                changed_at[d] = written.get(d, manifest.version)
            partitions = {t: {d: p.file for d, p in manifest.partitions[t].items()} for t in TABLES}
            self._hold(snap)
            # one assignment: a query reads the old view or the new one, never a mix (a
            # query took the old folder with new names while _hold wrote its lease), and
            # whoever sees the new version sees its epoch, dates and files; before letting
            # the old go: a query counted after this binds its views to the new one
            self._view = _View(
                snap,
                old.epoch + 1 if another else old.epoch,
                files,
                partitions,
                version=manifest.version,
                changed_at=changed_at,
                dates=tuple(sorted(changed_at)),
                max_changed=max(changed_at.values(), default=0),
                # the latest SESSION date (a counted round): the relative windows count
                # from it, not from a newer date that holds only rounds that do not count,
                # nor from the date of the session that ended last (another server's may
                # start later)
                last_date=latest,
                last_session=last,
                timezone=manifest.options.get("timezone") or None,
            )
            self._let_go(old.snapshot, snap)
            self._stamp, self.lake_id = stamp, manifest.lake
            if another:
                for forget in self._new_lake:
                    forget()
            log.info(
                "serving at v%d (%d dates changed) in %.1f ms",
                manifest.version,
                len(changed),
                (time.perf_counter() - t0) * 1000,
            )
            return manifest.version

    def _changed(
        self, loaded: Mapping[str, Mapping[str, Partition]], manifest: Manifest, served: int
    ) -> tuple[set[str], bool]:
        """The session dates whose partitions differ from those read last, and whether one
        of them cannot come from a commit after the version served: a differing partition
        that is not newer than it, or one gone at a version not newer (the lake went back:
        a backup restored, then committed on). Partitions are compared whole (file,
        version, rows, checksum): the same version number may name other content."""
        changed: set[str] = set()
        rewound = False
        for table in TABLES:
            new = manifest.partitions.get(table, {})
            old = loaded.get(table, {})
            diff = [d for d in old.keys() | new.keys() if old.get(d) != new.get(d)]
            changed.update(diff)
            if served and not rewound:
                rewound = any(
                    (p.version if (p := new.get(d)) is not None else manifest.version) <= served
                    for d in diff
                )
        return changed, rewound

    def _last_session(
        self, snap: Path, rounds: Mapping[str, str]
    ) -> tuple[tuple[int, date] | None, date | None]:
        """The session that ended last and the latest session date with a counted round,
        from the newest year's shards of ``rounds`` (the last session is asked for
        constantly: it is known before the first question) — or an earlier year's, when the
        newest holds no counted round yet (a new year's first file an orphan or a restart).
        With the year before it: a session dated New Year's Eve may end after another
        server's first session of the new year."""
        text = sql("last_session").replace("FROM rounds", "FROM read_parquet($f)")
        for year in sorted({k[:4] for k in rounds}, reverse=True):
            years = (year, f"{int(year) - 1:04d}") if year.isdigit() else (year,)
            files = [str(snap / f) for k, f in sorted(rounds.items()) if k[:4] in years]
            cur = self.con.cursor()
            try:
                row = cur.execute(text, {"f": files}).fetchone()
            except Exception as exc:
                raise self._damaged(snap, exc) from None
            finally:
                cur.close()
            if row and row[0] is not None:
                return (int(row[0]), row[1]), row[2]
        return None, None

    def _damaged(self, snap: Path, exc: BaseException) -> BaseException:
        import duckdb

        if isinstance(exc, duckdb.Error):
            from etl_duck.lake.snapshot import LakeDamaged, damaged_message

            return LakeDamaged(damaged_message(snap, str(exc).splitlines()[0]))
        return exc

    # ---- what a query reads

    def prepare(
        self,
        cur: duckdb.DuckDBPyConnection,
        text: str,
        dates: list[date] | None = None,
        years: set[int] | None = None,
    ) -> None:
        """Point this cursor's views at what ``text`` reads: the serving tables it names
        (their shards of ``years``; None = every year), the career tables, and the detail
        partitions of ``dates``."""
        v = self.view()  # once: a refresh in another thread publishes a new one
        if dates is not None:
            self.scope(cur, dates, [t for t in self.DETAIL if _DETAIL_NAMED[t].search(text)], v)
        views: dict[str, Any] = self._local.__dict__.setdefault("views", {})
        for name, pattern in _NAMED.items():
            if pattern.search(text) is None:
                continue
            shards = v.files.get(name, {})
            if name in CAREERS:
                picked = [shards[CAREER_ALL]] if CAREER_ALL in shards else None
            elif "*" in shards or years is None:
                picked = sorted(shards.values())
            else:
                picked = [
                    f
                    for k, f in sorted(shards.items())
                    if (y := shard_year(k)) is not None and int(y) in years
                ]
            key = (v.snapshot, v.epoch, tuple(picked) if picked is not None else None)
            if views.get(name) == key:
                continue
            source = self._source(cur, v, name, picked)
            cur.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {source}")
            views[name] = key

    def _source(
        self, cur: duckdb.DuckDBPyConnection, v: _View, name: str, picked: list[str] | None
    ) -> str:
        """The SELECT a view reads: its files, or (none) an empty table of its shape."""
        assert v.snapshot is not None or not picked
        if picked is None:  # a lake written before careers: sum the per-session rows
            src, query = CAREERS[name]
            every = sorted(v.files.get(src, {}).values())
            inner = _read(v.snapshot, every) if every else self._empty(cur, v, src)
            return sql(query).replace("FROM src", f"FROM ({inner})")
        if picked:
            return _read(v.snapshot, picked)
        return self._empty(cur, v, name)

    def _empty(self, cur: duckdb.DuckDBPyConnection, v: _View, name: str) -> str:
        """``SELECT * FROM`` an empty table of ``name``'s shape: from any of its files when
        it has one (no PyArrow needed), else from the lake's schemas (a new lake)."""
        shards = v.files.get(name, {})
        if shards and v.snapshot is not None:
            return f"{_read(v.snapshot, [next(iter(shards.values()))])} LIMIT 0"
        with self._shape_lock:
            if name not in self._shapes:
                self._make_shape(name)
                self._shapes.add(name)
        return f"SELECT * FROM _empty_{name}"

    def _detail_shape(self, v: _View, table: str) -> str:
        """A FROM source for a detail table with no partition in scope: any partition of it
        (no rows), else its schema."""
        parts = v.partitions.get(table, {})
        if parts and v.snapshot is not None:
            f = str(v.snapshot / next(iter(parts.values()))).replace("'", "''")
            return (
                f"(SELECT * FROM read_parquet('{f}', hive_partitioning = true, "
                "hive_types = {'session_date': DATE}) LIMIT 0)"
            )
        with self._shape_lock:
            self._make_details()
        return f"_detail_{table}"

    def _make_details(self) -> None:
        """Empty tables of the detail shapes (what the rollups read), once."""
        from etl_duck.lake.schemas import SCHEMAS

        if "_details" in self._shapes:
            return
        for table, schema in SCHEMAS.items():
            self.con.register("_schema", schema.empty_table())
            self.con.execute(
                f"CREATE OR REPLACE TABLE _detail_{table} AS "
                "SELECT *, NULL::DATE AS session_date FROM _schema"
            )
            self.con.unregister("_schema")
        self._shapes.add("_details")

    def _make_shape(self, name: str) -> None:
        from etl_duck.lake.schemas import ROUNDS_SCHEMA, SCHEMAS

        con = self.con
        if name in CAREERS:
            src, query = CAREERS[name]
            self._make_shape(src)
            text = sql(query).replace("FROM src", f"FROM _empty_{src}")
            con.execute(f"CREATE OR REPLACE TABLE _empty_{name} AS {text} LIMIT 0")
            return
        self._make_details()
        if name == "rounds":
            con.register("_schema", ROUNDS_SCHEMA.empty_table())
            con.execute(
                "CREATE OR REPLACE TABLE _empty_rounds AS "
                "SELECT *, NULL::DATE AS session_date FROM _schema"
            )
            con.unregister("_schema")
            return
        text = sql(ROLLUPS[name]).replace("$dates::DATE[]", "[]::DATE[]")
        for detail in SCHEMAS:
            text = re.sub(rf"\b(FROM|JOIN) {detail}\b", rf"\1 _detail_{detail}", text)
        con.execute(f"CREATE OR REPLACE TABLE _empty_{name} AS {text} LIMIT 0")

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
        queries after half the lease, so a busy process never loses its files mid-query."""
        from etl_duck.lake.snapshot import LEASE_SECONDS

        self.lake.lease(snap, LEASE_SECONDS, self._holder)
        self._lease_renew_at = time.time() + LEASE_SECONDS / 2

    def _renew_pin(self, held: _View) -> None:
        """Keep the snapshot this thread's pin holds leased while it reads. Once a newer
        version is served the older one is held a minute (:meth:`_let_go`, ``Lake.pin``):
        a pinned answer that read for longer lost its files to the next commit's expiry
        and failed as a damaged lake. So a pin renews that minute when it sees the newer
        version and then every :data:`PIN_RENEW_S` while it reads; a pin whose thread hangs
        holds it a minute past its last read, as a hung query does. The snapshot still
        served is renewed as a refresh renews it (never shortened). Gone already:
        :meth:`removed`'s error."""
        from etl_duck.lake.snapshot import REPIN_GRACE_S

        snap = held.snapshot
        if snap is None:
            return
        now = time.time()
        if snap == self._view.snapshot:
            if now > self._lease_renew_at:
                self._hold(snap)
            return
        # (the snapshot, when next): a pin takes the version served, so a later pin of
        # this thread holds another snapshot
        renewed: tuple[Path, float] | None = getattr(self._local, "renewed", None)
        if renewed is not None and now < renewed[1] and renewed[0] == snap:
            return
        self._local.renewed = (snap, now + PIN_RENEW_S)
        if not self.lake.lease(snap, REPIN_GRACE_S, self._holder):
            err = self.removed(snap, self.left_for(snap))
            if err is not None:
                raise err

    def left_for(self, snap: Path | None) -> float:
        """Seconds since a newer version than ``snap`` was served while readers still read
        it (0: not left behind, or no reader left)."""
        since = self._left.get(snap) if snap is not None else None
        return 0.0 if since is None else time.time() - since

    def removed(self, snap: Path | None, took: float) -> LakeError | None:
        """The error for a read of ``snap`` that failed, when ``snap`` is gone (None when it
        is there): the lake moved on and a commit expired it under a read of ``took``
        seconds (its lease lapsed) — one sentence, nothing to repair, ask again; a folder
        the ``lake`` link still names, removed by hand, is damage."""
        from etl_duck.lake.snapshot import LakeDamaged, SnapshotGone, damaged_message

        if snap is None or snap.exists():
            return None
        if self.lake.current_dir() == snap:
            return LakeDamaged(damaged_message(snap, "the snapshot folder is missing"))
        return SnapshotGone(
            f"the lake version this answer was reading ({snap.name}) was removed while it "
            f"read (the answer took over {max(int(took), 0)} s); ask again"
        )

    def _let_go(self, old: Path | None, current: Path) -> None:
        """End the lease of the snapshot left behind at once when no query of this process
        is running, else when the last running one ends (any running query may have bound
        its views to it). Held a minute "just in case", every snapshot of a burst stayed
        leased, no commit found a spare folder to build in, and each one linked every
        partition anew (~1.2 s instead of ~0.2 s per commit at 10 years)."""
        if old is None or old == current:
            return
        with self._readers_lock:
            busy = self._active > 0
            if busy:
                self._left.setdefault(old, time.time())
        # a minute at most even if a query never ends (its thread died)
        self.lake.lease(old, 60.0 if busy else 0.0, self._holder)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Count a query while it runs (see :meth:`_let_go`); wrap prepare + execute."""
        self._begin_reading()
        try:
            yield
        finally:
            self._end_reading()

    def _begin_reading(self) -> None:
        with self._readers_lock:
            self._active += 1

    def _end_reading(self) -> None:
        done: dict[Path, float] = {}
        with self._readers_lock:
            self._active -= 1
            if self._active == 0 and self._left:
                done, self._left = self._left, {}
        for snap in done:
            if snap != self._view.snapshot:
                self.lake.lease(snap, 0.0, self._holder)  # the last query has ended

    def scope(
        self,
        cur: duckdb.DuckDBPyConnection,
        dates: list[date],
        tables: list[str] | None = None,
        view: _View | None = None,
    ) -> None:
        """Point this cursor's detail tables (``player_rounds``, ``weapon_rounds``, … or
        those of ``tables``) at the partitions of ``dates`` only (temp views; file paths
        come from the manifest, never from users)."""
        v = view or self.view()
        scopes: dict[str, Any] = self._local.__dict__.setdefault("scopes", {})
        for table in self.DETAIL if tables is None else tables:
            key = (v.snapshot, v.epoch, tuple(dates))
            if scopes.get(table) == key:
                continue  # this cursor already looks at exactly these partitions
            files = [
                str(v.snapshot / f)
                for d in dates
                if v.snapshot is not None and (f := v.partitions.get(table, {}).get(d.isoformat()))
            ]
            if files:
                listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
                source = (
                    f"read_parquet([{listed}], hive_partitioning = true, "
                    "hive_types = {'session_date': DATE})"
                )
            else:
                source = self._detail_shape(v, table)
            cur.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM {source}")
            scopes[table] = key

    def manifest(self) -> Manifest:
        """The held snapshot's manifest (the lake keeps it parsed: no second read)."""
        snap = self.snapshot
        if snap is None:
            from etl_duck.lake.manifest import Manifest

            return Manifest.empty()
        return self.lake.manifest(snap)

    def changed_since(self, version: int) -> list[date]:
        """The session dates a lake version after ``version`` changed, in order."""
        v = self.view()
        return [date.fromisoformat(d) for d in v.dates if v.changed_at[d] > version]

    def date_version(self, day: date) -> int:
        """``signature(day, day)`` as one lookup (keys of thousands of single dates)."""
        return self.view().changed_at.get(day.isoformat(), 0)

    def signature(self, date_from: date, date_to: date, view: _View | None = None) -> int:
        """Last version that changed any partition in [date_from, date_to] (in ``view``,
        else the one this thread reads)."""
        v = view or self.view()
        if date_from <= ALL_FROM and date_to >= ALL_TO:
            return v.max_changed
        lo = bisect.bisect_left(v.dates, date_from.isoformat())
        hi = bisect.bisect_right(v.dates, date_to.isoformat())
        return max((v.changed_at[d] for d in v.dates[lo:hi]), default=0)


class _Pin:
    """``Serving.pinned()``: a class, not a generator (a cached answer enters two or three
    pins; a generator's context manager costs several times more)."""

    __slots__ = ("_outer", "_serving")

    def __init__(self, serving: Serving) -> None:
        self._serving = serving
        self._outer = False

    def __enter__(self) -> tuple[int, Path | None]:
        s = self._serving
        held: _View | None = getattr(s._local, "view", None)
        if held is not None:  # inside another pin of this thread: it holds the version
            return held.version, held.snapshot
        s.refresh()
        # counted before the view is taken: a refresh that publishes a newer one after
        # this keeps the one taken leased until the pin ends
        s._begin_reading()
        v = s._view
        s._local.view = v
        self._outer = True
        return v.version, v.snapshot

    def __exit__(self, *exc: object) -> None:
        if self._outer:
            s = self._serving
            s._local.view = None
            s._end_reading()


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """A snapshot folder's identity (device, inode, status change time), through the
    ``lake`` link or not: a recreated lake's folder of the same version is another one."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def _read(snapshot: Path | None, files: list[str]) -> str:
    """``SELECT * FROM read_parquet([...])`` of files of a snapshot (paths come from the
    manifest, never from users; quoted as SQL literals)."""
    assert snapshot is not None
    listed = ", ".join("'" + str(snapshot / f).replace("'", "''") + "'" for f in files)
    return f"SELECT * FROM read_parquet([{listed}])"


def query_polars(
    cur: duckdb.DuckDBPyConnection, text: str, params: Mapping[str, Any]
) -> pl.DataFrame:
    """Run ``text`` and return a Polars frame. Once something loaded PyArrow (an ingest),
    through the DB-API result as Arrow. Without it (a query-only process such as the bot:
    ~110 ms of import and ~55 MiB spared), from the result's Python rows when they are few
    and of plain types, else through the Arrow C stream of a relation."""
    if "pyarrow" in sys.modules:
        return frame_by_arrow(cur, text, params)
    if text not in _NOT_BY_ROWS:
        df = frame_by_rows(cur, text, params)
        if df is not None:
            return df
        # ran twice this time (a sort or an aggregation computes every row before the
        # first): a query that once returned too many rows or a type rows cannot carry
        # goes straight to the relation from now on
        _NOT_BY_ROWS.add(text)
    return frame_by_relation(cur, text, params)


def frame_by_arrow(
    cur: duckdb.DuckDBPyConnection, text: str, params: Mapping[str, Any]
) -> pl.DataFrame:
    """The DB-API result as a PyArrow table, not a relation: DuckDB 2.0's relation API
    re-tokenises the SQL in Python, more than the extra copy of a small result costs."""
    import polars as pl

    df = pl.from_arrow(cur.execute(text, params).to_arrow_table())
    assert isinstance(df, pl.DataFrame)
    return df


def frame_by_rows(
    cur: duckdb.DuckDBPyConnection, text: str, params: Mapping[str, Any]
) -> pl.DataFrame | None:
    """The DB-API result's Python rows as a frame of the result's own types; None (the
    result dropped) past :data:`_ROWS_MAX` rows or for a type that is not plain (a list, a
    struct, a decimal, a time zone). Without PyArrow this is the cheap path: a relation
    binds a query and then plans it again to run it (and tokenises it in Python); rows
    were 1.3–1.6× faster for every query of the bot's questions
    (``python -m benchmarks.bench_rows``), and cost more than that past ~1,000 rows."""
    import polars as pl

    res = cur.execute(text, params)
    schema = _polars_schema(res.description)
    if schema is not None:
        rows = res.fetchmany(_ROWS_MAX + 1)
        if len(rows) <= _ROWS_MAX:
            res.complete()
            return pl.DataFrame(rows, schema=schema, orient="row")
    res.abort()
    return None


def frame_by_relation(
    cur: duckdb.DuckDBPyConnection, text: str, params: Mapping[str, Any]
) -> pl.DataFrame:
    """The Arrow C stream of a relation: no PyArrow needed, any size and type."""
    import polars as pl

    return pl.DataFrame(cur.sql(text, params=dict(params)))


#: the most rows a query's frame is built from as Python rows (see ``query_polars``)
_ROWS_MAX = 1000
#: query texts whose answer was once not for rows (a set of the few dozen texts of
#: ``queries/``, whatever the parameters)
_NOT_BY_ROWS: set[str] = set()

#: DuckDB column types → Polars dtypes, for frames built from Python rows
_POLARS_TYPES = {
    "VARCHAR": "String", "BOOLEAN": "Boolean", "TINYINT": "Int8", "SMALLINT": "Int16",
    "INTEGER": "Int32", "BIGINT": "Int64", "FLOAT": "Float32", "DOUBLE": "Float64",
    "DATE": "Date", "TIMESTAMP": "Datetime:us", "TIMESTAMP_S": "Datetime:ms",
    "TIMESTAMP_MS": "Datetime:ms", "TIMESTAMP_NS": "Datetime:ns",
}  # fmt: skip


def _polars_dtype(kind: object) -> Any:
    """The Polars dtype of a DuckDB column type (None: not a plain type this maps)."""
    import polars as pl

    dtype = _POLARS_TYPES.get(str(kind))
    if dtype is None:
        return None
    name, _, unit = dtype.partition(":")
    return pl.Datetime(unit) if unit else getattr(pl, name)  # type: ignore[arg-type]


def _polars_schema(description: Any) -> dict[str, Any] | None:
    """A result's columns as a Polars schema, or None when one is not a plain type (a list,
    a struct, a decimal, a time zone) or two share a name."""
    schema = {name: _polars_dtype(kind) for name, kind, *_ in description}
    if len(schema) != len(description) or any(t is None for t in schema.values()):
        return None
    return schema


def query_parts(
    cur: duckdb.DuckDBPyConnection, text: str, params: Mapping[str, Any]
) -> dict[str, pl.DataFrame]:
    """Run a query of one row whose columns are lists of structs (several small answers in
    one round trip) and return each column as a Polars frame, with the dtypes a query of
    that part alone would give. Built from Python rows: for a few dozen rows this is ~2 ms
    cheaper than converting nested Arrow columns."""
    import polars as pl
    from duckdb.sqltypes import DuckDBPyType

    res = cur.execute(text, params)
    (row,) = res.fetchall()  # to the end: DuckDB 2 keeps an unfinished result open
    out: dict[str, pl.DataFrame] = {}
    for (name, kind, *_), values in zip(res.description, row, strict=True):
        assert isinstance(kind, DuckDBPyType)
        (_, struct), *_ = kind.children  # a LIST's one child: the STRUCT
        assert isinstance(struct, DuckDBPyType)
        schema: dict[str, Any] = {}
        for field, ftype in struct.children:
            schema[field] = _polars_dtype(ftype)
            if schema[field] is None:
                raise TypeError(f"query_parts: no Polars type for {ftype} ({name}.{field})")
        out[name] = pl.DataFrame(values or [], schema=schema)
    return out
