"""/rating player, /rating top, /balance (named and from voice), /predict, and the voice
forecast post followed by its "came true" check after the map lands."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from discord import app_commands

from etl_duck.bot.embeds.rating import brier_line
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from tests.bot_fakes import (
    FakeChannel,
    FakeInteraction,
    FakeUser,
    bot_running,
    field_value,
    lake_copy,
    real_files,
    run,
    template_lake,
)

VID = "D8423F90"
LAST_MAP = (
    "2025-11-11-233403-braundorf_b4-round-1.txt",
    "2025-11-11-233911-braundorf_b4-round-2.txt",
)


@dataclass
class Guild:
    members: dict[int, FakeUser] = field(default_factory=dict)

    def get_member(self, uid: int) -> FakeUser | None:
        return self.members.get(uid)


@dataclass
class VoiceChannel:
    id: int
    voice_states: dict[int, object] = field(default_factory=dict)
    guild: Guild = field(default_factory=Guild)


@dataclass
class Voice:
    channel: VoiceChannel | None


@dataclass
class Member(FakeUser):
    voice: Voice | None = None


async def sub(bot: Any, group: str, name: str, inter: FakeInteraction, **kw: Any) -> None:
    grp = bot.tree.get_command(group)
    assert isinstance(grp, app_commands.Group)
    cmd = grp.get_command(name)
    assert isinstance(cmd, app_commands.Command)
    await cmd.callback(cmd.binding, inter, **kw)  # type: ignore[arg-type]


async def slash(bot: Any, name: str, inter: FakeInteraction, **kw: Any) -> None:
    cmd = bot.tree.get_command(name)
    assert isinstance(cmd, app_commands.Command)
    await cmd.callback(cmd.binding, inter, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_lake(tmp_path_factory)


def test_rating_player_and_top(lake: Path, tmp_path: Path) -> None:
    stats = Stats(lake)
    want = stats.player_rating(VID)
    board = stats.rating_top(20)

    async def main() -> tuple[FakeInteraction, FakeInteraction, FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            bot.links.link(1001, VID)
            mine, top = FakeInteraction(bot), FakeInteraction(bot)
            await sub(bot, "rating", "player", mine)  # no name: the linked player
            await sub(bot, "rating", "top", top)
            nobody = FakeInteraction(bot, FakeUser(id=5))
            await sub(bot, "rating", "player", nobody)
            return mine, top, nobody

    mine, top, nobody = run(main())
    embed = mine.last.embed
    assert str(embed.title).startswith("vid")
    assert field_value(embed, "Rating") == f"{want.row['rating']:.1f}"
    assert field_value(embed, "σ") == f"{want.row['sigma']:.2f}"
    assert field_value(embed, "Maps").startswith(f"{want.row['maps']} (")
    assert field_value(embed, "Trend (his last 10 maps)") == f"{want.row['trend']:+.1f}"
    assert f"#{want.rank} of {want.ranked_players}" in str(embed.description)
    assert mine.last.files["rating.png"].startswith(b"\x89PNG")
    assert embed.footer.text == brier_line(None, 0)
    text = str(top.last.embed.description)
    assert board["name"][0] in text and f"{board['rating'][0]:.1f}" in text
    assert nobody.last.ephemeral and "/link" in str(nobody.last.content)


def test_balance_by_name_and_from_voice(lake: Path, tmp_path: Path) -> None:
    """Named players (``+name``: a new one), or everyone in the caller's voice channel: a
    member who has not linked his GUID plays as a new player at the starting rating, and
    the answer names him and says how to link; a bot in voice is nobody."""
    names = ["vid", "olz", "carniee", "endekk"]
    stats = Stats(lake)
    want = stats.balance(names, apart=[("vid", "olz")])
    want_new = stats.balance([*names, "+Newcomer"], apart=[("vid", "olz")])

    async def main() -> tuple[FakeInteraction, ...]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            named = FakeInteraction(bot)
            await slash(bot, "balance", named, players=", ".join(names), apart="vid+olz")
            room = VoiceChannel(77)
            guids = [g for g, _ in (Stats(lake).resolve_player(n) for n in names)]
            for uid, guid in zip((11, 12, 13, 14), guids, strict=True):
                bot.links.link(uid, guid)
                room.voice_states[uid] = object()
            room.voice_states[15] = object()  # not linked: a new player, named in the answer
            room.guild.members[15] = FakeUser(id=15, name="Newcomer")
            room.voice_states[16] = object()  # a music bot: nobody
            room.guild.members[16] = FakeUser(id=16, name="Jukebox", bot=True)
            voiced = FakeInteraction(bot, Member(id=11, voice=Voice(room)))
            await slash(bot, "balance", voiced, apart="vid+olz")
            typed = FakeInteraction(bot)  # the same, the newcomer named as +name
            await slash(bot, "balance", typed, players=", ".join([*names, "+Newcomer"]),
                        apart="vid+olz")  # fmt: skip
            typo = FakeInteraction(bot)
            await slash(bot, "balance", typo, players="vid, olz, qqqqzzzz")
            alone = FakeInteraction(bot, Member(id=99, voice=None))
            await slash(bot, "balance", alone)
            return named, voiced, typed, typo, alone

    named, voiced, typed, typo, alone = run(main())
    embed = named.last.embed
    assert embed.fields[0].name == f"#1 · P(A wins) {want.splits[0].p_a:.0%}"
    assert len(embed.fields) == len(want.splits) == 2
    assert embed.title == "Balanced teams for 4 players" and not embed.description
    v = voiced.last.embed
    assert v.title == "Balanced teams for 5 players"  # five people in voice, not the bot
    assert "Newcomer" in str(v.description) and "`/link`" in str(v.description)
    assert "starting rating" in str(v.description) and "Jukebox" not in str(v.to_dict())
    assert v.fields[0].name == f"#1 · P(A wins) {want_new.splits[0].p_a:.0%}"
    assert "Newcomer (new, not linked)" in str(v.fields[0].value)
    t = typed.last.embed
    assert t.title == "Balanced teams for 5 players" and not t.description
    assert [f.name for f in t.fields] == [f.name for f in v.fields]
    assert "Newcomer (new)" in str(t.fields[0].value)
    assert typo.last.ephemeral and "+qqqqzzzz" in str(typo.last.content)
    assert alone.last.ephemeral and "voice channel" in str(alone.last.content)


def test_players_sharing_a_name_are_told_apart_in_the_embeds() -> None:
    """Two GUIDs of one name in one answer: the GUID's first characters after each name."""
    from datetime import datetime

    import polars as pl

    from etl_duck.bot.embeds import rating as embeds
    from etl_duck.domain.balance import Split
    from etl_duck.query.rating import Balance, TeamForecast

    both = {"ABCDEF12": "vid", VID: "vid", "5D989160": ".olz", "+newbie": "newbie"}
    split = Split(("5D989160", VID), ("+newbie", "ABCDEF12"), 0.5, 50, 50, 20, 20)
    text = str(embeds.balance(Balance(both, [split], None, None)).fields[0].value)
    assert ".olz, vid (D842)" in text and "newbie (new), vid (ABCD)" in text
    fc = TeamForecast([(VID, "vid")], [("ABCDEF12", "vid")], 0.5, 25, 25, 10, 10,
                      datetime(2025, 1, 1))  # fmt: skip
    teams = embeds.forecast(fc).fields
    assert (teams[0].value, teams[1].value) == ("vid (D842)", "vid (ABCD)")
    board = pl.DataFrame({"rank": [1, 2], "guid": [VID, "ABCDEF12"], "name": ["vid", "vid"],
                          "rating": [10.0, 9.0], "sigma": [5.0, 5.0], "maps": [20, 2],
                          "trend": [None, None]})  # fmt: skip
    top = str(embeds.top(board, 1, None, 0).description)
    assert "vid (D842)" in top and "vid (ABCD)" in top


