"""Compact serving tables kept in every lake snapshot (``_serving/*.parquet``).

The durable layout is one Parquet file per session date and table; opening 1,500 of them
per question is the small-file problem. So each commit also writes a handful of single
files: every round, and per-(session, player) rollups. They are maintained incrementally
— rows of the session dates a commit rebuilt are replaced, the rest are carried over — and
are derived data: a notebook reading ``lake/<table>/**`` never sees them, and a rebuild
recreates them.

A table's rows of a year are one shard, or two split at a cutoff date: ``YYYY`` (the dates
before it) and ``YYYY-MM-DD`` (the cutoff and after: the latest sessions). A live commit
changes the latest dates, so it reads and rewrites only the second, a few weeks of rows,
not the year (at 10 years, late in December, rewriting the year was ~70 ms of a ~250 ms
commit). The first is rewritten when a commit changes an earlier date, or when the second
outgrows ``1 / RECENT_SHARE`` of it; every whole-year write leaves the latest date alone
in the second.
"""

from __future__ import annotations

import os
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
        con.close()


# never carry an open DuckDB connection across fork() (crash tests, process pools)
os.register_at_fork(before=_drop_connection)


def _connection() -> Any:
    """A DuckDB connection for rollups, reused: opening one costs 30-80 ms here. A forked
    child (crash tests, process pools) opens its own rather than share the parent's."""
    global _CON
    import duckdb

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


def fresh_rows(rebuilt: Mapping[date, Mapping[str, pa.Table]]) -> dict[str, pa.Table]:
    """Serving rows of the rebuilt session dates (every serving table, ``session_date``
    included). Pure: backfills run it in the parse workers, one chunk of dates at a time."""
    days = sorted(rebuilt)
    fresh = {
        "rounds": _concat(
            [with_date(t["rounds"], d) for d, t in rebuilt.items()],
            _schema_with_date(ROUNDS_SCHEMA),
        ),
    }
    con = _connection()
    details = [(t, schema) for t, schema in SCHEMAS.items() if t != "rounds"]
    for table, schema in details:
        con.register(
            table,
            _concat(
                [with_date(t[table], d) for d, t in rebuilt.items() if table in t],
                _schema_with_date(schema),
            ),
        )
    con.register("rounds", fresh["rounds"])
    try:
        for name, query in ROLLUPS.items():  # DB-API (etl_duck/__init__.py says why)
            fresh[name] = con.execute(sql(query), {"dates": days}).to_arrow_table()
    finally:
        for table, _ in details:
            con.unregister(table)
        con.unregister("rounds")
    return fresh


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
    rebuild: bool,
    careers: set[str],
) -> tuple[Shards, Shards]:
    """The serving shards a commit writes, given the ``fresh`` rows of the ``changed`` dates
    on top of ``manifest`` (``years``: the years those dates fall in; None: every shard is
    rewritten, read from ``snap`` unless ``rebuild``). Also returns each changed year's
    whole rows, table → year → rows (None: the year has none left): complete for the
    ``careers`` tables (the sources of the career tables), which sum them."""
    groups = {n: manifest.shards.get(f"serving/{n}", {}) for n in SERVING_TABLES}
    dates = sorted(changed)
    # table → year → the recent shard's key when only it is rewritten (None: the whole year)
    recent: dict[str, dict[str, str | None]] = {n: {} for n in SERVING_TABLES}
    reads: dict[str, set[str]] = {}
    if years is not None and snap is not None and not rebuild:
        held = list(manifest.partitions.get("rounds", {}))
        for name, shards in groups.items():
            for y in years:
                keys = [k for k in shards if shard_year(k) == y]
                key = _recent_key(keys, y, [d for d in dates if str(d.year) == y], held)
                recent[name][y] = key
                reads.setdefault(name, set()).update([key] if key is not None else keys)
        old: dict[str, pa.Table] | None = lake.read_serving_shards(snap, reads)
    else:
        old = None if rebuild or snap is None else lake.read_serving(snap)
    merged = merge(old, fresh, changed)
    fresh.clear()  # merged: one copy of the serving rows at a time
    old = None
    new_rows = {n: split_years(merged.pop(n), "session_date") for n in SERVING_TABLES}
    # shards to read again: the base of a year whose recent shard outgrew its share (it is
    # folded in), of a career's source (a career sums its year whole), and both shards of
    # a year that stopped being the latest (one shard again: all-time reads open fewer)
    again: dict[str, set[str]] = {}
    latest: dict[str, str | None] = {}
    ended: dict[str, str] = {}
    for name in SERVING_TABLES:
        shards, by_year = groups[name], new_rows[name]
        stored = {yr for k in shards if (yr := shard_year(k)) is not None}
        todo = stored | set(by_year) if years is None else years
        alive = (stored - todo) | set(by_year)
        alive |= {y for y in todo if recent[name].get(y) and y in shards}
        latest[name] = last = max(alive, default=None)
        for y, key in recent[name].items():
            needed = _folds(by_year.get(y), shards.get(y)) or name in careers
            if key is not None and y in shards and needed:
                again.setdefault(name, set()).add(y)
        before = max(stored, default=None)
        two = [k for k in shards if shard_year(k) == before and k != before]
        if before is not None and last is not None and before < last and before not in todo and two:
            ended[name] = before
            again.setdefault(name, set()).update(k for k in shards if shard_year(k) == before)
    read = lake.read_serving_shards(snap, again) if again and snap is not None else {}
    out: Shards = {}
    whole: Shards = {}
    for name in SERVING_TABLES:
        shards, by_year = groups[name], new_rows[name]
        stored = {yr for k in shards if (yr := shard_year(k)) is not None}
        todo = stored | set(by_year) if years is None else years
        reread = split_years(read[name], "session_date") if name in read else {}
        out[name] = {}
        whole[name] = {}
        rows = reread.get(ended.get(name, ""))
        if rows is not None and rows.num_rows:  # the year before the latest: one shard
            y = ended[name]
            out[name].update({k: None for k in shards if shard_year(k) == y})
            out[name][y] = rows
        for y in sorted(todo):
            rows = by_year.get(y)
            key = recent[name].get(y)
            if key is not None:
                whole[name][y] = _concat_rows([reread.get(y), rows])
                if not _folds(rows, shards.get(y)):  # only the recent shard changes
                    if rows is not None and rows.num_rows:
                        out[name][key] = rows
                    elif key in shards:
                        out[name][key] = None
                    continue
                rows = whole[name][y]  # folded: the year is written whole again
            else:
                whole[name][y] = rows
            for k in shards:
                if shard_year(k) == y:
                    out[name][k] = None
            out[name].update(_split(rows, y, last=y == latest[name]))
    return out, whole


