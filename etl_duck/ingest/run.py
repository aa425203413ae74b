"""Ingest stats files into the lake: one commit per batch, idempotent, crash-safe.

Every partition's content is a pure function of the raw files of the sessions dated on
that day, so a batch simply (1) stores new files in ``raw/``, (2) re-groups sessions,
(3) rebuilds the session-date partitions whose sessions changed from their raw files and
(4) commits. Late files, merged sessions and a round 1 arriving after its round 2 need no
special code: the affected partitions are rebuilt whole. ``rebuild`` is the same with
every partition affected.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from etl_duck.domain.counting import ends_later
from etl_duck.domain.parse import FileStatus, ParseError, RoundHead, parse_head
from etl_duck.domain.sessions import RoundTime, Session
from etl_duck.domain.sources import SEPARATOR, server_of
from etl_duck.ingest import endstats
from etl_duck.ingest.admit import Admitted, admit
from etl_duck.ingest.admit import expand as admit_expand
from etl_duck.ingest.build import BuildJob, ChunkResult, round_time, run_jobs
from etl_duck.ingest.derived import lake_options, older_parser, refuse_newer, settings_changed
from etl_duck.ingest.future import FutureCheck, admissible_again, is_future_reason
from etl_duck.ingest.known import Before, set_apart
from etl_duck.ingest.options import IngestOptions, IngestReport, Progress
from etl_duck.ingest.state import (
    Regroup,
    changed_shards,
    drop_missing,
    ledger_row,
    lookup,
    read_partitions,
    regroup_sessions,
)
from etl_duck.lake import careers, gc, rollups
from etl_duck.lake.layout import SERVING_TABLES, TABLES
from etl_duck.lake.manifest import Manifest
from etl_duck.lake.rawstore import PENDING, Choice, RawStore, RawStoreError
from etl_duck.lake.schemas import (
    CONFLICTS_SCHEMA,
    FILES_SCHEMA,
    REJECTED_SCHEMA,
    STATE_SCHEMAS,
    table_from_rows,
)
from etl_duck.lake.snapshot import DiskFull, Lake, LakeDamaged, LakeError, Written

__all__ = ["PENDING", "IngestOptions", "IngestReport", "ingest_paths", "rebuild", "resolve"]


def ingest_paths(
    data_dir: Path | str,
    paths: Sequence[Path | str],
    options: IngestOptions | None = None,
    progress: Progress | None = None,
    *,
    rebuild: bool = False,
    recheck: Sequence[str] = (),
    server: str = "",
) -> IngestReport:
    """Ingest files and folders into the lake under ``data_dir`` as ONE commit (a backfill
    of more than :data:`BACKFILL_BATCH` files: one commit per year, see
    :func:`backfill_batches`). ``server``: the game server the files came from (``""``:
    the main one).

    Also picks up files a crashed run stored in ``raw/`` but never committed (listed in
    ``data/.ingest-pending``), so rerunning after a crash completes the job; the names it
    listed that never reached ``raw/`` (a full disk, a kill during the copy) are named in
    ``report.lost`` (a problem: exit 3) as the list is done with. A file the lake holds
    whose raw copy ``raw/`` lacks is stored again (``report.restored``). ``recheck``:
    names whose counted version an admin changed (``etl-duck resolve``).

    The cost of a small batch does not grow with the history: the ledger is checked with
    vectorised lookups, sessions are regrouped only around the new rounds, and only the
    year shards of state and serving tables that change are rewritten. ``rebuild`` reads
    nothing but ``raw/`` (a damaged snapshot cannot stop it).
    """
    opts = options or IngestOptions()
    lake = Lake(data_dir)
    with lake.writer_lock():
        if not rebuild:  # a newer etl-duck's lake: nothing stored, nothing committed
            refuse_newer(lake)  # (rebuild checks it itself: --force overrides)
        if rebuild and opts.workers == 0:
            # a rebuild stays one commit (it replaces a lake readers use) and holds the
            # whole history in this process either way: parse workers make it faster
            # (each adds ~170 MiB; ETL_DUCK_INGEST_WORKERS=1 asks for none)
            opts = replace(opts, workers=min(len(os.sched_getaffinity(0)), 4))
        batches = [paths] if rebuild or recheck else backfill_batches(paths, opts)
        report: IngestReport | None = None
        for i, batch in enumerate(batches, 1):
            shown = progress
            if progress is not None and len(batches) > 1:
                shown = _batch_progress(progress, f"year {i}/{len(batches)}")
            try:
                got = _ingest_locked(lake, batch, opts, shown, rebuild, recheck, server)
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    raise
                # its own staging and scratch first: they held the space the sentence
                # measures (until the next ingest's recover(), the disk stayed full)
                with contextlib.suppress(OSError):
                    lake.drop_scratch()
                    lake.recover()
                raise DiskFull(_disk_full(lake, batch, exc, report, rebuild)) from exc
            report = got if report is None else report.merge(got)
        assert report is not None
        return report


#: a batch of more files than this (a backfill) commits a year at a time
BACKFILL_BATCH = 3000
#: threads of a live commit (≤ rollups.SPLIT_MAX_DATES dates): its rollups, career sums and
#: ~19 files each take both cores (at 30 years ~200 → ~175 ms). A batch of more dates (a
#: backfill's year, a rebuild) keeps one: two cursors over a year's rows held ~40 MiB more
#: at the peak of a 30-year backfill (499 against 456 MiB)
LIVE_THREADS = 2


def live_threads(dates: int, everything: bool) -> int:
    """The threads a commit of ``dates`` session dates uses (the one rule for all its steps)."""
    return LIVE_THREADS if not everything and dates <= rollups.SPLIT_MAX_DATES else 1


#: a year's batch ends at the first quiet spell this long after New Year (a session that
#: runs past midnight stays whole) …
_YEAR_BREAK = timedelta(hours=6)
#: … counted from a round that began in the new year (a file is named for its round's end;
#: a round runs for at most about this long)
_LONGEST_ROUND = timedelta(hours=2)


def backfill_batches(
    paths: Sequence[Path | str], options: IngestOptions | None = None
) -> list[Sequence[Path | str]]:
    """``paths`` as the batches an ingest commits: one, or for a backfill of more than
    :data:`BACKFILL_BATCH` files, one per year of play in time order. A backfill held every
    file's bytes, parsed rows and serving rows of the whole history at once (10 years:
    ~600 MiB in the main process); a year at a time holds one year's. Each batch is an
    ordinary commit: a reader sees whole years arrive, and a rerun after a crash goes on
    from the last committed year. A batch ends only at a quiet spell longer than a
    session gap, so no session is split; a year without one (a server busy day and night)
    ends at the first such spell once it holds twice :data:`BACKFILL_BATCH` files."""
    files = admit_expand([Path(p) for p in paths])
    if len(files) <= BACKFILL_BATCH:
        return [paths]
    gap = timedelta(minutes=(options or IngestOptions()).session_gap_minutes) + _LONGEST_ROUND
    stamped = [(_stamp(f.name), f) for f in files]
    # in time order; a name without a time (not a stats file) goes with the last batch,
    # whose report names it
    stamped.sort(key=lambda t: (t[0] is None, t[0] or datetime.min, t[1].name))
    batches: list[list[Path]] = []
    year: int | None = None
    last: datetime | None = None
    for when, f in stamped:
        if when is None:
            if not batches:
                batches.append([])
            batches[-1].append(f)
            continue
        quiet = when - last if last is not None else timedelta(0)
        new_year = year is not None and (when - _LONGEST_ROUND).year != year
        full = len(batches[-1]) >= 2 * BACKFILL_BATCH if batches else False
        if not batches or (new_year and quiet >= max(_YEAR_BREAK, gap)) or (full and quiet >= gap):
            batches.append([])
            year = (when - _LONGEST_ROUND).year
        batches[-1].append(f)
        last = when
    return list(batches)


def _batch_progress(progress: Progress, label: str) -> Progress:
    """``progress`` with each phase named for its batch of a backfill ("reading files
    (year 3/10)"): a bar per year's phase, not one bar going back to 0 each year."""

    def report(phase: str, done: int, total: int) -> None:
        progress(f"{phase} ({label})", done, total)

    return report


def _stamp(name: str) -> datetime | None:
    try:
        return datetime.strptime(name[:17], "%Y-%m-%d-%H%M%S")
    except ValueError:
        return None


def _disk_full(
    lake: Lake,
    paths: Sequence[Path | str],
    exc: OSError,
    before: IngestReport | None = None,
    everything: bool = False,
) -> str:
    """One sentence: what could not be written, that nothing of this batch changed (and
    what earlier batches of a backfill committed), what space it needs. ``everything``: the
    commit writes a whole new snapshot (a rebuild; so does a re-read after an upgrade)."""
    batch = sum(p.stat().st_size for p in admit_expand([Path(x) for x in paths]) if p.exists())
    snap = lake.current_dir()
    last = 0
    if snap is not None:
        with contextlib.suppress(LakeError, OSError):
            m = lake.manifest(snap)
            # a commit like the last one, or (every partition derived again) the snapshot
            whole = everything or older_parser(lake_options(lake))
            last = sum(
                (snap / p.file).stat().st_size
                for p in m.files().values()
                if whole or p.version == m.version
            )
    needed = 2 * (batch + last) + (1 << 20)  # the batch's raw copies + the commit's files
    free = shutil.disk_usage(lake.data_dir).free
    done = (
        f"; {len(before.ingested):,} files of this backfill's earlier years are committed"
        if before is not None and before.committed
        else ""
    )
    unchanged = (
        f"the lake is unchanged at version {lake.version()} (nothing of this batch is "
        f"committed{done})"
    )
    if exc.errno == errno.EFBIG:
        return (
            f"file too large: could not write {exc.filename or lake.data_dir}, larger than "
            f"this user's file-size limit (ulimit -f) or the file system allows; {unchanged}. "
            "Raise the limit and run the same command again"
        )
    return (
        f"disk full: could not write {exc.filename or lake.data_dir}; {unchanged}. The next "
        "commit needs "
        f"about {needed / 1e6:,.1f} MB free in {lake.data_dir} ({free / 1e6:,.1f} MB free now): "
        "free space and run the same command again"
    )


def _ingest_locked(
    lake: Lake,
    paths: Sequence[Path | str],
    opts: IngestOptions,
    progress: Progress | None,
    rebuild: bool,
    recheck: Sequence[str],
    server: str = "",
) -> IngestReport:
    """One batch, as named steps: open the base snapshot, admit the files into raw/, read
    their heads, build the affected partitions, record what each file became, then write
    the state and serving tables and commit."""
    raw = RawStore(lake.data_dir)
    raw.recover()
    # what the same files mean changed (a parser fix): every file, the quarantined ones
    # too, is read again from raw/ — re-deriving the partitions alone would keep what the
    # older parser made of the ledger, the rejected lines and the sessions' times (a newer
    # parser's lake was refused: ingest_paths)
    previous = lake_options(lake, quiet=rebuild)  # what the lake was derived by and under
    reparse = not rebuild and older_parser(previous)
    recorded: Before | None = None  # what the re-read may find again (ingest.known)
    if reparse:
        check_raw_holds_the_lake(lake, raw)  # never re-read an unmounted raw/ into nothing
        recorded = Before.of(lake)
    rebuild = rebuild or reparse
    report = IngestReport(
        rebuilt=rebuild, reparsed=reparse, settings_changed=settings_changed(previous, opts)
    )
    base = _open_base(lake, raw, opts, rebuild)
    if not rebuild:  # before anything is stored: an unmounted raw/ takes no file
        check_raw_is_mounted(raw, base.ledger)
    batch = _Batch(version=base.manifest.version + 1)
    # files dated ahead of the clock (a game server's wrong clock) are quarantined; those
    # quarantined before that are admitted now (the setting changed, the clock caught up,
    # an admin accepted them) are read again
    check = FutureCheck.of(opts)
    retry: set[str] = set()
    if not rebuild:  # a rebuild reads every name from raw/ anyway
        retry = admissible_again(
            base.ledger, check, set(recheck), lambda name: bool(raw.accepted(name))
        )

    # 1. store new versions in raw/; decide which version of each touched name counts
    admitted = admit(
        raw,
        base.ledger,
        [Path(p) for p in paths],
        report,
        everything=rebuild,
        recheck=recheck,
        progress=progress,
        server=server,
        retry=retry,
    )
    new = admitted.changed
    if report.partial:  # cut files sent again (admit): still cut, unless an admin accepted
        _settle_resent_cuts(base.index, report, raw)
    report.arrived = sorted(admitted.arrived)
    for name in admitted.set_aside:
        choice = admitted.choices[name]
        why = f"{name}: set aside by an admin (version {choice.counted.id})"
        batch.ledger_updates[name] = ledger_row(name, choice.counted.data, "dismissed", why, 0)
        batch.removed.add(name)
    for name in admitted.empty:  # 0 bytes and nothing else yet: awaiting its content
        why = f"{name}: 0 bytes (the writer had not written yet, or the copy failed)"
        batch.ledger_updates[name] = ledger_row(name, b"", "empty", why, batch.version)
        batch.removed.add(name)  # an admin who keeps the empty version takes a round out
    conflict_rows = _conflict_rows(raw, admitted)

    # 2. read the changed files' names and headers (a bad one, or one dated too far ahead,
    # is quarantined)
    _hold_future(new, raw, report, batch, check)
    heads, arrived, checked = _read_heads(new, raw, report, batch)

    # 3–4. regroup the sessions the new rounds touch; rebuild the affected partitions
    everything = rebuild or base.legacy or base.resettle
    built = _build(lake, raw, base, opts, progress, new, heads, arrived, batch, report, everything)

    # 5. what each file became: the ledger, its rejected lines, the report
    changes, fresh = _record(built, new, admitted, batch, report, raw)
    _record_endstats(checked, arrived, batch, report, raw, admitted.choices)
    _same_rows(base.ledger, batch)
    _endstats_waiting(base, built, arrived, heads, batch, report)
    if base.resettle:  # dates that no longer hold any session disappear
        for t in TABLES:
            for iso in base.manifest.partitions[t]:
                changes[t].setdefault(date.fromisoformat(iso), None)
    report.partitions_written = len(built.affected)
    report.partial.sort()
    report.cut.sort()
    report.ingested.sort()
    if recorded is not None:  # an upgrade's re-read: known problems are not this run's news
        set_apart(report, recorded, brought=set(report.arrived))
    touched = set(admitted.choices)
    old_conflicts = lookup(base.conflicts, "file_name", sorted(touched))
    conflicts_changed = bool(conflict_rows) or bool(old_conflicts)

    if not (batch.ledger_updates or conflicts_changed or rebuild or base.resettle or base.legacy):
        lake.drop_scratch()
        raw.clear_pending()
        report.version = lake.version()
        return report

    # the batch's bytes, parsed heads and build results are done with: a 10-year
    # backfill holds ~300 MiB of them, beside the serving tables built next
    new.clear()
    arrived.clear()
    heads.clear()
    built.chunks.clear()

    # 6. state + serving (only the year shards that change) + commit
    if progress is not None:
        progress("committing", 0, 1)
    threads = live_threads(len(built.affected), everything)
    state = _state_tables(base, batch, built, conflict_rows, touched, everything)
    years = None if everything else {str(d.year) for d in built.affected}
    serving, replace_serving, years = _serving_tables(
        lake, base, fresh, built, rebuild, years, threads
    )
    if rebuild:  # shards of years that no longer hold data disappear
        drop_missing(base.manifest, state)
    if replace_serving or years is None:
        drop_missing(base.manifest, serving, kind="serving")
    committed = lake.commit(
        changes,
        state,
        serving,
        options=opts.fingerprint(),
        base=base.manifest,
        fresh=rebuild,
        threads=threads,
    )
    raw.clear_pending()
    if progress is not None:
        progress("committing", 1, 1)
    # old snapshots go in the background: deleting one is ~5k directories, and no
    # reader or writer waits for it (an interrupted deletion is finished next time)
    gc.expire_snapshots(lake.snapshots, lake.snapshots / f"v{committed.version:08d}")
    report.version = committed.version
    report.committed = True
    return report


@dataclass(frozen=True)
class _Base:
    """The snapshot a batch starts from and its state tables."""

    snap: Path | None
    manifest: Manifest
    legacy: bool  # written before state/serving were sharded: rewrite every shard once
    resettle: bool  # written under other settings: re-derive every partition from raw/
    ledger: pa.Table
    rejected: pa.Table
    index: pa.Table
    conflicts: pa.Table


@dataclass
class _Batch:
    """What the batch will commit besides its partitions."""

    version: int  # the version the commit will have
    ledger_updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)
    removed: set[str] = field(default_factory=set)  # committed files that leave the lake

    def quarantine(
        self, raw: RawStore, report: IngestReport, name: str, data: bytes, why: str, version: int
    ) -> None:
        report.quarantined[name] = why
        raw.quarantine(name, data, why)
        self.ledger_updates[name] = ledger_row(name, data, "quarantined", why, version)


