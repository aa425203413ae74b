"""/stats, /compare, /find_player, /map_stats, /link and /unlink; expected values from
plain DuckDB over the lake's Parquet files."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_duck.bot.format import cell
from etl_duck.bot.paginate import Paginator
from etl_duck.links import LinkStore
from tests.bot_fakes import (
    FakeInteraction,
    FakeUser,
    bot_running,
    field_value,
    invoke,
    lake_sql,
    run,
    table_rows,
    template_lake,
)

VID = "D8423F90"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_lake(tmp_path_factory)


def career(lake: Path, guid: str) -> dict[str, float]:
    rounds, kills, deaths, dpm, acc = lake_sql(
        lake,
        f"""SELECT count(*), sum(kills), sum(deaths),
                   sum(CASE WHEN time_played_s > 0 THEN damage_given ELSE 0 END) * 60.0
                   / sum(time_played_s),
                   100.0 * sum(hits) / sum(shots)
            FROM {{t}} WHERE counted AND guid = '{guid}'""",
    )[0]
    return {"rounds": rounds, "kills": kills, "deaths": deaths, "dpm": dpm, "acc": acc}


def test_stats_card(lake: Path, tmp_path: Path) -> None:
    want = career(lake, VID)
    top_weapon = lake_sql(
        lake,
        f"""SELECT weapon, sum(kills) k FROM {{t}} WHERE counted AND guid = '{VID}'
            GROUP BY weapon ORDER BY k DESC, sum(shots) DESC LIMIT 1""",
        "weapon_rounds",
    )[0]

    async def main() -> list[FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return [
                await invoke(bot, "stats", player="vid"),
                await invoke(bot, "stats", player=VID),
            ]

    by_name, by_guid = run(main())
    embed = by_name.last.embed
    assert embed.title == "vid"
    assert f"`{VID}` · {int(want['rounds'])} counted rounds" in str(embed.description)
    assert field_value(embed, "Kills") == f"{int(want['kills']):,}"
    assert field_value(embed, "Deaths") == f"{int(want['deaths']):,}"
    assert field_value(embed, "K/D") == f"{want['kills'] / want['deaths']:.2f}"
    assert field_value(embed, "DPM") == f"{want['dpm']:,.1f}"
    assert field_value(embed, "Accuracy") == f"{want['acc']:.1f}%"
    weapons = table_rows(field_value(embed, "Top weapons"), 2)
    assert (weapons[0][0], int(weapons[0][1])) == (top_weapon[0], int(top_weapon[1]))
    assert by_guid.last.embed.to_dict() == embed.to_dict()


def test_stats_unknown_player_suggests(lake: Path, tmp_path: Path) -> None:
    async def main() -> list[FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return [
                await invoke(bot, "stats", player="vidd"),
                await invoke(bot, "stats", player="qqqqzzzz"),
            ]

    close, nothing = run(main())
    assert close.last.ephemeral
    assert close.last.embed.title == "Player not found"
    assert "vid" in field_value(close.last.embed, "Did you mean")
    assert nothing.last.ephemeral and not nothing.last.embed.fields
    assert "or his GUID" in str(nothing.last.embed.description)  # the fix, with nothing near


def test_link_then_stats_for_me_and_for_a_member(lake: Path, tmp_path: Path) -> None:
    me, friend = FakeUser(id=501), FakeUser(id=502, name="friend")
    admin = FakeUser(id=900, name="admin")
    links = tmp_path / "links.db"

    async def main() -> list[FakeInteraction]:
        async with bot_running(lake, links, admin_user_ids=[900]) as bot:
            before = await invoke(bot, "stats", FakeInteraction(bot, me))
            # a self-link needs a proof (tests/test_social.py); an admin links directly
            linked = await invoke(
                bot, "admin_link", FakeInteraction(bot, admin), member=me, player="vid"
            )
            mine = await invoke(bot, "stats", FakeInteraction(bot, me))
            theirs = await invoke(bot, "stats", FakeInteraction(bot, friend), member=me)
            unlinked_member = await invoke(bot, "stats", FakeInteraction(bot, me), member=friend)
            maps = await invoke(bot, "map_stats", FakeInteraction(bot, me))
            gone = await invoke(bot, "unlink", FakeInteraction(bot, me))
            again = await invoke(bot, "unlink", FakeInteraction(bot, me))
            return [before, linked, mine, theirs, unlinked_member, maps, gone, again]

    before, linked, mine, theirs, unlinked_member, maps, gone, again = run(main())
    assert before.last.ephemeral and "/link" in str(before.last.content)
    assert linked.last.ephemeral and VID in str(linked.last.content)
    assert mine.last.embed.title == "vid"
    assert theirs.last.embed.title == "vid"
    assert unlinked_member.last.ephemeral and "friend has not linked" in str(
        unlinked_member.last.content
    )
    assert "vid — maps" in str(maps.last.embed.title)
    assert "removed" in str(gone.last.content) and "not linked" in str(again.last.content)
    with LinkStore(links) as store:  # the link store, not the lake, holds links
        assert store.guid_for(me.id) is None


def test_compare_with_radar(lake: Path, tmp_path: Path) -> None:
    a, b = career(lake, VID), career(lake, "EDBB5DA9")

    async def main() -> list[FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return [
                await invoke(bot, "compare", player1="vid", player2="SuperBoyy"),
                await invoke(bot, "compare", player1="vid", player2=VID),
                await invoke(bot, "compare", player1="vid", player2="SuperBoyy", window="someday"),
            ]

    ok, same, bad_window = run(main())
    assert ok.response.deferred and ok.last.kind == "followup"
    embed = ok.last.embed
    assert embed.title == "vid vs SuperBoyy"
    assert embed.image.url == "attachment://compare.png"
    assert ok.last.files["compare.png"].startswith(b"\x89PNG")
    rows = {r[0]: r[1:] for r in table_rows(field_value(embed, "Side by side"), 2)}
    assert rows["Kills"][0].rstrip("▲") == f"{int(a['kills']):,}"
    assert rows["Kills"][1].rstrip("▲") == f"{int(b['kills']):,}"
    assert rows["DPM"][0].rstrip("▲") == f"{a['dpm']:,.1f}"
    better_dpm = 0 if a["dpm"] > b["dpm"] else 1
    assert rows["DPM"][better_dpm].endswith("▲")
    # input errors are found before any chart is rendered: a private answer, not deferred
    assert same.last.ephemeral and "same player" in str(same.last.content)
    assert not same.response.deferred and not bad_window.response.deferred
    assert bad_window.last.ephemeral and "unknown window" in str(bad_window.last.content)


def test_find_player(lake: Path, tmp_path: Path) -> None:
    rounds = lake_sql(lake, f"SELECT count(*) FROM {{t}} WHERE guid = '{VID}' AND NOT is_bot")[0][0]

    async def main() -> list[FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return [
                await invoke(bot, "find_player", text="vi"),
                await invoke(bot, "find_player", text="d842"),
                await invoke(bot, "find_player", text="qqqqzzzz"),
            ]

    by_name, by_guid, nothing = run(main())
    for inter in (by_name, by_guid):
        rows = table_rows(str(inter.last.embed.description), 3)
        assert rows[0][:3] == ["vid", VID, str(rounds)]
    assert "Nobody" in str(nothing.last.embed.description)


def test_map_stats_pages(lake: Path, tmp_path: Path) -> None:
    want = lake_sql(
        lake,
        f"""SELECT map_name, count(*) r, sum(kills), sum(deaths) FROM {{t}}
            WHERE counted AND guid = '{VID}' GROUP BY map_name""",
    )
    user = FakeUser(id=9)

    async def main() -> FakeInteraction:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return await invoke(bot, "map_stats", FakeInteraction(bot, user), player="vid")

    inter = run(main())
    rows = table_rows(str(inter.last.embed.description), 5)
    assert {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows} == {
        cell(m, 16): (int(n), int(k), int(d)) for m, n, k, d in want
    }
    assert not isinstance(inter.last.view, Paginator)  # 9 maps fit one page


def test_recent_form_dpm_counts_only_rounds_with_time_played() -> None:
    """The card's "last N rounds: X DPM" uses DPM's one rule (Σ damage of rounds with time
    played · 60 / Σ time): a round without time played (a spectator's joined late) must
    not add its damage (it did: 2,000 damage over 60 s read as 2,000 DPM, not 1,000)."""
    from datetime import datetime

    import polars as pl

    from etl_duck.bot.embeds.player import form_text

    last = pl.DataFrame({
        "map_name": ["supply", "supply"], "round_number": [2, 1], "kills": [3, 1],
        "deaths": [1, 1], "damage_given": [1000, 1000], "time_played_s": [60, 0],
        "dpm": [1000.0, None], "end_time": [datetime(2026, 1, 1, 21), datetime(2026, 1, 1, 20)],
    })  # fmt: skip
    text = form_text(last, {"dpm": 500.0})
    assert "last 2 rounds: 1,000 DPM ▲ career 500" in text, text
