"""The ingest's state tables (ledger, rejected lines, round index): lookups, session
regrouping around new rounds, and the year shards a commit rewrites."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from etl_duck.domain.sessions import RoundTime, Session, group_sessions
from etl_duck.lake.layout import TABLES
from etl_duck.lake.manifest import Manifest
from etl_duck.lake.rawstore import content_sha256
from etl_duck.lake.schemas import ROUND_INDEX_SCHEMA, SCHEMAS, split_years
from etl_duck.lake.snapshot import Lake


@dataclass(frozen=True)
class Regroup:
    """What new rounds do to the sessions: the sessions of every affected date, the dates,
    and the round-index rows to replace."""

    sessions: list[Session]
    affected: set[date]
    index_rows: pa.Table  # new round-index rows (regrouped rounds)
    index_drop: set[str]  # file names whose old index rows go


#: the most a wall clock jumps (daylight saving time): names this far apart may be closer
_CLOCK_CHANGE_S = 3600


def regroup_sessions(
    index: pa.Table,
    new: Mapping[str, RoundTime],
    gap_minutes: int,
    *,
    everything: bool = False,
    removed: set[str] | None = None,
    touched: set[str] | None = None,
    timezone: str | None = None,
) -> Regroup:
    """Regroup only the sessions within the gap of a new (or changed) round: sessions are
    separated by more than the gap, so no other session can change. Then add the untouched
    sessions that share an affected date (a partition holds every session of its date).
    ``everything`` regroups the whole index (the session gap setting changed).
    ``touched``: committed rounds whose sessions are rebuilt although no round changed (an
    endstats file of theirs arrived). ``index`` is the round index (ROUND_INDEX_SCHEMA)
    before the batch. ``timezone``: the server's; gaps are real durations (see
    ``group_sessions``), so the rounds searched reach an hour further (a clock change)."""
    import bisect

    import pyarrow.compute as pc

    gap_s = gap_minutes * 60 + (_CLOCK_CHANGE_S if timezone else 0)
    near: set[int] = set(index["session_id"].to_pylist()) if everything else set()
    if index.num_rows and new and not everything:
        if len(new) <= _FEW_ROUNDS:
            # a live commit: one comparison per new round over the index's end times, in
            # C; sorting the whole index into Python lists took ~10 ms at 30 years
            ends_s = pc.cast(index["end_time"], pa.int64())
            hit = None
            for rt in new.values():
                t = int((rt.end_time - _EPOCH).total_seconds())
                one = pc.and_(pc.greater_equal(ends_s, t - gap_s), pc.less_equal(ends_s, t + gap_s))
                hit = one if hit is None else pc.or_(hit, one)
            near.update(index["session_id"].filter(hit).to_pylist())
        else:
            order = pc.sort_indices(index, [("end_time", "ascending")])
            ends = pc.cast(index["end_time"].take(order), pa.int64()).to_pylist()
            sids = index["session_id"].take(order).to_pylist()
            for rt in new.values():
                t = int((rt.end_time - _EPOCH).total_seconds())
                lo = bisect.bisect_left(ends, t - gap_s)
                hi = bisect.bisect_right(ends, t + gap_s)
                near.update(sids[lo:hi])
    gone = removed or set()
    again_names = {*new, *gone, *(touched or ())}
    if index.num_rows and again_names and not everything:
        # a partial file that grew, a committed round being taken out, or one touched
        again = pc.is_in(index["file_name"], pa.array(sorted(again_names), pa.string()))
        near.update(index["session_id"].filter(again).to_pylist())
    if index.num_rows and near and not everything:
        # a round that was no game (header only, one side) links no sessions, so sessions
        # need not be a gap apart: one in a regrouped session may move to the evening of a
        # round within the gap of it in another (its own evening's round taken out, say)
        idle = pc.and_(
            pc.is_in(index["session_id"], pa.array(sorted(near), pa.int64())),
            pc.equal(pc.fill_null(index["has_players"], True), False),
        )
        ends_s = pc.cast(index["end_time"], pa.int64())
        for t in pc.cast(index["end_time"].filter(idle), pa.int64()).to_pylist():
            one = pc.and_(pc.greater_equal(ends_s, t - gap_s), pc.less_equal(ends_s, t + gap_s))
            near.update(index["session_id"].filter(one).to_pylist())
    selected = pc.is_in(index["session_id"], pa.array(sorted(near), pa.int64()))
    picked = index.filter(selected)
    times = {n: t for n, t in {**_round_times(picked), **new}.items() if n not in gone}
    regrouped = group_sessions(times.values(), gap_minutes, timezone)
    affected = set(picked["session_date"].to_pylist()) | {s.session_date for s in regrouped}
    same_day = pc.and_(
        pc.invert(selected),
        pc.is_in(index["session_date"], pa.array(sorted(affected), pa.date32())),
    )
    others = group_sessions(_round_times(index.filter(same_day)).values(), gap_minutes, timezone)
    drop = set(picked["file_name"].to_pylist()) | set(new) | gone
    return Regroup([*regrouped, *others], affected, round_index_rows(regrouped, times), drop)


def round_index_rows(sessions: Sequence[Session], times: Mapping[str, RoundTime]) -> pa.Table:
    """Round-index rows (ROUND_INDEX_SCHEMA) of the rounds of ``sessions``, by file name."""
    rows = sorted((n, s) for s in sessions for n in s.rounds)
    return pa.Table.from_arrays(
        [
            pa.array([n for n, _ in rows], pa.string()),
            pa.array([times[n].end_time for n, _ in rows], pa.timestamp("s")),
            pa.array([times[n].start_time for n, _ in rows], pa.timestamp("s")),
            pa.array([s.session_id for _, s in rows], pa.int64()),
            pa.array([s.session_date for _, s in rows], pa.date32()),
            pa.array([times[n].players for n, _ in rows], pa.bool_()),
        ],
        schema=ROUND_INDEX_SCHEMA,
    )


_EPOCH = datetime(1970, 1, 1)
#: up to this many new rounds, their neighbours are found by a scan per round, not a sort
_FEW_ROUNDS = 16


def _round_times(index: pa.Table) -> dict[str, RoundTime]:
    cols = (
        index.column(c).to_pylist() for c in ("file_name", "end_time", "start_time", "has_players")
    )
    # null: an index written before the column (its rounds chained like any other)
    return {n: RoundTime(n, e, st, p is not False) for n, e, st, p in zip(*cols, strict=True)}


def lookup(table: pa.Table, key: str, values: list[str]) -> dict[str, dict[str, Any]]:
    """Rows of ``table`` whose ``key`` is one of ``values``, as {value: row}."""
    import pyarrow.compute as pc

    if not values or not table.num_rows:
        return {}
    # the few values are the hash set, the table's column is scanned: hashing the whole
    # column instead (index_in over it) took ~5 ms per lookup at 30 years, this ~1 ms
    wanted = pa.array(sorted(set(values)), pa.string())
    out: dict[str, dict[str, Any]] = {}
    for row in table.filter(pc.is_in(table[key], value_set=wanted)).to_pylist():
        out.setdefault(row[key], row)  # the first row of a key, as before
    return out


def changed_shards(
    old: pa.Table, new: pa.Table, drop: set[str], everything: bool
) -> dict[str, pa.Table | None]:
    """The year shards of a state table (keyed by file name) that change: ``old`` without
    the rows of ``drop``, plus ``new``. ``everything``: every shard, changed or not."""
    import pyarrow.compute as pc

    if everything:
        years = None
    else:
        years = {n[:4] for n in drop} | {n[:4] for n in new.column("file_name").to_pylist()}
        if not years:
            return {}
        old_years = pc.utf8_slice_codeunits(old["file_name"], 0, 4)
        old = old.filter(pc.is_in(old_years, pa.array(sorted(years), pa.string())))
    shards: dict[str, pa.Table | None] = dict(
        split_years(_replace_rows(old, new, names=drop), "file_name")
    )
    for y in years or ():
        shards.setdefault(y, None)
    return shards


def drop_missing(
    manifest: Manifest, target: dict[str, dict[str, pa.Table | None]], kind: str = "state"
) -> None:
    """When ``target`` replaces all of a kind's shards, old ones not rewritten go."""
    for group, shards in manifest.shards.items():
        if group.startswith(f"{kind}/"):
            for year in shards:
                target.setdefault(group.split("/", 1)[1], {}).setdefault(year, None)