def test_voice_forecast_post_then_came_true(tmp_path: Path, tmp_path_factory: Any) -> None:
    """Players split into the team channels → a forecast post; the map lands → a post
    saying whether it came true, and the bot's Brier score in /rating."""
    full = Stats(template_lake(tmp_path_factory)).ratings()
    last = max((e[3] for e in full.events), key=lambda m: m.start_time)
    assert last.map_name == "braundorf_b4"
    first = sorted(p.guid for p in last.players if p.first)
    second = sorted(p.guid for p in last.players if not p.first)
    data = lake_copy(tmp_path_factory, tmp_path / "data", without=LAST_MAP)
    channel = FakeChannel()
    team_a, team_b = VoiceChannel(21), VoiceChannel(22)

    async def main() -> tuple[bool, bool, int, Any, FakeInteraction, FakeInteraction]:
        async with bot_running(
            data, tmp_path / "links.db", channel, team_channel_ids=[21, 22], forecast_settle_s=0
        ) as bot:
            channels = {21: team_a, 22: team_b}
            bot.get_channel = lambda cid: channels.get(cid)  # type: ignore[method-assign,assignment,return-value]
            for i, g in enumerate(second):  # team A in voice = the map's second attackers
                bot.links.link(100 + i, g)
                team_a.voice_states[100 + i] = object()
            for i, g in enumerate(first):
                bot.links.link(200 + i, g)
                team_b.voice_states[200 + i] = object()
            cog: Any = bot.get_cog("Rating")
            posted = await cog.post_forecast()
            again = await cog.post_forecast()  # same split: not posted twice
            predict = FakeInteraction(bot)
            await slash(bot, "predict", predict)
            await __import__("asyncio").to_thread(ingest_paths, data, [
                f for f in real_files() if f.name in LAST_MAP])  # fmt: skip
            resolved = await cog.resolve_forecasts()
            after = FakeInteraction(bot)
            await sub(bot, "rating", "top", after)
            return posted, again, resolved, cog.store.brier(), after, predict

    posted, again, resolved, (brier, scored), after, predict = run(main())
    assert posted and not again and resolved == 1
    forecast, verdict = channel.sent
    p_a = float(str(forecast.embed.fields[0].name).split("·")[1].strip().rstrip("%")) / 100
    # /predict answers for the same teams in voice with the same chance as the post
    assert predict.last.embed.title == "Forecast for the teams in voice"
    assert predict.last.embed.fields[0].name == forecast.embed.fields[0].name
    outcome_a = 1.0 - last.result  # team A was the second attackers
    assert verdict.embed.title == "Forecast check: braundorf_b4"
    assert ("Team A won" in str(verdict.embed.description)) == (outcome_a == 1.0)
    came_true = (outcome_a == 1.0) == (p_a >= 0.5)
    assert ("came true" in str(verdict.embed.description)) == came_true
    assert ("did not come true" in str(verdict.embed.description)) == (not came_true)
    assert scored == 1 and brier == pytest.approx((p_a - outcome_a) ** 2, abs=0.01)
    assert "1 scored" in str(after.last.embed.footer.text)


def test_predict_without_team_channels_and_bad_setting(lake: Path, tmp_path: Path) -> None:
    from pydantic import ValidationError

    from etl_duck.settings import Settings

    async def main() -> FakeInteraction:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            inter = FakeInteraction(bot)
            await slash(bot, "predict", inter)
            return inter

    inter = run(main())
    assert inter.last.ephemeral and "TEAM_CHANNEL_IDS" in str(inter.last.content)
    with pytest.raises(ValidationError, match="two different voice channel ids"):
        Settings(_env_file=None, team_channel_ids=[5])  # type: ignore[call-arg]
