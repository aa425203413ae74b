"""Fetch round stats files from the game server over SFTP (asyncssh) into ``data/raw``.

One poll: list the remote folder → keep stats file names that are safe and not yet in the raw
store (same name AND size) → take those that are stable (size and mtime unchanged over two
looks, or older than ``fetch_stable_seconds``) → download with bounded parallelism into
``raw/.incoming`` → verify the size → fsync → write a batch journal → ``os.replace`` into
``raw/YYYY-MM-DD/`` → fsync the folders → ingest the batch once → drop the journal.

The game server's Lua writes each file in place at round end, so a listed file may be
half-written; the stability rule and the size check keep a partial copy out, and a copy that was
stored while partial is fetched again when the remote file grows (its size no longer matches).

Remote files are only ever listed, opened read-only and read: never written, renamed or deleted.
The host key is checked against known_hosts with no fallback, and only the configured key is
offered (no agent, no ``~/.ssh/config``, no passwords).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh

from etl_duck.domain.parse import ParseError, is_stats_file_name, parse_file_name

if TYPE_CHECKING:
    from etl_duck.settings import Settings

log = logging.getLogger(__name__)

Ingest = Callable[[list[Path]], object]
Progress = Callable[[int, int], object]

INCOMING = ".incoming"
_JOURNAL_PREFIX = "batch-"
_PART_SUFFIX = ".part"
_CHUNK = 1 << 20  # larger downloads are written to the temp file as they arrive
_SAFE_READ = 16 * 1024  # read length every SFTP server accepts
_STALE_PART_S = 3600.0  # a temp file this old belongs to a dead fetch
_STALE_JOURNAL_S = 3600.0  # recover another live process's journal only after this long
_NAME_MAX = 255  # bytes, the usual file-system limit for one name

_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)

#: Errors after which the SSH connection is not trusted any more: drop it and reconnect.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,
    asyncssh.DisconnectError,
    asyncssh.ChannelOpenError,
    ConnectionError,
    TimeoutError,
)


# --------------------------------------------------------------------------- errors


class FetchError(Exception):
    """Anything that stops a poll as a whole (per-file problems go into the report)."""


class HostKeyError(FetchError):
    """The server's host key is unknown or differs from known_hosts: we refuse to connect."""


class AuthError(FetchError):
    """The key could not be loaded or the server rejected it."""


class FetchConfigError(FetchError):
    """A required setting is missing or unusable."""


class FetchConnectionError(FetchError):
    """The server could not be reached, or the connection broke while listing (transient)."""


# --------------------------------------------------------------------------- report


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
    bytes: int = 0
    seconds: float = 0.0
    listed: int = 0  # safe stats-named entries in the remote folder
    known: int = 0  # of those, already in the raw store with the same size
    ingested: list[Path] = field(default_factory=list)  # what was handed to ingest
    ingest_result: object = None
    ingest_error: str | None = None
    connection_lost: bool = False

    def merge(self, later: FetchReport) -> FetchReport:
        """This poll followed by a retry: what landed in either, what is still open after it."""
        later.downloaded[:0] = self.downloaded
        later.ingested[:0] = self.ingested
        later.bytes += self.bytes
        later.seconds += self.seconds
        if later.ingest_result is None:
            later.ingest_result = self.ingest_result
        return later

    @property
    def ok(self) -> bool:
        return not self.failed and self.ingest_error is None and not self.connection_lost

    def summary(self) -> str:
        parts = [f"{len(self.downloaded)} downloaded ({self.bytes:,} B)"]
        if self.ingested:
            parts.append(f"{len(self.ingested)} ingested")
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
        return f"{', '.join(parts)} in {self.seconds:.2f} s"


# --------------------------------------------------------------------------- names


def display_name(name: str | bytes) -> str:
    """A name safe to print or log: invalid UTF-8 and control/format characters escaped."""
    text = name.decode("utf-8", "backslashreplace") if isinstance(name, bytes) else name
    return "".join(
        c if unicodedata.category(c) not in _UNSAFE_CATEGORIES else ascii(c)[1:-1] for c in text
    )


#: Control, format (bidi overrides, zero-width), line/paragraph separators, surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def hostile_reason(raw: bytes) -> str | None:
    """Why a remote name must not be used as a local file name, or None when it is safe.

    The server is not trusted: a name with a separator or ``..`` could escape the raw store,
    control characters can hide in logs and terminals (and ``$`` in a regex matches before a
    trailing newline, so the stats pattern alone would accept ``…-round-1.txt\\n``).
    """
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "name is not valid UTF-8"
    if name.startswith("/"):
        return "absolute path"
    if "/" in name or "\\" in name:
        parts = name.replace("\\", "/").split("/")
        return "path traversal" if ".." in parts else "contains a path separator"
    if any(unicodedata.category(c) in _UNSAFE_CATEGORIES for c in name):
        return "control or invisible character in name"
    if len(raw) > _NAME_MAX:
        return f"name longer than {_NAME_MAX} bytes"
    return None


