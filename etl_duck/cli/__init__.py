"""`etl-duck` command line. Thin: every command calls the library and formats the result.

``app`` holds the Typer app, global options, the exit-code scheme and shared helpers; each
other module is one group of commands. :func:`run` turns every known failure into one
sentence on stderr and an exit code (a traceback only with ``--verbose``).
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from etl_duck.cli import analytics, demo, files, lake, rating, server, site, social  # noqa: F401
from etl_duck.cli.app import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_READER_GONE,
    EXIT_USAGE,
    STATE,
    ReaderGone,
    app,
    err_console,
)


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command line; returns the exit code (README "Exit codes"). Usage errors are
    Typer's own (exit 2); long commands say what Ctrl-C left behind (exit 130); a reader
    that goes away (`| head`) stops it quietly (141)."""
    args = _globals_first(list(argv) if argv is not None else sys.argv[1:])
    try:
        code = _command(args)
        # rows print() or --json left in the buffer: a closed pipe shows here, not as
        # Python's "Exception ignored" at exit
        sys.stdout.flush()
    except ReaderGone as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError) and not _output_gone():
            return _explain(cause)  # another pipe broke, not our output's: an error
        return _reader_gone()
    except BrokenPipeError:
        return _reader_gone()
    except OSError as exc:  # the last of stdout could not be written (a full disk): exit 1
        code = _explain(exc)
        _output_dropped()
    return code


def _whole_writes() -> None:
    """Give stdout and stderr a buffer when they have none, so that every write is whole or
    raises. With ``PYTHONUNBUFFERED=1`` (Docker, systemd units) each is a raw file: one
    ``write`` call, whose short count (a disk that fills, a reader that leaves mid-write)
    the text layer drops. `etl-duck predictions --json > file` on a disk that filled kept
    131,072 of 345,801 bytes and exited 0, and `… --json | head -1` exited 0, not 141. A
    buffered writer writes the rest or raises (exit 1, or 141), as without the setting;
    lines still go out as they are written (``PYTHONUNBUFFERED``'s point: `docker logs`),
    as every line is flushed."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, io.TextIOWrapper) or not isinstance(stream.buffer, io.RawIOBase):
            continue  # buffered already (the default), or not a file (a test's capture)
        try:
            fd = stream.fileno()
            stream.flush()
        except (OSError, ValueError):
            continue
        # a second file object on the same descriptor, which it leaves open: the one
        # Python made (sys.__stdout__) stays as it was
        whole = io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(fd, "w", closefd=False)),
            encoding=stream.encoding,
            errors=stream.errors,
            line_buffering=True,
        )
        setattr(sys, name, whole)


def _output_dropped() -> None:
    """Stdout could not be written (a full disk, said already): point it at /dev/null, so
    that what is left in its buffer has nowhere to fail (`run`'s last flush, the
    interpreter's at exit: no second error, no traceback)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass  # not a file (a test's capture)
    finally:
        os.close(devnull)


def _command(args: list[str]) -> int:
    try:
        app(args=args, prog_name="etl-duck")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    except ReaderGone:
        raise
    except Exception as exc:
        return _explain(exc)
    return 0


def _output_gone() -> bool:
    """Whether the reader of stdout or stderr went away; True where the platform cannot
    tell (no poll)."""
    import select

    return not hasattr(select, "poll") or _gone(1) or _gone(2)


def _gone(fd: int) -> bool:
    """Whether ``fd`` is a pipe whose reader went away (Linux polls it as an error)."""
    import select

    if not hasattr(select, "poll"):
        return False
    poll = select.poll()
    poll.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))