@dataclass
class _Built:
    """The sessions regrouped and the partitions rebuilt."""

    regroup: Regroup
    affected: set[date]
    chunks: list[ChunkResult]
    #: cut files a later round of their server follows (their complete lines count)
    final: frozenset[str] = frozenset()


def _same_rows(ledger: pa.Table, batch: _Batch) -> None:
    """A quarantined file read again (given again, or an admin's resolve) that is
    quarantined again for the same reason changes nothing: its ledger row stays as it is,
    and a batch of nothing else commits nothing (it is still named: that problem again).
    So does a name an admin dismisses again, and an empty file still empty (an admin's
    `resolve --accept` or `--keep` of its one version: each committed a lake version)."""
    held = [
        n
        for n, r in batch.ledger_updates.items()
        if r["status"] in ("quarantined", "dismissed", "empty")
    ]
    for name, row in lookup(ledger, "file_name", held).items():
        new = batch.ledger_updates[name]
        if all(row[k] == new[k] for k in ("content_sha256", "status", "reason")):
            del batch.ledger_updates[name]


def _open_base(lake: Lake, raw: RawStore, opts: IngestOptions, rebuild: bool) -> _Base:
    snap = None if rebuild else lake.current_dir()
    if snap is None and not rebuild:
        # no lake (and none to relink): only a first ingest may start from nothing —
        # committing now would publish a lake without the rounds raw/ holds
        stranded = set(raw.names()) - set(raw.pending())
        if stranded:
            raise LakeDamaged(
                f"no lake at {lake.link}, but raw/ holds {len(stranded)} committed files "
                "and the newest snapshot is damaged or gone (an older one would lack the "
                "newest rounds): run `etl-duck rebuild` to recreate the lake from raw/"
            )
    manifest = lake.manifest(snap) if snap is not None else lake.fresh_manifest()

    def state_table(name: str) -> pa.Table:
        if snap is None:
            return STATE_SCHEMAS[name].empty_table()
        return lake.read_state(name, snap, keep=True)

    return _Base(
        snap=snap,
        manifest=manifest,
        legacy=snap is not None and not manifest.shards,
        # written under other settings (session gap, filler maps, timezone): re-derive
        # every partition from raw/, keeping the ledger (sessions may regroup anywhere)
        resettle=bool(manifest.options) and manifest.options != opts.fingerprint(),
        ledger=state_table("files"),
        rejected=state_table("rejected_lines"),
        index=state_table("round_index"),
        conflicts=state_table("conflicts"),
    )


