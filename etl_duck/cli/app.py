"""`etl-duck` command line. Thin: every command calls the library and formats the result."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="ET:Legacy stopwatch stats: fetch, parse, ingest into a Parquet lake, query with DuckDB.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


class State:
    data_dir: Path = Path("data")


STATE = State()


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
        bool, typer.Option("--verbose", "-v", help="Log timings and slow queries.")
    ] = False,
) -> None:
    import logging

    STATE.data_dir = data_dir
    # the CLI prints its own results; library logs (slow queries, refreshes) on request
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- parse


@app.command()
def parse(
    files: Annotated[
        list[Path], typer.Argument(help="Stats files (give R1 and R2 to see round-only R2 values).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what the parser reads from stats files: header and one row per player."""
    from etl_duck.domain.pairing import round_only_all
    from etl_duck.domain.parse import ParseError, read_round_file

    rounds = []
    for f in files:
        try:
            rounds.append(read_round_file(f))
        except (ParseError, OSError) as exc:
            err_console.print(f"[red]error[/red] {exc}")
            raise typer.Exit(2) from None
    rows = round_only_all(rounds)
    out = []
    for r in rounds:
        h = r.header
        entry: dict[str, Any] = {
            "file": r.file.name,
            "status": r.status.value,
            "map": r.file.map_name,
            "round": r.file.round_number,
            "end_time": r.file.end_time.isoformat(),
            "layout": r.layout,
            "header": None
            if h is None
            else {
                "server": h.server_name,
                "config": h.config,
                "defender_side": h.defender_side,
                "winner_side": h.winner_side,
                "time_limit_s": h.time_limit_s,
                "next_time_limit_s": h.next_time_limit_s,
                "play_time_ms": h.play_time_ms,
                "duration_s": r.duration_s,
            },
            "rejected": [
                {"line": e.line, "field": e.field, "reason": e.reason} for e in r.rejected
            ],
            "players": [
                {
                    "guid": p.guid,
                    "name": p.line.name,
                    "name_raw": p.line.name_raw,
                    "team": p.line.team,
                    "is_bot": p.line.is_bot,
                    "row": p.kind.value,
                    **p.values,
                    "weapons": {str(k): list(v) for k, v in p.weapons.items()},
                }
                for p in rows.get(r.file.name, [])
            ],
        }
        out.append(entry)
    if as_json:
        _print_json(out if len(out) > 1 else out[0])
    else:
        for e in out:
            hdr = e["header"] or {}
            console.print(
                f"[bold]{e['file']}[/bold]  status={e['status']} layout={e['layout']} "
                f"limit={hdr.get('time_limit_s')}s clock={hdr.get('next_time_limit_s')}s "
                f"duration={hdr.get('duration_s')}"
            )
            for rej in e["rejected"]:
                console.print(
                    f"  [red]rejected[/red] line {rej['line']} {rej['field']}: {rej['reason']}"
                )
            t = Table("guid", "name", "team", "row", "kills", "deaths", "dmg", "time_s", "xp")
            for p in e["players"]:
                t.add_row(
                    p["guid"], p["name"], str(p["team"]), p["row"], str(p["kills"]),
                    str(p["deaths"]), str(p["damage_given"]), str(p["time_played_s"]), str(p["xp"]),
                )  # fmt: skip
            console.print(t)
    if any(r.status.value == "empty" for r in rounds):
        raise typer.Exit(3)


# --------------------------------------------------------------------------- synth


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to write stats files into.")] = Path(
        "synthetic"
    ),
    days: Annotated[
        int, typer.Option(help="Days of history (1 = one evening, 3650 = 10 years).")
    ] = 90,
    seed: Annotated[int, typer.Option(help="Random seed; same seed → same files.")] = 7,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2025-01-06",
) -> None:
    """Generate a synthetic community's stats files (deterministic)."""
    from etl_duck.synth import generate

    out.mkdir(parents=True, exist_ok=True)
    truth = generate(out, seed=seed, start=date.fromisoformat(start), days=days)
    console.print(
        f"wrote {len(truth.rounds)} round files, {len(truth.player_rounds)} player-rounds to {out}"
    )


# --------------------------------------------------------------------------- lake


def _ingest_options() -> Any:
    from etl_duck.ingest.options import IngestOptions
    from etl_duck.settings import load_settings

    st = load_settings(data_dir=STATE.data_dir)
    return IngestOptions(
        session_gap_minutes=st.session_gap_minutes,
        filler_maps=tuple(st.filler_maps),
        timezone=st.timezone,
    )


