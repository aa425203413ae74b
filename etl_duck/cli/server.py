"""`fetch`, `watch`, `bot`: the long-running side (game server and Discord)."""

from __future__ import annotations

from typing import Annotated

import typer

from etl_duck.cli.app import app, settings


@app.command()
def fetch() -> None:
    """Fetch new stats files from the game server over SFTP once, then ingest them."""
    from etl_duck.cli.fetching import run_fetch

    raise typer.Exit(run_fetch(settings()))


@app.command()
def watch() -> None:
    """Poll the game server for new files until Ctrl-C (faster while a session is on).
    With ETL_DUCK_SITE_ON_COMMIT the static site is rebuilt after each commit."""
    from etl_duck.cli.fetching import run_watch

    config = settings()
    if not config.site_on_commit:
        raise typer.Exit(run_watch(config))
    import asyncio

    from etl_duck.pipeline import Ingestor
    from etl_duck.site.pages import SiteOptions
    from etl_duck.site.updater import SiteUpdater

    ingestor = Ingestor.from_settings(config)
    updater = SiteUpdater(config.stats(), config.site_path(), SiteOptions(title=config.site_title))
    started: list[asyncio.Task[None]] = []

    def on_start() -> None:
        loop = asyncio.get_running_loop()
        ingestor.subscribe(loop, updater.on_commit)
        started.append(loop.create_task(updater.on_commit()))  # bring the site up to date

    raise typer.Exit(run_watch(config, ingest=ingestor, on_start=on_start))


@app.command()
def bot(
    check: Annotated[
        bool, typer.Option("--check", help="Validate settings and connectivity, except Discord.")
    ] = False,
) -> None:
    """Run the Discord bot (token and channels from the environment / .env)."""
    from etl_duck.bot import run_bot

    raise typer.Exit(run_bot(settings(), check=check))
