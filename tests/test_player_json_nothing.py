"""`player NAME --json` for a known player with nothing to show is the usual object (README:
"with `--json` the usual object with empty rows"): the same keys as a player's card, every
sum 0, every rate what its formula gives for nothing, the rows empty; exit 0 as before. It
was 7 keys (guid, name, rounds and the four row lists) where a card has ~36: a script
reading ``kills`` or ``dpm`` met a KeyError for that one player.

A real lake: the supply fixture pair on the main server (BlueJay plays both rounds), a real
round 1 one player played alone (`.wjs:)`: known, no counted round) and a real adlernest round
on a second server, ``scrim``, that BlueJay never played."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REAL
from tests.lakecheck import clean_cli, renamed_pair, table_rows

ALONE = "FDA127DF"  # .wjs:), alone in the real supply round 1 of 2024-09-11: never counted
BLUEJAY = "B7E21D04"  # in both rounds of the supply pair, on the main server only
SCRIM = "scrim"
ADLERNEST = "2024-10-10-213154-etl_adlernest-round-1.txt"  # real; neither of them is in it
ROW_LISTS = ("weapons", "last_rounds", "aliases", "maps")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from etl_duck.ingest.run import ingest_paths

    tmp = tmp_path_factory.mktemp("nothing")
    main, scrim = tmp / "main", tmp / "scrim"
    main.mkdir()
    scrim.mkdir()
    renamed_pair(main, "2025-09-30-210000", "2025-09-30-211000", "a")
    lone = main / "2025-10-02-210000-supply-round-1.txt"
    lone.write_bytes((REAL / "2024-09-11-212540-supply-round-1.txt").read_bytes())
    (scrim / ADLERNEST).write_bytes((REAL / ADLERNEST).read_bytes())
    data = tmp / "data"
    ingest_paths(data, [main])
    ingest_paths(data, [scrim], server=SCRIM)
    return data


def _card(
    lake: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> dict[str, Any]:
    """`etl-duck player ARGS --json`, exit 0 and nothing on stderr, as a dict."""
    cli = clean_cli(capsys, monkeypatch, lake.parent)
    code, out, err = cli("--data-dir", lake, "player", *args, "--json")
    assert code == 0 and err == "", (args, code, err)
    got = json.loads(out)
    assert isinstance(got, dict)
    return got


def _is_nothing_like(nothing: dict[str, Any], usual: dict[str, Any]) -> None:
    """``nothing`` has ``usual``'s keys in its order; each value of ``usual``'s type (a rate
    over nothing may be null, as a card's accuracy with no shot is), every count 0, every
    row list empty."""
    assert list(nothing) == list(usual)
    for key, value in usual.items():
        if key in ("guid", "name"):
            assert isinstance(nothing[key], str), key
        elif isinstance(value, list):
            assert nothing[key] == [], key
        elif isinstance(value, int):  # a sum (bool is no key here)
            assert type(nothing[key]) is int and nothing[key] == 0, (key, nothing[key])
        else:
            assert isinstance(value, float), (key, value)
            assert nothing[key] is None or type(nothing[key]) is float, (key, nothing[key])
    # the formulas for zero sums (domain/metrics.py: K/D is the kills when no death; a
    # ratio over no seconds, shots or kills has no value)
    assert nothing["kd"] == 0.0 and nothing["dpm"] is None and nothing["accuracy"] is None


def test_a_player_with_no_counted_round_gets_the_usual_object(
    lake: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    his = table_rows(lake, "player_rounds", f"guid = '{ALONE}'")
    assert len(his) == 1 and not any(r["counted"] for r in his)  # known, never counted
    usual = _card(lake, capsys, monkeypatch, BLUEJAY)
    assert usual["rounds"] == 2 and len(usual) > 30  # a real card
    nothing = _card(lake, capsys, monkeypatch, ALONE)
    assert (nothing["guid"], nothing["name"]) == (ALONE, ".wjs:)")
    _is_nothing_like(nothing, usual)


def test_a_player_with_nothing_on_the_server_asked_gets_that_servers_usual_object(
    lake: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """BlueJay has a card on the main server and nothing on scrim."""
    usual = _card(lake, capsys, monkeypatch, BLUEJAY, "--server", "main")
    assert usual["rounds"] == 2
    nothing = _card(lake, capsys, monkeypatch, BLUEJAY, "--server", SCRIM)
    assert (nothing["guid"], nothing["name"]) == (BLUEJAY, "BlueJay")
    _is_nothing_like(nothing, usual)
    # and the text answer is still the one sentence
    cli = clean_cli(capsys, monkeypatch, lake.parent)
    code, out, _ = cli("--data-dir", lake, "player", BLUEJAY, "--server", SCRIM)
    assert code == 0 and out == f"BlueJay ({BLUEJAY}) has no counted round yet on server scrim"
