"""The bot over Discord's wire protocol: every slash command and view, paging to the last page,
1-character autocomplete, the longest input Discord lets a user type, admin gates through real
role payloads, 50 interactions at once and a 5-second query.

The bot starts through ``etl_duck.bot._serve`` against the emulator (tests/discord_emulator),
which refuses whatever Discord would refuse and records it; every test ends with no refusal.
Two lakes: the 92 real files, and a large synthetic one (four months of a community plus a
30-player night whose players all have 35-character names made of Markdown characters).
Numbers are checked against plain DuckDB over the lake's Parquet files, not the bot's queries.
"""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import discord
import pytest

from etl_duck.domain.metrics import METRICS
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from etl_duck.synth import generate
from tests.bot_fakes import lake_copy, lake_sql, table_rows
from tests.discord_emulator.payloads import EPHEMERAL, Message
from tests.discord_emulator.server import Interaction
from tests.discord_emulator.stage import Stage
from tests.machine import within

CROWD_NIGHT = date(2025, 5, 20)  # after the four months of conftest's synthetic_lake
CROWD = 30
PNG = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- lakes and stages


@pytest.fixture(scope="module")
def crowd_lake(tmp_path_factory: pytest.TempPathFactory, synthetic_lake: tuple[Path, Any]) -> Path:
    """conftest's synthetic lake (hard-linked: commits never change a file in place) plus one
    30-player night of the longest names."""
    src, _ = synthetic_lake
    data = tmp_path_factory.mktemp("crowd") / "data"
    shutil.copytree(src, data, symlinks=True, copy_function=os.link)
    files = tmp_path_factory.mktemp("crowd-files")
    generate(files, seed=11, start=CROWD_NIGHT, days=1, crowd=CROWD, longest_names=True)
    ingest_paths(data, [files])
    return data


