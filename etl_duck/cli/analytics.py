"""`top`, `session`, `sessions`, `player`, `export`: the questions players ask."""

from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from etl_duck.cli.app import (
    EXIT_FAILED,
    EXIT_USAGE,
    WIDE_IDS,
    JsonFlag,
    ServerOption,
    app,
    console,
    err_console,
    fail,
    json_rows,
    open_stats,
    print_json,
    settings,
)
from etl_duck.domain.sources import MAIN, label

if TYPE_CHECKING:
    from datetime import datetime

    from etl_duck.query.stats import SessionReport, Stats


#: C0 and C1 control characters (ESC, BEL, CSI …): a name holding them could move the
#: cursor, retitle the window or recolour the terminal of whoever reads the output
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BREAKS = re.compile(r"[\t\n\r]+")
#: the most rows a list option (--limit, --last) shows
MAX_ROWS = 1_000_000
#: a session id as the lake writes it: YYYYMMDDHHMMSS of its first round's start (another
#: game server's: plus its offset, up to 18 digits); `etl-duck sessions` lists them
SESSION_ID = re.compile(r"\d{14,18}")


def plain(value: Any) -> str:
    """A data string (a player, team, map or file name) as a terminal may show it: every
    C0/C1 control character and direction control removed (tabs and line breaks become a
    space). Display only: the stored names are untouched."""
    from etl_duck.domain.parse import without_bidi

    return without_bidi(_CONTROL.sub("", _BREAKS.sub(" ", str(value))))


def shown(value: Any) -> str:
    """A data string for Rich: control characters removed and markup escaped, so a name
    like ``[/bold]x`` prints as it reads instead of failing the command."""
    return escape(plain(value))


def shown_list(values: Any) -> str:
    """Names joined with commas, each :func:`shown`."""
    return shown(", ".join(str(v) for v in values))


def rows_option(value: int, option: str) -> int:
    """A count of rows to show (``--limit``, ``--last``): 1 to :data:`MAX_ROWS`, else one
    sentence and exit 2 (not a database overflow)."""
    if not 1 <= value <= MAX_ROWS:
        fail(f"{option} {value} is out of range: give a number from 1 to {MAX_ROWS:,}", EXIT_USAGE)
    return value


def server_labels(df: Any) -> Any:
    """A frame's ``server`` column as people name servers (:func:`label`: the main server
    ``main``, as ``--server main`` and ``--param server=main`` take it, not the lake's
    ""): what `sessions --json` and every export write."""
    import polars as pl

    if df.schema.get("server") != pl.String:
        return df
    return df.with_columns(pl.col("server").replace(MAIN, label(MAIN)))


def num(value: Any, decimals: int = 0, unit: str = "") -> str:
    """A number as people read it; "—" where the files do not say (never "None")."""
    if value is None:
        return "—"
    return f"{value:,.{decimals}f}{unit}" if decimals else f"{value:,}{unit}"


@app.command()
def top(
    stat: Annotated[
        str,
        typer.Argument(
            help="kills, kd, dpm, accuracy, headshot_rate, games, revives, gibs, objectives, "
            "efficiency, teamwork, multikills, grenade_kills"
        ),
    ],
    window: Annotated[
        str, typer.Option(help="all | season | month | week | session | FROM..TO")
    ] = "all",
    limit: Annotated[int, typer.Option(help="How many players.")] = 10,
    min_rounds: Annotated[
        int | None, typer.Option(help="Minimum rounds (default: the setting).")
    ] = None,
    server: ServerOption = None,
    as_json: JsonFlag = False,
) -> None:
    """A leaderboard."""
    show_top(stat, window, limit, min_rounds, as_json, server)


