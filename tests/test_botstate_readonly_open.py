"""A reader opens a bot-state file of an older etl-duck that it may not, or cannot now, write.

Every query command and the site build open the bot state (``settings.stats()``, for the
team corrections). A file of stop 34's etl-duck (before c7d8e8a) lacks the ``teams_kept``
table, and older ones ``notes`` (before 6812bad): creating a table needs the write lock,
so such a file failed to open for a user who may only read it, and waited the 5 s busy
timeout, then failed, while the bot wrote. A missing table reads as empty and a missing
column as what the migration fills in; a writer still creates and migrates them, under
the write lock, and nothing is lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from etl_duck.botstate import BotState
from tests.machine import within
from tests.test_botstate_migration import (
    JOINED,
    SPLIT,
    TWO,
    A,
    B,
    X,
    Y,
    _as_nobody,
    _columns,
    _older_set_teams,
)

#: the bot state's tables as stop 34's etl-duck (c7d8e8a^) created them: no teams_kept,
#: team_overrides without origin/seq
STOP_34 = {
    "marks": "CREATE TABLE marks ( kind TEXT NOT NULL, key TEXT NOT NULL, channel_id INTEGER,"
    " message_id INTEGER, at TEXT NOT NULL, PRIMARY KEY (kind, key))",
    "team_overrides": "CREATE TABLE team_overrides ( session_id INTEGER NOT NULL,"
    " slot INTEGER NOT NULL, name TEXT, guids TEXT NOT NULL, set_by INTEGER,"
    " at TEXT NOT NULL, PRIMARY KEY (session_id, slot))",
    "meta": "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "problems": "CREATE TABLE problems ( what TEXT PRIMARY KEY, text TEXT NOT NULL,"
    " at TEXT NOT NULL)",
    "notes": "CREATE TABLE notes ( kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " at TEXT NOT NULL, PRIMARY KEY (kind, key))",
}
#: what a reader of :func:`_stop_34`'s file finds (:data:`READ`)
EXPECTED = {
    "teams": ["Axis", "Allies"],
    "kept": [],
    "revision": 3,
    "claimed": True,
    "message": [7, 8],
    "note": "3 rounds",
    "problem": "posting failed",
    "keys": [X],
    "due_joined": False,
    "due_split": False,
}
#: the reads of a query command, the site and the bot's start, as JSON
READ = (
    "import json, sys\n"
    "from etl_duck.botstate import BotState\n"
    "def read(s):\n"
    f"    t = s.teams_for({X}) or ()\n"
    "    p = s.problem('posting')\n"
    "    return {'teams': [x.name for x in t], 'kept': s.kept_teams(),\n"
    "            'revision': s.teams_revision(), 'claimed': s.claimed('scoreboard', '1'),\n"
    "            'message': list(s.message('scoreboard', '1') or ()),\n"
    f"            'note': s.note('digest', '{X}'), 'problem': p and p[0],\n"
    "            'keys': s.session_keys(('digest',)),\n"
    f"            'due_joined': s.follow_due({JOINED!r}),\n"
    f"            'due_split': s.follow_due({SPLIT!r})}}\n"
)


def read(state: BotState) -> dict[str, object]:
    """:data:`READ` in this process."""
    scope: dict[str, object] = {}
    exec(READ, scope)
    reader = scope["read"]
    assert callable(reader)
    got = reader(state)
    assert isinstance(got, dict)
    return got


def _stop_34(path: Path, *, without: tuple[str, ...] = ()) -> None:
    """A bot-state file as stop 34's etl-duck left it (WAL, closed: no -wal/-shm): a
    two-team correction for X, a settled scoreboard mark, a digest note, a problem."""
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA journal_mode=WAL")
        for name, ddl in STOP_34.items():
            if name not in without:
                con.execute(ddl)
        con.execute("INSERT INTO marks VALUES ('scoreboard', '1', 7, 8, 'x')")
        con.execute(f"INSERT INTO marks VALUES ('digest', '{X}', 7, 9, 'x')")
        con.execute("INSERT INTO meta VALUES ('teams', 3)")
        con.execute(
            "INSERT INTO problems VALUES ('posting', 'posting failed', '2025-11-01T20:00:00+00:00')"
        )
        if "notes" not in without:
            con.execute(f"INSERT INTO notes VALUES ('digest', '{X}', '3 rounds', 'x')")
    con.close()
    _older_set_teams(path, X, TWO)


def _tables(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {str(r[0]) for r in con.execute("SELECT name FROM sqlite_master")}
    finally:
        con.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _as_reader(path: Path) -> subprocess.CompletedProcess[str]:
    """:data:`READ` in a fresh process of a user who may not write ``path`` or its folder:
    ``nobody`` when the tests run as root (root writes any file), else this user."""
    code = READ + "print(json.dumps(read(BotState(sys.argv[1]))))"
    if os.geteuid() == 0:
        return _as_nobody("-c", code, str(path))
    return subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("bot_running", [False, True], ids=["bot-stopped", "bot-running"])
def test_a_user_who_may_only_read_opens_a_stop_34_file(shared_tmp: Path, bot_running: bool) -> None:
    """The file 0444 in a 0555 folder (a read-only copy or mount; the site or the CLI run
    by another user): it opened with 'attempt to write a readonly database' — creating
    teams_kept, or, with no -wal/-shm beside it (the bot stopped), any read at all. It
    reads the corrections, writes nothing, and a writer later migrates it whole."""
    folder = shared_tmp / "state"
    folder.mkdir()
    path = folder / "bot.sqlite3"
    _stop_34(path)
    bot = sqlite3.connect(path) if bot_running else None
    if bot is not None:  # -wal/-shm there (0644) while it runs
        bot.execute("SELECT count(*) FROM marks").fetchall()
    before = _digest(path)
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        done = _as_reader(path)
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)
        if bot is not None:
            bot.close()
    assert done.returncode == 0, done.stderr.splitlines()[-1:]
    assert json.loads(done.stdout) == EXPECTED
    assert _digest(path) == before and "teams_kept" not in _tables(path)
    with BotState(path) as state:  # a writer: migrates, nothing lost
        assert "teams_kept" in _tables(path) and {"origin", "seq"} <= _columns(path)
        assert read(state) == EXPECTED
        assert state.follow_sessions(JOINED) == [] and state.teams_for(X) == TWO


def test_a_reader_opens_a_stop_34_file_at_once_while_the_bot_writes(tmp_path: Path) -> None:
    """While another process holds the write lock, opening took the 5 s busy timeout and
    failed 'database is locked'. It opens at once, reads everything (no kept corrections),
    and once the write is over sees what a writer did — the writer's migration, a
    correction kept — and its own first change migrates under the lock like any write."""
    path = tmp_path / "bot.sqlite3"
    _stop_34(path)
    bot = sqlite3.connect(path, isolation_level=None)
    bot.execute("BEGIN IMMEDIATE")
    bot.execute("INSERT INTO meta VALUES ('x', 1)")
    try:
        start = time.monotonic()
        state = BotState(path)
        assert read(state) == EXPECTED
        assert within(time.monotonic() - start, 2.0, "the open")
    finally:
        bot.execute("ROLLBACK")
        bot.close()
    with state:
        assert "teams_kept" not in _tables(path)  # the reader wrote nothing
        with BotState(path) as writer:  # the bot, once its write is over
            writer.set_teams(Y, A)
            assert writer.follow_sessions(JOINED) == [("teams", Y, X)]  # X's own kept
        assert state.kept_teams() == [X] and state.teams_for(X) == A
        assert state.follow_due(SPLIT) and not state.follow_due(JOINED)
        state.set_teams(Y, B)  # its own change, into the migrated file
        assert state.follow_sessions(SPLIT) == [("teams", X, Y), ("teams", X, X)]
        assert state.teams_for(X) == TWO and state.teams_for(Y) == B
        assert state.kept_teams() == [Y]  # A, older than B, kept for Y
    with BotState(path) as state:
        assert state.claimed("scoreboard", "1") and state.note("digest", str(X)) == "3 rounds"
        assert state.teams_revision() > 3 and state.kept_teams() == [Y]


def test_a_store_opened_while_locked_writes_into_the_file_not_beside_it(
    tmp_path: Path,
) -> None:
    """The bot opening a file without ``notes`` (before 6812bad) while the CLI writes:
    the missing tables read as empty meanwhile, and its first write of a note, once the
    lock is free, creates the table in the file and lands there (another process reads
    it), with the migration of the corrections."""
    path = tmp_path / "bot.sqlite3"
    _stop_34(path, without=("notes",))
    cli = sqlite3.connect(path, isolation_level=None)
    cli.execute("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        state = BotState(path)
        assert state.note("digest", str(X)) is None and state.kept_teams() == []
        assert within(time.monotonic() - start, 2.0, "the open")
    finally:
        cli.execute("ROLLBACK")
        cli.close()
    with state:
        state.set_note("digest", str(X), "4 rounds")
        assert {"notes", "teams_kept"} <= _tables(path) and {"origin", "seq"} <= _columns(path)
    with BotState(path) as other:
        assert other.note("digest", str(X)) == "4 rounds" and other.teams_for(X) == TWO
