"""The `etl-duck` app: global options, shared helpers and the exit-code scheme. Commands
live in one module per group (``files``, ``lake``, ``analytics``, ``server``, ``demo``) and
register themselves on :data:`app`; :func:`etl_duck.cli.main` runs it.

Exit codes (every command; README "Exit codes"):
0 everything done · 1 failed, nothing committed · 2 usage error (bad flag, missing path) ·
3 committed, but some input was quarantined, rejected or skipped · 130 interrupted ·
141 the reader of the output went away (`etl-duck … | head`), as a process SIGPIPE ends.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup

if TYPE_CHECKING:
    from etl_duck.ingest.options import IngestOptions
    from etl_duck.query.stats import Stats
    from etl_duck.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: 128 + SIGPIPE: what the shell reports for `git log | head` and every other tool whose
#: reader went away
EXIT_READER_GONE = 141

#: where :class:`Commands` keeps the arguments given to the command (``ctx.meta``)
_GIVEN = "etl_duck.cli.given"


class ReaderGone(Exception):
    """The reader of our output went away (`etl-duck … | head`): stop quietly. Not an
    ``OSError``, so the parser's own EPIPE handler (exit 1) lets it through to ``run``."""


class Commands(TyperGroup):
    """The app's commands. A command that takes a NAME given one starting with ``-`` (clan
    tags such as ``-=A=-Bolt`` are common) reads it as an option: instead of the parser's
    "No such option" box, one sentence that says to put ``--`` before it (exit 2)."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command, its list line (``etl-duck --help``) one sentence: Typer's rich help
        keeps a docstring's line breaks there, so a summary wrapped at 100 columns in the
        source broke mid-phrase in the table ("newest first ⏎ (optionally one month or one
        ⏎ game server)")."""
        command = super().get_command(ctx, cmd_name)
        if command is not None and command.short_help is None and command.help:
            first = inspect.cleandoc(command.help).split("\n\n")[0]
            command.short_help = " ".join(first.split())
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[_GIVEN] = list(rest)
        return name, command, rest

    def invoke(self, ctx: Any) -> Any:
        from typer._click.exceptions import NoSuchOption

        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:  # a plain write (print, sys.stdout) to a closed pipe
            raise ReaderGone from exc
        except NoSuchOption as exc:
            sub = exc.ctx
            if sub is None or sub.command is self:
                raise
            if not any(p.param_type_name == "argument" for p in sub.command.params):
                raise  # no NAME to take: the parser's own message
            given = ctx.meta.get(_GIVEN, [])
            takes = {  # the command's options → whether one takes a value
                name: not getattr(p, "is_flag", False)
                for p in sub.command.params
                if p.param_type_name == "option"
                for name in p.opts
            }
            fail(dash_name(sub.command_path, exc, given, takes), EXIT_USAGE)


def dash_name(command: str, exc: Any, given: list[str], takes: dict[str, bool]) -> str:
    """The sentence for an unknown option (``exc``, the parser's) given to ``command``
    (``etl-duck player``): the word it came from (``-=A=-Bolt`` for ``-=``), a close option
    if any, and the same command line with ``--`` before that word, the command's own
    options (``takes``: name → takes a value) kept before the ``--``."""
    import shlex

    from etl_duck.cli.analytics import plain

    option: str = exc.option_name
    ends = given.index("--") if "--" in given else len(given)
    at = next((i for i, a in enumerate(given[:ends]) if a.startswith(option)), None)
    word = option if at is None else given[at]
    before: list[str] = [] if at is None else given[:at]
    names = [word]
    rest = [] if at is None else given[at + 1 : ends]
    while rest:
        a = rest.pop(0)
        if a.partition("=")[0] not in takes:
            names.append(a)  # a name, or another word that only reads as an option
            continue
        before.append(a)
        if takes[a.partition("=")[0]] and "=" not in a and rest:
            before.append(rest.pop(0))  # the option's value
    names += given[ends + 1 :]
    fixed = shlex.join([*command.split(), *before, "--", *names])
    possibilities = exc.possibilities
    close = f" (did you mean {' or '.join(sorted(possibilities))}?)" if possibilities else ""
    return plain(
        f"{command}: {word} reads as an option, and there is no option {option}{close}; "
        f"if {word} is a name, put -- before it: {fixed}"
    )


app = typer.Typer(
    help="ET:Legacy stopwatch stats: fetch, parse, ingest into a Parquet lake, query with DuckDB.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=Commands,
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


def _reader_gone(self: Console) -> None:
    """Rich's answer to a closed pipe exits 1 with nothing said: a failure to a script
    (`etl-duck status | head` exited 1). Every console (ours, and Typer's for --help)
    raises :class:`ReaderGone` instead, and ``run`` stops quietly."""
    self.quiet = True
    raise ReaderGone


Console.on_broken_pipe = _reader_gone  # type: ignore[method-assign]


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
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="ETL_DUCK_DATA_DIR",
            help="Where raw files, the lake and the quarantine live (default: "
            "ETL_DUCK_DATA_DIR of the environment or of ./.env, else ./data).",
            show_default=False,
        ),
    ] = None,
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

    if data_dir is None:
        data_dir = _data_dir_of_env_file()
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


def _data_dir_of_env_file() -> Path:
    """``ETL_DUCK_DATA_DIR`` as ``./.env`` sets it (read by the settings' own loader, as for
    every other setting), else ``data``: the option read only the process environment, so
    a data dir set in `.env` was ignored and `fetch`, `watch` and the bot wrote a second lake
    into ``./data``."""
    if not Path(".env").is_file():
        return Path("data")
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from etl_duck.settings import load_settings, settings_problem

    try:
        return load_settings().data_dir
    except (ValidationError, SettingsError) as exc:
        fail(settings_problem(exc), EXIT_USAGE)


#: ids that JavaScript's numbers would round: strings in every JSON the CLI writes (README
#: "JSON ids"). ``round_id``, ``match_id``, ``paired_round_id`` are 64-bit hashes; another
#: game server's ``session_id`` is 18 digits (past 2^53), so every ``session_id`` is a
#: string too: one type per field, whichever server
WIDE_IDS = re.compile(r"(^|_)(round|match|session)_id$")


def wide_ids_as_text(obj: Any) -> Any:
    """``obj`` with every whole number under a :data:`WIDE_IDS` key, at any depth, as a
    string (exact in any JSON reader); everything else as it was."""
    if isinstance(obj, dict):
        return {
            k: str(v)
            if isinstance(k, str) and WIDE_IDS.search(k) and type(v) is int
            else wide_ids_as_text(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [wide_ids_as_text(v) for v in obj]
    return obj


def print_json(obj: Any) -> None:
    """``obj`` as JSON on stdout; round, match and session ids as strings
    (:func:`wide_ids_as_text`);
    a float that is not finite (NaN, ±Infinity) as null."""

    def finite(v: Any) -> Any:
        # json.dumps writes NaN / Infinity bare, which is not JSON: JSON.parse, jq and
        # strict readers reject the whole answer. allow_nan=False alone would fail the
        # command instead, so an unknown number is written as JSON's unknown, null.
        if isinstance(v, float):
            return v if math.isfinite(v) else None
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [finite(x) for x in v]
        return v

    # allow_nan=False: a non-finite float this walk could not reach fails loudly rather
    # than reaching a reader as invalid JSON
    text = json.dumps(
        finite(wide_ids_as_text(obj)), indent=2, default=str, ensure_ascii=False, allow_nan=False
    )
    sys.stdout.write(text + "\n")


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
