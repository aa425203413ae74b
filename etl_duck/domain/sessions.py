"""Gaming sessions: rounds separated by gaps of at most N minutes (STATS_FORMAT.md §8).

The gap is measured between consecutive file times (round ends), on the server's clock
made absolute when its time zone is given (the hour the clock jumps forward is missing
from the names: 01:58 and 03:08 can be 10 minutes apart). A session's id and date
come from its first round's START (end − duration − 3 s), so a session crossing midnight
stays whole and one that begins at 23:55 is dated by that day. Sessions are per game
server: rounds of two servers never share one (:mod:`etl_duck.domain.sources`).

What users see of a session (its start, end, length and the order of its rounds) comes
from :func:`session_clock`: real across a clock change, shown on the server's wall clock.
A :class:`Session`'s own times are the names' bounds (the ingest finds its endstats files
by them), and its id and date stay the names' (stored and referenced).
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

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
    #: the names' bounds: the earliest start and the latest name (not the real first and
    #: last round across a clock change: :func:`session_clock`)
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


class ServerClock:
    """The game server's wall clock (its file names) against the absolute clock, in its
    zone (IANA). Without a zone, or with one it does not know, the names are the clock."""

    def __init__(self, timezone: str | None) -> None:
        self.zone: tzinfo | None = None
        if timezone:
            from zoneinfo import ZoneInfo

            try:
                self.zone = ZoneInfo(timezone)
            except (ValueError, OSError, KeyError):  # checked by the settings; never fail on it
                self.zone = None

    def readings(self, t: datetime) -> tuple[datetime, ...]:
        """The instants (UTC) the name ``t`` can be: both passes of the repeated autumn
        hour, in order, else one. A name the spring jump skipped (a wrong zone: no server
        writes one, :meth:`skipped`) reads as the jump's instant, so names keep their order
        and removing a round never brings its neighbours closer (the incremental regroup
        relies on that)."""
        if self.zone is None:
            return (t,)
        first, second = (t.replace(tzinfo=self.zone, fold=f).astimezone(UTC) for f in (0, 1))
        if first == second:
            return (first,)
        if first > second:  # skipped: the jump lies between the two readings
            return (self._jump(second, first),)
        return (first, second)

    def skipped(self, t: datetime) -> bool:
        """The name ``t`` lies in the hour the zone's clock jumps over: no server on this
        zone's clock writes it, so the server's clock is another."""
        if self.zone is None:
            return False
        first, second = (t.replace(tzinfo=self.zone, fold=f).astimezone(UTC) for f in (0, 1))
        return first > second

    def wall(self, instant: datetime) -> datetime:
        """The server's wall-clock name of an instant (naive, like the file names)."""
        if self.zone is None:
            return instant
        return instant.astimezone(self.zone).replace(tzinfo=None, fold=0)

    def gap(self, a: datetime, b: datetime) -> timedelta:
        """How long after the round named ``a`` the round named ``b`` ended: of the
        readings of both, the smallest gap that is not negative (a real evening's), else
        the least negative."""
        if self.zone is None:
            return b - a
        options = [y - x for x in self.readings(a) for y in self.readings(b)]
        ahead = [d for d in options if d >= timedelta(0)]
        return min(ahead) if ahead else max(options)

    def steady(self, a: datetime, b: datetime) -> bool:
        """No clock change touches the names from ``a`` to ``b`` (neither is in a repeated
        or skipped hour, and both have one offset): their differences are real durations."""
        zone = self.zone
        if zone is None:
            return True
        first, last = a.date(), b.date()
        days = (first + timedelta(days=i) for i in range((last - first).days + 1))
        if not any(d in _change_days(zone, d.year) for d in days):
            return True
        offsets = {zone.utcoffset(t.replace(fold=f)) for t in (a, b) for f in (0, 1)}
        return len(offsets) == 1

    def change_days(self, first_year: int, last_year: int) -> frozenset[date]:
        """The days (wall clock) from ``first_year`` to ``last_year`` a name of which may be
        off the real clock: each day the zone's offset changes, and the days either side
        (a change at midnight). Empty without a zone."""
        if self.zone is None:
            return frozenset()
        days = (_change_days(self.zone, y) for y in range(first_year, last_year + 1))
        return frozenset().union(*days)

    def _jump(self, before: datetime, after: datetime) -> datetime:
        """The instant the zone's offset changes between two UTC times: a whole second, as
        a zone's changes are (halving the interval itself left a fraction of a second)."""
        offset = before.astimezone(self.zone).utcoffset()
        old, new = math.floor(before.timestamp()), math.ceil(after.timestamp())
        while new - old > 1:  # the old offset at ``old``, the new one at ``new``
            mid = (old + new) // 2
            if datetime.fromtimestamp(mid, self.zone).utcoffset() == offset:
                old = mid
            else:
                new = mid
        return datetime.fromtimestamp(new, UTC)


