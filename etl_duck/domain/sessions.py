"""Gaming sessions: rounds separated by gaps of at most N minutes (STATS_FORMAT.md §8).

The gap is measured between consecutive file times (round ends), on the server's clock
made absolute when its time zone is given (the hour the clock jumps forward is missing
from the names: 01:58 and 03:08 can be 10 minutes apart). A session's id and date
come from its first round's START (end − duration − 3 s), so a session crossing midnight
stays whole and one that begins at 23:55 is dated by that day. Sessions are per game
server: rounds of two servers never share one (:mod:`etl_duck.domain.sources`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from etl_duck.domain.sources import SESSION_SPAN, server_of, session_offset

WRITE_DELAY = timedelta(seconds=3)  # the writer saves ~3 s after intermission (§1.2)


@dataclass(frozen=True, slots=True)
class RoundTime:
    name: str  # file name: the round's identity
    end_time: datetime
    start_time: datetime
    #: False for a round that was no game — header only (nobody played) or players on one
    #: side only (``parse.two_sided``): it never links two rounds into one session, nor
    #: starts or ends one that has rounds with players (see ``_group``)
    players: bool = True


@dataclass(frozen=True, slots=True)
class Session:
    session_id: int  # YYYYMMDDHHMMSS of the first round's start: deterministic, sortable
    session_date: date
    start_time: datetime
    end_time: datetime
    rounds: tuple[str, ...]  # file names, in time order
    server: str = ""  # "" = the main server


def round_start(end_time: datetime, duration_s: float | None, time_limit_s: int | None) -> datetime:
    """Best estimate of a round's start from its end, duration or (unknown) time limit."""
    seconds = duration_s if duration_s is not None else float(time_limit_s or 0)
    return end_time - WRITE_DELAY - timedelta(seconds=seconds)


def session_id_of(start: datetime, server: str = "") -> int:
    """YYYYMMDDHHMMSS of the first round's start (+ the server's offset, for servers other
    than the main one)."""
    return int(start.strftime("%Y%m%d%H%M%S")) + session_offset(server)


def session_date_of(session_id: int) -> date:
    """The date a session id names (whatever its server). ValueError if it names none."""
    digits = str(session_id % SESSION_SPAN).zfill(14)
    return datetime.strptime(digits[:8], "%Y%m%d").date()


def group_sessions(
    rounds: Iterable[RoundTime], gap_minutes: int = 60, timezone: str | None = None
) -> list[Session]:
    """Split rounds into sessions by the gap rule, each game server on its own;
    deterministic for any input order. ``timezone``: the server's (IANA); gaps are then
    real durations across a clock change, not differences of wall-clock names."""
    by_server: dict[str, list[RoundTime]] = {}
    for r in rounds:
        by_server.setdefault(server_of(r.name), []).append(r)
    sessions: list[Session] = []
    for server in sorted(by_server):
        sessions.extend(_group(by_server[server], gap_minutes, server, clock_gap(timezone)))
    return sorted(sessions, key=lambda s: (s.start_time, s.server))


def server_now(zone: str | None, utc: datetime | None = None) -> datetime:
    """Now (or the instant ``utc``, aware) on the wall clock of ``zone`` (IANA), naive like
    the file names' times: the game server's clock, which names its rounds and dates its
    sessions. The host's own wall clock when no zone, or one it does not know, is given."""
    from datetime import UTC

    instant = utc or datetime.now(UTC)
    if zone:
        from zoneinfo import ZoneInfo

        try:
            return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        except (ValueError, OSError, KeyError):  # KeyError: ZoneInfoNotFoundError
            pass
    return instant.astimezone().replace(tzinfo=None)


def clock_gap(timezone: str | None) -> Callable[[datetime, datetime], timedelta]:
    """``gap(a, b)``: how long after the round named ``a`` the round named ``b`` ended.
    Names are the server's wall clock; with its zone, a name in the hour the clock jumps
    forward or in the repeated autumn hour may be read either way, and the gap is the
    smallest that is not negative (a real evening's), else the least negative."""
    if not timezone:
        return lambda a, b: b - a
    from zoneinfo import ZoneInfo

    try:
        zone = ZoneInfo(timezone)
    except (ValueError, OSError, KeyError):  # checked by the settings; never fail on it
        return lambda a, b: b - a
    utc = ZoneInfo("UTC")

    def readings(t: datetime) -> set[datetime]:
        # both passes of the repeated autumn hour. A name the spring jump skipped (a wrong
        # zone: no server writes one) reads as the jump's instant, so names keep their
        # order and removing a round never brings its neighbours closer (the incremental
        # regroup relies on that)
        first, second = (t.replace(tzinfo=zone, fold=f).astimezone(utc) for f in (0, 1))
        if first == second:
            return {first}
        if first > second:  # skipped: the jump lies between the two readings
            return {jump(second, first)}
        return {first, second}

    def jump(before: datetime, after: datetime) -> datetime:
        """The instant the zone's offset changes between two UTC times (to the second)."""
        offset = before.astimezone(zone).utcoffset()
        while after - before > timedelta(seconds=1):
            mid = before + (after - before) / 2
            if mid.astimezone(zone).utcoffset() == offset:
                before = mid
            else:
                after = mid
        return after

    def gap(a: datetime, b: datetime) -> timedelta:
        options = [y - x for x in readings(a) for y in readings(b)]
        ahead = [d for d in options if d >= timedelta(0)]
        return min(ahead) if ahead else max(options)

    return gap


def _group(
    rounds: list[RoundTime],
    gap_minutes: int,
    server: str,
    clock: Callable[[datetime, datetime], timedelta],
) -> list[Session]:
    """Rounds with players chain by the gap rule. A round that was no game (a header-only
    one: an idle server's map timing out, one every few minutes all day; or one with
    players on one side only) joins the session of the round with players before it within
    the gap, else of the one after it within the gap (its round 2 may follow), else it is a
    session of its own: idle hours never join two evenings into one, and an evening's date,
    start and end are its played rounds'."""
    key = lambda r: (r.end_time, r.name)  # noqa: E731
    gap = timedelta(minutes=gap_minutes)
    played = sorted((r for r in rounds if r.players), key=key)
    groups: list[list[RoundTime]] = []
    for r in played:
        if not groups or clock(groups[-1][-1].end_time, r.end_time) > gap:
            groups.append([])
        groups[-1].append(r)
    idle_alone: list[RoundTime] = []
    ends = [r.end_time for r in played]
    group_of = [i for i, g in enumerate(groups) for _ in g]  # played round → its group
    for r in (r for r in rounds if not r.players):
        at = bisect.bisect_right(ends, r.end_time)  # played rounds before r: [:at]
        if at and clock(played[at - 1].end_time, r.end_time) <= gap:
            groups[group_of[at - 1]].append(r)
        elif at < len(played) and clock(r.end_time, played[at].end_time) <= gap:
            groups[group_of[at]].append(r)
        else:
            idle_alone.append(r)
    sessions = [_session(sorted(g, key=key), server) for g in groups]
    sessions.extend(_session([r], server) for r in idle_alone)
    return sorted(sessions, key=lambda s: (s.start_time, s.rounds))


def _session(rounds: list[RoundTime], server: str) -> Session:
    """A session of ``rounds`` (in time order), timed by its rounds with players if any."""
    timed = [r for r in rounds if r.players] or rounds
    first_start = min(r.start_time for r in timed)
    return Session(
        session_id=session_id_of(first_start, server),
        session_date=first_start.date(),
        start_time=first_start,
        end_time=timed[-1].end_time,
        rounds=tuple(r.name for r in rounds),
        server=server,
    )
