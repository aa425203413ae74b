"""Discord user ↔ player GUID links: small mutable bot state, kept out of the lake.

The lake is append-and-rebuild analytics data derived from ``raw/``; a link is a user's
choice that must survive a rebuild, so it lives in its own transactional store under
``data_dir/state/``. SQLite (stdlib) is used rather than DuckDB because several processes
(bot, CLI) may open it at once, and SQLite's WAL mode handles that with file locks.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from etl_duck.sqlitestore import SQLiteStore

_GUID = re.compile(r"[0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}")  # short form in stats files, full ET GUID


def links_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "state" / "links.sqlite3"


def normalise_guid(guid: str) -> str:
    g = guid.strip()
    if not _GUID.fullmatch(g):
        raise ValueError(f"{guid!r} is not a player GUID (8 or 32 hex characters)")
    return g.upper()


class LinkConflict(ValueError):
    """The GUID is another Discord account's already (an admin may share it)."""

    def __init__(self, guid: str, user_id: int) -> None:
        self.guid, self.user_id = guid, user_id
        super().__init__(f"player {guid} is linked to another Discord account")


@dataclass(frozen=True)
class Claim:
    """A link waiting for its proof: the player puts ``code`` in his in-game name for a
    round (or an admin confirms)."""

    user_id: int
    guid: str
    code: str
    created_at: datetime


class LinkStore(SQLiteStore):
    """Thread-safe store of links; each write is one transaction.

    One Discord account per GUID and one GUID per account: a link is made once ownership
    is shown (the player renamed with a code, or an admin confirmed); an admin may link a
    second account to a GUID (``shared``). A display name shown on the player's card is
    kept per account."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, (
            "CREATE TABLE IF NOT EXISTS links ("
            " user_id INTEGER PRIMARY KEY,"
            " guid TEXT NOT NULL,"
            " linked_at TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS links_guid ON links (guid)",
        ))  # fmt: skip
        with self._lock, self._con:
            columns = {r[1] for r in self._con.execute("PRAGMA table_info(links)")}
            # links made before proofs existed were the user's word: kept as they were
            for name, ddl in (("method", "TEXT NOT NULL DEFAULT 'legacy'"),
                              ("shared", "INTEGER NOT NULL DEFAULT 0"),
                              ("display_name", "TEXT")):  # fmt: skip
                if name not in columns:
                    self._con.execute(f"ALTER TABLE links ADD COLUMN {name} {ddl}")
            self._con.execute(
                "CREATE TABLE IF NOT EXISTS claims ("
                " user_id INTEGER PRIMARY KEY, guid TEXT NOT NULL, code TEXT NOT NULL,"
                " created_at TEXT NOT NULL)"
            )

    @classmethod
    def in_data_dir(cls, data_dir: Path | str) -> LinkStore:
        return cls(links_path(data_dir))

    def _holder(self, guid: str, user_id: int) -> int | None:
        row = self._con.execute(
            "SELECT user_id FROM links WHERE guid = ? AND user_id <> ? ORDER BY user_id",
            (guid, user_id),
        ).fetchone()
        return None if row is None else int(row[0])

    def link(self, user_id: int, guid: str, *, method: str = "admin", shared: bool = False) -> None:
        """Link (or re-link) a Discord user to a player GUID. Raises :class:`LinkConflict`
        when another account holds the GUID, unless ``shared`` (an admin's override)."""
        g = normalise_guid(guid)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock, self._con:
            other = self._holder(g, int(user_id))
            if other is not None and not shared:
                raise LinkConflict(g, other)
            self._con.execute(
                "INSERT INTO links (user_id, guid, linked_at, method, shared) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET guid = excluded.guid, "
                "linked_at = excluded.linked_at, method = excluded.method, "
                "shared = excluded.shared",
                (int(user_id), g, now, method, int(other is not None)),
            )
            self._con.execute("DELETE FROM claims WHERE user_id = ?", (int(user_id),))

    def claim(self, user_id: int, guid: str) -> Claim:
        """Start a link: a code for the player to show in game. Raises
        :class:`LinkConflict` if another account holds the GUID; a new claim replaces the
        user's previous one."""
        g = normalise_guid(guid)
        now = datetime.now(UTC)
        code = f"{secrets.randbelow(9000) + 1000}"
        with self._lock, self._con:
            other = self._holder(g, int(user_id))
            if other is not None:
                raise LinkConflict(g, other)
            self._con.execute(
                "INSERT INTO claims (user_id, guid, code, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET guid = excluded.guid, "
                "code = excluded.code, created_at = excluded.created_at",
                (int(user_id), g, code, now.isoformat(timespec="seconds")),
            )
        return Claim(int(user_id), g, code, now)

    def claim_for(self, user_id: int) -> Claim | None:
        with self._lock:
            row = self._con.execute(
                "SELECT guid, code, created_at FROM claims WHERE user_id = ?", (int(user_id),)
            ).fetchone()
        if row is None:
            return None
        return Claim(int(user_id), str(row[0]), str(row[1]), datetime.fromisoformat(row[2]))

    def unlink(self, user_id: int) -> bool:
        """Remove a user's link (and pending claim); False when there was none."""
        with self._lock, self._con:
            cur = self._con.execute("DELETE FROM links WHERE user_id = ?", (int(user_id),))
            claims = self._con.execute("DELETE FROM claims WHERE user_id = ?", (int(user_id),))
            return cur.rowcount > 0 or claims.rowcount > 0

    def guid_for(self, user_id: int) -> str | None:
        with self._lock:
            row = self._con.execute(
                "SELECT guid FROM links WHERE user_id = ?", (int(user_id),)
            ).fetchone()
        return None if row is None else str(row[0])

    def method_for(self, user_id: int) -> str | None:
        """How a link was proven: rename | admin | legacy (before proofs)."""
        with self._lock:
            row = self._con.execute(
                "SELECT method FROM links WHERE user_id = ?", (int(user_id),)
            ).fetchone()
        return None if row is None else str(row[0])

    def users_for(self, guid: str) -> list[int]:
        with self._lock:
            rows = self._con.execute(
                "SELECT user_id FROM links WHERE guid = ? ORDER BY user_id", (guid.upper(),)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def set_display_name(self, user_id: int, name: str | None) -> bool:
        """The name a linked user wants on his card (None: the in-game name); False if the
        user is not linked."""
        shown = (name or "").strip()[:32] or None
        with self._lock, self._con:
            cur = self._con.execute(
                "UPDATE links SET display_name = ? WHERE user_id = ?", (shown, int(user_id))
            )
            return cur.rowcount > 0

    def display_name_for(self, guid: str) -> str | None:
        with self._lock:
            row = self._con.execute(
                "SELECT display_name FROM links WHERE guid = ? AND display_name IS NOT NULL "
                "ORDER BY shared, user_id LIMIT 1",
                (guid.upper(),),
            ).fetchone()
        return None if row is None else str(row[0])

    def count(self) -> int:
        with self._lock:
            return int(self._con.execute("SELECT count(*) FROM links").fetchone()[0])
