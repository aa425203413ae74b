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
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
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
    TABLES,
    WEAPON_ROUNDS_SCHEMA,
    Lake,
    failpoint,
    store_files_atomic,
    table_from_rows,
    write_bytes_atomic,
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


@dataclass(frozen=True)
class BuildResult:
    day: date
    tables: dict[str, pa.Table]
    status: dict[str, str]  # file name → ok | partial | interrupted
    rejected: dict[str, list[tuple[int | None, str | None, str]]]  # bad lines per file


def build_date(job: BuildJob) -> BuildResult:
    """Parse a date's files and build its partitions. Pure: runs in a worker process."""
    parsed = {n: parse_bytes(b, n) for n, b in job.files}
    return BuildResult(
        job.day,
        build_partition(job.sessions, parsed, job.opts),
        {n: r.status.value for n, r in parsed.items()},
        {n: [(e.line, e.field, e.reason) for e in r.rejected] for n, r in parsed.items()},
    )


def _run_jobs(jobs: list[BuildJob], workers: int) -> list[BuildResult]:
    files = sum(len(j.files) for j in jobs)
    if workers == 0:
        # processes pay off for backfills; small batches stay in-process (no spawn cost)
        workers = min(os.cpu_count() or 1, 4) if files > 1500 else 1
    if workers <= 1 or len(jobs) < 2:
        return [build_date(j) for j in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(build_date, jobs, chunksize=max(1, len(jobs) // (workers * 8))))


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


def ingest_paths(
    data_dir: Path | str,
    paths: Sequence[Path | str],
    options: IngestOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    rebuild: bool = False,
) -> IngestReport:
    """Ingest files and folders into the lake under ``data_dir`` as ONE commit.

    Also picks up files already in ``raw/`` that are not in the ledger (a crashed run's
    leftovers), so rerunning after a crash completes the job.
    """
    opts = options or IngestOptions()
    lake = Lake(data_dir)
    report = IngestReport()
    with lake.writer_lock():
        snap = lake.current_dir()
        # state tables stay Arrow; only the columns the checks need become Python lists
        # (a 10-year ledger has 32k rows: whole-row dicts cost more than the commit)
        ledger_tab = FILES_SCHEMA.empty_table() if rebuild else lake.read_state("files", snap)
        rejected_tab = (
            REJECTED_SCHEMA.empty_table() if rebuild else lake.read_state("rejected_lines", snap)
        )
        index_tab = (
            ROUND_INDEX_SCHEMA.empty_table() if rebuild else lake.read_state("round_index", snap)
        )
        ledger: dict[str, dict[str, Any]] = {
            n: {"sha256": h, "status": st, "size": z}
            for n, h, st, z in zip(
                *(
                    ledger_tab.column(c).to_pylist()
                    for c in ("file_name", "sha256", "status", "size")
                ),
                strict=True,
            )
        }
        by_sha = dict(
            zip(
                ledger_tab.column("content_sha256").to_pylist(),
                ledger_tab.column("file_name").to_pylist(),
                strict=True,
            )
        )
        ledger_updates: dict[str, dict[str, Any]] = {}
        rejected_rows: list[dict[str, Any]] = []

        # 1. store new files in raw/ (idempotent by name + sha256)
        candidates = _expand(Path(p) for p in paths)
        # raw files the ledger does not list: a crashed run's leftovers, or a rebuild
        # (names, not resolved paths: 32k realpath calls cost seconds at 10 years)
        candidates.extend(_raw_files_not_in(lake.raw_dir, ledger))
        unique: dict[str, Path] = {}
        for c in candidates:
            unique.setdefault(os.path.abspath(c), c)  # a raw file given explicitly: read once
        candidates = list(unique.values())
        new: dict[str, bytes] = {}
        seen: dict[str, str] = {}  # content sha → name, this batch
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
            csha = content_sha256(data)
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
        store_files_atomic(
            [
                (lake.raw_path(name), data)
                for name, data in new.items()
                if not (lake.raw_path(name).exists() and lake.raw_path(name).read_bytes() == data)
            ],
            tmp_dir=lake.raw_dir / ".incoming",
        )
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

        # 3. regroup sessions; find the session dates whose content changes
        old_index = {
            n: {"end_time": e, "start_time": st, "session_id": sid, "session_date": sd}
            for n, e, st, sid, sd in zip(
                *(index_tab.column(c).to_pylist() for c in ROUND_INDEX_SCHEMA.names),
                strict=True,
            )
        }
        times = {n: RoundTime(n, r["end_time"], r["start_time"]) for n, r in old_index.items()}
        for name, head in heads.items():
            times[name] = _round_time(head.file, head.header)
        sessions = group_sessions(times.values(), opts.session_gap_minutes)
        session_of = {n: s for s in sessions for n in s.rounds}
        affected: set[date] = set()
        for name in heads:
            affected.add(session_of[name].session_date)
            if name in old_index:
                affected.add(old_index[name]["session_date"])
        for n, r in old_index.items():
            s = session_of[n]
            if r["session_id"] != s.session_id or r["session_date"] != s.session_date:
                affected.update((r["session_date"], s.session_date))

        # 4. rebuild the affected partitions from their files (in parallel for backfills)
        by_date: dict[date, list[Session]] = {}
        for s in sessions:
            if s.session_date in affected:
                by_date.setdefault(s.session_date, []).append(s)
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
            )
            for d, ss in sorted(by_date.items())
        ]
        changes: dict[str, dict[date, pa.Table | None]] = {
            t: {d: None for d in affected} for t in TABLES
        }
        new_version = lake.version() + 1
        rebuilt: dict[date, dict[str, pa.Table]] = {}
        for res in _run_jobs(jobs, opts.workers):
            rebuilt[res.day] = res.tables
            for t in TABLES:
                changes[t][res.day] = res.tables[t] if res.tables[t].num_rows else None
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
        if rebuild:  # dates that no longer hold any session disappear
            for t in TABLES:
                for iso in lake.manifest(snap).partitions[t]:
                    changes[t].setdefault(date.fromisoformat(iso), None)
        report.partitions_written = len(affected)
        report.partial.sort()
        report.ingested.sort()

        # 5. state + commit
        names = sorted(times)
        index = pa.Table.from_arrays(
            [
                pa.array(names, pa.string()),
                pa.array([times[n].end_time for n in names], pa.timestamp("s")),
                pa.array([times[n].start_time for n in names], pa.timestamp("s")),
                pa.array([session_of[n].session_id for n in names], pa.int64()),
                pa.array([session_of[n].session_date for n in names], pa.date32()),
            ],
            schema=ROUND_INDEX_SCHEMA,
        )
        if not new and not rebuild:
            report.version = lake.version()
            return report
        old_serving = None if rebuild else lake.read_serving(snap)
        if old_serving == {} and snap is not None:
            # a snapshot written before serving files existed: derive them from every partition
            every = _read_partitions(lake, snap)
            rebuilt = {**every, **rebuilt}
            affected_serving = affected | set(every)
        else:
            affected_serving = affected
        serving = rollups.update(old_serving or None, rebuilt, affected_serving)
        lake.commit(
            changes,
            {
                "files": _replace_rows(
                    ledger_tab, table_from_rows(list(ledger_updates.values()), FILES_SCHEMA)
                ),
                "rejected_lines": _replace_rows(
                    rejected_tab,
                    table_from_rows(rejected_rows, REJECTED_SCHEMA),
                    names=set(ledger_updates),
                ),
                "round_index": index,
            },
            serving,
        )
        report.version = new_version
    return report


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
    return {d: t for d, t in out.items() if set(t) == set(TABLES)}


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
