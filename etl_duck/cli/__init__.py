"""`etl-duck` command line. Thin: every command calls the library and formats the result.

``app`` holds the Typer app, global options, the exit-code scheme and shared helpers; each
other module is one group of commands. :func:`run` turns every known failure into one
sentence on stderr and an exit code (a traceback only with ``--verbose``).
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence

from etl_duck.cli import analytics, demo, files, lake, server, site  # noqa: F401  (register commands)
from etl_duck.cli.app import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    STATE,
    app,
    err_console,
)


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command line; returns the exit code (README "Exit codes")."""
    import click

    try:
        result = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:  # bad flag, missing argument: usage error
        exc.show()
        return EXIT_USAGE
    except (click.exceptions.Abort, KeyboardInterrupt):
        err_console.print(
            "interrupted — the lake is unchanged (a commit is all or nothing); run the same "
            "command again to finish",
            highlight=False,
        )
        return EXIT_INTERRUPTED
    except Exception as exc:
        return _explain(exc)
    return int(result) if isinstance(result, int) else 0


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
