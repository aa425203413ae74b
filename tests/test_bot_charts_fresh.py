"""The bot's charts draw what its tables say, and its embeds show who played.

* an admin's /set_teams (bot state, not the lake) draws the session charts anew: the old
  teams are not kept by the lake-version cache;
* a commit that lands between reading a board (a leaderboard, a comparison, a rating
  card) and drawing its chart does not file the old chart under the new version;
* a player whose name shows nothing (``^1^2``; NBSP, zero-width space) is shown by his
  GUID: card and map titles, board and session rows, MVP, award and record lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import polars as pl
import pytest

from etl_duck import charts
from etl_duck.bot.client import EtlDuckBot
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import SessionReport
from tests.bot_fakes import (
    REAL,
    FakeInteraction,
    FakeUser,
    bot_running,
    invoke,
    lake_copy,
    make_lake,
    real_files,
    run,
    table_rows,
    template_lake,
)

ADMIN = 1001
#: the last two hours of the last evening: committed while a command runs
LATE = tuple(p.name for p in real_files() if p.name.startswith(("2025-11-11-22", "2025-11-11-23")))
LAST_EVENING = tuple(p.name for p in real_files() if p.name.startswith("2025-11-11-"))
#: two players of the last evening whose names show nothing
BLANK = {"7B84BE88": "^1^2", "1C747DF1": "\u00a0\u200b "}  # colour codes only; NBSP, ZWSP


class Drawer:
    """The chart worker's stand-in, the bot's own: ``draw(chart, *args)`` in this process
    (the process's shared worker, which other tests' bots draw with, is left alone)."""

    def __init__(self, draw: Callable[..., bytes]) -> None:
        self.draw = draw

    def render(self, chart: Callable[..., bytes], *args: Any) -> bytes:
        return self.draw(chart, *args)


# --------------------------------------------------------------------------- 1. /set_teams


def team_chart(chart: Callable[..., bytes], rep: SessionReport) -> bytes:
    """A stand-in for the chart worker: says which teams (names, members) it drew."""
    teams = None if rep.teams is None else [(t.name, sorted(t.guids)) for t in rep.teams]
    return repr((chart.__name__, teams)).encode()


def test_set_teams_draws_the_session_charts_anew(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    lake = template_lake(tmp_path_factory)  # read only: the correction is bot state

    async def main() -> tuple[dict[str, bytes], dict[str, bytes], bytes, SessionReport]:
        async with bot_running(lake, tmp_path / "links.db", admin_user_ids=[ADMIN]) as bot:
            bot.chart_worker = Drawer(team_chart)  # type: ignore[assignment]
            before = (await invoke(bot, "last_session", view="graphs")).last.files
            rep = await bot.stats.last_session()
            assert rep.teams is not None
            a, b = rep.teams
            moved = sorted(a.guids)[0]  # one player of team A played for B after all
            admin = FakeInteraction(bot, FakeUser(id=ADMIN))
            await invoke(
                bot, "set_teams", admin,
                team1="Renamed A", players1=",".join(sorted(a.guids - {moved})),
                team2="Renamed B", players2=",".join(sorted(b.guids | {moved})),
            )  # fmt: skip
            assert admin.last.content == "Teams corrected for this session."
            after = (await invoke(bot, "last_session", view="graphs")).last.files
            digest = (await invoke(bot, "digest")).last.files["session_overview.png"]
            return before, after, digest, await bot.stats.last_session()

    before, after, digest, rep = run(main())
    assert rep.overridden and rep.teams is not None
    now = [(t.name, sorted(t.guids)) for t in rep.teams]
    assert [name for name, _ in now] == ["Renamed A", "Renamed B"]
    assert after["session_overview.png"] == repr(("session_overview_png", now)).encode()
    assert after["dpm_timeline.png"] == repr(("dpm_timeline_png", now)).encode()
    assert after["session_overview.png"] != before["session_overview.png"]
    assert digest == after["session_overview.png"]  # /digest (and the posted one) too


# --------------------------------------------------------------------------- 2. a commit mid-command


def data_chart(chart: Callable[..., bytes], drawn: Any, *_: Any) -> bytes:
    """A stand-in for the chart worker: the rows (board, players, history) it drew."""
    return repr((chart.__name__, drawn.rows())).encode()


def commit_during(bot: EtlDuckBot, method: str, lake: Path) -> None:
    """The background ingest commits the evening's last two hours right after the first
    ``bot.stats.<method>`` call has read its answer: the command draws that (old) answer
    while the lake is already at the next version."""
    real: Callable[..., Awaitable[Any]] = getattr(bot.stats, method)
    fired: list[bool] = []

    async def racing(*args: Any, **kwargs: Any) -> Any:
        answer = await real(*args, **kwargs)
        if not fired:
            fired.append(True)
            await asyncio.to_thread(ingest_paths, lake, [REAL / n for n in LATE])
        return answer

    setattr(bot.stats, method, racing)


@pytest.fixture
def early_lake(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A writable lake of the real files but the last evening's last two hours."""
    return lake_copy(tmp_path_factory, tmp_path / "data", without=LATE)


