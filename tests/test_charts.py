"""PNG charts: valid images of the expected size, thread-safe, no pyplot, no discord."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from collections.abc import Callable
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
    assert png_size(charts.session_overview_png(report)) == (1200, 850)
    # small multiples: one panel per player, four a row (6 players here: 3 a row, 2 rows)
    assert report.players.height == 6
    assert png_size(charts.dpm_timeline_png(report)) == (1200, 540)


def test_a_leaderboard_axis_shows_the_differences() -> None:
    """294 and 336 DPM must not look alike: the axis starts near the smallest value."""
    lo, hi = charts.value_axis([294.5, 336.1])
    assert 250 < lo < 294.5 and hi > 336.1
    assert (336.1 - lo) / (294.5 - lo) > 2  # the longer bar is at least twice the shorter
    lo, hi = charts.value_axis([5, 120])  # far apart: the axis starts at 0
    assert lo == 0.0 and hi == pytest.approx(120 + 115 * 0.3)
    assert charts.value_axis([-3.0, 2.0])[0] < -3.0  # negatives stay visible


def test_compare_and_leaderboard_charts(stats: Stats) -> None:
    rows = stats.compare("vid", "SuperBoyy")
    assert png_size(charts.compare_radar_png(rows, ["dpm", "kd", "accuracy"])) == (700, 700)
    board = stats.leaderboard("kills", limit=10)
    png = charts.leaderboard_png(board, "Kills — all time")
    assert png_size(png) == (900, 620)
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


def test_a_blank_name_is_the_guid_and_namesakes_are_told_apart(
    report: SessionReport, stats: Stats, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chart said nothing for a player whose name shows nothing (``^1^2``: a bar without a
    label, an empty panel title) and drew two players of one name alike; it shows names as
    the bot's embeds and the site do."""
    from matplotlib.text import Text

    drawn: list[str] = []
    real_png = charts._png

    def texts(fig: object) -> bytes:
        drawn.extend(t.get_text() for t in fig.findobj(Text))  # type: ignore[attr-defined]
        return real_png(fig)  # type: ignore[arg-type]

    monkeypatch.setattr(charts, "_png", texts)
    guids = report.players["guid"].to_list()
    blank, twin_a, twin_b = guids[0], guids[1], guids[2]
    rename = {blank: "", twin_a: "vid", twin_b: "vid"}

    def renamed(frame: pl.DataFrame) -> pl.DataFrame:
        name = pl.col("guid").replace_strict(rename, default=pl.col("name"))
        return frame.with_columns(name.alias("name"))

    players, timeline = renamed(report.players), renamed(report.dpm_timeline)
    odd = SessionReport(
        report.session_id, report.session_date, report.start_time, report.end_time, players,
        report.maps, report.rounds, report.teams, report.mvp, timeline,
    )  # fmt: skip
    board = renamed(stats.leaderboard("kills", limit=10).filter(pl.col("guid").is_in(guids)))
    draws: list[Callable[[], bytes]] = [
        lambda: charts.session_overview_png(odd),
        lambda: charts.dpm_timeline_png(odd),
        lambda: charts.compare_radar_png(players.head(3), ["dpm", "kd"]),
        lambda: charts.leaderboard_png(board, "Kills"),
    ]
    for draw in draws:
        drawn.clear()
        draw()
        said = " | ".join(drawn)
        assert str(blank) in said, said
        assert f"vid ({str(twin_a)[:4]})" in said and f"vid ({str(twin_b)[:4]})" in said, said
