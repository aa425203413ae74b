"""The query API for an event loop, typed: every call runs :class:`Stats` in a worker thread
(``asyncio.to_thread``), so DuckDB and Polars never block the loop.

There is one cache, inside :class:`Stats`. This facade adds only in-flight sharing:
identical calls awaited at the same time, at the same lake version, share one thread hop
(the cache would share the computation anyway, but each waiter would hold a worker thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from etl_duck.query.stats import RoundDetail, SessionReport, Stats
from etl_duck.query.windows import ALL_FROM, ALL_TO, Window

if TYPE_CHECKING:
    import polars as pl

    from etl_duck.domain.forecasts import Calibration
    from etl_duck.domain.rating import RatingRun
    from etl_duck.domain.records import Event
    from etl_duck.query.cache import QueryCache
    from etl_duck.query.players import PlayerCard
    from etl_duck.query.rating import Balance, PlayerRatingCard, Predictions, TeamForecast

T = TypeVar("T")


class AsyncStats:
    """:class:`Stats` for coroutines: the same methods, awaited."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}

    # ---- plain attributes (no I/O)

    @property
    def cache(self) -> QueryCache:
        return self.stats.cache

    @property
    def min_rounds(self) -> int:
        return self.stats.min_rounds

    @property
    def timings(self) -> dict[str, list[float]]:
        return self.stats.timings

    # ---- the single-flight thread hop

    async def _call(self, key: Hashable | None, fn: Callable[[], T]) -> T:
        if key is None:  # an uncacheable call (a closure): no sharing
            return await asyncio.to_thread(fn)
        # shared only at one lake version (one readlink): a call begun before a commit may
        # answer from the old snapshot, and a question asked after it must not get that
        key = (self.stats.lake.version(), key)
        pending = self._inflight.get(key)
        if pending is not None:
            result: T = await asyncio.shield(pending)
            return result
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            value = await asyncio.to_thread(fn)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: only the waiters re-raise it
            raise
        finally:
            self._inflight.pop(key, None)
        fut.set_result(value)
        return value

    # ---- the API

    async def version(self) -> int:
        return await self._call(("version",), self.stats.version)

    async def cached(
        self,
        key: Hashable,
        compute: Callable[[], T],
        window: tuple[date, date] = (ALL_FROM, ALL_TO),
    ) -> T:
        """:meth:`Stats.cached` computed in a worker thread: for the bot's charts, drawn
        from rows it has read already (``key`` names them), so ``pin=False``: keyed at the
        version now, no snapshot held while the chart worker draws."""
        return await self._call(
            ("cached", key, window), lambda: self.stats.cached(key, compute, window, pin=False)
        )

    async def resolve_window(self, window: str = "all", server: str | None = None) -> Window:
        return await self._call(
            ("window", window, server),
            lambda: self.stats.resolve_window(window, server=server),
        )

    async def leaderboard(
        self,
        metric: str,
        window: str | Window = "all",
        limit: int = 10,
        min_rounds: int | None = None,
        server: str | None = None,
    ) -> pl.DataFrame:
        key = ("leaderboard", metric, window, limit, min_rounds, server)
        return await self._call(
            key, lambda: self.stats.leaderboard(metric, window, limit, min_rounds, server)
        )

    async def player_totals(self, window: Window) -> pl.DataFrame:
        return await self._call(("totals", window), lambda: self.stats.player_totals(window))

    async def session_id_for(self, day: date | int | None) -> tuple[int, date]:
        return await self._call(("session_id_for", day), lambda: self.stats.session_id_for(day))

    async def session(
        self, day: date | int | None = None, server: str | None = None
    ) -> SessionReport:
        return await self._call(("session", day, server), lambda: self.stats.session(day, server))

    async def others_on(
        self, day: date, session_id: int, server: str | None = None
    ) -> list[tuple[int, datetime]]:
        return await self._call(
            ("others_on", day, session_id, server),
            lambda: self.stats.others_on(day, session_id, server),
        )

    async def last_session(self) -> SessionReport:
        return await self._call(("session", None, None), self.stats.last_session)

    async def session_by_id(self, sid: int, sdate: date) -> SessionReport:
        return await self._call(("session_id", sid), lambda: self.stats.session_by_id(sid, sdate))

    async def session_vs_average(self, sid: int, sdate: date) -> pl.DataFrame:
        return await self._call(
            ("vs_average", sid), lambda: self.stats.session_vs_average(sid, sdate)
        )

    async def rounds_by_files(self, names: list[str]) -> pl.DataFrame:
        return await self._call(None, lambda: self.stats.rounds_by_files(names))

    async def sessions(self, month: str | None = None, server: str | None = None) -> pl.DataFrame:
        return await self._call(
            ("sessions", month, server), lambda: self.stats.sessions(month, server)
        )

    async def servers(self) -> list[str]:
        return await self._call(("servers",), self.stats.servers)

    async def find_player(self, text: str, limit: int = 10) -> pl.DataFrame:
        return await self._call(
            ("find_player", text, limit), lambda: self.stats.find_player(text, limit)
        )

    async def resolve_player(self, text: str) -> tuple[str, str]:
        return await self._call(("resolve", text), lambda: self.stats.resolve_player(text))

    async def player(self, text: str, server: str | None = None) -> PlayerCard:
        return await self._call(("player", text, server), lambda: self.stats.player(text, server))

    async def map_stats(self, text: str) -> pl.DataFrame:
        return await self._call(("map_stats", text), lambda: self.stats.map_stats(text))

    async def weapon_stats(
        self, text: str, window: str | Window = "all", server: str | None = None
    ) -> pl.DataFrame:
        return await self._call(
            ("weapon_stats", text, window, server),
            lambda: self.stats.weapon_stats(text, window, server),
        )

    async def compare(self, a: str, b: str, window: str = "all") -> pl.DataFrame:
        return await self._call(("compare", a, b, window), lambda: self.stats.compare(a, b, window))

    async def round_detail(self, file_name: str) -> RoundDetail | None:
        return await self._call(
            ("round_detail", file_name), lambda: self.stats.round_detail(file_name)
        )

    async def match_players(self, session_date: date, match_id: int) -> pl.DataFrame:
        return await self._call(
            ("match_players", session_date, match_id),
            lambda: self.stats.match_players(session_date, match_id),
        )

    async def session_weapons(self, session_id: int, session_date: date) -> pl.DataFrame:
        return await self._call(
            ("session_weapons", session_id),
            lambda: self.stats.session_weapons(session_id, session_date),
        )

    async def teammates(
        self, text: str, min_maps: int | None = None
    ) -> tuple[str, str, pl.DataFrame]:
        return await self._call(
            ("teammates", text, min_maps), lambda: self.stats.teammates(text, min_maps)
        )

    async def lineups(self, window: str = "all", min_maps: int | None = None) -> pl.DataFrame:
        return await self._call(
            ("lineups", window, min_maps), lambda: self.stats.lineups(window, min_maps)
        )

    async def rivals(self, text: str) -> tuple[str, str, pl.DataFrame]:
        return await self._call(("rivals", text), lambda: self.stats.rivals(text))

    async def records(self, map_name: str | None = None) -> list[dict[str, Any]]:
        return await self._call(("records", map_name), lambda: self.stats.records(map_name))

    async def personal_bests(self, text: str) -> tuple[str, str, list[dict[str, Any]]]:
        return await self._call(("bests", text), lambda: self.stats.personal_bests(text))

    async def session_events(self, sid: int) -> list[Event]:
        return await self._call(("session_events", sid), lambda: self.stats.session_events(sid))

    async def round_events(self, sid: int, file_name: str) -> list[Event]:
        return await self._call(
            ("round_events", sid, file_name), lambda: self.stats.round_events(sid, file_name)
        )

    async def ratings(self) -> RatingRun:
        return await self._call(("ratings",), self.stats.ratings)

    async def rating_calibration(self) -> Calibration:
        return await self._call(("rating_calibration",), self.stats.rating_calibration)

    async def rating_top(self, limit: int = 10, min_maps: int | None = None) -> pl.DataFrame:
        return await self._call(
            ("rating_top", limit, min_maps), lambda: self.stats.rating_top(limit, min_maps)
        )

    async def player_rating(self, text: str) -> PlayerRatingCard:
        return await self._call(("player_rating", text), lambda: self.stats.player_rating(text))

    async def predictions(self) -> Predictions:
        return await self._call(("predictions",), self.stats.predictions)

    async def forecast(self, team_a: list[str], team_b: list[str]) -> TeamForecast:
        key = ("forecast", tuple(team_a), tuple(team_b))
        return await self._call(key, lambda: self.stats.forecast(team_a, team_b))

    async def balance(
        self,
        players: list[str],
        *,
        apart: list[tuple[str, str]] | None = None,
        together: list[tuple[str, str]] | None = None,
        avoid_previous: bool = False,
        limit: int = 10,
    ) -> Balance:
        key = ("balance", tuple(players), tuple(apart or ()), tuple(together or ()),
               avoid_previous, limit)  # fmt: skip
        return await self._call(
            key,
            lambda: self.stats.balance(
                players, apart=apart, together=together, avoid_previous=avoid_previous,
                limit=limit,
            ),
        )  # fmt: skip

    async def status(self) -> dict[str, Any]:
        return await self._call(("status",), self.stats.status)

    async def disk_problems(self) -> dict[str, Any]:
        return await self._call(None, self.stats.disk_problems)  # raw/ moves without a commit

    async def warm(self) -> None:
        await self._call(("warm",), self.stats.warm)
