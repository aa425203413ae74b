"""A bot state file of an older etl-duck opens, whatever happened to it.

Team corrections carry ``origin`` and ``seq`` (the order of setting) since c7d8e8a; a file
from before gets them when it opens. An older etl-duck (rolled back to, or a CLI of an
older install) writing /set_teams into a migrated file writes no ``seq``; a crash in the
middle of the migration, or two processes opening an old file at once, must leave a file
that opens and works.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest

import etl_duck
from etl_duck.botstate import BotState
from etl_duck.domain.scoring import TeamOverride
from tests.machine import within

A = (TeamOverride("A", frozenset({"G1"})),)
B = (TeamOverride("B", frozenset({"G2"})),)
C = (TeamOverride("C", frozenset({"G3"})),)
TWO = (TeamOverride("Axis", frozenset({"G1"})), TeamOverride("Allies", frozenset({"G2"})))
X, Y = 20251101200000, 20251101220000
SPLIT = [(X, 20251101210000), (Y, 20251101230000)]
JOINED = [(X, 20251101230000)]
#: team_overrides as etl-duck wrote it before c7d8e8a (no origin, no seq)
OLD_SCHEMA = (
    "CREATE TABLE team_overrides (session_id INTEGER NOT NULL, slot INTEGER NOT NULL,"
    " name TEXT, guids TEXT NOT NULL, set_by INTEGER, at TEXT NOT NULL,"
    " PRIMARY KEY (session_id, slot))"
)


def _old_store(path: Path, corrections: dict[int, tuple[TeamOverride, ...]]) -> None:
    """A state file of an etl-duck from before c7d8e8a, corrections set in this order."""
    with sqlite3.connect(path) as con:
        con.execute(OLD_SCHEMA)
    con.close()
    for sid, teams in corrections.items():
        _older_set_teams(path, sid, teams)


def _older_set_teams(path: Path, sid: int, teams: tuple[TeamOverride, ...]) -> None:
    """/set_teams of an etl-duck from before c7d8e8a (9d931bc's ``BotState.set_teams``):
    it knows neither column, so its rows have none."""
    with sqlite3.connect(path) as con:
        con.execute("DELETE FROM team_overrides WHERE session_id = ?", (sid,))
        for slot, team in enumerate(teams):
            con.execute(
                "INSERT INTO team_overrides (session_id, slot, name, guids, set_by, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (sid, slot, team.name, json.dumps(sorted(team.guids)), None, "x"),
            )
    con.close()


def _columns(path: Path) -> set[str]:
    with sqlite3.connect(path) as con:
        cols = {str(r[1]) for r in con.execute("PRAGMA table_info(team_overrides)")}
    con.close()
    return cols


def test_a_correction_an_older_etl_duck_set_in_a_migrated_file_is_the_newest(
    tmp_path: Path,
) -> None:
    """Upgraded, rolled back for a /set_teams, upgraded again: the store opens, follows and
    takes corrections (the older one's rows have no ``seq``: int(None) broke every follow
    and /set_teams), and the older one's correction is the latest set, as it was."""
    path = tmp_path / "bot.sqlite3"
    with BotState(path) as state:
        state.set_teams(X, A)
        state.set_teams(Y, B)
        assert state.follow_sessions(JOINED) == [("teams", Y, X)]  # X's own kept
    _older_set_teams(path, X, C)
    with BotState(path) as state:
        assert state.follow_sessions(JOINED) == [] and state.teams_for(X) == C
        assert not state.follow_due(JOINED)
        state.set_teams(Y, B)
        assert state.teams_for(Y) == B and state.teams_for(X) == C


def test_a_correction_an_older_etl_duck_sets_while_the_store_is_open_is_the_newest(
    tmp_path: Path,
) -> None:
    """The same while the bot runs (its store open): read before anything fills it in, a
    correction without an order is the newest — the one kept for its id stays kept."""
    path = tmp_path / "bot.sqlite3"
    with BotState(path) as state:
        state.set_teams(X, A)
        state.set_teams(Y, B)
        assert state.follow_sessions(JOINED) == [("teams", Y, X)]
        _older_set_teams(path, X, C)
        assert state.teams_for(X) == C
        assert not state.follow_due(SPLIT)  # before the follow fills the order in
        assert state.follow_sessions(SPLIT) == [] and state.teams_for(X) == C
        state.set_teams(Y, B)
        assert state.teams_for(X) == C and state.teams_for(Y) == B


def test_a_crash_in_the_middle_of_the_migration_undoes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between adding ``seq`` and filling it: nothing of the migration stays (it was
    one transaction; Python's sqlite3 ran the ALTERs on their own, leaving ``seq`` NULL for
    good), and the next open migrates the file whole."""
    path = tmp_path / "bot.sqlite3"
    _old_store(path, {X: A})

    class Killed(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql.startswith("UPDATE team_overrides SET seq"):
                raise KeyboardInterrupt  # the process dies here
            return super().execute(sql, *args)

    real = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real(*a, factory=Killed, **k))
    with pytest.raises(KeyboardInterrupt):
        BotState(path)
    monkeypatch.setattr(sqlite3, "connect", real)
    assert not {"origin", "seq"} & _columns(path)
    with BotState(path) as state:
        state.set_teams(Y, B)
        assert state.teams_for(X) == A and state.teams_for(Y) == B
        assert state.follow_sessions(JOINED) == [("teams", Y, X)]  # Y's set later: it wins


def test_a_file_a_crash_left_half_migrated_opens(tmp_path: Path) -> None:
    """The columns there and ``seq`` NULL (c7d8e8a's migration killed between its ALTERs
    and its UPDATE): filled in on open, in the order of setting."""
    path = tmp_path / "bot.sqlite3"
    _old_store(path, {X: A, Y: B})
    with sqlite3.connect(path) as con:
        con.execute("ALTER TABLE team_overrides ADD COLUMN origin INTEGER")
        con.execute("ALTER TABLE team_overrides ADD COLUMN seq INTEGER")
    con.close()
    with BotState(path) as state:
        assert state.follow_sessions(JOINED) == [("teams", Y, X)]
        assert state.teams_for(X) == B and state.kept_teams() == [X]


@pytest.mark.parametrize("read", [1, 2])
def test_two_processes_opening_an_old_file_at_once_both_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: int
) -> None:
    """Bot and CLI (settings.stats() opens the store) start together after an upgrade: the
    other opens the file right after this one's ``read``-th look at its columns (the first
    outside the write lock, the second under it); both open, the columns added once
    (the second ALTER failed with 'duplicate column name: origin')."""
    path = tmp_path / "bot.sqlite3"
    _old_store(path, {X: A})
    reads: list[str] = []
    waiting = threading.Event()  # the other one waits for the write lock
    errors: list[BaseException] = []
    others: list[BotState] = []
    threads: list[threading.Thread] = []
    main = threading.current_thread()

    def other_opens() -> None:
        try:
            others.append(BotState(path))
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    class Racing(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if threading.current_thread() is not main:
                if sql.startswith("BEGIN"):
                    waiting.set()
                return super().execute(sql, *args)
            cur = super().execute(sql, *args)
            if sql.startswith("PRAGMA table_info(team_overrides)"):
                reads.append(sql)
                if len(reads) == read:
                    rows = cur.fetchall()
                    other = threading.Thread(target=other_opens)
                    threads.append(other)
                    other.start()  # it opens now, and migrates if it can
                    while other.is_alive() and not waiting.wait(0.01):
                        pass
                    return cast(sqlite3.Cursor, iter(rows))
            return cur

    real = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real(*a, factory=Racing, **k))
    with BotState(path) as state:
        assert state.teams_for(X) == A
    for thread in threads:
        thread.join(10)
    assert threads and not errors, errors
    others[0].close()
    monkeypatch.setattr(sqlite3, "connect", real)
    assert {"origin", "seq"} <= _columns(path)
    with BotState(path) as state:
        state.set_teams(Y, B)
        assert state.follow_sessions(JOINED) == [("teams", Y, X)]


@pytest.mark.parametrize("migrated", [False, True], ids=["old", "migrated-by-c7d8e8a"])
def test_a_two_team_correction_from_an_old_file_comes_back_whole(
    tmp_path: Path, migrated: bool
) -> None:
    """Both teams of a correction share its order: kept when a late round joined its
    session to a later-corrected one, both come back when they split (c7d8e8a's migration
    gave each row its rowid, and the team with the lower one stayed kept for good)."""
    path = tmp_path / "bot.sqlite3"
    _old_store(path, {X: TWO, Y: A})
    if migrated:  # as c7d8e8a's migration left it
        with sqlite3.connect(path) as con:
            con.execute("ALTER TABLE team_overrides ADD COLUMN origin INTEGER")
            con.execute("ALTER TABLE team_overrides ADD COLUMN seq INTEGER")
            con.execute("UPDATE team_overrides SET seq = rowid")
        con.close()
    with BotState(path) as state:
        assert state.follow_sessions(JOINED) == [("teams", Y, X)]
        assert state.teams_for(X) == A and state.kept_teams() == [X]
        assert state.follow_sessions(SPLIT) == [("teams", X, Y), ("teams", X, X)]
        assert state.teams_for(X) == TWO and state.teams_for(Y) == A
        assert state.kept_teams() == []


# ------------------------------------------------ a reader of a file it cannot migrate now


def _unmigrated(path: Path, c7d8e8a: bool) -> None:
    """A state file that needs migrating, every other table there: the corrections with
    no ``origin``/``seq`` (before c7d8e8a), or as c7d8e8a's migration left a two-team one
    (an order per row)."""
    _old_store(path, {X: TWO})
    fresh = path.with_name("fresh.sqlite3")
    BotState(fresh).close()
    with sqlite3.connect(fresh) as src, sqlite3.connect(path) as con:
        con.execute("PRAGMA journal_mode=WAL")
        for (sql,) in src.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name != 'team_overrides'"
        ):
            con.execute(sql)
        if c7d8e8a:
            con.execute("ALTER TABLE team_overrides ADD COLUMN origin INTEGER")
            con.execute("ALTER TABLE team_overrides ADD COLUMN seq INTEGER")
            con.execute("UPDATE team_overrides SET seq = rowid")
    src.close()
    con.close()


@pytest.mark.parametrize("c7d8e8a", [False, True], ids=["old", "migrated-by-c7d8e8a"])
def test_a_reader_opens_at_once_while_the_bot_writes(tmp_path: Path, c7d8e8a: bool) -> None:
    """Every query command and the site build open the store (settings.stats()): while
    the bot holds a write, one opening a file that needs migrating waited the 5 s busy
    timeout and failed 'database is locked'. It opens at once and reads the file as it
    is; its first change of a correction, once the write is over, migrates it."""
    path = tmp_path / "bot.sqlite3"
    _unmigrated(path, c7d8e8a)
    bot = sqlite3.connect(path, isolation_level=None)
    bot.execute("BEGIN IMMEDIATE")
    bot.execute("INSERT INTO meta VALUES ('x', 1)")
    try:
        start = time.monotonic()
        state = BotState(path)
        assert state.teams_for(X) == TWO
        assert state.follow_due(JOINED) is False and state.follow_due([(Y, Y + 1)]) is False
        assert state.session_keys() == [X] and state.kept_teams() == []
        assert within(time.monotonic() - start, 1.5, "the open")
    finally:
        bot.execute("ROLLBACK")
        bot.close()
    with state:
        state.set_teams(Y, A)
        assert {"origin", "seq"} <= _columns(path)
        assert state.follow_sessions(JOINED) == [("teams", Y, X)]
        assert state.teams_for(X) == A and state.kept_teams() == [X]
        assert state.follow_sessions(SPLIT) == [("teams", X, Y), ("teams", X, X)]
        assert state.teams_for(X) == TWO and state.teams_for(Y) == A


def _as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` of this checkout run as ``nobody`` (skips where none can be)."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run as another user")
    entry = pwd.getpwnam("nobody")
    checkout = Path(etl_duck.__file__).resolve().parents[1]
    command = [setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups",
               sys.executable]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    probe = subprocess.run([*command, "-c", "import etl_duck.botstate"], env=env, check=False)
    if probe.returncode != 0:  # the venv or the checkout where nobody may not enter
        pytest.skip("nobody cannot run this checkout's etl-duck")
    return subprocess.run([*command, *args], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("c7d8e8a", [False, True], ids=["old", "migrated-by-c7d8e8a"])
def test_a_user_who_may_only_read_opens_the_file_while_the_bot_runs(
    shared_tmp: Path, c7d8e8a: bool
) -> None:
    """The site or the CLI run by another user (the bot's file 0644, -wal/-shm there while
    the bot runs): opening a file that needs migrating failed 'attempt to write a readonly
    database'; it reads it as it is."""
    path = shared_tmp / "bot.sqlite3"
    _unmigrated(path, c7d8e8a)
    bot = sqlite3.connect(path)
    bot.execute("SELECT count(*) FROM marks").fetchall()  # -wal/-shm exist while it runs
    try:
        code = (
            "import sys; from etl_duck.botstate import BotState; s = BotState(sys.argv[1]);"
            f" print([t.name for t in s.teams_for({X}) or ()], s.follow_due({JOINED!r}))"
        )
        done = _as_nobody("-c", code, str(path))
    finally:
        bot.close()
    assert done.returncode == 0, done.stderr.splitlines()[-1:]
    assert done.stdout.split() == ["['Axis',", "'Allies']", "False"]
