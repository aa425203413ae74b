"""Time windows of leaderboards: all time, season, month, week, the last session, a range.
Relative windows count from the latest session date in the lake."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

ALL_FROM, ALL_TO = date(1970, 1, 1), date(9999, 12, 31)
WINDOWS = ("all", "season", "month", "week", "session")


@dataclass(frozen=True)
class Window:
    name: str
    date_from: date
    date_to: date
    session_id: int | None = None

    @property
    def label(self) -> str:
        if self.name == "all":
            return "all time"
        if self.name == "session":
            return f"session of {self.date_from.isoformat()}"
        return f"{self.name} {self.date_from.isoformat()} → {self.date_to.isoformat()}"