def _conflict_rows(raw: RawStore, admitted: Admitted) -> list[dict[str, Any]]:
    return [
        {
            "file_name": name,
            "version": v.id,
            "size": v.size,
            "raw_path": str(v.path.relative_to(raw.data_dir)),
            "counted_version": choice.counted.id,
            "reason": choice.conflict_reason(v),
        }
        for name, choice in sorted(admitted.choices.items())
        for v in choice.conflicts
    ]


def _hold_future(
    new: dict[str, bytes],
    raw: RawStore,
    report: IngestReport,
    batch: _Batch,
    check: FutureCheck | None,
) -> None:
    """Quarantine the changed files dated more than the tolerance ahead of the clock (see
    :mod:`etl_duck.ingest.future`) unless an admin accepted the name as dated; they leave
    ``new`` like a file that does not read (raw/ keeps them)."""
    if check is None:
        return
    for name in sorted(new):
        ahead = check.ahead(name)
        if ahead is None or raw.accepted(name):
            continue
        batch.quarantine(raw, report, name, new.pop(name), check.reason(name, ahead), 0)
        if not endstats.is_endstats_file_name(name):
            batch.removed.add(name)  # a counted round's grown version: it leaves the lake


def _read_heads(
    new: dict[str, bytes], raw: RawStore, report: IngestReport, batch: _Batch
) -> tuple[dict[str, RoundHead], dict[str, bytes], dict[str, endstats.Checked]]:
    """Each changed round file's head (its name and header); endstats files have none:
    they are checked here and join their round's build. A file that does not read is
    quarantined and leaves ``new``."""
    heads: dict[str, RoundHead] = {}
    arrived: dict[str, bytes] = {}
    checked: dict[str, endstats.Checked] = {}
    for name, data in list(new.items()):
        if endstats.is_endstats_file_name(name):
            try:
                checked[name] = endstats.check(name, data)
                arrived[name] = data
            except ParseError as exc:
                batch.quarantine(raw, report, name, data, str(exc), 0)
            del new[name]
            continue
        try:
            heads[name] = parse_head(data, name)
        except ParseError as exc:
            batch.quarantine(raw, report, name, data, str(exc), 0)
            del new[name]
            batch.removed.add(name)  # a grown or chosen version that no longer reads
    return heads, arrived, checked


