"""The Parquet lake on disk: schemas, snapshots, the atomic commit, the writer lock.

Layout under the data directory::

    raw/YYYY-MM-DD/<file>.txt           immutable copies of the stats files (source of truth)
    quarantine/<file>.txt + .reason     files that could not be parsed, with the reason
    lake -> .lake/v00000042             symlink to the current snapshot (the commit point)
    .lake/v00000042/
        _manifest.json                  version, per-partition and per-shard versions
        _state/files/2035-v…parquet     the ingest ledger (name, sha256, size, status, reason)
        _state/rejected_lines/…         bad lines inside good files (file, line, field, reason)
        _state/round_index/…            every round's times and session (for session merging)
        _serving/<table>/2035-v….parquet  compact serving tables (see etl_duck.rollups)
        rounds/session_date=YYYY-MM-DD/v00000042.parquet
        player_rounds/session_date=…/…
        weapon_rounds/session_date=…/…

A commit builds the next snapshot beside the current one — unchanged partition files are
hard links, changed ones are written, fsynced and renamed — then swaps the ``lake`` symlink
with one atomic rename. Readers (the query API, DuckDB or Polars globbing
``data/lake/<table>/**/*.parquet``) therefore see the old or the new version, never half a
commit, and never a temp file. Old snapshots stay for a grace period for in-flight readers.

State and serving tables are *sharded by year* (the year in a state row's file name, the
session date's year for serving rows): a live commit rewrites the current year's shards and
hard-links the rest, so its cost does not grow with the length of the history.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from etl_duck.fields import DERIVED_TOTALS, EXTENDED_FIELDS, Kind

TABLES = ("rounds", "player_rounds", "weapon_rounds")
SNAPSHOT_DIR = ".lake"
LINK = "lake"
KEEP_SNAPSHOTS = 3  # current + two before it, for readers still holding an older one
GRACE_SECONDS = 120.0

# --------------------------------------------------------------------------- schemas

ROUNDS_SCHEMA = pa.schema(
    [
        ("round_id", pa.int64()),
        ("match_id", pa.int64()),
        ("session_id", pa.int64()),
        ("file_name", pa.string()),
        ("sha256", pa.string()),
        ("map_name", pa.string()),
        ("round_number", pa.int8()),
        ("end_time", pa.timestamp("s")),  # server-local time from the file name (round END)
        ("start_time", pa.timestamp("s")),  # derived: end − duration − 3 s
        ("timezone", pa.string()),
        ("duration_s", pa.float64()),  # best source per STATS_FORMAT.md §2; null if unknown
        ("time_limit_s", pa.int32()),
        ("next_time_limit_s", pa.int32()),
        ("play_time_ms", pa.int64()),
        ("defender_side", pa.int8()),
        ("winner_side", pa.int8()),
        ("attackers_won", pa.bool_()),
        ("server_name", pa.string()),
        ("config", pa.string()),
        ("layout", pa.int8()),
        ("file_status", pa.string()),  # ok | partial | interrupted
        ("paired_round_id", pa.int64()),  # for a round 2: its round 1
        ("players", pa.int16()),
        ("bots", pa.int16()),
        ("counted", pa.bool_()),
        ("reason", pa.string()),
        ("parser_version", pa.int16()),
    ]
)


def _value_type(kind: Kind) -> pa.DataType:
    return pa.float64() if kind is Kind.TENTHS else pa.int32()


PLAYER_ROUNDS_SCHEMA = pa.schema(
    [
        ("round_id", pa.int64()),
        ("match_id", pa.int64()),
        ("session_id", pa.int64()),
        ("map_name", pa.string()),
        ("round_number", pa.int8()),
        ("end_time", pa.timestamp("s")),
        ("guid", pa.string()),
        ("name", pa.string()),
        ("name_raw", pa.string()),
        ("team", pa.int8()),
        ("is_bot", pa.bool_()),
        ("rounds_counter", pa.int16()),
        ("row_kind", pa.string()),  # r1 | r2_diff | r2_only | r2_reset | orphan_r2 | interrupted
        ("counted", pa.bool_()),
        ("reason", pa.string()),
        ("line_no", pa.int32()),
        ("layout", pa.int8()),
        *[(n, pa.int32()) for n in DERIVED_TOTALS],
        *[(f.name, _value_type(f.kind)) for f in EXTENDED_FIELDS],
    ]
)

WEAPON_ROUNDS_SCHEMA = pa.schema(
    [
        ("round_id", pa.int64()),
        ("session_id", pa.int64()),
        ("map_name", pa.string()),
        ("guid", pa.string()),
        ("weapon_id", pa.int8()),
        ("weapon", pa.string()),
        ("hits", pa.int32()),
        ("shots", pa.int32()),
        ("kills", pa.int32()),
        ("deaths", pa.int32()),
        ("headshots", pa.int32()),
        ("counted", pa.bool_()),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "rounds": ROUNDS_SCHEMA,
    "player_rounds": PLAYER_ROUNDS_SCHEMA,
    "weapon_rounds": WEAPON_ROUNDS_SCHEMA,
}

FILES_SCHEMA = pa.schema(
    [
        ("file_name", pa.string()),
        ("sha256", pa.string()),
        ("content_sha256", pa.string()),  # sha256 with CRLF → LF: identity for dedupe
        ("size", pa.int64()),
        ("status", pa.string()),  # ok | partial | interrupted | quarantined
        ("reason", pa.string()),
        ("ingested_version", pa.int64()),
    ]
)
REJECTED_SCHEMA = pa.schema(
    [
        ("file_name", pa.string()),
        ("line", pa.int32()),
        ("field", pa.string()),
        ("reason", pa.string()),
    ]
)
ROUND_INDEX_SCHEMA = pa.schema(
    [
        ("file_name", pa.string()),
        ("end_time", pa.timestamp("s")),
        ("start_time", pa.timestamp("s")),
        ("session_id", pa.int64()),
        ("session_date", pa.date32()),
    ]
)
STATE_SCHEMAS: dict[str, pa.Schema] = {
    "files": FILES_SCHEMA,
    "rejected_lines": REJECTED_SCHEMA,
    "round_index": ROUND_INDEX_SCHEMA,
}


# --------------------------------------------------------------------------- failpoints

_FAIL_AT = int(os.environ.get("ETL_DUCK_FAILPOINT", "0") or 0)
_fail_count = 0


def failpoint(name: str) -> None:
    """Crash-test hook: with ETL_DUCK_FAILPOINT=k the process SIGKILLs itself at the k-th
    failpoint it passes. A no-op otherwise (one integer comparison)."""
    global _fail_count
    if _FAIL_AT:
        _fail_count += 1
        if _fail_count == _FAIL_AT:
            os.kill(os.getpid(), 9)


def set_failpoint(k: int) -> None:
    """Arm the crash-test hook in this process (used by forked crash tests)."""
    global _FAIL_AT, _fail_count
    _FAIL_AT, _fail_count = k, 0


# --------------------------------------------------------------------------- fs helpers


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes, tmp_dir: Path | None = None) -> None:
    """temp → fsync → rename → fsync dir. The temp file lives in ``tmp_dir`` (same fs)."""
    tmp_dir = tmp_dir or path.parent
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f".{path.name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    failpoint("temp file written")
    os.replace(tmp, path)
    fsync_dir(path.parent)
    failpoint("file renamed")


def store_files_atomic(items: list[tuple[Path, bytes]], tmp_dir: Path) -> None:
    """Many files at once: each written to a temp file and renamed into place, then ONE
    ``os.sync()`` makes data and directory entries durable together. Per-file fsyncs
    cost ~3 ms each here (a 36k-file backfill: minutes); a crash before the sync leaves
    files that the ledger does not list yet, which the next ingest re-reads."""
    if not items:
        return
    tmp_dir.mkdir(parents=True, exist_ok=True)
    folders: set[Path] = set()
    for path, data in items:
        if path.parent not in folders:  # one mkdir per date folder, not per file
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
        tmp = tmp_dir / f".{path.name}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        failpoint("temp file written")
        os.replace(tmp, path)
    os.sync()
    failpoint("files synced")


def _write_parquet(table: pa.Table, path: Path, *, make_folder: bool = True) -> None:
    if make_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", write_statistics=True)


@dataclass(frozen=True)
class Written:
    """A partition already written as Parquet (by a parse worker) into ``Lake.scratch``:
    the commit moves it into the snapshot with one rename instead of encoding it."""

    path: str
    rows: int


def write_partition(table: pa.Table, name: str, path: str) -> Written | None:
    """Encode one partition of table ``name`` (cast to its schema) at ``path``."""
    if not table.num_rows:
        return None
    # no mkdir: if the scratch folder is gone, its writer died and the next one removed it
    _write_parquet(table.cast(SCHEMAS[name]), Path(path), make_folder=False)
    failpoint("partition written")
    return Written(path, table.num_rows)


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class Partition:
    file: str  # path relative to the snapshot
    version: int  # lake version that last wrote it
    rows: int


def _parts_to_json(groups: Mapping[str, Mapping[str, Partition]]) -> dict[str, Any]:
    return {
        g: {k: [p.file, p.version, p.rows] for k, p in sorted(parts.items())}
        for g, parts in groups.items()
    }


def _parts_from_json(raw: Mapping[str, Mapping[str, list[Any]]]) -> dict[str, dict[str, Partition]]:
    return {
        g: {k: Partition(str(v[0]), int(v[1]), int(v[2])) for k, v in parts.items()}
        for g, parts in raw.items()
    }


@dataclass(frozen=True)
class Manifest:
    version: int
    created: float
    partitions: dict[str, dict[str, Partition]]  # table → session_date ISO → partition
    #: "state/<name>" or "serving/<name>" → year → shard; empty in snapshots written before
    #: tables were sharded (read as one file per table, see ``Lake.read_state``)
    shards: dict[str, dict[str, Partition]] = field(default_factory=dict)
    #: the ingest settings the content was derived with (IngestOptions.fingerprint)
    options: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def empty() -> Manifest:
        return Manifest(0, 0.0, {t: {} for t in TABLES}, {})

    def to_json(self) -> str:
        # one line per table: the C encoder (``indent`` falls back to pure Python, ~90 ms
        # for the ~5k partitions of a 10-year lake)
        return json.dumps(
            {
                "version": self.version,
                "created": self.created,
                "partitions": _parts_to_json(self.partitions),
                "shards": _parts_to_json(self.shards),
                "options": self.options,
            },
            separators=(",", ":"),
        )

    @staticmethod
    def from_json(text: str) -> Manifest:
        raw = json.loads(text)
        return Manifest(
            int(raw["version"]),
            float(raw["created"]),
            _parts_from_json(raw["partitions"]),
            _parts_from_json(raw.get("shards", {})),
            dict(raw.get("options", {})),
        )

    def partition_versions(self, table: str) -> dict[str, int]:
        return {d: p.version for d, p in self.partitions.get(table, {}).items()}


# --------------------------------------------------------------------------- the lake


class LockTimeout(RuntimeError):
    pass


class Lake:
    """A data directory: raw files, quarantine and the versioned Parquet lake."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.raw_dir = self.data_dir / "raw"
        self.quarantine_dir = self.data_dir / "quarantine"
        self.snapshots = self.data_dir / SNAPSHOT_DIR
        self.link = self.data_dir / LINK
        self._manifests: dict[Path, Manifest] = {}  # the last snapshot's, parsed
        self._scratch: Path | None = None

    # ---- reading (lock-free)

    def current_dir(self) -> Path | None:
        """The snapshot the ``lake`` link points at now (resolved once: a consistent view)."""
        try:
            target = os.readlink(self.link)
        except FileNotFoundError:
            return None
        return (self.data_dir / target).resolve()

    def manifest(self, snapshot: Path | None = None) -> Manifest:
        snap = snapshot or self.current_dir()
        if snap is None:
            return Manifest.empty()
        # a snapshot never changes once renamed into place: parse its manifest once
        # (~20 ms for the ~5k partitions of a 10-year lake)
        cached = self._manifests.get(snap)
        if cached is None:
            cached = Manifest.from_json((snap / "_manifest.json").read_text())
            if not snap.name.endswith(".tmp"):
                self._manifests = {snap: cached}
        return cached

    def version(self) -> int:
        """The committed version: one readlink, no file read (checked before every query)."""
        try:
            target = os.readlink(self.link)
        except FileNotFoundError:
            return 0
        return int(target.rsplit("/v", 1)[1])

    def read_state(self, name: str, snapshot: Path | None = None) -> pa.Table:
        """A state table (all its year shards), ordered by file name."""
        snap = snapshot or self.current_dir()
        if snap is None:
            return STATE_SCHEMAS[name].empty_table()
        manifest = self.manifest(snap)
        if not manifest.shards:  # a snapshot written before tables were sharded
            path = snap / "_state" / f"{name}.parquet"
            if not path.exists():
                return STATE_SCHEMAS[name].empty_table()
            return pq.ParquetFile(path).read().cast(STATE_SCHEMAS[name])
        return _read_shards(snap, manifest.shards.get(f"state/{name}", {}), STATE_SCHEMAS[name])

    def read_serving(
        self, snapshot: Path | None = None, years: set[str] | None = None
    ) -> dict[str, pa.Table]:
        """The compact serving tables of a snapshot (see :mod:`etl_duck.rollups`): all of
        it, or only the shards of ``years``. Empty if the snapshot has none."""
        snap = snapshot or self.current_dir()
        if snap is None:
            return {}
        manifest = self.manifest(snap)
        if not manifest.shards:
            folder = snap / "_serving"
            if not folder.exists():
                return {}
            return {p.stem: pq.ParquetFile(p).read() for p in sorted(folder.glob("*.parquet"))}
        out: dict[str, pa.Table] = {}
        for group, shards in manifest.shards.items():
            if group.startswith("serving/"):
                picked = {y: p for y, p in shards.items() if years is None or y in years}
                out[group.removeprefix("serving/")] = _read_shards(snap, picked, None)
        return out

    def partition_files(self, table: str, snapshot: Path | None = None) -> list[Path]:
        snap = snapshot or self.current_dir()
        if snap is None:
            return []
        m = self.manifest(snap)
        return [snap / p.file for _, p in sorted(m.partitions[table].items())]

    def scratch(self) -> Path:
        """A new folder for partitions encoded before the commit (by parse workers), one
        per ingest: a worker that outlives a killed writer can only write into its own.
        Its name ends in ``.tmp``, so the next writer's :meth:`recover` removes it."""
        self.snapshots.mkdir(parents=True, exist_ok=True)
        path = self.snapshots / f"scratch-{os.getpid()}-{time.time_ns()}.tmp"
        path.mkdir()
        self._scratch = path
        return path

    def drop_scratch(self) -> None:
        """Remove this writer's scratch folder (after the commit moved its files out)."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def raw_path(self, file_name: str) -> Path:
        return self.raw_dir / file_name[:10] / file_name

    # ---- writing (one writer at a time)

    @contextlib.contextmanager
    def writer_lock(self, timeout: float = 600.0) -> Iterator[None]:
        """Serialise writers (bot and CLI may both try). Readers never take it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / ".writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LockTimeout(
                            f"another writer holds {self.data_dir}/.writer.lock"
                        ) from None
                    time.sleep(0.05)
            self.recover()
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def recover(self) -> None:
        """Remove what a crashed commit left: staging folders and uncommitted snapshots."""
        # temp files of interrupted raw/pending writes (``.<name>.<pid>.tmp``; fetch's
        # downloads in the same folder end in .part and are not touched)
        for leftover in (self.raw_dir / ".incoming").glob(".*.tmp"):
            leftover.unlink(missing_ok=True)
        if not self.snapshots.exists():
            return
        current = self.current_dir()
        for child in self.snapshots.iterdir():
            if child.name.endswith(".tmp"):
                shutil.rmtree(child, ignore_errors=True)
            elif current is not None and child.name > current.name:
                shutil.rmtree(child, ignore_errors=True)  # renamed but never linked
            elif current is None and child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
        for leftover in self.data_dir.glob(".lake-link.*"):
            leftover.unlink(missing_ok=True)

    def commit(
        self,
        changes: Mapping[str, Mapping[date, pa.Table | Written | None]],
        state: Mapping[str, Mapping[str, pa.Table | None]],
        serving: Mapping[str, Mapping[str, pa.Table | None]] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Manifest:
        """Write the next snapshot and switch the link to it. Call under ``writer_lock``.

        ``changes``: per table, the full new content of each changed session-date
        partition (``None`` or an empty table removes it; a :class:`Written` file in
        :meth:`scratch` is moved in). ``state`` and ``serving``: per
        table, the full new content of each changed year shard (same rule). Everything
        not named is carried over from the current snapshot by hard link. ``options``:
        the settings the content was derived with (kept from the current snapshot if None).
        """
        current_snap = self.current_dir()
        old = self.manifest(current_snap) if current_snap else Manifest.empty()
        version = old.version + 1
        vname = f"v{version:08d}"
        self.snapshots.mkdir(parents=True, exist_ok=True)
        staging = self.snapshots / f"{vname}.tmp"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
        partitions: dict[str, dict[str, Partition]] = {}
        src_root, dst_root = str(current_snap), str(staging)
        for table in TABLES:
            parts = dict(old.partitions.get(table, {}))
            changed = {d.isoformat(): t for d, t in changes.get(table, {}).items()}
            for d in changed:
                parts.pop(d, None)
            # unchanged partitions: hard links, so a commit writes only changed data
            # (plain string paths: ~4,500 links per commit at 10 years)
            os.mkdir(staging / table)
            for p in parts.values():
                # one folder per partition: plain mkdir + link (~4,500 each per commit at
                # 10 years; string paths and no exists-checks keep it ~30 µs a partition)
                os.mkdir(f"{dst_root}/{p.file.rsplit('/', 1)[0]}")
                os.link(f"{src_root}/{p.file}", f"{dst_root}/{p.file}")
            for d, t in sorted(changed.items()):
                if t is None or (isinstance(t, pa.Table) and t.num_rows == 0):
                    continue
                rel = f"{table}/session_date={d}/{vname}.parquet"
                (staging / rel).parent.mkdir(exist_ok=True)
                if isinstance(t, Written):
                    os.replace(t.path, staging / rel)  # encoded by a worker: just move it
                    rows = t.rows
                else:
                    _write_parquet(t.cast(SCHEMAS[table]), staging / rel)
                    failpoint("partition written")
                    rows = t.num_rows
                parts[d] = Partition(rel, version, rows)
            partitions[table] = parts
        shards: dict[str, dict[str, Partition]] = {}
        for kind, changed_groups in (("state", state), ("serving", serving or {})):
            groups = {g for g in old.shards if g.startswith(f"{kind}/")}
            groups |= {f"{kind}/{name}" for name in changed_groups}
            for group in sorted(groups):
                kept = dict(old.shards.get(group, {}))
                changed_shards = changed_groups.get(group.split("/", 1)[1], {})
                for key in changed_shards:
                    kept.pop(key, None)
                for p in kept.values():
                    os.makedirs(f"{dst_root}/{group_dir(group)}", exist_ok=True)
                    os.link(f"{src_root}/{p.file}", f"{dst_root}/{p.file}")
                for key, t in sorted(changed_shards.items()):
                    if t is None or t.num_rows == 0:
                        continue
                    rel = f"{group_dir(group)}/{key}-{vname}.parquet"
                    schema = STATE_SCHEMAS.get(group.split("/", 1)[1]) if kind == "state" else None
                    _write_parquet(t if schema is None else t.cast(schema), staging / rel)
                    kept[key] = Partition(rel, version, t.num_rows)
                shards[group] = kept
        failpoint("state written")
        manifest = Manifest(
            version,
            time.time(),
            partitions,
            shards,
            dict(old.options if options is None else options),
        )
        with open(staging / "_manifest.json", "w") as fh:
            fh.write(manifest.to_json())
        # one sync for the whole snapshot (files and directories) before it is renamed
        # into place: the same guarantee as fsyncing each file and folder, at one cost
        os.sync()
        failpoint("snapshot staged")
        final = self.snapshots / vname
        os.replace(staging, final)
        fsync_dir(self.snapshots)
        failpoint("snapshot renamed")
        tmp_link = self.data_dir / f".lake-link.{os.getpid()}"
        tmp_link.unlink(missing_ok=True)
        os.symlink(f"{SNAPSHOT_DIR}/{vname}", tmp_link)
        os.replace(tmp_link, self.link)  # THE commit point: one atomic rename
        fsync_dir(self.data_dir)
        failpoint("link swapped")
        # the predecessor's grace period runs from now (the manifest's mtime says when)
        os.utime(final / "_manifest.json")
        # old snapshots go in the background: deleting one is ~5k directories, and no
        # reader or writer waits for it (an interrupted deletion is finished next time)
        self.drop_scratch()
        self._collect_garbage(final)
        return manifest

    def _collect_garbage(self, current: Path) -> None:
        """Remove snapshots older than the last ``KEEP_SNAPSHOTS`` once past the grace
        period. Each is renamed out of the way (one atomic step) and deleted by a detached
        ``rm -rf``: ~10k entries per snapshot at 10 years, which a Python loop would delete
        while holding the GIL beside the queries and the next commit."""
        now = time.time()
        try:
            snaps = sorted(
                p
                for p in self.snapshots.iterdir()
                if p.name.startswith("v") and "." not in p.name and p.is_dir()
            )
        except FileNotFoundError:
            return
        older = [p for p in snaps if p.name < current.name]
        old = older[: -(KEEP_SNAPSHOTS - 1) or None]
        doomed: list[str] = []
        for p, successor in zip(old, [*older[1:], current], strict=False):
            try:
                # a reader may hold a snapshot until its successor is GRACE_SECONDS old
                superseded = (successor / "_manifest.json").stat().st_mtime
            except OSError:
                superseded = 0.0
            try:
                if now - superseded <= GRACE_SECONDS:
                    continue
                gone = p.with_name(p.name + ".gc")
                os.replace(p, gone)
            except OSError:
                continue
            doomed.append(str(gone))
        doomed += [str(p) for p in self.snapshots.glob("*.gc") if str(p) not in doomed]
        if doomed:
            _remove_in_background(doomed)


def _remove_in_background(paths: list[str]) -> None:
    import subprocess

    try:
        subprocess.Popen(
            ["rm", "-rf", "--", *paths],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives a CLI ingest that exits right after commit
        )
    except OSError:  # no rm: delete here (slower, same result)
        for p in paths:
            shutil.rmtree(p, ignore_errors=True)


def split_years(table: pa.Table, column: str) -> dict[str, pa.Table]:
    """Rows by year of ``column``: a date, or a file name (which starts with its date)."""
    import pyarrow.compute as pc

    if not table.num_rows:
        return {}
    col = table[column]
    if pa.types.is_string(col.type):
        years = pc.utf8_slice_codeunits(col, 0, 4)
    else:
        years = pc.cast(pc.year(col), pa.string())
    return {str(y): table.filter(pc.equal(years, y)) for y in sorted(pc.unique(years).to_pylist())}


def group_dir(group: str) -> str:
    """Folder of a shard group inside a snapshot: ``state/files`` → ``_state/files``."""
    return "_" + group


def _read_shards(snap: Path, shards: Mapping[str, Partition], schema: pa.Schema | None) -> pa.Table:
    tables = [pq.ParquetFile(snap / p.file).read() for _, p in sorted(shards.items())]
    if schema is not None:
        tables = [t.cast(schema) for t in tables]
    if not tables:
        return pa.table({}) if schema is None else schema.empty_table()
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def table_from_rows(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Column-wise construction (much faster than from_pylist for wide rows)."""
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.Table.from_pydict(cols, schema=schema)
