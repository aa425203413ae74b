"""The bot's own state: what it already posted or announced, the live scoreboard message of
each session, and admins' team corrections (``/set_teams``).

None of it is lake data: the lake is derived from ``raw/`` and may be rebuilt at any time,
while "this round was posted", "this record was announced" and "these are the teams" must
survive a rebuild and a restart of the bot. So it lives in its own small transactional
store under ``data_dir/state/`` — SQLite (stdlib) in WAL mode, like the link store, because
the bot and the CLI may open it at once.

"Exactly once" is kept by *claiming* a mark before the post (one INSERT in a transaction:
only one caller wins, even across processes), *settling* it with the message once the post
is through, and releasing it if the post fails. A mark claimed but never settled is a post
that a crash or a restart interrupted: the next bot sends it again with the same nonce
(``etl_duck.bot.deliver``), which Discord answers with the first message if that one did
arrive — so the post is neither lost nor repeated (within the minutes Discord keeps nonces).
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from etl_duck.domain.scoring import TeamOverride
from etl_duck.sqlitestore import SQLiteStore


def state_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "state" / "bot.sqlite3"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


#: the order :meth:`BotState._applied` reads for a correction that has none (the newest)
_NEWEST: Final = 1 << 62
#: how long an open waits for the write lock to bring an older file up to date (ms): past
#: it (another process is writing, or this user may only read) it reads the file as it is
#: (a table it lacks as empty, :class:`SQLiteStore`), and its first write brings it up to
#: date, waiting like any write
_MIGRATE_WAIT_MS: Final = 100


def _locate(spans: Iterable[tuple[int, int]]) -> tuple[set[int], Callable[[int], int | None]]:
    """The session ids of ``spans`` and ``home``: the id of the session whose span holds
    an id (an instant), None if none does (:meth:`BotState.follow_sessions`)."""
    ordered = sorted(spans)
    starts = [s for s, _ in ordered]

    def home(old: int) -> int | None:
        i = bisect.bisect_right(starts, old) - 1
        return None if i < 0 or old > ordered[i][1] else ordered[i][0]

    return set(starts), home


class BotState(SQLiteStore):
    """Thread-safe; each write is one transaction."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, (
            "CREATE TABLE IF NOT EXISTS marks ("
            " kind TEXT NOT NULL, key TEXT NOT NULL,"
            " channel_id INTEGER, message_id INTEGER, at TEXT NOT NULL,"
            " PRIMARY KEY (kind, key))",
            "CREATE TABLE IF NOT EXISTS team_overrides ("
            " session_id INTEGER NOT NULL, slot INTEGER NOT NULL,"
            " name TEXT, guids TEXT NOT NULL, set_by INTEGER, at TEXT NOT NULL,"
            " PRIMARY KEY (session_id, slot))",
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS problems ("
            " what TEXT PRIMARY KEY, text TEXT NOT NULL, at TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS notes ("
            " kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, at TEXT NOT NULL,"
            " PRIMARY KEY (kind, key))",
            # corrections that following took out of use (another won their session), under
            # the id they were set for: they apply again when that id names a session again
            "CREATE TABLE IF NOT EXISTS teams_kept ("
            " session_id INTEGER NOT NULL, seq INTEGER NOT NULL, slot INTEGER NOT NULL,"
            " name TEXT, guids TEXT NOT NULL, set_by INTEGER, at TEXT NOT NULL,"
            " PRIMARY KEY (session_id, seq, slot))",
        ), wait_ms=_MIGRATE_WAIT_MS)  # fmt: skip

    def _migrate_locked(self) -> None:
        """Bring the corrections of an older etl-duck's file up to date, in the transaction
        that creates the tables it lacks (:meth:`SQLiteStore._bring_up_to_date`): the
        columns added and the order of setting filled in wherever it is missing (a
        correction an older etl-duck wrote since: it writes none, and it is the newest).
        The columns are read again here, under the write lock: two processes opening an
        old file at once both added them."""
        columns = self._columns()
        # origin: the id a moved correction was set for (NULL: this one); seq: the
        # order of setting, kept through moves (a rowid is not: a kept row comes back
        # new)
        for column in ("origin", "seq"):
            if column in columns:
                continue
            try:
                self._con.execute(f"ALTER TABLE team_overrides ADD COLUMN {column} INTEGER")
            except sqlite3.OperationalError as exc:  # there already: nothing to add
                if "duplicate column" not in str(exc):
                    raise
        # one order for all the rows of a correction (c7d8e8a gave each row its
        # rowid): a kept correction comes back by its order, all its teams
        self._con.execute(
            "UPDATE team_overrides SET seq = (SELECT max(t.seq) FROM team_overrides t"
            " WHERE t.session_id = team_overrides.session_id) WHERE seq IS NOT NULL"
            " AND session_id IN (SELECT session_id FROM team_overrides"
            " GROUP BY session_id HAVING min(seq) < max(seq))"
        )
        self._fill_seq()

    def _columns(self) -> set[str]:
        return {str(r[1]) for r in self._con.execute("PRAGMA table_info(team_overrides)")}

    def _migrated(self) -> bool:
        """Nothing for :meth:`_migrate_locked` to do (no transaction: a read)."""
        if not {"origin", "seq"} <= self._columns():
            return False
        return (
            self._con.execute(
                "SELECT 1 FROM team_overrides GROUP BY session_id"
                " HAVING count(seq) < count(*) OR min(seq) < max(seq) LIMIT 1"
            ).fetchone()
            is None
        )

    @classmethod
    def in_data_dir(cls, data_dir: Path | str) -> BotState:
        return cls(state_path(data_dir))

    # ------------------------------------------------------------------ marks

    def claim(self, kind: str, key: str) -> bool:
        """Mark ``(kind, key)`` as done; False if it already was (by anyone, ever)."""
        return bool(self.claim_many(kind, [key]))

    def claim_many(self, kind: str, keys: Iterable[str]) -> list[str]:
        """Claim several marks in one transaction; returns those that were new, in order."""
        new: list[str] = []
        with self._writing():
            for key in dict.fromkeys(keys):
                cur = self._con.execute(
                    "INSERT OR IGNORE INTO marks (kind, key, at) VALUES (?, ?, ?)",
                    (kind, key, _now()),
                )
                if cur.rowcount:
                    new.append(key)
        return new

    def settle(self, kind: str, keys: Iterable[str], channel_id: int, message_id: int) -> None:
        """The post of claimed marks is through (message id 0: there was nothing to post)."""
        with self._writing():
            self._con.executemany(
                "UPDATE marks SET channel_id = ?, message_id = ?, at = ? WHERE kind = ? AND key = ?",
                [(int(channel_id), int(message_id), _now(), kind, k) for k in keys],
            )

    def pending(self, kind: str, within_s: float, keys: Iterable[str] | None = None) -> list[str]:
        """Marks claimed within the last ``within_s`` seconds and never settled (their post
        was interrupted), oldest first; ``keys``: only among these."""
        since = (datetime.now(UTC) - timedelta(seconds=within_s)).isoformat(timespec="seconds")
        with self._reading():
            rows = self._con.execute(
                "SELECT key FROM marks WHERE kind = ? AND message_id IS NULL AND at >= ? "
                "ORDER BY at, key",
                (kind, since),
            ).fetchall()
        found = [str(r[0]) for r in rows]
        if keys is None:
            return found
        wanted = set(keys)
        return [k for k in found if k in wanted]

    def abandoned(self, kind: str, older_than_s: float) -> list[str]:
        """Marks claimed more than ``older_than_s`` seconds ago and never settled: posts a
        restart interrupted too long ago to send again safely, oldest first."""
        since = (datetime.now(UTC) - timedelta(seconds=older_than_s)).isoformat(timespec="seconds")
        with self._reading():
            rows = self._con.execute(
                "SELECT key FROM marks WHERE kind = ? AND message_id IS NULL AND at < ? "
                "ORDER BY at, key",
                (kind, since),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def recent(self, kind: str, within_s: float) -> list[str]:
        """Marks claimed or settled within the last ``within_s`` seconds, oldest first."""
        since = (datetime.now(UTC) - timedelta(seconds=within_s)).isoformat(timespec="seconds")
        with self._reading():
            rows = self._con.execute(
                "SELECT key FROM marks WHERE kind = ? AND at >= ? ORDER BY at, key", (kind, since)
            ).fetchall()
        return [str(r[0]) for r in rows]

    def release(self, kind: str, key: str) -> None:
        """Undo a claim whose post failed (so a later attempt may post it)."""
        with self._writing():
            self._con.execute("DELETE FROM marks WHERE kind = ? AND key = ?", (kind, key))

    def claimed(self, kind: str, key: str) -> bool:
        with self._reading():
            row = self._con.execute(
                "SELECT 1 FROM marks WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return row is not None

    def unclaimed(self, kind: str, keys: Iterable[str]) -> list[str]:
        """The keys not yet marked, in order (no claim)."""
        wanted = list(dict.fromkeys(keys))
        with self._reading():
            done = {
                str(r[0])
                for r in self._con.execute("SELECT key FROM marks WHERE kind = ?", (kind,))
            } if wanted else set()  # fmt: skip
        return [k for k in wanted if k not in done]

    def keys(self, kind: str) -> list[str]:
        """Every key of a kind, oldest first."""
        with self._reading():
            rows = self._con.execute(
                "SELECT key FROM marks WHERE kind = ? ORDER BY at, key", (kind,)
            ).fetchall()
        return [str(r[0]) for r in rows]

    def set_message(self, kind: str, key: str, channel_id: int, message_id: int) -> None:
        """Remember the message that carries a mark (the scoreboard is edited later)."""
        with self._writing():
            self._con.execute(
                "INSERT INTO marks (kind, key, channel_id, message_id, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, key) DO UPDATE SET channel_id = excluded.channel_id, "
                "message_id = excluded.message_id, at = excluded.at",
                (kind, key, int(channel_id), int(message_id), _now()),
            )

    def message(self, kind: str, key: str) -> tuple[int, int] | None:
        """(channel id, message id) of a mark, if it has one."""
        with self._reading():
            row = self._con.execute(
                "SELECT channel_id, message_id FROM marks WHERE kind = ? AND key = ?",
                (kind, key),
            ).fetchone()
        if row is None or row[1] is None:
            return None
        return int(row[0]), int(row[1])

    def count(self, kind: str) -> int:
        with self._reading():
            return int(
                self._con.execute("SELECT count(*) FROM marks WHERE kind = ?", (kind,)).fetchone()[
                    0
                ]
            )

    # ------------------------------------------------------------------ notes

    def note(self, kind: str, key: str) -> str | None:
        """A short text kept about ``(kind, key)`` (what a digest covered, the voice
        session in progress), or None."""
        with self._reading():
            row = self._con.execute(
                "SELECT value FROM notes WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_note(self, kind: str, key: str, value: str) -> None:
        with self._writing():
            self._con.execute(
                "INSERT INTO notes (kind, key, value, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, at = excluded.at",
                (kind, key, value, _now()),
            )

    def drop_note(self, kind: str, key: str) -> bool:
        """Forget a note (True if there was one)."""
        with self._writing():
            cur = self._con.execute("DELETE FROM notes WHERE kind = ? AND key = ?", (kind, key))
            return cur.rowcount > 0

    # ------------------------------------------------------------------ problems

    def set_problem(self, what: str, text: str) -> None:
        """Remember the last problem of ``what`` (e.g. posting), for /status."""
        with self._writing():
            self._con.execute(
                "INSERT INTO problems (what, text, at) VALUES (?, ?, ?) "
                "ON CONFLICT (what) DO UPDATE SET text = excluded.text, at = excluded.at",
                (what, text, _now()),
            )

    def problem(self, what: str) -> tuple[str, datetime] | None:
        """(text, when) of the last problem of ``what``, until :meth:`clear_problem`."""
        with self._reading():
            row = self._con.execute(
                "SELECT text, at FROM problems WHERE what = ?", (what,)
            ).fetchone()
        return None if row is None else (str(row[0]), datetime.fromisoformat(str(row[1])))

    def clear_problem(self, what: str) -> bool:
        """The problem is over (True if there was one)."""
        with self._writing():
            cur = self._con.execute("DELETE FROM problems WHERE what = ?", (what,))
            return cur.rowcount > 0

    # ------------------------------------------------------------------ team overrides

    def set_teams(
        self, session_id: int, teams: Sequence[TeamOverride], by: int | None = None
    ) -> None:
        """Replace a session's team override (one or two teams)."""
        if not 1 <= len(teams) <= 2:
            raise ValueError("a team override names one or two teams")
        with self._writing():
            self._fill_seq()
            self._replace(session_id)
            seq = self._next_seq()
            for slot, team in enumerate(teams):
                self._con.execute(
                    "INSERT INTO team_overrides (session_id, slot, name, guids, set_by, at, seq) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (session_id, slot, team.name, json.dumps(sorted(team.guids)), by, _now(), seq),
                )
            self._bump()

    def clear_teams(self, session_id: int) -> bool:
        with self._writing():
            self._fill_seq()
            removed = self._replace(session_id)
            if removed:
                self._bump()
            return removed

    def _replace(self, session_id: int) -> bool:
        """What a /set_teams or its clear replaces (in its transaction): the session's
        correction, and what was kept for its id (older: a second set replaces the first).
        A correction set for another id and moved here is kept for that id instead: the
        user set it for that session, which may come back. True if one applied."""
        applied = self._applied().get(session_id)
        if applied is not None and applied[0] != session_id:
            self._keep(session_id)
        else:
            self._con.execute("DELETE FROM team_overrides WHERE session_id = ?", (session_id,))
        self._con.execute("DELETE FROM teams_kept WHERE session_id = ?", (session_id,))
        return applied is not None

    def teams_for(self, session_id: int) -> tuple[TeamOverride, ...] | None:
        with self._reading():
            rows = self._con.execute(
                "SELECT name, guids FROM team_overrides WHERE session_id = ? ORDER BY slot",
                (session_id,),
            ).fetchall()
        if not rows:
            return None
        return tuple(TeamOverride(r[0], frozenset(json.loads(r[1]))) for r in rows)

    def kept_teams(self) -> list[int]:
        """The ids that hold a correction following took out of use (another won their
        session), ascending: each applies again when its id names a session again."""
        with self._reading():
            rows = self._con.execute("SELECT DISTINCT session_id FROM teams_kept").fetchall()
        return sorted(int(r[0]) for r in rows)

    def session_keys(self, kinds: Sequence[str] = ()) -> list[int]:
        """The session ids that hold a team override or a mark of one of ``kinds`` (kept
        under a session id: the scoreboard, the digest), ascending."""
        with self._reading():
            rows = self._con.execute("SELECT session_id FROM team_overrides").fetchall()
            for kind in kinds:
                rows += self._con.execute(
                    "SELECT key FROM marks WHERE kind = ?", (kind,)
                ).fetchall()
        return sorted({int(r[0]) for r in rows if str(r[0]).isdigit()})

    def follow_due(self, spans: Iterable[tuple[int, int]], kinds: Sequence[str] = ()) -> bool:
        """Whether :meth:`follow_sessions` over the same ``spans`` and ``kinds`` would change
        anything, by the same rules and without writing: a correction under an id that
        names no session, inside a session's span; a correction moved in from an id the
        session no longer holds; a kept correction whose id names a session again, with no
        newer correction there; a mark whose id names no session, inside the span of a
        session without its own."""
        current, home = _locate(spans)
        with self._reading():
            applied = self._applied()
            kept = self._kept()
            marks = [self._mark_keys(kind) for kind in kinds]
        if any(sid not in current and home(sid) is not None for sid in applied):
            return True  # _follow_orphans
        if any(origin != sid and home(origin) != sid for sid, (origin, _) in applied.items()):
            return True  # _follow_split
        if any(
            x in current and (x not in applied or applied[x][1] < seq) for x, seq in kept.items()
        ):
            return True  # _follow_kept
        for keys in marks:  # _follow_marks
            held = set(keys)
            for key in keys:
                if key.isdigit() and int(key) not in current:
                    new = home(int(key))
                    if new is not None and str(new) not in held:
                        return True
        return False

    def follow_sessions(
        self, spans: Iterable[tuple[int, int]], kinds: Sequence[str] = ()
    ) -> list[tuple[str, int, int]]:
        """Move what is kept under a session id that no longer names a session — a team
        override, a mark of one of ``kinds`` and its note — to the session that now holds
        that instant; returns the moves as (``"teams"`` or the kind, old id, new id).

        ``spans``: every session's (id, its end as an id: YYYYMMDDHHMMSS + its server's
        offset). An id is its first round's start, so a late round before that round, or
        one that joins two sessions, gives the session an earlier id; the old id is still
        the start of one of its rounds, inside its span (a server's ids never overlap
        another's). What no session holds stays where it is (its rounds may come back).
        Two overrides on one session: the later set wins, as a second /set_teams replaces
        the first, and the other is kept for the id it was set for (:meth:`kept_teams`),
        never deleted: when that id names a session again (the joining round went, the
        sessions split), it applies there again — a move (id, id) — and a correction moved
        in from an id that names a session again goes back there (a move to that id).
        Running it again moves nothing. A mark the session has already (its own
        scoreboard) stays, the old one is left alone."""
        current, home = _locate(spans)
        with self._writing():
            self._fill_seq()
            before = self._con.total_changes
            moves = self._follow_orphans(current, home)
            moves += self._follow_split(home)
            moves += self._follow_kept(current)
            if self._con.total_changes != before:  # a correction kept is no move, a change
                self._bump()
            for kind in kinds:
                moves += self._follow_marks(kind, current, home)
        return moves

    def _follow_orphans(
        self, current: set[int], home: Callable[[int], int | None]
    ) -> list[tuple[str, int, int]]:
        """Corrections under an id that names no session go to the session holding it."""
        moves: list[tuple[str, int, int]] = []
        for old in sorted(s for s in self._applied() if s not in current):
            if (new := home(old)) is not None:
                self._place(old, new)
                moves.append(("teams", old, new))
        return moves

    def _follow_split(self, home: Callable[[int], int | None]) -> list[tuple[str, int, int]]:
        """A correction moved in from an id its session no longer holds (the sessions split
        again) goes to the session holding that id now, or is kept for it."""
        moves: list[tuple[str, int, int]] = []
        for sid in sorted(self._applied()):
            got = self._applied().get(sid)
            if got is None or got[0] == sid or (target := home(got[0])) == sid:
                continue
            if target is None:  # its rounds are gone: kept for when they come back (no move)
                self._keep(sid)
            else:
                self._place(sid, target)
                moves.append(("teams", sid, target))
        return moves

    def _follow_kept(self, current: set[int]) -> list[tuple[str, int, int]]:
        """A kept correction whose id names a session again applies there again, unless a
        newer one does."""
        moves: list[tuple[str, int, int]] = []
        for x, seq in sorted(self._kept().items()):
            got = self._applied().get(x)
            if x not in current or (got is not None and got[1] >= seq):
                continue
            if got is not None:
                self._keep(x)
            self._con.execute(
                "INSERT INTO team_overrides (session_id, slot, name, guids, set_by, at, seq) "
                "SELECT session_id, slot, name, guids, set_by, at, seq FROM teams_kept "
                "WHERE session_id = ? AND seq = ?",
                (x, seq),
            )
            self._con.execute("DELETE FROM teams_kept WHERE session_id = ? AND seq = ?", (x, seq))
            moves.append(("teams", x, x))
        return moves

    def _applied(self) -> dict[int, tuple[int, int]]:
        """Each correction in force: session id -> (the id it was set for, its order). One
        without an order (an older etl-duck wrote it since this store filled them in,
        :meth:`_fill_seq`) is the newest. A reader of a file an open could not bring up to
        date (:meth:`_migrate_locked`) may find a column missing: none of its rows has one."""
        origin, seq = "origin", "seq"
        if not self._current:
            columns = self._columns()
            origin = origin if origin in columns else "NULL"
            seq = seq if seq in columns else "NULL"
        rows = self._con.execute(
            f"SELECT session_id, max(coalesce({origin}, session_id)), max(coalesce({seq}, ?)) "
            "FROM team_overrides GROUP BY session_id",
            (_NEWEST,),
        ).fetchall()
        return {int(r[0]): (int(r[1]), int(r[2])) for r in rows}

    def _fill_seq(self) -> None:
        """Give the corrections an older etl-duck wrote (no ``seq``) their order of setting,
        after every other, in the order they were written (one order per correction); in
        the caller's transaction, which it writes to only if there is one."""
        rows = self._con.execute(
            "SELECT session_id FROM team_overrides WHERE seq IS NULL"
            " GROUP BY session_id ORDER BY min(rowid)"
        ).fetchall()
        if rows:
            top = self._next_seq()
            self._con.executemany(
                "UPDATE team_overrides SET seq = ? WHERE session_id = ?",
                [(top + i, int(r[0])) for i, r in enumerate(rows)],
            )

    def _kept(self) -> dict[int, int]:
        """The newest kept correction of each id: id -> its order."""
        rows = self._con.execute(
            "SELECT session_id, max(seq) FROM teams_kept GROUP BY session_id"
        ).fetchall()
        return {int(r[0]): int(r[1]) for r in rows}

    def _next_seq(self) -> int:
        row = self._con.execute(
            "SELECT max(coalesce((SELECT max(seq) FROM team_overrides), 0),"
            " coalesce((SELECT max(seq) FROM teams_kept), 0))"
        ).fetchone()
        return int(row[0]) + 1

    def _place(self, old: int, new: int) -> None:
        """Move the correction under ``old`` to session ``new``: the later set wins there,
        the other is kept for the id it was set for."""
        applied = self._applied()
        theirs = applied.get(new)
        if theirs is not None and theirs[1] > applied[old][1]:  # the session's own is newer
            self._keep(old)
            return
        if theirs is not None:
            self._keep(new)
        self._con.execute(
            "UPDATE team_overrides SET origin = nullif(coalesce(origin, session_id), ?),"
            " session_id = ? WHERE session_id = ?",
            (new, new, old),
        )

    def _keep(self, session_id: int) -> None:
        """Take a session's correction out of use, kept under the id it was set for."""
        self._con.execute(
            "INSERT OR IGNORE INTO teams_kept (session_id, seq, slot, name, guids, set_by, at) "
            "SELECT coalesce(origin, session_id), seq, slot, name, guids, set_by, at "
            "FROM team_overrides WHERE session_id = ?",
            (session_id,),
        )
        self._con.execute("DELETE FROM team_overrides WHERE session_id = ?", (session_id,))

    def _follow_marks(
        self, kind: str, current: set[int], home: Callable[[int], int | None]
    ) -> list[tuple[str, int, int]]:
        """:meth:`follow_sessions` for the marks (and notes) of one kind; in its transaction."""
        keys = self._mark_keys(kind)
        held = set(keys)
        moves: list[tuple[str, int, int]] = []
        for key in sorted(k for k in keys if k.isdigit() and int(k) not in current):
            new = home(int(key))
            if new is None or str(new) in held:
                continue
            moved = (str(new), kind, key)
            self._con.execute("UPDATE marks SET key = ? WHERE kind = ? AND key = ?", moved)
            self._con.execute(
                "UPDATE OR REPLACE notes SET key = ? WHERE kind = ? AND key = ?", moved
            )
            held.add(str(new))
            moves.append((kind, int(key), new))
        return moves

    def _mark_keys(self, kind: str) -> list[str]:
        rows = self._con.execute("SELECT key FROM marks WHERE kind = ?", (kind,)).fetchall()
        return [str(r[0]) for r in rows]

    def teams_revision(self) -> int:
        """Moves on with every change of any override (the session cache key carries it)."""
        with self._reading():
            row = self._con.execute("SELECT value FROM meta WHERE key = 'teams'").fetchone()
        return 0 if row is None else int(row[0])

    def _bump(self) -> None:
        self._con.execute(
            "INSERT INTO meta (key, value) VALUES ('teams', 1) "
            "ON CONFLICT (key) DO UPDATE SET value = value + 1"
        )
