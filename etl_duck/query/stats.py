"""The query API: DuckDB SQL from ``queries/*.sql`` over the lake, results as Polars frames.

Serving path (DESIGN.md, "Measured pitfall: small files"): the lake keeps one Parquet file
per session date, which is the right durable layout but too many files to open per query.
:class:`Serving` keeps the three tables in an in-process DuckDB database and refreshes
them *incrementally*: when the lake version changes it reloads only the session-date
partitions whose version changed. Queries then scan memory, not 1,500 files.

Every public method goes through :class:`~etl_duck.cache.QueryCache`, keyed on (query,
parameters, last version that changed any partition the query reads). This module imports
no discord, asyncssh or matplotlib (checked by ``tests/contracts.py``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from etl_duck.domain.counting import NOT_A_GAME
from etl_duck.domain.parse import clean_name  # at import: ~4 ms off the first lookup
from etl_duck.domain.scoring import Team, TeamOverride, pick_mvp, score_stopwatch
from etl_duck.domain.sessions import (
    RoundTime,
    ServerClock,
    SessionClock,
    server_now,
    session_clock,
    session_date_of,
)
from etl_duck.domain.sources import label
from etl_duck.domain.teams import Segment
from etl_duck.query.cache import QueryCache, VersionMemo
from etl_duck.query.players import ByPlayer, PlayerCard, PlayerNames
from etl_duck.query.rating import (
    Balance,
    PlayerRatingCard,
    Predictions,
    RatingBook,
    RatingIndex,
    TeamForecast,
    labels,
)
from etl_duck.query.serving import Serving, query_parts, query_polars
from etl_duck.query.windows import ALL_FROM, ALL_TO, WINDOWS, Window
from etl_duck.sqlfiles import sql

if TYPE_CHECKING:  # heavy modules load on first use, so `import etl_duck.query.stats` is cheap
    import polars as pl

    from etl_duck.domain.forecasts import Calibration
    from etl_duck.domain.metrics import Metric
    from etl_duck.domain.rating import RatingRun
    from etl_duck.domain.records import Event
    from etl_duck.query.ratingstore import RatingStore

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")


def one_version(
    method: Callable[Concatenate[Stats, P], T],
) -> Callable[Concatenate[Stats, P], T]:
    """An answer built from several reads (a lookup, a window, then its numbers) reads
    them all at one lake version: the thread's pin (``Serving.pinned``) for the call."""

    @functools.wraps(method)
    def pinned(self: Stats, /, *args: P.args, **kwargs: P.kwargs) -> T:
        with self.serving.pinned():
            return method(self, *args, **kwargs)

    return pinned


def snapshot_gone(exc: BaseException) -> bool:
    """Whether ``exc`` says the lake version an answer read was removed under it (a very
    slow answer outlived its lease): nothing is wrong, asked again it reads the current one
    (for callers that may not import the lake: the bot)."""
    from etl_duck.lake.snapshot import SnapshotGone

    return isinstance(exc, SnapshotGone)


class TeamOverrides(Protocol):
    """Where admins' team corrections live (``etl_duck.botstate.BotState``): outside the
    lake, so they survive a rebuild; session ids are derived from file names, so a rebuilt
    lake finds them again."""

    def teams_for(self, session_id: int) -> tuple[TeamOverride, ...] | None: ...

    def teams_revision(self) -> int: ...


class NoData(LookupError):
    """The lake holds no (counted) data for this request."""


class PlayerNotFound(LookupError):
    """No player matches ``text``. ``candidates``: the players suggested instead, (GUID,
    name) best first; ``suggestions``: their names as answers show them
    (:func:`~etl_duck.query.rating.labels`): two of one name told apart, "vid (D842), vid
    (5D98)" — two bare "vid" left nobody able to pick."""

    def __init__(self, text: str, candidates: Sequence[tuple[str, str]], hint: str = "") -> None:
        self.text, self.candidates = text, list(candidates)
        named = labels(self.candidates)
        self.suggestions = [named[g] for g, _ in self.candidates]
        if self.suggestions:
            hint = f" Did you mean: {', '.join(self.suggestions)}?"
        super().__init__(f"No player matches {text!r}.{hint}")


class PlayerAmbiguous(PlayerNotFound):
    """Several players match about equally well: the caller must ask which one."""

    def __init__(self, text: str, candidates: list[tuple[str, str]]) -> None:
        self.candidates = candidates  # (guid, name), best first
        listed = ", ".join(f"{name} ({guid})" for guid, name in candidates)
        LookupError.__init__(
            self,
            f"{text!r} matches {len(candidates)} players: {listed}; give more of the "
            "name, or a GUID",
        )
        named = labels(candidates)  # two of one name told apart, as PlayerNotFound's
        self.text, self.suggestions = text, [named[g] for g, _ in candidates]


#: GUIDs are 8 hex digits; shorter prefixes than this match too many players to be useful
MIN_GUID_PREFIX = 4
#: candidates within this score of the best are "about as good" (a lookup must ask)
AMBIGUOUS_WITHIN = 0.05


@dataclass(frozen=True)
class SocialIndex:
    """Everything the social questions read, built once per lake version: per-map results,
    best rounds, endstats versus sums, per-session totals and every round (five queries)."""

    results: pl.DataFrame
    bests: pl.DataFrame
    versus: pl.DataFrame
    sessions: pl.DataFrame
    rounds: pl.DataFrame


@dataclass(frozen=True)
class SocialEvents:
    """Every record, personal best and milestone event ever (announcement keys are stable,
    so this is recomputable). Kept apart from :class:`SocialIndex`: these are Python loops
    over the whole history (~2.6 s at 10 years, 1.6 s of it personal bests, measured before
    the personal-best loop visited only rounds that beat a player's earlier ones: 646 →
    133 ms on a synthetic year), which teammates,
    rivals, personal bests and the standing records do not need."""

    records: list[Event]
    personal: list[Event]
    milestones: list[Event]


@dataclass(frozen=True)
class RoundDetail:
    round: dict[str, Any]  # the `rounds` row (with session_date)
    players: pl.DataFrame  # per-player round-only totals + every metric, by DPM
    session_date: date
    awards: pl.DataFrame | None = None  # the round's endstats awards, if its file landed


@dataclass(frozen=True)
class SessionReport:
    session_id: int
    session_date: date
    start_time: datetime  # the server's wall clock, as the file names
    end_time: datetime
    players: pl.DataFrame  # per-player totals + metrics, by DPM
    maps: pl.DataFrame  # per-match results incl. stopwatch outcome
    rounds: pl.DataFrame
    teams: tuple[Team, Team] | None
    mvp: dict[str, Any] | None
    dpm_timeline: pl.DataFrame
    segments: tuple[Segment, ...] = ()  # the score per opponent (one when nobody changed)
    overridden: bool = False  # teams were set by an admin (/set_teams)
    server: str = ""  # the game server it was played on ("" = the main one)
    #: start to end on the absolute clock (a clock change inside: not end − start)
    span: timedelta | None = None

    @property
    def duration(self) -> timedelta:
        return self.span if self.span is not None else self.end_time - self.start_time


# --------------------------------------------------------------------------- status problems

#: an orphan round 2 (its round 1 not in the lake) is an open problem while it ended within
#: this many days of its server's latest round: its round 1 may still be in the server's
#: folder. Older ones are listed, not problems (DECISIONS.md "Orphan round 2s in status")
ORPHAN_OPEN_DAYS = 7


def _where(name: str) -> tuple[str, str]:
    """A ledger name's file name on its server, and the `--server` option it needs."""
    from etl_duck.domain.sources import split

    base, server = split(name)
    return base, f" (`--server {label(server)}`)" if server else ""


def cut_fix(name: str) -> str:
    """What to do about a cut file (last line cut) whose server has written later rounds:
    the copy may be short (taken while it was written, cut in transfer) — or the server's
    own file was cut (its writer crashed): only the server's folder tells. Plain text:
    `etl-duck status` and the bot's /status say the same."""
    base, where = _where(name)
    return (
        f"copy {base} again from the server's gamestats folder and ingest it{where}; "
        f"`etl-duck resolve {name} --accept` if the server's own file is cut"
    )


def cut_said(name: str, why: str | None = None) -> str:
    """What a cut file (last line cut, no longer awaiting the rest) is, and its fix."""
    from etl_duck.domain.endstats import is_endstats_file_name

    if is_endstats_file_name(name):
        return (
            "the last line is cut: its complete rows count, the rows after the cut are missing "
            f"— {cut_fix(name)}"
        )
    counts = "its complete lines count" if why is None else f"nothing of it counts ({why})"
    return (
        f"the last line is cut and its server has written later rounds: {counts}, "
        f"the players after the cut are missing — {cut_fix(name)}"
    )


def empty_fix(name: str) -> str:
    """What to do about a file that arrived with 0 bytes."""
    base, where = _where(name)
    return (
        f"copy {base} again from the server's gamestats folder once it is written and "
        f"ingest it{where}; `etl-duck resolve {name} --dismiss` if the server's own "
        "file is empty"
    )


