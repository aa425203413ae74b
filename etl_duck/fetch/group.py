"""Several game servers fetched as one: a :class:`Fetcher` per server, polled together.

The bot and ``etl-duck watch`` hold one fetcher; with ``ETL_DUCK_SERVERS`` it is this
group, which polls every server at the same time (each hands its batch to the ingest with
its server's name, so same-named files of two servers are two rounds) and reports the
polls as one. A setup problem on one server (host key, authentication, settings) stops the
whole group, as it stops a single fetcher: the operator sees it at once and fixes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from etl_duck.domain.sources import label, qualify
from etl_duck.fetch.poller import Fetcher, FetchReport
from etl_duck.fetch.sftp import AuthError, FetchConfigError, FetchError, HostKeyError

#: errors that stop the whole group: the operator must fix the setup
_SETUP = (HostKeyError, AuthError, FetchConfigError)


@dataclass(slots=True)
class GroupReport:
    """One poll of every server: each server's :class:`FetchReport`, by server."""

    reports: dict[str, FetchReport] = field(default_factory=dict)

    @property
    def downloaded(self) -> list[str]:
        """The files downloaded, by their lake names (qualified with their server)."""
        return [qualify(n, s) for s, r in self.reports.items() for n in r.downloaded]

    @property
    def pending(self) -> list[str]:
        return [qualify(n, s) for s, r in self.reports.items() for n in r.pending]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports.values())

    def summary(self) -> str:
        return "; ".join(f"{label(s)}: {_told(r)}" for s, r in self.reports.items())


def _told(report: FetchReport) -> str:
    """One server's poll in a few words; one that could not be reached, why."""
    if report.connection_lost and report.connection_error and not report.downloaded:
        return f"not reached: {report.connection_error}"
    return report.summary()


class FetcherGroup:
    """The fetchers of several game servers, used like one (``etl_duck.bot.FetcherLike``)."""

    def __init__(self, fetchers: Sequence[Fetcher]) -> None:
        if not fetchers:
            raise ValueError("a fetcher group needs at least one server")
        self.fetchers = list(fetchers)

    @property
    def last_download(self) -> float | None:
        times = [f.last_download for f in self.fetchers if f.last_download is not None]
        return max(times) if times else None

    @property
    def last_activity(self) -> float | None:
        times = [f.last_activity for f in self.fetchers if f.last_activity is not None]
        return max(times) if times else None

    @property
    def committing(self) -> bool:
        """Whether a server's poll in progress has begun its ingest (a stop waits for it)."""
        return any(f.committing for f in self.fetchers)

    async def poll_once(self) -> GroupReport:
        """Poll every server at once. A setup error (host key, key, settings) on any server,
        or an error on every server, is raised after the polls have finished; a server that
        cannot be reached while others can is in the report as a lost connection, beside
        what the others fetched (an admin's /sync showed only the error)."""
        results = await asyncio.gather(
            *(f.poll_once() for f in self.fetchers), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        setup = [r for r in errors if not isinstance(r, FetchError) or isinstance(r, _SETUP)]
        if setup or len(errors) == len(results):
            raise (setup or errors)[0]
        report = GroupReport()
        for fetcher, result in zip(self.fetchers, results, strict=True):
            if isinstance(result, BaseException):
                result = FetchReport(connection_lost=True, connection_error=str(result))
            report.reports[fetcher.server] = result
        return report

    async def watch(
        self,
        stop: asyncio.Event,
        active: Callable[[], bool] | None = None,
        *,
        on_report: Callable[[FetchReport], object] | None = None,
        on_trouble: Callable[[str, str | None], object] | None = None,
    ) -> None:
        """Each server's watch loop, side by side, until ``stop`` is set (each stops as
        :meth:`Fetcher.watch` does: a poll still downloading is abandoned, one whose ingest
        has begun commits first). If one loop stops with an error (a setup problem), the
        others stop the same way, and the error is raised."""
        inner = asyncio.Event()
        tasks = [
            asyncio.create_task(
                f.watch(inner, active, on_report=on_report, on_trouble=on_trouble),
                name=f"fetch {f.server}",
            )
            for f in self.fetchers
        ]
        stopper = asyncio.create_task(stop.wait())
        try:
            pending: set[asyncio.Task[object]] = {*tasks, stopper}
            while True:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                failed = [t for t in done if t is not stopper and t.exception() is not None]
                if stopper in done or failed or not (pending - {stopper}):
                    break
            inner.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for t in tasks:
                exc = t.exception()
                if exc is not None:
                    raise exc
        finally:
            inner.set()
            stopper.cancel()
            for t in tasks:
                t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, stopper, return_exceptions=True)

    async def check(self) -> str:
        """Each server's one-line check, joined."""
        lines = [f"{label(f.server)}: {await f.check()}" for f in self.fetchers]
        return "; ".join(lines)

    async def close(self) -> None:
        for f in self.fetchers:
            await f.close()

    async def __aenter__(self) -> FetcherGroup:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
