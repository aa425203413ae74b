"""Rebuild the site after each lake commit: a listener for ``Ingestor.subscribe``.

One build at a time, in a worker thread (the event loop keeps serving); commits that land
while a build runs are folded into one more build after it, so a burst of commits costs
two builds, not one each. A failed build is logged and leaves the published site as it
was (publishing is atomic); the next commit tries again.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from etl_duck.ingest.options import IngestReport
from etl_duck.query.stats import Stats
from etl_duck.site.build import SiteReport, build_site
from etl_duck.site.pages import SiteOptions

log = logging.getLogger(__name__)


class SiteUpdater:
    def __init__(self, stats: Stats, out: Path, options: SiteOptions | None = None) -> None:
        self.stats = stats
        self.out = out
        self.options = options or SiteOptions()
        self.last: SiteReport | None = None
        self.error: str | None = None
        self.builds = 0
        self._running = False
        self._again = False

    async def on_commit(self, report: IngestReport | None = None) -> None:
        if self._running:
            self._again = True  # the running build's successor covers this commit
            return
        self._running = True
        try:
            while True:
                self._again = False
                await self._build()
                if not self._again:
                    return
        finally:
            self._running = False

    async def _build(self) -> None:
        try:
            self.last = await asyncio.to_thread(build_site, self.stats, self.out, self.options)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("site build failed; the published site is unchanged")
        else:
            self.error = None
            self.builds += 1
            log.info("%s", self.last.summary())