def no_round_said(server: str) -> str:
    """A configured game server the lake has no round of (just added, or its folder is
    wrong, or its key refused), and the fix. Plain text: `etl-duck status` and the bot's
    /status say the same."""
    from etl_duck.domain.sources import MAIN

    setting = (
        "ETL_DUCK_SSH_REMOTE_DIR"
        if server == MAIN
        else "its ETL_DUCK_SERVERS entry's ssh_remote_dir"
    )
    return (
        "no round in the lake yet — run `etl-duck fetch` (it says why a server cannot be "
        f"fetched); if its stats folder holds round files, check that {setting} is that folder"
    )


def with_configured(
    servers: list[dict[str, Any]], configured: Sequence[str]
) -> list[dict[str, Any]]:
    """``Stats.status()``'s ``servers`` rows, and one (0 rounds, no last round) for each
    ``configured`` game server (``""``: the main one) the lake has no round of: a server
    fetched from the wrong folder shows. Ordered as the lake's rows (main first, then by
    name)."""
    have = {row["server"] for row in servers}
    missing = [
        {"server": server, "rounds": 0, "counted_rounds": 0, "last_round": None}
        for server in dict.fromkeys(configured)
        if server not in have
    ]
    return sorted([*servers, *missing], key=lambda row: str(row["server"]))


def orphan_fix(name: str, map_name: str, start: datetime | None) -> str:
    """What to do about a round 2 whose round 1 is not in the lake."""
    when = f"{start:%Y-%m-%d %H:%M}" if start is not None else "an unknown time"
    return (
        f"round 1 of {map_name} (ending shortly before {when}, when this round 2 started) not "
        "found: fetch it from the server's gamestats folder or ingest it; "
        f"`etl-duck resolve {name} --accept` if it was never written"
    )


def replayed_fix(name: str, map_name: str, replay: datetime | None) -> str:
    """What to do about a counted round 1 without its round 2 whose map started again
    within minutes: its round-2 file was lost, or the match was reset and replayed."""
    when = f"{replay:%H:%M}" if replay is not None else "minutes later"
    _, where = _where(name)
    return (
        f"{map_name} started again at {when} with no round 2 of this round 1 in the lake: it "
        f"counts as a round whose round-2 file was lost — fetch that file from the server's "
        f"gamestats folder and ingest it{where} if it was played; `etl-duck resolve {name} "
        f"--dismiss` if the match was reset and replayed; `--accept` to keep it as it is"
    )


def _listed(name: str, map_name: str, recent: Any, accepted: set[str]) -> dict[str, Any]:
    """A round status lists (an orphan, a replay): open while recent and not accepted."""
    return {
        "file": name,
        "map": map_name,
        "open": bool(recent) and name not in accepted,
        "accepted": name in accepted,
    }


# --------------------------------------------------------------------------- the API


