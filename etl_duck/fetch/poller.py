"""Poll the game server's stats folder and hand new files to the ingest.

One poll: list the remote folder → keep stats file names that are safe and whose size
matches no version in the raw store (or whose size or mtime changed since the name was
fetched: the look it was fetched at is kept across processes, :mod:`etl_duck.fetch.looks`)
→ take those that are stable: size and mtime unchanged over two looks, never on the first
(a game host whose clock is behind ours makes a file being written look old); a file older
than ``fetch_stable_seconds`` by our clock, with an mtime in our future (the host's clock is
ahead: its age tells nothing) or with none (the server sends none), gets its second look
``fetch_recheck_s`` later within the same poll, a younger one at the next poll → lstat
(regular files only) →
download with bounded parallelism, each verified against its listed size → write the batch
into the fetch's own folder (``data/.fetch/``) → hand the paths to ``ingest`` once → drop
the folder.

The fetch never writes ``raw/``: the ingest stores what it is given through the raw store
(``etl_duck.lake.rawstore``, which keeps every version of a name and never overwrites one)
and lists it as pending before it commits. A crash or a failed ingest loses nothing: what
was not stored is still on the server and is fetched again (its size matches no stored
version); what was stored is committed by the next ingest.

The game server's Lua writes each file in place at round end, so a listed file may be
half-written; the stability rule and the size check keep most partial copies out, and a
copy that was stored while partial is fetched again when the remote file grows (the raw
store keeps it as a new version, which counts because it extends the first).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import math
import os
import shutil
import sqlite3
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from etl_duck.domain.sources import label as server_label
from etl_duck.domain.sources import qualify
from etl_duck.fetch.download import DownloadTimeout, SizeMismatch, download, sftp_reason
from etl_duck.fetch.looks import LOCKED_FIX, Look, Looks, locked, looks_path
from etl_duck.fetch.remote import RemoteFile, is_regular, list_stats_files
from etl_duck.fetch.sftp import (
    CONNECTION_ERRORS,
    AuthError,
    Connection,
    FetchConfigError,
    FetchConnectionError,
    FetchError,
    HostKeyError,
)
from etl_duck.lake.rawstore import RawStore

if TYPE_CHECKING:
    from etl_duck.settings import Settings

log = logging.getLogger(__name__)

Ingest = Callable[[list[Path]], object]
Progress = Callable[[int, int], object]

FETCH_DIR = ".fetch"  # under the data dir: downloads waiting for the ingest
#: a download folder this old whose owner holds no lock file belongs to a dead fetch (one of
#: a version that kept none, or on a file system without flock)
_STALE_S = 3600.0
#: ``.fetch/<token>.lock``: held (flock) by the Fetcher whose download folders are
#: ``.fetch/<token>-<ns>`` from before its first folder until it closes; one that can be
#: taken belongs to a dead process, whose folders are removed at once
_LOCK_SUFFIX = ".lock"
#: tokens of this process's Fetchers: never another's to remove (a flock emulated by POSIX
#: locks, as on NFS, does not keep one process's descriptors apart)
_LIVE: set[str] = set()
#: a download's failures that mean the link is gone (FetchConnectionError: a request went
#: unanswered and the link was aborted)
_LINK_LOST: tuple[type[BaseException], ...] = (FetchConnectionError, *CONNECTION_ERRORS)
#: an mtime this far in our future: the game host's clock is ahead (not mere rounding)
_AHEAD_S = 5.0
_HELD_RECHECK_S = 3600.0  # names held by this process are checked against raw/ this often


class _Stopped(Exception):
    """`watch` was told to stop before this poll's ingest began: the poll is abandoned."""