@functools.lru_cache(maxsize=512)
def _change_days(zone: tzinfo, year: int) -> frozenset[date]:
    """:meth:`ServerClock.change_days` of one year (a few hundred offsets, once)."""
    out: set[date] = set()
    day = datetime(year, 1, 1) - timedelta(days=1)
    offset = zone.utcoffset(day)
    while day.year <= year:
        later = day + timedelta(days=1)
        if (after := zone.utcoffset(later)) != offset:
            out.update(day.date() + timedelta(days=d) for d in (-1, 0, 1, 2))
        day, offset = later, after
    return frozenset(out)


def clock_gap(timezone: str | None) -> Callable[[datetime, datetime], timedelta]:
    """``gap(a, b)``: how long after the round named ``a`` the round named ``b`` ended.
    Names are the server's wall clock; with its zone, a name in the hour the clock jumps
    forward or in the repeated autumn hour may be read either way, and the gap is the
    smallest that is not negative (a real evening's), else the least negative
    (:meth:`ServerClock.gap`)."""
    if not timezone:
        return lambda a, b: b - a
    return ServerClock(timezone).gap


@dataclass(frozen=True, slots=True)
class SessionClock:
    """A session on the absolute clock: what users see of it. Times are the server's wall
    clock (as its file names); the order and the length are real."""

    rounds: tuple[str, ...]  # file names, in the order they were played
    start: datetime  # its first played round's start
    end: datetime  # its last played round's end
    duration: timedelta
    began: datetime  # ``start``'s instant (UTC; without a zone, the name itself): to sort by


def session_clock(
    rounds: Sequence[RoundTime],
    timezone: str | None,
    round1_of: Mapping[str, str] | None = None,
) -> SessionClock:
    """The order, start, end and length of a session's ``rounds`` on the absolute clock of
    the server's zone. Timed by its rounds with players if any (as :func:`_session`).

    Across the spring jump every name has one reading and differences of names are off by
    the hour. In the repeated autumn hour a name has two: the reading is the one of a real
    evening (:func:`_played_ends`). ``round1_of`` (round 2 → its round 1, as paired): a
    round 2 was played after its round 1. Where no clock change touches the session, this
    is the names' own order and differences (nothing changes without a zone), and so it is
    where a name lies in the hour the zone's clock skips: the server's clock is another.

    Read once a process (:func:`_real_clock`): the listing after each commit reads every
    history session a change touches again, and those rounds do not change."""
    clock = ServerClock(timezone)
    lo = min(r.start_time for r in rounds)
    hi = max(r.end_time for r in rounds)
    if clock.steady(lo, hi) or any(clock.skipped(r.end_time) for r in rounds):
        return _names_clock(rounds, clock)
    names = {r.name for r in rounds}
    pairs = sorted((r2, r1) for r2, r1 in (round1_of or {}).items() if {r2, r1} <= names)
    key = lambda r: (r.name, r.end_time, r.start_time, r.players)  # noqa: E731
    return _real_clock(timezone, tuple(sorted(rounds, key=key)), tuple(pairs))


def _names_clock(rounds: Sequence[RoundTime], clock: ServerClock) -> SessionClock:
    """:func:`session_clock` where the names are the clock: their order and differences."""
    timed = [r for r in rounds if r.players] or list(rounds)
    start = min(r.start_time for r in timed)
    end = max(r.end_time for r in timed)
    names = tuple(r.name for r in sorted(rounds, key=lambda r: (r.end_time, r.name)))
    return SessionClock(names, start, end, end - start, clock.readings(start)[0])


@functools.lru_cache(maxsize=512)
def _real_clock(
    timezone: str | None, rounds: tuple[RoundTime, ...], pairs: tuple[tuple[str, str], ...]
) -> SessionClock:
    """:func:`session_clock` of a session a clock change touches, by what alone decides it:
    its rounds (names, times, played or not, sorted by name), its pairs (round 2, round 1)
    and the zone. A few hundred such sessions at most (two nights a year, each server)."""
    timed = [r for r in rounds if r.players] or list(rounds)
    clock = ServerClock(timezone)
    ends = _played_ends(rounds, clock, dict(pairs))
    starts = {r.name: ends[r.name] - (r.end_time - r.start_time) for r in rounds}
    first = min(starts[r.name] for r in timed)
    last = max(ends[r.name] for r in timed)
    names = tuple(sorted(ends, key=lambda n: (ends[n], n)))
    return SessionClock(names, clock.wall(first), clock.wall(last), last - first, first)