class Stats:
    """Everything a user can ask, over one data directory. Thread-safe."""

    LAST_ROUNDS = 5  # rounds on a career card (the serving tails keep this many per session)
    RATING_MIN_MAPS = 10  # maps a player needs for the rating leaderboard and a rank

    def __init__(
        self,
        data_dir: Path | str,
        *,
        min_rounds: int = 10,
        slow_query_ms: float = 50.0,
        cache: QueryCache | None = None,
        threads: int = 2,
        teams: TeamOverrides | None = None,
        ratings: RatingStore | None = None,
        timezone: str | None = None,
    ) -> None:
        from etl_duck.lake.snapshot import Lake

        self.lake = Lake(data_dir)
        self.serving = Serving(self.lake, threads=threads)
        self.cache = cache or QueryCache()
        self.min_rounds = min_rounds
        self.slow_query_ms = slow_query_ms
        self.teams = teams
        #: the game server's zone (IANA) for "today"; None: the zone the lake was built in
        self.timezone = timezone
        self.timings: dict[str, list[float]] = {}
        #: every player's all-time totals and the names index, kept per lake and version
        self._all_time: VersionMemo[pl.DataFrame] = VersionMemo()
        self._player_names: VersionMemo[PlayerNames] = VersionMemo()
        self._rating_book = RatingBook(self.serving, store=ratings)
        self.serving.on_new_lake(self._forget_lake)

    def _forget_lake(self) -> None:
        """The data dir holds another lake (deleted and rebuilt, a backup restored): what
        was kept by version number is the old one's, whose numbers come again."""
        self.cache.clear()
        self._all_time.clear()
        self._player_names.clear()

    # ---- plumbing

    def version(self) -> int:
        return self.serving.refresh()

    def _at(self) -> tuple[int, int]:
        """(epoch, version) this thread reads (its pin's): what a memo of one lake version
        is kept under, and compared by (a newer one is never replaced by an older)."""
        self.serving.refresh()
        v = self.serving.view()
        return v.epoch, v.version

    def today(self) -> date:
        """Today on the game server's clock (its configured zone, else the zone the lake's
        content was derived with), not the host's: session dates are the server's."""
        self.serving.refresh()
        return server_today(self.timezone or self.serving.timezone)

    def clock_zone(self) -> str | None:
        """The game server's zone as the lake read its names (the one it was derived with,
        else the configured one): sessions' times and order across a clock change."""
        self.serving.refresh()
        return self.serving.timezone or self.timezone

    def run(self, name: str, dates: list[date] | None = None, **params: Any) -> pl.DataFrame:
        """Run one ``queries/<name>.sql`` with named parameters (uncached, timed).

        Queries over the detail tables (``player_rounds``, ``weapon_rounds``) name the
        session ``dates`` whose partitions they read."""
        return self._execute(name, dates, params, query_polars)

    def run_parts(self, name: str, **params: Any) -> dict[str, pl.DataFrame]:
        """Run a query whose one row holds several answers as lists of structs
        (``queries/career_card.sql``): a frame per column (see ``serving.query_parts``)."""
        return self._execute(name, None, params, query_parts)

    def _execute(
        self,
        name: str,
        dates: list[date] | None,
        params: dict[str, Any],
        fetch: Callable[[Any, str, dict[str, Any]], T],
    ) -> T:
        self.serving.refresh()
        t0 = time.perf_counter()
        text = sql(name)
        used = {k: v for k, v in params.items() if f"${k}" in text}
        cur = self.serving.cursor()
        snap = self.serving.snapshot  # the one read (a pin's, else the latest refresh's)
        try:
            with self.serving.reading():
                self.serving.prepare(cur, text, dates, _years(used, dates))
                df = fetch(cur, text, used)
        except Exception as exc:
            import duckdb

            # its files gone: the answer read past its lease (not damage; ask again)
            took = max(time.perf_counter() - t0, self.serving.left_for(snap))
            if isinstance(exc, duckdb.Error) and (gone := self.serving.removed(snap, took)):
                raise gone from None

            # a damaged file: DuckDB names the Parquet reader, or (a corrupt footer or page
            # header) raises its bare Error from the Thrift decoder ("TProtocolException",
            # "don't know what type"); a query's own mistakes have subclasses of their own
            if (
                isinstance(exc, duckdb.IOException | duckdb.InvalidInputException)
                and "parquet" in str(exc).lower()
            ) or type(exc) is duckdb.Error:
                from etl_duck.lake.snapshot import LakeDamaged, damaged_message

                raise LakeDamaged(
                    damaged_message(self.serving.snapshot or "the lake", str(exc).splitlines()[0])
                ) from None
            raise
        ms = (time.perf_counter() - t0) * 1000
        self.timings.setdefault(name, []).append(ms)
        if ms > self.slow_query_ms:
            log.warning("slow query %s %.1f ms params=%s", name, ms, used)
        return df

    def cached(
        self,
        key: Hashable,
        compute: Callable[[], T],
        window: tuple[date, date] = (ALL_FROM, ALL_TO),
        *,
        pin: bool = True,
    ) -> T:
        """``compute()`` through the one query cache, keyed on ``key`` and the last lake
        version that changed any session date in ``window`` (all time by default): the
        entry point for anything derived from query results (charts, embeds' tables).

        The key is taken and ``compute`` runs in this thread's pin (``Serving.pinned``):
        every query of the answer reads the version its key names, whatever commits land
        meanwhile (a pin inside a pin holds the outer one's version).

        ``pin=False``: ``compute`` reads nothing from the lake — a chart drawn from rows
        already read, whose ``key`` names its content. The key takes the version now, and
        nothing is held while it computes (inside a pin: the pin's version, held by it): a
        pin counts as a running query, so a commit during a chart's render kept the old
        snapshot leased a minute rather than letting it go at once, and commits found no
        spare folder to build in."""
        if not self.serving.is_pinned():
            if not pin:
                self.serving.refresh()
                v = self.serving.view()  # once: the epoch and signature of one version
                sig = self.serving.signature(*window, view=v)
                return self.cache.get_or_compute((key, v.epoch, sig), compute)
            with self.serving.pinned():
                return self.cached(key, compute, window)
        # the pin's view: which lake (a recreated one reuses the version numbers) and when
        # the window last changed in it
        epoch = self.serving.epoch
        sig = self.serving.signature(*window)
        return self.cache.get_or_compute((key, epoch, sig), compute)

    def _cached(self, key: Hashable, window: tuple[date, date], compute: Callable[[], T]) -> T:
        return self.cached(key, compute, window)

    # ---- windows

    def resolve_window(
        self, window: str = "all", as_of: date | None = None, server: str | None = None
    ) -> Window:
        """`all`, `season` (calendar quarter), `month`, `week`, `session` (the last one) or
        `YYYY-MM-DD..YYYY-MM-DD`. Relative windows count from the latest session date in
        the lake (or ``as_of``), so history and live data behave the same; with a
        ``server``, from that server's last session (a server that played last month has a
        board for "this month" of its own)."""
        w = window.strip().lower()
        if w == "all":
            return Window("all", ALL_FROM, ALL_TO)
        if ".." in w:
            a, _, b = w.partition("..")
            try:
                lo, hi = date.fromisoformat(a.strip()), date.fromisoformat(b.strip())
            except ValueError:
                raise ValueError(f"bad date range {window!r}; use YYYY-MM-DD..YYYY-MM-DD") from None
            if hi < lo:
                raise ValueError(f"date range {window!r} ends before it starts")
            return Window("range", lo, hi)
        return self._relative_window(w, window, as_of, server)

    @one_version
    def _relative_window(
        self, w: str, window: str, as_of: date | None, server: str | None
    ) -> Window:
        """A window that counts from the lake (today, the last session): one version."""
        today = self.today()
        last: tuple[int, date] | None = None
        if server is not None and (
            w == "session" or (as_of is None and w in ("season", "month", "week"))
        ):
            last = self.session_id_for(None, server)
        ref = as_of or (last[1] if last else None) or self.serving.last_date or today
        if w in ("season", "month", "week"):
            if w == "season":
                q0 = (ref.month - 1) // 3 * 3 + 1
                start = date(ref.year, q0, 1)
                end = date(ref.year + (q0 == 10), (q0 + 2) % 12 + 1, 1) - timedelta(days=1)
            elif w == "month":
                start = ref.replace(day=1)
                end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            else:
                start = ref - timedelta(days=ref.weekday())
                end = start + timedelta(days=6)
            return Window(w, start, end, latest_data=as_of is None and not start <= today <= end)
        if w == "session":
            sid, sdate = last or self._last_session_id()
            return Window("session", sdate, sdate, sid)
        raise ValueError(f"unknown window {window!r}; use one of {', '.join(WINDOWS)} or FROM..TO")

    # ---- leaderboards

    def player_totals(self, window: Window, server: str | None = None) -> pl.DataFrame:
        """Per-player sums and every registry metric over a window (cached), over every
        game server or one (``server``; ``""`` is the main one).

        All-time totals are materialised once per lake version (the serving refresh) —
        every all-time board and career card reads them — other windows are queried."""
        from etl_duck.domain.metrics import with_metrics

        if window.name == "all" and server is None:
            return self._all_time_totals()

        def compute() -> pl.DataFrame:
            df = self.run(
                "player_totals",
                date_from=window.date_from,
                date_to=window.date_to,
                session_id=window.session_id,
                server=server,
            )
            return with_metrics(df)

        key = ("player_totals", window.date_from, window.date_to, window.session_id, server)
        return self._cached(key, (window.date_from, window.date_to), compute)

    def _all_time_totals(self) -> pl.DataFrame:
        """Every player's all-time totals + metrics, once per lake version: the career table
        the commit wrote (a few hundred rows at any history length)."""
        from etl_duck.domain.metrics import with_metrics

        with self.serving.pinned():
            return self._all_time.get(self._at(), lambda: with_metrics(self.run("career_totals")))

    @one_version
    def leaderboard(
        self,
        metric: str,
        window: str | Window = "all",
        limit: int = 10,
        min_rounds: int | None = None,
        server: str | None = None,
    ) -> pl.DataFrame:
        """Top players by one metric: rank, guid, name, value, rounds + the base sums; over
        every game server or one."""
        from etl_duck.domain.metrics import resolve_metric

        m = resolve_metric(metric)
        w = window if isinstance(window, Window) else self.resolve_window(window, server=server)
        threshold = self.min_rounds if min_rounds is None else min_rounds
        if w.name == "session":
            threshold = 0  # one session: everyone who played counts
        key = (
            "leaderboard", m.key, w.date_from, w.date_to, w.session_id, limit, threshold, server
        )  # fmt: skip

        def compute() -> pl.DataFrame:
            return rank(self.player_totals(w, server), m, limit, threshold)

        return self._cached(key, (w.date_from, w.date_to), compute)

    @staticmethod
    def metrics() -> dict[str, Metric]:
        from etl_duck.domain.metrics import METRICS

        return METRICS

    # ---- sessions

    def _last_session_id(self) -> tuple[int, date]:
        """From the serving refresh (``queries/last_session.sql`` runs once per version)."""
        self.serving.refresh()
        if self.serving.last_session is None:
            raise NoData("No data yet: no session in the lake.")
        return self.serving.last_session

    def session_id_for(self, day: date | int | None, server: str | None = None) -> tuple[int, date]:
        """(session id, date) of the session that started on ``day`` (None: the last one;
        several: the last to start, :meth:`others_on` names the rest), on any game server or
        one. A session id (int) names one session: NoData unless a session with a counted
        round has it (on ``server``, when given)."""
        if isinstance(day, int):
            return self._session_id_known(day, server)
        if day is None and server is None:
            return self._cached(("last_session_id",), (ALL_FROM, ALL_TO), self._last_session_id)

        def compute() -> tuple[int, date]:
            if day is None:
                df = self._session_list(ALL_FROM, ALL_TO, server)
                if df.is_empty():
                    raise NoData(f"No sessions on server {label(server or '')} yet.")
                return int(df["session_id"][0]), df["session_date"][0]
            df = self.run("session_on_date", day=day, server=server)
            if df.is_empty():
                where = "" if server is None else f" on server {label(server)}"
                raise NoData(f"No session on {day.isoformat()}{where}.")
            return int(df["session_id"][0]), df["session_date"][0]

        window = (ALL_FROM, ALL_TO) if day is None else (_day_before(day), day)
        return self._cached(("session_on", day, server), window, compute)

    def _session_id_known(self, sid: int, server: str | None) -> tuple[int, date]:
        where = "" if server is None else f" on server {label(server)}"
        try:
            sdate = session_date_of(sid)  # the id names its start date
        except ValueError:
            raise NoData(f"No session {sid}{where}.") from None
        if sid not in self.sessions_on(sdate, server)["session_id"].to_list():
            raise NoData(f"No session {sid}{where}.")
        return sid, sdate

    def others_on(
        self, day: date, session_id: int, server: str | None = None
    ) -> list[tuple[int, datetime]]:
        """The sessions other than ``session_id`` that started on ``day`` (a break longer
        than the session gap splits an evening; a date opens the last to start), as
        (session id, start time), oldest first: what the CLI and the bot name beside it."""
        rows = self.sessions_on(day, server).iter_rows(named=True)
        others = [(int(r["session_id"]), r["start_time"]) for r in rows]
        return sorted((o for o in others if o[0] != session_id), key=lambda o: (o[1], o[0]))

    def sessions_on(self, day: date, server: str | None = None) -> pl.DataFrame:
        """The sessions with a counted round that started on ``day`` (on any game server or
        one), newest first: :meth:`sessions`' rows."""

        def compute() -> pl.DataFrame:
            return self._session_list(day, day, server)

        return self._cached(("sessions_on", day, server), (day, day), compute)

    @one_version
    def session(self, day: date | int | None = None, server: str | None = None) -> SessionReport:
        """The session that started on ``day`` (or the last session; or the session of an
        id, :meth:`session_id_for`), on any game server or one: players, maps, score."""
        sid, sdate = self.session_id_for(day, server)
        return self.session_by_id(sid, sdate)

    def session_by_id(self, sid: int, sdate: date | None = None) -> SessionReport:
        """One session's report by its id (pages and links address sessions by id: two
        sessions can start on the same day). Cached; an admin's team override moves the
        key on. ``sdate``: the session's date when the caller knows it."""
        if sdate is None:
            try:
                sdate = session_date_of(sid)  # the id names its start date
            except ValueError:
                raise NoData(f"No session {sid}.") from None
        day = sdate
        revision = self.teams.teams_revision() if self.teams is not None else 0
        return self._cached(
            ("session", sid, revision), (day, day), lambda: self._session_report(sid, day)
        )

    def last_session(self) -> SessionReport:
        return self.session(None)

    def session_vs_average(self, sid: int, sdate: date) -> pl.DataFrame:
        """Each player of a session against his own history before it: tonight's kills and
        DPM, his kills per minute played before × tonight's minutes (``expected_kills``; per
        round where either has no time: short 3v3 rounds read −72 kills against a history of
        long ones, −25 per minute) and his DPM before (``avg_dpm``); ``history_rounds`` 0 for
        a first night. History = the sessions that started before this one (an earlier
        session of the same date counts). By tonight's DPM."""
        import polars as pl

        from etl_duck.domain.metrics import DPM

        def compute() -> pl.DataFrame:
            tonight = self.player_totals(Window("session", sdate, sdate, sid))
            # every session that started before this one, earlier ones of its date too
            before = self.run("player_history", session_id=sid)
            hist = before.select(
                "guid",
                pl.col("rounds").alias("history_rounds"),
                (pl.col("kills") / pl.col("rounds")).alias("kills_per_round"),
                pl.when(pl.col("time_played_s") > 0)
                .then(pl.col("kills") / pl.col("time_played_s"))
                .alias("kills_per_second"),
                DPM.alias("avg_dpm"),
            )
            out = tonight.select("guid", "name", "rounds", "kills", "dpm", "time_played_s").join(
                hist, on="guid", how="left"
            )
            per_time = pl.col("kills_per_second") * pl.col("time_played_s")
            timed = pl.col("kills_per_second").is_not_null() & (pl.col("time_played_s") > 0)
            return (
                out.with_columns(
                    pl.col("history_rounds").fill_null(0),
                    pl.when(timed)
                    .then(per_time)
                    .otherwise(pl.col("kills_per_round") * pl.col("rounds"))
                    .alias("expected_kills"),
                )
                .drop("time_played_s", "kills_per_second")
                .sort(["dpm", "kills"], descending=True, nulls_last=True)
            )

        return self._cached(("vs_average", sid), (ALL_FROM, sdate), compute)

    def rounds_by_files(self, names: list[str]) -> pl.DataFrame:
        """Session, match and counted flag of some round files (serving table, uncached:
        the names are a commit's)."""
        return self.run("rounds_by_files", names=sorted(names))

    @one_version
    def session_reports(self, date_from: date, date_to: date) -> list[SessionReport]:
        """Every session that started in [date_from, date_to], oldest first, in one pass:
        the same reports as :meth:`session`, from a handful of queries over the window's
        partitions instead of five per session (the static site renders thousands).
        Not cached: a year of reports would crowd the LRU for one pass (the per-session
        methods are)."""
        return self._session_reports(date_from, date_to, None)

    def _session_report(self, sid: int, sdate: date) -> SessionReport:
        reports = self._session_reports(sdate, sdate, sid)
        if not reports:
            raise NoData(f"No session {sid}.")
        return reports[0]

    def _session_reports(
        self, date_from: date, date_to: date, sid: int | None
    ) -> list[SessionReport]:
        from etl_duck.domain.metrics import with_metrics

        span: dict[str, Any] = {"date_from": date_from, "date_to": date_to, "session_id": sid}
        rounds = self.run("session_rounds", **span)
        if rounds.is_empty():
            return []
        dates = self._dates_in(date_from, date_to)
        frames = {
            "rounds": rounds,
            "players": with_metrics(self.run("session_players", **span)),
            "sides": self.run("session_sides", dates, session_id=sid),
            "maps": self.run("session_maps", dates, **span),
            "timeline": self.run("session_dpm_timeline", dates, session_id=sid),
        }
        split = {name: _by_session(df) for name, df in frames.items()}
        zone = self.clock_zone()

        def part(name: str, session_id: int) -> pl.DataFrame:
            got = split[name].get(session_id)
            return got if got is not None else frames[name].clear().drop("session_id")

        return [
            _assemble_report(
                session_id,
                part("rounds", session_id),
                part("players", session_id),
                part("sides", session_id),
                part("maps", session_id),
                part("timeline", session_id),
                self.teams.teams_for(session_id) if self.teams is not None else None,
                zone,
            )
            for session_id in sorted(split["rounds"])
        ]

    def _dates_in(self, date_from: date, date_to: date) -> list[date]:
        """Session dates in [date_from, date_to] that hold partitions (this version)."""
        parts = self.serving.partitions.get("player_rounds", {})
        lo, hi = date_from.isoformat(), date_to.isoformat()
        return [date.fromisoformat(d) for d in sorted(parts) if lo <= d <= hi]

    def sessions(self, month: str | None = None, server: str | None = None) -> pl.DataFrame:
        """Sessions, newest first; ``month`` = `YYYY-MM` limits to that month; ``server``
        to one game server."""
        if month:
            try:
                start = date.fromisoformat(f"{month}-01")
            except ValueError:
                raise ValueError(f"bad month {month!r}; use YYYY-MM") from None
            end = _month_end(start)
        else:
            start, end = ALL_FROM, ALL_TO

        def compute() -> pl.DataFrame:
            return self._session_list(start, end, server)

        return self._cached(("sessions", start, end, server), (start, end), compute)

    def _session_list(self, date_from: date, date_to: date, server: str | None) -> pl.DataFrame:
        """``session_list`` rows with ``duration_s``, on the absolute clock: a session a
        clock change touches has its start, end and length from its rounds
        (:func:`~etl_duck.domain.sessions.session_clock`), newest first by its real start."""
        import polars as pl

        df = self.run("session_list", date_from=date_from, date_to=date_to, server=server)
        length = (df["end_time"] - df["start_time"]).dt.total_seconds().alias("duration_s")
        df = df.insert_column(df.columns.index("end_time") + 1, length)
        zone = self.clock_zone()
        clock = ServerClock(zone)
        first, last = df["start_time"].min(), df["end_time"].max()
        if not isinstance(first, datetime) or not isinstance(last, datetime):
            return df  # no session
        near = clock.change_days(first.year, last.year)
        if not near:
            return df
        # the few rows by a clock change (or over a day long), then the exact test
        maybe = df.with_row_index("i").filter(
            pl.col("start_time").dt.date().is_in(sorted(near))
            | pl.col("end_time").dt.date().is_in(sorted(near))
            | (pl.col("duration_s") > 86_400)
        )
        rows = zip(maybe["i"], maybe["start_time"], maybe["end_time"], strict=True)
        touched = [i for i, s, e in rows if not clock.steady(s, e)]
        if not touched:
            return df
        sids, dates = df["session_id"].to_list(), df["session_date"].to_list()
        clocks = {i: self._session_clock(sids[i], dates[i], zone) for i in touched}
        real = [c.began if (c := clocks.get(i)) else clock.readings(s)[0]
                for i, s in enumerate(df["start_time"])]  # fmt: skip
        fixed = {
            name: [getattr(clocks[i], attr) if i in clocks else v for i, v in enumerate(df[name])]
            for name, attr in (("start_time", "start"), ("end_time", "end"))
        }
        seconds = [
            int(clocks[i].duration.total_seconds()) if i in clocks else v
            for i, v in enumerate(df["duration_s"])
        ]
        df = df.with_columns(
            *(pl.Series(name, values, df[name].dtype) for name, values in fixed.items()),
            pl.Series("duration_s", seconds, df["duration_s"].dtype),
        )
        newest = sorted(range(df.height), key=lambda i: (real[i], sids[i]), reverse=True)
        return df[newest]

    def _session_clock(self, sid: int, sdate: date, zone: str | None) -> SessionClock:
        """A session's clock (:func:`_clock_of`), kept until a commit changes its date: the
        listing after each commit would otherwise read every history session a clock
        change touches again (a query each, and its readings)."""

        def compute() -> SessionClock:
            rows = self.run("session_rounds", date_from=sdate, date_to=sdate, session_id=sid)
            return _clock_of(rows, zone)

        return self._cached(("session_clock", sid, zone), (sdate, sdate), compute)

    def servers(self) -> list[str]:
        """The game servers with a session in the lake (``""`` is the main one), sorted."""
        listing = self.sessions()
        return sorted(set(listing["server"].to_list())) if listing.height else []

    # ---- players

    def find_player(self, text: str, limit: int = 10) -> pl.DataFrame:
        """Players matching a GUID prefix or a (fuzzy) alias, best first: guid, name, score."""
        import polars as pl

        text = text.strip()
        if not text:
            return pl.DataFrame(schema={"guid": pl.String, "name": pl.String, "score": pl.Float64})

        def compute() -> pl.DataFrame:
            df = self.run("player_directory", text=text)
            if df.is_empty():
                return df.select("guid", "name", pl.lit(0.0).alias("score"), "rounds", "last_seen")
            scored = df.with_columns(
                score=pl.when(pl.col("guid_match") & (len(text) >= 4))
                .then(2.0)
                .when(pl.col("name").str.to_lowercase() == text.lower())
                .then(1.5)
                .when(pl.col("contains_text"))
                .then(1.0 + pl.col("similarity") / 10)
                .otherwise(pl.col("similarity"))
            )
            best = (
                scored.sort(["score", "last_seen"], descending=True)
                .group_by("guid", maintain_order=True)
                .agg(
                    pl.col("name").first(),
                    pl.col("score").first(),
                    pl.col("rounds").sum(),
                    pl.col("last_seen").max(),
                )
                .filter(pl.col("score") >= 0.75)
                .sort(["score", "rounds"], descending=True)
                .head(limit)
            )
            return best

        return self._cached(("find_player", text.lower(), limit), (ALL_FROM, ALL_TO), compute)

    @one_version
    def resolve_player(self, text: str) -> tuple[str, str]:
        """(guid, current name) for a GUID, GUID prefix or alias (colour codes allowed, as
        typed in the game). PlayerAmbiguous when several players match about equally
        well; PlayerNotFound (with suggestions or a hint) when none does."""
        key = clean_name(text).strip()
        if len(key) >= 8 and all(c in "0123456789abcdefABCDEF" for c in key):
            # maybe a full GUID (what cards, pages and buttons pass): the names index if this
            # version's is built, else one small read (a fresh process need not build it)
            index = self._player_names.peek(self._at())
            if index is not None:
                if (current := index.current_names.get(key.upper())) is not None:
                    return key.upper(), current
            else:
                known = self._player_aliases(key.upper())
                if not known.is_empty():
                    return key.upper(), str(known["name"][0])
        career = self._names()
        exact = career.names.get(key.lower(), set())
        if len(exact) == 1:  # an unambiguous exact alias: no fuzzy search
            guid = next(iter(exact))
            return guid, career.current_names[guid]
        if len(exact) > 1:  # one alias, several players (a name someone else took later)
            raise PlayerAmbiguous(text, sorted((g, career.current_names[g]) for g in exact))
        found = self.find_player(key)
        if found.is_empty():
            # nothing near it either: what would match (a bare "No player matches" named no fix)
            hint = " Give a name the player used in the game (part of one will do) or his GUID."
            if len(key) < MIN_GUID_PREFIX and all(c in "0123456789abcdefABCDEF" for c in key):
                hint = f" GUID prefixes need at least {MIN_GUID_PREFIX} characters."
            raise PlayerNotFound(text, [], hint)
        top = found.row(0, named=True)
        guid = str(top["guid"])
        # the found name is the alias that matched; answers show the player's name now
        now = career.current_names.get(guid, str(top["name"]))
        if top["score"] >= 1.5:  # a GUID prefix or an exact name
            return guid, now
        close = found.filter(found["score"] >= top["score"] - AMBIGUOUS_WITHIN)
        if top["score"] >= 1.0 and close.height == 1:
            return guid, now
        if top["score"] >= 1.0:
            rows = close.head(10).iter_rows(named=True)
            raise PlayerAmbiguous(text, [(str(r["guid"]), str(r["name"])) for r in rows])
        suggested = found.head(5).select("guid", "name").iter_rows()
        raise PlayerNotFound(text, [(str(g), str(n)) for g, n in suggested])

    def _names(self) -> PlayerNames:
        """Every player's names (for lookups and aliases), once per lake version: one read
        of the career names table."""
        with self.serving.pinned():
            return self._player_names.get(
                self._at(), lambda: PlayerNames.of(self.run("career_aliases"))
            )

    @one_version
    def player(self, text: str, server: str | None = None) -> PlayerCard:
        """Career card: totals + metrics, top weapons, last rounds, aliases, maps; over
        every game server (the career tables: a few small reads) or one."""
        import polars as pl

        guid, _ = self.resolve_player(text)

        def compute() -> PlayerCard:
            if server is None:
                totals = self._all_time_totals().filter(pl.col("guid") == guid)
                parts = self.run_parts("career_card", guid=guid, limit=self.LAST_ROUNDS)
                weapons, maps, last = parts["weapons"], parts["maps"], parts["last_rounds"]
                aliases = parts["aliases"]
            else:
                every = Window("all", ALL_FROM, ALL_TO)
                totals = self.player_totals(every, server).filter(pl.col("guid") == guid)
                weapons = self.weapon_stats(guid, every, server)
                maps = self.run("player_server_maps", guid=guid, server=server)
                last = self.run(
                    "player_server_last_rounds", guid=guid, server=server, limit=self.LAST_ROUNDS
                )
                # the server's names only, as every other part of this card
                aliases = self.run("player_server_aliases", guid=guid, server=server)
            if totals.is_empty():
                where = "" if server is None else f" on server {label(server)}"
                raise NoData(f"Player {guid} has no counted rounds{where}.")
            row = totals.row(0, named=True)
            return PlayerCard(
                guid=guid,
                name=str(row["name"]),
                totals=row,
                weapons=weapons,
                last_rounds=last,
                aliases=aliases,
                maps=maps,
            )

        return self._cached(("player", guid, server), (ALL_FROM, ALL_TO), compute)

    def _player_aliases(self, guid: str) -> pl.DataFrame:
        return self._cached(
            ("aliases_of", guid),
            (ALL_FROM, ALL_TO),
            lambda: self.run("career_player_aliases", guid=guid),
        )

    def aliases(self) -> pl.DataFrame:
        """Every name each player used (guid, name, rounds, first_seen, last_seen), newest
        name first per player."""
        return self._names().aliases.frame

    @one_version
    def map_stats(self, text: str) -> pl.DataFrame:
        """A player's all-time stats per map (the career table)."""
        guid, _ = self.resolve_player(text)
        return self._cached(
            ("map_stats", guid), (ALL_FROM, ALL_TO), lambda: self.run("career_maps", guid=guid)
        )

    @one_version
    def weapon_stats(
        self, text: str, window: str | Window = "all", server: str | None = None
    ) -> pl.DataFrame:
        """A player's weapon totals over a window, most kills first, over every game server
        or one: all time from the career table, other windows from the per-session weapon
        rollup of the window's years."""
        guid, _ = self.resolve_player(text)
        w = window if isinstance(window, Window) else self.resolve_window(window, server=server)

        def compute() -> pl.DataFrame:
            if w.name == "all" and server is None:
                return self.run("career_weapons", guid=guid)
            return self.run(
                "player_weapons",
                guid=guid,
                date_from=w.date_from,
                date_to=w.date_to,
                server=server,
            )

        key = ("weapon_stats", guid, w.date_from, w.date_to, server)
        return self._cached(key, (w.date_from, w.date_to), compute)

    @one_version
    def compare(self, a: str, b: str, window: str = "all") -> pl.DataFrame:
        """Two players side by side: one row each, every metric."""
        import polars as pl

        ga, _ = self.resolve_player(a)
        gb, _ = self.resolve_player(b)
        w = self.resolve_window(window)
        totals = self.player_totals(w)
        out = totals.filter(pl.col("guid").is_in([ga, gb]))
        if out.height < 2 and ga != gb:
            missing = {ga, gb} - set(out["guid"].to_list())
            raise NoData(f"No counted rounds for {', '.join(sorted(missing))} in {w.label}.")
        return out.sort(pl.col("guid") == gb)

    # ---- one round, one match, one session's weapons (posts read one partition)

    def round_detail(self, file_name: str) -> RoundDetail | None:
        """The round stored from ``file_name`` and its players' round-only totals with every
        registry metric, by DPM; None if the lake does not hold it."""

        def compute() -> RoundDetail | None:
            found = self.run("round_by_file", file_name=file_name)
            if found.is_empty():
                return None
            rnd = found.row(0, named=True)
            sdate: date = rnd["session_date"]
            players = self._by_dpm(
                self.run("round_players", [sdate], round_id=rnd["round_id"], match_id=None)
            )
            awards = self.run("round_awards", [sdate], round_id=rnd["round_id"])
            return RoundDetail(round=rnd, players=players, session_date=sdate, awards=awards)

        return self._cached(("round_detail", file_name), (ALL_FROM, ALL_TO), compute)

    def match_players(self, session_date: date, match_id: int) -> pl.DataFrame:
        """Per-player totals over both rounds of one match (counted rows), by DPM."""

        def compute() -> pl.DataFrame:
            rows = self.run("round_players", [session_date], round_id=None, match_id=match_id)
            return self._by_dpm(rows)

        key = ("match_players", session_date, match_id)
        return self._cached(key, (session_date, session_date), compute)

    def session_weapons(self, session_id: int, session_date: date) -> pl.DataFrame:
        """Weapon totals of one session (counted rows), most kills first, with accuracy."""
        from etl_duck.domain.metrics import ACCURACY

        def compute() -> pl.DataFrame:
            rows = self.run("session_weapons", [session_date], session_id=session_id)
            return rows.drop("session_id").with_columns(ACCURACY.alias("accuracy"))

        key = ("session_weapons", session_id)
        return self._cached(key, (session_date, session_date), compute)

    @one_version
    def sessions_weapons(self, date_from: date, date_to: date) -> dict[int, pl.DataFrame]:
        """:meth:`session_weapons` of every session that started in the window, by session
        id, in one query over the window's partitions (a one-pass bulk read: not cached)."""
        from etl_duck.domain.metrics import ACCURACY

        rows = self.run("session_weapons", self._dates_in(date_from, date_to), session_id=None)
        return _by_session(rows.with_columns(ACCURACY.alias("accuracy")))

    # ---- a player's sessions (form, seasons)

    def player_session_rows(self) -> pl.DataFrame:
        """Every player's per-session totals (counted rows) with every registry metric,
        ordered by GUID then session (one query per lake version)."""
        from etl_duck.domain.metrics import with_metrics

        return self._cached(
            ("player_session_rows",),
            (ALL_FROM, ALL_TO),
            lambda: with_metrics(self.run("player_session_rows")),
        )

    def player_dates(self) -> dict[str, list[date]]:
        """Each player's session dates (any non-bot row), oldest first: the dates whose
        version keys decide whether something about the player changed."""

        def compute() -> dict[str, list[date]]:
            df = self.run("player_dates")
            out: dict[str, list[date]] = {}
            for guid, day in zip(df["guid"], df["session_date"], strict=True):
                out.setdefault(str(guid), []).append(day)
            return out

        return self._cached(("player_dates",), (ALL_FROM, ALL_TO), compute)

    def player_sessions(self, guid: str) -> pl.DataFrame:
        """One player's per-session totals with every metric, oldest first (by exact GUID;
        empty when the player has no counted round)."""
        import polars as pl

        index = self._cached(
            ("player_session_index",),
            (ALL_FROM, ALL_TO),
            lambda: ByPlayer(self.player_session_rows()),
        )
        return index.get(guid, pl.DataFrame())

    @staticmethod
    def _by_dpm(rows: pl.DataFrame) -> pl.DataFrame:
        from etl_duck.domain.metrics import with_metrics

        if rows.is_empty():
            return rows
        return with_metrics(rows).sort(["dpm", "kills"], descending=True, nulls_last=True)

    # ---- duos, rivals, records and milestones (issue 17)

    def social(self) -> SocialIndex:
        """The social index of the current lake version (cached; a commit anywhere moves it)."""

        def compute() -> SocialIndex:
            return SocialIndex(
                results=self.run("social_match_results"),
                bests=self.run("social_map_bests"),
                versus=self.run("social_versus"),
                sessions=self.run("social_sessions"),
                rounds=self.run("social_rounds"),
            )

        return self._cached(("social",), (ALL_FROM, ALL_TO), compute)

    def _record_events(self) -> list[Event]:
        """Every record ever broken (the standing records need these, not the rest)."""
        from etl_duck.domain import records

        def compute() -> list[Event]:
            idx = self.social()
            return records.round_record_events(idx.rounds, idx.bests)

        return self._cached(("social_record_events",), (ALL_FROM, ALL_TO), compute)

    def social_events(self) -> SocialEvents:
        """Every record, personal best and milestone event of the current lake version."""
        from etl_duck.domain import records

        def compute() -> SocialEvents:
            idx = self.social()
            return SocialEvents(
                records=self._record_events(),
                personal=records.personal_best_events(idx.bests),
                milestones=records.milestone_events(idx.sessions),
            )

        return self._cached(("social_events",), (ALL_FROM, ALL_TO), compute)

    @one_version
    def teammates(self, text: str, min_maps: int | None = None) -> tuple[str, str, pl.DataFrame]:
        """(guid, name, one row per teammate: maps together / apart, records, win rates)."""
        from etl_duck.domain import social

        guid, name = self.resolve_player(text)
        n = social.MIN_MAPS if min_maps is None else min_maps

        def compute() -> pl.DataFrame:
            return social.teammates(self.social().results, guid, n)

        return guid, name, self._cached(("teammates", guid, n), (ALL_FROM, ALL_TO), compute)

    @one_version
    def lineups(self, window: str | Window = "all", min_maps: int | None = None) -> pl.DataFrame:
        """Recurring rosters against each other over a window, with their records."""
        import polars as pl

        from etl_duck.domain import social

        w = window if isinstance(window, Window) else self.resolve_window(window)
        n = social.MIN_MAPS if min_maps is None else min_maps

        def compute() -> pl.DataFrame:
            results = self.social().results.filter(
                pl.col("session_date").is_between(w.date_from, w.date_to)
            )
            return social.lineups(results, n)

        return self._cached(("lineups", w.date_from, w.date_to, n), (ALL_FROM, ALL_TO), compute)

    @one_version
    def rivals(self, text: str) -> tuple[str, str, pl.DataFrame]:
        """(guid, name, per opponent: rounds, kills, deaths, K/D — endstats versus rows)."""
        from etl_duck.domain import social

        guid, name = self.resolve_player(text)

        def compute() -> pl.DataFrame:
            idx = self.social()
            return social.rivals(idx.versus, guid, idx.results)

        return guid, name, self._cached(("rivals", guid), (ALL_FROM, ALL_TO), compute)

    def records(self, map_name: str | None = None) -> list[dict[str, Any]]:
        """The standing records: all-time and per map (or one map), with their holders."""
        from etl_duck.domain import records

        def compute() -> list[dict[str, Any]]:
            idx = self.social()
            standing = records.current_records(self._record_events(), idx.rounds, idx.bests)
            return self._with_team_holders(standing)

        rows = self._cached(("records",), (ALL_FROM, ALL_TO), compute)
        if map_name is None:
            return rows
        want = map_name.strip().lower()
        return [r for r in rows if r["scope"] == "all" or r["scope"].lower() == want]

    @one_version
    def personal_bests(self, text: str) -> tuple[str, str, list[dict[str, Any]]]:
        from etl_duck.domain import records

        guid, name = self.resolve_player(text)

        def compute() -> list[dict[str, Any]]:
            # the player's own rows, not the social index over everyone's history (at 10
            # years that index takes ~0.6 s and ~120 MiB to build: too much for /player)
            bests = self.run("player_map_bests_of", guid=guid)
            sessions = self.run("player_sessions_of", guid=guid)
            return records.personal_bests(bests, sessions, guid)

        return guid, name, self._cached(("bests", guid), (ALL_FROM, ALL_TO), compute)

    def session_events(self, sid: int) -> list[Event]:
        """Records broken, personal bests and milestones of one session, in time order
        (time records' holders filled in)."""

        def compute() -> list[Event]:
            ev = self.social_events()
            events = [e for e in (*ev.records, *ev.personal, *ev.milestones)
                      if e.session_id == sid]  # fmt: skip
            return self._with_event_holders(events)

        return self._cached(("session_events", sid), (ALL_FROM, ALL_TO), compute)

    def round_events(self, sid: int, file_name: str) -> list[Event]:
        """What one round set: records and personal bests (milestones: the session's)."""
        return [e for e in self.session_events(sid) if e.file_name == file_name]

    def _sides(self, files: list[str]) -> dict[tuple[str, bool], str]:
        """(round file, attacking?) → that side, as its clan tag or its first names; the
        names as answers show them (:func:`~etl_duck.query.rating.labels`, as the charts'):
        two of one name told apart ("vid (D842), vid (5D98)", not "vid, vid"), his GUID
        where a name shows nothing."""
        import polars as pl

        from etl_duck.domain.parse import name_or_guid
        from etl_duck.domain.teams import clan_tag

        if not files:
            return {}
        rounds = self.social().rounds.filter(pl.col("file_name").is_in(files))
        dates = sorted(set(rounds["session_date"].to_list()))
        rows = self.run("round_attackers", dates, names=sorted(files))
        out: dict[tuple[str, bool], str] = {}
        for (f, attacking), part in rows.group_by("file_name", "attacking", maintain_order=True):
            side = part.sort("name", "guid").select("guid", "name").iter_rows()
            people = [(str(g), str(n)) for g, n in side]
            named = labels((g, name_or_guid(n, g)) for g, n in people)
            names = [named[g] for g, _ in people]
            tag = clan_tag(n for _, n in people)
            shown = tag or (", ".join(names[:3]) + (" …" if len(names) > 3 else ""))
            out[(str(f), bool(attacking))] = shown
        return out

    @staticmethod
    def _holder(sides: dict[tuple[str, bool], str], kind: str, file_name: str | None) -> str:
        """Completions are the attackers', holds the defenders'."""
        attacking = kind == "fastest_completion"
        fallback = "the attackers" if attacking else "the defenders"
        return sides.get((file_name or "", attacking), fallback)

    def _with_event_holders(self, events: list[Event]) -> list[Event]:
        import dataclasses

        timed = ("fastest_completion", "longest_hold")
        files = sorted({f for e in events if e.kind in timed
                        for f in (e.file_name, e.previous_file) if f})  # fmt: skip
        sides = self._sides(files)
        return [
            dataclasses.replace(
                e,
                holder=self._holder(sides, e.kind, e.file_name),
                previous_holder=self._holder(sides, e.kind, e.previous_file),
            )
            if e.kind in timed
            else e
            for e in events
        ]

    def _with_team_holders(self, standing: list[dict[str, Any]]) -> list[dict[str, Any]]:
        timed = ("fastest_completion", "longest_hold")
        sides = self._sides(sorted(r["file_name"] for r in standing if r["kind"] in timed))
        return [
            {**r, "holder": self._holder(sides, r["kind"], r["file_name"])}
            if r["kind"] in timed
            else r
            for r in standing
        ]

    # ---- skill rating, forecasts, balanced teams (etl_duck.domain.rating)

    def ratings(self) -> RatingRun:
        """Every player's rating after every counted stopwatch map, and each map's
        walk-forward forecast: one replay per lake version, incremental across commits."""
        return self.cached(("rating_run",), self._rating_book.run)

    def _rating_index(self) -> RatingIndex:
        from etl_duck.query.rating import index

        def compute() -> RatingIndex:
            return index(self.ratings(), self._names().current_names)

        return self.cached(("rating_index",), compute)

    def rating_calibration(self) -> Calibration:
        """The side-and-confidence calibration of the rating's forecast, fitted on the
        last maps (see ``etl_duck.domain.forecasts.calibrate``)."""
        from etl_duck.domain.forecasts import calibrate

        return self.cached(("rating_calibration",), lambda: calibrate(self.ratings()))

    def rating_top(self, limit: int = 10, min_maps: int | None = None) -> pl.DataFrame:
        """The conservative-rating leaderboard of players with at least ``min_maps`` maps."""
        import polars as pl

        need = self.RATING_MIN_MAPS if min_maps is None else min_maps

        def compute() -> pl.DataFrame:
            table = self._rating_index().table.filter(pl.col("maps") >= need).head(limit)
            return table.with_columns(pl.int_range(1, table.height + 1).alias("rank"))

        return self.cached(("rating_top", limit, need), compute)

    @one_version
    def player_rating(self, text: str) -> PlayerRatingCard:
        """One player's μ, σ, conservative rating, rank, maps, trend and history."""
        import polars as pl

        guid, name = self.resolve_player(text)

        def compute() -> PlayerRatingCard:
            idx = self._rating_index()
            row = idx.table.filter(pl.col("guid") == guid)
            if row.is_empty():
                raise NoData(f"{name} has no rated stopwatch map yet.")
            ranked = idx.table.filter(pl.col("maps") >= self.RATING_MIN_MAPS)
            hit = ranked.with_row_index("pos").filter(pl.col("guid") == guid)
            points = idx.history.get(guid, [])
            history = pl.DataFrame(
                {
                    "end_time": [h[1] for h in points],
                    "match_id": [h[2] for h in points],
                    "mu": [h[3] for h in points],
                    "sigma": [h[4] for h in points],
                },
                schema={"end_time": pl.Datetime("us"), "match_id": pl.Int64,
                        "mu": pl.Float64, "sigma": pl.Float64},
            ).with_columns(rating=pl.col("mu") - 3 * pl.col("sigma"))  # fmt: skip
            return PlayerRatingCard(
                guid=guid,
                name=name,
                row=row.row(0, named=True),
                rank=None if hit.is_empty() else int(hit["pos"][0]) + 1,
                ranked_players=ranked.height,
                min_maps=self.RATING_MIN_MAPS,
                history=history,
            )

        return self.cached(("player_rating", guid), compute)

    def predictions(self) -> Predictions:
        """Every counted map's walk-forward forecast by the rating and by the baselines,
        next to the result, with Brier score and log-loss per method."""
        from etl_duck.query.rating import predictions

        def compute() -> Predictions:
            return predictions(self.ratings(), self._names().current_names)

        return self.cached(("predictions",), compute)

    def _rated(self, texts: list[str]) -> list[tuple[str, str]]:
        """(GUID, name) per player of a balance / forecast; ``+name`` is a new player (key
        ``+name``, lower case) at the starting rating. An unknown name is refused (a typo
        must not become a player), saying how to add a new one."""
        from etl_duck.query.rating import NEW_PLAYER, new_player

        out = []
        for t in texts:
            # a player whose name really is "+x" (names like "+FoX+" exist) is that player
            new = new_player(t)
            if new is not None and not self._names().names.get(t.strip().lower()):
                out.append(new)
                continue
            try:
                out.append(self.resolve_player(t))
            except PlayerAmbiguous:
                raise
            except PlayerNotFound as exc:
                name = t.strip()
                exc.args = (f"{exc} For a new player with no maps yet, write {NEW_PLAYER}{name}",)
                raise
        seen: set[str] = set()
        for guid, name in out:
            if guid in seen:
                raise ValueError(f"{name} is listed twice")
            seen.add(guid)
        return out

    @one_version
    def forecast(self, team_a: list[str], team_b: list[str]) -> TeamForecast:
        """P(team A beats team B) for two rosters (names or GUIDs), before sides are known."""
        from etl_duck.query.rating import forecast

        a, b = self._rated(team_a), self._rated(team_b)
        if not a or not b:
            raise ValueError("a forecast needs a player on each team")
        if {g for g, _ in a} & {g for g, _ in b}:
            raise ValueError("a player cannot be on both teams")
        return forecast(self.ratings(), self.rating_calibration(), a, b)

    @one_version
    def balance(
        self,
        players: list[str],
        *,
        apart: list[tuple[str, str]] | None = None,
        together: list[tuple[str, str]] | None = None,
        avoid_previous: bool = False,
        limit: int = 10,
    ) -> Balance:
        """Splits of ``players`` into two teams, fairest forecast first; keep pairs apart or
        together, and optionally never repeat the last session's split."""
        from etl_duck.query.rating import NEW_PLAYER, balance, is_new

        people = self._rated(players)
        guid_of = dict(zip(players, (g for g, _ in people), strict=True))
        # a new player in a pair: as listed (+name), or by his name alone
        bare = {g.removeprefix(NEW_PLAYER): g for g, _ in people if is_new(g)}

        def one(text: str) -> str:
            key = guid_of.get(text) or bare.get(text.strip().lower())
            return key if key is not None else self._rated([text])[0][0]

        def pairs(given: list[tuple[str, str]] | None) -> list[tuple[str, str]]:
            return [(one(x), one(y)) for x, y in given or []]

        previous = None
        if avoid_previous:
            try:
                teams = self.last_session().teams
            except NoData:
                teams = None
            if teams is not None:
                previous = (teams[0].guids, teams[1].guids)
        return balance(
            self.ratings(),
            self.rating_calibration(),
            people,
            apart=pairs(apart),
            together=pairs(together),
            avoid=previous,
            limit=limit,
        )

    def status(self) -> dict[str, Any]:
        """Headline numbers of the lake (each game server's too) and every open problem
        (quarantined files, version conflicts, rejected lines, partial and cut files,
        empty files, endstats files without their round, recent round 2s without their
        round 1), all from ONE snapshot: no commit can land between the numbers of one
        answer. `etl-duck status` and the bot's /status both render this answer."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from etl_duck.domain.endstats import stored_endstats, waiting_for_round_vectorised
        from etl_duck.lake.rawstore import RawStore
        from etl_duck.lake.schemas import FILES_SCHEMA

        self.serving.refresh()
        with self.serving.pinned() as (version, snap):
            row = self.run("lake_status").row(0, named=True)
            excluded = self.run("excluded_rounds")
            files = self.lake.read_state("files", snap) if snap else FILES_SCHEMA.empty_table()
            rejected = self.lake.read_state("rejected_lines", snap).to_pylist() if snap else []
            # only the ledger rows listed below become Python rows: those not "ok", and the
            # hashes of the files with rejected lines (a 10-year ledger, ~65k rows, as
            # dicts cost more than all the rest of the status)
            ledger = files.filter(pc.not_equal(files["status"], "ok")).to_pylist()
            rejected_names = sorted({r["file_name"] for r in rejected})
            conflicts = self.lake.read_state("conflicts", snap).to_pylist() if snap else []
            manifest = self.lake.manifest(snap) if snap else None
            cut = [r["file_name"] for r in ledger if r["status"] == "partial"]
            # accepted as they are by an admin (`resolve NAME --accept`): the marker lives in
            # raw/ beside the versions and names the version it accepted
            named = pc.is_in(files["file_name"], value_set=pa.array(rejected_names, pa.string()))
            hashes = files.filter(named).select(["file_name", "content_sha256"]).to_pylist()
            sha_of = {r["file_name"]: r["content_sha256"] for r in hashes}
            raw = RawStore(self.lake.data_dir)
            kept = {n for n in rejected_names if sha_of.get(n) in raw.accepted(n)}
            # a cut file is final (its complete lines count) once a later round of its
            # server exists: an open problem only while it still waits for the rest
            found = self.run("rounds_by_files", names=sorted(cut)) if cut else None
            why_not = (
                dict(zip(found["file_name"], found["reason"], strict=True))
                if found is not None
                else {}
            )
            waiting = {n for n, why in why_not.items() if why == "partial"}
            # endstats files no round of the lake pairs with (their rows wait for it); the
            # round index is read only when the ledger holds endstats files at all
            stored = stored_endstats(files)
            unpaired: dict[str, bool] = {}
            if snap and len(stored):
                index = self.lake.read_state("round_index", snap)
                unpaired = waiting_for_round_vectorised(stored, index)
            orphans = self.run("orphan_rounds", days=ORPHAN_OPEN_DAYS).rows() if snap else []
            replayed = self.run("replayed_round1s", days=ORPHAN_OPEN_DAYS).rows() if snap else []
            servers = self.run("server_rounds", server=None).rows() if snap else []
            # the admins' acceptances of cut files, orphan round 2s and replayed round 1s
            # (`resolve NAME --accept`): each names the version it accepted
            orphan_names = pa.array([o[0] for o in [*orphans, *replayed]], pa.string())
            orphan_rows = files.filter(pc.is_in(files["file_name"], value_set=orphan_names))
            odd = [r for r in ledger if r["status"] in ("empty", "partial")]
            accepted = {
                r["file_name"]
                for r in [*odd, *orphan_rows.to_pylist()]
                if r["content_sha256"] in raw.accepted(r["file_name"])
            }
        empty = [r["file_name"] for r in ledger if r["status"] == "empty"]
        # cut files: open until the whole file arrives or an admin accepts the cut version
        # (a later round of the server is no proof that the server's own file is cut)
        partial = [n for n in cut if n in waiting]
        cut_final = {n: why_not.get(n) for n in cut if n not in waiting}
        return {
            "version": version,
            **row,
            "excluded": dict(zip(excluded["reason"], excluded["rounds"], strict=True)),
            "player_rounds": sum(p.rows for p in manifest.partitions["player_rounds"].values())
            if manifest
            else 0,
            "files": files.num_rows,
            "quarantined": {
                r["file_name"]: r["reason"] for r in ledger if r["status"] == "quarantined"
            },
            "conflicts": {f"{r['file_name']}@{r['version']}": r["reason"] for r in conflicts},
            #: cut files still waiting for the rest (not counted yet), unless accepted
            "partial": [n for n in partial if n not in accepted],
            #: cut files whose cut is final (a later round followed) → why they do not
            #: count (None: their complete lines count), accepted or not
            "cut_final": cut_final,
            #: … those still open: the whole file may yet arrive (or an admin accepts it)
            "cut": {n: why for n, why in cut_final.items() if n not in accepted},
            #: cut files an admin accepted as they are ("partial": still waiting for a
            #: later round of their server) → why they do not count (None: they count)
            "cut_accepted": {
                **{n: "partial" for n in partial if n in accepted},
                **{n: why for n, why in cut_final.items() if n in accepted},
            },
            #: files that arrived with 0 bytes: open until content lands or a dismissal
            "empty": sorted(empty),
            "dismissed": [r["file_name"] for r in ledger if r["status"] == "dismissed"],
            #: why (and which version was set aside): what `resolve --keep` needs to undo it
            "dismissed_reasons": {
                r["file_name"]: r["reason"] for r in ledger if r["status"] == "dismissed"
            },
            # open until an admin accepts the file as it is (`resolve NAME --accept`)
            "rejected": [
                f"{r['file_name']}:{r['line']}: {r['field']}: {r['reason']}"
                for r in rejected
                if r["file_name"] not in kept
            ],
            "rejected_accepted": [
                f"{r['file_name']}:{r['line']}: {r['field']}: {r['reason']}"
                for r in rejected
                if r["file_name"] in kept
            ],
            "rejected_lines": len(rejected),
            #: endstats files whose round file is not in the lake while their server has
            #: written later rounds: it is missing (an open problem until it is ingested)
            #: (an empty file is none of these: nothing in it to pair)
            "endstats_without_round": [
                n for n, overdue in unpaired.items() if overdue and n not in empty
            ],
            #: … and those whose round file may still be on its way (no later round of
            #: their server yet): named, not a problem
            "endstats_waiting": [
                n for n, overdue in unpaired.items() if not overdue and n not in empty
            ],
            #: round 2s without their round 1, oldest first: open while within
            #: ORPHAN_OPEN_DAYS of their server's latest round and not accepted (older ones
            #: are listed, no problem)
            "orphans": [
                {
                    **_listed(name, map_name, recent, accepted),
                    "round2_start": start.isoformat() if start is not None else None,
                    "fix": orphan_fix(name, map_name, start),
                }
                for name, map_name, start, recent in orphans
            ],
            #: counted round 1s without their round 2 whose map started again within
            #: minutes (a lost round-2 file, or a reset): open while recent and not accepted
            "replayed": [
                {
                    **_listed(name, map_name, recent, accepted),
                    "replay_start": replay.isoformat() if replay is not None else None,
                    "fix": replayed_fix(name, map_name, replay),
                }
                for name, map_name, _end, replay, recent in replayed
            ],
            #: each game server's rounds and counted rounds, and when its latest round
            #: ended (on the server's clock): one that stopped sending shows
            "servers": [
                {
                    "server": server,
                    "rounds": rounds,
                    "counted_rounds": counted,
                    "last_round": last.isoformat() if last is not None else None,
                }
                for server, rounds, counted, last in servers
            ],
        }

    def disk_problems(self) -> dict[str, Any]:
        """What the folders on disk add to ``status()`` (never cached: raw/ changes without
        a commit): an ingest in progress, an interrupted one's leftovers, raw/ against the
        ledger — ``etl_duck.lake.rawaudit.disk_problems``, for the bot, which reads the lake
        only through this API."""
        from etl_duck.lake.rawaudit import disk_problems

        return disk_problems(self.lake.data_dir)

    def warm(self) -> None:
        """Fill the cache for the common questions (after each commit)."""
        try:
            self.last_session()
        except NoData:
            return
        for key in ("kills", "dpm", "kd"):
            self.leaderboard(key)
        self._names()


# --------------------------------------------------------------------------- pure helpers


def _by_session(df: pl.DataFrame) -> dict[int, pl.DataFrame]:
    """Split a multi-session frame into one frame per session (without ``session_id``)."""
    if df.is_empty():
        return {}
    parts = df.partition_by("session_id", as_dict=True, maintain_order=True)
    return {int(key[0]): part.drop("session_id") for key, part in parts.items()}


def _assemble_report(
    sid: int,
    rounds: pl.DataFrame,
    players: pl.DataFrame,
    sides: pl.DataFrame,
    maps: pl.DataFrame,
    timeline: pl.DataFrame,
    override: Sequence[TeamOverride] | None = None,
    zone: str | None = None,
) -> SessionReport:
    """One session's report from its rows: stopwatch score (an admin's teams, if any),
    teams and MVP. Its start, end, length and the order of its rounds, maps and timeline
    are the absolute clock's in the server's ``zone`` (:func:`_clock_of`)."""
    import polars as pl

    sdate: date = rounds["session_date"][0]
    rounds = rounds.drop("session_date")
    clock = _clock_of(rounds, zone)
    if tuple(rounds["file_name"]) != clock.rounds:  # a clock change: the names' order is not
        rounds, maps, timeline = _in_play_order(clock.rounds, rounds, maps, timeline)
    players = players.sort(["dpm", "kills"], descending=True, nulls_last=True)
    score = score_stopwatch(rounds, sides, players, override)
    maps = maps.join(score.maps, on="match_id", how="left")
    counted = rounds.filter(pl.col("counted"))
    return SessionReport(
        session_id=sid,
        session_date=sdate,
        start_time=clock.start,
        end_time=clock.end,
        players=players,
        maps=maps,
        rounds=rounds,
        teams=score.teams,
        mvp=pick_mvp(players, counted.height),
        dpm_timeline=timeline,
        segments=score.segments,
        overridden=bool(override),
        server=str(rounds["server"][0]),
        span=clock.duration,
    )


def _clock_of(rounds: pl.DataFrame, zone: str | None) -> SessionClock:
    """A session's ``session_rounds`` rows on the absolute clock. An evening's times are its
    played rounds' (an idle server's header-only rounds and a lone player's join it:
    DECISIONS "Idle servers"), all its rounds' when none was played."""
    names = rounds["file_name"].to_list()
    ids = dict(zip(rounds["round_id"], names, strict=True))
    times = [
        RoundTime(n, end, start, reason not in NOT_A_GAME)
        for n, end, start, reason in zip(
            names, rounds["end_time"], rounds["start_time"], rounds["reason"], strict=True
        )
    ]
    round1_of = {
        n: ids[r1]
        for n, r1 in zip(names, rounds["paired_round_id"], strict=True)
        if r1 is not None and r1 in ids
    }
    return session_clock(times, zone, round1_of)