def _folds(rows: pa.Table | None, base: Partition | None) -> bool:
    """Whether a year's new recent rows outgrew their share of the year (``base``: its
    other shard, None when it has none)."""
    if rows is None:
        return False
    return bool(rows.num_rows > max(RECENT_MIN_ROWS, (base.rows if base else 0) // RECENT_SHARE))


def _recent_key(keys: list[str], year: str, changed: list[date], held: list[str]) -> str | None:
    """The key of the one shard of ``year`` a commit that changes ``changed`` may rewrite
    alone: the year's recent shard when every changed date is on or after its cutoff, or a
    new one from the first changed date when that date is after every date the year held;
    None: the whole year is rewritten."""
    if not changed:
        return None
    first = changed[0].isoformat()
    cutoffs = [k for k in keys if k != year]
    if cutoffs:
        return max(cutoffs) if first >= max(cutoffs) else None
    before = [d for d in held if d[:4] == year]
    return first if not before or first > max(before) else None


def _split(rows: pa.Table | None, year: str, last: bool) -> dict[str, pa.Table | None]:
    """A year's rows as shards: one, or (``last``: the lake's latest year) the latest date's
    rows apart, where the next live commits write."""
    if rows is None or not rows.num_rows:
        return {}
    if not last:
        return {year: rows}
    latest = pc.max(rows["session_date"])
    before = rows.filter(pc.less(rows["session_date"], latest))
    recent = rows.filter(pc.greater_equal(rows["session_date"], latest))
    return {year: before if before.num_rows else None, latest.as_py().isoformat(): recent}


def _concat_rows(parts: list[pa.Table | None]) -> pa.Table | None:
    tables = [t for t in parts if t is not None and t.num_rows]
    if not tables:
        return None
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables([t.cast(tables[0].schema) for t in tables])
