"""`parse` and `synth`: what the parser reads, and a synthetic community."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from etl_duck.cli.analytics import plain, shown
from etl_duck.cli.app import (
    EXIT_FAILED,
    EXIT_PARTIAL,
    EXIT_USAGE,
    STATE,
    JsonFlag,
    app,
    console,
    fail,
    print_json,
)


@app.command()
def parse(
    files: Annotated[
        list[Path], typer.Argument(help="Stats files (give R1 and R2 to see round-only R2 values).")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Show what the parser reads from stats files: header and one row per player."""
    from etl_duck.domain.pairing import round_only_all
    from etl_duck.domain.parse import ParseError, read_round_file

    missing = [f for f in files if not f.is_file()]
    if missing:
        fail(f"no such file: {', '.join(map(plain, missing))}", EXIT_USAGE)
    rounds = []
    for f in files:
        try:
            rounds.append(read_round_file(f))
        except ParseError as exc:
            fail(f"{plain(exc)} (the whole file cannot be read)")
    rows = round_only_all(rounds, _timezone())  # the server's clock (DST)
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
        print_json(out if len(out) > 1 else out[0])
    else:
        for e in out:
            hdr = e["header"]
            if hdr is None:
                console.print(
                    f"[bold]{shown(e['file'])}[/bold]  empty: 0 bytes (the writer had not "
                    "written it yet); nothing to read"
                )
                continue
            duration = hdr["duration_s"]
            console.print(
                f"[bold]{shown(e['file'])}[/bold]  status={e['status']} "
                f"layout={shown(e['layout'] or '—')} "
                f"time limit {hdr['time_limit_s']} s · clock {hdr['next_time_limit_s']} s · "
                f"duration {'unknown' if duration is None else f'{duration:g} s'}"
            )
            for rej in e["rejected"]:
                console.print(
                    f"  [red]rejected[/red] {shown(e['file'])}:{rej['line']}: "
                    f"{shown(rej['field'])}: {shown(rej['reason'])}",
                    soft_wrap=True,
                )
            t = Table("guid", "name", "team", "row", "kills", "deaths", "dmg", "time_s", "xp")
            for p in e["players"]:
                t.add_row(
                    shown(p["guid"]), shown(p["name"]), str(p["team"]), p["row"], str(p["kills"]),
                    str(p["deaths"]), str(p["damage_given"]), str(p["time_played_s"]), str(p["xp"]),
                )  # fmt: skip
            console.print(t)
    if any(r.status.value == "empty" or r.rejected for r in rounds):
        raise typer.Exit(EXIT_PARTIAL)


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
    from etl_duck.cli.progress import PhaseProgress
    from etl_duck.synth import generate

    try:
        first = date.fromisoformat(start)
    except ValueError:
        fail(f"--start {start!r} is not a date (use YYYY-MM-DD)", EXIT_USAGE)
    if days < 1:
        fail(f"--days {days} generates nothing: give 1 or more days", EXIT_USAGE)
    try:  # a day to spare: an evening may end after midnight
        first + timedelta(days=days)
    except OverflowError:
        fail(f"--days {days} from --start {first} runs past the last date there is "
             f"({date.max}): give fewer days or an earlier start", EXIT_USAGE)  # fmt: skip
    folder = plain(out)
    if out.exists() and not out.is_dir():
        fail(f"cannot write into {folder}: it is a file, not a folder — give a folder with "
             "--out (it is created when missing)", EXIT_USAGE)  # fmt: skip
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = exc.strerror.lower() if exc.strerror else type(exc).__name__
        fail(f"cannot create the folder {folder}: {why} — give another --out",
             EXIT_USAGE if isinstance(exc, FileExistsError | NotADirectoryError) else EXIT_FAILED)  # fmt: skip
    with PhaseProgress() as progress:
        truth = generate(out, seed=seed, start=first, days=days, progress=progress)
    console.print(
        f"wrote {len(truth.rounds)} round files, {len(truth.player_rounds)} player-rounds to "
        f"{shown(out)}"
    )


def _timezone() -> str:
    """The game server's time zone for pairing across a clock change; `parse` only shows
    files, so an unrelated bad setting does not stop it (the default zone is used)."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from etl_duck.ingest.options import IngestOptions
    from etl_duck.settings import load_settings

    try:
        return load_settings(data_dir=STATE.data_dir).timezone
    except (ValidationError, SettingsError):  # the zone as set, if it is the one at fault
        return os.environ.get("ETL_DUCK_TIMEZONE") or IngestOptions().timezone
