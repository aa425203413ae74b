"""Late rounds: a file of an earlier evening that lands tonight (the fetcher was down, an
admin uploaded last week's missing round).

* It is not posted as a live round post in the middle of tonight's: live posts are for the
  rounds of each game server's latest session (the scoreboard's and the voice evening's
  rule). Its numbers land in the lake, and a digest already posted for its session is
  edited in place to the whole session (no new message).
* An admin's ``/set_teams`` correction follows its session when a late round changes the
  session's id (a round before its first one, or a round that joins two sessions).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from etl_duck.bot.cogs.digest import DIGEST
from etl_duck.bot.cogs.posts import MAP, NOTHING, ROUND
from etl_duck.domain.scoring import TeamOverride
from etl_duck.pipeline import Ingestor
from tests.bot_fakes import (
    REAL,
    FakeChannel,
    FakeInteraction,
    FakeUser,
    Sent,
    bot_running,
    invoke,
    lake_copy,
    lake_sql,
    run,
)

#: 2025-11-01's last two maps (its session ends at 00:06 on 2025-11-02)
LATE = (
    "2025-11-01-233014-sw_goldrush_te-round-1.txt",
    "2025-11-01-234251-sw_goldrush_te-round-2.txt",
    "2025-11-01-235515-etl_adlernest-round-1.txt",
    "2025-11-02-000624-etl_adlernest-round-2.txt",
)
#: tonight's (2025-11-11) last map, played while the late files come in
TONIGHT = (
    "2025-11-11-233403-braundorf_b4-round-1.txt",
    "2025-11-11-233911-braundorf_b4-round-2.txt",
)
FIRST_OF_NOV_1 = "2025-11-01-212527-supply-round-1.txt"
ADMIN = 4242


def posted(channel: FakeChannel) -> list[str]:
    return [t for t in channel.titles() if not t.startswith("Scoreboard")]


def counted_rounds(data: Path, session_id: int) -> int:
    """The session's counted rounds, straight from the Parquet files."""
    query = f"SELECT count(*) FROM {{t}} WHERE session_id = {session_id} AND counted"
    return int(lake_sql(data, query, "rounds")[0][0])


def session_of(data: Path, file_name: str) -> int:
    query = f"SELECT session_id FROM {{t}} WHERE file_name = '{file_name}'"
    return int(lake_sql(data, query, "rounds")[0][0])


async def commit(ingestor: Ingestor, names: tuple[str, ...]) -> None:
    await asyncio.to_thread(ingestor, [REAL / n for n in names])
    await ingestor.wait_idle()


# --------------------------------------------------------------------------- 1. no live post