def _reader_gone() -> int:
    """Stop as `git log | head` does: nothing said, exit 141 (128 + SIGPIPE). Stdout points
    at /dev/null first, so the interpreter's last flush has nowhere to fail (the recipe of
    Python's docs, "Note on SIGPIPE"); stderr too when its reader went away."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue  # not a file (a test's capture): nothing to flush at exit
        if stream is sys.stdout or _gone(fd):
            os.dup2(devnull, fd)
    os.close(devnull)
    return EXIT_READER_GONE


def _in_data_dir(name: str) -> bool:
    """Whether a path lies in ``--data-dir`` (a problem there is the data directory's)."""
    try:
        return Path(name).resolve().is_relative_to(STATE.data_dir.resolve())
    except (OSError, ValueError):
        return False


def data_dir_denied(names: Sequence[str], data_dir: Path, me: int) -> str:
    """The sentence for a permission error on ``names`` (one path, or a link's or a
    rename's source and target: the target is what failed to be written) inside
    ``data_dir``, met by user ``me`` (a uid). A file or folder of the data dir that another
    user owns is named with that user and the fix: after one `sudo etl-duck ingest`, root
    owns a ``raw/<date>/`` folder, the writer's lock or a snapshot's Parquet files (which
    ``fs.protected_hardlinks`` refuses to link), and "the data directory must be writable"
    sent the admin to a folder that was. A data dir another user (not root) owns is that
    user's: the fix is to run as him, not a chown to ``me``. Else the path this user may
    not write."""
    import shlex

    user, where = user_name(me), shlex.quote(str(data_dir))
    failed = names[-1]
    for name in names:
        found = not_ours(Path(name), data_dir, me)
        if found is not None:
            path, owner = found
            whose = "it" if path == Path(failed).resolve() else _shown(path, data_dir)
            denied = f"cannot write {failed}: permission denied — {whose} belongs to "
            keeper = _owner(data_dir)
            if keeper is not None and keeper not in (0, me):
                return denied + _run_as_keeper(owner, keeper, user, where)
            left = "`sudo etl-duck …`" if owner == 0 else f"a run as {user_name(owner)}"
            return (
                f"{denied}{user_name(owner)}, not to {user} (left by {left}?): run `sudo chown "
                f"-R {user} {where}` and retry; nothing is lost"
            )
    for name in names:
        locked = read_only(Path(name), data_dir)
        if locked is not None:
            whose = "it" if locked == Path(failed).resolve() else _shown(locked, data_dir)
            return (
                f"cannot write {failed}: permission denied — {whose} is not writable by "
                f"{user}: run `chmod -R u+rwX {where}` and retry (or pass --data-dir)"
            )
    return (
        f"cannot write {failed}: permission denied — the data directory {data_dir} must be "
        f"writable by {user} (or pass --data-dir)"
    )


def _run_as_keeper(owner: int, keeper: int, user: str, where: str) -> str:
    """The end of the sentence when another user (not root) owns the data directory: a
    service's (`etlduck`), met by an admin running etl-duck as himself. Its files are
    that user's to write: a chown to the admin would lock the service out, so the fix is
    to run as the keeper — after a chown back to him of what another user left there."""
    name, sudo = user_name(keeper), f"`sudo -u {_sudo_user(keeper)} etl-duck …`"
    if owner == keeper:
        return (
            f"{name}, not to {user}, as the data directory does: run etl-duck as {name} "
            f"({sudo}) and retry, not a chown to {user} (it would lock {name} out); nothing "
            "is lost"
        )
    left = "`sudo etl-duck …`" if owner == 0 else f"a run as {user_name(owner)}"
    return (
        f"{user_name(owner)} (left by {left}?), and the data directory to {name}, not to "
        f"{user}: run `sudo chown -R {name} {where}`, then etl-duck as {name} ({sudo}); "
        "nothing is lost"
    )


def _owner(path: Path) -> int | None:
    """The uid that owns ``path`` (links resolved); None when it cannot be read."""
    try:
        return path.resolve().stat().st_uid
    except OSError:
        return None


def _sudo_user(uid: int) -> str:
    """``uid`` as `sudo -u` takes it: its login name, or ``'#uid'`` where the system has
    none (quoted: a bare ``#`` starts a shell comment)."""
    name = user_name(uid)
    return f"'#{uid}'" if name == str(uid) else name


def _within(path: Path, data_dir: Path) -> list[Path]:
    """``path`` and the folders above it, up to ``data_dir``, links resolved."""
    top, at = data_dir.resolve(), path.resolve()
    return [p for p in (at, *at.parents) if p.is_relative_to(top)]


def _shown(path: Path, data_dir: Path) -> Path:
    """``path`` (resolved) as the user gave the data dir: ``data/raw/2026-03-14``."""
    return data_dir / path.relative_to(data_dir.resolve())


def not_ours(path: Path, data_dir: Path, me: int) -> tuple[Path, int] | None:
    """The first of ``path`` and the folders above it, up to ``data_dir``, that another
    user than ``me`` (a uid) owns, and that user's uid; None when those there are ours."""
    for p in _within(path, data_dir):
        try:
            owner = p.lstat().st_uid
        except OSError:
            continue  # not there (yet): the folder that would hold it decides
        if owner != me:
            return p, owner
    return None


def read_only(path: Path, data_dir: Path) -> Path | None:
    """The first of ``path`` and the folders above it, up to ``data_dir``, that is there
    and that this process may not write (a folder made read-only: ``chmod 555``)."""
    effective = os.access in os.supports_effective_ids
    for p in _within(path, data_dir):
        if p.exists() and not os.access(p, os.W_OK, effective_ids=effective):
            return p
    return None


def user_name(uid: int) -> str:
    """The login name of ``uid``; its number where the system has none (a container)."""
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _globals_first(args: list[str]) -> list[str]:
    """``--data-dir DIR`` and ``--verbose`` / ``-v`` given after the command moved before
    it, where the parser reads them (the README: every command takes them; `etl-duck
    status --data-dir X` said "No such option"). Nothing after ``--`` is touched."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest += args[i:]
            break
        if a in ("--verbose", "-v") or a.startswith("--data-dir="):
            front.append(a)
        elif a == "--data-dir" and i + 1 < len(args):
            front += args[i : i + 2]
            i += 1
        else:
            rest.append(a)
        i += 1
    return front + rest


def _explain(exc: Exception) -> int:
    """One line naming the thing, the cause and the fix; the traceback with --verbose.
    A file the error does not name (Polars, DuckDB) is never guessed: the data directory
    is blamed only for a path inside it."""
    from rich.markup import escape

    from etl_duck.cli.analytics import plain
    from etl_duck.lake.rawstore import RawStoreError
    from etl_duck.lake.snapshot import LakeError

    code = EXIT_FAILED
    name = None if not isinstance(exc, OSError) or exc.filename is None else str(exc.filename)
    trace = "" if STATE.verbose else " (run with --verbose for the traceback)"
    if isinstance(exc, LakeError):
        message = str(exc)
    elif isinstance(exc, RawStoreError):
        message, code = str(exc), EXIT_USAGE
    elif isinstance(exc, PermissionError):
        if name is None:
            message = (
                "permission denied writing or reading a file the error does not name — check "
                f"the permissions of the paths this command was given{trace}"
            )
        elif _in_data_dir(name):
            names = [name] if exc.filename2 is None else [name, str(exc.filename2)]
            message = data_dir_denied(names, STATE.data_dir, os.geteuid())
        else:
            message = f"cannot write {name}: permission denied — make it writable by this user"
    elif isinstance(exc, OSError) and exc.errno == errno.EROFS:
        # a data dir on a read-only mount (a restored backup, an `ro` NFS share): nothing
        # was written; reading commands still answer from it
        where = "a file the error does not name" if name is None else name
        message = (
            f"cannot write {where}: its file system is mounted read-only — remount it "
            "read-write or pass --data-dir on a writable disk (commands that only read "
            "still answer)"
        )
    elif isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        out = None if name is not None else _stdout_full(exc.errno)
        message = _too_big(exc.errno, name, out)
        if out is not None:
            _output_dropped()  # said once: what is left of it is not written again
    elif isinstance(exc, FileNotFoundError):
        code = EXIT_USAGE
        if name is None:
            message = f"a file or folder the error does not name is missing: {exc}{trace}"
        else:
            message = f"{name}: no such file or folder"
    elif isinstance(exc, IsADirectoryError | NotADirectoryError | FileExistsError) and name:
        why = (exc.strerror or type(exc).__name__).lower()
        message, code = f"{name}: {why} — give another path", EXIT_USAGE
    else:
        message = f"unexpected error: {type(exc).__name__}: {exc}{trace}"
    err_console.print(
        f"[red]error:[/red] {escape(plain(message))}", highlight=False, soft_wrap=True
    )
    if STATE.verbose:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    return code


def _too_big(code: int, name: str | None, out: str | None) -> str:
    """The sentence for a write that did not fit (``code``: ENOSPC, EDQUOT or EFBIG) to
    ``name``, or to a file the error does not name: ``out``, the file standard output goes
    to (:func:`_stdout_full`; `etl-duck … > file` on a disk that filled), when known."""
    what = f"standard output to {out}" if out is not None else name
    fix = "send the output elsewhere" if out is not None else "retry"
    if code == errno.EFBIG:
        return (
            f"cannot write {what or 'a file'}: larger than this user's file-size limit "
            f"(ulimit -f) or the file system allows — raise the limit or {fix}"
        )
    why = "no space left" if code == errno.ENOSPC else "the disk quota is used up"
    if what is None:
        return f"{why} on the device: free some and retry"
    return f"cannot write {what}: {why} on its disk — free some space or {fix}"


def _stdout_full(code: int) -> str | None:
    """The file standard output goes to (a path), if that write is what failed: a device
    (``/dev/full``), a file on a full disk or at the size limit; None for a pipe, a
    terminal, or a file with room left."""
    import resource
    import stat

    try:
        st = os.fstat(1)
        path = os.readlink("/proc/self/fd/1")
    except OSError:
        return None
    if not path.startswith("/"):
        return None  # a pipe, a socket ("pipe:[1234]")
    if stat.S_ISCHR(st.st_mode):
        return None if os.isatty(1) else path  # a terminal is never full
    if not stat.S_ISREG(st.st_mode):
        return None
    if code == errno.EFBIG:
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        return path if limit != resource.RLIM_INFINITY and st.st_size >= limit else None
    try:
        disk = os.fstatvfs(1)
    except OSError:
        return None
    return path if code == errno.EDQUOT or disk.f_bavail * disk.f_frsize < 65536 else None


def main() -> None:
    _whole_writes()
    sys.exit(run())


__all__ = ["app", "main", "run"]
