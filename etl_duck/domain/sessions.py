"""Gaming sessions: rounds separated by gaps of at most N minutes (STATS_FORMAT.md §8).

The gap is measured between consecutive file times (round ends). A session's id and date
come from its first round's START (end − duration − 3 s), so a session crossing midnight
stays whole and one that begins at 23:55 is dated by that day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

WRITE_DELAY = timedelta(seconds=3)  # the writer saves ~3 s after intermission (§1.2)


@dataclass(frozen=True, slots=True)
class RoundTime:
    name: str  # file name: the round's identity
    end_time: datetime
    start_time: datetime


@dataclass(frozen=True, slots=True)
class Session:
    session_id: int  # YYYYMMDDHHMMSS of the first round's start: deterministic, sortable
    session_date: date
    start_time: datetime
    end_time: datetime
    rounds: tuple[str, ...]  # file names, in time order


def round_start(end_time: datetime, duration_s: float | None, time_limit_s: int | None) -> datetime:
    """Best estimate of a round's start from its end, duration or (unknown) time limit."""
    seconds = duration_s if duration_s is not None else float(time_limit_s or 0)
    return end_time - WRITE_DELAY - timedelta(seconds=seconds)


def session_id_of(start: datetime) -> int:
    return int(start.strftime("%Y%m%d%H%M%S"))


def group_sessions(rounds: Iterable[RoundTime], gap_minutes: int = 60) -> list[Session]:
    """Split rounds into sessions by the gap rule; deterministic for any input order."""
    ordered: Sequence[RoundTime] = sorted(rounds, key=lambda r: (r.end_time, r.name))
    gap = timedelta(minutes=gap_minutes)
    sessions: list[Session] = []
    current: list[RoundTime] = []

    def close() -> None:
        first_start = min(r.start_time for r in current)
        sessions.append(
            Session(
                session_id=session_id_of(first_start),
                session_date=first_start.date(),
                start_time=first_start,
                end_time=current[-1].end_time,
                rounds=tuple(r.name for r in current),
            )
        )

    for r in ordered:
        if current and r.end_time - current[-1].end_time > gap:
            close()
            current = []
        current.append(r)
    if current:
        close()
    return sessions
