"""`demo`: the whole job on the embedded default, no server needed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from etl_duck.cli.analytics import print_session, show_top
from etl_duck.cli.app import (
    STATE,
    app,
    console,
    ingest_options,
    open_stats,
)
from etl_duck.cli.lake import print_report, show_status


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
    print_report(ingest_paths(STATE.data_dir, [files], ingest_options()))
    console.rule("3. status")
    show_status()
    console.rule("4. leaderboards")
    show_top("kills", window="all", limit=5)
    show_top("dpm", window="month", limit=5)
    console.rule("5. the last session")
    rep = open_stats().last_session()
    print_session(rep)
    chart = STATE.data_dir / "charts" / f"session-{rep.session_date}.png"
    chart.parent.mkdir(parents=True, exist_ok=True)
    chart.write_bytes(session_overview_png(rep))
    console.rule("6. chart")
    console.print(f"wrote {chart}")
    console.rule("next")
    exe = Path(sys.executable).parent / "etl-duck"
    console.print(
        f"etl-duck is installed in the project's virtualenv: run {exe} --help (or "
        "`source .venv/bin/activate` first, then `etl-duck --help`); this demo's lake is "
        f"at {STATE.data_dir} (`etl-duck --data-dir {STATE.data_dir} status`)",
        highlight=False,
    )