def _build(
    lake: Lake,
    raw: RawStore,
    base: _Base,
    opts: IngestOptions,
    progress: Progress | None,
    new: dict[str, bytes],
    heads: dict[str, RoundHead],
    arrived: dict[str, bytes],
    batch: _Batch,
    report: IngestReport,
    everything: bool,
) -> _Built:
    """Regroup the sessions the new rounds touch and rebuild the partitions of the dates
    whose content changes (in parallel for backfills). A file whose rows cannot be built
    is quarantined and the dates are built again without it: one bad file never fails the
    batch, nor wedges the pending list."""
    # an endstats file an admin sets aside now leaves the build, and its round's session is
    # rebuilt without its rows (a rebuild never reads it either)
    set_aside = {n for n in batch.removed if endstats.is_endstats_file_name(n)}
    known = sorted({*endstats.known_endstats(base.ledger), *arrived} - set_aside)
    while True:
        times = {n: round_time(h.file, h.header, h.players) for n, h in heads.items()}
        final, cut_changed = _final_cuts(base, heads, times, batch.removed)
        regroup = regroup_sessions(
            base.index,
            times,
            opts.session_gap_minutes,
            everything=base.resettle,
            removed=batch.removed,
            touched=endstats.touched_rounds([*arrived, *set_aside], base.index, times)
            | cut_changed,
            timezone=opts.timezone,
        )
        by_date: dict[date, list[Session]] = {}
        for s in regroup.sessions:
            by_date.setdefault(s.session_date, []).append(s)
        scratch = str(lake.scratch()) if by_date else ""  # this ingest's own folder
        jobs = [
            BuildJob(
                d,
                tuple(ss),
                tuple((n, new[n] if n in new else _counted(raw, n)) for s in ss for n in s.rounds),
                opts,
                scratch,
                tuple(
                    (n, arrived[n] if n in arrived else _counted(raw, n))
                    for n in endstats.select_for(ss, known)
                ),
                final,
            )
            for d, ss in sorted(by_date.items())
        ]
        chunks = run_jobs(jobs, opts.workers, progress, live_threads(len(jobs), everything))
        jobs.clear()  # their bytes: a backfill's every file
        failed = {n: why for c in chunks for res in c.dates for n, why in res.failed.items()}
        if not failed:
            return _Built(regroup, regroup.affected, chunks, final)
        # quarantine the new files among them; old ones only when no new file is to blame
        blamed = {n: w for n, w in failed.items() if n in new} or failed
        for name, why in sorted(blamed.items()):
            data = new.pop(name) if name in new else _counted(raw, name)
            batch.removed.add(name)
            heads.pop(name, None)
            batch.quarantine(raw, report, name, data, why, batch.version)
        lake.drop_scratch()


