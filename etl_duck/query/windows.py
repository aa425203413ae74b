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
    #: a relative window counted from the latest data, not from today (so an old lake does
    #: not look broken): said in the label
    latest_data: bool = False

    @property
    def label(self) -> str:
        if self.name == "all":
            return "all time"
        if self.name == "session":
            return f"session of {self.date_from.isoformat()}"
        d = self.date_from
        if self.name == "month":
            base = f"month {d:%Y-%m}"
        elif self.name == "season":
            base = f"season {d.year}-Q{(d.month - 1) // 3 + 1}"
        elif self.name == "week":
            year, week, _ = d.isocalendar()
            base = f"week {year}-W{week:02d}"
        else:
            base = f"{d.isoformat()} → {self.date_to.isoformat()}"
        return base + (" (latest data)" if self.latest_data else "")
