"""The static site beside the bot: rebuilt after each commit when ETL_DUCK_SITE_ON_COMMIT
is set (the pages the commit changed; publishing is atomic). Links in embeds come from
``bot.site`` (ETL_DUCK_SITE_URL), whether or not this bot builds the site itself."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from discord.ext import commands

from etl_duck.site.pages import SiteOptions
from etl_duck.site.updater import SiteUpdater

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

log = logging.getLogger(__name__)


class SiteCog(commands.Cog, name="Static site"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot
        self.updater: SiteUpdater | None = None

    async def cog_load(self) -> None:
        s = self.bot.settings
        if not s.site_on_commit or self.bot.ingestor is None:
            return
        # the bot's own Stats: the site reads the serving tables the bot already holds;
        # an incremental build touches a few cache entries (a first full build of a long
        # history is better run once with `etl-duck site`)
        self.updater = SiteUpdater(
            self.bot.stats.stats, s.site_path(), SiteOptions(title=s.site_title)
        )
        self.bot.ingestor.subscribe(asyncio.get_running_loop(), self.updater.on_commit)
        log.info("the static site at %s is rebuilt after each commit", s.site_path())

    async def cog_unload(self) -> None:
        if self.updater is not None and self.bot.ingestor is not None:
            self.bot.ingestor.unsubscribe(self.updater.on_commit)
