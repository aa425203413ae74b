"""Rounds another process committed (review 110): a cron ``etl-duck fetch``, ``etl-duck
watch`` or an admin's ``etl-duck ingest`` commits tonight's round first, so the bot's own
ingest sees nothing new. The bot notices the lake's version move without a commit of its own
and posts the live rounds it has not seen, under the same rules as its own: once each, the
map after its round 2, nothing after a rebuild, nothing for an earlier evening's late round.

"Another process" is :func:`ingest_paths` / :func:`rebuild` on the same data dir, outside
the bot's :class:`Ingestor` (no commit listener: what a separate process's commit looks
like to the bot).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import etl_duck.bot.deliver as deliver
from etl_duck.bot.client import EtlDuckBot
from etl_duck.bot.cogs.posts import MAP, ROUND, RoundPostsCog
from etl_duck.ingest.run import ingest_paths, rebuild
from etl_duck.pipeline import Ingestor
from tests.bot_fakes import REAL, FakeChannel, bot_running, lake_copy, run

#: 2025-11-01's last two maps: an earlier evening's files (late when they land tonight)
LATE = (
    "2025-11-01-233014-sw_goldrush_te-round-1.txt",
    "2025-11-01-234251-sw_goldrush_te-round-2.txt",
    "2025-11-01-235515-etl_adlernest-round-1.txt",
    "2025-11-02-000624-etl_adlernest-round-2.txt",
)
#: tonight's (2025-11-11) last map
TONIGHT = (
    "2025-11-11-233403-braundorf_b4-round-1.txt",
    "2025-11-11-233911-braundorf_b4-round-2.txt",
)
ROUND_1, ROUND_2, MAP_DONE = (
    "braundorf\\_b4 — round 1",
    "braundorf\\_b4 — round 2",
    "Map finished: braundorf\\_b4",
)


def posted(channel: FakeChannel) -> list[str]:
    return [t for t in channel.titles() if not t.startswith("Scoreboard")]


def boards(channel: FakeChannel) -> int:
    return sum(t.startswith("Scoreboard") for t in channel.titles())


async def elsewhere(data: Path, *names: str) -> None:
    """Another process commits ``names`` (the bot gets no report of it)."""
    await asyncio.to_thread(ingest_paths, data, [REAL / n for n in names])


def cog_of(bot: EtlDuckBot) -> RoundPostsCog:
    cog = bot.get_cog("Round posts")
    assert isinstance(cog, RoundPostsCog)
    return cog


def test_a_round_another_process_committed_is_posted_once_with_its_map(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The bot takes the lake as it finds it (no post for the evening already there); then
    another process commits tonight's round 1, round 2: each is posted once, the map after
    round 2, the scoreboard goes up. Looking again posts nothing; another process's rebuild
    (every file listed again) posts nothing; an earlier evening's late rounds are not
    posted live."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", LATE + TONIGHT)
    channel = FakeChannel()

    async def main() -> dict[str, Any]:
        async with bot_running(data, tmp_path / "links.db", channel) as bot:
            cog = cog_of(bot)
            got: dict[str, Any] = {"first": await cog.check_lake(), "after_first": posted(channel)}
            await elsewhere(data, TONIGHT[0])
            got["moved"] = await cog.check_lake()
            got["after_r1"] = posted(channel)
            got["same"] = await cog.check_lake()  # the version compare: nothing read
            await elsewhere(data, TONIGHT[1])
            await cog.check_lake()
            await cog.scoreboards.flush()
            got["after_r2"] = posted(channel)
            got["boards"] = boards(channel)
            await asyncio.to_thread(rebuild, data)
            got["rebuilt"] = await cog.check_lake()
            got["after_rebuild"] = posted(channel)
            await elsewhere(data, *LATE)
            await cog.check_lake()
            got["after_late"] = posted(channel)
            got["marks"] = [bot.state.message(ROUND, n) for n in TONIGHT]
            got["maps"] = bot.state.count(MAP)
            return got

    got = run(main())
    assert got["first"] and got["after_first"] == []  # the lake as the bot found it
    assert got["moved"] and got["after_r1"] == [ROUND_1]
    assert got["same"] is False
    assert got["after_r2"] == [ROUND_1, ROUND_2, MAP_DONE]
    assert got["boards"] == 1
    assert got["rebuilt"] and got["after_rebuild"] == [ROUND_1, ROUND_2, MAP_DONE]
    assert got["after_late"] == [ROUND_1, ROUND_2, MAP_DONE]
    assert all(m is not None and m[1] > 0 for m in got["marks"]), got["marks"]
    assert got["maps"] == 1


def test_rounds_committed_while_the_bot_was_away_are_posted_when_it_starts(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The bot has looked at the lake and stops; a cron fetch commits tonight's last map
    while it is down. Its next start posts round 1, round 2 and the map, once; a second
    start posts nothing."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", TONIGHT)
    channel = FakeChannel()
    links, state_at = tmp_path / "links.db", tmp_path / "state.sqlite3"

    async def start() -> None:
        async with bot_running(data, links, channel, state_at=state_at) as bot:
            await cog_of(bot).on_ready()

    run(start())
    assert posted(channel) == []  # a first start: the evening already in the lake is no news
    ingest_paths(data, [REAL / n for n in TONIGHT])
    run(start())
    assert posted(channel) == [ROUND_1, ROUND_2, MAP_DONE]
    run(start())
    assert posted(channel) == [ROUND_1, ROUND_2, MAP_DONE]


def test_the_background_look_posts_what_another_process_committed(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No call from the test: the look the bot starts once it is ready finds the round."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", TONIGHT)
    channel = FakeChannel()

    async def main() -> list[str]:
        async with bot_running(data, tmp_path / "links.db", channel) as bot:
            cog = cog_of(bot)
            cog.check_every = 0.02
            await cog.on_ready()
            await elsewhere(data, TONIGHT[0])
            for _ in range(500):  # up to 10 s
                if posted(channel):
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)  # a second post would have come by now
            return posted(channel)

    assert run(main()) == [ROUND_1]


def test_a_commit_of_the_bot_and_another_process_s_post_each_round_once_in_order(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Another process commits round 1; before the bot looks, its own fetch commits round 2
    while looks race with it: round 1, round 2 and the map go out once each, in play order
    (the bot's commit posts what others committed since its last look, in one batch)."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", TONIGHT)
    ingestor = Ingestor(data)
    channel = FakeChannel()

    async def main() -> list[str]:
        async with bot_running(data, tmp_path / "links.db", channel, ingestor=ingestor) as bot:
            cog = cog_of(bot)
            await cog.check_lake()
            await elsewhere(data, TONIGHT[0])
            own = asyncio.to_thread(ingestor, [REAL / TONIGHT[1]])
            await asyncio.gather(own, *(cog.check_lake() for _ in range(3)))
            await ingestor.wait_idle()
            await cog.check_lake()
            return posted(channel)

    assert run(main()) == [ROUND_1, ROUND_2, MAP_DONE]


def test_a_whole_evening_another_process_committed_is_one_backlog_line(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The lake ends with 2025-11-01 when the bot looks; a cron fetch after a day away
    commits all of 2025-11-11 at once: more rounds than a commit posts live, so one backlog
    line, as for a backlog the bot's own fetch brings; the evening of 2025-11-01, live at the
    bot's look, gets nothing."""
    evening = tuple(sorted(p.name for p in REAL.glob("2025-11-11-*.txt")))
    data = lake_copy(tmp_path_factory, tmp_path / "data", evening)
    channel = FakeChannel()

    async def main() -> list[str]:
        async with bot_running(data, tmp_path / "links.db", channel) as bot:
            cog = cog_of(bot)
            await cog.check_lake()
            await elsewhere(data, *evening)
            await cog.check_lake()
            await cog.check_lake()
            return posted(channel)

    assert run(main()) == [f"{len(evening)} rounds ingested"]


