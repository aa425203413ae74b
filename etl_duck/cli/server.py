"""`fetch`, `watch`, `bot`: the long-running side (game server and Discord)."""

from __future__ import annotations

from typing import Annotated

import typer

from etl_duck.cli.app import (
    STATE,
    app,
)


@app.command()
def fetch() -> None:
    """Fetch new stats files from the game server over SFTP once, then ingest them."""
    from etl_duck.cli.fetching import run_fetch
    from etl_duck.settings import load_settings

    raise typer.Exit(run_fetch(load_settings(data_dir=STATE.data_dir)))


@app.command()
def watch() -> None:
    """Poll the game server for new files until Ctrl-C (faster while a session is on)."""
    from etl_duck.cli.fetching import run_watch
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
