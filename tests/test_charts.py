"""PNG charts: valid images of the expected size, thread-safe, no pyplot, no discord."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest

from etl_duck import charts
from etl_duck.query.stats import SessionReport, Stats
from tests.bot_fakes import template_lake

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    return width, height


def pixels_of(data: bytes, colour: str) -> int:
    """How many pixels of the PNG have exactly ``colour`` (#rrggbb): the marks drawn."""
    from PIL import Image

    rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    image = Image.open(io.BytesIO(data)).convert("RGB")
    counts = dict((c, n) for n, c in image.getcolors(maxcolors=1 << 22) or [])
    return counts.get(rgb, 0)


@pytest.fixture(scope="module")
def stats(tmp_path_factory: pytest.TempPathFactory) -> Stats:
    return Stats(template_lake(tmp_path_factory), min_rounds=1)


@pytest.fixture(scope="module")
def report(stats: Stats) -> SessionReport:
    return stats.last_session()


def test_session_charts(report: SessionReport) -> None:
    assert png_size(charts.session_overview_png(report)) == (1000, 700)
    assert png_size(charts.dpm_timeline_png(report)) == (1100, 600)


def test_compare_and_leaderboard_charts(stats: Stats) -> None:
    rows = stats.compare("vid", "SuperBoyy")
    assert png_size(charts.compare_radar_png(rows, ["dpm", "kd", "accuracy"])) == (700, 700)
    board = stats.leaderboard("kills", limit=10)
    png = charts.leaderboard_png(board, "Kills — all time")
    assert png_size(png) == (900, 600)
    # bars are drawn, and they follow the data: halving the last player's value (the axis
    # stays set by the first) shrinks the ink
    ink = pixels_of(png, charts.PALETTE[0])
    assert ink > 1000
    last = pl.int_range(pl.len()) == pl.len() - 1
    halved = board.with_columns(pl.when(last).then(pl.col("value") // 2).otherwise(pl.col("value")))
    assert (
        0 < pixels_of(charts.leaderboard_png(halved, "Kills — all time"), charts.PALETTE[0]) < ink
    )


def test_empty_inputs_still_render(report: SessionReport) -> None:
    empty = SessionReport(
        report.session_id, report.session_date, report.start_time, report.end_time,
        report.players.clear(), report.maps.clear(), report.rounds.clear(), None, None,
        report.dpm_timeline.clear(),
    )  # fmt: skip
    for data in (
        charts.session_overview_png(empty),
        charts.dpm_timeline_png(empty),
        charts.compare_radar_png(pl.DataFrame(), ["dpm"]),
        charts.leaderboard_png(pl.DataFrame({"name": [], "value": []}), "nothing"),
    ):
        assert data[:8] == PNG
        assert pixels_of(data, charts.PALETTE[0]) == 0  # no data, no bars: only the notice


def test_concurrent_rendering_in_threads(report: SessionReport) -> None:
    """Each call owns its Figure and canvas, so worker threads do not interfere."""
    board = report.players.select("name", pl.col("dpm").alias("value"))
    expected = charts.leaderboard_png(board, "DPM")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: charts.leaderboard_png(board, "DPM"), range(4)))
    assert all(r == expected for r in results)


def test_no_pyplot_and_no_discord() -> None:
    code = (
        "import sys, etl_duck.charts as c; c.warm_up(); "
        "bad = [m for m in sys.modules if m == 'matplotlib.pyplot' or m.startswith('discord')]; "
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout  # fmt: skip
    assert out.strip() == "[]"
