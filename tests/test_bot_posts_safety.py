"""What the bot posts on its own stays what it means: player names in record, personal-best and
milestone lines are shown literally (a name such as ``||endekk_*``` opened a spoiler, an
emphasis and a code span in round posts and the digest), and a round post the stats channel
refuses (403 Missing Permissions, or 404 Unknown Channel: it was deleted) is not lost: it goes
out once a channel takes it, exactly once, and /status names the refusal and its fix meanwhile."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import discord
import pytest

from etl_duck.bot.cogs.posts import MAP, ROUND, SCOREBOARD
from etl_duck.bot.format import esc
from etl_duck.botstate import BotState
from etl_duck.domain.records import Event
from etl_duck.pipeline import Ingestor
from tests.bot_fakes import (
    REAL,
    FakeChannel,
    FakeInteraction,
    FakeMessage,
    Sent,
    bot_running,
    field_value,
    invoke,
    lake_copy,
    run,
)
from tests.discord_emulator.payloads import EPHEMERAL, Message
from tests.discord_emulator.rest import Plain, Request
from tests.discord_emulator.server import Interaction
from tests.discord_emulator.stage import Stage
from tests.sftp_server import SFTPTestServer
from tests.waiting import wait_until

LAST_MAP = (
    "2025-11-11-233403-braundorf_b4-round-1.txt",
    "2025-11-11-233911-braundorf_b4-round-2.txt",
)

# --------------------------------------------------------------------------- names escaped

NAME = "||endekk_*`"  # a spoiler, an emphasis and a code span if shown as Markdown
TEAM = f"SmetarskiProner, vid, {NAME}"  # a time record's holders: the attacking side
BEFORE = "*old_timer*"
WHEN = datetime(2025, 11, 11, 23, 39, 11)
EARLIER = datetime(2025, 10, 1, 22, 0, 0)


def crafted_events(sid: int, file_name: str) -> list[Event]:
    """One event of each shape, held by players with Markdown in their names."""
    return [
        Event(f"milestone|kills|500|{sid}", "kills", "milestone", sid, None, WHEN, NAME, "G1",
              500.0, None, None, None),
        Event(f"pb|round_kills|G1|{file_name}", "round_kills", "personal", sid, file_name, WHEN,
              NAME, "G1", 31.0, 24.0, NAME, EARLIER, "old.txt", WHEN.date(), EARLIER.date()),
        Event(f"record|round_dpm|all|{file_name}|G1", "round_dpm", "all", sid, file_name, WHEN,
              NAME, "G1", 612.5, 580.0, BEFORE, EARLIER, "old.txt", WHEN.date(), EARLIER.date()),
        Event(f"record|fastest_completion|braundorf_b4|{file_name}|", "fastest_completion",
              "braundorf_b4", sid, file_name, WHEN, TEAM, None, 301.0, 333.0, BEFORE, EARLIER,
              "old.txt", WHEN.date(), EARLIER.date()),
    ]  # fmt: skip


def shown(text: str) -> str:
    """What Discord shows of escaped characters: the character itself."""
    return re.sub(r"\\(.)", r"\1", text)


def assert_literal(lines: list[str]) -> None:
    assert lines
    for line in lines:
        assert NAME not in line, line  # raw: Markdown would eat it
        assert esc(NAME) in line, line
        assert NAME in shown(line), line
    records = [ln for ln in lines if ln.startswith("🏆")]
    assert any(f"by {esc(BEFORE)}," in ln for ln in records), records  # the previous holder
    team = [ln for ln in records if "fastest completion" in ln]
    assert team and f"**{esc(TEAM)}**" in team[0], team  # each name of the team


def test_record_personal_best_and_milestone_names_are_escaped_in_posts_and_the_digest(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_MAP[:1])
    ingestor = Ingestor(data)
    channel = FakeChannel()

    async def main() -> FakeInteraction:
        async with bot_running(data, tmp_path / "links.db", channel, ingestor=ingestor) as bot:

            async def session_events(sid: int) -> list[Event]:
                return crafted_events(sid, LAST_MAP[0])

            bot.stats.session_events = session_events  # type: ignore[method-assign]
            digest = await invoke(bot, "digest", date="2025-11-11")  # shown, nothing claimed
            await asyncio.to_thread(ingestor, [REAL / LAST_MAP[0]])  # the round post tells
            await ingestor.wait_idle()
            return digest

    digest = run(main())
    embed = digest.last.embed
    assert_literal(field_value(embed, "Records broken").splitlines()
                   + field_value(embed, "Milestones").splitlines())  # fmt: skip
    post = next(m for m in channel.sent if "round 1" in str(m.embed.title))
    assert_literal(field_value(post.embed, "Records").splitlines())
    # the CLI and the site escape in their own way: the plain text keeps the names as they are
    plain = [e.text() for e in crafted_events(1, LAST_MAP[0])]
    assert all(NAME in t or BEFORE in t for t in plain)
    assert f"by **{TEAM}** (was 5:33 by {BEFORE}, 2025-10-01)" in plain[3]


# --------------------------------------------------------------------------- refused posts


class _Refusal:
    status = 403
    reason = "Forbidden"


class _Gone:
    status = 404
    reason = "Not Found"


class LockedChannel(FakeChannel):
    """A channel where the bot lacks Send Messages while ``locked``."""

    locked = True
    refused = 0

    def refusal(self) -> discord.HTTPException:
        return discord.Forbidden(_Refusal(), {"code": 50013, "message": "Missing Permissions"})

    async def send(self, content: str | None = None, **kw: Any) -> Any:
        if self.locked:
            self.refused += 1
            raise self.refusal()
        return await super().send(content, **kw)


class GoneChannel(LockedChannel):
    """A stats channel that was deleted (while ``locked``): Discord answers every post and
    every edit of a message in it 404 Unknown Channel (10003)."""

    def refusal(self) -> discord.HTTPException:
        return discord.NotFound(_Gone(), {"code": 10003, "message": "Unknown Channel"})

    def get_partial_message(self, message_id: int) -> FakeMessage:
        return _InGoneChannel(self, message_id, Sent())


class _InGoneChannel(FakeMessage):
    channel: GoneChannel

    async def edit(self, **kw: Any) -> FakeMessage:
        if self.channel.locked:
            raise self.channel.refusal()
        return await super().edit(**kw)


def refusal_field(inter: FakeInteraction) -> str | None:
    fields = [f for f in inter.last.embed.fields if "refused" in str(f.name)]
    return str(fields[0].value) if fields else None


def test_a_refused_commit_is_posted_whole_after_a_restart_once_the_channel_takes_it(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Both rounds of a map in one commit, the channel refuses the first post: nothing stays
    claimed (rounds, map, the records the post would have told), both wait, /status says why
    and what to do. The admin fixes the channel and restarts the bot: round 1, round 2 and the
    map are posted once each, with round 1's records; /status is clear again."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_MAP)
    ingestor = Ingestor(data)
    channel = LockedChannel()
    links, state_at = tmp_path / "links.db", tmp_path / "state.sqlite3"

    async def refused() -> tuple[FakeInteraction, dict[str, Any]]:
        async with bot_running(data, links, channel, ingestor=ingestor, state_at=state_at) as bot:
            await asyncio.to_thread(ingestor, [REAL / n for n in LAST_MAP])
            await ingestor.wait_idle()
            posts: Any = bot.get_cog("Round posts")
            await posts.scoreboards.flush()
            status = await invoke(bot, "status")
            st = bot.state
            marks = {
                "round": [st.claimed(ROUND, n) for n in LAST_MAP],
                "map": st.count(MAP),
                "announced": st.count("announced"),
                "waiting": [st.claimed("refused", n) for n in LAST_MAP],
            }
            return status, marks

    status, marks = run(refused())
    assert channel.refused >= 1 and not channel.sent
    assert marks == {"round": [False, False], "map": 0, "announced": 0, "waiting": [True, True]}
    problem = refusal_field(status)
    assert problem is not None
    assert "403 Missing Permissions" in problem
    assert "give the bot Send Messages and Embed Links in <#555>" in problem
    assert "2 round post(s) wait" in problem
    assert re.search(r"<t:\d+:f>", problem)

    channel.locked = False  # the admin gives the bot its permissions and restarts it

    async def restarted() -> FakeInteraction:
        async with bot_running(data, links, channel, ingestor=ingestor, state_at=state_at) as bot:
            posts: Any = bot.get_cog("Round posts")
            await posts.on_ready()
            await posts.scoreboards.flush()
            await asyncio.to_thread(ingestor, [REAL / n for n in LAST_MAP])  # nothing new
            await ingestor.wait_idle()
            assert not any(bot.state.claimed("refused", n) for n in LAST_MAP)
            return await invoke(bot, "status")

    status = run(restarted())
    titles = [t for t in channel.titles() if not t.startswith("Scoreboard")]
    assert titles == [
        "braundorf\\_b4 — round 1",
        "braundorf\\_b4 — round 2",
        "Map finished: braundorf\\_b4",
    ]
    assert sum(t.startswith("Scoreboard") for t in channel.titles()) == 1
    assert refusal_field(status) is None  # a post went through: the problem is over


def test_rounds_refused_by_a_deleted_channel_go_out_once_in_the_new_one_after_a_restart(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The stats channel was deleted: Discord answers the posts 404 Unknown Channel (10003).
    The rounds were lost for good (nothing kept, /status silent). Now both wait, /status
    says the channel no longer exists and which setting to change; the admin points the bot
    at a new channel and restarts it: round 1, round 2 and the map are posted there once."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_MAP)
    ingestor = Ingestor(data)
    gone = GoneChannel()
    links, state_at = tmp_path / "links.db", tmp_path / "state.sqlite3"

    async def refused() -> tuple[FakeInteraction, dict[str, Any]]:
        async with bot_running(data, links, gone, ingestor=ingestor, state_at=state_at) as bot:
            await asyncio.to_thread(ingestor, [REAL / n for n in LAST_MAP])
            await ingestor.wait_idle()
            posts: Any = bot.get_cog("Round posts")
            await posts.scoreboards.flush()
            st = bot.state
            marks = {
                "round": [st.claimed(ROUND, n) for n in LAST_MAP],
                "map": st.count(MAP),
                "announced": st.count("announced"),
                "waiting": [st.claimed("refused", n) for n in LAST_MAP],
            }
            return await invoke(bot, "status"), marks

    status, marks = run(refused())
    assert gone.refused >= 1 and not gone.sent
    assert marks == {"round": [False, False], "map": 0, "announced": 0, "waiting": [True, True]}
    problem = refusal_field(status)
    assert problem is not None
    assert "was refused (404 Unknown Channel)" in problem
    assert "channel <#555> no longer exists" in problem
    assert "ETL_DUCK_STATS_CHANNEL_ID" in problem
    assert "2 round post(s) wait" in problem

    new = FakeChannel(556)  # the admin sets ETL_DUCK_STATS_CHANNEL_ID=556 and restarts

    async def restarted() -> FakeInteraction:
        async with bot_running(data, links, new, ingestor=ingestor, state_at=state_at) as bot:
            posts: Any = bot.get_cog("Round posts")
            await posts.on_ready()
            await posts.scoreboards.flush()
            await asyncio.to_thread(ingestor, [REAL / n for n in LAST_MAP])  # nothing new
            await ingestor.wait_idle()
            await posts.scoreboards.flush()
            assert not any(bot.state.claimed("refused", n) for n in LAST_MAP)
            return await invoke(bot, "status")

    status = run(restarted())
    assert [t for t in new.titles() if not t.startswith("Scoreboard")] == [
        "braundorf\\_b4 — round 1",
        "braundorf\\_b4 — round 2",
        "Map finished: braundorf\\_b4",
    ]
    assert sum(t.startswith("Scoreboard") for t in new.titles()) == 1
    assert not gone.sent
    assert refusal_field(status) is None


#: each channel that refuses a post: the words /status quotes, and the fix it names
REFUSING = pytest.mark.parametrize(
    ("kind", "why", "fix"),
    [
        (LockedChannel, "(403 Missing Permissions)", "give the bot Send Messages and Embed Links"),
        (GoneChannel, "(404 Unknown Channel)", "channel <#555> no longer exists"),
    ],
    ids=["403", "404"],
)


@REFUSING
def test_a_refused_live_scoreboard_is_in_status_with_its_fix(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    kind: type[LockedChannel],
    why: str,
    fix: str,
) -> None:
    """The session's live scoreboard message is gone (deleted, or with its channel) and the
    channel refuses the new one (403; 404: the channel was deleted): /status says so with the
    fix; the old message stays remembered."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", ())
    channel = kind()
    channel.deleted.add(9001)  # 404 Unknown Message: edit_or_send posts a new scoreboard

    async def main() -> tuple[str | None, tuple[int, int] | None]:
        async with bot_running(data, tmp_path / "links.db", channel) as bot:
            rep = await bot.stats.last_session()
            key = str(rep.session_id)
            await asyncio.to_thread(bot.state.set_message, SCOREBOARD, key, channel.id, 9001)
            posts: Any = bot.get_cog("Round posts")
            await posts.refresh_scoreboard(rep.session_id, rep.session_date)
            await posts.scoreboards.flush()
            where = await asyncio.to_thread(bot.state.message, SCOREBOARD, key)
            return refusal_field(await invoke(bot, "status")), where

    problem, where = run(main())
    assert problem is not None, "the refused scoreboard is not in /status"
    assert f"The live scoreboard was refused {why}" in problem
    assert fix in problem
    assert channel.refused >= 1 and not channel.sent
    assert where == (555, 9001)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (LockedChannel().refusal(), "<#555> is out of the bot's reach: give the bot View Channel"),
        # deleted: Discord's channel-delete event took it from the cache, and fetching it
        # answers 404 — "give the bot View Channel" was the wrong fix
        (GoneChannel().refusal(), "<#555> no longer exists — set the bot's stats channel "
         "(ETL_DUCK_STATS_CHANNEL_ID) to one that does"),
    ],
    ids=["403", "404"],
)  # fmt: skip
def test_rounds_committed_while_the_channel_is_out_of_reach_wait_for_it(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    error: discord.HTTPException,
    said: str,
) -> None:
    """The configured stats channel cannot be fetched (the bot may not see it, or it was
    deleted): round 1 waits and /status says so with the fix for that cause; once a channel is
    there, round 2's commit brings round 1 along."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_MAP)
    ingestor = Ingestor(data)
    channel = FakeChannel()
    reachable = [False]

    async def main() -> tuple[str | None, str | None]:
        async with bot_running(
            data, tmp_path / "links.db", ingestor=ingestor, stats_channel_id=555
        ) as bot:

            async def fetch_channel(cid: int) -> FakeChannel:  # the real stats_channel asks
                assert cid == 555
                raise error

            bot.get_channel = lambda cid: None  # type: ignore[method-assign]
            bot.fetch_channel = fetch_channel  # type: ignore[method-assign,assignment]
            real = bot.stats_channel

            async def stats_channel() -> Any:  # the real lookup until the channel is back
                return channel if reachable[0] else await real()

            bot.stats_channel = stats_channel  # type: ignore[method-assign]
            await asyncio.to_thread(ingestor, [REAL / LAST_MAP[0]])
            await ingestor.wait_idle()
            before = refusal_field(await invoke(bot, "status"))
            reachable[0] = True
            await asyncio.to_thread(ingestor, [REAL / LAST_MAP[1]])
            await ingestor.wait_idle()
            return before, refusal_field(await invoke(bot, "status"))

    before, after = run(main())
    assert before is not None and said in before
    assert "1 round post(s) wait" in before
    assert [t for t in channel.titles() if not t.startswith("Scoreboard")] == [
        "braundorf\\_b4 — round 1",
        "braundorf\\_b4 — round 2",
        "Map finished: braundorf\\_b4",
    ]
    assert after is None


def test_the_state_keeps_a_problem_and_the_waiting_rounds_across_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with BotState(path) as st:
        assert st.problem("posting") is None and st.keys("refused") == []
        st.claim_many("refused", ["b", "a"])
        st.set_problem("posting", "first")
        st.set_problem("posting", "second")
    with BotState(path) as st:
        got = st.problem("posting")
        assert got is not None and got[0] == "second" and got[1].tzinfo is not None
        assert sorted(st.keys("refused")) == ["a", "b"] and st.keys("round") == []
        assert st.clear_problem("posting") and not st.clear_problem("posting")
        assert st.problem("posting") is None


# --------------------------------------------------------------------------- over the wire

CHANNEL_MESSAGES = ("POST", "/channels/{channel_id}/messages")


@pytest.fixture
def stage(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stage, SFTPTestServer]]:  # fmt: skip
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_MAP)
    st = Stage.open(data, name="refused")
    server = SFTPTestServer(tmp_path / "sftp")
    st.run(server.start())
    st.fetch_from(server.settings(data), scoreboard_interval_s=0.1)
    try:
        st.start_bot()
        yield st, server
    finally:
        st.stop_bot()
        st.run(server.stop())
        st.close()


#: how the stats channel refuses the bot's posts: the answer and what /status tells to do
WIRE_REFUSALS = {
    "403": ((403, 50013, "Missing Permissions"), "give the bot Send Messages and Embed Links in"),
    "404": ((404, 10003, "Unknown Channel"), "no longer exists"),  # the channel was deleted
}


def lock_channel(st: Stage, answer: tuple[int, int, str]) -> Callable[[bool], None]:
    """The stats channel answers the bot's posts ``answer`` (status, JSON code, message)
    while locked: 403 Missing Permissions (50013), as Discord does when the bot lacks Send
    Messages there, or 404 Unknown Channel (10003) once it was deleted (the bot has not
    heard yet); returns the switch."""
    emu = st.emu
    rest = emu.rest
    channel_of = rest._channel
    locked = [True]

    def channel(req: Request) -> int:
        cid = channel_of(req)
        if locked[0] and req.method == "POST" and cid == emu.stats_channel.id:
            raise Plain(*answer)
        return cid

    st.wire.read(lambda: setattr(rest, "_channel", channel))

    def switch(on: bool) -> None:
        st.wire.read(lambda: locked.__setitem__(0, on))

    return switch


def answered(inter: Interaction) -> Message:
    assert inter.answered, f"/{inter.describe()} was not answered"
    return inter.reply


def sync(st: Stage, server: SFTPTestServer, name: str) -> None:
    """The game server writes a round file; an admin's /sync fetches and commits it."""
    server.write(name, (REAL / name).read_bytes(), age_s=3600)
    reply = answered(st.slash("sync", st.user("admin", admin=True)))
    assert reply.flags & EPHEMERAL and name in reply.text(), reply.text()


