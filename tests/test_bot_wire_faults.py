"""Where a production bot fails, over Discord's wire protocol: an evening of rounds fetched from
a real SFTP game server and committed by the real ingest (``Fetcher`` → ``Ingestor`` →
commit listeners), while the gateway sends RECONNECT, drops its socket and invalidates the
session, the channel-message route answers a storm of 429s and loses a response after the
message was created, and voice members come and go. Every round post, map post and the
session-end post must arrive exactly once; every interaction must be answered. Then a bot
restart between a commit and its post.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bot_fakes import REAL, lake_copy, lake_sql
from tests.discord_emulator.payloads import EPHEMERAL, Message
from tests.discord_emulator.server import Interaction
from tests.discord_emulator.stage import Stage
from tests.sftp_server import SFTPTestServer
from tests.waiting import wait_until

CHANNEL_MESSAGES = "POST /channels/{channel_id}/messages"
EVENING = (  # the last maps of the real night 2025-11-11, held back from the lake
    "2025-11-11-231115-etl_frostbite-round-1.txt",
    "2025-11-11-231657-etl_frostbite-round-2.txt",
    "2025-11-11-232245-erdenberg_t2-round-1.txt",
    "2025-11-11-232808-erdenberg_t2-round-2.txt",
)
LATE = (
    "2025-11-11-233403-braundorf_b4-round-1.txt",
    "2025-11-11-233911-braundorf_b4-round-2.txt",
)
HELD = EVENING + LATE


@pytest.fixture(scope="module")
def evening(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stage, SFTPTestServer]]:
    base = tmp_path_factory.mktemp("wire-faults")
    data = lake_copy(tmp_path_factory, base / "data", HELD)
    st = Stage.open(data, name="faults")
    server = SFTPTestServer(base / "sftp")
    st.run(server.start())
    st.fetch_from(
        server.settings(data),
        session_start_players=2,  # two people in voice start a session …
        session_end_players=1,  # … and it ends as soon as they have left
        session_end_minutes=0.0,
        voice_recount_s=0.0,
        scoreboard_interval_s=0.1,  # the live scoreboard's edits, coalesced (5 s in production)
    )
    try:
        st.start_bot()
        yield st, server
    finally:
        st.stop_bot()
        st.run(server.stop())  # on the loop it runs on, before that loop stops
        st.close()


def arrive(server: SFTPTestServer, name: str) -> None:
    """The game server writes a round file (old enough to be taken at once)."""
    server.write(name, (REAL / name).read_bytes(), age_s=3600)


def answered(inter: Interaction) -> Message:
    assert inter.answered, f"/{inter.describe()} was not answered"
    assert not inter.reply.loading
    return inter.reply


def sync(st: Stage) -> Message:
    """An admin's /sync: fetch and commit now."""
    reply = answered(st.slash("sync"))
    assert reply.flags & EPHEMERAL and reply.embeds[0]["title"] == "Fetched", reply.text()
    return reply


def round_posts(st: Stage, name: str) -> list[Message]:
    """Posts about the round file ``name`` (its file name is in the post)."""
    return [m for m in st.posts() if name in m.text()]


def map_posts(st: Stage) -> list[str]:
    return [str(m.embeds[0]["title"]) for m in st.posts() if m.embeds and
            str(m.embeds[0].get("title", "")).startswith("Map finished")]  # fmt: skip


def titled(message: Message, prefix: str) -> bool:
    return bool(message.embeds) and str(message.embeds[0].get("title", "")).startswith(prefix)


def scoreboards(st: Stage) -> list[Message]:
    """The live scoreboard messages (one per session, edited, never posted again)."""
    return [m for m in st.posts() if titled(m, "Scoreboard")]


def counted(st: Stage, names: tuple[str, ...]) -> list[str]:
    """The files among ``names`` that the lake counts (those get a post), by plain SQL."""
    listed = ", ".join(f"'{n}'" for n in names)
    rows = lake_sql(st.data, f"SELECT file_name FROM {{t}} WHERE counted AND file_name IN ({listed})", "rounds")  # fmt: skip
    return sorted(r[0] for r in rows)


def live_again(st: Stage, moves: int) -> None:
    """The bot came back (a RESUME or a new IDENTIFY) and answers a command."""
    st.wait_live(after=moves)
    assert "Gateway" in answered(st.slash("status")).text()


