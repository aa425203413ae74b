"""``BotState.follow_sessions`` never deletes a /set_teams correction.

Two corrections that end up on one session (a late round joined two corrected sessions):
the later set applies to the joined session, as before; the other is kept under the id it
was set for, and applies to that session again when the sessions split again (the joining
round was removed). Following again moves nothing.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from etl_duck.botstate import BotState
from etl_duck.domain.scoring import TeamOverride
from etl_duck.query.stats import Stats
from tests.bot_fakes import bot_running, invoke, lake_copy, lake_sql, run
from tests.test_bot_late_rounds import ADMIN, correct  # the admin its /set_teams is by

KINDS = ("scoreboard", "digest")
#: 2025-11-01 as two sessions (its middle maps missing: 21:37 → 22:45 is over the gap) …
FIRST, SECOND = 20251101211332, 20251101223558
SPLIT = [(FIRST, 20251101213712), (SECOND, 20251102000624)]
#: … and as one, once the middle maps joined them
JOINED = [(FIRST, 20251102000624)]
EARLY = (TeamOverride("Early A", frozenset({"G1"})), TeamOverride("Early B", frozenset({"G2"})))
LATE = (TeamOverride("Late A", frozenset({"G3"})), TeamOverride("Late B", frozenset({"G4"})))
#: 2025-11-01's two middle maps: the rounds that join its two sessions
MIDDLE = (
    "2025-11-01-214552-etl_adlernest-round-1.txt",
    "2025-11-01-215115-etl_adlernest-round-2.txt",
    "2025-11-01-220418-sw_goldrush_te-round-1.txt",
    "2025-11-01-221036-sw_goldrush_te-round-2.txt",
)


def follow(state: BotState, spans: list[tuple[int, int]]) -> list[tuple[str, int, int]]:
    """Follow, then follow again: the second moves nothing and leaves the revision."""
    moves = state.follow_sessions(spans, KINDS)
    revision = state.teams_revision()
    assert state.follow_sessions(spans, KINDS) == []
    assert state.teams_revision() == revision
    assert not state.follow_due(spans, KINDS)
    return moves


def test_the_later_set_wins_the_joined_session_and_the_earlier_applies_again_after_a_split(
    tmp_path: Path,
) -> None:
    """The first session corrected, then the second; joined, the second's correction (set
    later) is the session's; split again, each session has its own back."""
    with BotState(tmp_path / "state.db") as state:
        state.set_teams(FIRST, EARLY)
        state.set_teams(SECOND, LATE)
        assert follow(state, SPLIT) == []
        assert follow(state, JOINED) == [("teams", SECOND, FIRST)]
        assert state.teams_for(FIRST) == LATE and state.teams_for(SECOND) is None
        assert state.kept_teams() == [FIRST]  # the first's, kept for its id
        assert follow(state, SPLIT) == [("teams", FIRST, SECOND), ("teams", FIRST, FIRST)]
        assert state.teams_for(FIRST) == EARLY and state.teams_for(SECOND) == LATE
        assert state.kept_teams() == []
        # joined once more: the same outcome as the first time
        assert follow(state, JOINED) == [("teams", SECOND, FIRST)]
        assert state.teams_for(FIRST) == LATE and state.kept_teams() == [FIRST]


def test_the_joined_sessions_own_correction_if_newer_stays_and_the_moved_one_waits(
    tmp_path: Path,
) -> None:
    """The second session corrected, then the first (later): joined, the first's stays and
    the second's is kept under its own id — ignored while that id names no session, in
    force again once it does."""
    with BotState(tmp_path / "state.db") as state:
        state.set_teams(SECOND, LATE)
        state.set_teams(FIRST, EARLY)
        assert follow(state, JOINED) == [("teams", SECOND, FIRST)]
        assert state.teams_for(FIRST) == EARLY and state.teams_for(SECOND) is None
        assert state.kept_teams() == [SECOND]
        assert follow(state, SPLIT) == [("teams", SECOND, SECOND)]
        assert state.teams_for(FIRST) == EARLY and state.teams_for(SECOND) == LATE
        assert follow(state, JOINED) == [("teams", SECOND, FIRST)]  # in the same order again
        assert state.teams_for(FIRST) == EARLY and state.kept_teams() == [SECOND]


