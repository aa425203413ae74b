"""Compact serving tables kept in every lake snapshot (``_serving/*.parquet``).

The durable layout is one Parquet file per session date and table; opening 1,500 of them
per question is the small-file problem. So each commit also writes a handful of single
files: every round, and per-(session, player) rollups. They are maintained incrementally
— rows of the session dates a commit rebuilt are replaced, the rest are carried over — and
are derived data: a notebook reading ``lake/<table>/**`` never sees them, and a rebuild
recreates them.

A table's rows of a year are one shard, ``YYYY``; the lake's latest year may be two, split
at a cutoff date: ``YYYY`` (the dates before it) and ``YYYY-MM-DD`` (the cutoff and after:
the latest sessions). A live commit changes the latest dates, so it reads and rewrites only
the second, a few weeks of rows, not the year (at 10 years, late in December, rewriting
the year was ~70 ms of a ~250 ms commit). The year is written whole when a commit changes
an earlier date or many dates, or when the second outgrows ``1 / RECENT_SHARE`` of it; a
commit of a few dates that writes it whole leaves the latest date alone in the second.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from etl_duck.lake.layout import ROLLUPS, SERVING_TABLES, shard_year
from etl_duck.lake.schemas import ROUNDS_SCHEMA, SCHEMAS, split_years
from etl_duck.sqlfiles import sql

if TYPE_CHECKING:
    from pathlib import Path

    from etl_duck.lake.manifest import Manifest, Partition
    from etl_duck.lake.snapshot import Lake

#: the recent shard is folded into its year once it holds more than 1/8 of the year's rows
#: (and more than RECENT_MIN_ROWS): a live commit rewrites at most ~1/8 of a year
RECENT_SHARE = 8
RECENT_MIN_ROWS = 2048
#: a commit that changes at most this many dates of the latest year splits it at its latest
#: date when it writes the year whole
SPLIT_MAX_DATES = 16

#: a total order for each table, so a rebuild writes byte-identical files
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "rounds": ("session_date", "end_time", "file_name"),
    "player_sessions": ("session_date", "session_id", "guid"),
    "player_weapon_sessions": ("session_date", "session_id", "guid", "weapon_id"),
    "player_map_sessions": ("session_date", "session_id", "guid", "map_name"),
    "player_name_sessions": ("session_date", "session_id", "guid", "name"),
    "player_round_tails": ("session_date", "session_id", "guid", "end_time", "round_id"),
    "player_match_results": ("session_date", "session_id", "match_id", "guid"),
    "player_map_bests": ("session_date", "session_id", "guid", "map_name"),
    "player_versus_sessions": ("session_date", "session_id", "guid", "opponent_guid"),
    "map_players": ("session_date", "start_time", "match_id", "guid"),
}


_CON: tuple[int, Any] | None = None  # (pid, connection): one per process, not per commit


def _drop_connection() -> None:
    global _CON
    if _CON is not None:
        con, _CON = _CON[1], None
        # busy in another thread (a fork mid-commit): DuckDB refuses; the parent keeps it
        with contextlib.suppress(Exception):
            con.close()


_CON_LOCK = threading.Lock()  # the careers' threads may be the first to ask for it


def _before_fork() -> None:
    _CON_LOCK.acquire()  # no other thread is opening it while the process forks
    _drop_connection()


def _after_fork_in_parent() -> None:
    _CON_LOCK.release()


def _new_lock_in_child() -> None:
    global _CON_LOCK
    _CON_LOCK = threading.Lock()


# never carry an open DuckDB connection across fork() (crash tests, process pools)
os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_new_lock_in_child
)


def _connection() -> Any:
    """A DuckDB connection for rollups, reused: opening one costs 30-80 ms here. A forked
    child (crash tests, process pools) opens its own rather than share the parent's.
    Threads use a cursor of it each (``con.cursor()``), never the connection itself."""
    global _CON
    import duckdb

    with _CON_LOCK:
        if _CON is None or _CON[0] != os.getpid():
            _CON = (os.getpid(), duckdb.connect(config={"threads": 1}))
        return _CON[1]


def with_date(table: pa.Table, day: date) -> pa.Table:
    """Add the hive partition column the files themselves do not carry."""
    return table.append_column("session_date", pa.array([day] * table.num_rows, pa.date32()))


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return schema.empty_table()
    return pa.concat_tables([t.cast(schema) for t in tables])


def _schema_with_date(schema: pa.Schema) -> pa.Schema:
    return schema.append(pa.field("session_date", pa.date32()))


#: the rollups, dearest first (measured on a one-date commit), so that threads sharing them
#: out finish together
_BY_COST = ("map_players", "player_sessions", "player_match_results", "player_map_bests")


def fresh_rows(
    rebuilt: Mapping[date, Mapping[str, pa.Table]], threads: int = 1
) -> dict[str, pa.Table]:
    """Serving rows of the rebuilt session dates (every serving table, ``session_date``
    included). Pure: backfills run it in the parse workers, one chunk of dates at a time.
    ``threads`` > 1 runs the rollup queries on that many DuckDB cursors at once (a live
    commit, in the ingesting process: DuckDB runs a query without the GIL)."""
    days = sorted(rebuilt)
    fresh = {
        "rounds": _concat(
            [with_date(t["rounds"], d) for d, t in rebuilt.items()],
            _schema_with_date(ROUNDS_SCHEMA),
        ),
    }
    inputs = {
        table: _concat(
            [with_date(t[table], d) for d, t in rebuilt.items() if table in t],
            _schema_with_date(schema),
        )
        for table, schema in SCHEMAS.items()
        if table != "rounds"
    }
    inputs["rounds"] = fresh["rounds"]
    names = sorted(ROLLUPS, key=lambda n: _BY_COST.index(n) if n in _BY_COST else len(_BY_COST))
    if threads <= 1:
        rows = _rollups(_connection(), inputs, names, days)
    else:
        rows = _rollups_in_threads(inputs, names, days, threads)
    fresh.update((name, rows[name]) for name in ROLLUPS)
    return fresh


def _rollups(
    con: Any, inputs: Mapping[str, pa.Table], names: Sequence[str], days: list[date]
) -> dict[str, pa.Table]:
    for table, rows in inputs.items():
        con.register(table, rows)
    try:  # DB-API (etl_duck/__init__.py says why)
        return {n: con.execute(sql(ROLLUPS[n]), {"dates": days}).to_arrow_table() for n in names}
    finally:
        for table in inputs:
            con.unregister(table)


def _rollups_in_threads(
    inputs: Mapping[str, pa.Table], names: Sequence[str], days: list[date], threads: int
) -> dict[str, pa.Table]:
    """The rollups shared out over ``threads`` cursors of the process's connection (a
    cursor per thread: DuckDB connections are not shared across threads)."""
    from concurrent.futures import ThreadPoolExecutor

    base = _connection()
    shares = [names[i::threads] for i in range(threads)]
    out: dict[str, pa.Table] = {}

    def run(share: Sequence[str]) -> dict[str, pa.Table]:
        cur = base.cursor()
        try:
            return _rollups(cur, inputs, share, days)
        finally:
            cur.close()

    with ThreadPoolExecutor(threads, thread_name_prefix="etl-duck-rollup") as pool:
        for part in pool.map(run, [s for s in shares if s]):
            out.update(part)
    return out


def merge(
    old: Mapping[str, pa.Table] | None,
    fresh: Sequence[Mapping[str, pa.Table]],
    changed: set[date],
) -> dict[str, pa.Table]:
    """New serving tables: ``old`` minus the ``changed`` dates, plus the ``fresh`` rows
    (one mapping per chunk of rebuilt dates), in each table's total order."""
    days = sorted(changed)
    out: dict[str, pa.Table] = {}
    for name in SERVING_TABLES:
        parts = [f[name] for f in fresh if f[name].num_rows]
        keys = [(k, "ascending") for k in SORT_KEYS[name]]
        new_rows = (
            pa.concat_tables([p.cast(parts[0].schema) for p in parts]).sort_by(keys)
            if parts
            else None
        )
        kept = None if old is None else old.get(name)
        if kept is not None and kept.num_rows:
            gone = pc.is_in(kept["session_date"], pa.array(days, pa.date32()))
            kept = kept.filter(pc.invert(gone))
        if kept is None or not kept.num_rows:
            out[name] = new_rows if new_rows is not None else _empty(fresh, name)
            continue
        if new_rows is None:
            out[name] = kept
            continue
        both = pa.concat_tables([kept, new_rows.cast(kept.schema)])
        # the live case appends a session after all others: already in order, no re-sort
        in_order = pc.max(kept["session_date"]).as_py() < pc.min(new_rows["session_date"]).as_py()
        out[name] = both if in_order else both.sort_by(keys)
    return out