def test_a_late_round_of_an_earlier_evening_is_not_posted_live_and_its_digest_is_edited(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tonight's last map is being played; in between, 2025-11-01's last four rounds land
    (one commit, within the four a commit posts live). Tonight's rounds and map are posted;
    the late ones are not (settled: nothing to post, ever — not even after a restart), their
    rows are in the lake, and 2025-11-01's digest, posted back then, is edited to the whole
    session: its round count is the lake's."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", LATE + TONIGHT)
    ingestor = Ingestor(data)
    channel = FakeChannel()
    links = tmp_path / "links.db"

    async def main() -> dict[str, Any]:
        async with bot_running(data, links, channel, ingestor=ingestor) as bot:
            old = await bot.stats.session(session_of(data, FIRST_OF_NOV_1))
            digest: Any = bot.get_cog("Digest")
            assert await digest.post_digest(old)  # the evening of 2025-11-01 ended back then
            await commit(ingestor, TONIGHT[:1])
            await commit(ingestor, LATE)
            await commit(ingestor, TONIGHT[1:])
            state = bot.state
            return {
                "marks": [state.message(ROUND, n) for n in LATE],
                "maps": state.count(MAP),
                "digest": state.message(DIGEST, str(old.session_id)),
                "covered": state.note(DIGEST, str(old.session_id)),
                "sid": old.session_id,
            }

    got = run(main())
    assert posted(channel) == [
        "Session digest — Sat 2025-11-01",
        "braundorf\\_b4 — round 1",
        "braundorf\\_b4 — round 2",
        "Map finished: braundorf\\_b4",
    ]
    assert all(m is not None and m[1] == NOTHING for m in got["marks"]), got["marks"]
    assert got["maps"] == 1  # braundorf's only
    sid = got["sid"]
    assert {session_of(data, n) for n in LATE} == {sid}  # in the lake, in their session
    rounds = counted_rounds(data, sid)
    assert got["covered"] == str(rounds)
    digest_id = got["digest"][1]
    edits = [e for mid, e in channel.edits if mid == digest_id]
    assert len(edits) == 1  # edited once, in place
    assert f" · {rounds} rounds · " in str(edits[0].embed.description)
    first: Sent = channel.messages[digest_id].sent
    assert f" · {rounds - 4} rounds · " in str(first.embed.description)

    # a restart posts none of them either
    async def restart() -> None:
        async with bot_running(data, links, channel, ingestor=ingestor) as bot:
            await bot.get_cog("Round posts").on_ready()  # type: ignore[union-attr]

    n = len(channel.sent)
    run(restart())
    assert len(channel.sent) == n


# --------------------------------------------------------------------------- 2. /set_teams

#: 2025-11-11's first map: without it the session starts at 21:46 (supply)
NOV_11_FIRST = (
    "2025-11-11-212628-etl_adlernest-round-1.txt",
    "2025-11-11-213348-etl_adlernest-round-2.txt",
)
#: 2025-11-01's second and third maps: without them the evening is two sessions (21:37 →
#: 22:45 is more than the 60-minute gap), with them one
NOV_1_MIDDLE = (
    "2025-11-01-214552-etl_adlernest-round-1.txt",
    "2025-11-01-215115-etl_adlernest-round-2.txt",
    "2025-11-01-220418-sw_goldrush_te-round-1.txt",
    "2025-11-01-221036-sw_goldrush_te-round-2.txt",
)
NOV_1_LATER = "2025-11-01-224514-supply-round-1.txt"  # the second session's first round


async def correct(bot: Any, sid: int, names: tuple[str, str]) -> tuple[frozenset[str], ...]:
    """An admin's /set_teams on session ``sid``: its detected teams, renamed ``names``."""
    rep = await bot.stats.session(sid)
    assert rep.teams is not None
    admin = FakeInteraction(bot, FakeUser(id=ADMIN))
    a, b = rep.teams
    await invoke(
        bot, "set_teams", admin, date=str(sid),
        team1=names[0], players1=",".join(sorted(a.guids)),
        team2=names[1], players2=",".join(sorted(b.guids)),
    )  # fmt: skip
    assert admin.last.content == "Teams corrected for this session.", admin.last.content
    return a.guids, b.guids


def test_a_correction_follows_its_session_when_a_late_first_round_changes_its_id(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tonight's last map is under way (its scoreboard is up) and an admin corrected
    tonight's teams; then tonight's first map lands late: the session starts 20 minutes
    earlier (a new id), and the correction and the scoreboard go with it — one scoreboard
    message, edited; the late map's post (tonight's: live), the scoreboard, /teams and the
    CLI's report all name the admin's teams."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", NOV_11_FIRST + TONIGHT)
    ingestor = Ingestor(data)
    channel = FakeChannel()
    old_sid = session_of(data, "2025-11-11-214627-supply-round-1.txt")
    state_at = tmp_path / "state.sqlite3"

    async def main() -> tuple[tuple[frozenset[str], ...], Any, Any, Any]:
        async with bot_running(
            data, tmp_path / "links.db", channel, ingestor=ingestor, state_at=state_at,
            admin_user_ids=[ADMIN],
        ) as bot:  # fmt: skip
            cog: Any = bot.get_cog("Round posts")
            await commit(ingestor, TONIGHT[:1])
            await cog.scoreboards.flush()
            guids = await correct(bot, old_sid, ("Blue", "Red"))
            await commit(ingestor, NOV_11_FIRST)
            await commit(ingestor, TONIGHT[1:])
            await cog.scoreboards.flush()
            teams = await invoke(bot, "teams", date="2025-11-11")
            return guids, teams, bot.state.teams_for(old_sid), await bot.stats.last_session()

    guids, teams, left, rep = run(main())
    new_sid = session_of(data, NOV_11_FIRST[0])
    assert new_sid < old_sid and session_of(data, TONIGHT[0]) == new_sid
    assert left is None  # nothing left behind under the old id
    assert rep.session_id == new_sid and rep.overridden and rep.teams is not None
    assert [(t.name, t.guids) for t in rep.teams] == [("Blue", guids[0]), ("Red", guids[1])]
    fields = [str(f.name) for f in teams.last.embed.fields]
    assert fields[0].startswith("Blue —") and fields[1].startswith("Red —"), fields
    boards = [m for m in channel.sent if str(m.embed.title).startswith("Scoreboard")]
    assert len(boards) == 1  # the session's one scoreboard, whatever its id
    board_id = next(i for i, m in channel.messages.items() if m.sent is boards[0])
    last_edit = [e for mid, e in channel.edits if mid == board_id][-1]
    assert "Blue" in str(last_edit.embed.fields) and "etl\\_adlernest" in str(
        last_edit.embed.description
    )
    assert posted(channel) == [
        "braundorf\\_b4 — round 1",
        "etl\\_adlernest — round 1",
        "etl\\_adlernest — round 2",
        "Map finished: etl\\_adlernest",
        "braundorf\\_b4 — round 2",
        "Map finished: braundorf\\_b4",
    ]
    for m in channel.sent:
        if str(m.embed.title).startswith("Map finished"):
            assert "Blue" in str(m.embed.description), m.embed.description
    # the CLI's query API, over the same state store, finds it too
    from etl_duck.botstate import BotState
    from etl_duck.query.stats import Stats

    with BotState(state_at) as state:
        again = Stats(data, min_rounds=1, teams=state).session_by_id(new_sid)
    assert again.teams is not None and [t.name for t in again.teams] == ["Blue", "Red"]


