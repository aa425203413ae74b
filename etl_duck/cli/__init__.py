"""`etl-duck` command line. Thin: every command calls the library and formats the result.

``app`` holds the Typer app, global options, the exit-code scheme and shared helpers; each
other module is one group of commands.
"""

from __future__ import annotations

from etl_duck.cli import analytics, demo, files, lake, server, site  # noqa: F401  (register commands)
from etl_duck.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