def _empty(fresh: Sequence[Mapping[str, pa.Table]], name: str) -> pa.Table:
    return fresh[0][name] if fresh else pa.table({})


Shards = dict[str, dict[str, pa.Table | None]]  # table → shard key → rows (None: it goes)


def shards_to_write(
    lake: Lake,
    snap: Path | None,
    manifest: Manifest,
    fresh: list[dict[str, pa.Table]],
    changed: set[date],
    years: set[str] | None,
    derive: bool,
    careers: frozenset[str],
) -> tuple[Shards, Shards]:
    """The serving shards a commit writes, given the ``fresh`` rows of the ``changed`` dates
    on top of ``manifest`` (``years``: the years those dates fall in; None: every shard is
    rewritten, from ``snap``'s rows and ``fresh``, or from ``fresh`` alone if ``derive``).
    Also returns each changed year's whole rows, table → year → rows (None: the year has
    none left): complete for the ``careers`` tables (the career sources), which sum them."""
    groups = {n: manifest.shards.get(f"serving/{n}", {}) for n in SERVING_TABLES}
    held = max(manifest.partitions.get("rounds", {}), default=None)  # the lake's last date
    latest = max({d.isoformat()[:4] for d in changed} | ({held[:4]} if held else set()), default="")
    # a commit of a few dates of the latest year (live, a late file) may write its recent
    # shard alone, and leaves the latest date apart when it writes the year whole; a
    # bigger one (a backfill's year, a rebuild) writes each year as one shard
    few = sum(str(d.year) == latest for d in changed) <= SPLIT_MAX_DATES
    incremental = years is not None and snap is not None and not derive
    live = incremental and few and latest in (years or ())
    recent = {
        n: _recent_key(groups[n], latest, changed, held) if live else None for n in SERVING_TABLES
    }
    if incremental:
        assert years is not None and snap is not None
        reads = {n: _reads(groups[n], years, latest, recent[n]) for n in SERVING_TABLES}
        old: dict[str, pa.Table] | None = lake.read_serving_shards(snap, reads)
    else:
        old = None if derive or snap is None else lake.read_serving(snap)
    merged = merge(old, fresh, changed)
    fresh.clear()  # merged: one copy of the serving rows at a time
    old = None
    plans = {
        n: _Plan(
            groups[n],
            split_years(merged.pop(n), "session_date"),
            years,
            latest,
            recent[n],
            split=few,
            career=n in careers,
        )
        for n in SERVING_TABLES
    }
    again = {n: p.again for n, p in plans.items() if p.again}
    read = lake.read_serving_shards(snap, again) if again and snap is not None else {}
    out: Shards = {}
    whole: Shards = {}
    for n, plan in plans.items():
        out[n], whole[n] = plan.shards_and_years(
            split_years(read[n], "session_date") if n in read else {}
        )
    return out, whole


