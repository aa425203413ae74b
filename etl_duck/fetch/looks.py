"""The look (size, mtime) at which the fetch last took each remote file, kept across processes.

A remote file rewritten with other content of the same length matches a size the raw store
holds; only its new mtime tells. The look each name was fetched at (or, for a name stored
before any look was kept, first seen at) is the reference a later look is compared with:
kept here, a cron `etl-duck fetch` or a restarted `watch` or bot compares with it as a
running one does. This module is the sole owner of ``data/fetch-state/``: one SQLite file
(stdlib, WAL mode: several fetching processes may write at once), a row per (server, name),
written only for the names whose look changed (a quiet poll writes nothing). Not lake data
(a rebuild neither reads nor changes it); losing it costs the old rule for one first look,
never a file.

A second table, ``duplicates``, holds the look of each name whose content the ingest found
already held (a renamed server's or a mirror's files, stored under the server they first
came from): raw/ has no copy under this server's name to know it by, so without the row
every new process (each cron `etl-duck fetch`) downloaded it again. Written in the same
transaction as the looks; losing it costs one more download of each such file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from etl_duck.sqlitestore import SQLiteStore

FOLDER = "fetch-state"

#: how long an open, a read or a write waits for another process's lock (SQLite's busy
#: timeout; SQLiteStore waits 5 s). A holder writes a few small rows in one transaction and
#: is done within milliseconds (one fsync, even on a slow disk); one held longer (an open
#: `sqlite3` shell, a backup) is not waited out: the poll goes on without its record, says
#: so, and tries again at the next poll
BUSY_S = 0.5

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS looks ("
    " server TEXT NOT NULL, name TEXT NOT NULL,"
    " size INTEGER NOT NULL, mtime INTEGER,"
    " PRIMARY KEY (server, name)) WITHOUT ROWID",
    # the look at which a name's content was found to be a duplicate (not stored in raw/):
    # not downloaded again while the name keeps that look
    "CREATE TABLE IF NOT EXISTS duplicates ("
    " server TEXT NOT NULL, name TEXT NOT NULL,"
    " size INTEGER NOT NULL, mtime INTEGER,"
    " PRIMARY KEY (server, name)) WITHOUT ROWID",
)

Look = tuple[int, int | None]  # (size, mtime) as listed; mtime None: the server sent none


def looks_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / FOLDER / "looks.sqlite3"


class Looks(SQLiteStore):
    """Opened per use (a load, a write): a fetcher holds no connection between polls."""

    def __init__(self, data_dir: Path | str) -> None:
        super().__init__(looks_path(data_dir), _SCHEMA, busy_s=BUSY_S)

    def load(self, server: str) -> dict[str, Look]:
        with self._lock:
            rows = self._con.execute(
                "SELECT name, size, mtime FROM looks WHERE server = ?", (server,)
            ).fetchall()
        return {name: (size, mtime) for name, size, mtime in rows}

    def duplicates(self, server: str) -> dict[str, Look]:
        """The look at which each name's content was found to be a duplicate."""
        with self._lock:
            rows = self._con.execute(
                "SELECT name, size, mtime FROM duplicates WHERE server = ?", (server,)
            ).fetchall()
        return {name: (size, mtime) for name, size, mtime in rows}

    def forget_duplicates(self) -> None:
        """Forget which names were copies: after a rebuild the lake may no longer hold the
        content they copied (an admin took its server's files out of raw/), and a kept
        row would keep the copy out for good (review 131). The next fetch downloads each
        once more and finds it a copy again, or counts it."""
        with self._lock, self._con:
            self._con.execute("DELETE FROM duplicates")

    def put(
        self,
        server: str,
        looks: Mapping[str, Look],
        duplicates: Mapping[str, Look] | None = None,
    ) -> None:
        """Each name's look, and each duplicate's, in one transaction."""
        with self._lock, self._con:
            for table, rows in (("looks", looks), ("duplicates", duplicates or {})):
                self._con.executemany(
                    f"INSERT INTO {table} (server, name, size, mtime) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (server, name) DO UPDATE SET size = excluded.size,"
                    " mtime = excluded.mtime",
                    ((server, name, size, mtime) for name, (size, mtime) in rows.items()),
                )


def locked(exc: BaseException) -> bool:
    """Another process holds the record's lock past the wait (nothing wrong with the file)."""
    return getattr(exc, "sqlite_errorname", "").startswith("SQLITE_BUSY") or (
        isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc)
    )


#: the fix for a record another process holds locked (not "remove it": it is in use)
LOCKED_FIX = (
    "another process holds it locked (a `watch`, a bot or a cron `fetch` writing it, or an "
    "open `sqlite3` shell): this poll's looks are recorded at the next one; if it stays "
    "locked, stop the program that holds it"
)


def forget_duplicates(data_dir: Path | str) -> None:
    """:meth:`Looks.forget_duplicates` where there is a record (none is made)."""
    if looks_path(data_dir).is_file():
        with Looks(data_dir) as looks:
            looks.forget_duplicates()


def trouble(data_dir: Path | str) -> str | None:
    """Why the record of looks cannot be used, as `etl-duck status` says it; None when it
    reads (or there is none yet: a first fetch makes it). Read-only: nothing is created."""
    path = looks_path(data_dir)
    try:
        if not path.exists():
            return None
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            checked = con.execute("PRAGMA quick_check").fetchone()
            con.execute("SELECT count(*) FROM looks").fetchone()
        finally:
            con.close()
    except (sqlite3.Error, OSError) as exc:
        why = str(exc) or type(exc).__name__
        if locked(exc):
            return f"cannot read {path} ({why}): {LOCKED_FIX}"
    else:
        if checked is not None and checked[0] == "ok":
            return None
        why = f"integrity check: {checked[0] if checked else 'no answer'}"
    return (
        f"cannot read {path} ({why}): a file rewritten on the server at the same length may "
        "be missed by the next fetch — fix its permissions, or remove it (the fetch starts "
        "a new one; nothing else is lost)"
    )