def _final_cuts(
    base: _Base,
    heads: Mapping[str, RoundHead],
    times: Mapping[str, RoundTime],
    removed: set[str],
) -> tuple[frozenset[str], set[str]]:
    """Cut (partial) files that a later round of their game server follows anywhere in the
    lake: the writer has moved on (it writes a file once), so the cut is final and their
    complete lines count. And the stored cut files whose finality this batch changes (a
    later round arrived, or the only one was taken out): their sessions are rebuilt, so a
    live lake and a rebuild agree. Without a cut file (the usual case) one filter of the
    ledger; with one, a few column scans (the latest end time first: a one-server lake
    needs no string match)."""
    import pyarrow.compute as pc

    ledger = base.ledger
    stored = (
        set(ledger.filter(pc.equal(ledger["status"], "partial"))["file_name"].to_pylist())
        if ledger.num_rows
        else set()
    )
    stored -= removed
    cut = (stored - set(heads)) | {n for n, h in heads.items() if h.partial}
    if not cut:
        return frozenset(), set()
    index = base.index
    ends_before = {n: r["end_time"] for n, r in lookup(index, "file_name", sorted(cut)).items()}
    ends = {**ends_before, **{n: times[n].end_time for n in cut if n in times}}
    servers = {server_of(n) for n in cut}
    before = _latest_ends(index, servers, set())
    after = _latest_ends(index, servers, removed) if removed else dict(before)
    for n, t in times.items():
        server = server_of(n)
        if server in after and (after[server] is None or t.end_time > after[server]):
            after[server] = t.end_time

    def later(latest: dict[str, Any], name: str, end: Any) -> bool:
        last = latest.get(server_of(name))
        return last is not None and ends_later(last, end)

    final = frozenset(n for n in cut if n in ends and later(after, n, ends[n]))
    changed = {
        n for n in stored if n in ends_before and later(before, n, ends_before[n]) != (n in final)
    }
    return final, changed


def _settle_resent_cuts(index: pa.Table, report: IngestReport, raw: RawStore) -> None:
    """A cut file sent again is that problem again: partial while it may still grow (no
    later round of its server yet), cut once a later round follows — a later round is a
    hint that the server's writer moved on, not proof that the server's own file is cut (a
    copy taken short is cut too), so it stays a problem until the whole file arrives or an
    admin accepts the cut version (``resolve NAME --accept``): then it is a duplicate."""
    ends = {n: r["end_time"] for n, r in lookup(index, "file_name", report.partial).items()}
    latest = _latest_ends(index, {server_of(n) for n in report.partial}, set())
    waiting = []
    for name in report.partial:
        choice = raw.decide(name)
        if choice is not None and choice.accepted:
            report.duplicates.append(name)
            continue
        last, end = latest.get(server_of(name)), ends.get(name)
        if endstats.is_endstats_file_name(name) or (
            last is not None and end is not None and ends_later(last, end)
        ):
            report.cut.append(name)  # an endstats file's complete rows count at once
        else:
            waiting.append(name)
    report.partial = waiting