class LostAnswers(FakeChannel):
    """Discord makes the message (once per nonce) but every answer to one title is lost."""

    def __init__(self, lose: str) -> None:
        super().__init__()
        self.lose = lose
        self.nonces: set[Any] = set()

    async def send(self, content: str | None = None, **kw: Any) -> Any:
        title = str(kw["embed"].title) if kw.get("embed") is not None else ""
        if title == self.lose:
            if kw.get("nonce") not in self.nonces:  # one message per nonce
                self.nonces.add(kw.get("nonce"))
                await super().send(content, **kw)
            raise TimeoutError("answer lost")
        return await super().send(content, **kw)


def test_a_post_whose_answer_was_lost_is_not_sent_again_at_the_next_change(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post that failed otherwise than by a refusal may have made its message: the next
    lake change (maybe an hour on, past Discord's nonce minutes) must not send it again
    (review 123: the last look was not recorded after such a failure, so it was)."""
    monkeypatch.setattr(deliver, "FIRST_PAUSE_S", 0.0)
    monkeypatch.setattr(deliver, "MAX_PAUSE_S", 0.0)
    data = lake_copy(tmp_path_factory, tmp_path / "data", TONIGHT)
    first = "braundorf\\_b4 — round 1"
    channel = LostAnswers(first)

    async def main() -> list[str]:
        async with bot_running(data, tmp_path / "links.db", channel) as bot:
            cog = cog_of(bot)
            await cog.check_lake()
            await elsewhere(data, TONIGHT[0])
            await cog.check_lake()  # every answer lost: the post fails, its claim released
            channel.lose = ""  # later the answers arrive (and Discord forgot the nonce)
            channel.nonces.clear()
            await elsewhere(data, TONIGHT[1])
            await cog.check_lake()
            return posted(channel)

    got = run(main())
    assert got.count(first) == 1, got
    assert "braundorf\\_b4 — round 2" in got  # the next round goes out as usual