def _played_ends(
    rounds: Sequence[RoundTime], clock: ServerClock, round1_of: Mapping[str, str]
) -> dict[str, datetime]:
    """Each round's end instant. A name in the repeated autumn hour is read both ways (as
    ``clock_gap`` reads it), and of every way to read the session's names, the one of a
    real evening is taken (:func:`_cost`): a server plays one round at a time, a round 2
    ends after its round 1 within the pairing's window; then the shortest evening, then
    the one with the shortest longest break. With more than :data:`_EVERY_READING` such
    names, the evening is read round after round by ``clock_gap``'s rule (:func:`_evening`)
    from each possible first round, the best few put right by :func:`_settle`."""
    readings = {r.name: clock.readings(r.end_time) for r in rounds}
    if all(len(v) == 1 for v in readings.values()):
        return {n: v[0] for n, v in readings.items()}
    # seconds since the epoch: (start, end) of each reading
    spans = {
        r.name: tuple(
            (e.timestamp() - (r.end_time - r.start_time).total_seconds(), e.timestamp())
            for e in readings[r.name]
        )
        for r in rounds
    }
    after = {r2: r1 for r2, r1 in round1_of.items() if r2 in spans and r1 in spans}
    two = sorted(n for n, v in spans.items() if len(v) > 1)
    if len(two) <= _EVERY_READING:  # an hour's rounds: every reading of them, the best
        chosen = _every_reading(two, spans, after)
        return {n: readings[n][i] for n, i in chosen.items()}
    seeds = [(n, i) for n, v in spans.items() if len(v) > 1 for i in range(len(v))]
    fixed = [n for n, v in spans.items() if len(v) == 1]
    if fixed:  # the one reading of a name that may be first: the earliest start
        seeds.append((min(fixed, key=lambda n: (spans[n][0][0], n)), 0))
    evenings = [_evening(seed, spans, after) for seed in sorted(seeds) if seed[0] not in after]
    evenings = evenings or [_evening(min(seeds), spans, {})]
    best = sorted(evenings, key=lambda c: _cost(c, spans, after))[:_SETTLED]
    best = [c for k, c in enumerate(best) if c not in best[:k]]  # seeds often meet: once each
    chosen = min((_settle(c, spans, after) for c in best), key=lambda c: _cost(c, spans, after))
    return {n: readings[n][i] for n, i in chosen.items()}


#: how long after its round 1 a round 2 may end, beyond its own length (the pairing's
#: window, ``pairing.PAIR_SLACK``, which imports this module)
_PAIR_SLACK_S = 15 * 60
#: up to this many names read two ways, every reading is weighed (4,096 evenings); more
#: (an idle server's rounds every few minutes) are read round after round
_EVERY_READING = 12
#: the best first readings put right by :func:`_settle` (each costs ~k² evenings)
_SETTLED = 4


def _every_reading(
    two: Sequence[str],
    spans: Mapping[str, tuple[tuple[float, float], ...]],
    after: Mapping[str, str],
) -> dict[str, int]:
    """Of every reading of the names ``two`` (the others have one; first pass before
    second, ``two[0]`` the slowest to turn), the first of the least :func:`_cost`. The
    readings are weighed name after name, and a branch is left once the rounds read so far
    cost more than the best evening found (their overlap, then length: neither falls as
    rounds are added), so an hour's rounds weigh a few hundred readings, not 2^k."""
    best: tuple[tuple[float, float, float], dict[str, int]] | None = None
    branches = [({n: 0 for n, v in spans.items() if len(v) == 1}, 0)]
    while branches:
        chosen, depth = branches.pop()
        if depth == len(two):
            cost = _cost(chosen, spans, after)
            if best is None or cost < best[0]:  # strictly: the first of the least stays
                best = (cost, chosen)
            continue
        if best is not None and chosen:
            known = {r2: r1 for r2, r1 in after.items() if r2 in chosen and r1 in chosen}
            if _cost(chosen, spans, known)[:2] > best[0][:2]:
                continue
        # the second pass pushed first: the first pass is weighed first
        branches.extend(({**chosen, two[depth]: i}, depth + 1) for i in (1, 0))
    assert best is not None  # at least one leaf: the first branch is never left
    return best[1]