@pytest.fixture(scope="module", params=["real", "synthetic"])
def stage(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:  # fmt: skip
    if request.param == "real":
        data = lake_copy(tmp_path_factory, tmp_path_factory.mktemp("wire-real") / "data")
        st = Stage.open(data, name="real", min_rounds=1)
    else:
        st = Stage.open(request.getfixturevalue("crowd_lake"), name="synthetic")
    try:
        st.start_bot()
        yield st
    finally:
        st.close()
    # the test-only endpoints were the bot's only while it ran
    assert discord.http.Route.BASE == "https://discord.com/api/v10"


@dataclass(frozen=True)
class Facts:
    """What the lake holds, by plain SQL over its Parquet files."""

    min_rounds: int
    top_guid: str
    second_guid: str
    top_kills: int
    board_size: int  # players with at least min_rounds counted rounds
    last_date: date
    last_players: int
    sessions: int
    guids: frozenset[str]
    dates: frozenset[str]
    last_guids: tuple[str, ...]  # the last session's counted players, most rounds first
    a_map: str


def facts(st: Stage) -> Facts:
    data = st.data
    min_rounds = int(st.settings.get("min_rounds", 10))
    board = lake_sql(
        data,
        f"SELECT guid, sum(kills) AS k FROM {{t}} WHERE counted GROUP BY guid "
        f"HAVING count(*) >= {min_rounds} ORDER BY k DESC, guid",
    )
    last = lake_sql(data, "SELECT max(session_date) FROM {t}", "rounds")[0][0]
    players = lake_sql(
        data,
        "SELECT count(DISTINCT guid) FROM {t} WHERE counted AND session_id = "
        "(SELECT max(session_id) FROM {t})",
    )[0][0]
    # sessions with a counted round (what every session command lists)
    sessions = lake_sql(data, "SELECT count(DISTINCT session_id) FROM {t} WHERE counted", "rounds")[0][0]  # fmt: skip
    guids = {r[0] for r in lake_sql(data, "SELECT DISTINCT guid FROM {t}")}
    dates = {r[0].isoformat() for r in lake_sql(data, "SELECT DISTINCT session_date FROM {t}", "rounds")}  # fmt: skip
    last_guids = tuple(r[0] for r in lake_sql(
        data,
        "SELECT guid FROM {t} WHERE counted AND session_id = (SELECT max(session_id) FROM {t}) "
        "GROUP BY guid ORDER BY count(*) DESC, guid",
    ))  # fmt: skip
    a_map = lake_sql(data, "SELECT min(map_name) FROM {t} WHERE counted", "rounds")[0][0]
    return Facts(min_rounds, board[0][0], board[1][0], int(board[0][1]), len(board), last,
                 int(players), int(sessions), frozenset(guids), frozenset(dates), last_guids,
                 str(a_map))  # fmt: skip


@pytest.fixture
def st(stage: Stage) -> Iterator[Stage]:
    """The module's stage, clean: nothing refused or misread during the test."""
    with stage.clean():
        yield stage


def answered(inter: Interaction) -> Message:
    assert inter.answered, f"/{inter.describe()} was not answered"
    reply = inter.reply
    assert not reply.loading, f"/{inter.describe()} is still 'thinking…'"
    assert reply.content or reply.embeds, f"/{inter.describe()} answered nothing"
    return reply


def pngs(reply: Message) -> dict[str, bytes]:
    out = {a.filename: a.data for a in reply.attachments}
    assert all(d.startswith(PNG) for d in out.values()), "an attachment is not a PNG"
    return out


# --------------------------------------------------------------------------- every command


def test_every_command_and_view_answers_within_discords_limits(st: Stage) -> None:
    f = facts(st)
    emu = st.emu
    player = st.user("player")
    calls: list[tuple[str, dict[str, Any]]] = []
    for view in ("summary", "top", "maps", "weapons", "graphs"):
        calls.append(("last_session", {"view": view}))
    calls += [
        ("session", {"date": f.last_date.isoformat(), "view": "graphs"}),
        ("session", {"date": f.last_date.isoformat()}),
        ("sessions", {}),
        ("sessions", {"month": f.last_date.strftime("%Y-%m")}),
        ("leaderboard", {"stat": "kills", "chart": True}),
    ]
    calls += [("leaderboard", {"stat": key}) for key in METRICS]
    calls += [("leaderboard", {"stat": "dpm", "window": w})
              for w in ("season", "month", "week", "session")]  # fmt: skip
    blue, red = f.last_guids[:2], f.last_guids[2:4]
    calls += [
        ("stats", {"player": f.top_guid}),
        ("compare", {"player1": f.top_guid, "player2": f.second_guid}),
        ("find_player", {"text": "a"}),
        ("map_stats", {"player": f.top_guid}),
        ("session_score", {}),
        ("teams", {}),
        ("awards", {"date": f.last_date.isoformat()}),
        ("set_teams", {"team1": "Blue", "players1": ", ".join(blue), "team2": "Red",
                       "players2": ", ".join(red)}),
        ("teams", {"date": f.last_date.isoformat()}),
        ("set_teams", {"clear": True}),
        ("teammates", {"player": f.top_guid}),
        ("lineups", {}),
        ("rivals", {"player": f.top_guid}),
        ("records", {}),
        ("records", {"map": f.a_map}),
        ("digest", {}),
        ("digest", {"date": f.last_date.isoformat()}),
        ("rating player", {"player": f.top_guid}),
        ("rating top", {}),
        ("balance", {"players": ", ".join(f.last_guids[:4])}),
        ("predict", {}),
        ("status", {}),
        ("cache", {}),
        ("sync", {}),
    ]  # fmt: skip
    replies: dict[str, Message] = {}
    for name, options in calls:
        reply = answered(st.slash(name, **options))
        replies[f"{name} {sorted(options.items())}"] = reply
    # linking: /link asks for proof; an admin links the member; the card follows the link
    asked = answered(st.slash("link", player, player=f.top_guid))
    assert asked.ephemeral and "in your in-game name" in asked.content
    assert "Linked" in answered(st.slash("admin_link", member=player, player=f.top_guid)).content
    card = answered(st.slash("stats", member=player))
    assert f.top_guid in card.embeds[0]["description"]
    assert "Champ" in answered(st.slash("display_name", player, name="Champ")).content
    assert "removed" in answered(st.slash("unlink", player)).content
    called = {name for name, _ in calls} | {"link", "admin_link", "display_name", "unlink"}
    assert called == set(st.wire.read(emu.command_names)), "a command is not exercised here"
    # the bot connected with the transport compression discord.py picks: zstd-stream when
    # zstandard is installed (a dev dependency), zlib-stream otherwise
    import importlib.util

    wanted = "zstd-stream" if importlib.util.find_spec("zstandard") else "zlib-stream"
    assert set(emu.gateway.compressions) == {wanted}, emu.gateway.compressions
    corrected = replies[f"teams {sorted({'date': f.last_date.isoformat()}.items())}"]
    assert "Blue" in corrected.text() and "Red" in corrected.text()

    # numbers, against plain SQL over the Parquet files
    board = replies[f"leaderboard {sorted({'stat': 'kills', 'chart': True}.items())}"]
    first = table_rows(board.embeds[0]["description"], 2)[0]
    assert first[1] == f"{f.top_kills:,}"
    assert set(pngs(board)) == {"leaderboard.png"}
    summary = replies["last_session [('view', 'summary')]"].embeds[0]
    assert f"{f.last_players} players" in summary["description"]
    graphs = replies["last_session [('view', 'graphs')]"]
    assert set(pngs(graphs)) == {"session_overview.png", "dpm_timeline.png"}
    if st.name == "synthetic":
        assert f.last_players == CROWD
    assert f.top_guid in replies[f"stats {sorted({'player': f.top_guid}.items())}"].embeds[0]["description"]  # fmt: skip


# --------------------------------------------------------------------------- paging


def page_through(st: Stage, first: Message, user: Any = None) -> list[Message]:
    """Press ▶ until it is disabled; every page as the user saw it (copies: the message
    itself is edited in place)."""
    pages = [st.wire.read(lambda: copy.deepcopy(first))]
    message = first
    for _ in range(100):
        nxt = [b for b in message.buttons() if b.get("label") == "▶"]
        if not nxt or nxt[0].get("disabled"):
            return pages
        inter = st.click(message, "▶", user)
        message = answered(inter)
        assert inter.response_type == 7, "a page turn edits the message in place"
        assert message.id == first.id
        pages.append(st.wire.read(partial(copy.deepcopy, message)))
    raise AssertionError("more than 100 pages")


def page_rows(page: Message) -> list[list[str]]:
    return table_rows(page.embeds[0]["description"], 2)


def test_paged_answers_turn_to_the_last_page(st: Stage) -> None:
    f = facts(st)
    owner = st.emu.owner
    # the kills leaderboard: 50 ranks at most, 10 a page, the last page ends at the last rank
    first = answered(st.slash("leaderboard", stat="kills"))
    counters = [b["label"] for b in first.buttons() if "/" in str(b.get("label"))]
    pages = page_through(st, first, owner)
    expected = min(50, f.board_size)
    assert len(pages) == -(-expected // 10) and counters == [f"1/{len(pages)}"]
    ranks = [int(r[0].split()[0]) for p in pages for r in page_rows(p)]
    assert ranks == list(range(1, expected + 1))
    assert pages[-1].embeds[0]["footer"]["text"].startswith(f"page {len(pages)}/{len(pages)}")
    last = first  # the message (now showing the last page)
    # someone else cannot turn the pages: a private note, the message unchanged
    stranger = st.user("stranger")
    back = [b for b in last.buttons() if b.get("label") == "◀"]
    if back and not back[0].get("disabled"):
        other = st.click(last, "◀", stranger)
        note = answered(other)
        assert other.response_type == 4 and note.flags & EPHEMERAL
        assert "Only the person" in note.content
        assert last.text() == pages[-1].text()
        turned = answered(st.click(last, "◀", owner))
        assert turned.embeds[0]["footer"]["text"].startswith(f"page {len(pages) - 1}/")
    # the session list: every session on some page
    sessions = page_through(st, answered(st.slash("sessions")), owner)
    listed = sum(len(table_rows(p.embeds[0]["description"], 5)) for p in sessions)
    assert listed == f.sessions
    assert sessions[-1].embeds[0]["footer"]["text"] == (
        f"page {len(sessions)}/{len(sessions)} · {f.sessions} sessions"
    )
    # a player's maps
    maps = page_through(st, answered(st.slash("map_stats", player=f.top_guid)), owner)
    assert f.top_guid in maps[-1].embeds[0]["footer"]["text"]


# --------------------------------------------------------------------------- autocomplete


FIRST_CHAR = {"stat": "k", "window": "s", "date": "2", "month": "2"}  # players: "a"


def options_of(st: Stage) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(what a user types after the slash, the part holding the options, one option) for
    every option of every command and sub-command the bot registered."""
    out = []
    for name in st.wire.read(st.emu.command_names):
        _, part = st.wire.read(partial(st.emu.schema, name))
        out += [(name, part, o) for o in part.get("options") or []]
    return out


def test_autocomplete_with_one_character(st: Stage) -> None:
    f = facts(st)
    months = {d[:7] for d in f.dates}
    # a date option offers sessions (a date can hold two): it sends their ids
    session_ids = {str(r[0]) for r in lake_sql(st.data, "SELECT DISTINCT session_id FROM {t}", "rounds")}  # fmt: skip
    tried = 0
    for command, _, option in options_of(st):
        if not option.get("autocomplete"):
            continue
        name = option["name"]
        text = FIRST_CHAR.get(name, "a")
        inter = st.autocomplete(command, name, text)
        assert inter.answered and inter.choices is not None, f"/{command} {name}"
        values = [str(c["value"]) for c in inter.choices]
        assert values, f"/{command} {name}: no choice for {text!r}"
        if name.startswith("player"):
            assert set(values) <= f.guids
        elif name == "date":
            assert set(values) <= session_ids
        elif name == "month":
            assert set(values) <= months
        elif name == "stat":
            assert set(values) <= set(METRICS) and "kills" in values
        tried += 1
    assert tried >= 9  # every autocompleted option of every command
    if st.name == "synthetic":  # the crowd's 35-character Markdown names come back whole
        inter = st.autocomplete("stats", "player", "*")
        names = [str(c["name"]) for c in inter.choices or []]
        assert names and max(len(n) for n in names) >= 35 + len(" (12345678)")


# --------------------------------------------------------------------------- hostile input


def test_the_longest_input_a_user_can_type_is_answered_within_limits(st: Stage) -> None:
    """Discord lets a user type up to an option's max_length (6,000 characters when the
    command declares none) into a string option; whatever the bot echoes must still fit."""
    tried = 0
    for command, part, option in options_of(st):
        if option["type"] != 3 or option.get("choices"):
            continue
        longest = int(option.get("max_length", 6000))
        text = ("*_`|" * 1500)[:longest]  # Markdown characters: escaping doubles them
        options = {option["name"]: text, **_required(st, part, option)}
        answered(st.slash(command, None, **options))
        tried += 1
    assert tried >= 20


def _required(st: Stage, part: dict[str, Any], but: dict[str, Any]) -> dict[str, Any]:
    """Valid values for the other required options."""
    values: dict[str, Any] = {"stat": "kills", "player1": "a", "player2": "b",
                              "date": "2025-01-01", "text": "a", "player": "a"}  # fmt: skip
    out: dict[str, Any] = {}
    for o in part.get("options") or []:
        if o.get("required") and o["name"] != but["name"]:
            out[o["name"]] = st.emu.owner if o["type"] == 6 else values[o["name"]]
    return out


# --------------------------------------------------------------------------- admins


def test_admin_commands_refuse_non_admins_by_their_role_payloads(st: Stage) -> None:
    member = st.user("member")
    impostor = st.user("impostor", fake_admin=True)  # a role named "Admin", not the admin role
    admin = st.user("admin", admin=True)
    for user in (member, impostor):
        for name in ("sync", "cache"):
            reply = answered(st.slash(name, user))
            assert reply.flags & EPHEMERAL and "Only admins" in reply.content, (user.name, name)
    cache = answered(st.slash("cache", admin))
    assert cache.flags & EPHEMERAL and cache.embeds, "an admin gets the cache statistics"
    sync = answered(st.slash("sync", admin))
    assert "not configured" in sync.content  # this stage has no game server


# --------------------------------------------------------------------------- load


BURST: list[tuple[str, dict[str, Any]]] = [("leaderboard", {"stat": k}) for k in METRICS] + [
    ("last_session", {"view": v}) for v in ("summary", "top", "maps", "weapons")
] + [("sessions", {}), ("status", {}), ("session_score", {}), ("teams", {}), ("awards", {}),
     ("find_player", {"text": "a"}), ("leaderboard", {"stat": "dpm", "chart": True})]  # fmt: skip


def test_fifty_interactions_at_once_are_all_answered(st: Stage) -> None:
    f = facts(st)
    emu = st.emu
    calls = [BURST[i % len(BURST)] for i in range(50)]
    calls[::7] = [("stats", {"player": f.top_guid})] * len(calls[::7])

    async def burst() -> list[Interaction]:
        users = [emu.add_user(f"user{i}", roles=[emu.member_role]) for i in range(50)]
        started = [await emu.start_slash(n, u, **o) for (n, o), u in zip(calls, users, strict=True)]  # fmt: skip
        await asyncio.gather(*(asyncio.wait_for(i.done.wait(), 60) for i in started))
        return started

    inters = st.run(burst())
    for inter in inters:
        answered(inter)
    assert all(i.ack_s is not None and within(i.ack_s, 3.0, "an ack") for i in inters)
    assert len({i.reply.id for i in inters}) == 50


@pytest.mark.parametrize("stage", ["real"], indirect=True)  # the timing is not the data's
def test_a_five_second_query_is_acknowledged_within_three_seconds(
    st: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = facts(st)
    slow = Stats.player

    def five_seconds(self: Stats, *args: Any, **kwargs: Any) -> Any:
        time.sleep(5.0)
        return slow(self, *args, **kwargs)

    monkeypatch.setattr(Stats, "player", five_seconds)
    emu = st.emu

    async def both() -> tuple[Interaction, Interaction]:
        found = await emu.start_slash("stats", player=f.top_guid)
        missing = await emu.start_slash("stats", player="nobody-by-this-name")
        await asyncio.gather(found.done.wait(), missing.done.wait())
        return found, missing

    found, missing = st.run(both())
    for inter in (found, missing):
        assert inter.response_type == 5 and inter.ack_s is not None
        assert within(inter.ack_s, 3.0, "the ack")
    card = answered(found)
    assert f.top_guid in card.embeds[0]["description"] and not card.ephemeral
    # "not found" is a private answer even after a public "thinking…"
    visible = [m for m in st.wire.read(lambda: list(emu.messages.values()))
               if m.interaction_id == missing.id and not m.deleted]  # fmt: skip
    assert [m.ephemeral for m in visible] == [True], "the 'not found' note is shown to everyone"
    assert "Player not found" in visible[0].text()