def test_when_late_rounds_join_two_sessions_the_later_correction_wins(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """2025-11-01 in two sessions, each corrected by an admin (the first, then the second);
    its two middle maps land late and join them: one session with the first one's id, and
    the correction set last is its correction (as a second /set_teams replaces the first).
    An earlier evening's rounds: none of them is posted."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", NOV_1_MIDDLE)
    ingestor = Ingestor(data)
    channel = FakeChannel()
    first = session_of(data, FIRST_OF_NOV_1)
    second = session_of(data, NOV_1_LATER)
    assert first != second

    async def main() -> tuple[Any, ...]:
        async with bot_running(
            data, tmp_path / "links.db", channel, ingestor=ingestor, admin_user_ids=[ADMIN]
        ) as bot:
            await correct(bot, first, ("Early A", "Early B"))
            guids = await correct(bot, second, ("Late A", "Late B"))
            revision = bot.state.teams_revision()
            await commit(ingestor, NOV_1_MIDDLE)
            rep = await bot.stats.session(first)
            moved = bot.state.teams_revision() > revision
            kept = bot.state.teams_for(first), bot.state.teams_for(second)
            return guids, rep, kept, moved

    guids, rep, (kept, left), moved = run(main())
    assert {session_of(data, n) for n in (FIRST_OF_NOV_1, NOV_1_LATER, *NOV_1_MIDDLE)} == {first}
    assert moved and left is None
    assert kept == (TeamOverride("Late A", guids[0]), TeamOverride("Late B", guids[1]))
    assert rep.overridden and rep.teams is not None  # the late maps' players where they played
    assert [t.name for t in rep.teams] == ["Late A", "Late B"]
    assert guids[0] <= rep.teams[0].guids and guids[1] <= rep.teams[1].guids
    assert posted(channel) == []  # 2025-11-01 is not tonight: no live posts


def test_the_state_moves_a_correction_into_the_span_that_holds_its_instant(
    tmp_path: Path,
) -> None:
    """``follow_sessions`` over plain spans: an orphan inside a span moves there (another
    server's ids never take it), one outside every span stays, a correction that still
    names a session stays; the revision moves only with a move. A session's marks (its
    scoreboard, its digest and the digest's note) move with it, unless the session has
    its own already."""
    from etl_duck.botstate import BotState
    from etl_duck.domain.sources import session_offset

    pub = session_offset("pub")
    team = [TeamOverride("X", frozenset({"G1"}))]
    with BotState.in_data_dir(tmp_path) as state:
        for sid in (20251111214627, 20251101224514, 20240101200000, pub + 20251111214627):
            state.set_teams(sid, team)
        state.set_message("scoreboard", "20251111214627", 555, 9001)
        state.set_message("digest", "20251101224514", 555, 9002)
        state.set_note("digest", "20251101224514", "11")
        state.set_message("scoreboard", "20251101224514", 555, 9003)
        state.set_message("scoreboard", "20251101212527", 555, 9004)  # the joined one's own
        spans = [
            (20251111212628, 20251111233911),  # tonight, from its new first round
            (20251101212527, 20251102000624),  # 2025-11-01, its two sessions joined
            (pub + 20251111214627, pub + 20251111230000),  # the pub server's, unchanged
        ]
        revision = state.teams_revision()
        assert state.follow_sessions(spans, ("scoreboard", "digest")) == [
            ("teams", 20251101224514, 20251101212527),
            ("teams", 20251111214627, 20251111212628),
            ("scoreboard", 20251111214627, 20251111212628),
            ("digest", 20251101224514, 20251101212527),
        ]
        assert state.session_keys() == sorted(
            [20240101200000, 20251101212527, 20251111212628, pub + 20251111214627]
        )  # 2024-01-01 is in no span: kept for when its rounds come back
        assert state.teams_revision() == revision + 1
        assert state.message("scoreboard", "20251111212628") == (555, 9001)
        assert state.message("digest", "20251101212527") == (555, 9002)
        assert state.note("digest", "20251101212527") == "11"
        assert state.note("digest", "20251101224514") is None
        assert state.message("scoreboard", "20251101212527") == (555, 9004)  # its own stays
        assert state.follow_sessions(spans, ("scoreboard", "digest")) == []
        assert state.teams_revision() == revision + 1


def test_live_sessions_are_every_session_within_an_evening_of_the_lakes_last_round() -> None:
    """The rule over ``Stats.sessions`` rows: every session that ended within 24 hours of
    the lake's last round is live, of any server, a server's earlier one of tonight too (an
    evening the session gap split); one that ended before is not (last week's missing file
    is no news), and a server idle for longer has none."""
    from datetime import datetime

    import polars as pl

    from etl_duck.bot.cogs.posts import live_sessions

    table = pl.DataFrame(
        {
            "session_id": [1, 2, 3, 4, 5, 6],
            "server": ["", "", "pub", "pub", "cup", ""],
            "end_time": [
                datetime(2025, 11, 1, 23, 0),  # main: an earlier evening
                datetime(2025, 11, 11, 23, 39),  # main: tonight, the lake's last round
                datetime(2025, 11, 10, 22, 0),  # pub: the evening before (25 h 39 before)
                datetime(2025, 11, 11, 1, 0),  # pub: its latest, 22 h 39 before
                datetime(2025, 11, 9, 21, 0),  # cup: idle for two days
                datetime(2025, 11, 11, 19, 0),  # main: tonight's first half, before a break
            ],
        }
    )
    assert live_sessions(table) == {2, 4, 6}
    assert live_sessions(table.clear()) == set()


# --------------------------------------------------------------------------- 3. a CLI's failed follow


def test_the_bots_whole_follow_settles_a_cli_follow_that_failed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A CLI ingest could not move a correction (the state file locked past the wait):
    `status` names it (exit 3) and tells the operator the bot moves it. The bot started,
    but its follow left the marker, so `status` kept exiting 3 after the bot had moved the
    correction, until some CLI writer ran. Now the bot's whole follow that goes through
    removes it; one that fails (the state file locked again) leaves it."""
    import sqlite3

    from etl_duck.botstate import state_path
    from etl_duck.pipeline import FOLLOW_PENDING
    from tests.test_cli_follow_teams import NAMES, SUPPLY, cli, correct, shown, team_names

    data = lake_copy(tmp_path_factory, tmp_path / "data", NOV_11_FIRST)
    marker = data / FOLLOW_PENDING
    old = session_of(data, SUPPLY)
    correct(data, old)
    lock = sqlite3.connect(state_path(data), isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer, past the CLI's wait
    try:
        code, _, err = cli(capsys, "--data-dir", data, "ingest", *(REAL / n for n in NOV_11_FIRST))
    finally:
        lock.execute("ROLLBACK")
    assert code == 3 and "were not moved" in err, err
    new = session_of(data, NOV_11_FIRST[0])
    assert new < old and marker.exists()
    code, out, _ = cli(capsys, "--data-dir", data, "status")
    assert code == 3 and "team corrections" in out and "start the bot" in " ".join(out.split())

    async def main() -> tuple[bool, list[tuple[str, int, int]]]:
        async with bot_running(data, tmp_path / "links.db", state_at=state_path(data)) as bot:
            scoring: Any = bot.get_cog("Scoring")
            lock.execute("BEGIN IMMEDIATE")  # the bot's follow cannot write either
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    await scoring.follow_sessions()
            finally:
                lock.execute("ROLLBACK")
            kept = marker.exists()
            return kept, await scoring.follow_sessions()

    try:
        kept, moves = run(main())
    finally:
        lock.close()
    assert kept  # a follow that failed settles nothing
    assert moves == [("teams", old, new)]
    assert not marker.exists()
    code, out, _ = cli(capsys, "--data-dir", data, "status")
    assert code == 0 and "team corrections" not in out and "no open problems" in out, out
    assert team_names(shown(capsys, data, str(new))) == NAMES


def test_only_a_follow_of_the_data_directorys_state_file_settles_the_marker(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A failed CLI follow is settled by a bot follow that checked the corrections of the
    file that follow could not write, ``data/state/bot.sqlite3``: with every correction in
    place (nothing to move), the marker goes; a bot that keeps its state in another file
    proved nothing about that one, and leaves it. A failure of another process while a
    follow runs (the marker written anew) is kept too."""
    from etl_duck.botstate import BotState, state_path
    from etl_duck.pipeline import FOLLOW_PENDING, follow_done, follow_failed, follow_pending

    data = lake_copy(tmp_path_factory, tmp_path / "data")
    marker = data / FOLLOW_PENDING
    sid = session_of(data, FIRST_OF_NOV_1)
    with BotState.in_data_dir(data) as state:
        state.set_teams(sid, [TeamOverride("X", frozenset({"G1"}))])  # where it belongs

    async def follow(**kw: Any) -> list[tuple[str, int, int]]:
        async with bot_running(data, tmp_path / "links.db", **kw) as bot:
            scoring: Any = bot.get_cog("Scoring")
            moves: list[tuple[str, int, int]] = await scoring.follow_sessions()
            return moves

    follow_failed(data)
    assert run(follow()) == [] and marker.exists()  # its state beside links.db: not the file
    assert run(follow(state_at=state_path(data))) == [] and not marker.exists()

    follow_failed(data)
    seen = follow_pending(data)
    follow_failed(data)  # another process's follow fails while this one runs
    follow_done(data, seen)
    assert marker.exists()
    follow_done(data, follow_pending(data))
    assert not marker.exists()
