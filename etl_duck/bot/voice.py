"""Voice-driven sessions: cached member counts and the start/end state machine.

Pure logic with an injected clock (the cog feeds it Discord events), so the rules are
tested without Discord. The original bot recounted every voice channel on every voice
event; here a burst of events (a whole team joining) costs at most one recount per
``min_interval`` seconds.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class Change(enum.Enum):
    STARTED = "started"
    ENDED = "ended"


class CachedCount:
    """A member count recomputed at most every ``min_interval`` seconds."""

    def __init__(self, min_interval: float, clock: Callable[[], float]) -> None:
        self.min_interval = min_interval
        self.clock = clock
        self.value = 0
        self.counted_at: float | None = None
        self.dirty = True
        self.recounts = 0

    def mark_dirty(self) -> None:
        self.dirty = True

    def wait_before_recount(self) -> float:
        """Seconds until a recount is allowed (0: now)."""
        if self.counted_at is None:
            return 0.0
        return max(0.0, self.counted_at + self.min_interval - self.clock())

    def get(self, count: Callable[[], int]) -> int:
        """The cached value, recounted when dirty and the interval has passed."""
        if self.dirty and self.wait_before_recount() == 0.0:
            self.value = count()
            self.counted_at = self.clock()
            self.dirty = False
            self.recounts += 1
        return self.value


@dataclass
class SessionTracker:
    """Session starts at ≥ ``start_players``; ends after ``end_after_s`` below ``end_players``."""

    start_players: int
    end_players: int
    end_after_s: float
    active: bool = False
    started_at: float | None = None
    below_since: float | None = None
    players: int = 0
    peak: int = 0

    def resume(self, now: float) -> None:
        """A session that was on before a restart goes on (whoever is in voice now): it
        ends as any other, after ``end_after_s`` below ``end_players``."""
        self.active, self.started_at, self.below_since = True, now, None

    def update(self, players: int, now: float) -> Change | None:
        self.players = players
        if not self.active:
            if players >= self.start_players:
                self.active, self.started_at, self.below_since = True, now, None
                self.peak = players
                return Change.STARTED
            return None
        self.peak = max(self.peak, players)
        if players >= self.end_players:
            self.below_since = None  # people came back: the countdown restarts
            return None
        if self.below_since is None:
            self.below_since = now
        if now - self.below_since >= self.end_after_s:
            self.active, self.below_since = False, None
            return Change.ENDED
        return None
