"""The SSH/SFTP connection to the game server: key authentication only, the host key
checked against known_hosts with no fallback, and clear errors for each way it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncssh

if TYPE_CHECKING:
    from etl_duck.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

#: how long an aborted operation may take to notice (its requests fail at once)
_ABORT_WAIT_S = 5.0

CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)

#: Errors after which the SSH connection is not trusted any more: drop it and reconnect.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,
    asyncssh.DisconnectError,
    asyncssh.ChannelOpenError,
    ConnectionError,
    TimeoutError,
)


# --------------------------------------------------------------------------- errors


def _key_problem(exc: OSError) -> str:
    """Why the key file could not be read, and the fix: the setting that names it."""
    if isinstance(exc, FileNotFoundError):
        return "no such file — point ETL_DUCK_SSH_KEY_PATH at the private key the server accepts"
    if isinstance(exc, PermissionError):
        return (
            "permission denied — make it readable by the user etl-duck runs as (chmod 600, "
            "owned by that user), or point ETL_DUCK_SSH_KEY_PATH at a copy that is"
        )
    if isinstance(exc, IsADirectoryError):
        return "it is a folder — point ETL_DUCK_SSH_KEY_PATH at the private key file in it"
    why = (exc.strerror or str(exc) or type(exc).__name__).lower()
    return f"{why} — point ETL_DUCK_SSH_KEY_PATH at the private key the server accepts"


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


def missing_settings(settings: Settings) -> str | None:
    """The sentence for the SSH settings every connection needs and ``settings`` lack (host,
    user, key); None when all are set. `watch` asks before it says what it watches."""
    names = ("ssh_host", "ssh_user", "ssh_key_path")
    missing = [f"ETL_DUCK_{n.upper()}" for n in names if not getattr(settings, n)]
    if not missing:
        return None
    them = "it" if len(missing) == 1 else "them"
    return (
        f"{', '.join(missing)} not set: set {them} in the environment or in .env (README "
        '"Settings"; the server is fetched from with a key, never a password)'
    )


def _connect_problem(exc: BaseException, settings: Settings) -> str:
    """Why a connection could not be made, in words, and what to check (never Python's
    "[Errno 111] Connect call failed ('127.0.0.1', 1)")."""
    import errno
    import os
    import socket

    check = "check ETL_DUCK_SSH_HOST and ETL_DUCK_SSH_PORT"
    if isinstance(exc, OSError) and exc.errno is None:
        # every address of the host failed, each its own way (asyncio's "Multiple
        # exceptions: [Errno 111] Connect call failed ('::1', 22, 0, 0), [Errno 111] …")
        codes = [int(n) for n in re.findall(r"\[Errno (\d+)\]", str(exc))]
        if codes:
            exc = OSError(codes[0], os.strerror(codes[0]))
            if all(c == errno.ECONNREFUSED for c in codes):
                exc = ConnectionRefusedError(errno.ECONNREFUSED, exc.strerror)
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused — {check}, and that the SSH server runs there"
    if isinstance(exc, socket.gaierror):
        why = (exc.strerror or str(exc)).lower()
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            return f"no host of that name ({why}) — check ETL_DUCK_SSH_HOST"
        return f"its name could not be looked up ({why}) — check the network and DNS"
    if isinstance(exc, TimeoutError):
        return (
            f"no answer within {settings.connect_timeout_s:g} s (ETL_DUCK_CONNECT_TIMEOUT_S) "
            f"— {check}, the network and any firewall between"
        )
    if isinstance(exc, OSError) and (exc.errno or exc.strerror):
        # asyncio's own OSError(errno, "Connect call failed ('10.0.0.9', 22)") carries its
        # text as strerror: the errno's words say what went wrong (network unreachable)
        why = os.strerror(exc.errno) if exc.errno else str(exc.strerror)
        return f"{why.lower()} — {check} and the network"
    text = str(exc) or type(exc).__name__
    return f"{text[:1].lower()}{text[1:]} — {check}, and that the SSH server runs there"


class Progress:
    """When an operation that makes many requests (a listing) last got an answer (monotonic
    seconds): its deadline runs from there, so a long listing that keeps moving never hits
    it and one that stops answering does."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = time.monotonic()

    def tick(self) -> None:
        self.at = time.monotonic()


