"""Background work: commits → fresh answers and one post per round, the fetch loop inside
the bot, the voice-driven session monitor, command sync only when commands change."""

from __future__ import annotations

import asyncio
import gc
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from etl_duck.bot.commandsync import sync_if_changed
from etl_duck.bot.format import cell
from etl_duck.bot.voice import CachedCount, Change, SessionTracker
from etl_duck.pipeline import Ingestor
from tests.bot_fakes import (
    FakeChannel,
    FakeFetcher,
    FakeInteraction,
    bot_running,
    field_value,
    ingest_under_a_bot,
    invoke,
    lake_copy,
    lake_sql,
    make_bot,
    real_files,
    run,
    started,
    table_rows,
    template_lake,
)
from tests.waiting import until

LAST_MAP = (
    "2025-11-11-233403-braundorf_b4-round-1.txt",
    "2025-11-11-233911-braundorf_b4-round-2.txt",
)


def split_files(held: tuple[str, ...]) -> tuple[list[Path], list[Path]]:
    files = real_files()
    return [f for f in files if f.name not in held], [f for f in files if f.name in held]


def last_session_numbers(data: Path) -> tuple[int, int, int]:
    """(counted rounds, maps, kills) of the last session, from the Parquet files."""
    sid = lake_sql(data, "SELECT max(session_id) FROM {t}", "rounds")[0][0]
    rounds, maps = lake_sql(
        data,
        f"SELECT count(*), count(DISTINCT match_id) FROM {{t}} WHERE counted AND session_id={sid}",
        "rounds",
    )[0]
    kills = lake_sql(data, f"SELECT sum(kills) FROM {{t}} WHERE counted AND session_id={sid}")[0][0]
    return int(rounds), int(maps), int(kills)


def post_kills(embed: Any) -> dict[str, int]:
    """Kills per player from a round post's two team blocks (K/D/G is the second column)."""
    out: dict[str, int] = {}
    for f in embed.fields:
        if str(f.name).endswith(("— attack", "— defence")):
            for row in table_rows(str(f.value), 6):
                out[row[0]] = int(row[1].split("/")[0])
    return out


def round_kills(data: Path, file_name: str, width: int = 16) -> dict[str, int]:
    rows = lake_sql(
        data,
        f"""SELECT p.name, p.kills FROM {{t}} p
            JOIN read_parquet('{data}/lake/rounds/**/*.parquet', hive_partitioning = true) r
              USING (round_id)
            WHERE r.file_name = '{file_name}' AND p.counted""",
    )
    return {cell(n, width): int(k) for n, k in rows}


def test_commit_shows_new_data_and_posts_each_round_once(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, held = split_files(LAST_MAP)
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_MAP)
    before = last_session_numbers(data)
    ingestor = Ingestor(data)
    channel = FakeChannel()

    async def main() -> tuple[FakeInteraction, FakeInteraction, FakeInteraction, FakeInteraction]:
        async with bot_running(data, tmp_path / "links.db", channel, ingestor=ingestor) as bot:
            old = await invoke(bot, "last_session")
            old_board = await invoke(bot, "leaderboard", stat="kills", window="session")
            await asyncio.to_thread(ingestor, held)  # what the fetcher does after a download
            await ingestor.wait_idle()
            new = await invoke(bot, "last_session")
            new_board = await invoke(bot, "leaderboard", stat="kills", window="session")
            posts = len(channel.sent)
            await asyncio.to_thread(ingestor, held)  # the same files again: duplicates
            await ingestor.wait_idle()
            assert len(channel.sent) == posts
            return old, new, old_board, new_board

    old, new, old_board, new_board = run(main())
    after = last_session_numbers(data)
    assert before[:2] == (18, 9) and after[:2] == (20, 10)
    assert f"{before[1]} maps · {before[0]} rounds" in str(old.last.embed.description)
    assert f"{after[1]} maps · {after[0]} rounds" in str(new.last.embed.description)  # not stale
    old_total = sum(int(r[1]) for r in table_rows(str(old_board.last.embed.description), 2))
    new_total = sum(int(r[1]) for r in table_rows(str(new_board.last.embed.description), 2))
    assert (old_total, new_total) == (before[2], after[2])

    board, *posts = channel.sent  # the live scoreboard opened with the first new round
    assert str(board.embed.title).startswith("Scoreboard — Tue 2025-11-11")
    assert [m.embed.title for m in posts] == [
        "braundorf\\_b4 — round 1",
        "braundorf\\_b4 — round 2",
        "Map finished: braundorf\\_b4",
    ]
    for msg, name in zip(posts[:2], held, strict=True):
        assert post_kills(msg.embed) == round_kills(data, name.name, 12)
    both = table_rows(field_value(posts[2].embed, "Both rounds"), 3)
    r1, r2 = (round_kills(data, f.name) for f in held)
    assert {r[0]: int(r[1]) for r in both} == {n: r1.get(n, 0) + r2.get(n, 0) for n in r1 | r2}
    r1_won, r2_won = (
        lake_sql(data, f"SELECT attackers_won FROM {{t}} WHERE file_name = '{f.name}'", "rounds")[
            0
        ][0]
        for f in held
    )
    outcome = "beat the clock" if r2_won else "clock held" if r1_won else "double fullhold"
    assert outcome in str(posts[2].embed.description)


