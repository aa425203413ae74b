"""Career tables: each player's all-time totals, weapons, maps, names and last rounds, kept
in every snapshot so no request sums the whole history (``_serving/career_*/``).

A career is a sum, so it can be built from parts: the career *before* the latest year
(shard ``prior-YYYY``: every year before YYYY) plus the latest year's per-session rows gives
the career (shard ``all``). A live commit changes only the latest year, so it reads the
small ``prior`` file and that year's rows, whatever the length of the history. A commit
that starts a new year takes the last snapshot's career as the new ``prior``; one that
changes an earlier year (a rebuild, a late file, an admin's choice) rebuilds ``prior``
from every year, once.

Each table's query (``queries/rollup_career_*.sql``) reads ``src`` and accepts both the
per-session rows and rows of its own shape, which is what makes the parts add up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pyarrow as pa

from etl_duck.lake.layout import CAREER_ALL, CAREER_PRIOR, CAREERS, shard_year
from etl_duck.sqlfiles import sql

if TYPE_CHECKING:
    from pathlib import Path

    from etl_duck.lake.manifest import Manifest
    from etl_duck.lake.snapshot import Lake

ALL = CAREER_ALL
PRIOR = CAREER_PRIOR
#: the per-session serving tables the careers sum
SOURCES = frozenset(src for src, _ in CAREERS.values())


def combine(query: str, parts: list[pa.Table]) -> pa.Table | None:
    """One career table from ``parts`` (per-session rows and/or career rows); None when no
    part has a shape to read (an empty lake)."""
    from etl_duck.lake.rollups import _connection

    shaped = [p for p in parts if p.num_columns]
    if not shaped:
        return None
    # a cursor of its own (~4 µs): the careers are summed on several threads at once
    con = _connection().cursor()
    names = [f"_part{i}" for i in range(len(shaped))]
    for name, part in zip(names, shaped, strict=True):
        con.register(name, part)
    try:
        src = " UNION ALL BY NAME ".join(f"SELECT * FROM {n}" for n in names)
        text = sql(query).replace("FROM src", f"FROM ({src})")
        return con.execute(text).to_arrow_table()  # DB-API (etl_duck/__init__.py says why)
    finally:
        con.close()


def prior_year(manifest: Manifest) -> int | None:
    """The year the snapshot's ``prior`` shards stop before (None: it has none)."""
    keys = manifest.shards.get("serving/career_players", {})
    years = [int(k.removeprefix(PRIOR)) for k in keys if k.startswith(PRIOR)]
    return max(years) if years else None


def update(
    lake: Lake,
    snap: Path | None,
    manifest: Manifest,
    serving: Mapping[str, Mapping[str, pa.Table | None]],
    everything: bool,
    threads: int = 1,
) -> dict[str, dict[str, pa.Table | None]]:
    """The career shards a commit writes, given the years of per-session rows it changes
    (``serving``: table → year → the year's rows, None = the year is gone) on top of
    ``manifest``. Empty when no per-session row changed."""
    changed = {y for name in SOURCES for y in serving.get(name, {})}
    if not changed and not everything:
        return {}
    years_before: set[int] = set()
    years_after: set[int] = set()
    for name in SOURCES:
        stored = {yr for k in manifest.shards.get(f"serving/{name}", {}) if (yr := shard_year(k))}
        years_before |= {int(y) for y in stored}
        old = set() if everything else stored
        for y, rows in serving.get(name, {}).items():
            old.discard(y)
            if rows is not None and rows.num_rows:
                old.add(y)
        years_after |= {int(y) for y in old}
    latest = max(years_after, default=None)
    before = prior_year(manifest)
    # the live case: only the latest year changed, and the career before it is known (a
    # prior shard; none is needed, and none is stored, while the lake holds one year)
    reuse = (
        not everything
        and latest is not None
        and (before == latest or (before is None and years_after == {latest}))
        and all(int(y) >= latest for y in changed)
    )
    # a new year begins and only it changed: the career before it is the old snapshot's
    # whole career (no year lies between), so ``prior`` is that, not a sum of every year
    # again (which took 2 s at 10 years, 5-9 s at 30, in the first commit of each year)
    old_latest = max(years_before, default=None)
    new_year = (
        not reuse
        and not everything
        and snap is not None
        and latest is not None
        and old_latest is not None
        and latest > old_latest
        and all(int(y) == latest for y in changed)
        and all(ALL in manifest.shards.get(f"serving/{c}", {}) for c in CAREERS)
    )
    if reuse:
        assert snap is not None and latest is not None
        old_prior = lake.read_serving(snap, {f"{PRIOR}{latest}"}) if before else {}
    elif new_year:
        assert snap is not None
        old_prior = lake.read_serving(snap, {ALL})
    else:
        # every year's rows: the changed years' from ``serving``, the rest from the snapshot
        kept = {str(y) for y in years_after} - changed
        on_disk = lake.read_serving(snap, kept, SOURCES) if snap is not None and kept else {}

    def shards_of(career: str) -> dict[str, pa.Table | None]:
        src, query = CAREERS[career]
        shards: dict[str, pa.Table | None] = {}
        if latest is None:  # nothing left: no career (readers sum the empty rollups)
            shards[ALL] = None
        elif reuse or new_year:
            # the latest year changed: its rows are all in ``serving``
            new_rows = serving[src].get(str(latest))
            prior = old_prior.get(career, pa.table({}))
            if new_rows is None:
                new_rows = prior.slice(0, 0)
            if new_year:
                shards[f"{PRIOR}{latest}"] = prior
            shards[ALL] = combine(query, [prior, new_rows])
        else:
            by_year = dict(_rows_by_year(on_disk.get(src)))
            for y, rows in serving.get(src, {}).items():
                by_year[y] = rows if rows is not None else pa.table({})
            older = [t for y, t in sorted(by_year.items()) if int(y) < latest]
            prior = combine(query, older) or combine(query, [_empty_like(by_year)])
            shards[f"{PRIOR}{latest}"] = prior
            this_year = by_year.get(str(latest), pa.table({}))
            shards[ALL] = combine(query, [t for t in (prior, this_year) if t is not None])
        keep = f"{PRIOR}{latest}" if reuse else None  # a reused prior stays as it is
        for key in manifest.shards.get(f"serving/{career}", {}):
            if key != keep:
                shards.setdefault(key, None)  # an older prior (or all) goes
        return shards

    # five DuckDB sums (37 ms one after another at 30 years): ``threads`` at a time (a live
    # commit: two, without the GIL)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads, thread_name_prefix="etl-duck-career") as pool:
        return dict(zip(CAREERS, pool.map(shards_of, CAREERS), strict=True))


def _rows_by_year(rows: pa.Table | None) -> dict[str, pa.Table]:
    from etl_duck.lake.schemas import split_years

    if rows is None or not rows.num_rows:
        return {}
    return split_years(rows, "session_date")


def _empty_like(by_year: Mapping[str, pa.Table]) -> pa.Table:
    """An empty table of the per-session shape (for the career of no earlier year)."""
    for rows in by_year.values():
        if rows.num_columns:
            return rows.slice(0, 0)
    return pa.table({})
