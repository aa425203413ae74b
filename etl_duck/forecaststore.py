"""The bot's own voice-channel forecasts: what it posted, and whether it came true.

Mutable bot state, not lake data (like :mod:`etl_duck.links`): a forecast is a post the
bot made at a moment, resolved later against the first map that the posted teams played.
Kept in SQLite beside the links (WAL; bot and CLI may both open it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from etl_duck.sqlitestore import SQLiteStore


def forecasts_path(state_dir: Path | str) -> Path:
    return Path(state_dir) / "forecasts.sqlite3"


@dataclass(frozen=True)
class Forecast:
    id: int
    team_a: tuple[str, ...]  # GUIDs
    team_b: tuple[str, ...]
    p_a: float
    after_end: str | None  # ISO end of the last rated map when posted: only later maps count
    status: str  # open | resolved | superseded
    match_id: int | None
    outcome: float | None  # for team A: 1 won, 0.5 tie, 0 lost


class ForecastStore(SQLiteStore):
    """Thread-safe; each write is one transaction."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, (
            "CREATE TABLE IF NOT EXISTS forecasts ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " posted_at TEXT NOT NULL,"
            " team_a TEXT NOT NULL, team_b TEXT NOT NULL,"
            " p_a REAL NOT NULL,"
            " after_end TEXT,"
            " status TEXT NOT NULL DEFAULT 'open',"
            " match_id INTEGER, outcome REAL, resolved_at TEXT)",
        ))  # fmt: skip

    def add(
        self, team_a: tuple[str, ...], team_b: tuple[str, ...], p_a: float, after_end: str | None
    ) -> int:
        """Record a posted forecast; earlier open ones are superseded (teams changed before
        a map was played: only the split that played is scored)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock, self._con:
            self._con.execute("UPDATE forecasts SET status = 'superseded' WHERE status = 'open'")
            cur = self._con.execute(
                "INSERT INTO forecasts (posted_at, team_a, team_b, p_a, after_end)"
                " VALUES (?, ?, ?, ?, ?)",
                (now, ",".join(team_a), ",".join(team_b), float(p_a), after_end),
            )
            return int(cur.lastrowid or 0)

    def resolve(self, forecast_id: int, match_id: int, outcome: float) -> bool:
        """Mark an open forecast resolved; False if it was not open (already handled)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock, self._con:
            cur = self._con.execute(
                "UPDATE forecasts SET status = 'resolved', match_id = ?, outcome = ?,"
                " resolved_at = ? WHERE id = ? AND status = 'open'",
                (int(match_id), float(outcome), now, int(forecast_id)),
            )
            return cur.rowcount > 0

    def open(self) -> list[Forecast]:
        return self._select("WHERE status = 'open' ORDER BY id")

    def last(self) -> Forecast | None:
        got = self._select("ORDER BY id DESC LIMIT 1")
        return got[0] if got else None

    def resolved(self) -> list[Forecast]:
        return self._select("WHERE status = 'resolved' ORDER BY id")

    def brier(self) -> tuple[float | None, int]:
        """The bot's running Brier score over its resolved forecasts, and how many."""
        done = self.resolved()
        if not done:
            return None, 0
        total = sum((f.p_a - (f.outcome or 0.0)) ** 2 for f in done)
        return total / len(done), len(done)

    def _select(self, tail: str) -> list[Forecast]:
        with self._lock:
            rows = self._con.execute(
                "SELECT id, team_a, team_b, p_a, after_end, status, match_id, outcome"
                f" FROM forecasts {tail}"  # tails are constants of this class
            ).fetchall()
        return [
            Forecast(
                int(r[0]),
                tuple(r[1].split(",")),
                tuple(r[2].split(",")),
                float(r[3]),
                r[4],
                str(r[5]),
                r[6],
                r[7],
            )
            for r in rows
        ]