def test_a_backlog_is_one_post(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    held = tuple(f.name for f in real_files() if f.name.startswith("2025-11-11-23"))
    _, rest = split_files(held)
    data = lake_copy(tmp_path_factory, tmp_path / "data", held)
    channel = FakeChannel()
    ingest_under_a_bot(data, tmp_path / "links.db", channel, rest)
    assert len(held) > 4
    assert len(channel.sent) == 1
    assert channel.sent[0].embed.title == f"{len(held)} rounds ingested"


def test_a_partial_file_is_posted_once_complete(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    name = LAST_MAP[1]
    _, (full,) = split_files((name,))
    data = lake_copy(tmp_path_factory, tmp_path / "data", (name,))
    cut = tmp_path / "incoming" / name
    cut.parent.mkdir()
    content = full.read_bytes()
    cut.write_bytes(content[: len(content) * 2 // 3])  # fetched while the server wrote it
    ingestor = Ingestor(data)
    channel = FakeChannel()

    async def main() -> list[int]:
        async with bot_running(data, tmp_path / "links.db", channel, ingestor=ingestor):
            counts = []
            for payload in (content[: len(content) * 2 // 3], content, content):
                cut.write_bytes(payload)
                report = await asyncio.to_thread(ingestor, [cut])
                await ingestor.wait_idle()
                counts.append(len([t for t in channel.titles() if "Scoreboard" not in t]))
                assert report.version >= 1
            return counts

    assert run(main()) == [0, 2, 2]  # partial: nothing; complete: round + map; again: nothing
    assert [t for t in channel.titles() if "Scoreboard" not in t] == [
        "braundorf\\_b4 — round 2",
        "Map finished: braundorf\\_b4",
    ]


def test_fetch_watch_runs_in_the_bot_and_posts_after_its_commits(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, held = split_files(LAST_MAP)
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_MAP)
    ingestor = Ingestor(data)
    pending = list(held)

    def poll() -> list[str]:  # the first poll "downloads" the last map
        batch = [pending.pop() for _ in range(len(pending))]
        if batch:
            ingestor(batch)
        return [p.name for p in batch]

    fetcher = FakeFetcher(on_poll=poll)
    channel = FakeChannel()

    async def main() -> tuple[list[bool], str]:
        async with bot_running(
            data, tmp_path / "links.db", channel, fetcher=fetcher, ingestor=ingestor
        ) as bot:
            await until(
                "three polls and four posts",
                lambda: fetcher.polls >= 3 and len(channel.sent) >= 4,
            )
            await ingestor.wait_idle()
            assert fetcher.watching and bot.fetch_state.running
            bot.tracker.active = True  # a voice session: the watch must see `active`
            seen = len(fetcher.active_seen)
            await until(
                "two watches after the session", lambda: len(fetcher.active_seen) >= seen + 2
            )
            status = await invoke(bot, "status")
            return fetcher.active_seen, field_value(status.last.embed, "Fetch")

    active_seen, fetch_line = run(main())
    assert [t for t in channel.titles() if "Scoreboard" not in t] == [  # once each, in order
        "braundorf\\_b4 — round 1",
        "braundorf\\_b4 — round 2",
        "Map finished: braundorf\\_b4",
    ]
    assert active_seen[0] is False and active_seen[-1] is True
    assert fetch_line.startswith("watching; last poll")
    assert fetcher.closed and not fetcher.watching  # stopped and closed with the bot


def test_a_fatal_fetch_error_stops_the_loop_not_the_bot(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()

    class BrokenFetcher(FakeFetcher):
        async def watch(self, stop: asyncio.Event, active: Any = None, **kw: Any) -> None:
            raise RuntimeError("host key for game.example:22 does not match known_hosts")

    async def main() -> str:
        async with bot_running(data, tmp_path / "links.db", fetcher=BrokenFetcher()) as bot:
            await until("the fetch error", lambda: bool(bot.fetch_state.error))
            status = await invoke(bot, "status")
            return field_value(status.last.embed, "Fetch")

    line = run(main())
    assert line.startswith("stopped") and "does not match known_hosts" in line


def test_status_shows_a_fetch_outage_while_it_lasts_and_the_last_poll_with_its_date(
    tmp_path: Path,
) -> None:
    """The bot's fetch loop ran without on_trouble: while the game server was down /status
    said "watching; last poll 21:38:19" (a time of day, no date) and nothing else."""
    data = tmp_path / "data"
    data.mkdir()
    down = "cannot connect to etl@game.example:22: Connection refused; retrying in 8 s"
    phase = {"recovered": False}

    class TroubledFetcher(FakeFetcher):
        async def watch(
            self,
            stop: asyncio.Event,
            active: Any = None,
            *,
            on_report: Any = None,
            on_trouble: Any = None,
        ) -> None:
            on_report(await self.poll_once())  # a good poll, then the server goes down
            if on_trouble is not None:
                on_trouble("", down)
            while not phase["recovered"] and not stop.is_set():
                await asyncio.sleep(0.01)
            if on_trouble is not None:
                on_trouble("", None)  # a poll works again
            await stop.wait()

    async def main() -> tuple[str, str]:
        async with bot_running(data, tmp_path / "links.db", fetcher=TroubledFetcher()) as bot:
            await until("the outage in the state", lambda: bool(bot.fetch_state.error))
            during = field_value((await invoke(bot, "status")).last.embed, "Fetch")
            phase["recovered"] = True
            await until("the all-clear", lambda: bot.fetch_state.error is None)
            after = field_value((await invoke(bot, "status")).last.embed, "Fetch")
            return during, after

    during, after = run(main())
    assert during.startswith("watching; last poll ") and f"trouble: {down}" in during
    # its date and age, not a bare time of day
    assert re.search(r"last poll \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+ s ago\)", during)
    assert after.startswith("watching; last poll ") and "trouble" not in after
    assert "Connection refused" not in after


# --------------------------------------------------------------------------- voice


def test_session_tracker_rules() -> None:
    t = SessionTracker(start_players=6, end_players=2, end_after_s=600)
    assert t.update(5, 0) is None and not t.active
    assert t.update(6, 10) is Change.STARTED and t.active
    assert t.update(1, 20) is None and t.below_since == 20
    assert t.update(3, 300) is None and t.below_since is None  # came back: countdown reset
    assert t.update(1, 400) is None
    assert t.update(1, 999) is None  # 599 s below
    assert t.update(0, 1000) is Change.ENDED and not t.active
    assert t.peak == 6


def test_cached_count_recounts_at_most_every_interval() -> None:
    now = [0.0]
    count = CachedCount(5.0, lambda: now[0])
    calls = []

    def counter() -> int:
        calls.append(now[0])
        return len(calls)

    assert count.get(counter) == 1
    for step in range(50):  # a burst of events within 4.9 s
        count.mark_dirty()
        now[0] = step * 0.1
        count.get(counter)
    assert len(calls) == 1 and count.wait_before_recount() > 0
    now[0] = 5.0
    assert count.get(counter) == 2 and calls == [0.0, 5.0]
    assert count.get(counter) == 2  # not dirty: no recount


@dataclass
class FakeMember:
    id: int
    bot: bool = False


@dataclass
class FakeGuild:
    members: dict[int, FakeMember] = field(default_factory=dict)

    def get_member(self, uid: int) -> FakeMember | None:
        return self.members.get(uid)


@dataclass
class FakeVoiceChannel:
    id: int
    guild: FakeGuild
    voice_states: dict[int, object] = field(default_factory=dict)


@dataclass
class FakeVoiceState:
    channel: FakeVoiceChannel | None


def test_voice_sessions_start_fast_polling_and_end_with_a_post(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = template_lake(tmp_path_factory)  # read only here
    guild = FakeGuild({i: FakeMember(i, bot=(i == 99)) for i in (1, 2, 3, 4, 99)})
    voice = FakeVoiceChannel(10, guild)
    other = FakeVoiceChannel(11, guild)
    offset = [0.0]
    channel = FakeChannel()

    async def main() -> tuple[int, int, bool, bool]:
        bot = make_bot(
            data,
            links_at=tmp_path / "links.db",
            clock=lambda: time.monotonic() + offset[0],
            voice_channel_ids=[10],
            session_start_players=4,
            session_end_players=2,
            session_end_minutes=1.0,
            voice_recount_s=0.2,
        )
        channels = {10: voice, 11: other}
        bot.get_channel = lambda cid: channels.get(cid)  # type: ignore[method-assign,assignment,return-value]
        await started(bot, channel)
        cog: Any = bot.get_cog("Voice sessions")
        try:

            async def move(uid: int, before: FakeVoiceChannel | None, after: Any) -> None:
                if before is not None:
                    before.voice_states.pop(uid, None)
                if after is not None:
                    after.voice_states[uid] = object()
                await cog.on_voice_state_update(
                    guild.members[uid], FakeVoiceState(before), FakeVoiceState(after)
                )

            for uid in (1, 2, 3, 4, 99):  # four people and a music bot join at once
                await move(uid, None, voice)
            await move(1, voice, voice)  # mute/unmute: no recount
            await move(3, other, other)  # another channel: ignored
            # the interval passes; the pending recount runs (waited for, not slept: on a
            # busy machine 0.35 s was not always enough)
            await until("the recount after the joins", lambda: bot.tracker.players == 4)
            recounts, players = cog.count.recounts, bot.tracker.players
            started_ok = bot.tracker.active and bot.session_active()
            for uid in (2, 3, 4):  # the evening ends
                await move(uid, voice, None)
            await until("the recount after the leaves", lambda: bot.tracker.players == 1)
            assert bot.tracker.active and bot.tracker.players == 1
            offset[0] += 61.0  # a minute below two players
            change = await cog.evaluate()
            assert change is Change.ENDED
            await until("the session digest", lambda: bool(channel.sent))
            return recounts, players, started_ok, bot.session_active()
        finally:
            await bot.close()
            bot.links.close()

    recounts, players, started_ok, still_active = run(main())
    assert players == 4  # humans only
    assert recounts <= 2  # five joins and two other events: at most two recounts
    assert started_ok and not still_active
    assert len(channel.sent) == 1
    post = channel.sent[0]
    assert str(post.embed.title) == "Session digest — Tue 2025-11-11"
    assert post.files["session_overview.png"].startswith(b"\x89PNG")
    assert all(b.closed for b in post.buffers)


# --------------------------------------------------------------------------- setup


def test_no_privileged_intents(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, links_at=tmp_path / "links.db")
    intents = bot.intents
    assert not (intents.members or intents.presences or intents.message_content)
    assert intents.voice_states and intents.guilds
    bot.links.close()


def test_commands_sync_only_when_changed(tmp_path: Path) -> None:
    synced: list[int | None] = []

    async def fake_sync(*, guild: Any = None) -> list[Any]:
        synced.append(None if guild is None else guild.id)
        return []

    async def one_start(**settings: Any) -> bool:
        bot = make_bot(tmp_path, links_at=tmp_path / "links.db", **settings)
        bot.tree.sync = fake_sync  # type: ignore[method-assign]
        await bot.load_cogs()
        try:
            return await sync_if_changed(bot)
        finally:
            await bot.close()
            bot.links.close()

    async def main() -> list[bool]:
        return [
            await one_start(discord_guild_id=123),  # development: to the guild
            await one_start(discord_guild_id=123),  # unchanged: no request
            await one_start(discord_guild_id=123, production=True),  # production: global
            await one_start(discord_guild_id=123, production=True),
        ]

    assert run(main()) == [True, False, True, False]
    assert synced == [123, None]
    assert (tmp_path / "state" / "commands.json").exists()


def test_commands_resync_after_a_change(tmp_path: Path) -> None:
    calls: list[Any] = []

    async def fake_sync(*, guild: Any = None) -> list[Any]:
        calls.append(guild)
        return []

    async def one_start(remove: bool) -> bool:
        bot = make_bot(tmp_path, links_at=tmp_path / "links.db", discord_guild_id=5)
        bot.tree.sync = fake_sync  # type: ignore[method-assign]
        await bot.load_cogs()
        if remove:
            await bot.remove_cog("Status")
        try:
            return await sync_if_changed(bot)
        finally:
            await bot.close()
            bot.links.close()

    async def main() -> list[bool]:
        return [await one_start(False), await one_start(True), await one_start(True)]

    assert run(main()) == [True, True, False]


EXPECTED_COGS = [
    "Admin", "Digest", "Fetch", "Leaderboards", "Links", "Players", "Rating", "Records",
    "Round posts", "Scoring", "Sessions", "Social", "Static site", "Status", "Voice sessions",
]  # fmt: skip
EXPECTED_COMMANDS = [
    "admin_link", "awards", "balance", "cache", "compare", "digest", "display_name",
    "find_player", "last_session", "leaderboard", "lineups", "link", "map_stats", "predict",
    "rating", "records", "rivals", "session", "session_score", "sessions", "set_teams", "stats",
    "status", "sync", "teammates", "teams", "unlink",
]  # fmt: skip


def test_setup_hook_loads_one_cog_per_feature(tmp_path: Path) -> None:
    synced: list[Any] = []

    async def fake_sync(*, guild: Any = None) -> list[Any]:
        synced.append(guild)
        return []

    async def main() -> tuple[list[str], list[str]]:
        bot = make_bot(tmp_path, links_at=tmp_path / "links.db", discord_guild_id=9)
        bot.sync_commands = True
        bot.tree.sync = fake_sync  # type: ignore[method-assign]
        try:
            await bot.setup_hook()
            return sorted(bot.cogs), sorted(c.name for c in bot.tree.get_commands())
        finally:
            await bot.close()
            bot.links.close()
            gc.unfreeze()

    cogs, commands = run(main())
    assert cogs == EXPECTED_COGS
    assert commands == EXPECTED_COMMANDS
    assert len(synced) == 1 and synced[0].id == 9  # development: one guild


def test_a_download_by_the_real_fetcher_makes_the_bot_poll_fast(tmp_path: Path) -> None:
    """The live bug: the bot read an attribute only the test fake had, so a file arriving
    never sped up polling. Drive the real Fetcher against the real SFTP test server."""
    from etl_duck.fetch.poller import Fetcher
    from tests.sftp_server import SFTPTestServer

    data = tmp_path / "data"
    data.mkdir()
    first = real_files()[0]

    async def main() -> tuple[bool, list[str], bool]:
        async with SFTPTestServer(tmp_path / "sftp") as server:
            server.write_known_hosts()
            ingestor = Ingestor(data)
            fetcher = Fetcher(server.settings(data), ingest=ingestor)
            bot = make_bot(data, fetcher=fetcher, ingestor=ingestor)
            try:
                before = bot.session_active()
                server.write(first.name, first.read_bytes(), age_s=3600)
                report = await fetcher.poll_once()
                return before, report.downloaded, bot.session_active()
            finally:
                await fetcher.close()
                bot.links.close()

    before, downloaded, after = run(main())
    assert before is False
    assert downloaded == [first.name]
    assert after is True  # a file arrived within the session gap: poll fast


def test_a_round_fetched_into_a_lake_an_older_parser_made_is_posted(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The first commit after a parser upgrade re-reads every file from raw/ (a rebuild);
    the round that commit brought is still news and is posted — and only it, not the
    history the rebuild read again."""
    import json

    _, held = split_files(LAST_MAP)
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_MAP)
    manifest = (data / "lake").resolve() / "_manifest.json"
    text = json.loads(manifest.read_text())
    text["options"]["parser_version"] -= 1  # as an older parser left it
    manifest.write_text(json.dumps(text, separators=(",", ":")))
    ingestor = Ingestor(data)
    channel = FakeChannel()
    reports: list[object] = []

    async def main() -> None:
        async with bot_running(data, tmp_path / "links.db", channel, ingestor=ingestor):
            reports.append(await asyncio.to_thread(ingestor, held))
            await ingestor.wait_idle()

    run(main())
    (report,) = reports
    assert getattr(report, "reparsed", False) and getattr(report, "rebuilt", False)
    _, *posts = channel.sent  # the live scoreboard, then the round posts
    assert [m.embed.title for m in posts] == [
        "braundorf\\_b4 — round 1",
        "braundorf\\_b4 — round 2",
        "Map finished: braundorf\\_b4",
    ]
