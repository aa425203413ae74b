"""Ingest stats files into the lake: one commit per batch, idempotent, crash-safe.

Every partition's content is a pure function of the raw files of the sessions dated on
that day, so a batch simply (1) stores new files in ``raw/``, (2) re-groups sessions,
(3) rebuilds the session-date partitions whose sessions changed from their raw files and
(4) commits. Late files, merged sessions and a round 1 arriving after its round 2 need no
special code: the affected partitions are rebuilt whole. ``rebuild`` is the same with
every partition affected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from etl_duck.domain.parse import FileStatus, ParseError, RoundHead, is_stats_file_name, parse_head
from etl_duck.domain.sessions import Session
from etl_duck.ingest import endstats
from etl_duck.ingest.build import BuildJob, round_time, run_jobs
from etl_duck.ingest.options import IngestOptions, IngestReport
from etl_duck.ingest.state import (
    changed_shards,
    content_sha256,
    drop_missing,
    ledger_row,
    lookup,
    read_partitions,
    regroup_sessions,
)
from etl_duck.lake import gc, rollups
from etl_duck.lake.fsutil import failpoint
from etl_duck.lake.rawstore import PENDING, RawStore
from etl_duck.lake.schemas import (
    FILES_SCHEMA,
    REJECTED_SCHEMA,
    ROUND_INDEX_SCHEMA,
    TABLES,
    split_years,
    table_from_rows,
)
from etl_duck.lake.snapshot import Lake, Written

__all__ = ["PENDING", "IngestOptions", "IngestReport", "ingest_paths", "rebuild"]


def _expand(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(
                sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith("."))
            )
        else:
            out.append(p)
    return out


def ingest_paths(
    data_dir: Path | str,
    paths: Sequence[Path | str],
    options: IngestOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    rebuild: bool = False,
) -> IngestReport:
    """Ingest files and folders into the lake under ``data_dir`` as ONE commit.

    Also picks up files a crashed run stored in ``raw/`` but never committed (listed in
    ``data/.ingest-pending``), so rerunning after a crash completes the job.

    The cost of a small batch does not grow with the history: the ledger is checked with
    vectorised lookups, sessions are regrouped only around the new rounds, and only the
    year shards of state and serving tables that change are rewritten.
    """
    opts = options or IngestOptions()
    lake = Lake(data_dir)
    raw = RawStore(data_dir)
    report = IngestReport(rebuilt=rebuild)
    with lake.writer_lock():
        raw.recover()
        snap = lake.current_dir()
        manifest = lake.manifest(snap)
        # a snapshot written before state/serving were sharded: rewrite every shard once
        legacy = snap is not None and not manifest.shards
        # written under other settings (session gap, filler maps, timezone): re-derive every
        # partition from raw/, keeping the ledger (sessions may regroup anywhere)
        resettle = bool(manifest.options) and manifest.options != opts.fingerprint()
        ledger_tab = FILES_SCHEMA.empty_table() if rebuild else lake.read_state("files", snap)
        rejected_tab = (
            REJECTED_SCHEMA.empty_table() if rebuild else lake.read_state("rejected_lines", snap)
        )
        index_tab = (
            ROUND_INDEX_SCHEMA.empty_table() if rebuild else lake.read_state("round_index", snap)
        )
        ledger_updates: dict[str, dict[str, Any]] = {}
        rejected_rows: list[dict[str, Any]] = []

        # 1. store new files in raw/ (idempotent by name + sha256)
        candidates = _expand(Path(p) for p in paths)
        if rebuild:
            candidates.extend(raw.files_not_in({}))
        else:
            candidates.extend(raw.pending())
        unique: dict[str, Path] = {}
        for c in candidates:
            unique.setdefault(os.path.abspath(c), c)  # a raw file given explicitly: read once
        candidates = list(unique.values())
        loaded: list[tuple[str, bytes, str]] = []  # name, bytes, content sha256
        for i, path in enumerate(candidates):
            if progress is not None and i % 500 == 0:
                progress(i, len(candidates))
            name = path.name
            if not (is_stats_file_name(name) or endstats.is_endstats_file_name(name)):
                report.skipped.append(str(path))
                continue
            data = path.read_bytes()
            if not data:
                report.empty.append(name)
                continue
            loaded.append((name, data, content_sha256(data)))
        # the ledger (32k rows at 10 years) is probed, not turned into Python objects
        ledger = lookup(ledger_tab, "file_name", [n for n, _, _ in loaded])
        by_sha = {
            k: str(v["file_name"])
            for k, v in lookup(ledger_tab, "content_sha256", [c for _, _, c in loaded]).items()
        }
        new: dict[str, bytes] = {}
        seen: dict[str, str] = {}  # content sha → name, this batch
        for name, data, csha in loaded:
            old = ledger.get(name)
            first = by_sha.get(csha) or seen.get(csha)
            if first is not None:
                # same content (CRLF copies included) under this or another name: keep the first
                report.duplicates.append(name)
                continue
            if name in new:
                kept = new[name].replace(b"\r\n", b"\n")
                if data.replace(b"\r\n", b"\n").startswith(kept):
                    new[name] = data  # the same file seen again after it grew
                    seen[csha] = name
                elif not kept.startswith(data.replace(b"\r\n", b"\n")):
                    _conflict(
                        raw, report, name, data, "another file of the same name in this batch"
                    )
                continue
            if old is not None:
                if old["status"] == "partial" and len(data) > old["size"]:
                    report.replaced.append(name)  # a partial file that grew: re-fetched
                else:
                    _conflict(
                        raw,
                        report,
                        name,
                        data,
                        f"the ingested file (sha256 {old['sha256'][:12]}…)",
                    )
                    continue
            new[name] = data
            seen[csha] = name
        if new and not rebuild:
            # named before they are stored: a crash before the commit leaves a list the
            # next ingest reads (instead of scanning all of raw/, 32k files at 10 years)
            raw.mark_pending(sorted(new))
        raw.store(new)
        failpoint("raw stored")

        # 2. read the new files' names and headers (a bad one is quarantined); endstats
        # files have no header: they are checked here and join their round's build
        heads: dict[str, RoundHead] = {}
        arrived: dict[str, bytes] = {}
        checked: dict[str, tuple[str, list[tuple[int | None, str | None, str]]]] = {}
        for name, data in list(new.items()):
            if endstats.is_endstats_file_name(name):
                try:
                    checked[name] = endstats.check(name, data)
                    arrived[name] = data
                except ParseError as exc:
                    report.quarantined[name] = str(exc)
                    raw.quarantine(name, data, str(exc))
                    ledger_updates[name] = ledger_row(name, data, "quarantined", str(exc), 0)
                del new[name]
                continue
            try:
                heads[name] = parse_head(data, name)
            except ParseError as exc:
                report.quarantined[name] = str(exc)
                raw.quarantine(name, data, str(exc))
                ledger_updates[name] = ledger_row(name, data, "quarantined", str(exc), 0)
                del new[name]

        # 3. regroup the sessions the new rounds touch; find the dates whose content changes
        # 4. rebuild the affected partitions from their files (in parallel for backfills).
        # A file whose rows cannot be built is quarantined and the dates are built again
        # without it: one bad file never fails the batch, nor wedges the pending list.
        new_version = manifest.version + 1
        removed: set[str] = set()  # already-committed files that can no longer be built
        known = sorted({*endstats.known_endstats(ledger_tab), *arrived})
        while True:
            times = {n: round_time(h.file, h.header) for n, h in heads.items()}
            regroup = regroup_sessions(
                index_tab,
                times,
                opts.session_gap_minutes,
                everything=resettle,
                removed=removed,
                touched=endstats.touched_rounds(arrived, index_tab, times),
            )
            affected = regroup.affected
            by_date: dict[date, list[Session]] = {}
            for s in regroup.sessions:
                by_date.setdefault(s.session_date, []).append(s)
            scratch = str(lake.scratch()) if by_date else ""  # this ingest's own folder
            jobs = [
                BuildJob(
                    d,
                    tuple(ss),
                    tuple(
                        (n, new[n] if n in new else raw.path(n).read_bytes())
                        for s in ss
                        for n in s.rounds
                    ),
                    opts,
                    scratch,
                    tuple(
                        (n, arrived[n] if n in arrived else raw.path(n).read_bytes())
                        for n in endstats.select_for(ss, known)
                    ),
                )
                for d, ss in sorted(by_date.items())
            ]
            chunks = run_jobs(jobs, opts.workers)
            failed = {n: why for c in chunks for res in c.dates for n, why in res.failed.items()}
            if not failed:
                break
            # quarantine the new files among them; old ones only when no new file is to blame
            blamed = {n: w for n, w in failed.items() if n in new} or failed
            for name, why in sorted(blamed.items()):
                if name in new:
                    data = new.pop(name)
                else:
                    data = raw.path(name).read_bytes()
                    removed.add(name)
                heads.pop(name, None)
                report.quarantined[name] = why
                raw.quarantine(name, data, why)
                ledger_updates[name] = ledger_row(name, data, "quarantined", why, new_version)
            lake.drop_scratch()
        changes: dict[str, dict[date, pa.Table | Written | None]] = {
            t: {d: None for d in affected} for t in TABLES
        }
        fresh: list[dict[str, pa.Table]] = []
        for chunk in chunks:
            fresh.append(chunk.serving)
            for res in chunk.dates:
                for t in TABLES:
                    changes[t][res.day] = res.written[t]
                for name, status in res.status.items():
                    if name not in new:
                        continue
                    ledger_updates[name] = ledger_row(name, new[name], status, None, new_version)
                    for line, fld, why in res.rejected[name]:
                        rejected_rows.append(
                            {"file_name": name, "line": line, "field": fld, "reason": why}
                        )
                    report.rejected_lines += len(res.rejected[name])
                    if status == FileStatus.PARTIAL.value:
                        report.partial.append(name)
                    if name not in report.replaced:
                        report.ingested.append(name)
        for name, (status, skipped) in checked.items():
            ledger_updates[name] = ledger_row(name, arrived[name], status, None, new_version)
            rejected_rows.extend(
                {"file_name": name, "line": ln, "field": fld, "reason": why}
                for ln, fld, why in skipped
            )
            report.rejected_lines += len(skipped)
            report.endstats.append(name)
        if rebuild or resettle:  # dates that no longer hold any session disappear
            for t in TABLES:
                for iso in manifest.partitions[t]:
                    changes[t].setdefault(date.fromisoformat(iso), None)
        report.partitions_written = len(affected)
        report.partial.sort()
        report.ingested.sort()

        if not ledger_updates and not rebuild and not resettle and not legacy:
            lake.drop_scratch()
            raw.clear_pending()
            report.version = lake.version()
            return report

        # 5. state + serving (only the year shards that change) + commit
        everything = rebuild or legacy or resettle
        state = {
            "files": changed_shards(
                ledger_tab,
                table_from_rows(list(ledger_updates.values()), FILES_SCHEMA),
                set(ledger_updates),
                everything,
            ),
            "rejected_lines": changed_shards(
                rejected_tab,
                table_from_rows(rejected_rows, REJECTED_SCHEMA),
                set(ledger_updates),
                everything,
            ),
            "round_index": changed_shards(
                index_tab, regroup.index_rows, regroup.index_drop, everything
            ),
        }
        years = None if everything else {str(d.year) for d in affected}
        old_serving = None if rebuild else lake.read_serving(snap, years)
        affected_serving = affected
        replace_serving = rebuild  # every serving shard is written: drop the others
        if old_serving is not None and set(rollups.SERVING_TABLES) - set(old_serving):
            # a snapshot written before (some of) the serving tables existed: derive them
            # all from every partition, once
            every = read_partitions(lake, snap) if snap is not None else {}
            for d in affected:
                every.pop(d, None)  # rebuilt in this batch: their fresh rows are in `fresh`
            if every:
                fresh.append(rollups.fresh_rows(every))
            affected_serving = affected | set(every)
            old_serving, years = None, None
            replace_serving = True
        merged = rollups.merge(old_serving, fresh, affected_serving)
        serving = {name: split_years(t, "session_date") for name, t in merged.items()}
        for shards in serving.values():
            for y in years or ():
                shards.setdefault(y, None)  # a year whose rows all went away
        if rebuild:  # shards of years that no longer hold data disappear
            drop_missing(manifest, state)
        if replace_serving or years is None:
            drop_missing(manifest, serving, kind="serving")
        committed = lake.commit(changes, state, serving, options=opts.fingerprint())
        raw.clear_pending()
        # old snapshots go in the background: deleting one is ~5k directories, and no
        # reader or writer waits for it (an interrupted deletion is finished next time)
        gc.expire_snapshots(lake.snapshots, lake.snapshots / f"v{committed.version:08d}")
        report.version = new_version
    return report


def _conflict(raw: RawStore, report: IngestReport, name: str, data: bytes, other: str) -> None:
    reason = f"{name}: content differs from {other} with the same name; kept the first"
    report.quarantined[name] = reason
    raw.quarantine(name, data, reason)


def rebuild(data_dir: Path | str, options: IngestOptions | None = None) -> IngestReport:
    """Recreate the whole lake from ``raw/`` (same content as incremental ingests)."""
    return ingest_paths(data_dir, [], options, rebuild=True)
