"""Embeds that grow with an evening fit Discord's limits (review 204): the emulator's rules
(``tests/discord_emulator/rules.py``: 6,000 characters in all, 4,096 a description, 1,024 a
field, 25 fields, …) over what the bot builds for a long evening of a crowd with the longest,
Markdown-heaviest names; a cut never leaves half an escape; a scoreboard edit Discord refuses
as malformed (400) is in /status; the "Which player?" menu and /compare tell two of one name
apart (and a name that shows nothing is his GUID, not an empty select label).

The evening: 30 players of 35-character names that are all Markdown but a two-digit number,
16 maps. Before the fix its scoreboard reached 6,148-6,227 characters from map 14 on, which
Discord refuses (400): the scoreboard froze for the evening and /status said nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import discord
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import etl_duck.synth as synth
from etl_duck.bot.cogs.posts import SCOREBOARD
from etl_duck.bot.embeds import posts, session
from etl_duck.bot.embeds.scoreboard import digest, scoreboard
from etl_duck.bot.format import (
    EMBED_MAX,
    FIELD_MAX,
    cut,
    esc,
    fit_embed,
    fit_first,
    fit_last,
)
from etl_duck.bot.respond import PlayerChooser
from etl_duck.domain.scoring import pick_mvp, session_awards
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import PlayerAmbiguous, SessionReport, Stats
from tests.bot_fakes import REAL, FakeChannel, FakeMessage, bot_running, invoke, lake_copy, run
from tests.discord_emulator.rules import check_components, check_message
from tests.discord_emulator.stage import Stage

NIGHT = date(2025, 5, 20)
MAPS = 16
CROWD = 30


def problems(*embeds: discord.Embed) -> list[str]:
    """What Discord would refuse in a message of these embeds (the emulator's rules)."""
    return [str(v) for v in check_message({"embeds": [e.to_dict() for e in embeds]})]


def lone_backslash(text: str) -> bool:
    """Ends in half an escape: an odd run of backslashes before the end (or before a "…")."""
    run_ = len(text.removesuffix("…")) - len(text.removesuffix("…").rstrip("\\"))
    return run_ % 2 == 1


def texts(e: discord.Embed) -> list[str]:
    return [
        str(t) for t in (e.title, e.description, e.footer.text, *(f.value for f in e.fields)) if t
    ] + [str(f.name) for f in e.fields]


# --------------------------------------------------------------------------- the evening


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stats]:
    """A lake of one long evening (16 maps) of 30 players with 35-character names that are
    Markdown but for a tell-apart number (each doubles when escaped)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(synth, "_MAPS_PER_EVENING", ((MAPS, 1.0),))
        mp.setattr(synth, "_longest_name", lambda handle, n: (f"{n:02d}" + "*_~|>`" * 6)[:35])
        night = tmp_path_factory.mktemp("night")
        synth.generate(night, seed=11, start=NIGHT, days=1, crowd=CROWD, longest_names=True)
    data = tmp_path_factory.mktemp("crowded") / "data"
    ingest_paths(data, [night])
    yield Stats(data, min_rounds=1)


@pytest.fixture(scope="module")
def evening(crowded: Stats) -> SessionReport:
    sid, sdate = crowded.session_id_for(None)
    return crowded.session_by_id(sid, sdate)


def test_the_live_scoreboard_of_a_long_crowded_evening_fits_and_keeps_the_score(
    evening: SessionReport,
) -> None:
    """The evening's scoreboard, after every map: within Discord's limits (6,000 in all),
    the score first, the newest map last; older maps give way ("… N earlier maps"), the
    rosters keep whole names."""
    assert evening.maps.height >= 12, evening.maps.height  # the case: a long evening
    longest = 0
    for n in range(1, evening.maps.height + 1):
        rep = dataclasses.replace(evening, maps=evening.maps.head(n))
        e = scoreboard(rep)
        assert not problems(e), (n, problems(e))
        longest = max(longest, len(e))
        description = str(e.description)
        newest = esc(evening.maps["map_name"][n - 1])
        assert description.rstrip().split("\n")[-1].startswith(f"`{n:>2}` **{newest}**")
        if evening.segments:
            assert description.startswith("**"), description[:80]  # the score stays first
        dropped = re.search(r"^… (\d+) earlier maps$", description, re.MULTILINE)
        if dropped:  # only the oldest, and as many as it says
            assert f"`{int(dropped[1]) + 1:>2}` **" in description
            assert f"`{int(dropped[1]):>2}` **" not in description
        for f in e.fields:
            assert not lone_backslash(str(f.value)), f.value
    # the whole evening is at the limit: the maps were what gave way
    assert longest > EMBED_MAX - 200, longest


def test_every_post_of_the_evening_fits(crowded: Stats, evening: SessionReport) -> None:
    """Round posts, map posts and the digest of the crowded evening, and the session's
    answers (/last_session's views, /session_score, /teams, /awards): Discord takes them."""
    rounds = evening.rounds.filter(pl.col("counted"))
    for name in rounds["file_name"].to_list():
        detail = crowded.round_detail(str(name))
        assert detail is not None
        match = evening.maps.filter(pl.col("match_id") == detail.round["match_id"])
        row = match.row(0, named=True) if match.height else None
        notes = [f"🏆 Record {esc(n)} by **{esc(n * 3)}**" for n in rounds["file_name"].head(12)]
        e = posts.round_post(detail, row, notes)
        assert not problems(e), (name, problems(e))
        if detail.round["round_number"] == 2 and row is not None:
            players = crowded.match_players(detail.session_date, detail.round["match_id"])
            m = posts.map_post(str(detail.round["map_name"]), players, row, pick_mvp(players, 2))
            assert not problems(m), (name, problems(m))
    vs = crowded.session_vs_average(evening.session_id, evening.session_date)
    many = [f"🏆 Record {i}: **{esc(n)}**" for i, n in enumerate(evening.players["name"])]
    d = digest(evening, session_awards(evening.players), vs, many, many, chart="x.png")
    # as the digest cog shows an updated digest
    d.title = "Session digest (updated)" + str(d.title).removeprefix("Session digest")
    d.set_footer(text=f"{d.footer.text} · updated")
    assert not problems(d), problems(d)
    answers = [session.summary(evening), session.top(evening), session.maps(evening),
               session.score(evening), session.teams(evening),
               session.awards(evening, session_awards(evening.players))]  # fmt: skip
    for e in answers:
        assert not problems(e), (e.title, problems(e))
        assert not any(lone_backslash(t) for t in texts(e)), e.title


# --------------------------------------------------------------------------- the rules


@settings(max_examples=300, deadline=None)
@given(name=st.text(alphabet="ab*_~|>`\\#-[]()", max_size=80), limit=st.integers(1, 90))
def test_a_cut_never_leaves_half_an_escape(name: str, limit: int) -> None:
    """A cut of escaped text is within its limit and never ends in a lone backslash (it
    would escape the "…", or show): ``esc("*_~")[:5]`` was ``\\*\\_\\``."""
    text = esc(name)
    out = cut(text, limit)
    assert len(out) <= limit
    assert out == text or out.endswith("…")
    assert not lone_backslash(out), (text, out)
    assert text.startswith(out.removesuffix("…"))


def test_a_roster_is_cut_between_two_names() -> None:
    names = [esc("*_~|>`" * 6)] * 40
    value = fit_first(names, FIELD_MAX)
    assert len(value) <= FIELD_MAX
    shown = value.count(names[0])
    assert value == ", ".join(names[:shown]) + f", … and {40 - shown} more"
    assert fit_first(["a", "b"], 1024) == "a, b"
    assert fit_first([], 10) == ""


def test_the_last_guard_brings_any_embed_within_the_limits() -> None:
    """``fit_embed``: title, description, fields (25, names, values), footer and the whole
    within Discord's limits, with nothing to do for an embed that fits."""
    big = discord.Embed(title="t" * 300, description=esc("*") * 3000)
    for i in range(30):
        big.add_field(name="n" * 300, value=esc("_") * 700 if i else "")
    big.set_footer(text="f" * 3000)
    assert problems(big)
    fit_embed(big)
    assert not problems(big), problems(big)
    assert len(big) <= EMBED_MAX
    assert not any(lone_backslash(t) for t in texts(big))
    small = discord.Embed(title="t", description="d").add_field(name="n", value="v")
    assert (
        fit_embed(small).to_dict()
        == discord.Embed(title="t", description="d").add_field(name="n", value="v").to_dict()
    )
    # the "… N earlier" line is within the limit too, even where nothing else fits
    assert len(fit_last(["a" * 50] * 3, 8)) <= 8
    lines = ["a" * 10, "b" * 10, "c" * 10]
    assert fit_last(lines, 32, " maps") == "\n".join(lines)
    assert fit_last(lines, 31, " maps") == "… 2 earlier maps\n" + "c" * 10


# --------------------------------------------------------------------------- a refused edit


class _BadRequest:
    status = 400
    reason = "Bad Request"


class _MalformedMessage(FakeMessage):
    async def edit(self, **kw: Any) -> FakeMessage:
        if self.channel.refuse:  # type: ignore[attr-defined]
            raise discord.HTTPException(
                _BadRequest(),
                {"code": 50035, "message": "Invalid Form Body",
                 "errors": {"embeds": {"0": {"_errors": [
                     {"code": "MESSAGE_EMBEDS_LENGTH_EXCEEDED",
                      "message": "Embed size exceeds maximum size of 6000"}]}}}},
            )  # fmt: skip
        return await super().edit(**kw)


class MalformedChannel(FakeChannel):
    """A channel where Discord refuses the scoreboard's edit as malformed (400) while
    ``refuse``: what it answers an embed over a limit."""

    refuse = True

    def get_partial_message(self, message_id: int) -> FakeMessage:
        return _MalformedMessage(self, message_id, self.messages[message_id].sent)


def _board_problem(inter: Any) -> str | None:
    fields = [f for f in inter.last.embed.fields if "refused" in str(f.name)]
    return str(fields[0].value) if fields else None


def test_a_scoreboard_edit_refused_as_malformed_is_in_status_until_one_goes_through(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Discord refuses the scoreboard's edit (400 Invalid Form Body): no retry helps and the
    scoreboard stands still, so /status says so (with what to do); the next edit that goes
    through clears it. Before, the 400 went to the log only and /status said nothing."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", ())
    channel = MalformedChannel()

    async def main() -> tuple[str | None, str | None, int]:
        async with bot_running(data, tmp_path / "links.db", channel) as bot:
            rep = await bot.stats.last_session()
            board = await channel.send(embed=discord.Embed(title="Scoreboard"))
            key = str(rep.session_id)
            await asyncio.to_thread(bot.state.set_message, SCOREBOARD, key, channel.id, board.id)
            cog: Any = bot.get_cog("Round posts")
            await cog.refresh_scoreboard(rep.session_id, rep.session_date)
            await cog.scoreboards.flush()
            refused = _board_problem(await invoke(bot, "status"))
            channel.refuse = False
            await cog.refresh_scoreboard(rep.session_id, rep.session_date)
            await cog.scoreboards.flush()
            after = _board_problem(await invoke(bot, "status"))
            return refused, after, len(channel.edits)

    refused, after, edits = run(main())
    assert refused is not None, "the refused scoreboard edit is not in /status"
    assert "The live scoreboard edit was refused (400 Invalid Form Body" in refused, refused
    assert "maximum size of 6000" in refused and "report it with the bot's log" in refused
    assert after is None, after
    assert edits == 1  # the edit that went through; the refused one made nothing


# --------------------------------------------------------------------------- names told apart


def test_the_chooser_labels_are_the_bots_names_within_discords_limits() -> None:
    """ "Which player?": a name that shows nothing (``^7^1^2``) is his GUID, not an empty
    label (Discord refuses the menu); two of one name are told apart; a long name keeps its
    mark within the 100. The emulator's select rules say what Discord would refuse."""
    long = "x" * 120
    exc = PlayerAmbiguous("vid", [("652EB4A6", ""), ("7B84BE88", "vid"), ("D8423F90", "vid"),
                                  ("0A26D447", long), ("0A26D448", long)])  # fmt: skip

    async def build() -> list[dict[str, Any]]:
        async def retry(text: str, guid: str) -> Any:
            raise AssertionError

        view = PlayerChooser(exc, retry, owner_id=1)
        return view.to_components()

    rows = run(build())
    assert not check_components(rows), [str(v) for v in check_components(rows)]
    labels = [o["label"] for o in rows[0]["components"][0]["options"]]
    assert labels[:3] == ["652EB4A6", "vid (7B84)", "vid (D842)"]
    assert labels[3] != labels[4] and all(len(x) == 100 for x in labels[3:]), labels
    assert all(re.fullmatch(r"x+… \(0A26D44[78]?\)", x) for x in labels[3:]), labels


def test_the_emulator_refuses_the_menu_an_empty_name_made() -> None:
    """The old menu (``label=name[:100]``): the emulator's rule refuses its empty label."""
    rows = [{"type": 1, "components": [{"type": 3, "custom_id": "c", "placeholder": "Which?",
             "options": [{"label": "", "value": "652EB4A6"}, {"label": "vid", "value": "x"}]}]}]  # fmt: skip
    assert [v.rule.id for v in check_components(rows)] == ["select.option.label"]


#: real files with players renamed: two "vid" (colours apart), one whose name shows nothing
#: now but was "vid" in his first file (three players match "vid" about equally)
RENAMED = {b"D8423F90": b"^1vid", b"7B84BE88": b"^4vid", b"652EB4A6": b"^7^1^2"}


@pytest.fixture(scope="module")
def named_alike(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    raw = tmp_path_factory.mktemp("alike")
    first = True
    for p in sorted(REAL.glob("*.txt")):
        lines = []
        for line in p.read_bytes().split(b"\n"):
            parts = line.split(b"\\")
            if len(parts) > 4 and parts[0] in RENAMED:
                parts[1] = RENAMED[parts[0]]
                if parts[0] == b"652EB4A6" and first:
                    parts[1], first = b"^1vid", False
            lines.append(b"\\".join(parts))
        (raw / p.name).write_bytes(b"\n".join(lines))
    data = tmp_path_factory.mktemp("alike-lake") / "data"
    ingest_paths(data, [raw])
    shutil.rmtree(raw)
    stage = Stage.open(data, name="alike", min_rounds=1)
    try:
        stage.start_bot()
        yield stage
    finally:
        stage.close()


@pytest.fixture
def alike(named_alike: Stage) -> Iterator[Stage]:
    """The stage, clean: nothing the emulator refused (Discord's limits) during the test."""
    with named_alike.clean():
        yield named_alike


def test_over_the_wire_the_menu_tells_the_players_of_one_name_apart(alike: Stage) -> None:
    """ "Which player?" of "vid" (one of whom now shows nothing) over the emulator, which
    refuses an empty select label as Discord does: the answer was lost before."""
    menu = alike.slash("stats", player="vid").reply
    opts = [o for c in menu.buttons() if c.get("type") == 3 for o in c["options"]]
    assert sorted(o["label"] for o in opts) == ["652EB4A6", "vid (7B84)", "vid (D842)"]


def test_over_the_wire_compare_tells_two_of_one_name_apart(alike: Stage) -> None:
    compared = alike.slash("compare", player1="D8423F90", player2="7B84BE88").reply
    assert compared.embeds[0]["title"] == "vid (D842) vs vid (7B84)"  # was "vid vs vid"
    side = compared.embeds[0]["fields"][0]["value"]
    assert "vid (D842)" in side and "vid (7B84)" in side


def test_over_the_wire_did_you_mean_tells_the_players_apart(alike: Stage) -> None:
    """/balance of several names cannot ask which: it lists the players "vid" meant, as the
    bot names them (was "• vid • vid • ", the last blank)."""
    balance = alike.slash("balance", players="vid, vid, 5D989160, EDBB5DA9").reply
    said = [f["value"] for e in balance.embeds for f in e.get("fields", [])
            if f["name"] == "Did you mean"]  # fmt: skip
    assert said == ["• 652EB4A6\n• vid (7B84)\n• vid (D842)"], (balance.content, said)