def _latest_ends(index: pa.Table, servers: set[str], excluded: set[str]) -> dict[str, Any]:
    """The latest round end of each of ``servers`` in the round index, less ``excluded``."""
    import pyarrow.compute as pc

    if not index.num_rows:
        return dict.fromkeys(servers)
    names, ends = index["file_name"], index["end_time"]
    if excluded:
        keep = pc.invert(pc.is_in(names, pa.array(sorted(excluded), pa.string())))
        names, ends = names.filter(keep), ends.filter(keep)
    top = pc.max(ends).as_py()
    if top is None:
        return dict.fromkeys(servers)
    at_top = {server_of(n) for n in names.filter(pc.equal(ends, top)).to_pylist()}
    out: dict[str, Any] = {}
    for server in servers:
        if server in at_top:
            out[server] = top
            continue
        mine = (
            pc.ends_with(names, f"{SEPARATOR}{server}")
            if server
            else pc.invert(pc.match_substring(names, SEPARATOR))
        )
        out[server] = pc.max(ends.filter(mine)).as_py()
    return out


def _record(
    built: _Built,
    new: dict[str, bytes],
    admitted: Admitted,
    batch: _Batch,
    report: IngestReport,
    raw: RawStore,
) -> tuple[dict[str, dict[date, pa.Table | Written | None]], list[dict[str, pa.Table]]]:
    """The partitions to commit and the fresh serving rows, from the build; each new
    file's ledger row, rejected lines and place in the report."""
    changes: dict[str, dict[date, pa.Table | Written | None]] = {
        t: {d: None for d in built.affected} for t in TABLES
    }
    fresh: list[dict[str, pa.Table]] = []
    for chunk in built.chunks:
        fresh.append(chunk.serving)
        for res in chunk.dates:
            for t in TABLES:
                changes[t][res.day] = res.written[t]
            for name, status in res.status.items():
                if name not in new:
                    continue
                # why this version counts, when it is not simply the first one
                picked = admitted.choices.get(name)
                because = picked.why if picked and picked.why != "first version" else None
                batch.ledger_updates[name] = ledger_row(
                    name, new[name], status, because, batch.version
                )
                raw.release(name)  # it reads now: no quarantine copy stays behind
                if note := res.notes.get(name):  # a newer writer's: no problem, told once
                    report.round_notes[name] = note
                for line, fld, why in res.rejected[name]:
                    batch.rejected_rows.append(
                        {"file_name": name, "line": line, "field": fld, "reason": why}
                    )
                    if not (picked and picked.accepted):  # accepted as it is: no problem
                        report.rejected.append(f"{name}:{line}: {fld}: {why}")
                if status == FileStatus.PARTIAL.value and not (picked and picked.accepted):
                    # cut: awaiting the rest, or (a later round follows) counted short of
                    # the lines after the cut until the whole file or an admin's --accept
                    (report.cut if name in built.final else report.partial).append(name)
                if name not in report.replaced:
                    report.ingested.append(name)
    return changes, fresh


def _record_endstats(
    checked: dict[str, endstats.Checked],
    arrived: dict[str, bytes],
    batch: _Batch,
    report: IngestReport,
    raw: RawStore,
    choices: Mapping[str, Choice] | None = None,
) -> None:
    for name, (status, note, skipped) in checked.items():
        batch.ledger_updates[name] = ledger_row(name, arrived[name], status, note, batch.version)
        raw.release(name)
        picked = (choices or {}).get(name)
        for line, fld, why in skipped:
            batch.rejected_rows.append(
                {"file_name": name, "line": line, "field": fld, "reason": why}
            )
            if not (picked and picked.accepted):  # accepted as it is: no problem
                report.rejected.append(f"{name}:{line}: {fld}: {why}")
        if note:
            report.endstats_notes[name] = note
        if status == FileStatus.PARTIAL.value and not (picked and picked.accepted):
            report.cut.append(name)  # its complete rows count; the rest is missing
        report.endstats.append(name)


def _endstats_waiting(
    base: _Base,
    built: _Built,
    arrived: Mapping[str, bytes],
    heads: Mapping[str, RoundHead],
    batch: _Batch,
    report: IngestReport,
) -> None:
    """Name the endstats files that still wait for their round file after this batch: its
    own (on their way while their server has written no later round; else the round file
    is missing: a problem), and stored ones that this batch's later rounds leave without
    theirs (missing from now on: a cron job hears of it once, `status` until fixed). The
    stored files looked at are those dated from the server's last round before the batch
    to its last one now (the others were settled before): a few, found by their names'
    time prefix, so a live commit never pairs the whole history."""
    import pyarrow.compute as pc

    candidates = set(arrived) - batch.removed
    lasts: dict[str, datetime] = {}  # each server's last round of this batch
    for name, head in heads.items():
        if name not in batch.removed:
            server, end = server_of(name), head.file.end_time
            lasts[server] = max(end, lasts.get(server, end))
    before = _latest_ends(base.index, set(lasts), set()) if lasts else {}
    ledger = base.ledger
    for server, last in lasts.items():
        old = before.get(server)
        if not ledger.num_rows or (old is not None and last <= old):
            continue  # no round later than before: nothing stored became overdue
        names = ledger["file_name"]  # "YYYY-MM-DD-HHMMSS-…": text order is time order
        span = pc.less(names, (last - _PAIR_WINDOW).strftime(_STAMP))
        if old is not None:
            span = pc.and_(span, pc.greater_equal(names, (old - _PAIR_WINDOW).strftime(_STAMP)))
        stored = endstats.known_endstats(ledger.filter(span))
        candidates.update(n for n in stored if server_of(n) == server and n not in batch.removed)
    if not candidates:
        return
    found = endstats.waiting_for_round(sorted(candidates), _index_after(base, built))
    for name, overdue in found.items():
        if overdue:
            report.endstats_without_round.append(name)
        elif name in arrived:
            report.endstats_waiting.append(name)


