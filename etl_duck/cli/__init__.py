"""`etl-duck` command line. Thin: every command calls the library and formats the result.

``app`` holds the Typer app, global options, the exit-code scheme and shared helpers; each
other module is one group of commands. :func:`run` turns every known failure into one
sentence on stderr and an exit code (a traceback only with ``--verbose``).
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence

from etl_duck.cli import analytics, demo, files, lake, rating, server, site, social  # noqa: F401
from etl_duck.cli.app import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, STATE, app, err_console


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command line; returns the exit code (README "Exit codes"). Usage errors are
    Typer's own (exit 2); long commands say what Ctrl-C left behind (exit 130)."""
    args = _globals_first(list(argv) if argv is not None else sys.argv[1:])
    try:
        app(args=args, prog_name="etl-duck")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        return _explain(exc)
    return 0


def _in_data_dir(name: str) -> bool:
    """Whether a path lies in ``--data-dir`` (a problem there is the data directory's)."""
    from pathlib import Path

    try:
        return Path(name).resolve().is_relative_to(STATE.data_dir.resolve())
    except (OSError, ValueError):
        return False


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
            message = (
                f"cannot write {name}: permission denied — the data directory "
                f"{STATE.data_dir} must be writable by this user (or pass --data-dir)"
            )
        else:
            message = f"cannot write {name}: permission denied — make it writable by this user"
    elif isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f"to write {name}" if name else "on the device"
        message = f"no space left {where}: free some and retry"
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


def main() -> None:
    sys.exit(run())


__all__ = ["app", "main", "run"]