def test_a_leaderboard_chart_is_never_filed_under_a_newer_version(
    early_lake: Path, tmp_path: Path
) -> None:
    async def main() -> tuple[bytes, bytes, bytes]:
        async with bot_running(early_lake, tmp_path / "links.db") as bot:
            bot.chart_worker = Drawer(data_chart)  # type: ignore[assignment]
            commit_during(bot, "leaderboard", early_lake)
            first = await invoke(bot, "leaderboard", stat="kills", chart=True)
            second = await invoke(bot, "leaderboard", stat="kills", chart=True)
            board = await bot.stats.leaderboard("kills", "all", limit=50)
            return (
                first.last.files["leaderboard.png"],
                second.last.files["leaderboard.png"],
                data_chart(charts.leaderboard_png, board.head(10)),
            )

    first, second, board_now = run(main())
    assert first != board_now  # the race happened: the first reply drew the old board
    assert second == board_now  # the next one draws the board its table shows


def test_a_radar_chart_is_never_filed_under_a_newer_version(
    early_lake: Path, tmp_path: Path
) -> None:
    a, b = "5D989160", "D8423F90"  # both played the last evening's last two hours

    async def main() -> tuple[bytes, bytes, bytes]:
        async with bot_running(early_lake, tmp_path / "links.db") as bot:
            bot.chart_worker = Drawer(data_chart)  # type: ignore[assignment]
            commit_during(bot, "compare", early_lake)
            first = await invoke(bot, "compare", player1=a, player2=b)
            second = await invoke(bot, "compare", player1=a, player2=b)
            rows = await bot.stats.compare(a, b, "all")
            return (
                first.last.files["compare.png"],
                second.last.files["compare.png"],
                data_chart(charts.compare_radar_png, rows),
            )

    first, second, rows_now = run(main())
    assert first != rows_now
    assert second == rows_now


def test_a_rating_chart_is_never_filed_under_a_newer_version(
    early_lake: Path, tmp_path: Path
) -> None:
    guid = "5D989160"

    async def main() -> tuple[bytes, bytes, bytes]:
        async with bot_running(early_lake, tmp_path / "links.db") as bot:
            bot.chart_worker = Drawer(data_chart)  # type: ignore[assignment]
            cog: Any = bot.get_cog("Rating")
            commit_during(bot, "player_rating", early_lake)
            first = await cog.player_reply(1, guid)
            second = await cog.player_reply(1, guid)
            card = await bot.stats.player_rating(guid)
            return (
                dict(first.files)["rating.png"],
                dict(second.files)["rating.png"],
                data_chart(charts.rating_history_png, card.history),
            )

    first, second, history_now = run(main())
    assert first != history_now
    assert second == history_now


# --------------------------------------------------------------------------- 3. names that show nothing


