"""Two players of one name told apart where answers still showed the name twice: a time
record held by a side with both of them ("by **Avid, Avid**" in /records, the digest and
`etl-duck records`), the "Did you mean" of a lookup that finds nobody (two bare "Avid":
nobody can pick), and the /compare radar's legend — by the rule the menus and boards use
(``etl_duck.domain.teams.tell_apart``: "Avid (D842)", "Avid (5D98)")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from etl_duck.cli import app
from tests.bot_fakes import FakeInteraction, bot_running, field_value, invoke, run
from tests.conftest import REAL
from tests.test_same_names import FILES, NAMESAKE, REAL_VID

NAME = "Avid"  # sorts before the side's other names: both are among the three it shows
TOLD = (f"{NAME} (D842)", f"{NAME} (5D98)")
TWICE = f"{NAME}, {NAME}"
TYPO = "xavid"  # matches nobody well enough: "Did you mean" both


def rewrite(src: Path, dst: Path) -> None:
    """The round with vid and .olz (NAMESAKE) both named NAME (they attack together in
    round 2, which set the map's fastest completion)."""
    lines = src.read_bytes().split(b"\n")
    for i, line in enumerate(lines[1:], 1):
        parts = line.split(b"\\")
        if len(parts) >= 5 and parts[0].decode() in (REAL_VID, NAMESAKE):
            parts[1] = NAME.encode()
        lines[i] = b"\\".join(parts)
    dst.write_bytes(b"\n".join(lines))


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from etl_duck.ingest.run import ingest_paths

    files = tmp_path_factory.mktemp("same-names-more-files")
    for name in FILES:
        rewrite(REAL / name, files / name)
    data = tmp_path_factory.mktemp("same-names-more") / "data"
    ingest_paths(data, [files])
    return data


def told_apart(text: str) -> None:
    assert all(t in text for t in TOLD), text
    assert TWICE not in text, text


def cli(lake: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["--data-dir", str(lake), *args])
    assert result.exit_code == code, result.output
    return result.output


def test_a_time_record_held_by_namesakes_tells_them_apart(lake: Path, tmp_path: Path) -> None:
    from etl_duck.query.stats import Stats

    stats = Stats(lake, min_rounds=1)
    held = [r for r in stats.records() if r["kind"] == "fastest_completion"]
    assert len(held) == 1 and held[0]["guid"] is None  # a side's record, not a player's
    told_apart(held[0]["holder"])
    rep = stats.last_session()
    said = [e.text() for e in stats.session_events(rep.session_id)]
    told_apart(" ".join(t for t in said if "fastest completion" in t))
    # the CLI: `records` (its JSON: the holder is the text shown) and `highlights`
    told_apart(json.dumps(json.loads(cli(lake, "records", "--json")), ensure_ascii=False))
    told_apart(json.dumps(json.loads(cli(lake, "highlights", "--json")), ensure_ascii=False))

    async def main() -> list[FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return [await invoke(bot, "records"), await invoke(bot, "digest")]

    records, digest = run(main())
    told_apart(json.dumps(records.last.embed.to_dict(), ensure_ascii=False))
    told_apart(field_value(digest.last.embed, "Records broken"))


def test_did_you_mean_tells_namesakes_apart(lake: Path, tmp_path: Path) -> None:
    from etl_duck.query.stats import PlayerNotFound, Stats

    with pytest.raises(PlayerNotFound) as info:
        Stats(lake, min_rounds=1).resolve_player(TYPO)
    assert {g for g, _ in info.value.candidates} >= {REAL_VID, NAMESAKE}
    told_apart(", ".join(info.value.suggestions))
    told_apart(cli(lake, "player", TYPO, code=2))  # "Did you mean: Avid (5D98), Avid (D842)?"

    async def main() -> list[FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return [
                await invoke(bot, "stats", player=TYPO),
                await invoke(bot, "balance", players=f"{TYPO}, SuperBoyy, carniee, qmr"),
            ]

    card, balance = run(main())
    assert card.last.embed.title == "Player not found"
    told_apart(field_value(card.last.embed, "Did you mean").replace("\n• ", ", "))
    assert "No player matches" in str(balance.last.content), balance.last
    told_apart(str(balance.last.content))


def test_the_compare_radar_legend_tells_namesakes_apart(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_duck import charts
    from etl_duck.bot.embeds.player import RADAR_METRICS
    from etl_duck.query.stats import Stats

    legends: list[list[str]] = []
    real_png = charts._png

    def keep(fig: object) -> bytes:
        legend = fig.axes[0].get_legend()  # type: ignore[attr-defined]
        legends.append([t.get_text() for t in legend.get_texts()])
        return real_png(fig)  # type: ignore[arg-type]

    monkeypatch.setattr(charts, "_png", keep)
    rows = Stats(lake, min_rounds=1).compare(REAL_VID, NAMESAKE)  # what /compare draws
    assert rows["name"].to_list() == [NAME, NAME]
    charts.compare_radar_png(rows, RADAR_METRICS)
    assert legends == [list(TOLD)]


def test_a_record_taken_from_a_namesake_tells_both_apart() -> None:
    """A record broken by one "vid" from another: "by vid (5D98) (was … by vid (D842))",
    never "by vid (was … by vid)"; a player renamed between two events keeps each event's
    name; a team's record (no GUID) is left as it is."""
    from etl_duck.domain.records import _running
    from etl_duck.query.rating import events_told_apart

    def row(guid: str | None, holder: str, value: float, n: int) -> dict[str, object]:
        return {"guid": guid, "holder": holder, "value": value, "file_name": f"f{n}",
                "end_time": n, "session_id": 1}  # fmt: skip

    rows = [row("D8423F90", "vid", 300, 1), row("5D989160", "vid", 400, 2),
            row("D8423F90", "vid-renamed", 500, 3)]  # fmt: skip
    shown = [e.text() for e in events_told_apart(_running(rows, True, "all", "round_kills"))]
    assert "by **vid (5D98)** (was 300 kills by vid (D842))" in shown[0], shown
    assert "by **vid-renamed** (was 400 kills by vid (5D98))" in shown[1], shown
    team = [row(None, "A, B", 1, 1), row(None, "A, B", 2, 2)]
    assert (
        "(was 1 kills by A, B)"
        in events_told_apart(_running(team, True, "all", "round_kills"))[0].text()
    )