def _in_play_order(
    order: Sequence[str], rounds: pl.DataFrame, maps: pl.DataFrame, timeline: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """A session's rounds in ``order`` (file names), its maps and DPM timeline in the order
    of their first round (the queries order them by the names: across a clock change, not
    the order they were played)."""
    import polars as pl

    at = {n: i for i, n in enumerate(order)}
    rounds = rounds.sort(pl.col("file_name").replace_strict(at, return_dtype=pl.Int64))
    first: dict[int, int] = {}
    for i, m in enumerate(rounds["match_id"]):
        first.setdefault(m, i)
    by_map = pl.col("match_id").replace_strict(first, default=len(first), return_dtype=pl.Int64)
    maps = maps.sort(by_map, maintain_order=True)
    timeline = timeline.sort(by_map, "guid", maintain_order=True)
    return rounds, maps, timeline


def rank(totals: pl.DataFrame, metric: Metric, limit: int, min_rounds: int) -> pl.DataFrame:
    import polars as pl

    board = (
        totals.filter(pl.col(metric.sample) >= min_rounds)
        .filter(pl.col(metric.key).is_not_null())
        .sort([metric.key, "rounds", "guid"], descending=[metric.descending, True, False])
        .head(limit)
    )
    return board.select(
        pl.int_range(1, board.height + 1).alias("rank"),
        "guid",
        "name",
        pl.col(metric.key).alias("value"),
        pl.all().exclude("guid", "name"),
    )


def _years(params: dict[str, Any], dates: list[date] | None) -> set[int] | None:
    """The years of serving shards a query needs: those its date parameters span (a date
    may start a session that ran into the next one, hence the day before), or every year."""
    if dates is not None:
        return {d.year for d in dates}
    lo, hi = params.get("date_from"), params.get("date_to")
    if isinstance(lo, date) and isinstance(hi, date):
        if lo <= ALL_FROM or hi >= ALL_TO or hi.year - lo.year > 50:
            return None
        return set(range(lo.year, hi.year + 1))
    day = params.get("day")
    if isinstance(day, date):
        return {day.year, _day_before(day).year}
    return None


def server_today(zone: str | None) -> date:
    """Today's date in ``zone`` (IANA; the host's own when None or unknown)."""
    return server_now(zone).date()


def _month_end(first: date) -> date:
    """The last day of ``first``'s month (without ``calendar``: 8 ms of imports)."""
    if first.year == 9999 and first.month == 12:
        return date(9999, 12, 31)
    return date(first.year + first.month // 12, first.month % 12 + 1, 1) - timedelta(days=1)


def _day_before(day: date) -> date:
    """The day before ``day`` (a session dated by its start may hold rounds after midnight);
    the calendar's first day has none (a user may type 0001-01-01)."""
    return day - timedelta(days=1) if day > date.min else day
