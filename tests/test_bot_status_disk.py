"""/status names raw/ and the lake apart, and an interrupted ingest's leftovers, in the
words `etl-duck status` uses: an admin who runs only the bot saw "no problem" while raw/
(the source of truth) lacked files the lake counts, or names an interrupted ingest listed
never reached raw/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from etl_duck.bot.embeds.system import LEFTOVERS, RAW
from etl_duck.bot.format import esc
from etl_duck.cli import run as cli_run
from etl_duck.ingest.run import ingest_paths
from etl_duck.lake.rawstore import RawStore
from tests.bot_fakes import FakeInteraction, bot_running, field_value, invoke, run
from tests.lakecheck import one_player_round, renamed_pair


def _status(data: Path, links: Path) -> FakeInteraction:
    async def main() -> FakeInteraction:
        async with bot_running(data, links) as bot:
            return await invoke(bot, "status")

    return run(main())


def _titles(inter: FakeInteraction) -> list[str]:
    return [str(f.name).rsplit(" (", 1)[0] for f in inter.last.embed.fields]


def _cli_status(data: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, list[str]]:
    capsys.readouterr()
    assert cli_run(["--data-dir", str(data), "status", "--json"]) == 3
    info = json.loads(capsys.readouterr().out)
    return {"raw": info["raw"], "leftovers": info["leftovers"]}


def test_status_names_raw_apart_from_the_lake_and_lost_leftovers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, data = tmp_path / "src", tmp_path / "data"
    src.mkdir()
    ingest_paths(data, renamed_pair(src, "2026-02-01-210000", "2026-02-01-211000", "a"))
    ingest_paths(data, renamed_pair(src, "2026-02-03-210000", "2026-02-03-211000", "b"))
    healthy = _status(data, tmp_path / "links.db")
    assert RAW not in _titles(healthy) and LEFTOVERS not in _titles(healthy)

    # a backup restored with a date folder missing, and a disk that filled mid copy
    shutil.rmtree(data / "raw" / "2026-02-03")
    batch = tmp_path / "batch"
    batch.mkdir()
    files = [one_player_round(batch, f"2026-02-05-2{i}0000") for i in range(2)]
    RawStore(data).mark_pending(f.name for f in files)
    said = _cli_status(data, capsys)
    inter = _status(data, tmp_path / "links.db")
    raw = field_value(inter.last.embed, f"{RAW} (1)")
    assert raw == esc(said["raw"][0])  # the one sentence `etl-duck status` prints
    assert "raw/ lacks 2 of the" in raw and "restore raw/ from a backup" in raw
    left = field_value(inter.last.embed, f"{LEFTOVERS} (1)")
    assert left == esc(said["leftovers"][0])
    assert left.startswith("2 file(s) an interrupted ingest listed")
    assert files[0].name in said["leftovers"][0]
