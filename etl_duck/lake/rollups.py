"""Compact serving tables kept in every lake snapshot (``_serving/*.parquet``).

The durable layout is one Parquet file per session date and table; opening 1,500 of them
per question is the small-file problem. So each commit also writes a handful of single
files: every round, and per-(session, player) rollups. They are maintained incrementally
— rows of the session dates a commit rebuilt are replaced, the rest are carried over — and
are derived data: a notebook reading ``lake/<table>/**`` never sees them, and a rebuild
recreates them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from etl_duck.lake.layout import ROLLUPS, SERVING_TABLES
from etl_duck.lake.schemas import ROUNDS_SCHEMA, SCHEMAS
from etl_duck.sqlfiles import sql

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
