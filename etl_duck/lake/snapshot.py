"""The lake's snapshots: the read side (lock-free), the writer lock and the commit, which
stages the next snapshot and publishes it by one atomic rename of the ``lake`` link.

Layout under the data directory::

    lake -> .lake/v00000042             symlink to the current snapshot (the commit point)
    .lake/v00000042/
        _manifest.json                  version, per-partition and per-shard versions
        _state/files/2035-v…parquet     the ingest ledger (name, sha256, size, status, reason)
        _state/rejected_lines/…         bad lines inside good files (file, line, field, reason)
        _state/round_index/…            every round's times and session (for session merging)
        _serving/<table>/2035-v….parquet  compact serving tables (see etl_duck.lake.rollups)
        rounds/session_date=YYYY-MM-DD/v00000042.parquet
        player_rounds/session_date=…/…
        weapon_rounds/session_date=…/…

A commit builds the next snapshot beside the current one — unchanged partition files are
hard links, changed ones are written, fsynced and renamed — then swaps the ``lake`` symlink
with one atomic rename. Readers that resolve the snapshot once (the query API,
``etl_duck.snapshot_path``, ``etl-duck lake-path``) therefore see the old or the new
version, never half a commit, and never a temp file; a glob through the ``lake`` link
(``data/lake/<table>/**``) resolves it once per folder and can mix two versions. Old
snapshots stay while a reader's lease holds them.

State and serving tables are *sharded by year* (the year in a state row's file name, the
session date's year for serving rows): a live commit rewrites the current year's shards and
hard-links the rest, so its cost does not grow with the length of the history.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl_duck.lake.fsutil import failpoint, fsync_dir, sync_paths
from etl_duck.lake.layout import TABLES, shard_year
from etl_duck.lake.manifest import Manifest, Partition, file_checksum, new_lake_id

if TYPE_CHECKING:  # PyArrow loads where tables are read or written: opening a lake is cheap
    import pyarrow as pa

log = logging.getLogger(__name__)

SNAPSHOT_DIR = ".lake"
LINK = "lake"
LEASES = "leases"  # .lake/leases/<snapshot>.<pid>.<n>: held until the file's mtime
#: a lease named across processes (``etl-duck lake-path --holder NAME``):
#: .lake/leases/<snapshot>.named.<NAME>
NAMED = "named"
WRITER_LOCK = ".writer.lock"
LEASE_SECONDS = 600.0  # how long a reader may hold a snapshot without renewing
REPIN_GRACE_S = 60.0  # an older snapshot, once its reader pinned a newer one


#: below this many rows a file is compressed with Snappy, not Zstandard: a live commit's files
#: are mostly an evening's rows, where Zstandard costs ~0.8 ms more per file (a context per
#: column: 1.94 vs 1.16 ms for one evening's 12 partition files, 118 rows each at the median)
#: for ~5 % fewer bytes; from a few thousand rows on its 20-25 % smaller files pay
ZSTD_FROM_ROWS = 2048


def _write_parquet(table: pa.Table, path: Path, *, make_folder: bool = True) -> None:
    import pyarrow.parquet as pq

    if make_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    codec = "zstd" if table.num_rows >= ZSTD_FROM_ROWS else "snappy"
    pq.write_table(table, path, compression=codec, write_statistics=True)


@dataclass(frozen=True)
class Written:
    """A partition already written as Parquet (by a parse worker) into ``Lake.scratch``:
    the commit moves it into the snapshot with one rename instead of encoding it."""

    path: str
    rows: int
    checksum: str


def write_partition(table: pa.Table, name: str, path: str) -> Written | None:
    """Encode one partition of table ``name`` (cast to its schema) at ``path``."""
    from etl_duck.lake.schemas import SCHEMAS

    if not table.num_rows:
        return None
    # no mkdir: if the scratch folder is gone, its writer died and the next one removed it
    _write_parquet(table.cast(SCHEMAS[name]), Path(path), make_folder=False)
    failpoint("partition written")
    return Written(path, table.num_rows, file_checksum(path))


class LakeError(RuntimeError):
    """A problem with the data directory whose message is one sentence naming the thing,
    the cause and the fix (the CLI prints it as is)."""


class LakeDamaged(LakeError):
    """A file of the lake cannot be read. The message names it and the way out."""


class SnapshotGone(LakeError):
    """A snapshot a reader held was removed under it: its lease lapsed (an answer that
    read for longer than an older version is held once a newer one lands) and a commit
    expired it. Nothing is wrong with the lake: asked again, the answer reads the current
    version."""


class DiskFull(LakeError):
    """A write failed for lack of space; the previous version is intact."""


# --------------------------------------------------------------------------- the lake


class LockTimeout(LakeError):
    """Another writer (an ingest, the bot's fetch) holds the data directory's lock."""


class Lake:
    """The versioned Parquet lake of a data directory (``raw/`` and ``quarantine/`` belong
    to :mod:`etl_duck.lake.rawstore`)."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.snapshots = self.data_dir / SNAPSHOT_DIR
        self.link = self.data_dir / LINK
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
        path = snap / "_manifest.json"
        try:
            return _parsed_manifest(path)
        except FileNotFoundError:
            raise LakeDamaged(
                f"{path} is missing: the lake cannot be read (raw/ is intact: run "
                "`etl-duck rebuild` to recreate the lake from it)"
            ) from None
        except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
            raise LakeDamaged(
                f"{path} is damaged ({type(exc).__name__}: {exc}); the lake cannot be "
                "read (raw/ is intact: run `etl-duck rebuild` to recreate the lake from it)"
            ) from None

    def lease(
        self,
        snapshot: Path,
        seconds: float = LEASE_SECONDS,
        holder: str | None = None,
        *,
        named: str | None = None,
    ) -> bool:
        """Hold ``snapshot`` for ``seconds`` (expiry keeps it meanwhile): a file whose mtime
        is the expiry time; renew by calling again. False when the snapshot is already
        gone. Expiry scans leases and removes snapshots under an exclusive lock of the
        leases folder, a lease takes it shared: a snapshot is either leased before expiry
        looks, or gone before the lease (never removed under a fresh lease). ``named``: a
        holder named across processes (:func:`valid_holder_name`), not this process's."""
        folder = self.snapshots / LEASES
        path = folder / f"{snapshot.name}{_lease_suffix(holder, named)}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with lease_lock(self.snapshots, shared=True):
                if not snapshot.exists():
                    return False
                path.touch()
                until = time.time() + seconds
                os.utime(path, (until, until))
        except OSError as exc:
            if exc.errno not in _CANNOT_WRITE:
                raise
            # a reader that may not write (a read-only mount or copy, another user's lake)
            # or cannot (a full disk, quota or inode table: no commit then goes through to
            # expire anything) reads without a lease rather than not at all: on a read-only
            # mount no writer can expire anything; elsewhere a long read may lose its files
            # to a commit's expiry (it then fails and is asked again)
            _warn_unleased(folder, exc)
            return snapshot.exists()
        return True

    def pin(
        self,
        seconds: float = LEASE_SECONDS,
        holder: str | None = None,
        *,
        named: str | None = None,
    ) -> Path | None:
        """The current snapshot, resolved once and leased: read it for ``seconds``. This
        thread's leases of older snapshots shrink to :data:`REPIN_GRACE_S` (a read in
        flight finishes): a reader that pins after every commit holds the last minute's
        snapshots, not ten minutes' worth (a burst of commits would keep them all).
        ``named``: the holder is that name, whatever the process (``etl-duck lake-path
        --holder NAME`` from a notebook's new shell each time): the older leases of the
        same name shrink, not only this process's."""
        for _ in range(3):  # the link may move between the readlink and the lease
            snap = self.current_dir()
            if snap is None:
                return None
            if self.lease(snap, seconds, holder, named=named):
                self._shorten_older_leases(snap, holder, named)
                return snap
        raise LakeDamaged(f"{self.link} keeps pointing at a snapshot that is gone")

    def _shorten_older_leases(
        self, current: Path, holder: str | None = None, named: str | None = None
    ) -> None:
        mine = _lease_suffix(holder, named)
        until = time.time() + REPIN_GRACE_S
        for path in (self.snapshots / LEASES).glob(f"*{mine}"):
            if path.name == current.name + mine:
                continue
            with contextlib.suppress(OSError):  # expiry may have removed it meanwhile
                if path.stat().st_mtime > until:
                    os.utime(path, (until, until))

    def fresh_manifest(self) -> Manifest:
        """An empty manifest whose version continues after every snapshot on disk (for a
        rebuild, which must not read a possibly damaged current manifest), with a new lake
        identity: a lake deleted and rebuilt starts again at version 1, and its readers
        tell it from the one they read by its id (``Manifest.lake``)."""
        latest = self.version()
        if self.snapshots.exists():
            for child in self.snapshots.iterdir():
                stem = child.name.split(".", 1)[0]
                if stem.startswith("v") and stem[1:].isdigit():
                    latest = max(latest, int(stem[1:]))
        return Manifest(latest, 0.0, Manifest.empty().partitions, {}, lake=new_lake_id())

    def version(self) -> int:
        """The committed version: one readlink, no file read (checked before every query)."""
        try:
            target = os.readlink(self.link)
        except FileNotFoundError:
            return 0
        return int(target.rsplit("/v", 1)[1])

    def read_state(
        self, name: str, snapshot: Path | None = None, *, keep: bool = False
    ) -> pa.Table:
        """A state table (all its year shards), ordered by file name. ``keep``: the writer's
        read, which every commit repeats: unchanged shards come from memory (see
        ``_SHARDS``); a reader (``status``) keeps nothing."""
        from etl_duck.lake.schemas import STATE_SCHEMAS

        snap = snapshot or self.current_dir()
        if snap is None:
            return STATE_SCHEMAS[name].empty_table()
        manifest = self.manifest(snap)
        if not manifest.shards:  # a snapshot written before tables were sharded
            path = snap / "_state" / f"{name}.parquet"
            if not path.exists():
                return STATE_SCHEMAS[name].empty_table()
            return conform(read_parquet_file(path), STATE_SCHEMAS[name])
        shards = manifest.shards.get(f"state/{name}", {})
        group = f"state/{name}" if keep else None
        return _read_shards(snap, shards, STATE_SCHEMAS[name], keep=group)

    def read_serving(
        self,
        snapshot: Path | None = None,
        years: set[str] | None = None,
        tables: Collection[str] | None = None,
    ) -> dict[str, pa.Table]:
        """The compact serving tables of a snapshot (see :mod:`etl_duck.lake.rollups`): all of
        it, or only the shards of ``years`` (a year's key picks both of its shards; a
        career's key, ``all`` or ``prior-YYYY``, picks that shard), of every table or of
        ``tables``. Empty if it has none."""
        import pyarrow.parquet as pq

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
            name = group.removeprefix("serving/")
            if name != group and (tables is None or name in tables):
                picked = {
                    k: p
                    for k, p in shards.items()
                    if years is None or k in years or shard_year(k) in years
                }
                out[name] = _read_shards(snap, picked, None)
        return out

    def read_serving_shards(
        self, snapshot: Path, keys: Mapping[str, set[str]]
    ) -> dict[str, pa.Table]:
        """Exactly the shards ``keys`` names (serving table → shard keys), one table each."""
        manifest = self.manifest(snapshot)
        out: dict[str, pa.Table] = {}
        for name, wanted in keys.items():
            shards = manifest.shards.get(f"serving/{name}", {})
            out[name] = _read_shards(
                snapshot, {k: p for k, p in shards.items() if k in wanted}, None
            )
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

    # ---- writing (one writer at a time)

    def writer_busy(self) -> bool:
        """True when a writer (an ingest, the bot's fetch, in any process) holds the writer
        lock now: what it has stored but not committed yet is its work in progress, not a
        crash's leftovers. A probe for readers (``status``): the lock taken shared without
        waiting and let go at once (a writer starting meanwhile retries 50 ms later);
        creates nothing (no lock file: no writer ever ran here)."""
        try:
            fd = os.open(self.data_dir / WRITER_LOCK, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:  # a file system without flock: no writer can be told apart
            return False
        finally:
            os.close(fd)  # closing the descriptor releases the probe's lock
        return False

    @contextlib.contextmanager
    def writer_lock(self, timeout: float = 600.0) -> Iterator[None]:
        """Serialise writers (bot and CLI may both try). Readers never take it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / WRITER_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LockTimeout(
                            f"another ingest holds {self.data_dir}/.writer.lock (the bot's "
                            "fetch, or another etl-duck command): wait for it and run the "
                            "command again"
                        ) from None
                    time.sleep(0.05)
            self.recover()
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def recover(self) -> None:
        """Remove what a crashed commit left (staging folders, snapshots renamed but never
        linked); relink a ``lake`` link that went missing to the newest complete snapshot."""
        if not self.snapshots.exists():
            return
        current = self.current_dir()
        if current is None or not current.exists():
            current = self._relink_newest()
        for child in self.snapshots.iterdir():
            if child.name.endswith(".tmp") and child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            elif current is not None and child.name > current.name and child.name[1:].isdigit():
                shutil.rmtree(child, ignore_errors=True)  # renamed but never linked
        for leftover in self.data_dir.glob(".lake-link.*"):
            leftover.unlink(missing_ok=True)

    def _relink_newest(self) -> Path | None:
        """The link is gone (deleted by hand, a bad restore): point it at the newest snapshot
        if its manifest reads and its files all exist — never at nothing, which would let
        the next commit publish a lake of only its own files. If the newest is damaged,
        relink nothing (None): an older snapshot lacks the newest rounds, and publishing on
        top of it (then collecting the newer one) would lose them without a word. The
        ingest then refuses and names `etl-duck rebuild`."""
        names = sorted(
            (
                c.name
                for c in self.snapshots.iterdir()
                if c.name[:1] == "v" and c.name[1:].isdigit()
            ),
            reverse=True,
        )
        for name in names:
            snap = self.snapshots / name
            if not (snap / "_manifest.json").exists():
                continue  # never finished, never published
            try:
                manifest = Manifest.from_json((snap / "_manifest.json").read_text())
            except (OSError, ValueError, KeyError, TypeError, IndexError):
                log.warning("the lake link is missing and %s's manifest is damaged", snap)
                return None
            if not all((snap / f).exists() for f in manifest.files()):
                log.warning("the lake link is missing and %s lacks some of its files", snap)
                return None
            log.warning("the lake link was missing: relinked to %s", snap)
            self._publish(name)
            return snap.resolve()
        return None

    def _publish(self, vname: str) -> None:
        tmp_link = self.data_dir / f".lake-link.{os.getpid()}"
        tmp_link.unlink(missing_ok=True)
        os.symlink(f"{SNAPSHOT_DIR}/{vname}", tmp_link)
        os.replace(tmp_link, self.link)  # THE commit point: one atomic rename
        fsync_dir(self.data_dir)

    def commit(
        self,
        changes: Mapping[str, Mapping[date, pa.Table | Written | None]],
        state: Mapping[str, Mapping[str, pa.Table | None]],
        serving: Mapping[str, Mapping[str, pa.Table | None]] | None = None,
        options: Mapping[str, Any] | None = None,
        base: Manifest | None = None,
        *,
        fresh: bool = False,
        threads: int = 1,
    ) -> Manifest:
        """Write the next snapshot and switch the link to it. Call under ``writer_lock``.

        ``changes``: per table, the full new content of each changed session-date
        partition (``None`` or an empty table removes it; a :class:`Written` file in
        :meth:`scratch` is moved in). ``state`` and ``serving``: per table, the full new
        content of each changed year shard (same rule). Everything not named is carried
        over from the current snapshot by hard link. ``options``: the settings the content
        was derived with (kept from the current snapshot if None). ``base``: the manifest
        the changes apply to (default: the current snapshot's; a rebuild passes
        :meth:`fresh_manifest`, so nothing is carried over). ``fresh``: build the folder
        whole, trusting no earlier snapshot (a rebuild). ``threads``: encode the files on
        that many threads (a live commit's few files; a backfill's whole years keep one).

        The cost does not grow with the history: the new snapshot is built in a *spare*
        snapshot's folder (one that is neither current nor previous nor leased), which
        already holds all but the few partitions that changed since its version; only
        those are unlinked and linked, and only the files and folders written are synced.
        Without a spare (the first commits, a rebuild) the folder is built whole.
        """
        current_snap = self.current_dir()
        if base is not None:
            old = base
        else:
            old = self.manifest(current_snap) if current_snap else Manifest.empty()
        version = old.version + 1
        vname = f"v{version:08d}"
        self.snapshots.mkdir(parents=True, exist_ok=True)
        staging = self.snapshots / f"{vname}.tmp"
        if staging.exists():
            shutil.rmtree(staging)
        manifest, sources = self._plan(old, version, changes, state, serving or {}, options)
        donor = None if fresh or current_snap is None else self._claim_spare(current_snap, staging)
        if donor is None:
            staging.mkdir()
        built = _Build(staging, donor.files() if donor is not None else {}, threads)
        built.place_all(manifest.files(), sources, current_snap)
        built.drop_rest()
        manifest = manifest.with_checksums(built.checksums)
        failpoint("state written")
        with open(staging / "_manifest.json", "w") as fh:
            fh.write(manifest.to_json())
        built.written.append(staging / "_manifest.json")
        # durable before it is renamed into place: exactly the files written and the
        # folders whose entries changed (not the machine: os.sync waited for every
        # other process's dirty pages)
        sync_paths(built.written, built.folders)
        failpoint("snapshot staged")
        final = self.snapshots / vname
        os.replace(staging, final)
        fsync_dir(self.snapshots)
        failpoint("snapshot renamed")
        self._publish(vname)
        failpoint("link swapped")
        self.drop_scratch()
        with contextlib.suppress(OSError):
            _remember_manifest(final / "_manifest.json", manifest)
        return manifest

    def _plan(
        self,
        old: Manifest,
        version: int,
        changes: Mapping[str, Mapping[date, pa.Table | Written | None]],
        state: Mapping[str, Mapping[str, pa.Table | None]],
        serving: Mapping[str, Mapping[str, pa.Table | None]],
        options: Mapping[str, Any] | None,
    ) -> tuple[Manifest, dict[str, _Source]]:
        """The next manifest, and where each of its files comes from: the current
        snapshot (unchanged), a worker's scratch file, or a table to encode now."""
        import pyarrow as pa

        from etl_duck.lake.schemas import SCHEMAS, STATE_SCHEMAS

        vname = f"v{version:08d}"
        sources: dict[str, _Source] = {}
        partitions: dict[str, dict[str, Partition]] = {}
        for table in TABLES:
            parts = dict(old.partitions.get(table, {}))
            for d, t in sorted(changes.get(table, {}).items()):
                iso = d.isoformat()
                parts.pop(iso, None)
                if t is None or (isinstance(t, pa.Table) and t.num_rows == 0):
                    continue
                rel = f"{table}/session_date={iso}/{vname}.parquet"
                if isinstance(t, Written):
                    parts[iso] = Partition(rel, version, t.rows, t.checksum)
                    sources[rel] = ("move", t.path)
                else:
                    parts[iso] = Partition(rel, version, t.num_rows)  # checksum once written
                    sources[rel] = ("write", t.cast(SCHEMAS[table]))
            partitions[table] = parts
        shards: dict[str, dict[str, Partition]] = {}
        for kind, changed_groups in (("state", state), ("serving", serving)):
            groups = {g for g in old.shards if g.startswith(f"{kind}/")}
            groups |= {f"{kind}/{name}" for name in changed_groups}
            for group in sorted(groups):
                kept = dict(old.shards.get(group, {}))
                name = group.split("/", 1)[1]
                for key, t in sorted(changed_groups.get(name, {}).items()):
                    kept.pop(key, None)
                    if t is None or t.num_rows == 0:
                        continue
                    rel = f"{group_dir(group)}/{key}-{vname}.parquet"
                    schema = STATE_SCHEMAS.get(name) if kind == "state" else None
                    kept[key] = Partition(rel, version, t.num_rows)
                    sources[rel] = ("write", t if schema is None else t.cast(schema))
                shards[group] = kept
        manifest = Manifest(
            version,
            time.time(),
            partitions,
            shards,
            dict(old.options if options is None else options),
            # carried; a lake written before lakes had an id (or a first commit on nothing)
            # gets one now
            old.lake or new_lake_id(),
        )
        # every other file of the manifest is linked from the current snapshot; checksums
        # of the files encoded now are known once they are written
        return manifest, sources

    def _claim_spare(self, current: Path, staging: Path) -> Manifest | None:
        """Take the newest snapshot folder that no reader can be using (not current, not
        the one before it, not leased) as the new snapshot's folder: renamed to
        ``staging`` at once (a crash leaves a ``.tmp`` folder the next writer removes).
        Its manifest says which files it holds."""
        names = sorted(
            (
                c.name
                for c in self.snapshots.iterdir()
                if c.name[:1] == "v" and c.name[1:].isdigit()
            ),
            reverse=True,
        )
        older = [n for n in names if n < current.name]
        with lease_lock(self.snapshots, shared=False):
            from etl_duck.lake.gc import live_leases  # gc imports this module

            held = live_leases(self.snapshots)
            for name in older[1:]:  # older[0] is the previous snapshot: kept for readers
                if name in held:
                    continue
                try:
                    manifest = _parsed_manifest(self.snapshots / name / "_manifest.json")
                except (OSError, ValueError, KeyError, TypeError, IndexError):
                    continue  # not a usable donor: expiry removes it
                os.replace(self.snapshots / name, staging)
                return manifest
        return None


#: manifests parsed in this process, by file identity: a writer that committed the last
#: versions parses neither its base nor its spare again (~20 ms each at 10 years, growing
#: with the history), and a reader parses a version once
_MANIFESTS: dict[tuple[str, int, int, int], Manifest] = {}
_MANIFESTS_LOCK = threading.Lock()
#: current, previous, the one being written and the spares. A process that starts on
#: snapshots another wrote (the bot after a backfill) parses its first spares; with 4,
#: each commit then added two (its own, its spare's) and dropped the next spare's, so
#: every commit parsed one again, for good (15-74 ms at 30 years)
_MANIFESTS_KEPT = 6


def _parsed_manifest(path: Path) -> Manifest:
    st = path.stat()
    # the file's identity, not its path: a folder is renamed (staging → version → spare)
    # with its manifest, and a data dir deleted and recreated reuses version names
    key = (str(path.parent.name), st.st_ino, st.st_mtime_ns, st.st_size)
    with _MANIFESTS_LOCK:
        got = _MANIFESTS.pop(key, None)
        if got is not None:
            _MANIFESTS[key] = got  # used last, dropped last
    if got is not None:
        return got
    got = Manifest.from_json(path.read_text())
    with _MANIFESTS_LOCK:
        _MANIFESTS[key] = got
        while len(_MANIFESTS) > _MANIFESTS_KEPT:
            del _MANIFESTS[next(iter(_MANIFESTS))]
    return got


def _remember_manifest(path: Path, manifest: Manifest) -> None:
    """The manifest a commit just wrote (and renamed into place) is known: no parse."""
    st = path.stat()
    with _MANIFESTS_LOCK:
        _MANIFESTS[(str(path.parent.name), st.st_ino, st.st_mtime_ns, st.st_size)] = manifest
        while len(_MANIFESTS) > _MANIFESTS_KEPT:
            del _MANIFESTS[next(iter(_MANIFESTS))]


def group_dir(group: str) -> str:
    """Folder of a shard group inside a snapshot: ``state/files`` → ``_state/files``."""
    return "_" + group


#: state shards read in this process, by file identity, for the group's last read: every
#: commit reads the whole ledger and round index, of which it changes a year or two (the
#: other ~30 shards of a 30-year lake were read again, ~35 ms of every commit). A shard
#: file is never rewritten (a new version is a new file), and hard links share the
#: identity, so one entry serves every snapshot holding the file. The key is the manifest's
#: entry (name with its version, checksum, rows) and the file's identity (device, inode,
#: time, size): a reused inode of a deleted shard, or a file changed in place, is read
#: again. Held: the state tables themselves (~9 MiB at 10 years) in a process that commits.
_ShardKey = tuple[str, str, int, int, int, int, int]
_SHARDS: dict[str, dict[_ShardKey, pa.Table]] = {}
_SHARDS_LOCK = threading.Lock()


def _shard_key(path: Path, part: Partition) -> _ShardKey:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise LakeDamaged(damaged_message(path, "missing")) from None
    except OSError as exc:
        raise LakeDamaged(damaged_message(path, f"unreadable ({exc})")) from None
    return (part.file, part.checksum, part.rows, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


#: from this many files on, a group's shards are read by a few threads at once (PyArrow
#: decodes without the GIL): a new process reads every year shard of the state tables, 60
#: files at 30 years (~100 ms one by one in a new process, ~80 ms thus on two cores)
PARALLEL_READS_FROM = 8
#: from this many files to encode, a commit given threads encodes them at once (``_encode_all``)
PARALLEL_WRITES_FROM = 4


def _read_files(paths: list[Path]) -> list[pa.Table]:
    if len(paths) < PARALLEL_READS_FROM:
        return [read_parquet_file(p) for p in paths]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="etl-duck-read") as pool:
        return list(pool.map(read_parquet_file, paths))


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` cast to ``schema``; a column the schema gained since the file was written
    is null (its readers say what null means), so an older lake stays readable until the
    next ingest re-derives it."""
    import pyarrow as pa

    if table.schema.names != schema.names:
        have = set(table.column_names)
        table = pa.Table.from_arrays(
            [
                table.column(f.name) if f.name in have else pa.nulls(table.num_rows, f.type)
                for f in schema
            ],
            names=schema.names,
        )
    return table.cast(schema)


def _read_shards(
    snap: Path,
    shards: Mapping[str, Partition],
    schema: pa.Schema | None,
    keep: str | None = None,
) -> pa.Table:
    """A shard group's files as one table; ``keep``: remember them under that name (above)."""
    import pyarrow as pa

    ordered = [p for _, p in sorted(shards.items())]
    if keep is None:
        tables = _read_files([snap / p.file for p in ordered])
    else:
        with _SHARDS_LOCK:
            held = _SHARDS.get(keep, {})
        keys = [_shard_key(snap / p.file, p) for p in ordered]
        missing = [(k, snap / p.file) for k, p in zip(keys, ordered, strict=True) if k not in held]
        read = dict(zip([k for k, _ in missing], _read_files([f for _, f in missing]), strict=True))
        used = {k: held[k] if k in held else read[k] for k in keys}
        tables = [used[k] for k in keys]
        with _SHARDS_LOCK:
            _SHARDS[keep] = used
    if schema is not None:
        tables = [conform(t, schema) for t in tables]
    if not tables:
        return pa.table({}) if schema is None else schema.empty_table()
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


_Source = tuple[
    str, Any
]  # ("link", rel in the current snapshot) | ("move", path) | ("write", table)


class _Build:
    """Turns a folder holding one snapshot's files (``have``: rel → Partition; empty for a
    new folder) into the next snapshot's: place what is new, unlink what went."""

    def __init__(self, root: Path, have: Mapping[str, Partition], threads: int = 1) -> None:
        self.root = root
        self.threads = threads
        self.have = dict(have)
        self.written: list[Path] = []  # files whose data must be synced
        self.folders: set[Path] = set()  # folders whose entries changed
        self.checksums: dict[str, str] = {}  # rel → checksum of the files encoded here
        self.encoded: dict[str, str] = {}  # rel → checksum: encoded ahead by _encode_all
        self._made: set[Path] = set()

    def _folder(self, path: Path) -> None:
        folder = path.parent
        if folder in self._made:
            return
        if not folder.exists():
            self._folder(folder)
            folder.mkdir()
            self.folders.add(folder.parent)
        self._made.add(folder)

    def place_all(
        self, files: Iterable[str], sources: Mapping[str, _Source], current: Path | None
    ) -> None:
        """Place every file of the new snapshot: ``sources`` names the written and moved
        ones, every other comes from ``current`` by hard link. Set arithmetic, not a call
        per file: a 30-year snapshot has ~16k files, all but a few already in the donor
        (the per-file loop took ~27 ms of a 300 ms commit)."""
        wanted = set(files)
        missing = wanted - self.have.keys()
        self.have = {rel: p for rel, p in self.have.items() if rel not in wanted}
        encode = [rel for rel in sorted(missing) if sources.get(rel, ("link",))[0] == "write"]
        if self.threads > 1 and len(encode) >= PARALLEL_WRITES_FROM:
            self._encode_all({rel: sources[rel][1] for rel in encode})
        for rel in sorted(missing):
            self.place(rel, sources.get(rel, ("link", rel)), current)

    def _encode_all(self, tables: Mapping[str, pa.Table]) -> None:
        """Encode many files at once (Parquet encodes without the GIL): a live
        commit's ~19 serving, career and state files took 30-34 ms one by one at 30 years.
        ``place`` then finds them written (and passes each file's failpoint in order)."""
        from concurrent.futures import ThreadPoolExecutor

        for rel in tables:
            self._folder(self.root / rel)

        def encode(rel: str) -> str:
            path = self.root / rel
            _write_parquet(tables[rel], path, make_folder=False)
            return file_checksum(path)

        with ThreadPoolExecutor(self.threads, thread_name_prefix="etl-duck-write") as pool:
            self.encoded = dict(zip(tables, pool.map(encode, tables), strict=True))

    def place(self, rel: str, source: _Source, current: Path | None) -> None:
        """Place one file the folder lacks (``place_all`` decides which)."""
        path = self.root / rel
        self._folder(path)
        kind, what = source
        if kind == "link":
            assert current is not None
            os.link(current / rel, path)
        elif kind == "move":
            os.replace(what, path)  # encoded (and synced with the batch) by a worker
            self.written.append(path)
        else:
            checksum = self.encoded.get(rel)
            if checksum is None:
                _write_parquet(what, path, make_folder=False)
                checksum = file_checksum(path)
            failpoint("partition written")
            self.written.append(path)
            self.checksums[rel] = checksum
        self.folders.add(path.parent)

    def drop_rest(self) -> None:
        """Unlink the donor's files the new snapshot does not hold; remove emptied folders."""
        (self.root / "_manifest.json").unlink(missing_ok=True)
        for rel in self.have:
            path = self.root / rel
            path.unlink(missing_ok=True)
            self.folders.add(path.parent)
            with contextlib.suppress(OSError):  # not empty: another file lives there
                path.parent.rmdir()
                self.folders.add(path.parent.parent)
        self.folders = {f for f in self.folders if f.exists()}


#: a holder name of ``lake-path --holder``: letters, digits, ``_`` and ``-`` (no dot: the
#: lease file's name is split on dots; no glob character)
_HOLDER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
HOLDER_MAX = 64


def valid_holder_name(name: str) -> bool:
    """``name`` can name a lease across processes (1-64 letters, digits, ``_``, ``-``)."""
    return 0 < len(name) <= HOLDER_MAX and set(name) <= _HOLDER_CHARS


def _lease_suffix(holder: str | None, named: str | None) -> str:
    """What follows the snapshot's name in a lease file's name: ``.<pid>.<holder>`` (by
    default this thread; a reader that spans threads, the query API, names itself, so any
    of its threads can end its lease), or ``.named.<NAME>`` for a holder named across
    processes."""
    if named is not None:
        if not valid_holder_name(named):
            raise ValueError(
                f"holder name {named!r}: give 1-{HOLDER_MAX} letters, digits, '_' or '-'"
            )
        return f".{NAMED}.{named}"
    return f".{os.getpid()}.{holder if holder is not None else threading.get_ident()}"


_UNLEASED_WARNED: set[str] = set()


#: why a reader's lease cannot be written: it may not write there, or the disk is full
_CANNOT_WRITE = frozenset(
    (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EMLINK)
)


def _warn_unleased(folder: Path, exc: OSError) -> None:
    """Once per leases folder and process: reading without leases."""
    if str(folder) not in _UNLEASED_WARNED:
        _UNLEASED_WARNED.add(str(folder))
        log.warning(
            "cannot write a reader's lease in %s (%s): reading without one — a commit by "
            "another process may expire a snapshot under a long query",
            folder,
            exc.strerror or exc,
        )


@contextlib.contextmanager
def lease_lock(snapshots: Path, *, shared: bool) -> Iterator[None]:
    """The leases folder's lock: readers' leases share it, snapshot expiry holds it alone
    (for milliseconds: a scan of the leases and a few renames)."""
    folder = snapshots / LEASES
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def damaged_message(path: Path | str, problem: str) -> str:
    """The one sentence for a lake file that cannot be read."""
    return (
        f"{path}: {problem}. The lake cannot be read at this version; `etl-duck check` "
        "lists every damaged file and which older snapshot still holds an intact copy, "
        "`etl-duck rebuild` recreates the lake from raw/ (the source of truth)"
    )


def read_parquet_file(path: Path) -> pa.Table:
    """One Parquet file of the lake; LakeDamaged (naming it) if it cannot be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).read()
    except FileNotFoundError:
        raise LakeDamaged(damaged_message(path, "missing")) from None
    except (OSError, pa.ArrowException) as exc:
        raise LakeDamaged(damaged_message(path, f"unreadable ({exc})")) from None


@dataclass(frozen=True)
class Damage:
    """A file of the current snapshot that does not match its manifest."""

    file: Path
    problem: str  # "missing" | "checksum mismatch"
    intact_copy: Path | None  # the same partition in an older snapshot, verified


def verify(lake: Lake) -> tuple[Manifest, list[Damage]]:
    """Check every file of the current snapshot against the checksums in its manifest
    (``etl-duck check``). Files written before checksums existed are checked for presence."""
    snap = lake.current_dir()
    if snap is None:
        raise LakeDamaged(f"no lake at {lake.link}: nothing to check (run `etl-duck ingest`)")
    manifest = lake.manifest(snap)
    damages: list[Damage] = []
    older = sorted(
        (c for c in lake.snapshots.iterdir() if c.name[:1] == "v" and c.name[1:].isdigit()
         and c.name < snap.name),
        reverse=True,
    )  # fmt: skip
    for rel, part in sorted(manifest.files().items()):
        path = snap / rel
        if not path.exists():
            problem = "missing"
        elif part.checksum and file_checksum(path) != part.checksum:
            problem = "checksum mismatch"
        else:
            continue
        damages.append(Damage(path, problem, _intact_copy(lake, older, path, rel)))
    return manifest, damages


def _shard_name(rel: str) -> str:
    """A shard file's key: ``2025``, ``2025-12-01``, ``prior-2025``, ``all`` (``KEY-vN``)."""
    return rel.rsplit("/", 1)[1].rsplit("-v", 1)[0]


def _intact_copy(lake: Lake, older: list[Path], damaged: Path, rel: str) -> Path | None:
    """The same partition or shard in an older snapshot, if its own checksum holds and it
    is not the same file (a hard link shares the damage)."""
    key = rel.rsplit("/", 1)[0]  # table/session_date=… or _state/<name>
    for snap in older:
        try:
            manifest = lake.manifest(snap)
        except LakeDamaged:
            continue
        for other_rel, part in manifest.files().items():
            if other_rel.rsplit("/", 1)[0] != key:
                continue
            if rel.startswith("_") and _shard_name(other_rel) != _shard_name(rel):
                continue  # shards: the same key (a year, a year's recent dates, a career's)
            other = snap / other_rel
            try:
                same = damaged.exists() and os.path.samefile(other, damaged)
                if not same and part.checksum and file_checksum(other) == part.checksum:
                    return other
            except OSError:
                continue
    return None