def test_an_evening_of_faults_posts_every_round_exactly_once(
    evening: tuple[Stage, SFTPTestServer],
) -> None:
    st, server = evening
    emu = st.emu
    refusals = len(st.refusals())
    players = [st.user(f"player{i}") for i in range(2)]
    for p in players:
        st.run(emu.voice(p, emu.voice_channels[0]))
    wait_until("the voice session", lambda: "session on" in answered(st.slash("status")).text())

    arrive(server, EVENING[0])
    assert EVENING[0] in sync(st).text()
    wait_until("the first round post", lambda: bool(round_posts(st, EVENING[0])))

    # op 9 while a commit's posts are on their way: the posts go on (REST), the bot waits as
    # discord.py does (5 s) and identifies anew
    arrive(server, EVENING[1])
    moves = st.wire.read(emu.session_moves)
    pending = st.run(emu.start_slash("sync"))
    st.run(emu.invalidate_session(resumable=False))
    wait_until("/sync during a session invalidation", lambda: pending.answered)
    wait_until("the map post", lambda: len(map_posts(st)) == 1)
    live_again(st, moves)

    moves = st.wire.read(emu.session_moves)
    st.run(emu.reconnect())  # op 7 …
    missed = st.run(emu.start_slash("status"))  # … and a command while the bot reconnects
    live_again(st, moves)
    wait_until("the command sent during the reconnect", lambda: missed.answered)

    storm = emu.fault(CHANNEL_MESSAGES, "429", count=7, retry_after=0.2)  # > discord.py's 5 tries
    arrive(server, EVENING[2])
    sync(st)
    wait_until("a post through the 429 storm", lambda: bool(round_posts(st, EVENING[2])))
    assert storm.hits == 7

    moves = st.wire.read(emu.session_moves)
    st.run(emu.drop_socket())  # no close frame: the client finds out by itself
    missed = st.run(emu.start_slash("last_session"))
    live_again(st, moves)
    wait_until("the command sent while the socket was down", lambda: missed.answered)
    assert st.wire.read(emu.replayed) >= 2, "RESUME replayed what the bot missed"
    lost = emu.fault(CHANNEL_MESSAGES, "lost_response", count=1)  # created, answer lost
    arrive(server, EVENING[3])
    sync(st)
    wait_until("the second map post", lambda: len(map_posts(st)) == 2)
    assert lost.hits == 1

    outage = emu.fault(CHANNEL_MESSAGES, "503", count=1)  # discord.py does not retry a 503
    for p in players:
        st.run(emu.voice(p, None))
    wait_until("the session-end post", lambda: any(
        titled(m, "Session digest") for m in st.posts()))  # fmt: skip

    # exactly once: every counted round, every map, the session
    expected = counted(st, EVENING)
    assert len(expected) == 4
    for name in expected:
        assert len(round_posts(st, name)) == 1, name
    assert sorted(map_posts(st)) == [
        "Map finished: erdenberg\\_t2",
        "Map finished: etl\\_frostbite",
    ]
    ends = [m for m in st.posts() if titled(m, "Session digest")]
    assert outage.hits == 1
    # one live scoreboard for the evening, edited after the rounds, never posted twice
    boards = scoreboards(st)
    assert len(boards) == 1 and boards[0].edits >= 2, [(b.id, b.edits) for b in boards]
    assert "erdenberg" in boards[0].text()  # it shows the last map played
    assert len(ends) == 1 and [a.filename for a in ends[0].attachments] == ["session_overview.png"]
    assert ends[0].attachments[0].data.startswith(b"\x89PNG")
    refused = st.refusals()[refusals:]
    assert not refused, "\n".join(str(r) for r in refused)
    assert not st.findings(), st.findings()
    assert st.bot is not None and st.bot.running


def test_rounds_committed_before_a_restart_are_posted_once_after_it(
    evening: tuple[Stage, SFTPTestServer],
) -> None:
    """A deploy while the channel is rate limited: a map's two rounds are committed in one
    batch; the first round's post reached Discord but its answer was lost, every later try is
    refused, and the bot stops. The next bot sends what was not settled — the first round
    again (Discord returns the message it already has: the same nonce), the second round and
    the map for the first time — once each; nothing posted before is posted again, and the
    live scoreboard is edited, not posted anew."""
    st, server = evening
    emu = st.emu
    if st.bot is None or not st.bot.running:
        st.start_bot()
    refusals, notes = len(st.refusals()), len(st.wire.read(lambda: list(emu.notes)))
    boards = [(b.id, b.edits) for b in scoreboards(st)]
    maps_before = len(map_posts(st))
    lost = emu.fault(CHANNEL_MESSAGES, "lost_response", count=1)
    storm = emu.fault(CHANNEL_MESSAGES, "429", count=1_000_000, retry_after=0.5)
    for name in LATE:
        arrive(server, name)
    sync(st)
    wait_until("the post to be tried again", lambda: lost.hits == 1 and storm.hits > 0)
    assert not round_posts(st, LATE[1])
    st.stop_bot()  # … and the bot is restarted (a deploy) before the posts got through
    st.wire.read(emu.limits.clear_faults)
    st.start_bot()
    wait_until("the interrupted posts", lambda: bool(round_posts(st, LATE[1])))
    wait_until("the map post", lambda: len(map_posts(st)) == maps_before + 1)
    for name in counted(st, HELD):
        assert len(round_posts(st, name)) == 1, f"{name}: {len(round_posts(st, name))} posts"
    assert map_posts(st).count("Map finished: braundorf\\_b4") == 1
    new_notes = st.wire.read(lambda: list(emu.notes))[notes:]
    assert any("the earlier message is returned" in n for n in new_notes), new_notes
    assert len(scoreboards(st)) == 1  # also when its first post was the one answered late
    if boards:  # the evening ran first: its scoreboard lives on, edited
        assert [b.id for b in scoreboards(st)] == [b[0] for b in boards]
        wait_until("a scoreboard edit after the restart",
                   lambda: scoreboards(st)[0].edits > boards[0][1])  # fmt: skip
    refused = st.refusals()[refusals:]
    assert not refused, "\n".join(str(r) for r in refused)