def test_a_user_clear_or_new_set_on_the_joined_session_is_not_undone_by_following(
    tmp_path: Path,
) -> None:
    """/set_teams clear on the joined session: automatic teams, and the kept correction of
    its id does not come back; the second's (moved in) waits for its own session. A new
    set on the joined session replaces what applied there, the second's again waiting."""
    with BotState(tmp_path / "state.db") as state:
        state.set_teams(FIRST, EARLY)
        state.set_teams(SECOND, LATE)
        follow(state, JOINED)
        assert state.clear_teams(FIRST) and state.teams_for(FIRST) is None
        assert follow(state, JOINED) == []  # the first's correction stays replaced
        assert state.teams_for(FIRST) is None and state.kept_teams() == [SECOND]
        assert follow(state, SPLIT) == [("teams", SECOND, SECOND)]
        assert state.teams_for(FIRST) is None and state.teams_for(SECOND) == LATE

        newest = (TeamOverride("Mix", frozenset({"G1", "G3"})),)
        follow(state, JOINED)
        state.set_teams(FIRST, newest)
        assert follow(state, JOINED) == [] and state.teams_for(FIRST) == newest
        assert follow(state, SPLIT) == [("teams", SECOND, SECOND)]
        assert state.teams_for(FIRST) == newest and state.teams_for(SECOND) == LATE


def test_a_store_from_before_keeps_its_order_of_setting(tmp_path: Path) -> None:
    """A state file written before corrections were kept (no origin, no order column)
    opens, and its corrections' order of setting still picks the winner."""
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as con:
        con.execute(
            "CREATE TABLE team_overrides (session_id INTEGER NOT NULL, slot INTEGER NOT NULL,"
            " name TEXT, guids TEXT NOT NULL, set_by INTEGER, at TEXT NOT NULL,"
            " PRIMARY KEY (session_id, slot))"
        )
        for sid, team in ((FIRST, EARLY[0]), (SECOND, LATE[0])):  # the first set first
            con.execute(
                "INSERT INTO team_overrides VALUES (?, 0, ?, ?, NULL, '2025-11-01T22:00:00')",
                (sid, team.name, f'["{next(iter(team.guids))}"]'),
            )
    con.close()
    with BotState(path) as state:
        assert state.teams_for(FIRST) == EARLY[:1]
        assert follow(state, JOINED) == [("teams", SECOND, FIRST)]
        assert state.teams_for(FIRST) == LATE[:1]
        assert follow(state, SPLIT) == [("teams", FIRST, SECOND), ("teams", FIRST, FIRST)]
        assert state.teams_for(FIRST) == EARLY[:1] and state.teams_for(SECOND) == LATE[:1]


def test_a_correction_whose_sessions_rounds_went_is_kept_and_no_move_is_reported(
    tmp_path: Path,
) -> None:
    """The second session's correction, moved onto the joined session, whose rounds (and
    the joining ones) are gone: kept for its id, the joined session's teams automatic
    again (the revision moves on) — and no move reported (the bot logged "session FIRST
    is SECOND now: its teams moved with it")."""
    with BotState(tmp_path / "state.db") as state:
        state.set_teams(SECOND, LATE)
        assert follow(state, JOINED) == [("teams", SECOND, FIRST)]
        revision = state.teams_revision()
        assert follow(state, SPLIT[:1]) == []
        assert state.teams_revision() > revision
        assert state.teams_for(FIRST) is None and state.kept_teams() == [SECOND]
        assert follow(state, SPLIT) == [("teams", SECOND, SECOND)]
        assert state.teams_for(SECOND) == LATE


def test_follow_due_sees_a_moved_correction_whose_id_is_in_another_session_now(
    tmp_path: Path,
) -> None:
    """X and Y corrected (Y later); a late round L joins them into X (Y's teams apply to X,
    X's kept). A round M just before Y arrives, then L goes: the lake is X and M+Y (id M).
    Following gives X its own teams back and moves Y's to M — and follow_due says so (it
    said there was nothing to do, so the bot never followed: X showed Y's teams)."""
    x, m, y = 20251101200000, 20251101213000, 20251101214000  # L: 21:05
    with BotState(tmp_path / "s.db") as state:
        state.set_teams(x, EARLY)
        state.set_teams(y, LATE)
        assert follow(state, [(x, 20251101223000)]) == [("teams", y, x)]
        assert state.teams_for(x) == LATE
        split = [(x, 20251101210000), (m, 20251101223000)]
        assert state.follow_due(split, KINDS)
        assert follow(state, split) == [("teams", x, m), ("teams", x, x)]  # X's own back
        assert state.teams_for(x) == EARLY and state.teams_for(m) == LATE


