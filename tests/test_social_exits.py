"""`player`, `bests`, `teammates` and `rivals` answer alike (README "Exit codes"): an unknown
player is a usage error, exit 2, one sentence on stderr naming him; a known player with
nothing to show is an answer, exit 0, one sentence naming him (no empty table), and with
``--json`` the command's usual object, its rows empty. `player` was exit 1 for a known
player with no counted round while the other three printed an empty table, exit 0.

A real lake: the supply fixture pair (an evening, no endstats: no rivals for anyone) and a
real round 1 one player played alone (`one_side`: no game, so .wjs:) is known by his line
and has no counted round)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REAL
from tests.lakecheck import clean_cli, renamed_pair, table_rows

ALONE = "FDA127DF"  # .wjs:), alone in the real supply round 1 of 2024-09-11
BLUEJAY = "B7E21D04"  # in both rounds of the supply pair
COMMANDS = ("player", "bests", "teammates", "rivals")


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    from etl_duck.ingest.run import ingest_paths

    files = tmp_path / "files"
    files.mkdir()
    renamed_pair(files, "2025-09-30-210000", "2025-09-30-211000", "a")
    lone = files / "2025-10-02-210000-supply-round-1.txt"
    lone.write_bytes((REAL / "2024-09-11-212540-supply-round-1.txt").read_bytes())
    data = tmp_path / "data"
    ingest_paths(data, [files])
    return data


def _his_rows(data: Path, guid: str) -> tuple[int, int]:
    """(his lines, his counted lines) in the lake, read straight from its Parquet."""
    rows = table_rows(data, "player_rounds", f"guid = '{guid}'")
    return len(rows), sum(bool(r["counted"]) for r in rows)


def test_a_known_player_with_nothing_to_show_is_one_sentence_and_exit_0(
    lake: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _his_rows(lake, ALONE) == (1, 0)  # known, never counted
    cli = clean_cli(capsys, monkeypatch, lake.parent)
    said = {}
    for command in COMMANDS:
        code, out, err = cli("--data-dir", lake, command, ALONE)
        assert code == 0 and err == "", (command, code, err)
        assert out.startswith(f".wjs:) ({ALONE}) has no "), (command, out)
        assert "┃" not in out and "━" not in out, (command, out)  # no table
        said[command] = out
    assert said["player"] == f".wjs:) ({ALONE}) has no counted round yet"
    assert said["bests"] == f".wjs:) ({ALONE}) has no personal best yet: no counted round"
    assert "no teammate yet" in said["teammates"] and "no rivals yet" in said["rivals"]
    # --json: the command's object, its rows empty; the same exit code
    shapes = {"player": "weapons", "bests": "bests", "teammates": "rows", "rivals": "rows"}
    for command, rows in shapes.items():
        code, out, err = cli("--data-dir", lake, command, ALONE, "--json")
        got = json.loads(out)
        assert code == 0 and err == "", (command, code, err)
        assert got["guid"] == ALONE and got["name"] == ".wjs:)" and not got[rows], (command, got)
    code, out, _ = cli("--data-dir", lake, "player", ALONE, "--json")
    assert json.loads(out)["rounds"] == 0


def test_a_known_player_with_something_to_show_keeps_his_table(
    lake: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """BlueJay played both rounds of a complete map: teammates and bests are tables; no
    endstats file, so rivals is the sentence — exit 0 each."""
    assert _his_rows(lake, BLUEJAY) == (2, 2)
    cli = clean_cli(capsys, monkeypatch, lake.parent)
    for command in ("bests", "teammates"):
        code, out, _ = cli("--data-dir", lake, command, BLUEJAY)
        assert code == 0 and f"({BLUEJAY}) —" in out and "has no" not in out, (command, out)
    code, out, _ = cli("--data-dir", lake, "rivals", BLUEJAY)
    assert code == 0 and out == (
        f"BlueJay ({BLUEJAY}) has no rivals yet: no attributed versus rows (endstats files "
        "need VS_HEADER lines)"
    )
    code, out, _ = cli("--data-dir", lake, "player", BLUEJAY)
    assert code == 0 and out.startswith(f"BlueJay ({BLUEJAY}) rounds 2 ·"), out


def test_an_unknown_player_is_exit_2_naming_him(
    lake: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = clean_cli(capsys, monkeypatch, lake.parent)
    for command in COMMANDS:
        for extra in ((), ("--json",)):
            code, out, err = cli("--data-dir", lake, command, "nobody-like-this", *extra)
            assert code == 2 and out == "", (command, extra, out)
            assert err.startswith("error: No player matches 'nobody-like-this'."), (command, err)
            assert "or his GUID" in err, (command, err)  # the fix, with nothing near it
