"""Ingest stats files into the lake: one commit per batch, idempotent, crash-safe.

Every partition's content is a pure function of the raw files of the sessions dated on
that day, so a batch simply (1) stores new files in ``raw/``, (2) re-groups sessions,
(3) rebuilds the session-date partitions whose sessions changed from their raw files and
(4) commits. Late files, merged sessions and a round 1 arriving after its round 2 need no
special code: the affected partitions are rebuilt whole. ``rebuild`` is the same with
every partition affected.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from etl_duck import rollups
from etl_duck.fields import DERIVED_TOTALS, EXTENDED_FIELDS, WEAPONS
from etl_duck.lake import (
    FILES_SCHEMA,
    PLAYER_ROUNDS_SCHEMA,
    REJECTED_SCHEMA,
    ROUND_INDEX_SCHEMA,
    ROUNDS_SCHEMA,
    SCHEMAS,
    TABLES,
    WEAPON_ROUNDS_SCHEMA,
    Lake,
    Manifest,
    Written,
    failpoint,
    split_years,
    store_files_atomic,
    table_from_rows,
    write_bytes_atomic,
    write_partition,
)
from etl_duck.pairing import PlayerRound, pair_rounds, round_only_rows
from etl_duck.parse import (
    PARSER_VERSION,
    FileName,
    FileStatus,
    Header,
    ParseError,
    RoundFile,
    RoundHead,
    header_duration,
    is_stats_file_name,
    parse_bytes,
    parse_head,
)
from etl_duck.sessions import RoundTime, Session, group_sessions, round_start

RESTART_WINDOW = timedelta(minutes=15)
DEFAULT_FILLER_MAPS: tuple[str, ...] = ("mp_sillyctf",)
_FIELD_NAMES = tuple(f.name for f in EXTENDED_FIELDS)


@dataclass(frozen=True)
class IngestOptions:
    session_gap_minutes: int = 60
    filler_maps: tuple[str, ...] = DEFAULT_FILLER_MAPS
    timezone: str = "Europe/Berlin"
    workers: int = 0  # parse processes for big batches; 0 = decide from the batch size

    def fingerprint(self) -> dict[str, Any]:
        """The settings the lake's content depends on (stored in each manifest)."""
        return {
            "session_gap_minutes": self.session_gap_minutes,
            "filler_maps": sorted(self.filler_maps),
            "timezone": self.timezone,
        }


@dataclass
class IngestReport:
    ingested: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # partial files that grew
    duplicates: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not round stats files (e.g. endstats)
    empty: list[str] = field(default_factory=list)  # 0 bytes: retry later
    partial: list[str] = field(default_factory=list)  # stored, flagged, awaiting re-fetch
    quarantined: dict[str, str] = field(default_factory=dict)  # name → reason
    rejected_lines: int = 0
    partitions_written: int = 0
    version: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.ingested)} ingested, {len(self.replaced)} replaced, "
            f"{len(self.duplicates)} duplicate, {len(self.skipped)} skipped (not round files), "
            f"{len(self.empty)} empty (retry later), {len(self.partial)} partial, "
            f"{len(self.quarantined)} quarantined, {self.rejected_lines} rejected lines; "
            f"lake version {self.version}"
        )