def _contents(path: Path) -> list[list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as con:
        got = [
            sorted(con.execute(f"SELECT * FROM {table}").fetchall())
            for table in ("team_overrides", "teams_kept", "marks", "notes", "meta")
        ]
    con.close()
    return got


def _cut(rng: random.Random, starts: list[int], last: int) -> list[tuple[int, int]]:
    """Sessions starting at ``starts`` (ascending), each ending before the next starts."""
    spans = []
    for i, start in enumerate(starts):
        end = starts[i + 1] - 100 if i + 1 < len(starts) else last
        spans.append((start, rng.choice(range(start, end + 1, 100))))
    return spans


def test_follow_due_is_true_exactly_when_following_changes_something(tmp_path: Path) -> None:
    """Random evenings: corrections set and cleared, scoreboard marks and notes, the lake's
    sessions cut anew or changed a little (a late round, a session gone, a shorter one)
    between follows. Whenever follow_due says no, following changes nothing; whenever it
    says yes, it changes something; after it, it says no."""
    rng = random.Random(20251101)
    instants = [20251101200000 + 100 * minute for minute in range(0, 59, 3)]
    last = instants[-1] + 100
    path = tmp_path / "state.db"
    spans = _cut(rng, [instants[0]], last)
    due_seen = set()
    with BotState(path) as state:
        for _ in range(300):
            starts = [s for s, _ in spans]
            change = rng.random()
            if change < 0.3:  # another cut
                spans = _cut(rng, sorted(rng.sample(instants, rng.randint(1, 6))), last)
            elif change < 0.5 and len(starts) > 1:  # a session gone
                spans.pop(rng.randrange(len(spans)))
            elif change < 0.7:  # a session more, or one starting earlier
                spans = _cut(rng, sorted({*starts, rng.choice(instants)}), last)
            elif change < 0.8:  # one ends earlier
                i = rng.randrange(len(spans))
                spans[i] = (spans[i][0], rng.choice(range(spans[i][0], spans[i][1] + 1, 100)))
            for _ in range(rng.randint(0, 2)):
                sid = rng.choice([s for s, _ in spans] + instants)
                what = rng.random()
                if what < 0.5:
                    state.set_teams(sid, rng.choice([EARLY, LATE, EARLY[:1]]))
                elif what < 0.7:
                    state.clear_teams(sid)
                else:
                    state.set_message("scoreboard", str(sid), 1, sid)
                    state.set_note("scoreboard", str(sid), "x")
            due = state.follow_due(spans, KINDS)
            before = _contents(path)
            state.follow_sessions(spans, KINDS)
            assert due == (_contents(path) != before), (spans, before)
            assert not state.follow_due(spans, KINDS)
            assert state.follow_sessions(spans, KINDS) == []
            due_seen.add(due)
    assert due_seen == {False, True}


# --------------------------------------------------------------------------- with the bot


def session_ids(data: Path) -> list[int]:
    """2025-11-01's session ids, straight from the Parquet files."""
    query = "SELECT DISTINCT session_id FROM {t} WHERE session_date = '2025-11-01' ORDER BY 1"
    return [int(r[0]) for r in lake_sql(data, query, "rounds")]


def test_a_bot_over_the_joined_then_the_split_lake_shows_each_sessions_own_teams(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An admin corrects both sessions of 2025-11-01 (the first, then the second); its
    middle maps arrive and join them (/teams: the second's correction); then they are
    gone again (the same state over a lake without them): /teams of each session shows
    the teams the admin set for it, and so does the CLI's query API."""
    split = lake_copy(tmp_path_factory, tmp_path / "split", MIDDLE)
    joined = lake_copy(tmp_path_factory, tmp_path / "joined")
    assert session_ids(split) == [FIRST, SECOND] and session_ids(joined) == [FIRST]
    state_at = tmp_path / "state.sqlite3"

    def bot(data: Path) -> Any:
        return bot_running(data, tmp_path / "links.db", state_at=state_at, admin_user_ids=[ADMIN])

    async def teams(b: Any, sid: int) -> list[str]:
        shown = await invoke(b, "teams", date=str(sid))
        return [str(f.name).split(" —")[0] for f in shown.last.embed.fields[:2]]

    async def main() -> dict[str, Any]:
        got: dict[str, Any] = {}
        async with bot(split) as b:
            await correct(b, FIRST, ("Early A", "Early B"))
            await correct(b, SECOND, ("Late A", "Late B"))
        async with bot(joined) as b:
            got["joined"] = await teams(b, FIRST)
        async with bot(split) as b:
            got["first"] = await teams(b, FIRST)
            got["second"] = await teams(b, SECOND)
            got["again"] = await b.get_cog("Scoring").follow_sessions()
        return got

    got = run(main())
    assert got["joined"] == ["Late A", "Late B"]
    assert got["first"] == ["Early A", "Early B"]
    assert got["second"] == ["Late A", "Late B"]
    assert got["again"] == []
    with BotState(state_at) as state:
        stats = Stats(split, min_rounds=1, teams=state)
        for sid, names in ((FIRST, ["Early A", "Early B"]), (SECOND, ["Late A", "Late B"])):
            rep = stats.session_by_id(sid)
            assert rep.overridden and rep.teams is not None
            assert [t.name for t in rep.teams] == names
