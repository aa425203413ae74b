"""The `etl-duck` app: global options, shared helpers and the exit-code scheme. Commands
live in one module per group (``files``, ``lake``, ``analytics``, ``server``, ``demo``) and
register themselves on :data:`app`; :func:`etl_duck.cli.main` runs it.

Exit codes (every command; README "Exit codes"):
0 everything done · 1 failed, nothing committed · 2 usage error (bad flag, missing path) ·
3 committed, but some input was quarantined, rejected or skipped · 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from etl_duck.ingest.options import IngestOptions
    from etl_duck.query.stats import Stats
    from etl_duck.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

app = typer.Typer(
    help="ET:Legacy stopwatch stats: fetch, parse, ingest into a Parquet lake, query with DuckDB.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _flags_take_no_value() -> None:
    """Typer's help shows every flag (``--help``, ``--json``, ``--full``) as ``<bool>``,
    which reads as "takes a value" (``--json true`` then fails): a flag shows no type."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag and self.metavar is None:
            return None
        return shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value()


class State:
    data_dir: Path = Path("data")
    verbose: bool = False


STATE = State()

#: ``--json`` on every command that prints results (a flag: no value; `metavar=""` keeps
#: Typer's help from showing it as ``--json <bool>``)
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Machine-readable output (JSON on stdout).", metavar="")
]


def _server_name(value: str | None) -> str | None:
    if value is None:
        return None
    from etl_duck.domain.sources import check_server_name

    try:
        return check_server_name(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


#: ``--server NAME`` on every command that reads stats: one game server (``main`` is the first
#: one); without it, every server together
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="One game server (`main` = the first); default: every server.",
        callback=_server_name,
    ),
]


def _version(value: bool) -> None:
    if value:
        from etl_duck import __version__

        console.print(f"etl-duck {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _global(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            envvar="ETL_DUCK_DATA_DIR",
            help="Where raw files, the lake and the quarantine live.",
        ),
    ] = Path("data"),
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Log progress details; show tracebacks.", metavar=""),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_version,
            is_eager=True,
            metavar="",
        ),
    ] = False,
) -> None:
    import logging

    STATE.data_dir = data_dir
    STATE.verbose = verbose
    if data_dir.exists() and not data_dir.is_dir():
        fail(
            f"--data-dir {data_dir} is a file, not a folder: pass the folder that holds (or "
            "will hold) raw/ and the lake",
            EXIT_USAGE,
        )
    # the CLI prints its own results; library logs (slow queries, refreshes) on request
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str, ensure_ascii=False) + "\n")


def settings() -> Settings:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from etl_duck.settings import load_settings, settings_problem

    try:
        return load_settings(data_dir=STATE.data_dir)
    except (ValidationError, SettingsError) as exc:  # a variable of the environment or .env
        fail(settings_problem(exc), EXIT_USAGE)


def ingest_options() -> IngestOptions:
    return settings().ingest_options()


def open_stats(server: str | None = None) -> Stats:
    """The query API over ``--data-dir``; a clear error when there is no lake there, or
    when ``server`` (a ``--server`` given) names a game server the lake has no session of."""
    require_lake()
    stats = settings().stats(short_lived=True)
    if server is not None:
        from etl_duck.domain.sources import label

        known = stats.servers()
        if server not in known:
            names = ", ".join(label(s) for s in known) or "none yet"
            fail(f"no game server {label(server)!r} in the stats; servers: {names}", EXIT_USAGE)
    return stats


def require_lake() -> None:
    """No lake at ``--data-dir``: say where we looked and what to do (not an empty table)."""
    data_dir = STATE.data_dir
    if (data_dir / "lake").is_symlink() or (data_dir / ".lake").is_dir():
        return  # a lake, or a damaged one (the query API names the damage)
    fail(
        f"no lake at {data_dir}/lake — pass --data-dir DIR (or set ETL_DUCK_DATA_DIR) or run "
        "`etl-duck ingest FILES…` to create one"
    )


def fail(exc: Exception | str, code: int = EXIT_FAILED) -> NoReturn:
    """One line on stderr naming the thing and the fix; exit with ``code``."""
    from rich.markup import escape

    err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def json_rows(df: Any) -> list[dict[str, Any]]:
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
        for r in df.to_dicts()
    ]