def stable_id(text: str) -> int:
    """Deterministic 63-bit id from a name (rounds are identified by their file name)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1


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


@dataclass(frozen=True)
class BuildJob:
    """One session date to (re)build: its sessions and the bytes of their files."""

    day: date
    sessions: tuple[Session, ...]
    files: tuple[tuple[str, bytes], ...]
    opts: IngestOptions
    scratch: str  # where its partitions are encoded (``Lake.scratch``)


@dataclass(frozen=True)
class BuildResult:
    day: date
    written: dict[str, Written | None]  # table → encoded partition (None: no rows)
    status: dict[str, str]  # file name → ok | partial | interrupted
    rejected: dict[str, list[tuple[int | None, str | None, str]]]  # bad lines per file
    #: files whose rows could not be built (name → reason): nothing of this date was
    #: written; the writer quarantines them and builds the date again without them
    failed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkResult:
    dates: list[BuildResult]
    serving: dict[str, pa.Table]  # the serving rows of these dates (rollups.fresh_rows)


def build_chunk(jobs: Sequence[BuildJob]) -> ChunkResult:
    """Parse the files of some session dates, encode their partitions and compute their
    serving rows. Pure apart from the files it writes in the scratch folder, so a backfill
    runs chunks in worker processes: the Parquet encoding and the rollups (most of a
    backfill's cost besides parsing) run on every core, and only small results travel."""
    results: list[BuildResult] = []
    tables: dict[date, dict[str, pa.Table]] = {}
    for job in jobs:
        result, built = _build_job(job)
        results.append(result)
        if built is not None:
            tables[job.day] = built
    return ChunkResult(results, rollups.fresh_rows(tables) if tables else {})


def _build_job(job: BuildJob) -> tuple[BuildResult, dict[str, pa.Table] | None]:
    """One date's partitions; a file whose rows cannot be built is reported, never raised,
    so one bad file quarantines itself instead of failing the batch (and every later one)."""
    parsed: dict[str, RoundFile] = {}
    failed: dict[str, str] = {}
    for n, b in job.files:
        try:
            parsed[n] = parse_bytes(b, n)
        except ParseError as exc:  # parse_bytes raises nothing else
            failed[n] = str(exc)
    if not failed:
        try:
            built = build_partition(job.sessions, parsed, job.opts)
            written = {
                t: write_partition(built[t], t, f"{job.scratch}/{t}-{job.day}.parquet")
                for t in TABLES
            }
        except Exception as exc:
            failed = _culprits(job, parsed, exc)
    if failed:
        return BuildResult(job.day, {}, {}, {}, failed), None
    return (
        BuildResult(
            job.day,
            written,
            {n: r.status.value for n, r in parsed.items()},
            {n: [(e.line, e.field, e.reason) for e in r.rejected] for n, r in parsed.items()},
        ),
        built,
    )


def _culprits(job: BuildJob, parsed: dict[str, RoundFile], exc: Exception) -> dict[str, str]:
    """The files of a date whose rows cannot be built, each tried alone (a rare, slow path:
    the parser's range checks should leave nothing for it to find)."""
    failed: dict[str, str] = {}
    for name, rf in parsed.items():
        alone = Session(0, job.day, rf.file.end_time, rf.file.end_time, (name,))
        try:
            for t, table in build_partition([alone], {name: rf}, job.opts).items():
                table.cast(SCHEMAS[t])
        except Exception as own:
            failed[name] = f"{name}: its rows cannot be stored: {type(own).__name__}: {own}"
    if not failed:  # only the combination fails: the date's files are all suspect
        why = f"rows of session date {job.day} cannot be built: {type(exc).__name__}: {exc}"
        failed = {name: f"{name}: {why}" for name in parsed}
    return failed


def _run_jobs(jobs: list[BuildJob], workers: int) -> list[ChunkResult]:
    files = sum(len(j.files) for j in jobs)
    if workers == 0:
        # processes pay off for backfills; small batches stay in-process (no spawn cost)
        workers = min(os.cpu_count() or 1, 4) if files > 1500 else 1
    if workers <= 1 or len(jobs) < 2:
        return [build_chunk(jobs)] if jobs else []
    # ~8 chunks per worker balances the load; each chunk's rollups are one DuckDB pass
    size = max(1, len(jobs) // (workers * 8))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    # spawned, not forked: a forked worker inherits every descriptor of the writer, the
    # writer lock's included, and would hold it after a SIGKILL of the writer. Workers
    # also wait on their queue forever once the writer is gone, so each one watches it.
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )
    with pool:
        return list(pool.map(build_chunk, chunks))


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: exit as soon as the writer that started this worker is gone."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


# --------------------------------------------------------------------------- row building


def _round_time(file: FileName, header: Header) -> RoundTime:
    """Start = end − header duration − 3 s; from the header alone, so the session a file
    lands in is known before the (parallel) full parse."""
    return RoundTime(
        file.name,
        file.end_time,
        round_start(file.end_time, header_duration(header), header.time_limit_s),
    )


def _round_reasons(
    rounds: list[RoundFile], opts: IngestOptions
) -> tuple[dict[str, str | None], dict[str, str]]:
    """Per file: why the round does not count (None = it counts); and R2 → R1 pairs."""
    pairing = pair_rounds(rounds)
    paired_r1 = set(pairing.round1_of.values())
    reasons: dict[str, str | None] = {}
    by_map: dict[str, list[RoundFile]] = {}
    for r in sorted(rounds, key=lambda x: (x.file.end_time, x.file.name)):
        if r.file.round_number == 1 and r.status is not FileStatus.INTERRUPTED:
            by_map.setdefault(r.file.map_name, []).append(r)
    restarted: set[str] = set()
    for r1s in by_map.values():
        for a, b in itertools.pairwise(r1s):
            if a.file.name not in paired_r1 and b.file.end_time - a.file.end_time <= RESTART_WINDOW:
                restarted.add(a.file.name)
    for r in rounds:
        players = [p for p in r.players if p.team in (1, 2)]
        bots = sum(1 for p in players if p.is_bot)
        reason: str | None = None
        if r.status is FileStatus.INTERRUPTED:
            reason = "interrupted"
        elif r.status is FileStatus.PARTIAL:
            reason = "partial"
        elif r.file.name in pairing.orphans:
            reason = "orphan_r2"
        elif r.file.name in restarted:
            reason = "restart"
        elif r.file.map_name in opts.filler_maps:
            reason = "filler_map"
        elif bots and 2 * bots >= len(players):
            reason = "bot_majority"
        else:
            r1 = pairing.round1_of.get(r.file.name)
            if r1 is not None and r1 in {
                x.file.name for x in rounds if x.status is FileStatus.PARTIAL
            }:
                reason = "partial_round1"
        reasons[r.file.name] = reason
    return reasons, pairing.round1_of


def _player_reason(row: PlayerRound, round_reason: str | None) -> str | None:
    if round_reason is not None:
        return round_reason
    if row.line.is_bot:
        return "bot"
    if row.line.team not in (1, 2):
        return "spectator"
    return None


_PLAYER_VALUE_COLUMNS = (*DERIVED_TOTALS, *_FIELD_NAMES)


def build_partition(
    sessions: Sequence[Session], files: dict[str, RoundFile], opts: IngestOptions
) -> dict[str, pa.Table]:
    """All rows of the sessions of one session date (one partition per table).

    Rows are built as tuples in schema order and transposed once (a 10-year backfill
    builds ~2 M weapon rows: per-row dicts would dominate the ingest).
    """
    rounds_rows: list[dict[str, Any]] = []
    player_rows: list[tuple[Any, ...]] = []
    weapon_rows: list[tuple[Any, ...]] = []
    for s in sessions:
        rounds = [files[n] for n in s.rounds]
        reasons, round1_of = _round_reasons(rounds, opts)
        by_name = {r.file.name: r for r in rounds}
        for r in rounds:
            h = r.header
            assert h is not None
            rid = stable_id(r.file.name)
            r1 = round1_of.get(r.file.name)
            match_id = stable_id(r1) if r1 else rid
            reason = reasons[r.file.name]
            rows = round_only_rows(r, by_name[r1] if r1 else None, orphan=reason == "orphan_r2")
            team_players = [p for p in r.players if p.team in (1, 2)]
            rounds_rows.append(
                {
                    "round_id": rid,
                    "match_id": match_id,
                    "session_id": s.session_id,
                    "file_name": r.file.name,
                    "sha256": r.sha256,
                    "map_name": r.file.map_name,
                    "round_number": r.file.round_number,
                    "end_time": r.file.end_time,
                    "start_time": _round_time(r.file, h).start_time,
                    "timezone": opts.timezone,
                    "duration_s": r.duration_s,
                    "time_limit_s": h.time_limit_s,
                    "next_time_limit_s": h.next_time_limit_s,
                    "play_time_ms": h.play_time_ms,
                    "defender_side": h.defender_side,
                    "winner_side": h.winner_side,
                    "attackers_won": h.attackers_won,
                    "server_name": h.server_name,
                    "config": h.config,
                    "layout": r.layout,
                    "file_status": r.status.value,
                    "paired_round_id": stable_id(r1) if r1 else None,
                    "players": len(team_players),
                    "bots": sum(1 for p in team_players if p.is_bot),
                    "counted": reason is None,
                    "reason": reason,
                    "parser_version": PARSER_VERSION,
                }
            )
            head = (
                rid,
                match_id,
                s.session_id,
                r.file.map_name,
                r.file.round_number,
                r.file.end_time,
            )
            for row in rows:
                why = _player_reason(row, reason)
                line = row.line
                v = row.values
                counted = why is None
                player_rows.append(
                    (
                        *head,
                        line.guid, line.name, line.name_raw, line.team, line.is_bot,
                        line.rounds_counter, row.kind.value, counted, why, line.line_no,
                        line.layout, *[v[n] for n in _PLAYER_VALUE_COLUMNS],
                    )
                )  # fmt: skip
                for wid, g in sorted(row.weapons.items()):
                    weapon_rows.append(
                        (
                            rid,
                            s.session_id,
                            r.file.map_name,
                            line.guid,
                            wid,
                            WEAPONS[wid],
                            *g,
                            counted,
                        )
                    )
    return {
        "rounds": table_from_rows(rounds_rows, ROUNDS_SCHEMA),
        "player_rounds": _transpose(player_rows, PLAYER_ROUNDS_SCHEMA),
        "weapon_rounds": _transpose(weapon_rows, WEAPON_ROUNDS_SCHEMA),
    }


def _transpose(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    if not rows:
        return schema.empty_table()
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )


# --------------------------------------------------------------------------- ingest


PENDING = ".ingest-pending"  # names stored in raw/ but not yet committed (crash recovery)


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
    report = IngestReport()
    with lake.writer_lock():
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
            candidates.extend(_raw_files_not_in(lake.raw_dir, {}))
        else:
            candidates.extend(_pending_raw_files(lake))
        unique: dict[str, Path] = {}
        for c in candidates:
            unique.setdefault(os.path.abspath(c), c)  # a raw file given explicitly: read once
        candidates = list(unique.values())
        loaded: list[tuple[str, bytes, str]] = []  # name, bytes, content sha256
        for i, path in enumerate(candidates):
            if progress is not None and i % 500 == 0:
                progress(i, len(candidates))
            name = path.name
            if not is_stats_file_name(name):
                report.skipped.append(str(path))
                continue
            data = path.read_bytes()
            if not data:
                report.empty.append(name)
                continue
            loaded.append((name, data, content_sha256(data)))
        # the ledger (32k rows at 10 years) is probed, not turned into Python objects
        ledger = _lookup(ledger_tab, "file_name", [n for n, _, _ in loaded])
        by_sha = {
            k: str(v["file_name"])
            for k, v in _lookup(ledger_tab, "content_sha256", [c for _, _, c in loaded]).items()
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
                        lake, report, name, data, "another file of the same name in this batch"
                    )
                continue
            if old is not None:
                if old["status"] == "partial" and len(data) > old["size"]:
                    report.replaced.append(name)  # a partial file that grew: re-fetched
                else:
                    _conflict(
                        lake,
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
            write_bytes_atomic(
                lake.data_dir / PENDING,
                "\n".join(sorted(new)).encode(),
                tmp_dir=lake.raw_dir / ".incoming",
            )
        to_store: list[tuple[Path, bytes]] = []
        for name, data in new.items():
            target = lake.raw_path(name)
            if not (target.exists() and target.read_bytes() == data):  # not already in raw/
                to_store.append((target, data))
        store_files_atomic(to_store, tmp_dir=lake.raw_dir / ".incoming")
        failpoint("raw stored")

        # 2. read the new files' names and headers (a bad one is quarantined)
        heads: dict[str, RoundHead] = {}
        for name, data in list(new.items()):
            try:
                heads[name] = parse_head(data, name)
            except ParseError as exc:
                report.quarantined[name] = str(exc)
                _quarantine(lake, name, data, str(exc))
                ledger_updates[name] = _ledger_row(name, data, "quarantined", str(exc), 0)
                del new[name]

        # 3. regroup the sessions the new rounds touch; find the dates whose content changes
        # 4. rebuild the affected partitions from their files (in parallel for backfills).
        # A file whose rows cannot be built is quarantined and the dates are built again
        # without it: one bad file never fails the batch, nor wedges the pending list.
        new_version = manifest.version + 1
        removed: set[str] = set()  # already-committed files that can no longer be built
        while True:
            regroup = regroup_sessions(
                index_tab,
                {n: _round_time(h.file, h.header) for n, h in heads.items()},
                opts.session_gap_minutes,
                everything=resettle,
                removed=removed,
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
                        (n, new[n] if n in new else lake.raw_path(n).read_bytes())
                        for s in ss
                        for n in s.rounds
                    ),
                    opts,
                    scratch,
                )
                for d, ss in sorted(by_date.items())
            ]
            chunks = _run_jobs(jobs, opts.workers)
            failed = {n: why for c in chunks for res in c.dates for n, why in res.failed.items()}
            if not failed:
                break
            # quarantine the new files among them; old ones only when no new file is to blame
            blamed = {n: w for n, w in failed.items() if n in new} or failed
            for name, why in sorted(blamed.items()):
                if name in new:
                    data = new.pop(name)
                else:
                    data = lake.raw_path(name).read_bytes()
                    removed.add(name)
                heads.pop(name, None)
                report.quarantined[name] = why
                _quarantine(lake, name, data, why)
                ledger_updates[name] = _ledger_row(name, data, "quarantined", why, new_version)
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
                    ledger_updates[name] = _ledger_row(name, new[name], status, None, new_version)
                    for line, fld, why in res.rejected[name]:
                        rejected_rows.append(
                            {"file_name": name, "line": line, "field": fld, "reason": why}
                        )
                    report.rejected_lines += len(res.rejected[name])
                    if status == FileStatus.PARTIAL.value:
                        report.partial.append(name)
                    if name not in report.replaced:
                        report.ingested.append(name)
        if rebuild or resettle:  # dates that no longer hold any session disappear
            for t in TABLES:
                for iso in manifest.partitions[t]:
                    changes[t].setdefault(date.fromisoformat(iso), None)
        report.partitions_written = len(affected)
        report.partial.sort()
        report.ingested.sort()

        if not ledger_updates and not rebuild and not resettle and not legacy:
            lake.drop_scratch()
            (lake.data_dir / PENDING).unlink(missing_ok=True)
            report.version = lake.version()
            return report

        # 5. state + serving (only the year shards that change) + commit
        everything = rebuild or legacy or resettle
        state = {
            "files": _changed_shards(
                ledger_tab,
                table_from_rows(list(ledger_updates.values()), FILES_SCHEMA),
                set(ledger_updates),
                everything,
            ),
            "rejected_lines": _changed_shards(
                rejected_tab,
                table_from_rows(rejected_rows, REJECTED_SCHEMA),
                set(ledger_updates),
                everything,
            ),
            "round_index": _changed_shards(
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
            every = _read_partitions(lake, snap) if snap is not None else {}
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
            _drop_missing(manifest, state)
        if replace_serving or years is None:
            _drop_missing(manifest, serving, kind="serving")
        lake.commit(changes, state, serving, options=opts.fingerprint())
        (lake.data_dir / PENDING).unlink(missing_ok=True)
        report.version = new_version
    return report


@dataclass(frozen=True)
class Regroup:
    """What new rounds do to the sessions: the sessions of every affected date, the dates,
    and the round-index rows to replace."""

    sessions: list[Session]
    affected: set[date]
    index_rows: pa.Table  # new round-index rows (regrouped rounds)
    index_drop: set[str]  # file names whose old index rows go


def regroup_sessions(
    index: pa.Table,
    new: Mapping[str, RoundTime],
    gap_minutes: int,
    *,
    everything: bool = False,
    removed: set[str] | None = None,
) -> Regroup:
    """Regroup only the sessions within the gap of a new (or changed) round: sessions are
    separated by more than the gap, so no other session can change. Then add the untouched
    sessions that share an affected date (a partition holds every session of its date).
    ``everything`` regroups the whole index (the session gap setting changed).
    ``index`` is the round index (ROUND_INDEX_SCHEMA) before the batch."""
    import bisect

    import pyarrow.compute as pc

    gap_s = gap_minutes * 60
    near: set[int] = set(index["session_id"].to_pylist()) if everything else set()
    if index.num_rows and new and not everything:
        order = pc.sort_indices(index, [("end_time", "ascending")])
        ends = pc.cast(index["end_time"].take(order), pa.int64()).to_pylist()
        sids = index["session_id"].take(order).to_pylist()
        for rt in new.values():
            t = int((rt.end_time - _EPOCH).total_seconds())
            lo = bisect.bisect_left(ends, t - gap_s)
            hi = bisect.bisect_right(ends, t + gap_s)
            near.update(sids[lo:hi])
    gone = removed or set()
    if index.num_rows and (new or gone) and not everything:
        # a partial file that grew, or a committed round that is being taken out
        again = pc.is_in(index["file_name"], pa.array(sorted({*new, *gone}), pa.string()))
        near.update(index["session_id"].filter(again).to_pylist())
    selected = pc.is_in(index["session_id"], pa.array(sorted(near), pa.int64()))
    picked = index.filter(selected)
    times = {n: t for n, t in {**_round_times(picked), **new}.items() if n not in gone}
    regrouped = group_sessions(times.values(), gap_minutes)
    affected = set(picked["session_date"].to_pylist()) | {s.session_date for s in regrouped}
    same_day = pc.and_(
        pc.invert(selected),
        pc.is_in(index["session_date"], pa.array(sorted(affected), pa.date32())),
    )
    others = group_sessions(_round_times(index.filter(same_day)).values(), gap_minutes)
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
        ],
        schema=ROUND_INDEX_SCHEMA,
    )


