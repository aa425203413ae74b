"""The small transactional stores beside the lake (links, the bot's state, forecasts).

Not lake data: each holds choices and marks that must survive a rebuild. SQLite (stdlib)
in WAL mode, because the bot and the CLI may open a store at once; one connection shared
by threads and serialised by a lock (sqlite objects may move between threads, not be used
by two at once); each write is one transaction.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

#: the statements a schema is made of (the name: what tells whether it is there yet)
_DDL = re.compile(r"\s*CREATE\s+(TABLE|INDEX)\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.IGNORECASE)


def cannot_write(exc: sqlite3.OperationalError) -> bool:
    """The write lock is held past the wait, or this user may only read the file."""
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_READONLY"))


class SQLiteStore:
    """Opens ``path`` (its folder made), sets WAL and creates what ``schema`` (CREATE TABLE
    or INDEX … IF NOT EXISTS statements) names and the file lacks, in one transaction
    under the write lock, together with a subclass's :meth:`_migrate_locked`.

    ``wait_ms`` (a store readers open, e.g. for a query command or the site): how long an
    open waits for that write lock; past it — another process writes, or this user may
    only read the file — it reads the file as it is: each table it lacks as an empty TEMP
    table of the same name (found before ``main``'s, dropped once the file has its own),
    and every write (:meth:`_writing`) first brings the file up to date with the usual
    wait. Where SQLite cannot read the file at all (a WAL file with no -wal/-shm beside it,
    in a folder this user may not write: a read-only copy, or the bot stopped), it reads
    a copy of it taken at open, brought up to date in memory, and refuses every write.
    None: the open waits as long as any write, and fails like one.

    ``busy_s``: how long any open, read or write waits for another process's lock
    (SQLite's busy timeout)."""

    def __init__(
        self,
        path: Path | str,
        schema: Sequence[str],
        *,
        wait_ms: int | None = None,
        busy_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._schema: list[tuple[str, str, str]] = []
        for ddl in schema:
            m = _DDL.match(ddl)
            if m is None:
                raise ValueError(f"not a CREATE TABLE/INDEX IF NOT EXISTS statement: {ddl!r}")
            self._schema.append((m[1].upper(), m[2], ddl))
        self._lock = threading.Lock()
        #: the file has every table and column (no TEMP table stands in for one)
        self._current = False
        #: the tables the file lacks that an empty TEMP table stands in for
        self._shadows: set[str] = set()
        self._con = sqlite3.connect(self.path, check_same_thread=False, timeout=busy_s)
        try:
            with self._lock:
                self._open(wait_ms)
        except BaseException:
            self._con.close()
            raise

    def _open(self, wait_ms: int | None) -> None:
        usual = int(self._con.execute("PRAGMA busy_timeout").fetchone()[0])
        if wait_ms is not None:
            self._con.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
        try:
            try:
                self._con.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                # a WAL file stays one; a file of another mode is read as it is
                if wait_ms is None or not (self._read_a_copy(exc) or cannot_write(exc)):
                    raise
            try:
                self._bring_up_to_date()
            except sqlite3.OperationalError as exc:
                if wait_ms is None or not cannot_write(exc):
                    raise
                self._shadow_missing()
        finally:
            self._con.execute(f"PRAGMA busy_timeout = {usual}")

    def _read_a_copy(self, exc: sqlite3.OperationalError) -> bool:
        """SQLite reads a WAL file only with its -shm, which it cannot make in a folder
        this user may not write: with no -wal there no process has the file open, so the
        file is all there is — read into memory (``immutable``: it takes no lock and makes
        no file), the schema brought up to date there, and no write let through (one would
        be lost). False: not that case."""
        if getattr(exc, "sqlite_errorname", "") != "SQLITE_READONLY_DIRECTORY":
            return False
        if Path(f"{self.path}-wal").exists() or not self.path.is_file():
            return False
        source = sqlite3.connect(f"{self.path.resolve().as_uri()}?immutable=1", uri=True)
        copy = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            source.backup(copy)
        except BaseException:
            copy.close()
            raise
        finally:
            source.close()
        self._con.close()
        self._con = copy
        self._bring_up_to_date()
        self._con.execute("PRAGMA query_only = ON")
        return True

    def _missing(self) -> list[str]:
        """The tables and indexes of the schema the file lacks (its own, not TEMP)."""
        there = {str(r[0]) for r in self._con.execute("SELECT name FROM main.sqlite_master")}
        return [name for _, name, _ in self._schema if name not in there]

    def _migrated(self) -> bool:
        """Nothing for :meth:`_migrate_locked` to do (a read, no lock): for a subclass."""
        return True

    def _migrate_locked(self) -> None:
        """A subclass's migration, in :meth:`_bring_up_to_date`'s transaction."""

    def _bring_up_to_date(self) -> None:
        """Create what the file lacks and migrate it, in one transaction under the write
        lock (under ``self._lock``; waiting the connection's busy timeout). Read first
        without a lock (the usual case: nothing to do); Python's sqlite3 opens no
        transaction for DDL, and a crash between two statements, or two processes at
        once, must not leave a half-made file."""
        missing, migrated = self._missing(), self._migrated()  # both: a look outside the lock
        if not missing and migrated:
            self._unshadow()
            self._current = True
            return
        with self._con:
            self._con.execute("BEGIN IMMEDIATE")
            # in the transaction: a failure leaves the stand-ins, for the reads after
            for name in sorted(self._shadows):
                self._con.execute(f"DROP TABLE temp.{name}")
            for _, _, ddl in self._schema:
                self._con.execute(ddl)
            self._migrate_locked()
        self._shadows.clear()
        self._current = True

    def _shadow_missing(self) -> None:
        """An empty TEMP table for each table the file lacks: it reads as empty, as the
        file will once a writer creates it (TEMP is this connection's own, in memory)."""
        self._con.execute("PRAGMA temp_store = MEMORY")
        missing = set(self._missing())
        for kind, name, ddl in self._schema:
            if kind == "TABLE" and name in missing:
                self._con.execute(_DDL.sub(f"CREATE TEMP TABLE {name}", ddl, count=1))
                self._shadows.add(name)

    def _unshadow(self) -> None:
        """Drop the stand-ins for the tables another process has since created."""
        if self._shadows:
            for name in sorted(self._shadows.difference(self._missing())):
                self._con.execute(f"DROP TABLE temp.{name}")
                self._shadows.discard(name)

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads (under the lock)."""
        with self._lock:
            self._unshadow()
            yield self._con

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The connection, for one write transaction: the file brought up to date first
        (the open may have read it as it was), waiting for the lock like any write."""
        with self._lock:
            if not self._current:
                self._bring_up_to_date()
            with self._con:
                yield self._con

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