def _year_keys(shards: Mapping[str, Partition], year: str) -> list[str]:
    return [k for k in shards if shard_year(k) == year]


def _reads(
    shards: Mapping[str, Partition], years: set[str], latest: str, recent: str | None
) -> set[str]:
    """The shards a commit reads: every shard of each year it changes, but of the latest
    year its recent shard alone when only that one is rewritten."""
    out = {k for y in years if y != latest or recent is None for k in _year_keys(shards, y)}
    return out | ({recent} if recent is not None and latest in years else set())


class _Plan:
    """What a commit writes of one serving table: the latest year's recent shard alone, or
    each changed year whole (the latest split at its latest date after a commit of a few
    dates); an older year still in two shards, or in one named by a date, becomes ``YYYY``."""

    def __init__(
        self,
        shards: Mapping[str, Partition],
        rows: dict[str, pa.Table],  # year → its new rows: whole, or its recent shard's
        years: set[str] | None,
        latest: str,  # the lake's latest year
        recent: str | None,  # the latest year's recent shard, when only it is rewritten
        split: bool,  # the latest year, written whole, leaves its latest date apart
        career: bool,  # a career source: each changed year is needed whole
    ) -> None:
        self.shards, self.rows, self.latest, self.recent, self.split = (
            shards, rows, latest, recent, split,
        )  # fmt: skip
        stored = {y for k in shards if (y := shard_year(k)) is not None}
        self.todo = stored | set(rows) if years is None else set(years)
        base = shards.get(latest)
        #: the recent shard outgrew its share: folded into the year
        self.folds = recent is not None and _folds(rows.get(latest), base)
        #: older years not in one ``YYYY`` shard (the latest when the year turned)
        self.ended = {
            y for y in stored - self.todo if y < latest and set(_year_keys(shards, y)) != {y}
        }
        self.again = {k for y in self.ended for k in _year_keys(shards, y)}
        if recent is not None and base is not None and (self.folds or career):
            self.again.add(latest)

    def shards_and_years(
        self, reread: dict[str, pa.Table]
    ) -> tuple[dict[str, pa.Table | None], dict[str, pa.Table | None]]:
        out: dict[str, pa.Table | None] = {}
        whole: dict[str, pa.Table | None] = {}
        for y in sorted(self.ended):
            rows = reread.get(y)
            if rows is not None and rows.num_rows:
                out.update({k: None for k in _year_keys(self.shards, y)})
                out[y] = rows
        for y in sorted(self.todo):
            rows = self.rows.get(y)
            if y == self.latest and self.recent is not None:
                whole[y] = _concat_rows([reread.get(y), rows])
                if not self.folds:  # only the recent shard changes
                    if rows is not None and rows.num_rows:
                        out[self.recent] = rows
                    elif self.recent in self.shards:
                        out[self.recent] = None
                    continue
                rows = whole[y]
            else:
                whole[y] = rows
            out.update({k: None for k in _year_keys(self.shards, y)})
            out.update(_split(rows, y, last=y == self.latest and self.split))
        return out, whole