_EPOCH = datetime(1970, 1, 1)


def _round_times(index: pa.Table) -> dict[str, RoundTime]:
    cols = (index.column(c).to_pylist() for c in ("file_name", "end_time", "start_time"))
    return {n: RoundTime(n, e, st) for n, e, st in zip(*cols, strict=True)}


def _lookup(table: pa.Table, key: str, values: list[str]) -> dict[str, dict[str, Any]]:
    """Rows of ``table`` whose ``key`` is one of ``values``, as {value: row}."""
    import pyarrow.compute as pc

    if not values or not table.num_rows:
        return {}
    positions = pc.index_in(pa.array(values, pa.string()), value_set=table[key]).to_pylist()
    hits = [(v, i) for v, i in zip(values, positions, strict=True) if i is not None]
    if not hits:
        return {}
    rows = table.take([i for _, i in hits]).to_pylist()
    return {v: r for (v, _), r in zip(hits, rows, strict=True)}


def _changed_shards(
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


def _drop_missing(
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


def _pending_raw_files(lake: Lake) -> list[Path]:
    """Raw files a crashed ingest stored but did not commit (``PENDING`` names them)."""
    try:
        names = (lake.data_dir / PENDING).read_text().split()
    except FileNotFoundError:
        return []
    return [p for n in names if is_stats_file_name(n) and (p := lake.raw_path(n)).is_file()]


def _raw_files_not_in(raw_dir: Path, ledger: Mapping[str, object]) -> list[Path]:
    """Files under raw/<date>/ whose names the ledger does not list (checked by name from
    the directory entries: no path object or realpath per stored file)."""
    if not raw_dir.exists():
        return []
    out: list[Path] = []
    with os.scandir(raw_dir) as days:
        for day in sorted(days, key=lambda e: e.name):
            if day.is_dir() and not day.name.startswith("."):
                with os.scandir(day.path) as files:
                    out.extend(
                        Path(f.path)
                        for f in sorted(files, key=lambda e: e.name)
                        if f.name.endswith(".txt") and f.name not in ledger
                    )
    return out


def _read_partitions(lake: Lake, snap: Path) -> dict[date, dict[str, pa.Table]]:
    import pyarrow.parquet as pq

    out: dict[date, dict[str, pa.Table]] = {}
    for table, parts in lake.manifest(snap).partitions.items():
        for iso, p in parts.items():
            out.setdefault(date.fromisoformat(iso), {})[table] = pq.ParquetFile(
                snap / p.file
            ).read()
    schemas = {"rounds": ROUNDS_SCHEMA, "player_rounds": PLAYER_ROUNDS_SCHEMA}
    schemas["weapon_rounds"] = WEAPON_ROUNDS_SCHEMA
    # a date of header-only rounds has a rounds partition but no player or weapon rows
    return {d: {t: ts.get(t, schemas[t].empty_table()) for t in TABLES} for d, ts in out.items()}


def _ledger_row(
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


def content_sha256(data: bytes) -> str:
    """Identity of a file's content: CRLF copies (through a Windows share) are the same file."""
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def _conflict(lake: Lake, report: IngestReport, name: str, data: bytes, other: str) -> None:
    reason = f"{name}: content differs from {other} with the same name; kept the first"
    report.quarantined[name] = reason
    _quarantine(lake, name, data, reason)


def _quarantine(lake: Lake, name: str, data: bytes, reason: str) -> None:
    q = lake.quarantine_dir
    write_bytes_atomic(q / name, data, tmp_dir=q / ".incoming")
    write_bytes_atomic(q / f"{name}.reason", (reason + "\n").encode(), tmp_dir=q / ".incoming")


def rebuild(data_dir: Path | str, options: IngestOptions | None = None) -> IngestReport:
    """Recreate the whole lake from ``raw/`` (same content as incremental ingests)."""
    return ingest_paths(data_dir, [], options, rebuild=True)