def _print_report(report: Any) -> None:
    console.print(report.summary())
    for name, reason in sorted(report.quarantined.items()):
        console.print(f"  [red]quarantined[/red] {name}: {reason}")
    for name in report.partial:
        console.print(f"  [yellow]partial[/yellow] {name}: complete lines kept, will be re-fetched")
    for name in report.empty:
        console.print(f"  [yellow]empty[/yellow] {name}: retry later")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Stats files or folders.")],
) -> None:
    """Ingest stats files into the lake (one commit for the whole batch)."""
    from rich.progress import Progress

    from etl_duck.ingest.run import ingest_paths

    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("reading files", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = ingest_paths(STATE.data_dir, paths, _ingest_options(), tick)
    _print_report(report)


@app.command()
def rebuild() -> None:
    """Recreate the lake from data/raw (same content as before)."""
    from etl_duck.ingest.run import rebuild as rebuild_lake

    _print_report(rebuild_lake(STATE.data_dir, _ingest_options()))


def _stats() -> Any:
    from etl_duck.query.stats import Stats
    from etl_duck.settings import load_settings

    st = load_settings(data_dir=STATE.data_dir)
    return Stats(STATE.data_dir, min_rounds=st.min_rounds, slow_query_ms=st.slow_query_ms)


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Lake version, sessions, rounds, players, date range, quarantined files."""
    info = _stats().status()
    if as_json:
        _print_json(info)
        return
    t = Table(show_header=False, title=f"etl-duck lake at {STATE.data_dir}")
    for key in ("version", "sessions", "rounds", "counted_rounds", "player_rounds", "players",
                "first_date", "last_date", "files", "rejected_lines"):  # fmt: skip
        t.add_row(key.replace("_", " "), str(info.get(key)))
    for reason, n in info["excluded"].items():
        t.add_row(f"not counted: {reason}", str(n))
    console.print(t)
    for name, reason in info["quarantined"].items():
        console.print(f"[red]quarantined[/red] {name}: {reason}")
    for name in info["partial"]:
        console.print(f"[yellow]partial, awaiting re-fetch[/yellow] {name}")


# --------------------------------------------------------------------------- analytics


def _fail(exc: Exception) -> None:
    err_console.print(f"[red]{exc}[/red]")
    raise typer.Exit(1)


def _rows(df: Any) -> list[dict[str, Any]]:
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
        for r in df.to_dicts()
    ]


@app.command()
def top(
    stat: Annotated[
        str,
        typer.Argument(
            help="kills, kd, dpm, accuracy, headshot_rate, games, revives, gibs, objectives, efficiency, teamwork, multikills, grenade_kills"
        ),
    ],
    window: Annotated[
        str, typer.Option(help="all | season | month | week | session | FROM..TO")
    ] = "all",
    limit: Annotated[int, typer.Option(help="How many players.")] = 10,
    min_rounds: Annotated[
        int | None, typer.Option(help="Minimum rounds (default: setting).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A leaderboard."""
    from etl_duck.domain.metrics import resolve_metric
    from etl_duck.query.stats import NoData

    stats = _stats()
    try:
        metric = resolve_metric(stat)
        w = stats.resolve_window(window)
        board = stats.leaderboard(metric.key, w, limit=limit, min_rounds=min_rounds)
    except (ValueError, NoData) as exc:
        _fail(exc)
    if as_json:
        _print_json({"stat": metric.key, "window": w.label, "rows": _rows(board)})
        return
    extra = [c for c in ("kills", "deaths", "dpm") if c != metric.key]
    t = Table("#", "player", metric.label, "rounds", *[c.upper() if c == "dpm" else c for c in extra],
              title=f"{metric.label} — {w.label}")  # fmt: skip
    for r in board.iter_rows(named=True):
        cells = [f"{r[c] or 0:.1f}" if c == "dpm" else str(r[c]) for c in extra]
        t.add_row(str(r["rank"]), r["name"], metric.format(r["value"]), str(r["rounds"]), *cells)
    console.print(t)
    if board.is_empty():
        console.print("no player has enough rounds in this window")


def _session_json(rep: Any) -> dict[str, Any]:
    return {
        "session_id": rep.session_id,
        "session_date": rep.session_date.isoformat(),
        "start_time": rep.start_time.isoformat(),
        "end_time": rep.end_time.isoformat(),
        "players": _rows(rep.players),
        "maps": _rows(rep.maps),
        "teams": None
        if rep.teams is None
        else [{"name": t.name, "points": t.points, "players": list(t.players)} for t in rep.teams],
        "mvp": None
        if rep.mvp is None
        else {"guid": rep.mvp["guid"], "name": rep.mvp["name"], "dpm": rep.mvp["dpm"]},
    }


def print_session(rep: Any) -> None:
    console.print(
        f"[bold]Session {rep.session_date}[/bold]  {rep.start_time:%H:%M} → {rep.end_time:%H:%M} "
        f"({rep.duration}) · {rep.maps.height} maps · {rep.players.height} players"
    )
    t = Table("player", "rounds", "kills", "deaths", "K/D", "DPM", "acc %", "revives")
    for r in rep.players.iter_rows(named=True):
        t.add_row(r["name"], str(r["rounds"]), str(r["kills"]), str(r["deaths"]),
                  f"{r['kd']:.2f}", f"{r['dpm'] or 0:.1f}", f"{r['accuracy'] or 0:.1f}",
                  str(r["revives"]))  # fmt: skip
    console.print(t)
    m = Table("map", "rounds", "winner", "outcome")
    for r in rep.maps.iter_rows(named=True):
        m.add_row(
            r["map_name"],
            str(r["rounds"]),
            str(r.get("winner") or "—"),
            str(r.get("outcome") or "—"),
        )
    console.print(m)
    if rep.teams:
        a, b = rep.teams
        console.print(f"Score: {a.name} {a.points} – {b.points} {b.name}")
        console.print(f"  {a.name}: {', '.join(a.players)}")
        console.print(f"  {b.name}: {', '.join(b.players)}")
    if rep.mvp:
        console.print(
            f"MVP: [bold]{rep.mvp['name']}[/bold] ({rep.mvp['dpm']:.1f} DPM, {rep.mvp['kills']} kills)"
        )


@app.command()
def session(
    which: Annotated[
        str, typer.Argument(help="last or YYYY-MM-DD (the day the session started)")
    ] = "last",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The last session, or the session of a date: players, maps, stopwatch score, MVP."""
    from etl_duck.query.stats import NoData

    try:
        day = None if which == "last" else date.fromisoformat(which)
        rep = _stats().session(day)
    except (ValueError, NoData) as exc:
        _fail(exc)
    if as_json:
        _print_json(_session_json(rep))
    else:
        print_session(rep)


@app.command()
def sessions(
    month: Annotated[str | None, typer.Option(help="YYYY-MM")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Sessions, newest first (optionally one month)."""
    try:
        df = _stats().sessions(month)
    except ValueError as exc:
        _fail(exc)
    if as_json:
        _print_json(_rows(df))
        return
    t = Table("date", "start", "end", "rounds", "maps", "players")
    for r in df.iter_rows(named=True):
        t.add_row(str(r["session_date"]), f"{r['start_time']:%H:%M}", f"{r['end_time']:%H:%M}",
                  str(r["rounds"]), str(r["maps"]), str(r["players"]))  # fmt: skip
    console.print(t)


@app.command()
def player(
    name_or_guid: Annotated[str, typer.Argument(help="A name (fuzzy), GUID or GUID prefix.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A player's career card."""
    from etl_duck.query.stats import NoData, PlayerNotFound

    try:
        card = _stats().player(name_or_guid)
    except (PlayerNotFound, NoData) as exc:
        _fail(exc)
    tot = card.totals
    if as_json:
        _print_json({
            "guid": card.guid, "name": card.name,
            **{k: v for k, v in tot.items() if k not in ("guid", "name")},
            "weapons": _rows(card.weapons.head(5)), "last_rounds": _rows(card.last_rounds),
            "aliases": _rows(card.aliases), "maps": _rows(card.maps),
        })  # fmt: skip
        return
    console.print(f"[bold]{card.name}[/bold] ({card.guid})")
    console.print(
        f"rounds {tot['rounds']} · kills {tot['kills']} · deaths {tot['deaths']} · "
        f"K/D {tot['kd']:.2f} · DPM {tot['dpm'] or 0:.1f} · accuracy {tot['accuracy'] or 0:.1f}%"
    )
    w = Table("weapon", "kills", "accuracy %")
    for r in card.weapons.head(5).iter_rows(named=True):
        w.add_row(r["weapon"], str(r["kills"]), f"{r['accuracy'] or 0:.1f}")
    console.print(w)
    console.print("aliases: " + ", ".join(card.aliases["name"].to_list()))


@app.command()
def export(
    query: Annotated[str, typer.Argument(help="A query name from queries/ (e.g. player_totals).")],
    fmt: Annotated[str, typer.Option("--format", help="csv | parquet | json")] = "csv",
    out: Annotated[Path, typer.Option("--out", help="Output file.")] = Path("export.csv"),
    param: Annotated[
        list[str] | None, typer.Option("--param", help="name=value (dates as YYYY-MM-DD)")
    ] = None,
) -> None:
    """Run one query over the lake and write the rows to a file."""
    from etl_duck.query.windows import ALL_FROM, ALL_TO
    from etl_duck.sqlfiles import query_names

    if query not in query_names():
        _fail(ValueError(f"unknown query {query!r}; choose one of: {', '.join(query_names())}"))
    params: dict[str, Any] = {
        "date_from": ALL_FROM,
        "date_to": ALL_TO,
        "session_id": None,
        "limit": 100,
    }
    for p in param or []:
        key, _, value = p.partition("=")
        params[key] = date.fromisoformat(value) if key.startswith(("date", "day")) else value
    df = _stats().run(query, **params)
    if fmt == "csv":
        df.write_csv(out)
    elif fmt == "parquet":
        df.write_parquet(out)
    elif fmt == "json":
        out.write_text(json.dumps(_rows(df), indent=1, default=str))
    else:
        _fail(ValueError(f"unknown format {fmt!r}; use csv, parquet or json"))
    console.print(f"wrote {df.height} rows to {out}")


# --------------------------------------------------------------------------- server side


@app.command()
def fetch() -> None:
    """Fetch new stats files from the game server over SFTP once, then ingest them."""
    from etl_duck.fetch.poller import run_fetch
    from etl_duck.settings import load_settings

    raise typer.Exit(run_fetch(load_settings(data_dir=STATE.data_dir)))


@app.command()
def watch() -> None:
    """Poll the game server for new files until Ctrl-C (faster while a session is on)."""
    from etl_duck.fetch.poller import run_watch
    from etl_duck.settings import load_settings

    raise typer.Exit(run_watch(load_settings(data_dir=STATE.data_dir)))


@app.command()
def bot(
    check: Annotated[
        bool, typer.Option("--check", help="Validate settings and connectivity, except Discord.")
    ] = False,
) -> None:
    """Run the Discord bot (token and channels from the environment / .env)."""
    from etl_duck.bot import run_bot
    from etl_duck.settings import load_settings

    raise typer.Exit(run_bot(load_settings(data_dir=STATE.data_dir), check=check))


# --------------------------------------------------------------------------- demo


@app.command()
def demo(
    days: Annotated[int, typer.Option(help="Days of synthetic history (a season = 90).")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic community.")] = 7,
) -> None:
    """Generate a season of stats files, ingest them, show leaderboards, the last session
    and write a chart — the whole job on the embedded default, no server needed."""
    from etl_duck.charts import session_overview_png
    from etl_duck.ingest.run import ingest_paths
    from etl_duck.synth import generate

    files = STATE.data_dir / "synthetic"
    files.mkdir(parents=True, exist_ok=True)
    truth = generate(files, seed=seed, days=days)
    console.rule("1. a synthetic season")
    console.print(
        f"{len(truth.rounds)} round files, {len(truth.player_rounds)} player-rounds in {files}"
    )
    console.rule("2. ingest")
    _print_report(ingest_paths(STATE.data_dir, [files], _ingest_options()))
    console.rule("3. status")
    status(as_json=False)
    console.rule("4. leaderboards")
    top("kills", window="all", limit=5, min_rounds=None, as_json=False)
    top("dpm", window="month", limit=5, min_rounds=None, as_json=False)
    console.rule("5. the last session")
    rep = _stats().last_session()
    print_session(rep)
    chart = STATE.data_dir / "charts" / f"session-{rep.session_date}.png"
    chart.parent.mkdir(parents=True, exist_ok=True)
    chart.write_bytes(session_overview_png(rep))
    console.rule("6. chart")
    console.print(f"wrote {chart}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
