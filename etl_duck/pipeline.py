"""The ingest step the fetcher calls, with commit listeners for the bot.

The fetcher hands each downloaded batch to ``Ingestor(paths)`` in a worker thread. After
the commit, listeners (round posts, cache warming) are scheduled on the bot's event loop,
so a commit made by ``/sync`` and one made by the background watch behave the same.

A CLI writer (``ingest``, ``rebuild``, ``resolve``, ``fetch``, ``watch``) also moves the
``/set_teams`` corrections to the session that now holds them after its commit
(:func:`follow_teams`): an install without a running bot showed the uncorrected teams once
a late round gave a corrected session an earlier id. The bot follows them itself, with its
scoreboard and digest marks (its Scoring cog), over the same :func:`session_spans`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl_duck.ingest.options import IngestOptions, IngestReport

if TYPE_CHECKING:
    import polars as pl

    from etl_duck.botstate import BotState
    from etl_duck.query.stats import Stats
    from etl_duck.settings import Settings

log = logging.getLogger(__name__)

Listener = Callable[[IngestReport], Coroutine[Any, Any, None]]
#: the query API over the lake just committed, given the open bot state as its team
#: corrections (``Settings.stats``: the sessions the bot sees, one state connection)
StatsFor = Callable[["BotState"], "Stats"]
#: what following moved: (``"teams"`` or a mark's kind, old id, new id)
Moves = list[tuple[str, int, int]]


def session_spans(table: pl.DataFrame) -> list[tuple[int, int]]:
    """Each session of ``Stats.sessions()`` as (its id, its end as an id), what
    ``BotState.follow_due`` and ``follow_sessions`` take (a few ms for thousands of
    sessions). One function for the bot and the CLI: both must place a correction alike."""
    from etl_duck.domain.sessions import session_id_of

    return [
        (int(sid), session_id_of(end, str(server)))
        for sid, end, server in table.select("session_id", "end_time", "server").iter_rows()
    ]


#: a late round moves the id of a session on its own date or one beside it (a session
#: across midnight started the day before); two days leave room for a server's clock
NEAR_DAYS = 2


def _near(names: Sequence[str], ids: Sequence[int]) -> bool:
    """Whether a round named in ``names`` (a commit's) is dated within :data:`NEAR_DAYS`
    of a session id in ``ids`` (the corrections'): only then can the commit have moved a
    corrected session's id. A name without a date: yes (follow, to be safe)."""
    from etl_duck.domain.sessions import session_date_of

    held = {session_date_of(i) for i in ids}
    for name in names:
        try:
            day = date.fromisoformat(Path(name).name[:10])
        except ValueError:
            return True
        if any(abs((day - d).days) <= NEAR_DAYS for d in held):
            return True
    return False


#: a follow that failed (the state file locked or not writable) leaves this file in the data
#: directory (writable: the commit went through), so the next writer of any process does
#: the whole follow whatever its rounds' dates, until one goes through (review 131)
FOLLOW_PENDING = ".follow-pending"


def follow_pending(data_dir: Path) -> str | None:
    """What the :data:`FOLLOW_PENDING` marker holds (each failure writes its own words), or
    None when no failed follow is pending. Read before a whole follow begins and handed to
    :func:`follow_done` after it: a failure in between (another process's) is kept."""
    try:
        return (Path(data_dir) / FOLLOW_PENDING).read_text(errors="replace")
    except FileNotFoundError:
        return None
    except OSError:  # there, but not readable: pending all the same
        return ""


def follow_failed(data_dir: Path) -> None:
    """Remember a follow that failed (its commit stands): the marker, written anew with
    words of its own, so that a whole follow begun before it does not remove it."""
    with contextlib.suppress(OSError):
        (Path(data_dir) / FOLLOW_PENDING).write_text(
            f"{os.getpid()} {time.time_ns()}\n", encoding="ascii"
        )


def follow_done(data_dir: Path, seen: str | None) -> None:
    """A whole follow went through (every correction checked, any move written): remove
    the marker ``seen`` before it began (:func:`follow_pending`), unless a follow failed
    since (the marker holds other words now) — the bot's follow and the CLI's alike."""
    if seen is None or follow_pending(data_dir) != seen:
        return
    with contextlib.suppress(OSError):
        (Path(data_dir) / FOLLOW_PENDING).unlink(missing_ok=True)


def follow_teams(data_dir: Path, stats: StatsFor, report: IngestReport | None = None) -> Moves:
    """:func:`_follow_teams`, and a failure remembered (:data:`FOLLOW_PENDING`) until a
    whole follow goes through."""
    pending = follow_pending(data_dir)
    try:
        moves = _follow_teams(Path(data_dir), stats, None if pending is not None else report)
    except Exception:
        follow_failed(data_dir)
        raise
    follow_done(data_dir, pending)
    return moves


def _follow_teams(data_dir: Path, stats: StatsFor, report: IngestReport | None = None) -> Moves:
    """After a commit by a process that is not the bot: move the ``/set_teams``
    corrections whose session a late round gave another id to the session that holds
    them now (``BotState.follow_sessions`` with no mark kinds: the bot moves its own marks
    when it runs, by the same rules). No bot-state file: nothing (none is made). No
    correction, or none to move: reads only (``follow_due``), writes nothing.

    ``report``: the commit's; one that brought rounds dated nowhere near a correction's
    session (tonight's round, corrections of past evenings) cannot have moved it: nothing
    is read (the session list costs ~0.1 s a process). A rebuild, a change of settings or
    no commit at all (``etl-duck ingest`` with no files, run to retry): the whole follow.

    Raises what the state store or the query raise (``sqlite3.Error`` when the file
    cannot be written: another user's, read-only, locked past the wait): the caller's
    commit stands, and it says so."""
    from etl_duck.botstate import BotState, state_path
    from etl_duck.query.stats import NoData

    path = state_path(data_dir)
    if not path.is_file():
        return []
    with BotState(path) as state:
        ids = [*state.session_keys(), *state.kept_teams()]
        if not ids:
            return []  # the usual case: no correction, no lake read
        if report is not None and report.committed and not report.rebuilt:
            brought = [*report.arrived, *report.ingested, *report.replaced]
            if not report.settings_changed and not _near(brought, ids):
                return []  # rounds of other evenings: no corrected session moved
        try:
            table = stats(state).sessions()
        except NoData:  # no session (yet): nothing to follow
            return []
        spans = session_spans(table)
        if not state.follow_due(spans):
            return []  # everything is where it belongs
        moves = state.follow_sessions(spans)
    log_moves(moves)
    return moves


def log_moves(moves: Moves) -> None:
    """What following moved, one log line each (the bot's and the CLI's follow)."""
    for what, old, new in moves:
        if old == new:
            log.info("session %s is back: the teams set for it apply again", old)
        else:
            log.info("session %s is %s now: its %s moved with it", old, new, what)


class Ingestor:
    """``ingest_paths`` for one data directory, notifying listeners after each commit.

    ``follow``: the CLI's (``fetch``, ``watch``): after each ingest, before the listeners
    (a site rebuilt on commit shows the corrected teams), :func:`follow_teams` over the
    query API it makes; what stopped the last one is :attr:`follow_failure` (the commit
    stands). The bot's has none: its Scoring cog follows, with its marks."""

    def __init__(
        self,
        data_dir: Path | str,
        options: IngestOptions | None = None,
        *,
        follow: StatsFor | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.options = options or IngestOptions()
        self.follow = follow
        #: why the last ingest's :func:`follow_teams` failed; None once one went through
        self.follow_failure: Exception | None = None
        self._listeners: list[tuple[asyncio.AbstractEventLoop, Listener]] = []
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, follow: bool = False) -> Ingestor:
        """``follow``: a CLI writer's, which moves the team corrections after each commit."""
        return cls(
            settings.data_dir, settings.ingest_options(), follow=settings.stats if follow else None
        )

    def for_server(self, server: str) -> Callable[[list[Path]], IngestReport]:
        """This ingest for the files of one game server (what its Fetcher is given)."""
        return functools.partial(self, server=server)

    def subscribe(self, loop: asyncio.AbstractEventLoop, listener: Listener) -> None:
        with self._lock:
            self._listeners.append((loop, listener))

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = [(lp, fn) for lp, fn in self._listeners if fn != listener]

    def __call__(self, paths: Sequence[Path], server: str = "") -> IngestReport:
        """Ingest one batch of ``server``'s files (blocking: call it from a worker thread)."""
        from etl_duck.ingest.run import ingest_paths  # PyArrow loads with the first batch

        report = ingest_paths(self.data_dir, list(paths), self.options, server=server)
        log.info("ingest: %s", report.summary())
        if report.settings_changed:  # another process's settings, derived back: say so
            from etl_duck.ingest.derived import rederived_note

            log.warning("ingest: %s", rederived_note(report.settings_changed))
        if self.follow is not None:
            self.follow_failure = None
            try:
                follow_teams(self.data_dir, self.follow, report)
            except Exception as exc:  # the commit stands: never fail the ingest for it
                self.follow_failure = exc
                log.warning("ingest: the team corrections were not moved: %s", exc)
        self.notify(report)
        return report

    def notify(self, report: IngestReport) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for loop, listener in listeners:
            if loop.is_closed():
                continue
            fut = asyncio.run_coroutine_threadsafe(listener(report), loop)
            with self._lock:
                self._pending.add(fut)
            fut.add_done_callback(self._done)

    def _done(self, fut: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._pending.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:
            log.error("a commit listener failed", exc_info=fut.exception())

    async def wait_idle(self) -> None:
        """Wait until every listener scheduled so far has finished (tests, shutdown)."""
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            await asyncio.gather(*(asyncio.wrap_future(f) for f in pending), return_exceptions=True)