@dataclass(frozen=True, slots=True)
class RemoteFile:
    name: str
    raw_name: bytes  # exactly as the server sent it: used to open the file
    size: int
    mtime: int | None
    date: str  # YYYY-MM-DD folder in the raw store (the file name's date)


# --------------------------------------------------------------------------- raw store


def raw_path(data_dir: Path, name: str) -> Path:
    """Where a stats file lives in the raw store: ``raw/YYYY-MM-DD/<name>``."""
    fn = parse_file_name(name)
    return data_dir / "raw" / fn.end_time.strftime("%Y-%m-%d") / name


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class _Temp:
    """A download in progress under ``raw/.incoming`` (a dot-folder: never in a date folder)."""

    def __init__(self, incoming: Path, name: str, owner: str) -> None:
        incoming.mkdir(parents=True, exist_ok=True)
        # unique per download: two fetchers (bot and CLI) may fetch the same file at once;
        # the owner token lets a Fetcher clean up after its own interrupted polls
        self.path = incoming / f"{name[:120]}.{owner}-{uuid.uuid4().hex[:12]}{_PART_SUFFIX}"
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)

    def write(self, chunks: Sequence[bytes]) -> None:
        assert self._fd is not None
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(self._fd, view) :]

    def finish(self) -> None:
        """fsync and close: the content is durable before anything points at it."""
        assert self._fd is not None
        try:
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


@dataclass(slots=True)
class _Verified:
    file: RemoteFile
    temp: _Temp
    target: Path


class _SizeMismatch(Exception):
    pass


# --------------------------------------------------------------------------- fetcher