#: an endstats file pairs with a round ending within this of it (domain.endstats)
_PAIR_WINDOW = timedelta(seconds=endstats.PAIR_WINDOW_S)
_STAMP = "%Y-%m-%d-%H%M%S"  # how a round or endstats file's name starts


def _index_after(base: _Base, built: _Built) -> pa.Table:
    """The round index as this batch leaves it (file names and end times): the base's,
    less the rows regrouped or taken out, plus the regrouped ones."""
    import pyarrow.compute as pc

    cols = ["file_name", "end_time"]
    old, drop = base.index.select(cols), built.regroup.index_drop
    if drop and old.num_rows:
        old = old.filter(pc.invert(pc.is_in(old["file_name"], pa.array(sorted(drop), pa.string()))))
    new = built.regroup.index_rows.select(cols)
    return pa.concat_tables([old.cast(new.schema), new])


def _state_tables(
    base: _Base,
    batch: _Batch,
    built: _Built,
    conflict_rows: list[dict[str, Any]],
    touched: set[str],
    everything: bool,
) -> dict[str, dict[str, pa.Table | None]]:
    """The ledger, rejected lines, round index and conflicts: the year shards that change."""
    updated = set(batch.ledger_updates)
    return {
        "files": changed_shards(
            base.ledger,
            table_from_rows(list(batch.ledger_updates.values()), FILES_SCHEMA),
            updated,
            everything,
        ),
        "rejected_lines": changed_shards(
            base.rejected,
            table_from_rows(batch.rejected_rows, REJECTED_SCHEMA),
            updated,
            everything,
        ),
        "round_index": changed_shards(
            base.index, built.regroup.index_rows, built.regroup.index_drop, everything
        ),
        "conflicts": changed_shards(
            base.conflicts, table_from_rows(conflict_rows, CONFLICTS_SCHEMA), touched, everything
        ),
    }


def _serving_tables(
    lake: Lake,
    base: _Base,
    fresh: list[dict[str, pa.Table]],
    built: _Built,
    rebuild: bool,
    years: set[str] | None,
    threads: int,
) -> tuple[dict[str, dict[str, pa.Table | None]], bool, set[str] | None]:
    """The serving tables' shards that change (and the careers): (shards, whether every
    shard is written, the years written; None: all)."""
    snap, manifest = base.snap, base.manifest
    affected = built.affected
    replace_serving = rebuild  # every serving shard is written: drop the others
    derive = rebuild  # from the fresh rows alone (the snapshot's serving rows are not read)
    present = {g.removeprefix("serving/") for g in manifest.shards if g.startswith("serving/")}
    if not rebuild and (snap is None or set(SERVING_TABLES) - present):
        # a new lake, or a snapshot written before (some of) the serving tables existed:
        # derive them all from every partition, once
        every = read_partitions(lake, snap) if snap is not None else {}
        for d in built.affected:
            every.pop(d, None)  # rebuilt in this batch: their fresh rows are in `fresh`
        if every:
            fresh.append(rollups.fresh_rows(every))
        affected = built.affected | set(every)
        years = None
        replace_serving = derive = True
    serving, whole = rollups.shards_to_write(
        lake, snap, manifest, fresh, affected, years, derive, careers.SOURCES
    )
    # careers (all-time per player) from the career before this year + this year's rows
    serving.update(careers.update(lake, snap, manifest, whole, years is None, threads))
    return serving, replace_serving, years


def _counted(raw: RawStore, name: str) -> bytes:
    """The bytes of the version that counts for a committed round (rebuilt with new ones)."""
    choice = raw.decide(name)
    if choice is None:
        raise RawIncomplete(
            f"{raw.path(name)} is missing: the lake holds round {name} but raw/ lacks its "
            "raw copy — is raw/'s volume mounted (a round ingested while it was not has its "
            "copy under the mount point, hidden by the volume), or was raw/ moved or restored "
            "from an older backup? Put the file back in raw/ and run the command again"
        )
    return choice.counted.data


def rebuild(
    data_dir: Path | str,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
    *,
    force: bool = False,
) -> IngestReport:
    """Recreate the whole lake from ``raw/`` (same content as incremental ingests).
    Refused (:class:`RawIncomplete`) when ``raw/`` lacks files the lake counts — an
    unmounted volume or a wrong data dir would rebuild an empty lake — and
    (:class:`~etl_duck.ingest.derived.NewerLake`) when a newer etl-duck wrote the lake (a
    deliberate downgrade: ``force``), unless ``force``."""
    if not force:
        lake = Lake(data_dir)
        with lake.writer_lock():
            refuse_newer(lake, quiet=True, rebuild=True)  # (a damaged manifest: repair it)
            check_raw_holds_the_lake(lake, RawStore(lake.data_dir))
    return ingest_paths(data_dir, [], options, progress, rebuild=True)


class RawIncomplete(LakeError):
    """``raw/`` lacks round files the lake holds: rebuilding from it would lose them."""


#: ledger names an ingest looks for in raw/ before it stores anything: this many of the
#: first and of the last by name (one stat each, whatever the length of the history)
MOUNT_SAMPLE = 3