def show_top(
    stat: str, window: str = "all", limit: int = 10, min_rounds: int | None = None,
    as_json: bool = False, server: str | None = None,
) -> None:  # fmt: skip
    from etl_duck.domain.metrics import resolve_metric
    from etl_duck.query.rating import frame_labels
    from etl_duck.query.stats import NoData

    rows_option(limit, "--limit")
    stats = open_stats(server)
    try:
        metric = resolve_metric(stat)
    except ValueError as exc:
        fail(exc, EXIT_USAGE)
    try:
        w = stats.resolve_window(window, server=server)
        board = stats.leaderboard(metric.key, w, limit, min_rounds, server)
    except ValueError as exc:
        fail(plain(exc), EXIT_USAGE)
    except NoData as exc:
        fail(plain(exc))
    where = "" if server is None else f" — server {label(server)}"
    if as_json:
        print_json({
            "stat": metric.key, "window": w.label, "server": None if server is None else label(server),
            "rows": json_rows(board),
        })  # fmt: skip
        return
    title = f"{metric.label} — {w.label}{where}"
    if not metric.descending:
        title += " (lower is better)"
    # the metric's own column, then rounds (unless that is the metric), then context
    extra = [c for c in ("kills", "deaths", "dpm") if c != metric.key]
    columns = ["#", "player", metric.label]
    if metric.key != "games":
        columns.append("rounds")
    t = Table(*columns, *[c.upper() if c == "dpm" else c for c in extra], title=shown(title))
    named = frame_labels(board)  # two players of one name told apart: "vid (D842)"
    for r in board.iter_rows(named=True):
        cells = [num(r[c], 1) if c == "dpm" else num(r[c]) for c in extra]
        row = [str(r["rank"]), shown(named[r["guid"]]), metric.format(r["value"])]
        if metric.key != "games":
            row.append(num(r["rounds"]))
        t.add_row(*row, *cells)
    console.print(t)
    if board.is_empty():
        threshold = f"{min_rounds}" if min_rounds is not None else "the minimum"
        console.print(f"no player has {threshold} rounds in {shown(w.label)} (try --min-rounds 0)")


def _session_json(rep: SessionReport) -> dict[str, Any]:
    return {
        "session_id": rep.session_id,
        "session_date": rep.session_date.isoformat(),
        "server": label(rep.server),
        "start_time": rep.start_time.isoformat(),
        "end_time": rep.end_time.isoformat(),
        # real across a clock change, where end − start of the wall-clock times is not
        "duration_s": int(rep.duration.total_seconds()),
        "round_files": rep.rounds["file_name"].to_list(),  # in the order they were played
        "maps_played": rep.maps.height,
        "players": json_rows(rep.players),
        "maps": json_rows(rep.maps),
        "teams": None
        if rep.teams is None
        else [{"name": t.name, "points": t.points, "players": list(t.players)} for t in rep.teams],
        "mvp": None
        if rep.mvp is None
        else {"guid": rep.mvp["guid"], "name": rep.mvp["name"], "dpm": rep.mvp["dpm"]},
        "teams_set_by_admin": rep.overridden,
        "score_per_opponent": [
            {
                "maps": [s.first + 1, s.last + 1],
                "teams": list(s.names),
                "map_wins": list(s.wins),
                "draws": s.draws,
                "line": s.line(),
                "players": [sorted(s.rosters[0]), sorted(s.rosters[1])],
                # False: its sides are not the two teams (reshuffled), its maps no points
                "scored": s.scored,
            }
            for s in rep.segments
        ],
    }


def print_session(rep: SessionReport) -> None:
    from etl_duck.query.rating import frame_labels, label_of, roster_labels

    named = frame_labels(rep.players)  # two players of one name told apart: "vid (D842)"
    console.print(
        f"[bold]Session {rep.session_date}[/bold]  {rep.start_time:%H:%M} → {rep.end_time:%H:%M} "
        f"({rep.duration}) · {rep.maps.height} maps played · {rep.players.height} players"
        + (f" · server {shown(rep.server)}" if rep.server else "")
    )
    t = Table("player", "rounds", "kills", "deaths", "K/D", "DPM", "acc %", "revives")
    for r in rep.players.iter_rows(named=True):
        t.add_row(shown(named[r["guid"]]), num(r["rounds"]), num(r["kills"]), num(r["deaths"]),
                  num(r["kd"], 2), num(r["dpm"], 1), num(r["accuracy"], 1),
                  num(r["revives"]))  # fmt: skip
    console.print(t)
    m = Table("map", "rounds", "winner", "outcome")
    for r in rep.maps.iter_rows(named=True):
        winner = r.get("team_a") if r.get("winner") == "A" else r.get("team_b")
        m.add_row(
            shown(r["map_name"]),
            str(r["rounds"]),
            shown(winner if r.get("winner") else "—"),
            shown(r.get("outcome") or "—"),
        )
    console.print(m)
    if rep.teams:
        a, b = rep.teams
        if len(rep.segments) > 1:  # the opponents changed: the score per opponent
            for seg in rep.segments:
                console.print(f"Score: {shown(f'{seg.line()} ({seg.where})')}")
                if not seg.scored:  # not the two teams below: who played on each side
                    for name, roster in zip(seg.names, seg.rosters, strict=True):
                        who = sorted(named.get(g, g) for g in roster)
                        console.print(f"    {shown(name)}: {shown_list(who)}")
        else:
            console.print(f"Score: {shown(a.name)} {a.points} – {b.points} {shown(b.name)}")
        for team in (a, b):
            shown_team = roster_labels(named, team.guids, team.players)
            console.print(f"  {shown(team.name)}: {shown_list(shown_team)}")
    if rep.mvp:
        console.print(
            f"MVP: [bold]{shown(label_of(named, rep.mvp))}[/bold] ({num(rep.mvp['dpm'], 1)} DPM, "
            f"{num(rep.mvp['kills'])} kills)"
        )


