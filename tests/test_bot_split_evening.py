"""An evening the 60-minute session gap split in two, caught up in one commit after the bot
was down across the break (review 103, finding 1).

2025-11-01 without its two middle maps is two lake sessions: supply at 21:13–21:37, then
supply again from 22:35 (68 minutes later). The bot saw the first half's round 1 live, then
was away; one commit brings the first half's round 2 (the end of its map) and the second
half's first map. Both halves are tonight's evening: every post goes out. A round of an
earlier evening (2025-10-12, weeks before) in the same commit is still late: no live post.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from etl_duck.bot.cogs.posts import MAP, NOTHING, ROUND
from etl_duck.pipeline import Ingestor
from tests.bot_fakes import REAL, FakeChannel, bot_running, lake_copy, lake_sql, run

FIRST_HALF = "2025-11-01-212527-supply-round-1.txt"  # in the lake: posted live back then
FIRST_HALF_END = "2025-11-01-213712-supply-round-2.txt"  # the first half's last round
SECOND_HALF = ("2025-11-01-224514-supply-round-1.txt", "2025-11-01-225509-supply-round-2.txt")
#: the last round of 2025-10-12's evening: an earlier evening's missing file
EARLIER = "2025-10-12-225242-sw_goldrush_te-round-2.txt"
#: everything after the first half's round 1 (2025-11-01's later maps, 2025-11-11): the lake
#: ends with it, as the bot last saw it
LATER = tuple(sorted(p.name for p in REAL.glob("2025-11-*.txt") if p.name > FIRST_HALF))
COMMIT = (FIRST_HALF_END, *SECOND_HALF, EARLIER)  # four rounds: within a live commit's reach


def rounds_row(data: Path, name: str) -> tuple[int, datetime]:
    """(session id, end) of a round, straight from the Parquet files."""
    query = f"SELECT session_id, end_time FROM {{t}} WHERE file_name = '{name}'"
    sid, end = lake_sql(data, query, "rounds")[0]
    return int(sid), end


def test_a_split_evening_caught_up_in_one_commit_posts_both_halves(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = lake_copy(tmp_path_factory, tmp_path / "data", (*LATER, EARLIER))
    ingestor = Ingestor(data)
    channel = FakeChannel()

    async def main() -> dict[str, Any]:
        async with bot_running(data, tmp_path / "links.db", channel, ingestor=ingestor) as bot:
            await asyncio.to_thread(ingestor, [REAL / n for n in COMMIT])
            await ingestor.wait_idle()
            state = bot.state
            return {
                "rounds": {n: state.message(ROUND, n) for n in COMMIT},
                "maps": state.count(MAP),
            }

    got = run(main())

    # the lake's own view: two sessions that evening, the earlier evening weeks before
    first, first_end = rounds_row(data, FIRST_HALF_END)
    second, newest = rounds_row(data, SECOND_HALF[1])
    assert (
        rounds_row(data, FIRST_HALF)[0] == first and rounds_row(data, SECOND_HALF[0])[0] == second
    )
    assert first != second  # the gap split the evening …
    assert newest - first_end < timedelta(hours=24)  # … and both halves are tonight's
    earlier, earlier_end = rounds_row(data, EARLIER)
    assert newest - earlier_end > timedelta(hours=24) and earlier not in (first, second)

    titles = [t for t in channel.titles() if not t.startswith("Scoreboard")]
    assert titles == [
        "supply — round 2",  # the first half's last round …
        "Map finished: supply",  # … and its map
        "supply — round 1",  # the second half's map
        "supply — round 2",
        "Map finished: supply",
    ]
    marks = got["rounds"]
    for name in (FIRST_HALF_END, *SECOND_HALF):  # posted: a real message each
        assert marks[name] is not None and marks[name][1] != NOTHING, (name, marks[name])
    assert marks[EARLIER] == (0, NOTHING)  # settled with nothing to post, ever
    assert got["maps"] == 2  # both supply maps of tonight, not 2025-10-12's goldrush
