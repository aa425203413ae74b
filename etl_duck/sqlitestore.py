"""The small transactional stores beside the lake (links, the bot's state, forecasts).

Not lake data: each holds choices and marks that must survive a rebuild. SQLite (stdlib)
in WAL mode, because the bot and the CLI may open a store at once; one connection shared
by threads and serialised by a lock (sqlite objects may move between threads, not be used
by two at once); each write is one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self


class SQLiteStore:
    """Opens ``path`` (its folder made), sets WAL and runs ``schema`` (CREATE … IF NOT
    EXISTS statements) in one transaction."""

    def __init__(self, path: Path | str, schema: Sequence[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0)
        with self._lock, self._con:
            self._con.execute("PRAGMA journal_mode=WAL")
            for ddl in schema:
                self._con.execute(ddl)

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
