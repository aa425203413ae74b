"""The Discord bot: slash commands over the cached query API, charts, round posts and
voice-driven sessions. Entry point: :func:`run_bot` (``etl-duck bot [--check]``).

Layout: ``client`` (the Bot and its shared services), ``cogs/`` (one per feature),
``embeds/`` (pure result → embed builders), ``respond`` (timing, deferral, failures),
``paginate``, ``autocomplete``, ``voice`` (session rules), ``options`` (text option lengths),
``deliver`` (the bot's own posts, exactly once), ``commandsync``, ``checks`` (--check),
``endpoints`` (test-only: a Discord emulator).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etl_duck.bot.protocols import FetcherLike
    from etl_duck.settings import Settings

log = logging.getLogger(__name__)

NO_TOKEN = (
    "etl-duck bot: no Discord bot token.\n"
    "Set ETL_DUCK_DISCORD_TOKEN in the environment or in .env (Discord developer portal → "
    "your application → Bot → Reset Token).\n"
    "`etl-duck bot --check` validates everything else without a token."
)


def run_bot(settings: Settings, check: bool = False) -> int:
    """Run the bot until stopped; exit code 0 (clean stop), 1 (failure), 2 (setup problem).

    With ``check`` print a checklist of the setup (data dir, lake, link store, SSH) and
    return 0 if it passed, 1 otherwise, without contacting Discord.
    """
    if check:
        from etl_duck.bot.checks import print_results, run_checks

        return print_results(asyncio.run(run_checks(settings)), sys.stdout)
    token = settings.discord_token
    if token is None or not token.get_secret_value().strip():
        print(NO_TOKEN, file=sys.stderr)
        return 2
    import aiohttp
    import discord

    # one handler on the root logger: the CLI's plain one would print every line twice
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    discord.utils.setup_logging(level=logging.INFO)
    try:
        return asyncio.run(_serve(settings))
    except KeyboardInterrupt:
        return 0
    except discord.LoginFailure:
        print(
            "etl-duck bot: Discord rejected the token (ETL_DUCK_DISCORD_TOKEN): copy it again "
            "from the developer portal → Bot → Reset Token",
            file=sys.stderr,
        )
        return 2
    except (OSError, aiohttp.ClientError, TimeoutError) as exc:
        print(
            f"etl-duck bot: cannot reach Discord ({type(exc).__name__}: {exc}); check this "
            "machine's network and DNS, then start the bot again",
            file=sys.stderr,
        )
        return 1


async def _serve(settings: Settings) -> int:
    from etl_duck.bot.client import EtlDuckBot
    from etl_duck.bot.endpoints import discord_endpoints
    from etl_duck.botstate import BotState
    from etl_duck.links import LinkStore
    from etl_duck.pipeline import Ingestor
    from etl_duck.query.aio import AsyncStats

    state = BotState.in_data_dir(settings.data_dir)
    stats = settings.stats(teams=state)
    ingestor = Ingestor.from_settings(settings)
    fetcher: FetcherLike | None = None
    sources = settings.sources()
    if sources:
        # lazy: asyncssh only when fetching is configured
        from etl_duck.fetch.group import FetcherGroup
        from etl_duck.fetch.poller import Fetcher

        fetchers = [Fetcher(s, ingest=ingestor.for_server(s.server_name)) for s in sources]
        fetcher = fetchers[0] if len(fetchers) == 1 else FetcherGroup(fetchers)
    else:
        log.warning("ETL_DUCK_SSH_HOST is not set: the bot serves the lake but fetches nothing")
    links = LinkStore.in_data_dir(settings.data_dir)
    bot = EtlDuckBot(
        settings, AsyncStats(stats), links, state=state, fetcher=fetcher, ingestor=ingestor
    )
    try:
        token = settings.discord_token
        assert token is not None
        with discord_endpoints(settings.discord_api_base, settings.discord_gateway_url):
            async with bot:
                await bot.start(token.get_secret_value())
    finally:
        links.close()
        state.close()
    return 0