class Connection:
    """One SFTP session to the configured server, opened on first use and replaced after a
    failure (:meth:`drop`). Only the configured key is offered: no agent, no ssh config,
    no passwords."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._key: asyncssh.SSHKey | None = None
        self._lock = asyncio.Lock()

    @property
    def open(self) -> bool:
        return self._sftp is not None

    @property
    def where(self) -> str:
        s = self.settings
        return f"{s.ssh_user}@{s.ssh_host}:{s.ssh_port}"

    @property
    def remote_dir(self) -> bytes:
        d = self.settings.ssh_remote_dir
        # SFTP does not expand "~"; relative paths already start in the login folder
        if d == "~":
            d = "."
        elif d.startswith("~/"):
            d = d[2:]
        return (d.rstrip("/") or "/").encode("utf-8")

    def remote_path(self, raw_name: bytes) -> bytes:
        d = self.remote_dir
        return raw_name if d == b"." else d.rstrip(b"/") + b"/" + raw_name

    def _load_key(self) -> asyncssh.SSHKey:
        s = self.settings
        assert s.ssh_key_path is not None  # _connect raised missing_settings() first
        path = s.ssh_key_path.expanduser()
        passphrase = s.ssh_key_passphrase.get_secret_value() if s.ssh_key_passphrase else None
        try:
            mode = path.stat().st_mode
            key = asyncssh.read_private_key(str(path), passphrase)
        except OSError as exc:
            raise AuthError(f"cannot read SSH key {path}: {_key_problem(exc)}") from None
        except (asyncssh.KeyImportError, ValueError) as exc:
            # the message never contains the passphrase itself, only whether it worked
            hint = "" if passphrase else " (if it is encrypted, set ETL_DUCK_SSH_KEY_PASSPHRASE)"
            raise AuthError(f"cannot load SSH key {path}: {_no_key_text(exc)}{hint}") from None
        if mode & 0o077:
            log.warning("SSH key %s is readable by group/others (chmod 600 it)", path)
        return key

    def _read_known_hosts(self) -> asyncssh.SSHKnownHosts:
        s = self.settings
        path = s.ssh_known_hosts.expanduser()
        if not path.exists():
            raise HostKeyError(
                f"known_hosts file {path} does not exist: will not connect to "
                f"{s.ssh_host}:{s.ssh_port} without a verified host key; "
                f"{self._add_key_fix(path)} (or point ETL_DUCK_SSH_KNOWN_HOSTS at your file)"
            )
        if not path.is_file():  # a folder, /dev/null: no host key in it, none can be added
            if path.is_dir():
                what, file = "a folder", path / "known_hosts"
                where = f"a known_hosts file in it, such as {file},"
            else:
                what, file = "not a regular file", Path("~/.ssh/known_hosts").expanduser()
                where = f"a regular file, such as {file} (what it reads when unset),"
            raise HostKeyError(
                f"known_hosts file {path} is {what}: will not connect to "
                f"{s.ssh_host}:{s.ssh_port} without a verified host key; point "
                f"ETL_DUCK_SSH_KNOWN_HOSTS at {where} and {self._add_key_fix(file)}"
            )
        try:
            return asyncssh.read_known_hosts(str(path))
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
        except ValueError:
            # never asyncssh's text: it quotes the line it could not read, and a private
            # key given here by mistake would be printed (and logged)
            why = (
                "it looks like a private key, not a known_hosts file"
                if _looks_like_a_private_key(path)
                else "a line of it is not `host key-type key`"
            )
        raise HostKeyError(
            f"cannot read known_hosts file {path}: {why} (ETL_DUCK_SSH_KNOWN_HOSTS): will not "
            f"connect to {s.ssh_host}:{s.ssh_port} without a verified host key"
        )

    def _host_key_message(self, known: asyncssh.SSHKnownHosts, peer: str | None) -> str:
        s = self.settings
        host, port = s.ssh_host or "", s.ssh_port
        path = s.ssh_known_hosts.expanduser()
        matched = known.match(host, peer or host, port)
        entry = host if port == 22 else f"[{host}]:{port}"
        if any(matched[:2]):
            why = (
                "its host key does NOT match the key recorded in known_hosts (the server was "
                "reinstalled, or someone is intercepting the connection)"
            )
            fix = (
                "only if the server's admin confirms that its key changed, remove the old one "
                f"(`ssh-keygen -R '{entry}' -f {path}`) and {self._add_key_fix(path)}"
            )
        else:
            why = f"it is not in known_hosts (add a verified key for {entry})"
            fix = self._add_key_fix(path)
        return (
            f"refusing {host} port {port}: {why}; known_hosts file {path}. Will not connect. "
            f"Fix: {fix}."
        )

    def _add_key_fix(self, path: Path) -> str:
        """How to record the server's host key (ssh-keyscan trusts what it is sent: its
        fingerprint must be compared with the one the server's admin gives)."""
        s = self.settings
        return (
            f"add the server's key with `ssh-keyscan -p {s.ssh_port} {s.ssh_host} >> {path}`, "
            f"after checking its fingerprint (`ssh-keyscan -p {s.ssh_port} {s.ssh_host} | "
            "ssh-keygen -lf -`) with the server's admin"
        )

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
        if (missing := missing_settings(s)) is not None:
            raise FetchConfigError(missing)
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
                encryption_algs=CIPHERS,
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
                f"{self.where} rejected key authentication as user {s.ssh_user!r} with key "
                f"{path} (is its public key in ~/.ssh/authorized_keys on the server?)"
            ) from None
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            why = _connect_problem(exc, s)
            raise FetchConnectionError(f"cannot connect to {self.where}: {why}") from None
        try:
            # the subsystem's INIT can go unanswered too (a stuck server): bounded as well
            sftp = await asyncio.wait_for(conn.start_sftp_client(), s.connect_timeout_s)
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            conn.abort()
            raise FetchConnectionError(f"cannot start SFTP on {self.where}: {exc}") from None
        self._conn, self._sftp = conn, sftp
        log.info("connected to %s", self.where)
        return sftp

    async def client(self) -> asyncssh.SFTPClient:
        async with self._lock:
            if self._sftp is not None and self._conn is not None and not self._conn.is_closed():
                return self._sftp
            await self.drop()
            return await self._connect()

    async def call(
        self,
        op: Awaitable[T],
        what: str,
        *,
        progress: Progress | None = None,
        until: float | None = None,
    ) -> T:
        """Await one SFTP operation of a poll with a deadline: ``fetch_timeout_s`` without an
        answer from the server (counted from ``progress`` when the operation ticks it).

        A server that stops answering (a stuck disk under the folder, a hung sftp-server:
        OpenSSH's serves one request at a time, so the whole channel waits) while sshd still
        answers keepalives would otherwise hold the poll forever. When the deadline passes
        the connection is aborted, which fails every request still waiting on it (a CLOSE
        that asyncssh awaits on the way out included), and FetchConnectionError is raised:
        ``watch`` backs off and says so. A caller that is cancelled aborts the connection the
        same way, so a cancel never waits for the server either.

        ``until`` (monotonic) is the caller's own limit (a whole file's download): when it
        passes first, the operation is abandoned and TimeoutError raised, the link kept.
        """
        conn = self._conn  # the operation's connection: never abort a newer one
        task = asyncio.ensure_future(op)
        limit = self.settings.fetch_timeout_s
        mark = progress or Progress()
        try:
            while True:
                due = mark.at + limit
                if until is not None and until <= due:
                    left = until - time.monotonic()
                    if left <= 0:
                        task.cancel()
                        task.add_done_callback(_consume)
                        raise TimeoutError(what)
                elif (left := due - time.monotonic()) <= 0:
                    break
                done, _ = await asyncio.wait({task}, timeout=left)
                if done:
                    return task.result()
        except asyncio.CancelledError:
            await self._abort_under(conn, task)
            raise
        await self._abort_under(conn, task)
        raise FetchConnectionError(
            f"{what} on {self.where}: no answer within {limit:g} s "
            "(ETL_DUCK_FETCH_TIMEOUT_S); connection dropped"
        )

    async def _abort_under(
        self, conn: asyncssh.SSHClientConnection | None, task: asyncio.Future[Any]
    ) -> None:
        """Abort ``conn`` and let ``task`` (an operation on it) fail and end."""
        if conn is not None:
            if self._conn is conn:
                self._conn = self._sftp = None
            conn.abort()
        task.cancel()
        task.add_done_callback(_consume)
        with contextlib.suppress(Exception):
            await asyncio.wait({task}, timeout=_ABORT_WAIT_S)

    async def drop(self) -> None:
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


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned operation's outcome (no "exception was never retrieved")."""
    if not task.cancelled():
        task.exception()


def _looks_like_a_private_key(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b"PRIVATE KEY" in head or head.lstrip().startswith(b"-----BEGIN")


#: a run of base64 long enough to be key material (asyncssh may quote what it parsed)
_KEY_TEXT = re.compile(r"[A-Za-z0-9+/=]{24,}")


def _no_key_text(exc: BaseException) -> str:
    """An error's message without anything that could be key material."""
    return _KEY_TEXT.sub("…", str(exc)) or type(exc).__name__
