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
    try:
        app(args=list(argv) if argv is not None else None, prog_name="etl-duck")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        return _explain(exc)
    return 0


def _explain(exc: Exception) -> int:
    """One line naming the thing, the cause and the fix; the traceback with --verbose."""
    from rich.markup import escape

    from etl_duck.lake.rawstore import RawStoreError
    from etl_duck.lake.snapshot import LakeError

    code = EXIT_FAILED
    if isinstance(exc, LakeError):
        message = str(exc)
    elif isinstance(exc, RawStoreError):
        message, code = str(exc), EXIT_USAGE
    elif isinstance(exc, PermissionError):
        message = (
            f"cannot write {exc.filename or STATE.data_dir}: permission denied — the data "
            f"directory {STATE.data_dir} must be writable by this user (or pass --data-dir)"
        )
    elif isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        message = f"no space left to write {exc.filename or STATE.data_dir}: free some and retry"
    elif isinstance(exc, FileNotFoundError):
        message, code = f"{exc.filename}: no such file or folder", EXIT_USAGE
    else:
        message = f"unexpected error: {type(exc).__name__}: {exc}"
        if not STATE.verbose:
            message += " (run with --verbose for the traceback)"
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    if STATE.verbose:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    return code


def main() -> None:
    sys.exit(run())


__all__ = ["app", "main", "run"]