def refused_posts(st: Stage, status: int) -> int:
    return len([r for r in st.wire.read(lambda: list(st.emu.requests))
                if r[1:3] == CHANNEL_MESSAGES and r[3] == status])  # fmt: skip


@pytest.mark.parametrize("refusal", sorted(WIRE_REFUSALS))
def test_a_post_the_channel_refused_goes_out_with_the_next_round_over_the_wire(
    stage: tuple[Stage, SFTPTestServer], refusal: str
) -> None:
    """The real client against the emulator: round 1 arrives while the stats channel refuses
    the bot (403 Missing Permissions, or 404 Unknown Channel: it was deleted); /status tells
    what happened and how to fix it. The admin fixes it, round 2 arrives: rounds 1 and 2 and
    the map are posted, once each, and /status no longer shows the refusal."""
    st, server = stage
    answer, fix = WIRE_REFUSALS[refusal]
    status, _, why = answer
    unlock = lock_channel(st, answer)
    sync(st, server, LAST_MAP[0])
    wait_until("the refused post", lambda: refused_posts(st, status) >= 1)
    wait_until("the refusal in /status", lambda: "refused" in answered(st.slash("status")).text())
    problem = answered(st.slash("status")).text()
    assert f"{status} {why}" in problem
    assert fix in problem and f"<#{st.emu.stats_channel.id}>" in problem
    assert not [m for m in st.posts() if LAST_MAP[0] in m.text()]

    unlock(False)  # the admin gives the bot its permissions, or a channel that exists
    sync(st, server, LAST_MAP[1])

    def posted(name: str) -> list[Message]:
        return [m for m in st.posts() if name in m.text()]

    def maps() -> list[Message]:
        return [m for m in st.posts() if m.embeds and
                str(m.embeds[0].get("title", "")).startswith("Map finished")]  # fmt: skip

    wait_until("both rounds and the map", lambda: bool(posted(LAST_MAP[1]) and maps()))
    time.sleep(0.3)  # anything posted twice would be by now
    assert [len(posted(n)) for n in LAST_MAP] == [1, 1]
    assert len(maps()) == 1
    rounds = [m for m in st.posts() if any(n in m.text() for n in LAST_MAP) and not
              str(m.embeds[0].get("title", "")).startswith("Map")]  # fmt: skip
    assert [LAST_MAP[0] in m.text() for m in rounds] == [True, False]  # in the order played
    assert "refused" not in answered(st.slash("status")).text()
    assert not st.refusals() and not st.findings(), (st.refusals(), st.findings())


@REFUSING
def test_a_refused_digest_is_in_status_with_its_fix(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    kind: type[LockedChannel],
    why: str,
    fix: str,
) -> None:
    """The session digest refused by the channel (403; 404: the channel was deleted) only
    reached the log: /status now says so, as for the round posts; the next digest posted
    clears it."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", ())
    channel = kind()

    async def main() -> tuple[str | None, str | None, int]:
        async with bot_running(data, tmp_path / "links.db", channel) as bot:
            digest: Any = bot.get_cog("Digest")
            rep = await bot.stats.last_session()
            with pytest.raises(type(channel.refusal())):
                await digest.post_digest(rep)
            refused = refusal_field(await invoke(bot, "status"))
            channel.locked = False
            assert await digest.post_digest(rep)
            return refused, refusal_field(await invoke(bot, "status")), len(channel.sent)

    refused, after, sent = run(main())
    assert refused is not None and f"session digest was refused {why}" in refused
    assert fix in refused
    assert after is None and sent == 1
