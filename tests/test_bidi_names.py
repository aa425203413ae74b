"""A direction control in a player's name (a right-to-left override, U+202E) reversed the
rest of the line it was shown in — the numbers after it — in the terminal and in Discord
(the site already dropped them). One rule now (``domain.parse.BIDI_CONTROLS``) for every
place that shows a name; the stored name keeps them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl_duck.bot.format import esc
from etl_duck.cli import run
from etl_duck.ingest.run import ingest_paths
from etl_duck.site.render import plain
from tests.lakecheck import one_player_round

RLO, LRI, PDI = "\u202e", "\u2066", "\u2069"


def test_the_bot_and_the_site_show_a_name_without_direction_controls() -> None:
    for show in (esc, plain):
        assert show(f"{RLO}evil{LRI}x{PDI}\u200f") == "evilx"
    assert esc(f"*b{RLO}*") == "\\*b\\*"  # markdown still escaped


def test_the_cli_shows_a_name_without_direction_controls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, data = tmp_path / "src", tmp_path / "data"
    src.mkdir()
    path = one_player_round(src, "2026-02-01-210000")
    path.write_bytes(path.read_bytes().replace(b"Blue", f"Blue{RLO}".encode(), 1))
    ingest_paths(data, [path])
    capsys.readouterr()
    assert run(["--data-dir", str(data), "top", "kills", "--min-rounds", "0"]) == 0
    out = capsys.readouterr().out
    assert "BlueJay" in out and RLO not in out
    # the data keeps what the game wrote: --json and exports are data, not display
    assert run(["--data-dir", str(data), "top", "kills", "--min-rounds", "0", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert f"Blue{RLO}Jay" in {r["name"] for r in rows}
