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
    """Poll the game server for new files until Ctrl-C (faster while a session is on).
    With ETL_DUCK_SITE_ON_COMMIT the static site is rebuilt after each commit."""
    from etl_duck.cli.fetching import run_watch
    from etl_duck.settings import load_settings

    settings = load_settings(data_dir=STATE.data_dir)
    if not settings.site_on_commit:
        raise typer.Exit(run_watch(settings))
    import asyncio

    from etl_duck.pipeline import Ingestor
    from etl_duck.site.pages import SiteOptions
    from etl_duck.site.updater import SiteUpdater

    ingestor = Ingestor.from_settings(settings)
    updater = SiteUpdater(
        settings.stats(), settings.site_path(), SiteOptions(title=settings.site_title)
    )
    started: list[asyncio.Task[None]] = []

    def on_start() -> None:
        loop = asyncio.get_running_loop()
        ingestor.subscribe(loop, updater.on_commit)
        started.append(loop.create_task(updater.on_commit()))  # bring the site up to date

    raise typer.Exit(run_watch(settings, ingest=ingestor, on_start=on_start))


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
