"""Build one session date's partitions (rounds, player_rounds, weapon_rounds) from its raw
files, in worker processes for backfills. Pure apart from the Parquet files it encodes in
the ingest's scratch folder."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa

from etl_duck.domain.counting import player_reason, round_reasons
from etl_duck.domain.fields import DERIVED_TOTALS, EXTENDED_FIELDS, WEAPONS
from etl_duck.domain.pairing import round_only_rows
from etl_duck.domain.parse import (
    PARSER_VERSION,
    FileName,
    Header,
    ParseError,
    RoundFile,
    header_duration,
    parse_bytes,
)
from etl_duck.domain.sessions import RoundTime, Session, round_start
from etl_duck.ingest.endstats import build_endstats
from etl_duck.ingest.options import IngestOptions, Progress
from etl_duck.lake import rollups
from etl_duck.lake.layout import TABLES
from etl_duck.lake.schemas import (
    PLAYER_ROUNDS_SCHEMA,
    ROUNDS_SCHEMA,
    SCHEMAS,
    WEAPON_ROUNDS_SCHEMA,
    table_from_rows,
)
from etl_duck.lake.snapshot import Written, write_partition

_FIELD_NAMES = tuple(f.name for f in EXTENDED_FIELDS)


def stable_id(text: str) -> int:
    """Deterministic 63-bit id from a name (rounds are identified by their file name)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1


@dataclass(frozen=True)
class BuildJob:
    """One session date to (re)build: its sessions and the bytes of their files."""

    day: date
    sessions: tuple[Session, ...]
    files: tuple[tuple[str, bytes], ...]
    opts: IngestOptions
    scratch: str  # where its partitions are encoded (``Lake.scratch``)
    #: the endstats files whose time falls within these sessions (paired at build time)
    endstats: tuple[tuple[str, bytes], ...] = ()
    #: cut files a later round of their server follows in another session: final
    final: frozenset[str] = frozenset()


@dataclass(frozen=True)
class BuildResult:
    day: date
    written: dict[str, Written | None]  # table → encoded partition (None: no rows)
    status: dict[str, str]  # file name → ok | partial | interrupted
    rejected: dict[str, list[tuple[int | None, str | None, str]]]  # bad lines per file
    #: files whose rows could not be built (name → reason): nothing of this date was
    #: written; the writer quarantines them and builds the date again without them
    failed: dict[str, str] = field(default_factory=dict)
    #: what a file does that is no problem of its lines (a newer writer's longer lines,
    #: read by their known fields): file name → the parser's note, once per file
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkResult:
    dates: list[BuildResult]
    serving: dict[str, pa.Table]  # the serving rows of these dates (rollups.fresh_rows)


def build_chunk(jobs: Sequence[BuildJob], threads: int = 1) -> ChunkResult:
    """Parse the files of some session dates, encode their partitions and compute their
    serving rows. Pure apart from the files it writes in the scratch folder, so a backfill
    runs chunks in worker processes: the Parquet encoding and the rollups (most of a
    backfill's cost besides parsing) run on every core, and only small results travel.
    ``threads``: DuckDB cursors for the rollups (more than one only in the writer's own
    process, where no other worker uses the cores)."""
    results: list[BuildResult] = []
    tables: dict[date, dict[str, pa.Table]] = {}
    for job in jobs:
        result, built = _build_job(job)
        results.append(result)
        if built is not None:
            tables[job.day] = built
    return ChunkResult(results, rollups.fresh_rows(tables, threads) if tables else {})


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
            built = build_partition(job.sessions, parsed, job.opts, job.endstats, job.final)
            written = {
                t: write_partition(built[t], t, f"{job.scratch}/{t}-{job.day}.parquet")
                for t in TABLES
            }
        except OSError:  # the disk, not the files (full, read-only): fail the ingest,
            raise  # quarantine nothing; the pending list lets the rerun finish the job
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
            notes={n: r.note for n, r in parsed.items() if r.note},
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


#: a batch of fewer files builds in the ingesting process whatever ``workers`` says
POOL_MIN_FILES = 1500