def _folds(rows: pa.Table | None, base: Partition | None) -> bool:
    """Whether a year's new recent rows outgrew their share of the year (``base``: its
    other shard, None when it has none)."""
    if rows is None:
        return False
    return bool(rows.num_rows > max(RECENT_MIN_ROWS, (base.rows if base else 0) // RECENT_SHARE))


def _recent_key(
    shards: Mapping[str, Partition], year: str, changed: set[date], held: str | None
) -> str | None:
    """The key of the one shard of the latest ``year`` a commit that changes ``changed`` may
    rewrite alone: the year's recent shard when every changed date is on or after its
    cutoff, or a new one from the first changed date when that date is after every date
    the lake held (``held``: its last); None: the whole year is rewritten."""
    first = min(d for d in changed if str(d.year) == year).isoformat()
    cutoffs = [k for k in _year_keys(shards, year) if k != year]
    if cutoffs:
        return max(cutoffs) if first >= max(cutoffs) else None
    return first if held is None or first > held else None


def _split(rows: pa.Table | None, year: str, last: bool) -> dict[str, pa.Table | None]:
    """A year's rows (in session-date order) as shards: one, or (``last``: the lake's
    latest year) the latest date's rows apart, where the next live commits write. Slices,
    not copies: a backfill holds a year's rows once."""
    if rows is None or not rows.num_rows:
        return {}
    if not last:
        return {year: rows}
    dates = rows["session_date"]
    latest = pc.max(dates)
    before = pc.sum(pc.less(dates, latest)).as_py() or 0
    return {
        year: rows.slice(0, before) if before else None,
        latest.as_py().isoformat(): rows.slice(before),
    }


def _concat_rows(parts: list[pa.Table | None]) -> pa.Table | None:
    tables = [t for t in parts if t is not None and t.num_rows]
    if not tables:
        return None
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables([t.cast(tables[0].schema) for t in tables])