def _identity(folder: Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of a folder, None when it is missing: another folder in its place
    (raw/ restored from a backup) has another identity."""
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


@dataclass(slots=True)
class FetchReport:
    """What one poll did. Names are display-safe (control characters escaped)."""

    downloaded: list[str] = field(default_factory=list)
    #: (name, reason): hostile or unusable names, never downloaded.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: (name, reason): download failed this time; retried on the next poll.
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: non-empty files seen but not yet stable (first look, or still changing).
    pending: list[str] = field(default_factory=list)
    #: zero-byte files: never taken (the writer has not written yet, or crashed).
    empty: list[str] = field(default_factory=list)
    #: of ``empty``, those older than ``fetch_stable_seconds`` at two equal looks: not
    #: being written, a round lost (a problem: `fetch` exits 3); a younger one is pending
    empty_old: list[str] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0
    listed: int = 0  # safe stats-named entries in the remote folder
    known: int = 0  # of those, already in the raw store with the same size
    ingested: list[Path] = field(default_factory=list)  # what was handed to ingest
    ingest_result: object = None
    ingest_error: str | None = None
    connection_lost: bool = False
    #: why the connection was lost mid-transfer (with ``connection_lost``)
    connection_error: str | None = None
    #: the record of looks (:mod:`etl_duck.fetch.looks`) could not be read or written this
    #: poll: a sentence naming the file and the fix (`fetch` exits 3)
    looks_error: str | None = None
    #: every file this poll downloaded was content raw/ already holds, and raw/ holds none
    #: of this server's listed files under its name (a renamed server, a mirror): a
    #: sentence naming the server and what it means (not a problem: the exit code stays)
    copies: str | None = None

    def merge(self, later: FetchReport) -> FetchReport:
        """This poll followed by a retry: what landed in either, what is still open after it.
        Both polls' ingest results count (the first's quarantined files are still a
        problem when the retry's ingest went well)."""
        later.downloaded[:0] = self.downloaded
        later.ingested[:0] = self.ingested
        later.bytes += self.bytes
        later.seconds += self.seconds
        later.looks_error = later.looks_error or self.looks_error
        later.copies = later.copies or self.copies
        first, then = self.ingest_result, later.ingest_result
        if then is None:
            later.ingest_result = first
        elif first is not None:
            merge = getattr(first, "merge", None)  # the real ingest's IngestReport
            if callable(merge) and type(first) is type(then):
                later.ingest_result = merge(then)
        return later

    @property
    def committed(self) -> bool:
        """Whether an ingest of this poll (or of its retries) committed something: the real
        ingest says so; any other ingest that returned is taken to have stored its batch."""
        said = getattr(self.ingest_result, "committed", None)
        return said if isinstance(said, bool) else self.ingest_result is not None

    @property
    def ok(self) -> bool:
        return not self.failed and self.ingest_error is None and not self.connection_lost

    @property
    def trouble(self) -> str | None:
        """What makes `watch` back off after this poll (a sentence), or None: a failed
        ingest (it would fail again at once) or a connection lost mid-transfer."""
        if self.ingest_error is not None:
            return f"ingest failed: {self.ingest_error}"
        if self.connection_lost:
            return self.connection_error or "connection lost mid-transfer"
        return None

    def summary(self) -> str:
        parts = [f"{len(self.downloaded)} downloaded ({self.bytes:,} B)"]
        # what the ingest made of them, each file once ("33 ingested, 1 quarantined"), not
        # every file handed to it as "ingested"; nothing, when the ingest failed
        classes = getattr(self.ingest_result, "file_classes", None)
        if self.ingested and self.ingest_error is None:
            parts += classes() if callable(classes) else [f"{len(self.ingested)} ingested"]
        for label, items in (
            ("pending", self.pending),
            ("failed", self.failed),
            ("skipped", self.skipped),
            ("empty", self.empty),
        ):
            if items:
                parts.append(f"{len(items)} {label}")
        if self.ingest_error:
            parts.append("ingest failed")
        if self.connection_lost:
            parts.append("connection lost")
        if self.looks_error:
            parts.append("looks not kept")
        said = f"{', '.join(parts)} in {self.seconds:.2f} s"
        # the one line every front end prints (fetch, watch, the bot's /sync): said there
        return f"{said}; {self.copies}" if self.copies else said


class Fetcher:
    """Polls the game server's stats folder and hands new files to ``ingest``.

    ``ingest`` is called once per poll with the batch's paths, in a worker thread (the
    pipeline passes :class:`etl_duck.pipeline.Ingestor`). ``clock`` (epoch seconds) is
    compared with remote mtimes to decide whether a first sighting gets its second look
    within the same poll; tests inject it. ``progress(done, total)``
    is called as downloads finish (the CLI draws a bar with it). Nothing here blocks the
    event loop: file-system work and ingest run in worker threads.
    """

    def __init__(
        self,
        settings: Settings,
        ingest: Ingest,
        *,
        clock: Callable[[], float] = time.time,
        progress: Progress | None = None,
        held_recheck_s: float = _HELD_RECHECK_S,
    ) -> None:
        self.settings = settings
        self.server = settings.server_name  # the game server it fetches from ("" = main)
        self.data_dir = Path(settings.data_dir)
        self.raw = RawStore(self.data_dir)
        self.folder = self.data_dir / FETCH_DIR
        self._ingest = ingest
        self._clock = clock
        self.progress = progress
        self.link = Connection(settings)
        self._poll_lock = asyncio.Lock()
        #: previous look at each not-yet-fetched file: (size, mtime)
        self._seen: dict[str, Look] = {}
        #: (size, mtime) of each listed file whose size the raw store holds, as fetched (or
        #: first seen so, or as recorded by an earlier process): any other look is a rewrite
        self._fetched: dict[str, Look] = {}
        #: the kept looks (:mod:`etl_duck.fetch.looks`) of names not (or no longer) in
        #: ``_fetched``, read at the first poll: a name's first look in this process is
        #: compared with its record, so a new process misses no rewrite a running one sees
        self._recorded: dict[str, Look] = {}
        self._looks_read = False  # read without error (a failed read is tried each poll)
        #: names first seen while the records could not be read: their first look is the
        #: reference in this process but is not recorded (it would replace the record a
        #: rewrite is told by); compared with the record once a read works
        self._unread_firsts: set[str] = set()
        self._unsaved: dict[str, Look] = {}  # looks to record at the end of the poll
        self._looks_warned = False
        self._looks_error: str | None = None  # this poll's trouble with the record
        #: raw/ can lose a copy behind our back (restored from an older backup): the
        #: sizes in _fetched are checked against it again this often, and at once when
        #: raw/ itself is another folder (its (st_dev, st_ino) changed)
        self._held_recheck_s = held_recheck_s
        self._held_checked = -math.inf  # monotonic time of the last full look-up
        self._raw_identity: tuple[int, int] | None = None
        self._polled = False  # a first poll has no earlier look to compare with
        self._warned: set[str] = set()  # hostile names already logged (log once, report always)
        #: name → sizes the ingest found to be content the lake already holds (a mirror of
        #: another server, a CRLF copy): not stored in raw/, so not "known" by its sizes
        #: there; remembered so they are not downloaded again every poll. Kept across
        #: processes with their looks (the looks store's ``duplicates``): read at the first
        #: poll, so a cron `fetch` does not download a renamed server's history every run
        self._duplicate_sizes: dict[str, set[int]] = {}
        self._unsaved_duplicates: dict[str, Look] = {}  # recorded with ``_unsaved``
        self._copies_told = False  # the renamed-server sentence: once a process
        #: files that did not arrive within the timeout: fetched after the others, so one
        #: slow file cannot keep the rest of a batch out poll after poll
        self._slow: set[str] = set()
        self._pending_tried = -1e9  # monotonic time of the last pending-only ingest
        self._housekept = 0.0
        self._token = uuid.uuid4().hex[:8]  # names this Fetcher's download folders
        self._owner: int | None = None  # descriptor of .fetch/<token>.lock, flock held
        #: local epoch seconds (``time.time()``) of the last poll that saw a new or changed
        #: file: when the server last wrote one, by our clock (a remote mtime is the game
        #: host's clock, which may be off by any amount)
        self.last_activity: float | None = None
        #: local epoch seconds (``time.time()``) of the last poll that downloaded a file
        self.last_download: float | None = None
        #: the poll in progress has handed its batch to the ingest (a stop waits for it)
        self._committing = False

    @property
    def committing(self) -> bool:
        """Whether the poll in progress has begun its ingest: a stop of :meth:`watch` waits
        for it to commit (any other poll is abandoned at once)."""
        return self._committing

    async def close(self) -> None:
        await self.link.close()
        self._disown()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ----------------------------------------------------------------- listing

    def _skip(self, report: FetchReport, name: str, reason: str) -> None:
        report.skipped.append((name, reason))
        if len(self._warned) > 10_000:  # a server spraying new names cannot grow it forever
            self._warned.clear()
        if name not in self._warned:
            self._warned.add(name)
            log.warning("skipping remote file %s: %s", name, reason)

    async def _list(self, report: FetchReport) -> list[RemoteFile]:
        files, report.listed = await list_stats_files(
            self.link,
            self.settings.fetch_max_file_bytes,
            lambda name, why: self._skip(report, name, why),
            lambda name, why: report.failed.append((name, why)),
            self._fetched.keys() | self._seen.keys(),  # listed, so parsed, before
        )
        return files

    async def _stored_sizes(self, files: list[RemoteFile]) -> dict[str, set[int]]:
        """Sizes of the stored versions of each listed name (the raw store's ledger). A
        name listed at the size this process already holds (``_fetched``) is not looked up
        again, so a poll's file-system work follows what changed, not the length of the
        folder (30,000 files: 60,000 calls a poll); but every ``held_recheck_s`` and when
        raw/ is another folder than at the last poll, every name is looked up: an operator
        may restore raw/ from an older backup while `watch` or the bot runs."""
        stored = await asyncio.to_thread(self._look_up_sizes, files)
        lost = [
            n
            for n, (size, _) in self._fetched.items()
            if size not in stored.get(n, {size}) and size not in self._duplicate_sizes.get(n, ())
        ]
        for name in lost:  # no longer held: its next look-up must not be skipped
            del self._fetched[name]
        return stored

    def _look_up_sizes(self, files: list[RemoteFile]) -> dict[str, set[int]]:
        now = time.monotonic()
        identity = _identity(self.raw.raw_dir)
        held: dict[str, set[int]] = {}
        if identity == self._raw_identity and now - self._held_checked < self._held_recheck_s:
            held = {
                f.name: {f.size} for f in files if self._fetched.get(f.name, (-1,))[0] == f.size
            }
        else:
            self._raw_identity, self._held_checked = identity, now
        looked = {
            f.name: self.raw.sizes(qualify(f.name, self.server))
            for f in files
            if f.name not in held
        }
        return held | looked

    def _known(self, f: RemoteFile, stored: dict[str, set[int]]) -> bool:
        """This very version is stored (or was found to be a duplicate): not fetched again."""
        if f.size not in stored.get(f.name, ()) and f.size not in self._duplicate_sizes.get(
            f.name, ()
        ):
            return False
        look = (f.size, f.mtime)
        was = self._fetched.get(f.name)
        if was is None:
            # first sight of this name in this process: compared with the look an earlier
            # process recorded; a name with none (stored before looks were kept) is known,
            # and this look is its reference from now on
            recorded = self._recorded.get(f.name)
            if recorded is not None and recorded != look:
                return False  # rewritten since it was fetched: once taken, recorded anew
            self._recorded.pop(f.name, None)
            self._fetched[f.name] = look
            if not self._looks_read:
                self._unread_firsts.add(f.name)
            elif recorded is None:
                self._unsaved[f.name] = look
            return True
        # a look other than the one fetched was rewritten, also to the size of an older
        # stored version (a partial copy): fetched again; a mere touch costs one download,
        # the raw store keeps one copy of identical content
        return was == look

    def _unknown(self, files: list[RemoteFile], stored: dict[str, set[int]]) -> list[RemoteFile]:
        return [f for f in files if not self._known(f, stored)]

    def _is_stable(self, f: RemoteFile) -> bool:
        """Two looks with the same size and mtime: never a first sighting, whatever its age
        by our clock says (the game host's clock may be behind)."""
        return f.size > 0 and self._seen.get(f.name) == (f.size, f.mtime)

    def _looks_old(self, f: RemoteFile, now: float) -> bool:
        return f.mtime is not None and now - f.mtime >= self.settings.fetch_stable_seconds

    def _look_again_now(self, f: RemoteFile, now: float) -> bool:
        """A file not yet seen as it is now that gets its second look within this poll
        (`etl-duck fetch` polls once): one that looks old, or whose mtime is in our future
        (the game host's clock is ahead: a settled file would wait for hours), or that has
        none (a server that sends no mtime: a one-shot fetch never took its files). An empty
        one only when old: two equal looks make it a lost round."""
        if self._seen.get(f.name) == (f.size, f.mtime):
            return False
        if f.mtime is None:  # the server sends none: no telling age, a second look now
            return f.size > 0
        if f.size == 0:
            return self._looks_old(f, now)
        return self._looks_old(f, now) or f.mtime - now > _AHEAD_S

    def _note_activity(self, files: list[RemoteFile], unknown: list[RemoteFile]) -> None:
        """A poll that sees a file it did not see as it is now: the server is writing.

        A first poll has nothing to compare with, so a `watch` (re)started in the middle of
        a session would poll slowly until the next round arrived (up to a slow interval
        late). It takes the newest remote mtime instead, only when that is within the
        session gap before the host's clock and not ahead of it: a wrong mtime then
        speeds up one gap at most, never the week a future one would."""
        if not self._polled:
            self._polled = True
            age = self._newest_age(files)
            if age is not None:
                self.last_activity = time.time() - age
            return
        if any(self._seen.get(f.name) != (f.size, f.mtime) for f in unknown):
            self.last_activity = time.time()

    def _newest_age(self, files: list[RemoteFile]) -> float | None:
        """Seconds since the newest listed file was written (remote mtime against our
        clock), when that is under the session gap; None otherwise."""
        now = self._clock()
        gap = self.settings.session_gap_minutes * 60.0
        ages = [now - f.mtime for f in files if f.mtime is not None and f.mtime - now <= _AHEAD_S]
        newest = min(ages, default=None)
        if newest is None or newest >= gap:
            return None
        return max(newest, 0.0)

    # ----------------------------------------------------------------- poll

    async def poll_once(self) -> FetchReport:
        """List, download what is new and stable, ingest the batch once. See the module doc.

        Raises HostKeyError / AuthError / FetchConfigError (fix the setup),
        FetchConnectionError (retry later) or FetchError (listing failed). Per-file problems,
        including a connection lost mid-download, are in the report instead.
        """
        return await self._poll_locked(None)

    async def _poll_locked(self, stop: asyncio.Event | None) -> FetchReport:
        async with self._poll_lock:
            try:
                return await self._poll(time.perf_counter(), stop)
            finally:
                self._committing = False

    async def _poll(self, t0: float, stop: asyncio.Event | None) -> FetchReport:
        report = FetchReport()
        await self._housekeep()
        self._looks_error = None
        if not self._looks_read:
            await asyncio.to_thread(self._read_looks)
        files = await self._list(report)
        stored = await self._stored_sizes(files)
        unknown = self._unknown(files, stored)
        self._note_activity(files, unknown)
        now = self._clock()
        again = [f for f in unknown if self._look_again_now(f, now)]
        if again:
            # old enough to take (or of no telling age), but seen once only: look again
            # shortly, within this poll, and take what did not change in between. Only
            # these: a young file keeps its look from the last poll (none in a one-shot
            # fetch) and waits for the next poll, or a half-written round that an old file
            # came with was taken after fetch_recheck_s of quiet
            self._seen.update((f.name, (f.size, f.mtime)) for f in again)
            await asyncio.sleep(self.settings.fetch_recheck_s)
            report = FetchReport()  # the second listing's account replaces the first's
            files = await self._list(report)
            stored = await self._stored_sizes(files)
            unknown = self._unknown(files, stored)
        todo: list[RemoteFile] = []
        seen: dict[str, tuple[int, int | None]] = {}
        listed = {f.name for f in files}
        self._duplicate_sizes = {n: s for n, s in self._duplicate_sizes.items() if n in listed}
        for name in [n for n in self._fetched if n not in listed]:
            self._recorded[name] = self._fetched.pop(name)  # gone for now: its record stays
        self._slow &= listed
        report.known = len(files) - len(unknown)
        for f in unknown:
            if f.size == 0:
                report.empty.append(f.name)
                if self._seen.get(f.name) == (0, f.mtime) and self._looks_old(f, now):
                    report.empty_old.append(f.name)
            elif self._is_stable(f):
                todo.append(f)
            else:
                report.pending.append(f.name)
            seen[f.name] = (f.size, f.mtime)
        # only files still to fetch are remembered: bounded by the remote backlog
        self._seen = seen
        todo.sort(key=lambda f: f.name in self._slow)  # stable: the slow ones last
        got = await self._download_all(todo, report) if todo else []
        if got:
            self.last_download = time.time()
            await self._hand_over(got, report, stop)
            if self._remember_duplicates(got, report) == len(got) and not self._copies_told:
                await self._tell_copies(files, len(got), report)
        elif self._pending_due() and await self._crash_left_pending():
            # a killed ingest stored rounds it did not commit: commit them now, not when the
            # next file arrives (the bot and `watch` only ingest what a poll hands over)
            self._pending_tried = time.monotonic()
            await self._hand_over([], report, stop)
        if self._unsaved or self._unsaved_duplicates:
            await self._save_looks()
        report.looks_error = self._looks_error
        report.seconds = time.perf_counter() - t0
        if report.downloaded or report.failed:
            log.info("fetch: %s", report.summary())
        return report

    async def _download_all(
        self, todo: list[RemoteFile], report: FetchReport
    ) -> list[tuple[RemoteFile, bytes]]:
        # one SFTP session for the whole batch: after a failure the workers never reconnect
        # behind each other's back (the next poll does)
        sftp = await self.link.client()
        queue = deque(todo)
        got: list[tuple[RemoteFile, bytes]] = []
        total, done = len(todo), 0
        #: (name, why) when the connection breaks: stop starting new downloads
        lost: list[tuple[str, str]] = []
        stalled: list[str] = []  # a file timed out: its channel may hang; stop, reconnect
        if self.progress is not None:
            self.progress(0, total)
        timeout = self.settings.fetch_timeout_s

        async def worker() -> None:
            nonlocal done
            while queue and not lost and not stalled:
                f = queue.popleft()
                try:
                    if not await is_regular(self.link, sftp, f.raw_name, f.name):
                        self._skip(report, f.name, "not a regular file (a symbolic link?)")
                    else:
                        got.append((f, await download(self.link, sftp, f, timeout)))
                except DownloadTimeout as exc:
                    self._slow.add(f.name)
                    stalled.append(f.name)
                    report.failed.append((f.name, str(exc)))
                except _LINK_LOST as exc:
                    # suspect (a server that drops the link at this file): after the others
                    # from now on, or it keeps every file behind it out poll after poll
                    self._slow.add(f.name)
                    lost.append((f.name, str(exc) or type(exc).__name__))
                    report.failed.append((f.name, f"connection lost: {lost[0][1]}"))
                except SizeMismatch as exc:
                    self._seen.pop(f.name, None)  # it changed: needs two fresh looks
                    report.failed.append((f.name, str(exc)))
                except asyncssh.SFTPError as exc:
                    report.failed.append((f.name, sftp_reason(exc, self.settings.ssh_user)))
                except Exception as exc:  # one odd file never stops the batch
                    log.exception("downloading %s failed", f.name)
                    report.failed.append((f.name, f"unexpected error: {exc!r}"))
                done += 1
                if self.progress is not None:
                    self.progress(done, total)

        # bounded parallelism: at most fetch_parallel files open on the server at once
        n = min(self.settings.fetch_parallel, len(todo))
        await asyncio.gather(*(worker() for _ in range(n)))
        if lost:
            why = lost[0][1]
            # every file in flight when the link went is named (each is fetched last now)
            names = [n for n, _ in lost]
            name = names[0] if len(names) == 1 else f"{len(names)} files ({', '.join(names)})"
            report.connection_lost = True  # `watch` backs off; a slow file alone does not
            report.connection_error = (
                f"connection to {self.link.where} lost while fetching {name}: {why}"
            )
            report.failed.extend((f.name, "not attempted: connection lost") for f in queue)
            log.warning(
                "connection to %s lost while fetching %s: %s; %s fetched after the others "
                "from now on",
                self.link.where,
                name,
                why,
                "it is" if len(names) == 1 else "they are",
            )
            await self.link.drop()
        elif stalled:
            report.failed.extend(
                (f.name, "not attempted: a slow file held the link") for f in queue
            )
            log.warning("%s did not arrive in time; it is fetched last from now on", stalled[0])
            await self.link.drop()  # its read may still be queued on the server
        return got

    async def _hand_over(
        self,
        got: list[tuple[RemoteFile, bytes]],
        report: FetchReport,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Write the batch into this poll's own folder and ingest it in ONE thread call (a
        cancelled poll cannot separate the two: the thread runs on to the end).

        ``stop`` (`watch`'s) already set: raises ``_Stopped`` instead, before anything is
        written (checked here, in the same step that marks the poll committing, so a stop
        either finds the ingest begun and waits for it, or keeps it from beginning)."""
        if stop is not None and stop.is_set():
            raise _Stopped
        self._committing = True
        batch = self.folder / f"{self._token}-{time.time_ns()}"
        # their looks stay in _seen: if the ingest fails they are taken again at once
        for f, _ in got:
            report.downloaded.append(f.name)
            report.bytes += f.size
            self._slow.discard(f.name)
        try:
            report.ingested = [batch / f.name for f, _ in got]
            report.ingest_result = await asyncio.to_thread(self._ingest_batch, batch, got)
        except OSError as exc:  # the local side: disk full, data dir not writable
            report.ingest_error = f"cannot store fetched files in {self.data_dir}: {exc}"
            log.error("%s", report.ingest_error)
        except Exception as exc:
            # nothing is lost: what the ingest stored is pending (the next ingest commits
            # it), the rest is still on the server and is fetched again
            report.ingest_error = f"{type(exc).__name__}: {exc}"
            log.exception("ingest of %d fetched files failed; will retry", len(got))
        else:
            for f, _ in got:  # stored: this (size, mtime) is the version we hold
                self._fetched[f.name] = self._unsaved[f.name] = (f.size, f.mtime)
                self._recorded.pop(f.name, None)
                self._unread_firsts.discard(f.name)

    def _read_looks(self) -> None:
        """The looks earlier processes recorded for this server: at the first poll, and at
        each later one until a read works."""
        try:
            if looks_path(self.data_dir).exists():  # EACCES raises (fetch-state/ not ours)
                with Looks(self.data_dir) as looks:
                    loaded = looks.load(self.server)
                    duplicates = looks.duplicates(self.server)
            else:
                loaded, duplicates = {}, {}  # none yet (a first run, or before they were kept)
        except (sqlite3.Error, OSError) as exc:
            self._looks_trouble("read", exc)
            return
        self._looks_read = True
        # names first seen while unread: seen again as first sights, now with their record
        for name in self._unread_firsts:
            self._fetched.pop(name, None)
            self._recorded.pop(name, None)
        self._unread_firsts.clear()
        kept = {n: look for n, look in loaded.items() if n not in self._fetched}
        self._recorded = kept | self._recorded  # this process's own looks are newer
        for name, look in duplicates.items():
            # a duplicate at the look the name was last fetched at (a later look, stored
            # or not, is in ``looks``): known while the name keeps that look (``_known``
            # compares it with ``_recorded``); a rewrite is fetched again as any other
            if name in kept and kept[name] == look:
                self._duplicate_sizes.setdefault(name, set()).add(look[0])

    async def _save_looks(self) -> None:
        """Record the looks this poll took or first saw, and the duplicates it found: one
        transaction, these names only."""
        batch, self._unsaved = self._unsaved, {}
        dups, self._unsaved_duplicates = self._unsaved_duplicates, {}
        try:
            await asyncio.to_thread(self._write_looks, batch, dups)
        except (sqlite3.Error, OSError) as exc:
            self._unsaved = batch | self._unsaved  # tried again at the next poll
            self._unsaved_duplicates = dups | self._unsaved_duplicates
            self._looks_trouble("record", exc)

    def _write_looks(self, batch: dict[str, Look], duplicates: dict[str, Look]) -> None:
        with Looks(self.data_dir) as looks:
            looks.put(self.server, batch, duplicates)

    def _looks_trouble(self, verb: str, exc: BaseException) -> None:
        """The fetch goes on without its record (a file rewritten at the same length while
        no process runs may then be missed): in this poll's report, logged once per process."""
        fix = (  # a lock is in use, not broken: removing the file is no fix for it
            LOCKED_FIX
            if locked(exc)
            else "a file rewritten at the same length may be missed; fix its permissions or "
            "remove it (nothing else is lost)"
        )
        # a read's trouble names the write's too
        self._looks_error = self._looks_error or (
            f"cannot {verb} {looks_path(self.data_dir)} ({exc}): {fix}"
        )
        if not self._looks_warned:
            self._looks_warned = True
            log.warning(
                "cannot %s the fetched files' looks in %s: %s; the fetch goes on, but a file "
                "rewritten at the same length between two runs may be missed",
                verb,
                looks_path(self.data_dir),
                exc,
            )

    async def _crash_left_pending(self) -> bool:
        names: list[str] = await asyncio.to_thread(self.raw.pending)
        return bool(names)

    def _pending_due(self) -> bool:
        """At most one ingest of no new files per poll interval: if the ingest keeps
        failing (a damaged lake), it is not retried every second by `watch`'s retry."""
        return time.monotonic() - self._pending_tried >= self.settings.poll_interval_s

    def _remember_duplicates(self, got: list[tuple[RemoteFile, bytes]], report: FetchReport) -> int:
        """Remember (and record, at the end of the poll) the files the ingest found to be
        content the lake already holds; how many of ``got`` they are."""
        duplicates = set(getattr(report.ingest_result, "duplicates", ()) or ())
        found = 0
        for f, _ in got:
            if qualify(f.name, self.server) in duplicates:
                self._duplicate_sizes.setdefault(f.name, set()).add(f.size)
                self._unsaved_duplicates[f.name] = (f.size, f.mtime)
                found += 1
        return found

    async def _tell_copies(self, files: list[RemoteFile], n: int, report: FetchReport) -> None:
        """Every file this poll downloaded was a copy of content raw/ holds: when raw/ holds
        none of this server's listed files under its own name either, the server is a
        renamed one or a mirror — said once a process, in the report's summary. Looked up
        here only (one stat a listed name, rare): a quiet poll pays nothing for it."""
        names = [qualify(f.name, self.server) for f in files]
        if await asyncio.to_thread(self.raw.holds_any, names):
            return  # its own files are in raw/: copies among them (a folder copied again)
        self._copies_told = True
        report.copies = (
            f"{server_label(self.server)}: every file downloaded ({n}) is a copy of one already "
            "in raw/ (a renamed server or a mirror?): not counted again, not downloaded again "
            "while unchanged, and their rounds stay under the server they first came from — "
            "see README 'Several game servers'"
        )

    def _ingest_batch(self, batch: Path, got: list[tuple[RemoteFile, bytes]]) -> object:
        batch.mkdir(parents=True, exist_ok=True)
        try:
            paths = []
            for f, data in got:
                (batch / f.name).write_bytes(data)
                paths.append(batch / f.name)
            return self._ingest(paths)
        finally:
            shutil.rmtree(batch, ignore_errors=True)

    async def _housekeep(self) -> None:
        # download folders of dead fetches (a killed process cannot clean its own): those of
        # a dead owner's lock at the first poll, the others once an hour
        if self._housekept and time.monotonic() - self._housekept < _STALE_S:
            return
        self._housekept = time.monotonic()
        await asyncio.to_thread(self._own_and_clean)

    def _own_and_clean(self) -> None:
        if self._owner is None:
            self._owner = self._own()
        self._remove_stale_batches()

    def _own(self) -> int | None:
        """Take this Fetcher's lock file, before it writes its first download folder. None
        when it cannot (its folders are then removed by the age rule only)."""
        path = self.folder / f"{self._token}{_LOCK_SUFFIX}"
        _LIVE.add(self._token)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for _ in range(100):
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    if os.fstat(fd).st_ino == os.stat(path).st_ino:
                        return fd
                except (BlockingIOError, FileNotFoundError):
                    time.sleep(0.01)  # another's probe holds it a moment, or removed it
                except OSError:
                    # no flock here (NFS without locking: ENOLCK, EOPNOTSUPP, EINVAL): a
                    # lock file nobody can lock would keep its token's folders for ever
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                    os.close(fd)
                    raise
                os.close(fd)
        except OSError as exc:  # read-only data dir, no flock: the ingest says what matters
            log.debug("no lock file for %s: %s", path, exc)
        return None

    def _disown(self) -> None:
        """Let go of the lock file: removed first, so no probe takes a download folder that
        a thread of a cancelled poll may still be ingesting for a dead one's (without a lock
        file, only the age rule removes it). A poll after a close (the bot's cog reloaded)
        takes it again before its first download folder."""
        fd, self._owner = self._owner, None
        _LIVE.discard(self._token)
        self._housekept = 0.0
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.folder / f"{self._token}{_LOCK_SUFFIX}")
            os.close(fd)

    def _remove_stale_batches(self) -> None:
        """Remove the download folders of dead fetches: at once those whose owner's lock
        file can be taken (its process is gone: killed, crashed), after an hour the others
        (no lock file, or one that cannot be locked here: no flock, as on NFS without
        locking; such a lock file goes too once an hour old); never one whose lock is held,
        nothing outside ``.fetch/``."""
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return
        locks = {
            e.name.removesuffix(_LOCK_SUFFIX)
            for e in entries
            if e.name.endswith(_LOCK_SUFFIX) and e.is_file(follow_symlinks=False)
        }
        # owned: held (alive, or this process's) or removed with a dead owner's lock
        owned = {t for t in locks if t in _LIVE or self._remove_if_dead(t, entries)}
        cutoff = time.time() - _STALE_S
        unlockable = {f"{t}{_LOCK_SUFFIX}" for t in locks - owned}  # no flock here
        for e in entries:
            with contextlib.suppress(OSError):
                if e.is_dir(follow_symlinks=False):
                    if e.name.partition("-")[0] not in owned and e.stat().st_mtime < cutoff:
                        shutil.rmtree(e.path, ignore_errors=True)
                elif e.name in unlockable and e.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(e.path)

    def _remove_if_dead(self, token: str, entries: list[os.DirEntry[str]]) -> bool:
        """When ``token``'s lock can be taken its owner is gone: its folders and lock file
        are removed while the lock is held, so no owner can come back to them. True when
        its folders are dealt with (removed, or kept: held); False when its lock cannot be
        probed here (no flock, gone, not ours to open): the age rule is theirs."""
        path = self.folder / f"{token}{_LOCK_SUFFIX}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
        except OSError:
            return False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True  # held: its owner is alive
            except OSError:
                return False  # no flock here (ENOLCK, EOPNOTSUPP, EINVAL)
            try:
                if os.fstat(fd).st_ino != os.stat(path).st_ino:
                    return True  # removed and made anew meanwhile: a new owner's
            except OSError:
                return False  # removed meanwhile
            for e in entries:
                if e.name.startswith(f"{token}-") and e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.unlink(path)
            return True
        finally:
            os.close(fd)  # closing the descriptor lets the lock go

    # ----------------------------------------------------------------- watch / check

    async def watch(
        self,
        stop: asyncio.Event,
        active: Callable[[], bool] | None = None,
        *,
        on_report: Callable[[FetchReport], object] | None = None,
        on_trouble: Callable[[str, str | None], object] | None = None,
    ) -> None:
        """Poll until ``stop`` is set: every ``active_poll_interval_s`` while ``active()`` is
        True, else every ``poll_interval_s`` (measured from poll start); ``fetch_recheck_s``
        after a poll that left new files pending, so a file is taken ~0.5 s after it settles.

        After a failure (server unreachable or not answering, connection dropped, the ingest
        failing: each would fail again at once, and a failed ingest downloads the backlog
        again) it retries with exponential backoff from ``reconnect_backoff_s`` up to
        ``reconnect_backoff_max_s``. HostKeyError, AuthError and FetchConfigError are raised:
        retrying cannot fix them. Setting ``stop`` abandons a poll that is still listing or
        downloading (the downloads are in memory: nothing was written, the connection is
        aborted, the next poll or process fetches the files again) and returns at once; a
        poll whose ingest has begun (:attr:`committing`) finishes first, so its batch
        commits. Cancelling the task interrupts even that (safe too: the ingest's thread
        runs on to its commit, which ``asyncio.run`` waits for at its end).
        ``on_trouble(server, sentence)``: each failed poll, then ``(server, None)`` once a poll
        works again (the operator sees an outage without --verbose).
        """
        s = self.settings
        backoff = s.reconnect_backoff_s
        troubled = False
        while not stop.is_set():
            started = time.monotonic()
            delay: float | None = None  # None: the regular interval
            try:
                report = await self._poll_unless_stopped(stop)
                if report is None:
                    return  # stopped mid-poll: abandoned before its ingest began
            except (HostKeyError, AuthError, FetchConfigError):
                raise
            except (FetchError, OSError) as exc:  # OSError: the local disk (full, read-only)
                log.warning("fetch failed: %s; retrying in %.3g s", exc, backoff)
                if on_trouble is not None:
                    on_trouble(self.server, f"{exc}; retrying in {backoff:.3g} s")
                troubled = True
                delay, backoff = backoff, min(backoff * 2, s.reconnect_backoff_max_s)
            else:
                problem = report.trouble
                if problem is None and troubled and on_trouble is not None:
                    on_trouble(self.server, None)
                if on_report is not None:
                    on_report(report)
                if problem is not None:
                    log.warning("fetch: %s; retrying in %.3g s", problem, backoff)
                    if on_trouble is not None:
                        on_trouble(self.server, f"{problem}; retrying in {backoff:.3g} s")
                    troubled = True
                    delay, backoff = backoff, min(backoff * 2, s.reconnect_backoff_max_s)
                else:
                    troubled = False
                    backoff = s.reconnect_backoff_s
                    if report.pending:
                        delay = s.fetch_recheck_s
            await self._wait(stop, started, delay, active)

    async def _poll_unless_stopped(self, stop: asyncio.Event) -> FetchReport | None:
        """One poll of :meth:`watch`, or None when ``stop`` is set before its ingest begins:
        the poll is then cancelled (a stalled download is not waited for). One whose ingest
        has begun runs to its end. Its errors are raised as :meth:`poll_once`'s."""
        poll = asyncio.create_task(self._poll_locked(stop), name=f"poll {self.server}")
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({poll, stopper}, return_when=asyncio.FIRST_COMPLETED)
            # the same step reads `committing` and cancels: a poll not yet committing is
            # suspended before its ingest, and _hand_over lets none begin once stop is set
            if not poll.done() and not self._committing:
                poll.cancel()  # aborts the connection under a download in flight
            await asyncio.wait({poll})
        except asyncio.CancelledError:  # the task running `watch` is cancelled
            poll.cancel()
            await asyncio.wait({poll})
            raise
        finally:
            stopper.cancel()
        if poll.cancelled() or isinstance(poll.exception(), _Stopped):
            return None
        return poll.result()

    async def _wait(
        self,
        stop: asyncio.Event,
        started: float,
        delay: float | None,
        active: Callable[[], bool] | None,
    ) -> None:
        s = self.settings
        while not stop.is_set():
            if delay is not None:
                due = started + delay
            else:
                # re-evaluated each second: a session starting shortens the current wait
                fast = active is not None and active()
                interval = s.poll_interval_s
                if fast:
                    interval = min(interval, s.active_poll_interval_s)
                due = started + interval
            left = due - time.monotonic()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(left, 1.0))

    async def check(self) -> str:
        """Connect and list the remote folder; a one-line description (for ``bot --check``)."""
        report = FetchReport()
        files = await self._list(report)
        stored = await self._stored_sizes(files)
        new = sum(1 for f in files if f.size not in stored.get(f.name, ()))
        folder = self.link.remote_dir.decode("utf-8", "backslashreplace")
        line = f"{self.link.where}:{folder}: {len(files)} stats files, {new} not yet fetched"
        if report.skipped:
            line += f", {len(report.skipped)} skipped (unsafe or unusable names)"
        return line