def _cost(
    chosen: Mapping[str, int],
    spans: Mapping[str, tuple[tuple[float, float], ...]],
    after: Mapping[str, str],
) -> tuple[float, float, float]:
    """(seconds the evening's rounds overlap, plus those by which a round 2 ends before its
    round 1 or after the pairing's window; its length; its longest break between rounds)
    of one reading of every name: the least is the real evening's."""
    read = sorted([spans[n][i] for n, i in chosen.items()])
    overlap = longest = 0.0
    first, at, last = read[0][0], read[0][0], read[0][1]
    for s, e in read:  # comparisons, not max(): this runs for every reading weighed
        if at > s:
            overlap += at - s
        elif s - at > longest:
            longest = s - at
        if e > at:
            at = e
        if e > last:
            last = e
    for r2, r1 in after.items():  # a round 2 ends after its round 1, within its window
        (s2, e2), e1 = spans[r2][chosen[r2]], spans[r1][chosen[r1]][1]
        overlap += max(0.0, e1 - e2) + max(0.0, e2 - e1 - (e2 - s2) - _PAIR_SLACK_S)
    return overlap, last - first, longest


def _settle(
    chosen: dict[str, int],
    spans: Mapping[str, tuple[tuple[float, float], ...]],
    after: Mapping[str, str],
) -> dict[str, int]:
    """``chosen`` with one or two names read the other way while that lowers its cost. A
    flip whose round read the other way overlaps another round by more than ``chosen``'s
    rounds overlap in all cannot lower it, and is not weighed (most are not: the other
    reading of a round lands on the rounds played an hour before or after it)."""
    two = sorted(n for n, v in spans.items() if len(v) > 1)
    flips = [(a,) for a in two] + [(a, b) for k, a in enumerate(two) for b in two[k + 1 :]]
    best = _cost(chosen, spans, after)
    clash = _clashes(chosen, spans, two)
    better = True
    while better:
        better = False
        for names in flips:
            if _least_overlap(names, chosen, spans, clash) > best[0]:
                continue
            trial = {**chosen, **{n: 1 - chosen[n] for n in names}}
            if (cost := _cost(trial, spans, after)) < best:
                chosen, best, better = trial, cost, True
                clash = _clashes(chosen, spans, two)
    return chosen


def _clashes(
    chosen: Mapping[str, int], spans: Mapping[str, tuple[tuple[float, float], ...]], two: list[str]
) -> dict[str, tuple[dict[str, float], list[tuple[float, str]]]]:
    """For each name of ``two`` read the other way, what :func:`_cost` would count as overlap
    against the other rounds as ``chosen`` reads them: for each round after it (by start),
    the seconds that round begins before it ends (each such round counts at least that),
    and its own two greatest overlaps with a round before it (it counts at least the
    greatest), (seconds, name)."""
    out: dict[str, tuple[dict[str, float], list[tuple[float, str]]]] = {}
    for a in two:
        other = spans[a][1 - chosen[a]]
        later: dict[str, float] = {}
        earlier: list[tuple[float, str]] = []
        for n, i in chosen.items():
            if n == a:
                continue
            span = spans[n][i]
            if other <= span and other[1] > span[0]:
                later[n] = other[1] - span[0]
            elif span < other and span[1] > other[0]:
                earlier.append((span[1] - other[0], n))
        out[a] = (later, sorted(earlier, reverse=True)[:2])
    return out


def _least_overlap(
    names: tuple[str, ...],
    chosen: Mapping[str, int],
    spans: Mapping[str, tuple[tuple[float, float], ...]],
    clash: Mapping[str, tuple[dict[str, float], list[tuple[float, str]]]],
) -> float:
    """A floor of what :func:`_cost` counts as overlap once ``names`` (one or two) are read
    the other way (:func:`_clashes`; seconds are exact in a float, so are their sums)."""
    floors = []
    for a in names:
        later, earlier = clash[a]
        own = next((v for v, n in earlier if n not in names), 0.0)
        floors.append(sum(v for n, v in later.items() if n not in names) + own)
    if len(names) == 2:
        (_, e1), (s2, _) = sorted(spans[n][1 - chosen[n]] for n in names)
        floors.append(max(0.0, e1 - s2))
    return max(floors)


def _evening(
    seed: tuple[str, int],
    spans: Mapping[str, tuple[tuple[float, float], ...]],
    after: Mapping[str, str],
) -> dict[str, int]:
    """The evening that begins with reading ``seed``: each round's reading (an index into
    its readings), round after round by ``clock_gap``'s rule (:func:`_played_ends`)."""
    name, i = seed
    chosen = {name: i}
    at = spans[name][i][1]
    left = sorted(set(spans) - {name})
    while left:
        ready = [n for n in left if after.get(n) is None or after[n] in chosen] or left
        _, _, n, j = min(
            (s - at, e, n, j) if s >= at else (float("inf"), at - s, n, j)
            for n in ready
            for j, (s, e) in enumerate(spans[n])
        )
        chosen[n] = j
        left.remove(n)
        at = max(at, spans[n][j][1])
    return chosen


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
