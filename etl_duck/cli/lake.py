"""`ingest`, `rebuild`, `status`: the lake and its raw store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from etl_duck.cli.app import (
    STATE,
    app,
    console,
    err_console,
    fail,
    ingest_options,
    open_stats,
    print_json,
)


def print_report(report: Any) -> None:
    console.print(report.summary())
    for name, reason in sorted(report.quarantined.items()):
        console.print(f"  [red]quarantined[/red] {name}: {reason}")
    for name in report.partial:
        console.print(f"  [yellow]partial[/yellow] {name}: complete lines kept, will be re-fetched")
    for name in report.empty:
        console.print(f"  [yellow]empty[/yellow] {name}: retry later")
    for key, reason in sorted(report.conflicts.items()):
        console.print(f"  [red]conflict[/red] {key}: {reason}", markup=True, soft_wrap=True)
    for line in report.rejected:
        console.print(f"  [yellow]rejected line[/yellow] {line}", soft_wrap=True)


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

        report = ingest_paths(STATE.data_dir, paths, ingest_options(), tick)
    print_report(report)


@app.command()
def rebuild() -> None:
    """Recreate the lake from data/raw (same content as before)."""
    from etl_duck.ingest.run import rebuild as rebuild_lake

    print_report(rebuild_lake(STATE.data_dir, ingest_options()))


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Lake version, sessions, rounds, players, date range, quarantined files."""
    info = open_stats().status()
    if as_json:
        print_json(info)
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
    for key, reason in info["conflicts"].items():
        console.print(f"[red]conflict[/red] {key}: {reason}", soft_wrap=True)


@app.command()
def resolve(
    name: Annotated[str, typer.Argument(help="The round file name (as `status` lists it).")],
    keep: Annotated[
        str | None, typer.Option(help="The version to count (its id, as `status` shows it).")
    ] = None,
    dismiss: Annotated[
        bool, typer.Option("--dismiss", help="Set the file aside: it stays out of the lake.")
    ] = False,
) -> None:
    """Settle a version conflict or a quarantined file; recorded in raw/, so a rebuild
    makes the same choice."""
    from etl_duck.ingest.run import resolve as resolve_name

    print_report(
        resolve_name(STATE.data_dir, name, keep=keep, dismiss=dismiss, options=ingest_options())
    )


@app.command()
def check() -> None:
    """Verify every file of the current snapshot against the checksums in its manifest."""
    from etl_duck.lake.snapshot import Lake, verify

    manifest, damages = verify(Lake(STATE.data_dir))
    if not damages:
        console.print(
            f"OK: lake version {manifest.version}, {len(manifest.files())} files match their "
            "checksums"
        )
        return
    for d in damages:
        where = (
            f"an intact copy of an older version is at {d.intact_copy}"
            if d.intact_copy
            else "no older snapshot holds an intact copy"
        )
        err_console.print(f"[red]damaged[/red] {d.file}: {d.problem}; {where}", soft_wrap=True)
    fail(
        f"{len(damages)} damaged file(s) in lake version {manifest.version}: run `etl-duck "
        "rebuild` to recreate the lake from raw/ (the source of truth)"
    )


@app.command("lake-path")
def lake_path(
    lease: Annotated[
        float, typer.Option(help="Seconds the snapshot is held for you (renew by asking again).")
    ] = 600.0,
) -> None:
    """Print the current snapshot's folder, held for a while: read it from a notebook or
    another process (`read_parquet('<path>/player_rounds/**/*.parquet')`) and every file
    belongs to one commit."""
    from etl_duck import snapshot_path

    print(snapshot_path(STATE.data_dir, lease))