class Fetcher:
    """Polls the game server's stats folder and lands new files in ``data_dir/raw``.

    ``ingest`` is called once per poll with the batch of new raw paths, in a worker thread.
    ``clock`` (epoch seconds) is compared with remote mtimes for the age rule; tests inject it.
    ``progress(done, total)`` is called as downloads finish (the CLI draws a bar with it).
    Nothing here blocks the event loop: file-system work and ingest run in worker threads.
    """

    def __init__(
        self,
        settings: Settings,
        ingest: Ingest | None = None,
        *,
        clock: Callable[[], float] = time.time,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.raw_dir = self.data_dir / "raw"
        self.incoming = self.raw_dir / INCOMING
        self._ingest = ingest
        self._clock = clock
        self.progress = progress
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._key: asyncssh.SSHKey | None = None
        self._connect_lock = asyncio.Lock()
        self._poll_lock = asyncio.Lock()
        #: previous look at each not-yet-fetched file: (size, mtime)
        self._seen: dict[str, tuple[int, int | None]] = {}
        self._warned: set[str] = set()  # hostile names already logged (log once, report always)
        self._journals: set[Path] = set()  # our own journals whose ingest has not succeeded
        self._housekept = 0.0
        self._token = uuid.uuid4().hex[:8]  # names this Fetcher's temp files
        self._interrupted = False  # a poll ended early: its temp files may be left over
        #: newest remote mtime among the stats files (epoch s): when the server last wrote one
        self.last_activity: float | None = None
        #: local epoch seconds (``time.time()``) of the last poll that downloaded a file
        self.last_download: float | None = None

    # ----------------------------------------------------------------- connection

    @property
    def _where(self) -> str:
        s = self.settings
        return f"{s.ssh_user}@{s.ssh_host}:{s.ssh_port}"

    @property
    def _remote_dir(self) -> bytes:
        d = self.settings.ssh_remote_dir
        # SFTP does not expand "~"; relative paths already start in the login folder
        if d == "~":
            d = "."
        elif d.startswith("~/"):
            d = d[2:]
        return (d.rstrip("/") or "/").encode("utf-8")

    def _remote_path(self, raw_name: bytes) -> bytes:
        d = self._remote_dir
        return raw_name if d == b"." else d.rstrip(b"/") + b"/" + raw_name

    def _load_key(self) -> asyncssh.SSHKey:
        s = self.settings
        if s.ssh_key_path is None:
            raise FetchConfigError("ETL_DUCK_SSH_KEY_PATH is not set (key authentication only)")
        path = s.ssh_key_path.expanduser()
        passphrase = s.ssh_key_passphrase.get_secret_value() if s.ssh_key_passphrase else None
        try:
            mode = path.stat().st_mode
            key = asyncssh.read_private_key(str(path), passphrase)
        except OSError as exc:
            raise AuthError(f"cannot read SSH key {path}: {exc.strerror or exc}") from None
        except (asyncssh.KeyImportError, ValueError) as exc:
            # the message never contains the passphrase itself, only whether it worked
            hint = "" if passphrase else " (if it is encrypted, set ETL_DUCK_SSH_KEY_PASSPHRASE)"
            raise AuthError(f"cannot load SSH key {path}: {exc}{hint}") from None
        if mode & 0o077:
            log.warning("SSH key %s is readable by group/others (chmod 600 it)", path)
        return key

    def _read_known_hosts(self) -> asyncssh.SSHKnownHosts:
        s = self.settings
        path = s.ssh_known_hosts.expanduser()
        if not path.is_file():
            raise HostKeyError(
                f"known_hosts file {path} does not exist: will not connect to "
                f"{s.ssh_host}:{s.ssh_port} without a verified host key"
            )
        try:
            return asyncssh.read_known_hosts(str(path))
        except (OSError, ValueError) as exc:
            raise HostKeyError(
                f"cannot read known_hosts file {path}: {exc}: will not connect to "
                f"{s.ssh_host}:{s.ssh_port} without a verified host key"
            ) from None

    def _host_key_message(self, known: asyncssh.SSHKnownHosts, peer: str | None) -> str:
        s = self.settings
        host, port = s.ssh_host or "", s.ssh_port
        path = s.ssh_known_hosts.expanduser()
        matched = known.match(host, peer or host, port)
        if any(matched[:2]):
            why = (
                "its host key does NOT match the key recorded in known_hosts (the server was "
                "reinstalled, or someone is intercepting the connection)"
            )
        else:
            entry = host if port == 22 else f"[{host}]:{port}"
            why = f"it is not in known_hosts (add a verified key for {entry})"
        return f"refusing {host} port {port}: {why}; known_hosts file {path}. Will not connect."

    async def _peer(self) -> str | None:
        """The server's address, to look it up in known_hosts as ssh does (name and IP)."""
        s = self.settings
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(s.ssh_host, s.ssh_port)
        except OSError:
            return None
        return str(infos[0][4][0]) if infos else None

    async def _connect(self) -> asyncssh.SFTPClient:
        s = self.settings
        missing = [f"ETL_DUCK_{n.upper()}" for n in ("ssh_host", "ssh_user") if not getattr(s, n)]
        if missing:
            raise FetchConfigError(f"{', '.join(missing)} not set")
        assert s.ssh_host is not None and s.ssh_user is not None
        known = await asyncio.to_thread(self._read_known_hosts)
        if self._key is None:
            # key decryption (bcrypt KDF) is CPU-heavy: keep it off the loop
            self._key = await asyncio.to_thread(self._load_key)
        try:
            conn = await asyncssh.connect(
                s.ssh_host,
                s.ssh_port,
                username=s.ssh_user,
                known_hosts=known,
                client_keys=[self._key],
                # only the configured key: no agent, no ssh config, no other auth methods
                agent_path=None,
                config=None,
                x509_trusted_certs=None,
                password_auth=False,
                kbdint_auth=False,
                host_based_auth=False,
                gss_auth=False,
                gss_kex=False,
                preferred_auth="publickey",
                # AES-GCM first: hardware-accelerated, one AEAD call per packet; with
                # thousands of small SFTP packets chacha20-poly1305 costs ~2x the CPU here
                encryption_algs=_CIPHERS,
                connect_timeout=s.connect_timeout_s,
                login_timeout=s.connect_timeout_s,
                keepalive_interval=s.ssh_keepalive_s,
                keepalive_count_max=3,
            )
        except asyncssh.HostKeyNotVerifiable:
            raise HostKeyError(self._host_key_message(known, await self._peer())) from None
        except asyncssh.PermissionDenied:
            path = s.ssh_key_path.expanduser() if s.ssh_key_path else None
            raise AuthError(
                f"{self._where} rejected key authentication as user {s.ssh_user!r} with key "
                f"{path} (is its public key in ~/.ssh/authorized_keys on the server?)"
            ) from None
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise FetchConnectionError(f"cannot connect to {self._where}: {exc}") from None
        try:
            sftp = await conn.start_sftp_client()
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            conn.abort()
            raise FetchConnectionError(f"cannot start SFTP on {self._where}: {exc}") from None
        self._conn, self._sftp = conn, sftp
        log.info("connected to %s", self._where)
        return sftp

    async def _client(self) -> asyncssh.SFTPClient:
        async with self._connect_lock:
            if self._sftp is not None and self._conn is not None and not self._conn.is_closed():
                return self._sftp
            await self._drop()
            return await self._connect()

    async def _drop(self) -> None:
        """Forget the connection (after a failure): the next poll reconnects."""
        conn, sftp = self._conn, self._sftp
        self._conn = self._sftp = None
        if sftp is not None:
            sftp.exit()
        if conn is not None:
            conn.abort()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 2.0)

    async def close(self) -> None:
        conn, sftp = self._conn, self._sftp
        self._conn = self._sftp = None
        if sftp is not None:
            sftp.exit()
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5.0)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ----------------------------------------------------------------- listing

    async def _list(self, report: FetchReport) -> list[RemoteFile]:
        for attempt in (1, 2):
            reused = self._sftp is not None
            sftp = await self._client()
            try:
                entries = await sftp.readdir(self._remote_dir)  # bytes in, bytes names out
                break
            except _CONNECTION_ERRORS as exc:
                await self._drop()
                # a connection kept between polls may have died quietly (server restart):
                # one fresh attempt at once, before the caller's backoff
                if not reused or attempt == 2:
                    msg = f"connection to {self._where} lost: {exc}"
                    raise FetchConnectionError(msg) from None
            except asyncssh.SFTPError as exc:
                folder = self._remote_dir.decode("utf-8", "backslashreplace")
                msg = f"cannot list {folder!r} on {self._where}: {exc.reason}"
                raise FetchError(msg) from None
        files: list[RemoteFile] = []
        max_bytes = self.settings.fetch_max_file_bytes
        for entry in entries:
            raw = entry.filename
            assert isinstance(raw, bytes)
            if raw in (b".", b".."):
                continue
            reason = hostile_reason(raw)
            if reason is not None:
                self._skip(report, display_name(raw), reason)
                continue
            name = raw.decode("utf-8")
            if not is_stats_file_name(name):
                continue  # endstats, weapon stats, anything else: not ours, not reported
            report.listed += 1
            attrs = entry.attrs
            if attrs.type not in (asyncssh.FILEXFER_TYPE_REGULAR, asyncssh.FILEXFER_TYPE_UNKNOWN):
                self._skip(report, name, "not a regular file")
                continue
            try:
                fn = parse_file_name(name)
            except ParseError as exc:
                self._skip(report, name, exc.reason)
                continue
            if attrs.size is None:
                report.failed.append((name, "server did not report a size"))
                continue
            if attrs.size > max_bytes:
                self._skip(report, name, f"larger than fetch_max_file_bytes ({attrs.size:,} B)")
                continue
            files.append(
                RemoteFile(name, raw, attrs.size, attrs.mtime, fn.end_time.strftime("%Y-%m-%d"))
            )
        return files

    def _skip(self, report: FetchReport, name: str, reason: str) -> None:
        report.skipped.append((name, reason))
        if len(self._warned) > 10_000:  # a server spraying new names cannot grow it forever
            self._warned.clear()
        if name not in self._warned:
            self._warned.add(name)
            log.warning("skipping remote file %s: %s", name, reason)

    def _stored_sizes(self, files: Sequence[RemoteFile]) -> dict[str, int]:
        """The fetch ledger: size of each file's raw copy, where one exists."""
        sizes: dict[str, int] = {}
        for f in files:
            with contextlib.suppress(FileNotFoundError):
                sizes[f.name] = (self.raw_dir / f.date / f.name).stat().st_size
        return sizes

    def _is_stable(self, f: RemoteFile, now: float) -> bool:
        if f.size == 0:
            return False
        if self._seen.get(f.name) == (f.size, f.mtime):
            return True
        return f.mtime is not None and now - f.mtime >= self.settings.fetch_stable_seconds

    # ----------------------------------------------------------------- poll

    async def poll_once(self) -> FetchReport:
        """List, download what is new and stable, ingest the batch once. See the module doc.

        Raises HostKeyError / AuthError / FetchConfigError (fix the setup),
        FetchConnectionError (retry later) or FetchError (listing failed). Per-file problems,
        including a connection lost mid-download, are in the report instead.
        """
        async with self._poll_lock:
            try:
                return await self._poll(time.perf_counter())
            except BaseException:
                self._interrupted = True
                raise

    async def _poll(self, t0: float) -> FetchReport:
        report = FetchReport()
        await self._housekeep()
        files = await self._list(report)
        stored = await asyncio.to_thread(self._stored_sizes, files)
        now = self._clock()
        mtimes = [f.mtime for f in files if f.mtime is not None]
        if mtimes:
            self.last_activity = max(mtimes)
        todo: list[RemoteFile] = []
        seen: dict[str, tuple[int, int | None]] = {}
        for f in files:
            if stored.get(f.name) == f.size:
                report.known += 1
                continue
            if f.size == 0:
                report.empty.append(f.name)
            elif self._is_stable(f, now):
                todo.append(f)
            else:
                report.pending.append(f.name)
            seen[f.name] = (f.size, f.mtime)
        # only files still to fetch are remembered: bounded by the remote backlog
        self._seen = seen
        verified = await self._download_all(todo, report) if todo else []
        batch = await self._commit(verified) if verified else None
        if verified:
            self.last_download = time.time()
        for v in verified:
            report.downloaded.append(v.file.name)
            report.bytes += v.file.size
            self._seen.pop(v.file.name, None)
        await self._ingest_pending(report, batch)
        report.seconds = time.perf_counter() - t0
        if report.downloaded or report.failed:
            log.info("fetch: %s", report.summary())
        return report

    async def _download_all(self, todo: list[RemoteFile], report: FetchReport) -> list[_Verified]:
        sftp = await self._client()
        queue = deque(todo)
        verified: list[_Verified] = []
        total, done = len(todo), 0
        lost: list[str] = []  # set when the connection breaks: stop starting new downloads
        if self.progress is not None:
            self.progress(0, total)

        async def worker() -> None:
            nonlocal done
            while queue and not lost:
                f = queue.popleft()
                try:
                    verified.append(await self._download(sftp, f))
                except _CONNECTION_ERRORS as exc:
                    lost.append(str(exc) or type(exc).__name__)
                    report.failed.append((f.name, f"connection lost: {lost[0]}"))
                except _SizeMismatch as exc:
                    self._seen.pop(f.name, None)  # it changed: needs two fresh looks
                    report.failed.append((f.name, str(exc)))
                except asyncssh.SFTPError as exc:
                    report.failed.append((f.name, _sftp_reason(exc)))
                except OSError as exc:  # local: disk full, permissions on data_dir
                    report.failed.append((f.name, f"local error: {exc}"))
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
            report.connection_lost = True
            report.failed.extend((f.name, "not attempted: connection lost") for f in queue)
            log.warning("connection to %s lost mid-transfer: %s", self._where, lost[0])
            await self._drop()
        return verified

    async def _download(self, sftp: asyncssh.SFTPClient, f: RemoteFile) -> _Verified:
        target = self.raw_dir / f.date / f.name
        temp: _Temp | None = None
        chunks: list[bytes] = []
        buffered = got = 0
        # one request per read call (block_size=0), at most what the server accepts
        max_read = sftp.limits.max_read_len or _SAFE_READ
        try:
            async with asyncio.timeout(self.settings.fetch_timeout_s):
                async with sftp.open(self._remote_path(f.raw_name), "rb", block_size=0) as fh:
                    while True:
                        # ask for one byte more than listed: a file that grew since the listing
                        # is noticed now instead of storing a prefix of it, and a small file
                        # takes one round trip (a short read that ends exactly at the listed
                        # size is EOF; one that ends earlier may be a server's choice: go on)
                        want = min(max_read, f.size + 1 - got)
                        data: bytes = await fh.read(want, got)
                        if not data:
                            break  # EOF
                        got += len(data)
                        chunks.append(data)
                        buffered += len(data)
                        if got > f.size or (len(data) < want and got == f.size):
                            break
                        if buffered >= _CHUNK:  # only large files touch the disk mid-transfer
                            if temp is None:
                                temp = await asyncio.to_thread(
                                    _Temp, self.incoming, f.name, self._token
                                )
                            await asyncio.to_thread(temp.write, chunks)
                            chunks, buffered = [], 0
            if got != f.size:
                what = "grew" if got > f.size else "shrank"
                raise _SizeMismatch(f"size changed during download ({what}: listed {f.size} B)")
            return await asyncio.to_thread(self._finish_temp, temp, chunks, f, target)
        except BaseException:
            if temp is not None:
                await asyncio.to_thread(temp.discard)
            raise

    def _finish_temp(
        self, temp: _Temp | None, chunks: list[bytes], f: RemoteFile, target: Path
    ) -> _Verified:
        if temp is None:
            temp = _Temp(self.incoming, f.name, self._token)
        try:
            temp.write(chunks)
            temp.finish()
            size = temp.path.stat().st_size
            if size != f.size:  # belt and braces: what is on disk is what was listed
                raise _SizeMismatch(f"stored {size} B, listed {f.size} B")
        except BaseException:
            temp.discard()
            raise
        return _Verified(f, temp, target)

    async def _commit(self, verified: list[_Verified]) -> Path:
        # one thread call: if the poll is cancelled meanwhile, the thread still finishes and
        # the journal it wrote first lets the next poll complete the ingest
        try:
            return await asyncio.to_thread(self._commit_sync, verified)
        except OSError as exc:
            for v in verified:
                await asyncio.to_thread(v.temp.discard)
            raise FetchError(f"cannot store fetched files in {self.raw_dir}: {exc}") from exc

    def _commit_sync(self, verified: list[_Verified]) -> Path:
        """Journal → replace into the date folders → fsync the folders. Returns the journal.

        The journal (written and fsynced first) names every raw path of the batch; it is
        deleted only after ingest returned. A crash or cancel anywhere in between leaves it, and
        the next poll (of this or another process) hands those paths to ingest again —
        otherwise a file already in the raw store would count as fetched and never be ingested.
        """
        self.incoming.mkdir(parents=True, exist_ok=True)
        journal = self.incoming / f"{_JOURNAL_PREFIX}{time.time_ns()}-{uuid.uuid4().hex[:8]}.json"
        body = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "created": time.time(),
            "paths": [str(v.target.relative_to(self.data_dir)) for v in verified],
        }
        tmp = journal.with_suffix(_PART_SUFFIX)
        tmp.write_text(json.dumps(body), encoding="utf-8")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, journal)
        _fsync_dir(self.incoming)
        dirs: set[Path] = set()
        new_dirs = False
        for v in verified:
            if not v.target.parent.is_dir():
                v.target.parent.mkdir(parents=True, exist_ok=True)
                new_dirs = True
            os.replace(v.temp.path, v.target)
            dirs.add(v.target.parent)
        for d in dirs:
            _fsync_dir(d)
        if new_dirs:
            _fsync_dir(self.raw_dir)
        self._journals.add(journal)
        return journal

    def _recoverable_journals(self) -> list[Path]:
        """Our own un-ingested journals, plus those of dead processes on this host."""
        out: list[Path] = []
        try:
            candidates = sorted(self.incoming.glob(f"{_JOURNAL_PREFIX}*.json"))
        except OSError:
            return out
        me, host = os.getpid(), socket.gethostname()
        for j in candidates:
            if j in self._journals:
                out.append(j)
                continue
            try:
                body = json.loads(j.read_text(encoding="utf-8"))
                age = time.time() - float(body["created"])
                pid, jhost = int(body["pid"]), str(body["host"])
            except FileNotFoundError:
                continue  # acknowledged meanwhile by its owner
            except (OSError, ValueError, KeyError, TypeError):
                try:
                    age, pid, jhost = time.time() - j.stat().st_mtime, -1, ""
                except OSError:
                    continue
            same_host_dead = jhost == host and 0 < pid != me and not _pid_alive(pid)
            if same_host_dead or age > _STALE_JOURNAL_S:
                out.append(j)
        return out

    def _journal_paths(self, journals: Sequence[Path]) -> list[Path]:
        paths: list[Path] = []
        for j in journals:
            try:
                body = json.loads(j.read_text(encoding="utf-8"))
                rel = [Path(p) for p in body["paths"]]
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("unreadable fetch journal %s: ignored", j)
                continue
            for r in rel:
                p = self.data_dir / r
                # a journal is data too: only ever hand ingest paths inside the raw store
                inside = not r.is_absolute() and ".." not in r.parts
                if inside and p.parent.parent == self.raw_dir and p.is_file():
                    paths.append(p)
        return list(dict.fromkeys(paths))

    async def _ingest_pending(self, report: FetchReport, batch: Path | None) -> None:
        journals = await asyncio.to_thread(self._recoverable_journals)
        if batch is not None and batch not in journals:
            journals.append(batch)
        if not journals:
            return
        paths = await asyncio.to_thread(self._journal_paths, journals)
        ingest = (self._ingest or self._default_ingest()) if paths else None
        report.ingested = paths
        self._journals.update(journals)  # until acknowledged below
        try:
            report.ingest_result = await asyncio.to_thread(
                self._ingest_and_ack, ingest, paths, journals
            )
        except Exception as exc:
            # the files stay journaled: the next poll hands them to ingest again
            report.ingest_error = f"{type(exc).__name__}: {exc}"
            log.exception("ingest of %d fetched files failed; will retry", len(paths))
            return
        self._journals.difference_update(journals)

    @staticmethod
    def _ingest_and_ack(ingest: Ingest | None, paths: list[Path], journals: list[Path]) -> object:
        """Ingest, then drop the journals, in ONE thread call: cancelling the poll cannot
        separate the two (the thread runs on), so a batch is not handed to ingest again."""
        result = ingest(paths) if ingest is not None else None
        for j in journals:
            with contextlib.suppress(FileNotFoundError):
                j.unlink()
        return result

    def _default_ingest(self) -> Ingest:
        # lazy: the ingest pulls in the lake (pyarrow, duckdb); fetch alone must stay light
        from etl_duck.ingest.options import IngestOptions
        from etl_duck.ingest.run import ingest_paths

        s = self.settings
        # the same options as `etl-duck ingest`, so both build the same sessions
        options = IngestOptions(
            session_gap_minutes=s.session_gap_minutes,
            filler_maps=tuple(s.filler_maps),
            timezone=s.timezone,
        )
        self._ingest = functools.partial(ingest_paths, self.data_dir, options=options)
        return self._ingest

    async def _housekeep(self) -> None:
        # temp files of our own interrupted polls at once (none is in flight: poll lock),
        # other processes' at most hourly once they are an hour old (that fetch died)
        hourly = not self._housekept or time.monotonic() - self._housekept >= _STALE_PART_S
        if not (hourly or self._interrupted):
            return
        if hourly:
            self._housekept = time.monotonic()
        own, self._interrupted = self._interrupted, False
        await asyncio.to_thread(self._remove_stale_parts, own)

    def _remove_stale_parts(self, own: bool) -> None:
        try:
            entries = list(os.scandir(self.incoming))
        except FileNotFoundError:
            return
        cutoff = time.time() - _STALE_PART_S
        mine = f".{self._token}-"
        for e in entries:
            if not e.name.endswith(_PART_SUFFIX):
                continue
            with contextlib.suppress(OSError):
                if (own and mine in e.name) or e.stat().st_mtime < cutoff:
                    os.unlink(e.path)

    # ----------------------------------------------------------------- watch / check

    async def watch(
        self,
        stop: asyncio.Event,
        active: Callable[[], bool] | None = None,
        *,
        on_report: Callable[[FetchReport], object] | None = None,
    ) -> None:
        """Poll until ``stop`` is set: every ``active_poll_interval_s`` while ``active()`` is
        True, else every ``poll_interval_s`` (measured from poll start); ``fetch_recheck_s``
        after a poll that left new files pending, so a file is taken ~0.5 s after it settles.

        After a failure (server unreachable, connection dropped) it retries with exponential
        backoff from ``reconnect_backoff_s`` up to ``reconnect_backoff_max_s``. HostKeyError,
        AuthError and FetchConfigError are raised: retrying cannot fix them. A poll in progress
        finishes before it returns (cancel the task to interrupt; that is safe too).
        """
        s = self.settings
        backoff = s.reconnect_backoff_s
        while not stop.is_set():
            started = time.monotonic()
            delay: float | None = None  # None: the regular interval
            try:
                report = await self.poll_once()
            except (HostKeyError, AuthError, FetchConfigError):
                raise
            except (FetchError, OSError) as exc:  # OSError: the local disk (full, read-only)
                log.warning("fetch failed: %s; retrying in %.3g s", exc, backoff)
                delay, backoff = backoff, min(backoff * 2, s.reconnect_backoff_max_s)
            else:
                if on_report is not None:
                    on_report(report)
                if report.connection_lost:
                    delay, backoff = backoff, min(backoff * 2, s.reconnect_backoff_max_s)
                else:
                    backoff = s.reconnect_backoff_s
                    if report.pending or report.ingest_error:
                        delay = s.fetch_recheck_s if report.pending else backoff
            await self._wait(stop, started, delay, active)

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
        stored = await asyncio.to_thread(self._stored_sizes, files)
        new = sum(1 for f in files if stored.get(f.name) != f.size)
        folder = self._remote_dir.decode("utf-8", "backslashreplace")
        line = f"{self._where}:{folder}: {len(files)} stats files, {new} not yet fetched"
        if report.skipped:
            line += f", {len(report.skipped)} skipped (unsafe or unusable names)"
        return line


