"""The bot state store: marks claimed once across connections and threads, scoreboard
message ids and team overrides that survive a reopen, a revision that moves with them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from etl_duck.botstate import BotState, state_path
from etl_duck.domain.scoring import TeamOverride


def test_a_mark_is_claimed_once_across_connections_and_threads(tmp_path: Path) -> None:
    path = state_path(tmp_path / "data")
    assert path == tmp_path / "data" / "state" / "bot.sqlite3"  # beside the lake, not in it
    a, b = BotState(path), BotState(path)  # the bot and the CLI, say
    won: list[str] = []
    lock = threading.Lock()

    def worker(store: BotState, who: str) -> None:
        for i in range(40):
            if store.claim("round", f"f{i}"):
                with lock:
                    won.append(f"{who}{i}")

    threads = [
        threading.Thread(target=worker, args=(s, w)) for s, w in ((a, "a"), (b, "b"), (a, "c"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(int(w[1:]) for w in won) == list(range(40))  # each key exactly once
    assert a.unclaimed("round", ["f1", "g1", "f2", "g2"]) == ["g1", "g2"]
    a.release("round", "f1")
    assert b.unclaimed("round", ["f1"]) == ["f1"] and b.claim_many("round", ["f1", "f2"]) == ["f1"]
    a.close()
    b.close()


def test_messages_and_team_overrides_survive_a_reopen(tmp_path: Path) -> None:
    with BotState.in_data_dir(tmp_path) as state:
        assert state.message("scoreboard", "1") is None and state.teams_revision() == 0
        state.set_message("scoreboard", "1", 555, 9001)
        state.set_message("scoreboard", "1", 555, 9002)  # re-posted after a deletion
        state.set_teams(
            7, [TeamOverride("Mix", frozenset({"A", "B"})), TeamOverride(None, frozenset())]
        )
        assert state.teams_revision() == 1
    with BotState.in_data_dir(tmp_path) as again:
        assert again.message("scoreboard", "1") == (555, 9002)
        assert again.claimed("scoreboard", "1")
        assert again.teams_for(7) == (
            TeamOverride("Mix", frozenset({"A", "B"})), TeamOverride(None, frozenset()),
        )  # fmt: skip
        assert again.teams_for(8) is None
        assert again.clear_teams(7) and not again.clear_teams(7)
        assert again.teams_revision() == 2 and again.teams_for(7) is None


def test_posts_interrupted_too_long_ago_are_named_not_resent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A post claimed but never settled is resent within 4 minutes; an older one is not
    (its nonce is forgotten: a resend could repeat it) — and the operator is told which."""
    import asyncio
    import logging
    import sqlite3
    from types import SimpleNamespace
    from typing import Any

    from etl_duck.bot.cogs.posts import RESEND_WITHIN_S, ROUND, RoundPostsCog

    store = BotState(tmp_path / "state.db")
    assert store.claim_many(ROUND, ["old.txt", "new.txt"]) == ["old.txt", "new.txt"]
    with sqlite3.connect(tmp_path / "state.db") as con:  # "old.txt" was claimed 10 min ago
        con.execute("UPDATE marks SET at = '2000-01-01T00:00:00+00:00' WHERE key = 'old.txt'")
    assert store.pending(ROUND, RESEND_WITHIN_S) == ["new.txt"]
    assert store.abandoned(ROUND, RESEND_WITHIN_S) == ["old.txt"]

    async def no_channel() -> None:
        return None

    bot: Any = SimpleNamespace(state=store, stats_channel=no_channel, ingestor=None,
                               settings=SimpleNamespace(scoreboard_interval_s=5.0))  # fmt: skip
    cog = RoundPostsCog(bot)
    with caplog.at_level(logging.WARNING, logger="etl_duck.bot.cogs.posts"):
        assert asyncio.run(cog.resume_interrupted()) == 0  # no channel: nothing sent
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "old.txt" in warned[0] and "new.txt" not in warned[0], warned
