"""Discord user ↔ player GUID links: small mutable bot state, kept out of the lake.

The lake is append-and-rebuild analytics data derived from ``raw/``; a link is a user's
choice that must survive a rebuild, so it lives in its own transactional store under
``data_dir/state/``. SQLite (stdlib) is used rather than DuckDB because several processes
(bot, CLI) may open it at once, and SQLite's WAL mode handles that with file locks.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

_GUID = re.compile(r"[0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}")  # short form in stats files, full ET GUID


def links_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "state" / "links.sqlite3"


def normalise_guid(guid: str) -> str:
    g = guid.strip()
    if not _GUID.fullmatch(g):
        raise ValueError(f"{guid!r} is not a player GUID (8 or 32 hex characters)")
    return g.upper()


class LinkStore:
    """Thread-safe store of links; each write is one transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # one connection shared by threads, serialised by the lock (sqlite objects are not
        # safe to use concurrently, but may move between threads)
        self._con = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0)
        with self._lock, self._con:
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute(
                "CREATE TABLE IF NOT EXISTS links ("
                " user_id INTEGER PRIMARY KEY,"
                " guid TEXT NOT NULL,"
                " linked_at TEXT NOT NULL)"
            )
            self._con.execute("CREATE INDEX IF NOT EXISTS links_guid ON links (guid)")

    @classmethod
    def in_data_dir(cls, data_dir: Path | str) -> LinkStore:
        return cls(links_path(data_dir))

    def link(self, user_id: int, guid: str) -> None:
        """Link (or re-link) a Discord user to a player GUID."""
        g = normalise_guid(guid)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock, self._con:
            self._con.execute(
                "INSERT INTO links (user_id, guid, linked_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET guid = excluded.guid, "
                "linked_at = excluded.linked_at",
                (int(user_id), g, now),
            )

    def unlink(self, user_id: int) -> bool:
        """Remove a user's link; False when there was none."""
        with self._lock, self._con:
            cur = self._con.execute("DELETE FROM links WHERE user_id = ?", (int(user_id),))
            return cur.rowcount > 0

    def guid_for(self, user_id: int) -> str | None:
        with self._lock:
            row = self._con.execute(
                "SELECT guid FROM links WHERE user_id = ?", (int(user_id),)
            ).fetchone()
        return None if row is None else str(row[0])

    def users_for(self, guid: str) -> list[int]:
        with self._lock:
            rows = self._con.execute(
                "SELECT user_id FROM links WHERE guid = ? ORDER BY user_id", (guid.upper(),)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._con.execute("SELECT count(*) FROM links").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> LinkStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