def parse_day(text: str, zone: str | None = None) -> date | None:
    """`last`, `today`, `yesterday` or YYYY-MM-DD (None = the last session). Today is the
    game server's (``zone``, IANA; default: the configured ``timezone``), not the host's:
    session dates are the server's wall clock."""
    t = text.strip().lower()
    if t in ("", "last"):
        return None
    if t in ("today", "yesterday"):
        from etl_duck.query.stats import server_today

        today = server_today(zone or settings().timezone)
        return today if t == "today" else today - timedelta(days=1)
    try:
        return date.fromisoformat(t)
    except ValueError:
        fail(
            f"{text!r} is not a session date or id: use last, today, yesterday, YYYY-MM-DD or "
            "a session id (`etl-duck sessions` lists them)",
            EXIT_USAGE,
        )


def parse_session(text: str, zone: str | None = None) -> date | int | None:
    """A session id (:data:`SESSION_ID`: one session, whatever else started that day), else
    what :func:`parse_day` reads."""
    t = text.strip()
    return int(t) if SESSION_ID.fullmatch(t) else parse_day(t, zone)


def others_note(day: date, session_id: int, others: list[tuple[int, datetime]]) -> str | None:
    """One line naming the other sessions that started on the date that opened
    ``session_id``, and how to open each (None when there are none)."""
    if not others:
        return None
    how = ", ".join(f"{start:%H:%M} (etl-duck session {sid})" for sid, start in others)
    return (
        f"{day} holds {len(others) + 1} sessions; this is the last to start "
        f"({session_id}). Also: {how}"
    )