def _sftp_reason(exc: asyncssh.SFTPError) -> str:
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return f"permission denied ({exc.reason})"
    if isinstance(exc, asyncssh.SFTPNoSuchFile):
        return f"vanished before download ({exc.reason})"
    return f"SFTP error: {exc.reason}"


# --------------------------------------------------------------------------- CLI bodies


def _report_lines(report: FetchReport) -> list[str]:
    lines = [report.summary()]
    lines += [f"  failed  {n}: {r}" for n, r in report.failed]
    lines += [f"  skipped {n}: {r}" for n, r in report.skipped]
    if report.ingest_error:
        lines.append(f"  ingest  {report.ingest_error}")
    summary = getattr(report.ingest_result, "summary", None)
    if callable(summary):  # the real ingest's IngestReport
        lines.append(f"  ingest  {summary()}")
    return lines


def run_fetch(settings: Settings, *, ingest: Ingest | None = None) -> int:
    """``etl-duck fetch``: one poll, with a progress bar for a backlog and a summary.

    Retries a connection lost mid-transfer a few times. Exit codes: 0 done (also after Ctrl-C,
    which leaves nothing half-fetched or half-ingested), 1 some files failed or ingest failed,
    2 setup problem (host key, authentication, settings), 3 server unreachable.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    out, err = Console(), Console(stderr=True)

    async def main() -> int:
        with Bar(
            TextColumn("fetching"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            task: Any = None

            def on_progress(done: int, total: int) -> None:
                nonlocal task
                if total < 2:
                    return  # a bar only for a backlog
                if task is None:
                    task = bar.add_task("fetch", total=total)
                bar.update(task, completed=done, total=total)

            async with Fetcher(settings, ingest, progress=on_progress) as fetcher:
                report = await fetcher.poll_once()
                delay = settings.reconnect_backoff_s
                for _ in range(3):
                    if not report.connection_lost:
                        break
                    await asyncio.sleep(delay)
                    delay *= 2
                    task = None
                    report = report.merge(await fetcher.poll_once())
        for line in _report_lines(report):
            out.print(line, markup=False, highlight=False, soft_wrap=True)
        return 0 if report.ok else 1

    return _run_cli(main, err)


def run_watch(
    settings: Settings,
    *,
    ingest: Ingest | None = None,
    on_start: Callable[[], object] | None = None,
) -> int:
    """``etl-duck watch``: poll until Ctrl-C (or SIGTERM); exit 0 on a clean stop.

    ``on_start`` runs on the event loop before the first poll (the CLI subscribes commit
    listeners there, e.g. the static site's rebuild).

    Polls faster while a session looks active: the server wrote a round file within
    ``session_gap_minutes`` (the bot passes its own voice-channel rule to ``watch``).
    The first Ctrl-C lets the current poll finish; a second one interrupts it (still safe:
    nothing is ingested half).
    """
    from rich.console import Console

    out, err = Console(), Console(stderr=True)

    async def main() -> int:
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()

        def on_signal() -> None:
            if stop.is_set() and current is not None:
                current.cancel()
            else:
                err.print("stopping after the current poll (Ctrl-C again to interrupt)")
                stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal)

        def on_report(report: FetchReport) -> None:
            if report.downloaded or report.failed or report.ingest_error:
                stamp = time.strftime("%H:%M:%S")
                for line in _report_lines(report):
                    out.print(f"{stamp} {line}", markup=False, highlight=False, soft_wrap=True)

        if on_start is not None:
            on_start()
        async with Fetcher(settings, ingest) as fetcher:
            gap = settings.session_gap_minutes * 60.0

            def active() -> bool:
                # a session is on while the server wrote a round file within the session gap
                last = fetcher.last_activity
                return last is not None and time.time() - last < gap

            out.print(
                f"watching {settings.ssh_user}@{settings.ssh_host}:{settings.ssh_port} every "
                f"{settings.poll_interval_s:g} s ({settings.active_poll_interval_s:g} s in a "
                "session); Ctrl-C stops",
                markup=False,
                highlight=False,
            )
            try:
                await fetcher.watch(stop, active, on_report=on_report)
            except asyncio.CancelledError:
                err.print("interrupted")
        return 0

    return _run_cli(main, err)


def _run_cli(main: Callable[[], Any], err: Any) -> int:
    from rich.markup import escape

    try:
        return int(asyncio.run(main()))
    except KeyboardInterrupt:
        err.print("interrupted: nothing half-fetched or half-ingested")
        return 0
    except (HostKeyError, AuthError, FetchConfigError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 2
    except OSError as exc:  # the local side: data dir not writable, disk full
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 1
    except FetchError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 3
