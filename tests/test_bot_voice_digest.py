"""The evening played in voice and its digests: a break in voice shorter than the lake's
session gap (the digest is brought up to date, once), two game servers the same evening
(each session gets its own digest, its server named), a restart of the bot mid-evening
(the voice session goes on)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import discord
import pytest

from etl_duck.bot.voice import Change
from etl_duck.botstate import BotState
from etl_duck.pipeline import Ingestor
from tests.bot_fakes import (
    FakeChannel,
    Sent,
    bot_running,
    invoke,
    lake_copy,
    real_files,
    run,
)

EVENING = [f for f in real_files() if f.name.startswith("2025-11-11")]  # 21:26 → 23:39
WITHOUT_EVENING = tuple(f.name for f in EVENING)
#: two maps on a "pub" server after midnight, more than the session gap (60 min) after the
#: main server's evening ended (23:39): the lake's last session, on its own
PUB = {
    "2025-10-02-230707-braundorf_b4-round-1.txt": "2025-11-12-010707-braundorf_b4-round-1.txt",
    "2025-10-02-231506-braundorf_b4-round-2.txt": "2025-11-12-011506-braundorf_b4-round-2.txt",
    "2025-10-02-232339-erdenberg_t2-round-1.txt": "2025-11-12-012339-erdenberg_t2-round-1.txt",
    "2025-10-02-232818-erdenberg_t2-round-2.txt": "2025-11-12-012818-erdenberg_t2-round-2.txt",
}
HOST = b"^a#^7p^au^7rans^a.^7only"  # the main server's name in its files


def digests(sent: list[Sent]) -> list[Sent]:
    return [m for m in sent if str(m.embed.title).startswith("Session digest")]


def first_line(embed: discord.Embed) -> str:
    return str(embed.description).splitlines()[0]


class Voice:
    """Drives a bot's voice cog: ``players`` in voice, ``dt`` seconds later."""

    def __init__(self, bot: Any, now: list[float], count: list[int]) -> None:
        self.bot, self.now, self.count = bot, now, count
        self.cog: Any = bot.get_cog("Voice sessions")
        self.cog.members_in_voice = lambda: count[0]

    async def step(self, players: int, dt: float = 60.0) -> Change | None:
        self.count[0] = players
        self.now[0] += dt
        self.cog.count.mark_dirty()
        change: Change | None = await self.cog.evaluate()
        if change is Change.ENDED:  # the digests are posted in the background: wait
            posts = [t for t in self.bot._tasks if t.get_name() == "session-end-post"]
            await asyncio.gather(*posts)
        return change

    async def evening_ends(self) -> None:
        assert await self.step(0) is None  # below two: the countdown (10 min) starts
        assert await self.step(0, 600) is Change.ENDED


def bot_with_voice(
    data: Path, tmp_path: Path, channel: FakeChannel, ingestor: Ingestor, now: list[float]
) -> Any:
    clock: Callable[[], float] = lambda: now[0]  # noqa: E731
    return bot_running(
        data,
        tmp_path / "links.db",
        channel,
        ingestor=ingestor,
        clock=clock,
        voice_channel_ids=[10],
    )


async def ingest(ingestor: Ingestor, files: list[Path], server: str = "") -> None:
    await asyncio.to_thread(ingestor.for_server(server), files)
    await ingestor.wait_idle()