@app.command()
def session(
    which: Annotated[
        str,
        typer.Argument(
            help="last, today, yesterday, YYYY-MM-DD (the day the session started; the last "
            "to start when several did) or a session id (`etl-duck sessions` lists them)"
        ),
    ] = "last",
    server: ServerOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The last session, or the session of a date or id: players, maps, stopwatch score, MVP."""
    from etl_duck.query.stats import NoData

    picked = parse_session(which)
    stats = open_stats(server)
    try:
        rep = stats.session(picked, server)
        others = (
            [] if not isinstance(picked, date) else stats.others_on(picked, rep.session_id, server)
        )
    except NoData as exc:
        # an id the lake does not know is a wrong argument; a date without a session, no answer
        code = EXIT_USAGE if isinstance(picked, int) else EXIT_FAILED
        fail(f"{plain(exc)} (`etl-duck sessions` lists the sessions)", code)
    note = None if not isinstance(picked, date) else others_note(picked, rep.session_id, others)
    if note:  # on stderr: --json's output stays one document
        err_console.print(f"note: {shown(note)}", highlight=False, soft_wrap=True)
    if as_json:
        print_json(_session_json(rep))
    else:
        print_session(rep)


@app.command()
def sessions(
    month: Annotated[str | None, typer.Option(help="YYYY-MM")] = None,
    server: ServerOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Sessions with at least one counted round, newest first (optionally one month or one
    game server)."""
    try:
        df = open_stats(server).sessions(month, server)
    except ValueError as exc:
        fail(plain(exc), EXIT_USAGE)
    df = server_labels(df)
    if as_json:
        print_json(json_rows(df))
        return
    several = df["server"].n_unique() > 1  # one server: no column to read
    t = Table()
    for name in ("date", "start", "end"):
        t.add_column(name, no_wrap=True)
    for name in ("counted rounds", "maps played", "players"):
        t.add_column(name)
    # what `etl-duck session ID` opens: one session, where a date holds two
    t.add_column("session id", no_wrap=True)
    if several:
        t.add_column("server")
    for r in df.iter_rows(named=True):
        t.add_row(str(r["session_date"]), f"{r['start_time']:%H:%M}", f"{r['end_time']:%H:%M}",
                  num(r["rounds"]), num(r["matches"]), num(r["players"]), str(r["session_id"]),
                  *([shown(r["server"])] if several else []))  # fmt: skip
    console.print(t)
    if df.is_empty():
        console.print("no session with a counted round" + (f" in {shown(month)}" if month else ""))


@app.command()
def player(
    name_or_guid: Annotated[
        str, typer.Argument(help="A name (fuzzy, colour codes allowed), GUID or GUID prefix.")
    ],
    server: ServerOption = None,
    as_json: JsonFlag = False,
) -> None:
    """A player's career card (every game server, or one)."""
    from etl_duck.query.stats import NoData, PlayerAmbiguous, PlayerNotFound

    stats = open_stats(server)
    try:
        card = stats.player(name_or_guid, server)
    except PlayerAmbiguous as exc:
        err_console.print(f"{shown(repr(exc.text))} matches several players; which one?")
        for guid, name in exc.candidates:
            err_console.print(f"  {shown(name)}  (etl-duck player {shown(guid)})", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except PlayerNotFound as exc:
        fail(plain(exc), EXIT_USAGE)
    except NoData:
        # a known player without a counted round (here): an answer, not a failure — exit 0
        # with one sentence, as `bests`, `teammates`, `rivals` and `rating` say "nothing yet"
        guid, name = stats.resolve_player(name_or_guid)
        where = "" if server is None else f" on server {label(server)}"
        if as_json:
            print_json({"guid": guid, "name": name, **_no_totals(stats, server), "weapons": [],
                        "last_rounds": [], "aliases": [], "maps": []})  # fmt: skip
        else:
            console.print(f"{shown(name)} ({shown(guid)}) has no counted round yet{where}")
        return
    tot = card.totals
    if as_json:
        print_json({
            "guid": card.guid, "name": card.name,
            **{k: v for k, v in tot.items() if k not in ("guid", "name")},
            "weapons": json_rows(card.weapons.head(5)), "last_rounds": json_rows(card.last_rounds),
            "aliases": json_rows(card.aliases), "maps": json_rows(card.maps),
        })  # fmt: skip
        return
    console.print(f"[bold]{shown(card.name)}[/bold] ({shown(card.guid)})")
    console.print(
        f"rounds {num(tot['rounds'])} · kills {num(tot['kills'])} · deaths {num(tot['deaths'])} · "
        f"K/D {num(tot['kd'], 2)} · DPM {num(tot['dpm'], 1)} · "
        f"accuracy {num(tot['accuracy'], 1, '%')}"
    )
    w = Table("weapon", "kills", "accuracy %")
    for r in card.weapons.head(5).iter_rows(named=True):
        w.add_row(shown(r["weapon"]), num(r["kills"]), num(r["accuracy"], 1))
    console.print(w)
    console.print("aliases: " + shown_list(card.aliases["name"].to_list()))


def _no_totals(stats: Stats, server: str | None) -> dict[str, Any]:
    """The totals of a card with no counted round, keyed as the usual `player --json`
    object (README: "the usual object"): every sum 0 and every metric as its formula gives
    for zero sums (K/D 0.0; a ratio over nothing, DPM or accuracy, null), each column of
    the totals the card reads, in their order and types."""
    import polars as pl

    from etl_duck.domain.metrics import METRICS
    from etl_duck.query import ALL_FROM, ALL_TO, Window

    schema = stats.player_totals(Window("all", ALL_FROM, ALL_TO), server).schema
    zeros = pl.DataFrame(
        [pl.Series(k, [0 if t.is_integer() else None], dtype=t) for k, t in schema.items()]
    )
    metrics = [m.expr.cast(schema[k]).alias(k) for k, m in METRICS.items() if k in schema]
    row = zeros.with_columns(metrics).row(0, named=True)
    return {k: v for k, v in row.items() if k not in ("guid", "name")}


#: queries behind the serving tables and cards: not rows a person exports
#: (``rating_map_players`` is the rating's own input; its ``$dates`` list is also the name
#: of the query API's partition argument, so an export could not pass it)
INTERNAL_QUERIES = (
    "rollup_",
    "career_",
    "round_by_file",
    "last_session",
    "player_history",
    "lake_status",
    "rating_map_players",
)
#: parameters the query API fills in when an export does not give them
DEFAULTS: dict[str, Any] = {
    "session_id": None,
    "limit": 100,
    "server": None,
    "round_id": None,
    "match_id": None,
}
#: the formats an export writes, by the ``--out`` suffix that names each (any case)
FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json"}
#: ``--out -``: standard output, as ``/dev/stdout`` (a stream: written straight)
STDOUT = Path("/dev/stdout")
#: what names the detail partitions (per session date) a query reads: one of these
SCOPES = ("session_id", "names", "round_id", "match_id")
#: the largest whole number a query parameter holds (DuckDB BIGINT)
MAX_INT = 2**63 - 1
#: the most ``days`` a query looks back (its ``CAST($days AS INTEGER)`` subtracted from a
#: timestamp must stay a timestamp: 2^31 days do not; 100,000 days is some 270 years)
MAX_DAYS = 100_000
#: parameters that are whole numbers, and the largest each holds (``*_id``: MAX_INT)
WHOLE_NUMBERS = {"limit": MAX_INT, "days": MAX_DAYS}
_ID_HINT = f"a whole number: give one from 0 to {MAX_INT}"
_ROUND_IDS = "(`etl-duck export session_rounds` lists them)"
#: what a whole-number parameter is, and where to find one
ID_HINTS = {
    "limit": f"a row count: give a whole number from 0 to {MAX_INT}",
    "session_id": "a session id: give its YYYYMMDDHHMMSS number (`etl-duck sessions --json` "
    "lists them)",
    "round_id": f"a round id: give a round's id number {_ROUND_IDS}",
    "match_id": f"a match id: give a match's id number {_ROUND_IDS}",
    "days": f"a number of days: give a whole number from 0 to {MAX_DAYS:,}",
}
_DETAIL_TABLES = re.compile(
    r"\bFROM\s+(player_rounds|weapon_rounds|endstats_awards|endstats_versus)\b", re.IGNORECASE
)


def takes_any_server(query: str) -> bool:
    """Whether a query reads a missing ``$server`` as every server (``$server IS NULL OR
    …``); one that compares ``server = $server`` alone (``player_server_*``, one server's
    rows) would give no rows, so an export of it needs ``--param server=``."""
    from etl_duck.sqlfiles import sql

    return re.search(r"\$server\s+IS\s+NULL\b", sql(query), re.IGNORECASE) is not None


def export_format(fmt: str | None, out: str | None) -> str:
    """The format an export writes: ``--format`` in any case, else the one ``--out``'s
    suffix names (.csv, .parquet, .json), else CSV. A ``--format`` that is none of them,
    or that another known suffix of ``--out`` contradicts: one sentence, exit 2."""
    chosen = fmt.lower() if fmt is not None else None
    if chosen is not None and chosen not in FORMATS.values():
        fail(f"unknown format {plain(fmt)!r}; use csv, parquet or json", EXIT_USAGE)
    named = FORMATS.get(Path(out).suffix.lower()) if out and out != "-" else None
    if chosen is not None and named is not None and chosen != named:
        fail(f"--format {plain(fmt)} contradicts --out {plain(out)}, a {named} file name: "
             f"drop --format or give --out a .{chosen} name", EXIT_USAGE)  # fmt: skip
    return chosen or named or "csv"


def reads_partitions(query: str) -> bool:
    """Whether a query reads per-date detail partitions (player or weapon rows, endstats):
    the export must name the dates, from the session or rounds its parameters give."""
    from etl_duck.sqlfiles import sql

    return _DETAIL_TABLES.search(sql(query)) is not None


def exportable() -> list[str]:
    """Queries an export can feed: not internal, and a detail query only when one of its
    parameters names the session or the rounds (the partitions it reads)."""
    from etl_duck.sqlfiles import parameters, query_names

    return [
        q
        for q in query_names()
        if not q.startswith(INTERNAL_QUERIES)
        and (not reads_partitions(q) or parameters(q) & set(SCOPES))
    ]


def param_value(key: str, value: str) -> Any:
    """One ``--param name=value`` typed by its name (always a bound SQL parameter, never SQL
    text): ids, ``limit`` and ``days`` are whole numbers ≥ 0, the other ``date…`` and
    ``day…`` names dates YYYY-MM-DD, ``names`` and ``dates`` comma-separated lists, ``all``
    a yes/no; anything else text. A bad value: one sentence, exit 2."""
    from etl_duck.domain.sources import check_server_name

    text = value.strip()
    if key == "server":
        try:
            return check_server_name(value)
        except ValueError as exc:
            fail(f"--param {plain(exc)}", EXIT_USAGE)
    if key.endswith("_id") or key in WHOLE_NUMBERS:
        try:
            number = int(text)
        except ValueError:
            number = -1
        if not 0 <= number <= WHOLE_NUMBERS.get(key, MAX_INT):
            fail(f"--param {key}={plain(value)} is not {ID_HINTS.get(key, _ID_HINT)}",
                 EXIT_USAGE)  # fmt: skip
        return number
    if key in ("names", "dates"):
        items = [x.strip() for x in value.split(",") if x.strip()]
        if not items:
            fail(f"--param {key}= is empty: give one or more values separated by commas",
                 EXIT_USAGE)  # fmt: skip
        return [param_value("date", x) for x in items] if key == "dates" else items
    if key.startswith(("date", "day")):
        try:
            return date.fromisoformat(text)
        except ValueError:
            fail(f"--param {key}={plain(value)}: not a date (use YYYY-MM-DD)", EXIT_USAGE)
    if key == "all":
        flags = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
        if text.lower() not in flags:
            fail(f"--param all={plain(value)}: use true or false", EXIT_USAGE)
        return flags[text.lower()]
    return value


def _partition_dates(stats: Any, query: str, params: dict[str, Any]) -> list[date] | None:
    """The session dates a detail query reads: the session's, or those of the rounds its
    ``names``, ``round_id`` or ``match_id`` name (none found: no dates, no rows)."""
    from etl_duck.domain.sessions import session_date_of
    from etl_duck.sqlfiles import parameters

    if not reads_partitions(query):
        return None
    sid = params.get("session_id")
    if sid is not None:
        try:
            return [session_date_of(sid)]
        except ValueError:
            fail(f"--param session_id={sid} is not {ID_HINTS['session_id']}", EXIT_USAGE)
    given = {k: params[k] for k in ("names", "round_id", "match_id") if params.get(k) is not None}
    if not given:
        takes = [k for k in SCOPES if k in parameters(query)]
        add = " or ".join(f"--param {k}=…" for k in takes)
        if takes == ["session_id"]:
            fail(f"{query} reads one session: add {add} (`etl-duck sessions --json` lists "
                 "them)", EXIT_USAGE)  # fmt: skip
        fail(f"{query} reads the rows of some rounds: add {add} {_ROUND_IDS}", EXIT_USAGE)
    import polars as pl

    rounds = stats.run("social_rounds")
    if "names" in given:
        rounds = rounds.filter(pl.col("file_name").is_in(given["names"]))
    for key in ("round_id", "match_id"):
        if key in given:
            rounds = rounds.filter(pl.col(key) == given[key])
    return sorted(set(rounds["session_date"].to_list()))


#: a "(os error N)" in the text of an error Polars raises (its OSErrors carry no errno)
_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def _write_problem(exc: Exception, folder: Path) -> str:
    """Why writing an export failed and what to do, in words, by cause (Polars' errors
    carry no file name, nor always an errno: it is read from their text)."""
    import errno

    code = getattr(exc, "errno", None)
    if code is None and (found := _OS_ERROR.search(str(exc))):
        code = int(found[1])
    where = plain(folder)
    if code in (errno.ENOSPC, errno.EDQUOT):
        why = "no space left" if code == errno.ENOSPC else "the disk quota is used up"
        return f"{why} on the disk of {where} — free space or choose another --out"
    if code == errno.EFBIG:
        return (
            "the file is larger than this user's file-size limit (ulimit -f) or the file "
            "system allows — raise the limit or choose another --out"
        )
    if code == errno.EROFS:
        return f"{where} is on a read-only file system — choose another --out"
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        why = "permission denied"
    elif isinstance(exc, FileNotFoundError) or code == errno.ENOENT:
        why = "its folder does not exist"
    elif isinstance(exc, IsADirectoryError) or code == errno.EISDIR:
        why = "it is a folder"
    elif isinstance(exc, OSError) and exc.strerror:
        why = exc.strerror.lower()
    else:
        why = plain(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return f"{why} — give another --out (or make {where} writable by this user)"


def has_order(query_sql: str) -> bool:
    """Whether a query's own statement ends in ORDER BY (one outside any parentheses: not
    a window's or a subquery's). Comments and string literals are ignored."""
    text = "\n".join(line.split("--", 1)[0] for line in query_sql.splitlines())
    text = re.sub(r"'(?:[^']|'')*'", "''", text)
    while (inner := re.sub(r"\([^()]*\)", "", text)) != text:
        text = inner
    return re.search(r"\bORDER\s+BY\b", text, re.IGNORECASE) is not None


#: text cells a spreadsheet would run as a formula (OWASP "CSV injection"): in a CSV
#: export they get a leading ' so they read as text
_FORMULA_START = r"^[=+\-@\t\r]"


def nested_columns(df: Any) -> list[str]:
    """The columns holding lists or structs (CSV has no place for them)."""
    return [c for c, t in df.schema.items() if t.is_nested()]


def csv_safe(df: Any) -> Any:
    """Text cells that start like a formula (= + - @ tab CR) prefixed with a single quote,
    so a spreadsheet opening the CSV shows them instead of running them."""
    import polars as pl

    return df.with_columns(
        pl.when(pl.col(c).str.contains(_FORMULA_START))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c, t in df.schema.items()
        if t == pl.String
    )


def json_safe(df: Any) -> Any:
    """Round and match ids (64-bit hashes) as strings: exact in any JSON reader."""
    import polars as pl

    return df.with_columns(pl.col(c).cast(pl.String) for c in df.columns if WIDE_IDS.search(c))


def _render(df: Any, fmt: str) -> bytes:
    """The export's bytes, built in memory (a failure here writes nothing)."""
    import io

    if fmt == "json":
        # a text file ends with a newline (`cat`, `wc -l`, a log it is appended to)
        return (json.dumps(json_rows(json_safe(df)), indent=1, default=str) + "\n").encode()
    buffer = io.BytesIO()
    if fmt == "csv":
        csv_safe(df).write_csv(buffer)
    else:
        df.write_parquet(buffer)
    return buffer.getvalue()


def _check_known(stats: Any, params: dict[str, Any]) -> None:
    """An export with no rows whose ``guid``, ``session_id``, ``round_id``, ``match_id`` or
    ``names`` the lake does not know: one sentence, exit 2 (as `etl-duck player` does), not
    "wrote 0 rows" (a mistyped id read as "that round had no awards")."""
    guid = params.get("guid")
    if isinstance(guid, str):
        known = stats.run("player_directory", text=guid)["guid"]
        if not known.is_in([guid]).any():
            case = (
                f" (GUIDs are upper case: guid={plain(guid.upper())})"
                if known.is_in([guid.upper()]).any()
                else " (`etl-duck player NAME` shows a player's GUID)"
            )
            fail(f"--param guid={plain(guid)}: no player in the lake has this GUID{case}",
                 EXIT_USAGE)  # fmt: skip
    if not any(params.get(k) is not None for k in ("session_id", "round_id", "match_id", "names")):
        return
    rounds = stats.run("social_rounds")
    sid = params.get("session_id")
    if sid is not None and not rounds["session_id"].is_in([sid]).any():
        fail(f"--param session_id={sid}: no session in the lake has this id (`etl-duck "
             "sessions --json` lists them)", EXIT_USAGE)  # fmt: skip
    for key in ("round_id", "match_id"):
        given = params.get(key)
        if given is not None and not rounds[key].is_in([given]).any():
            fail(f"--param {key}={given}: no {key.removesuffix('_id')} in the lake has this "
                 f"id {_ROUND_IDS}", EXIT_USAGE)  # fmt: skip
    names = params.get("names")
    if names and not rounds["file_name"].is_in(names).any():
        fail(f"--param names={plain(','.join(names))}: no round in the lake was read from "
             f"{'this file' if len(names) == 1 else 'these files'} {_ROUND_IDS}",
             EXIT_USAGE)  # fmt: skip


@app.command()
def export(
    query: Annotated[
        str, typer.Argument(help="A query name (e.g. player_totals); any other lists them.")
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv | parquet | json (default: --out's suffix, or csv)"),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option("--out", help="Output file, - for stdout (default: export.<format>)."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="name=value, repeatable (dates as YYYY-MM-DD; ids and limit as numbers; "
            "names as a comma-separated list)",
        ),
    ] = None,
) -> None:
    """Run one query over the lake and write its rows, in the query's order (sorted by
    every column when it has none), to a file: whole, or not at all."""
    import polars as pl

    from etl_duck.cli.atomic import behind_said, is_stream, stream_file, write_atomic
    from etl_duck.query.windows import ALL_FROM, ALL_TO
    from etl_duck.sqlfiles import parameters, sql

    if query not in exportable():
        fail(f"unknown query {query!r}; choose one of: {', '.join(exportable())}", EXIT_USAGE)
    fmt = export_format(fmt, out)
    wanted = parameters(query)
    defaults = {**DEFAULTS, "date_from": ALL_FROM, "date_to": ALL_TO}
    if not takes_any_server(query):  # one server's rows: which one is the caller's to say
        del defaults["server"]
    params: dict[str, Any] = {k: v for k, v in defaults.items() if k in wanted}
    given: set[str] = set()
    for p in param or []:
        key, eq, value = p.partition("=")
        takes = ", ".join(sorted(wanted)) or "no parameters"
        if not eq:  # `--param date_from`: the name alone, no value
            example = f", e.g. --param {key}=…" if key in wanted else f" ({query} takes: {takes})"
            fail(f"--param {plain(p)}: give name=value{example}", EXIT_USAGE)
        if key not in wanted:
            fail(f"{query} has no parameter {key!r} (it takes: {takes})", EXIT_USAGE)
        if key in given:  # the last one silently winning hid a typo in the first
            lists = " (one --param names=a,b lists several)" if key == "names" else ""
            fail(f"--param {key} is given more than once: give it once{lists}", EXIT_USAGE)
        given.add(key)
        params[key] = param_value(key, value)
    missing = sorted(wanted - params.keys())
    if missing:
        hint = {"server": "NAME (main for the main server)"}
        needed = " ".join(f"--param {m}={hint.get(m, '…')}" for m in missing)
        fail(f"{query} needs {', '.join(missing)}: add {needed}", EXIT_USAGE)
    lo, hi = params.get("date_from"), params.get("date_to")
    if isinstance(lo, date) and isinstance(hi, date) and lo > hi:
        fail(f"--param date_from={lo} is after date_to={hi}: give the earlier date first",
             EXIT_USAGE)  # fmt: skip
    target = STDOUT if out == "-" else Path(out or f"export.{fmt}")
    name = plain(target)
    if target.is_dir():
        fail(f"cannot write {name}: it is a folder — give a file name, e.g. --out "
             f"{plain(target / f'export.{fmt}')}", EXIT_USAGE)  # fmt: skip
    folder = target.parent
    if not folder.is_dir():
        fail(f"cannot write {name}: the folder {plain(folder)} does not exist — create it or "
             "give another --out", EXIT_USAGE)  # fmt: skip
    if target.is_symlink() and not is_stream(target):
        # the file written is the one the link names: its folder is the one that counts
        real = Path(os.path.realpath(target))
        folder = real.parent
        if not folder.is_dir():
            fail(f"cannot write {name}: it links to {plain(real)}, whose folder "
                 f"{plain(folder)} does not exist — create it or give another --out",
                 EXIT_USAGE)  # fmt: skip
    stats = open_stats(params.get("server"))  # a server the lake does not know: exit 2
    dates = _partition_dates(stats, query, params)
    df = stats.run(query, dates, **params)
    if df.is_empty():
        _check_known(stats, params)
    if fmt == "csv" and (nested := nested_columns(df)):
        fail(f"{query} has list columns ({', '.join(nested)}): use --format parquet or json",
             EXIT_USAGE)  # fmt: skip
    df = server_labels(df)  # before the sort: the order is that of the values written
    if not has_order(sql(query)):
        df = df.sort(df.columns, nulls_last=True)  # one order for every format and run
    try:
        write_atomic(target, _render(df, fmt))
    except BrokenPipeError:  # `--out /dev/stdout | head`: the reader went away, exit 141
        raise
    except (OSError, pl.exceptions.PolarsError) as exc:
        behind = stream_file(target)  # `--out /dev/stdout > file`: that file, not /dev
        if behind is not None:
            name, folder = f"{name} ({behind_said(target, behind)})", Path(behind).parent
        fail(f"cannot write {name}: {_write_problem(exc, folder)}")
    # on stderr: the rows may be going to stdout (`--out /dev/stdout`, a pipe)
    err_console.print(f"wrote {df.height} rows to {shown(target)}")
