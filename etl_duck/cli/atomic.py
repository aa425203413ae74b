"""A file a command writes for a person (an export): all of it or none of it.

The bytes go to a temporary file beside the target, are flushed and fsynced, and only then
renamed over it, so a full disk, a file-size limit or Ctrl-C leaves the previous file as it
was and no temporary file behind."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path


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
    refused as before. A target that exists and is no regular file (``/dev/stdout``, a
    pipe) is written straight, as a stream."""
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(target, "wb") as stream:
            stream.write(data)
        return
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