@pytest.fixture(scope="module")
def blank_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The last evening with two players renamed to names that show nothing."""
    base = tmp_path_factory.mktemp("blank")
    (base / "in").mkdir()
    files = []
    for name in LAST_EVENING:
        lines = (REAL / name).read_bytes().split(b"\n")
        for i, line in enumerate(lines[1:], 1):
            parts = line.split(b"\\")
            if len(parts) > 2 and parts[0].decode() in BLANK:
                parts[1] = BLANK[parts[0].decode()].encode()
                lines[i] = b"\\".join(parts)
        (base / "in" / name).write_bytes(b"\n".join(lines))
        files.append(base / "in" / name)
    return make_lake(base / "data", files)


def texts(embeds: list[discord.Embed]) -> list[str]:
    return [
        "\n".join([e.title or "", e.description or ""] + [f"{f.name}\n{f.value}" for f in e.fields])
        for e in embeds
    ]


def test_a_name_that_shows_nothing_is_the_guid_in_the_bots_embeds(
    blank_lake: Path, tmp_path: Path
) -> None:
    async def main() -> dict[str, list[discord.Embed]]:
        async with bot_running(blank_lake, tmp_path / "links.db") as bot:
            bot.chart_worker = Drawer(lambda *_: b"png")  # type: ignore[assignment]
            out: dict[str, list[discord.Embed]] = {}
            asked: list[tuple[str, str, dict[str, Any]]] = [
                ("card", "stats", {"player": "7B84BE88"}),
                ("maps", "map_stats", {"player": "1C747DF1"}),
                ("board", "leaderboard", {"stat": "kills", "window": "session"}),
                ("top", "last_session", {"view": "top"}),
                ("summary", "last_session", {}),
                ("compare", "compare", {"player1": "7B84BE88", "player2": "1C747DF1"}),
                ("teams", "teams", {}),
                ("awards", "awards", {}),
                ("digest", "digest", {}),
            ]
            for key, name, kw in asked:
                inter = await invoke(bot, name, **kw)
                assert not inter.last.ephemeral, inter.last.content
                out[key] = inter.last.embeds
            return out

    got = run(main())
    assert got["card"][0].title == "7B84BE88"
    assert got["maps"][0].title == "1C747DF1 — maps"
    assert got["compare"][0].title == "7B84BE88 vs 1C747DF1"
    board = [r[0].partition(" ")[2] for r in table_rows(str(got["board"][0].description), 2)]
    top = [r[0] for r in table_rows(str(got["top"][0].description), 6)]
    for names in (board, top):  # "# player Kills rounds" / "player rnd K D DPM acc% rev"
        assert {"7B84BE88", "1C747DF1"} <= set(names) and all(n.strip() for n in names)
    for text in (t for embeds in got.values() for t in texts(embeds)):
        assert "****" not in text  # a bold name that shows nothing


def test_the_format_helpers_show_the_guid_for_a_name_that_shows_nothing() -> None:
    from etl_duck.bot.format import cell_of, frame_labels, label_of, labels, player_name

    assert player_name("", "7B84BE88") == "7B84BE88"  # ^1^2 cleans to ""
    assert player_name("\u00a0\u200b", "1C747DF1") == "1C747DF1"
    assert player_name("", None) == ""  # a team's row (no GUID) keeps its name
    assert player_name("vid", "D8423F90") == "vid"
    # two blank names are two GUIDs, not " (7B84)" and " (1C74)"
    assert labels([("7B84BE88", ""), ("1C747DF1", "\u200b")]) == {
        "7B84BE88": "7B84BE88",
        "1C747DF1": "1C747DF1",
    }
    rows = [{"guid": "7B84BE88", "name": ""}, {"guid": "D8423F90", "name": "vid"},
            {"guid": "D8420000", "name": "vid"}]  # fmt: skip
    named = frame_labels(rows)
    assert [cell_of(named, r) for r in rows] == ["7B84BE88", "vid (D8423)", "vid (D8420)"]
    assert label_of(named, rows[0]) == "7B84BE88"
    assert label_of({}, rows[0]) == "7B84BE88"  # whoever made ``named``
    assert label_of({}, {"guid": None, "name": "Team A"}) == "Team A"


def test_award_mvp_and_record_lines_name_a_blank_player_by_guid() -> None:
    from etl_duck.bot.cogs.social import told_apart
    from etl_duck.bot.embeds import posts as post_embeds
    from etl_duck.bot.embeds import session as session_embeds
    from etl_duck.domain.records import Event
    from etl_duck.domain.scoring import Award

    awards = pl.DataFrame(
        {"award": ["Most kills"], "guid": ["7B84BE88"], "name": [""], "value_text": ["31"]}
    )
    assert post_embeds.awards_text(awards, named={}) == "Most kills: **7B84BE88** (31)"
    players = pl.DataFrame(
        {"guid": ["7B84BE88"], "name": ["\u200b"], "kills": [31], "deaths": [9], "dpm": [301.5]}
    )
    mvp = {"guid": "7B84BE88", "name": "\u200b", "kills": 31, "dpm": 301.5}
    post = post_embeds.map_post("supply", players, None, mvp)
    assert post.fields[0].value == "**7B84BE88** — 301.5 DPM, 31 kills"
    assert "7B84BE88" in str(post.fields[1].value)
    rep: Any = SimpleNamespace(players=players, session_id=1, session_date=date(2025, 11, 11),
                               server="")  # fmt: skip
    shown = session_embeds.awards(rep, [Award("Most kills", "7B84BE88", "", 31, "31")])
    assert shown.fields[0].value == "**7B84BE88** — 31"
    record = Event(
        key="k", kind="round_kills", scope="all", session_id=1, file_name="f", end_time=None,
        holder="", guid="7B84BE88", value=31, previous=None, previous_holder=None,
        previous_when=None,
    )  # fmt: skip
    assert "**7B84BE88**" in told_apart([record])[0].text()