def _replace_rows(old: pa.Table, new: pa.Table, names: set[str] | None = None) -> pa.Table:
    """``old`` without the rows of ``names`` (default: the file names in ``new``), plus
    ``new``, ordered by file name."""
    import pyarrow.compute as pc

    drop = names if names is not None else set(new.column("file_name").to_pylist())
    if drop and old.num_rows:
        old = old.filter(pc.invert(pc.is_in(old["file_name"], pa.array(sorted(drop)))))
    both = pa.concat_tables([old.cast(new.schema), new]) if old.num_rows else new
    keys = [k for k in ("file_name", "line", "field") if k in both.column_names]
    return both.sort_by([(k, "ascending") for k in keys])


def read_partitions(lake: Lake, snap: Path) -> dict[date, dict[str, pa.Table]]:
    import pyarrow.parquet as pq

    out: dict[date, dict[str, pa.Table]] = {}
    for table, parts in lake.manifest(snap).partitions.items():
        for iso, p in parts.items():
            out.setdefault(date.fromisoformat(iso), {})[table] = pq.ParquetFile(
                snap / p.file
            ).read()
    # a date of header-only rounds has a rounds partition but no player or weapon rows
    return {d: {t: ts.get(t, SCHEMAS[t].empty_table()) for t in TABLES} for d, ts in out.items()}


def ledger_row(
    name: str, data: bytes, status: str, reason: str | None, version: int
) -> dict[str, Any]:
    return {
        "file_name": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_sha256": content_sha256(data),
        "size": len(data),
        "status": status,
        "reason": reason,
        "ingested_version": version,
    }