def check_raw_is_mounted(raw: RawStore, ledger: pa.Table) -> None:
    """Raise :class:`RawIncomplete` when the lake holds rounds and ``raw/`` holds none of a
    sample of them (the first and last :data:`MOUNT_SAMPLE` of the ledger by name): its
    volume is not mounted (an empty folder, or none, in its place) or it was moved. An
    ingest would store its files beside the volume and commit rounds whose raw copies the
    mounted volume then lacks (later ingests and rebuild fail). At most
    2 × :data:`MOUNT_SAMPLE` stats; a few lost files are no reason to refuse (rebuild's
    full check, :func:`check_raw_holds_the_lake`, names them)."""
    n = ledger.num_rows
    if not n:
        return
    names = ledger.column("file_name")
    sample = names.slice(0, MOUNT_SAMPLE).to_pylist()
    sample += names.slice(max(n - MOUNT_SAMPLE, MOUNT_SAMPLE)).to_pylist()
    if raw.holds_any(sample):
        return
    raise RawIncomplete(
        f"{raw.raw_dir} holds none of the lake's round files (looked for {len(sample)} of "
        f"its {n:,}, e.g. {raw.path(sample[0])}): is raw/'s volume mounted, or was raw/ "
        "moved? Nothing was stored or committed — mount it (or restore raw/) and run the "
        "command again (an ingest now would store its files beside the volume, not on it)"
    )


def check_raw_holds_the_lake(lake: Lake, raw: RawStore) -> None:
    """Raise :class:`RawIncomplete` when ``raw/`` (the source of truth, which never loses
    a file) lacks a file the lake's ledger names, or holds nothing at all: a rebuild
    would then replace the lake with less, and say it succeeded."""
    held = set(raw.names())
    snap = lake.current_dir()
    ledger: list[str] = []
    if snap is not None:
        try:
            ledger = lake.read_state("files", snap).column("file_name").to_pylist()
        except Exception:  # a damaged snapshot: repairing it is rebuild's job
            ledger = []
    missing = sorted(n for n in ledger if n not in held)
    if missing:
        raise RawIncomplete(
            f"{raw.raw_dir} lacks {len(missing)} of the {len(ledger)} round files the lake "
            f"holds (first: {missing[0]}): is its volume mounted, or was it moved? A rebuild "
            "recreates the lake from raw/ alone and would lose them — restore raw/ first, or "
            "`etl-duck rebuild --force` to rebuild from what it holds"
        )
    if not held:
        raise RawIncomplete(
            f"no round files in {raw.raw_dir}: nothing to rebuild a lake from — pass the data "
            "directory that holds raw/ (--data-dir or ETL_DUCK_DATA_DIR)"
        )


def resolve(
    data_dir: Path | str,
    name: str,
    *,
    keep: str | None = None,
    dismiss: bool = False,
    accept: bool = False,
    options: IngestOptions | None = None,
) -> IngestReport:
    """An admin's answer to a conflict, a quarantine or a rejected line: count version
    ``keep`` of ``name`` from now on, set ``name`` aside (``dismiss``), or ``accept`` the
    version that counts as it is (its rejected lines are no open problem). Recorded in raw/
    (so a rebuild makes the same choice), then applied by one ingest commit. A quarantined
    file is read again (a fix or an upgrade may read it now: it lands, or stays quarantined
    with the reason of now). One that changes nothing (the choice made already, the file
    still quarantined as before) says so in ``report.unchanged``."""
    if sum((keep is not None, dismiss, accept)) != 1:
        raise ValueError("resolve needs one of --keep VERSION, --dismiss or --accept")
    lake, raw = Lake(data_dir), RawStore(data_dir)
    with lake.writer_lock():
        refuse_newer(lake)  # before any marker: a newer etl-duck's lake takes nothing
        # the request checked first (an unknown name or version changes nothing), then the
        # name pending: a crash between the decision and its commit leaves it to the next
        # ingest (or the bot's next fetch)
        target = keep
        if keep is not None:
            target = raw.find_version(name, keep).id
        elif not raw.versions(name):
            raise RawStoreError(f"no stored file named {name} (see `etl-duck status`)")
        before = raw.decide(name)
        raw.mark_pending([name])
        if keep is not None:
            raw.keep(name, keep)
        elif dismiss:
            raw.dismiss(name)
        elif before is not None and before.counted.size > 0:
            raw.accept(name)
        # an empty counted version has nothing to accept: no marker (it would make a later
        # --accept of it answer "accepted already"); the ingest below says what is open
        after = raw.decide(name)
    report = ingest_paths(data_dir, [], options, recheck=[name])
    if report.committed:
        return report
    if name in report.quarantined:
        report.unchanged = f"resolve {name}: nothing changed — it is still quarantined" + (
            " (the reason above names the fix)"
            if is_future_reason(report.quarantined[name])
            else ": read again, it still does not read (the reason above); a corrected copy, "
            "ingested, is offered as a version to keep, or `etl-duck resolve "
            f"{name} --dismiss` leaves it out"
        )
    elif (accept or _same_choice(before, after)) and name in report.empty:
        # 0 bytes: no line to accept, no cut; only its content (or a dismissal) settles it
        what = "there is nothing in it to accept" if accept else f"version {target} counts already"
        report.unchanged = (
            f"resolve {name}: nothing changed — it is empty (0 bytes): {what}; copy it again "
            f"once the server has written it, or `etl-duck resolve {name} --dismiss` if the "
            "server's own file is empty"
        )
    elif _same_choice(before, after):
        if keep is not None:
            done = f"version {target} counts already"
        elif dismiss:
            done = "it is set aside already"
        else:
            done = "its counted version is accepted already"
        report.unchanged = (
            f"resolve {name}: nothing changed — {done} (`etl-duck status` lists what is open)"
        )
    return report


def _same_choice(before: Choice | None, after: Choice | None) -> bool:
    """An admin's marker that decides nothing new: the same version counts, set aside or
    not, accepted or not, with the same open conflicts."""
    if before is None or after is None:
        return before is after
    return (
        before.counted.id == after.counted.id
        and before.set_aside == after.set_aside
        and before.accepted == after.accepted
        and [v.id for v in before.conflicts] == [v.id for v in after.conflicts]
    )
