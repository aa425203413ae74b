"""A real SFTP server for tests and benchmarks: asyncssh on 127.0.0.1, chrooted to a folder.

    async with SFTPTestServer(tmp_path) as server:
        server.write("2026-03-14-213512-supply-round-1.txt", b"...", age_s=3600)
        fetcher = Fetcher(server.settings(data_dir))

Keys are generated per server (ed25519); ``known_hosts`` holds ``[127.0.0.1]:PORT``, the client
key is authorised. Hooks (:class:`Hooks`) drop the connection mid-transfer, deny a file, slow
reads down, leave a kind of request unanswered, inject hostile listing entries, act as the
game's writer at each listing, count concurrently open files and record any attempt to
change the remote side. ``serve_in_thread`` runs one in a background thread with its
own loop (for code that calls ``asyncio.run`` itself); ``python -m tests.sftp_server`` runs
one in its own process (benchmarks: the server's CPU is then not the client's).
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from etl_duck.settings import Settings

USER = "etl"
REMOTE_DIR = "gamestats"


@dataclass
class Hooks:
    #: file name → bytes after which the server aborts the connection (once per name)
    drop_after: dict[str, int] = field(default_factory=dict)
    #: file names whose open fails with "permission denied"
    deny: set[str] = field(default_factory=set)
    #: extra (name bytes, size) entries added to the remote folder's listing (names a real
    #: file system cannot hold, such as ``../x`` or ``/etc/passwd``)
    extra_names: list[tuple[bytes, int]] = field(default_factory=list)
    #: seconds each read waits (makes concurrency observable)
    read_delay_s: float = 0.0
    #: file name → seconds each read of that file waits (a stalled or very slow file)
    slow_reads: dict[str, float] = field(default_factory=dict)
    #: abort the connection when the client next lists a folder (then reset)
    drop_next_list: bool = False
    #: list a symbolic link with its target's attributes (as a regular file), as some
    #: servers do; only an lstat of the entry tells
    links_look_regular: bool = False
    #: kinds of request the server never answers ("readdir", "lstat", "read"): a stuck
    #: disk under the folder while sshd itself stays alive and answers keepalives
    never_answer: set[str] = field(default_factory=set)
    #: called as the client lists the remote folder, before the listing is read (a test
    #: plays the game's writer with it: the file changes between two looks)
    on_list: Callable[[], None] | None = None
    # --- observations
    listings: int = 0
    #: requests left unanswered so far, by kind
    unanswered: Counter[str] = field(default_factory=Counter)
    open_now: int = 0
    max_open: int = 0
    opens: Counter[str] = field(default_factory=Counter)
    dropped: set[str] = field(default_factory=set)
    #: any attempt to write, rename, delete or change attributes on the server
    mutations: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class _Open:
    """An open remote file and its name (for the hooks)."""

    def __init__(self, name: str, fh: Any) -> None:
        self.name, self.fh = name, fh


class HookedSFTPServer(asyncssh.SFTPServer):
    """Chrooted, read-only SFTP server with test hooks."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], server: SFTPTestServer) -> None:
        super().__init__(chan, chroot=os.fsencode(server.root))
        self._server = server
        self._hooks = server.hooks
        self._listing = False  # the listing lstats each entry itself: never stalled

    async def _stall(self, kind: str) -> None:
        if kind in self._hooks.never_answer:
            self._hooks.unanswered[kind] += 1
            await asyncio.sleep(3600)  # no answer (the test ends first and cancels this)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        if self._hooks.drop_next_list:
            self._hooks.drop_next_list = False
            self.connection.abort()
            raise asyncssh.SFTPConnectionLost("dropped by test hook")
        remote = posixpath.normpath(path.decode("utf-8", "surrogateescape").lstrip("/"))
        if remote == self._server.remote_dir:
            self._hooks.listings += 1
            if self._hooks.on_list is not None:
                self._hooks.on_list()
        await self._stall("readdir")  # runs at the first READDIR (asyncssh reads lazily)
        self._listing = True
        try:
            entries = [entry async for entry in super().scandir(path)]
        finally:
            self._listing = False
        for entry in entries:
            if (
                self._hooks.links_look_regular
                and entry.attrs.type == asyncssh.FILEXFER_TYPE_SYMLINK
            ):
                local = os.path.join(
                    self._server.root, path.decode().lstrip("/"), os.fsdecode(entry.filename)
                )
                st = os.stat(local)  # the target's attributes
                entry.attrs = asyncssh.SFTPAttrs(
                    type=asyncssh.FILEXFER_TYPE_REGULAR,
                    size=st.st_size,
                    permissions=0o100644,
                    atime=int(st.st_atime),
                    mtime=int(st.st_mtime),
                )
            yield entry
        if remote == self._server.remote_dir:
            now = int(time.time()) - 3600
            for name, size in self._hooks.extra_names:
                attrs = asyncssh.SFTPAttrs(
                    type=asyncssh.FILEXFER_TYPE_REGULAR,
                    size=size,
                    permissions=0o100644,
                    atime=now,
                    mtime=now,
                )
                yield asyncssh.SFTPName(name, b"", attrs)

    async def lstat(self, path: bytes) -> Any:
        if not self._listing:  # a client's LSTAT request
            await self._stall("lstat")
        return super().lstat(path)

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        name = os.fsdecode(posixpath.basename(path))
        if pflags & ~asyncssh.FXF_READ:
            self._hooks.mutations.append(f"open {name} flags {pflags:#x}")
            raise asyncssh.SFTPPermissionDenied("read-only test server")
        if name in self._hooks.deny:
            raise asyncssh.SFTPPermissionDenied("Permission denied")
        fh = super().open(path, pflags, attrs)
        with self._hooks._lock:
            self._hooks.open_now += 1
            self._hooks.max_open = max(self._hooks.max_open, self._hooks.open_now)
            self._hooks.opens[name] += 1
        return _Open(name, fh)

    def close(self, file_obj: object) -> None:
        if isinstance(file_obj, _Open):
            with self._hooks._lock:
                self._hooks.open_now -= 1
            file_obj.fh.close()
        else:
            super().close(file_obj)

    async def read(self, file_obj: object, offset: int, size: int) -> bytes:
        assert isinstance(file_obj, _Open)
        hooks = self._hooks
        await self._stall("read")
        if hooks.read_delay_s:
            await asyncio.sleep(hooks.read_delay_s)
        if file_obj.name in hooks.slow_reads:
            await asyncio.sleep(hooks.slow_reads[file_obj.name])
        limit = hooks.drop_after.get(file_obj.name)
        if limit is not None and file_obj.name not in hooks.dropped:
            if offset >= limit:
                hooks.dropped.add(file_obj.name)
                self.connection.abort()  # like a network cut: no goodbye, no reply
                raise asyncssh.SFTPConnectionLost("dropped by test hook")
            size = min(size, limit - offset)  # a short read; the client asks for the rest
        file_obj.fh.seek(offset)
        data: bytes = file_obj.fh.read(size)
        return data

    def fstat(self, file_obj: object) -> Any:
        return super().fstat(file_obj.fh if isinstance(file_obj, _Open) else file_obj)

    # --- anything that would change the remote side is recorded and refused
    def _refuse(self, what: str) -> None:
        self._hooks.mutations.append(what)
        raise asyncssh.SFTPPermissionDenied("read-only test server")

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        self._refuse("write")
        return 0

    def remove(self, path: bytes) -> None:
        self._refuse(f"remove {path!r}")

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._refuse(f"rename {oldpath!r}")

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._refuse(f"posix_rename {oldpath!r}")

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._refuse(f"mkdir {path!r}")

    def rmdir(self, path: bytes) -> None:
        self._refuse(f"rmdir {path!r}")

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._refuse(f"setstat {path!r}")

    def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        self._refuse("fsetstat")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        self._refuse(f"symlink {newpath!r}")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        self._refuse(f"link {newpath!r}")


class SFTPTestServer:
    """A real asyncssh SFTP server on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self, base: Path, *, remote_dir: str = REMOTE_DIR, hooks: Hooks | None = None):
        self.base = Path(base)
        self.root = self.base / "server-root"  # the chroot
        self.remote_dir = remote_dir
        self.folder = self.root / remote_dir  # where the "game server" writes
        self.keys = self.base / "keys"
        self.hooks = hooks or Hooks()
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key_path = self.keys / "id_ed25519"
        self.known_hosts = self.keys / "known_hosts"
        self.port = 0
        self._acceptor: asyncssh.SSHAcceptor | None = None

    async def start(self) -> SFTPTestServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.keys.mkdir(parents=True, exist_ok=True)
        self.client_key.write_private_key(str(self.client_key_path))
        os.chmod(self.client_key_path, 0o600)
        self._acceptor = await asyncssh.listen(
            "127.0.0.1",
            self.port,  # 0 at first; a restart listens where clients expect it
            server_host_keys=[self.host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(
                self.client_key.export_public_key().decode()
            ),
            sftp_factory=lambda chan: HookedSFTPServer(chan, self),
            allow_scp=False,
            password_auth=False,
            kbdint_auth=False,
        )
        self.port = self._acceptor.get_port()
        self.write_known_hosts(self.host_key)
        return self

    async def stop(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None

    async def __aenter__(self) -> SFTPTestServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ helpers for tests

    def known_hosts_line(self, key: asyncssh.SSHKey) -> str:
        return f"[127.0.0.1]:{self.port} {key.export_public_key().decode().strip()}\n"

    def write_known_hosts(
        self, key: asyncssh.SSHKey | None = None, text: str | None = None
    ) -> None:
        """Trust ``key`` for this server (default: its real host key), or write ``text``."""
        content = text if text is not None else self.known_hosts_line(key or self.host_key)
        self.known_hosts.write_text(content)

    def settings(self, data_dir: Path, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "ssh_host": "127.0.0.1",
            "ssh_port": self.port,
            "ssh_user": USER,
            "ssh_key_path": self.client_key_path,
            "ssh_known_hosts": self.known_hosts,
            "ssh_remote_dir": self.remote_dir,
            "connect_timeout_s": 5.0,
            "reconnect_backoff_s": 0.05,
            "reconnect_backoff_max_s": 0.5,
            # a first sighting old enough to take gets its second look this much later,
            # within the same poll: short, so the tests' polls stay quick
            "fetch_recheck_s": 0.1,
        }
        values.update(overrides)
        # _env_file=None: a developer's .env must not leak into tests
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    def write(self, name: str, content: bytes, *, age_s: float | None = None) -> Path:
        """Write a file into the served folder; ``age_s`` back-dates its mtime."""
        path = self.folder / name
        path.write_bytes(content)
        if age_s is not None:
            t = time.time() - age_s
            os.utime(path, (t, t))
        return path

    def append(self, name: str, content: bytes) -> None:
        with open(self.folder / name, "ab") as fh:
            fh.write(content)


@contextmanager
def serve_in_thread(base: Path, **kwargs: Any) -> Iterator[SFTPTestServer]:
    """Run an :class:`SFTPTestServer` on its own loop in a daemon thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sftp-test-server", daemon=True)
    thread.start()
    server = SFTPTestServer(base, **kwargs)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _main() -> None:
    """``python -m tests.sftp_server BASE``: serve BASE/server-root, print the port, run until
    stdin closes. Keys go to BASE/keys (client key ``id_ed25519``, ``known_hosts``)."""
    import sys

    base = Path(sys.argv[1])

    async def run() -> None:
        async with SFTPTestServer(base) as server:
            print(server.port, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(run())


if __name__ == "__main__":
    _main()