def test_a_break_in_voice_brings_the_digest_up_to_date_once(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Voice empties for dinner (10 min, within the lake's 60-min gap): the digest covers
    the first half. The group comes back and plays on in the same lake session: at the
    real end the digest message is edited to the whole evening (as /last_session shows
    it); a third session end with nothing new touches nothing."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", WITHOUT_EVENING)
    ingestor = Ingestor(data)
    channel = FakeChannel()
    now, count = [1000.0], [0]

    async def main() -> tuple[list[Sent], list[tuple[int, Sent]], str, int, int]:
        async with bot_with_voice(data, tmp_path, channel, ingestor, now) as bot:
            voice = Voice(bot, now, count)
            assert await voice.step(6) is Change.STARTED
            await ingest(ingestor, EVENING[:12])  # 21:26 → 22:41
            await voice.evening_ends()  # dinner
            first = digests(channel.sent)
            assert len(first) == 1 and "12 rounds" in first_line(first[0].embed)
            assert await voice.step(6, 1200) is Change.STARTED  # back after 30 min
            await ingest(ingestor, EVENING[12:])  # 22:54 → 23:39, the same lake session
            await voice.evening_ends()
            last = await invoke(bot, "last_session")
            sent, edits = len(channel.sent), len(channel.edits)
            assert await voice.step(6, 600) is Change.STARTED  # a chat: nothing is played
            await voice.evening_ends()
            return (
                list(channel.sent),
                list(channel.edits),
                first_line(last.last.embed),
                len(channel.sent) - sent,
                len(channel.edits) - edits,
            )

    sent, edits, last_session, sent_after, edits_after = run(main())
    posted = digests(sent)
    assert len(posted) == 1  # edited, not posted again
    [message_id] = [mid for mid, m in channel.messages.items() if m.sent is posted[0]]
    edited = [m for mid, m in edits if mid == message_id]
    assert len(edited) == 1
    assert "10 maps · 20 rounds" in last_session
    assert first_line(edited[0].embed) == last_session  # the channel's digest = /last_session
    assert str(edited[0].embed.title) == "Session digest — Tue 2025-11-11"
    assert "updated" in str(edited[0].embed.footer.text)
    assert sent_after == 0 and edits_after == 0  # nothing new: nothing posted or edited


def test_a_deleted_digest_is_followed_by_one_updated_digest(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The first digest's message was deleted: the update is a new post, once."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", WITHOUT_EVENING)
    ingestor = Ingestor(data)
    channel = FakeChannel()
    now, count = [1000.0], [0]

    async def main() -> tuple[list[Sent], str]:
        async with bot_with_voice(data, tmp_path, channel, ingestor, now) as bot:
            voice = Voice(bot, now, count)
            assert await voice.step(6) is Change.STARTED
            await ingest(ingestor, EVENING[:12])
            await voice.evening_ends()
            channel.deleted.update(channel.messages)  # somebody cleaned the channel up
            assert await voice.step(6, 1200) is Change.STARTED
            await ingest(ingestor, EVENING[12:])
            await voice.evening_ends()
            assert await voice.step(6, 600) is Change.STARTED
            await voice.evening_ends()
            last = await invoke(bot, "last_session")
            return digests(channel.sent), first_line(last.last.embed)

    posted, last_session = run(main())
    assert [str(m.embed.title) for m in posted] == [
        "Session digest — Tue 2025-11-11",
        "Session digest (updated) — Tue 2025-11-11",
    ]
    assert first_line(posted[-1].embed) == last_session


def pub_files(tmp_path: Path) -> list[Path]:
    src = {f.name: f for f in real_files()}
    folder = tmp_path / "pub"
    folder.mkdir()
    out = []
    for old, new in PUB.items():
        raw = src[old].read_bytes()
        assert HOST in raw  # another server's files: not the same content as main's
        (folder / new).write_bytes(raw.replace(HOST, b"pub server", 1))
        out.append(folder / new)
    return out


def test_two_servers_each_session_of_the_evening_gets_its_digest(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The community plays on main (21:19 → 23:39); after midnight a few play two maps on
    the pub server. Voice empties: both sessions get a digest (the pub one no longer hides
    the evening), each once, the pub one's title (and scoreboard) naming its server."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", WITHOUT_EVENING)
    ingestor = Ingestor(data)
    channel = FakeChannel()
    now, count = [1000.0], [0]
    pub = pub_files(tmp_path)

    async def main() -> tuple[list[Sent], str, str, int]:
        async with bot_with_voice(data, tmp_path, channel, ingestor, now) as bot:
            voice = Voice(bot, now, count)
            assert await voice.step(6) is Change.STARTED
            for i in range(0, len(EVENING), 4):
                await ingest(ingestor, EVENING[i : i + 4])
            await ingest(ingestor, pub, "pub")
            await voice.evening_ends()
            main_last = await invoke(bot, "last_session", server="main")
            pub_last = await invoke(bot, "last_session")
            sent = len(channel.sent)
            assert await voice.step(6, 600) is Change.STARTED
            await voice.evening_ends()
            return (
                list(channel.sent),
                first_line(main_last.last.embed),
                str(pub_last.last.embed.title),
                len(channel.sent) - sent,
            )

    sent, main_last, pub_title, again = run(main())
    posted = digests(sent)
    assert [str(m.embed.title) for m in posted] == [
        "Session digest — Tue 2025-11-11",
        f"Session digest — {pub_title.removeprefix('Session ').split(' · ')[0]} · server pub",
    ]
    assert first_line(posted[0].embed) == main_last  # the main evening: 10 maps
    assert "10 maps · 20 rounds" in main_last
    assert "2 maps · 4 rounds" in first_line(posted[1].embed)
    boards = [str(m.embed.title) for m in sent if str(m.embed.title).startswith("Scoreboard")]
    assert "Scoreboard — Tue 2025-11-11" in boards
    assert any(t.endswith(" · server pub") for t in boards)
    assert again == 0


def test_a_restart_mid_evening_keeps_the_voice_session(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The bot restarts while 5 of the 6 are in voice (fewer than start a session), and
    again during the end countdown: the session goes on (fast polling) and ends with one
    digest of the whole evening; a later start of the bot resumes nothing."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", WITHOUT_EVENING)
    ingestor = Ingestor(data)
    channel = FakeChannel()
    now, count = [1000.0], [0]

    async def life(steps: list[tuple[int, float, list[Path]]]) -> tuple[bool, list[Any]]:
        async with bot_with_voice(data, tmp_path, channel, ingestor, now) as bot:
            voice = Voice(bot, now, count)
            resumed = bot.tracker.active and bot.session_active()
            out = []
            for players, dt, files in steps:
                if files:
                    await ingest(ingestor, files)
                out.append(await voice.step(players, dt))
            return resumed, out

    async def main() -> list[tuple[bool, list[Any]]]:
        return [
            await life([(6, 60, EVENING[:2]), (6, 600, EVENING[2:4]), (5, 600, EVENING[4:6])]),
            await life(
                [(5, 60, []), (5, 600, EVENING[6:12]), (5, 600, EVENING[12:]), (1, 900, [])]
            ),
            await life([(0, 300, []), (0, 600, [])]),  # restarted during the countdown
            await life([(0, 60, [])]),  # the evening is over: nothing to resume
        ]

    lives = run(main())
    assert lives[0] == (False, [Change.STARTED, None, None])
    assert lives[1] == (True, [None, None, None, None])
    assert lives[2] == (True, [None, Change.ENDED])  # the countdown starts again
    assert lives[3] == (False, [None])
    posted = digests(channel.sent)
    assert len(posted) == 1
    assert "10 maps · 20 rounds" in first_line(posted[0].embed)


def test_a_stale_voice_session_is_not_resumed(tmp_path: Path) -> None:
    """A voice session noted more than a day ago (the bot was down): dropped at start."""
    (tmp_path / "data").mkdir()
    state = BotState(tmp_path / "links-state.sqlite3")
    old = {"started": time.time() - 2 * 86400, "marks": {}}
    state.set_note("voice", "session", json.dumps(old))
    state.close()

    async def main() -> tuple[bool, str | None]:
        async with bot_running(
            tmp_path / "data", tmp_path / "links.db", voice_channel_ids=[10]
        ) as bot:
            return bot.tracker.active, bot.state.note("voice", "session")

    assert run(main()) == (False, None)


class StuckFetcher:
    """The final fetch before the digest, still under way when the bot is stopped."""

    last_download = None
    last_activity = None

    async def poll_once(self) -> Any:
        await asyncio.sleep(3600)

    async def close(self) -> None:
        return None


def test_a_bot_stopped_before_the_digest_posts_it_when_it_starts_again(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Voice empties and the bot is stopped (a deploy) during the final fetch before the
    digest: the voice session was forgotten at once, so the evening's digest was never
    posted. It is kept, marked ended, until its digests are out."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", WITHOUT_EVENING)
    ingestor = Ingestor(data)
    channel = FakeChannel()
    now, count = [1000.0], [0]

    async def first_life() -> None:
        async with bot_with_voice(data, tmp_path, channel, ingestor, now) as bot:
            voice = Voice(bot, now, count)
            assert await voice.step(6) is Change.STARTED
            await ingest(ingestor, EVENING)
            bot.fetcher = StuckFetcher()
            assert await voice.step(0) is None
            count[0], now[0] = 0, now[0] + 600
            voice.cog.count.mark_dirty()
            assert await voice.cog.evaluate() is Change.ENDED
            await asyncio.sleep(0.2)  # in the final fetch: the bot stops here

    async def second_life() -> tuple[bool, str | None]:
        async with bot_with_voice(data, tmp_path, channel, ingestor, now) as bot:
            posts = [t for t in bot._tasks if t.get_name() == "session-end-post"]
            await asyncio.gather(*posts)
            return bot.tracker.active, bot.state.note("voice", "session")

    run(first_life())
    assert digests(channel.sent) == []
    assert run(second_life()) == (False, None)  # not resumed as a session: finished
    posted = digests(channel.sent)
    assert len(posted) == 1 and "10 maps · 20 rounds" in first_line(posted[0].embed)


def test_a_voice_session_over_before_its_start_was_noted_leaves_no_note(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The start notes each server's last round (a lake query): a session that ended while
    that query ran wrote its note back after the end dropped it, and the next start of the
    bot resumed a session that was over."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", WITHOUT_EVENING)
    channel = FakeChannel()
    now, count = [1000.0], [0]

    async def main() -> str | None:
        async with bot_with_voice(data, tmp_path, channel, Ingestor(data), now) as bot:
            voice = Voice(bot, now, count)
            asked, go_on = asyncio.Event(), asyncio.Event()
            real = voice.cog._lake_marks

            async def slow_marks() -> Any:
                asked.set()
                await go_on.wait()
                return await real()

            voice.cog._lake_marks = slow_marks
            start = asyncio.create_task(voice.step(6))
            await asyncio.wait_for(asked.wait(), 30)
            bot.tracker.active = False  # ended meanwhile (a short countdown)
            go_on.set()
            assert await start is Change.STARTED
            note: str | None = bot.state.note("voice", "session")
            return note

    assert run(main()) is None


def test_a_digest_the_channel_refused_gives_its_records_back(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The digest claims the session's records and milestones before it posts: a refused
    post kept them claimed, so the digest that went out later counted them as "announced
    during the evening" and nobody ever saw them."""
    from etl_duck.bot.cogs.social import ANNOUNCED
    from tests.test_bot_posts_safety import LockedChannel

    data = lake_copy(tmp_path_factory, tmp_path / "data", ())
    channel = LockedChannel()

    async def main() -> tuple[list[str], list[str], str]:
        async with bot_running(data, tmp_path / "links.db", channel) as bot:
            digest: Any = bot.get_cog("Digest")
            rep = await bot.stats.last_session()
            with pytest.raises(discord.Forbidden):
                await digest.post_digest(rep)
            held = bot.state.keys(ANNOUNCED)
            channel.locked = False
            assert await digest.post_digest(rep)
            return held, bot.state.keys(ANNOUNCED), str(channel.sent[-1].embed.to_dict())

    held, after, posted = run(main())
    assert held == []  # given back when the post was refused
    assert after and "announced during the evening" not in posted  # told by the digest
