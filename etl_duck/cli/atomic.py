"""A file a command writes for a person (an export): all of it or none of it.

The bytes go to a temporary file beside the target, are flushed and fsynced, and only then
renamed over it, so a full disk, a file-size limit or Ctrl-C leaves the previous file as it
was and no temporary file behind. A stream (``/dev/stdout``, a pipe, a device, the file
stdout is redirected to) is written straight instead: a rename would replace what the
shell opened, and reopening it would truncate it."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
import tempfile
from pathlib import Path

#: paths that name one of this process's open descriptors (Linux reopens the file behind
#: them, so ``open(…, "wb")`` would truncate a file the shell appends to)
_FD_PATH = re.compile(r"/(?:dev/fd|proc/(?:self|thread-self|(\d+))/fd)/(\d+)")
_STD_PATH = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def stream_fd(target: Path) -> int | None:
    """The open descriptor of this process that ``target`` names, if any: ``/dev/stdout``,
    ``/dev/stderr``, ``/dev/fd/N``, ``/proc/self/fd/N``, or a file that is the one stdout or
    stderr goes to (``--out log.txt >> log.txt``). None otherwise."""
    path = os.path.abspath(target)  # not resolved: /dev/stdout itself, not what it names
    fd = _STD_PATH.get(path)
    found = _FD_PATH.fullmatch(path)
    if fd is None and found and found[1] in (None, str(os.getpid())):
        fd = int(found[2])
    if fd is not None:
        try:
            os.fstat(fd)
        except OSError:
            return None  # not open here: opening the path fails and says so
        return fd
    try:
        st = os.stat(target)
    except OSError:
        return None
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            if _same_file(st, os.fstat(fd)):
                return fd
    return None


def stream_file(target: Path) -> str | None:
    """The file a stream ``target`` writes to, when it is one (``--out /dev/stdout >
    out.csv``: ``/…/out.csv``, whose disk a full-disk error is about, not /dev's); None for
    a target that is no stream, or a stream into no file (a pipe, a socket)."""
    if not is_stream(target):
        return None
    fd = stream_fd(target)
    try:
        path = os.readlink(f"/proc/self/fd/{fd}") if fd is not None else None
    except OSError:
        path = None
    path = path or os.path.realpath(target)
    return path if path.startswith("/") and path != os.path.abspath(target) else None


def behind_said(target: Path, behind: str) -> str:
    """``behind`` (:func:`stream_file`) in words: "the file standard output goes to: X"."""
    fd = stream_fd(target)
    what = {1: "standard output", 2: "standard error"}.get(fd or -1, str(target))
    return f"the file {what} goes to: {behind}"


def _write_fd(fd: int, data: bytes) -> None:
    """All of ``data`` to ``fd`` at its own offset (O_APPEND, a shared offset after what
    the shell wrote before): never truncated, never replaced."""
    for stream in (sys.stdout, sys.stderr):  # whatever Python holds for it goes first
        with contextlib.suppress(Exception):
            if stream.fileno() == fd:
                stream.flush()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def is_stream(target: Path) -> bool:
    """Whether ``target`` is written straight (:func:`write_atomic`): an open descriptor of
    this process, a path under /proc, a link under /dev (``/dev/fd/N`` to another file), or
    an existing file that is no regular file (a named pipe, a device). A regular file in
    /dev/shm is a file like any other."""
    if stream_fd(target) is not None:
        return True
    path = os.path.abspath(target)
    if path.startswith("/proc/") or (path.startswith("/dev/") and os.path.realpath(path) != path):
        return True
    try:
        return not stat.S_ISREG(os.stat(target).st_mode)
    except OSError:
        return False


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0o666 less the umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` whole or not at all: temp file in the same folder →
    flush → fsync → ``os.replace`` → fsync of the folder. The temp file is removed on any
    failure, KeyboardInterrupt included. A link is followed (the file it names is replaced,
    the link stays); an existing file keeps its mode, and one this user may not write is
    refused as before. A stream (:func:`is_stream`) is written straight: a descriptor of
    this process through that descriptor (``--out /dev/stdout >> log`` appends), any other
    opened for writing without truncating or creating it."""
    fd = stream_fd(target)
    if fd is not None:
        _write_fd(fd, data)
        return
    if is_stream(target):
        # O_APPEND and no O_TRUNC: a file behind a /proc or /dev link keeps what it held
        out = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_NOCTTY)
        try:
            _write_fd(out, data)
        finally:
            os.close(out)
        return
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    dest = Path(os.path.realpath(target))
    if st is not None and not os.access(dest, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
    mode = stat.S_IMODE(st.st_mode) if st is not None else _new_file_mode()
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with open(fd, "wb") as fh:
            fh.write(data)  # Python's write: a full disk raises OSError with its errno
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    # the rename is durable once the folder is; a file system that cannot fsync a folder
    # still has the whole file in place
    with contextlib.suppress(OSError):
        folder = os.open(dest.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