def run_jobs(
    jobs: list[BuildJob], workers: int, progress: Progress | None = None, threads: int = 1
) -> list[ChunkResult]:
    """Build ``jobs`` in worker processes (a backfill) or in this process, whose rollups
    then run on ``threads`` DuckDB cursors (a live commit: ``run.live_threads``)."""
    files = sum(len(j.files) for j in jobs)
    if progress is not None and jobs:
        progress("building partitions", 0, files)  # the phase shows from its start
    # processes pay off for backfills only (a spawn costs ~0.5 s)
    if workers <= 1 or len(jobs) < 2 or files < POOL_MIN_FILES:
        out = [build_chunk(jobs, threads)] if jobs else []
        if progress is not None and jobs:
            progress("building partitions", files, files)
        return out
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
    results: list[ChunkResult] = []
    done = 0
    with pool:
        for chunk, result in zip(chunks, pool.map(build_chunk, chunks), strict=True):
            results.append(result)
            done += sum(len(j.files) for j in chunk)
            if progress is not None:
                progress("building partitions", done, files)
    return results


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


def round_time(file: FileName, header: Header, players: bool = True) -> RoundTime:
    """Start = end − header duration − 3 s; from the header alone, so the session a file
    lands in is known before the (parallel) full parse. A round the header shows was cut
    (§7.1) lasted an unknown part of its limit: its start is taken as its end, not a whole
    limit earlier (which dated an evening that opened with one on the day before)."""
    # an older writer's round 2 with the clock artefact (H7 > H6) may be such a cut round
    # (the pairing decides); a complete one has its round 1 before it in its session, so
    # its own start never dates one
    cut = header.shutdown_path or (header.play_time_ms is None and header.time_limit_artefact)
    limit = 0 if cut else header.time_limit_s
    return RoundTime(
        file.name,
        file.end_time,
        round_start(file.end_time, header_duration(header), limit),
        players,
    )


_PLAYER_VALUE_COLUMNS = (*DERIVED_TOTALS, *_FIELD_NAMES)


def build_partition(
    sessions: Sequence[Session],
    files: dict[str, RoundFile],
    opts: IngestOptions,
    endstats: Sequence[tuple[str, bytes]] = (),
    final: frozenset[str] = frozenset(),
) -> dict[str, pa.Table]:
    """All rows of the sessions of one session date (one partition per table), the
    endstats rows of its rounds included.

    Rows are built as tuples in schema order and transposed once (a 10-year backfill
    builds ~2 M weapon rows: per-row dicts would dominate the ingest).
    """
    rounds_rows: list[dict[str, Any]] = []
    player_rows: list[tuple[Any, ...]] = []
    weapon_rows: list[tuple[Any, ...]] = []
    for s in sessions:
        rounds = [files[n] for n in s.rounds]
        reasons, round1_of = round_reasons(rounds, opts.filler_maps, opts.timezone, final)
        by_name = {r.file.name: r for r in rounds}
        for r in rounds:
            h = r.header
            assert h is not None
            rid = stable_id(r.file.name)
            r1 = round1_of.get(r.file.name)
            match_id = stable_id(r1) if r1 else rid
            reason = reasons[r.file.name]
            rows = round_only_rows(
                r,
                by_name[r1] if r1 else None,
                orphan=reason == "orphan_r2",
                interrupted=reason == "interrupted",
                second_writer=reason == "second_writer",
            )
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
                    "start_time": round_time(r.file, h).start_time,
                    "timezone": opts.timezone,
                    # a round 2 the pairing continued from its round 1 is complete:
                    # held, it ran the clock round 1 set (H6), artefact or not
                    "duration_s": r.duration(paired=r1 is not None and reason != "interrupted"),
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
                    "server": s.server,
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
                why = player_reason(row, reason)
                line = row.line
                v = row.values
                counted = why is None
                player_rows.append(
                    (
                        *head,
                        line.guid, line.name, line.name_raw, line.team, line.is_bot,
                        line.rounds_counter, row.kind.value, counted, why, line.line_no,
                        line.layout, *[v[n] for n in _PLAYER_VALUE_COLUMNS], s.server,
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
                            s.server,
                        )
                    )
    return {
        "rounds": table_from_rows(rounds_rows, ROUNDS_SCHEMA),
        "player_rounds": _transpose(player_rows, PLAYER_ROUNDS_SCHEMA),
        "weapon_rounds": _transpose(weapon_rows, WEAPON_ROUNDS_SCHEMA),
        **build_endstats(endstats, rounds_rows, files),
    }


def _transpose(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    if not rows:
        return schema.empty_table()
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )
