"""A name is drawn as written: a player named ``$$`` broke /last_session and /session (a
chart raised mathtext's "Expected end of text, found '$'"), and ``$x^2$`` was drawn as the
formula x². Every chart that draws names, map or team names draws them literally."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.text import Text

from etl_duck import charts
from etl_duck.bot.chartworker import ChartWorker
from etl_duck.query.stats import SessionReport, Stats
from tests.bot_fakes import make_lake, real_files

# the last session of the real fixtures: six players in two teams (vid's, SuperBoyy's)
VID, SUPERBOYY, CARNIEE, OLZ, SMETARSKI, ENDEKK = (
    "D8423F90", "EDBB5DA9", "0A26D447", "5D989160", "1C747DF1", "7B84BE88",
)  # fmt: skip
QMR = "652EB4A6"  # on the kills board, not in that session
# as a stats file says them; ^1 ^7 ^2 are colour codes, stripped at ingest
WRITTEN = {VID: "$$", SUPERBOYY: "$x_2$", CARNIEE: "a$b", OLZ: "^1Red^7", ENDEKK: "^1$^7money^2$"}
SHOWN = {"$$", "$x_2$", "a$b", "Red", "$money$"}
# no stats file can say these: ^2 is a colour code, a backslash the field separator
FORMULA, BACKSLASH = "$x^2$", "\\"
LATER = {SMETARSKI: FORMULA, QMR: BACKSLASH}
FORMULAS = {FORMULA, "$x_2$"}  # mathtext draws them as x² and x₂
MAP = "$supply$"


def odd_files(dst: Path) -> list[Path]:
    """The real fixture files with the players of ``WRITTEN`` renamed and the map supply
    called ``MAP``, as the game server would have written them."""
    dst.mkdir()
    out = []
    for src in real_files():
        lines = src.read_bytes().split(b"\n")
        head = lines[0].split(b"\\")
        if len(head) > 1 and head[1] == b"supply":
            lines[0] = b"\\".join([head[0], MAP.encode(), *head[2:]])
        for i, line in enumerate(lines[1:], 1):
            fields = line.split(b"\\")
            if len(fields) >= 5 and fields[0].decode() in WRITTEN:
                fields[1] = WRITTEN[fields[0].decode()].encode()
                lines[i] = b"\\".join(fields)
        out.append(dst / src.name.replace("-supply-", f"-{MAP}-"))  # the name says it too
        out[-1].write_bytes(b"\n".join(lines))
    return out


def later(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the players of ``LATER`` so named."""
    return frame.with_columns(
        pl.col("guid").replace_strict(LATER, default=pl.col("name")).alias("name")
    )


@pytest.fixture(scope="module")
def stats(tmp_path_factory: pytest.TempPathFactory) -> Stats:
    root = tmp_path_factory.mktemp("odd-names")
    return Stats(make_lake(root / "data", odd_files(root / "raw")), min_rounds=1)


@pytest.fixture(scope="module")
def report(stats: Stats) -> SessionReport:
    rep = stats.last_session()
    return replace(rep, players=later(rep.players), dpm_timeline=later(rep.dpm_timeline))


def chart_calls(stats: Stats, report: SessionReport) -> dict[str, tuple[Callable[[], bytes], Any]]:
    """Each public chart drawn with the odd names, and the (width, height) it must have."""
    board = later(stats.leaderboard("kills", limit=10))
    compared = later(
        pl.concat([stats.compare(SMETARSKI, QMR), stats.compare(VID, CARNIEE)], how="diagonal")
    )
    card = stats.player_rating(SMETARSKI)
    return {
        "session_overview_png": (lambda: charts.session_overview_png(report), (1200, 850)),
        "dpm_timeline_png": (lambda: charts.dpm_timeline_png(report), (1200, 540)),
        "compare_radar_png": (lambda: charts.compare_radar_png(compared, ["dpm", "kd"]), (700, 700)),
        "leaderboard_png": (lambda: charts.leaderboard_png(board, "Kills of $$"), (900, 620)),
        "rating_history_png": (lambda: charts.rating_history_png(card.history, FORMULA), (900, 400)),
    }  # fmt: skip


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Figure]]:
    """The figures the charts render (each, once rendered, still holds its Text objects)."""
    drawn: list[Figure] = []
    real_png = charts._png

    def keep(fig: Figure) -> bytes:
        png = real_png(fig)
        drawn.append(fig)
        return png

    monkeypatch.setattr(charts, "_png", keep)
    yield drawn


def test_the_lake_has_the_odd_names(stats: Stats, report: SessionReport) -> None:
    assert set(report.players["name"].to_list()) == SHOWN | {FORMULA}  # colours stripped
    assert BACKSLASH in stats.leaderboard("kills", limit=10).pipe(later)["name"].to_list()
    assert MAP in report.maps["map_name"].to_list()
    assert report.teams is not None and {t.name for t in report.teams} == {"Team $$", "Team $x_2$"}


def test_every_chart_draws_odd_names_into_a_png(
    stats: Stats, report: SessionReport, figures: list[Figure]
) -> None:
    calls = chart_calls(stats, report)
    public = {n for n in dir(charts) if n.endswith("_png") and not n.startswith("_")}
    assert set(calls) == public  # a new chart is added here too
    for name, (draw, (width, height)) in calls.items():
        png = draw()
        assert imread(io.BytesIO(png), format="png").shape == (height, width, 4), name
        said = [t.get_text() for t in figures[-1].findobj(Text)]
        assert any(FORMULA in t for t in said), (name, said)
        assert not any("^" in t and FORMULA not in t for t in said), (name, said)
    texts = [t.get_text() for fig in figures for t in fig.findobj(Text)]
    for shown in (*SHOWN, "Team $$", "Team $x_2$", "Kills of $$", BACKSLASH):
        assert any(shown in t for t in texts), shown
    assert any(MAP in t for t in texts)  # in the DPM timeline's list of maps


def drawn_size(fig: Figure, text: Text, parse_math: bool) -> tuple[float, float]:
    """The size ``text``'s string takes in its font and angle, taken as it is or as math."""
    probe = Text(0, 0, text.get_text(), fontproperties=text.get_fontproperties(),
                 rotation=text.get_rotation(), parse_math=parse_math)  # fmt: skip
    probe.set_figure(fig)
    box = probe.get_window_extent(fig.canvas.get_renderer())  # type: ignore[attr-defined]
    return box.width, box.height


def test_a_name_that_reads_as_a_formula_is_drawn_as_its_characters(
    stats: Stats, report: SessionReport, figures: list[Figure]
) -> None:
    """``$x^2$`` (and ``$x_2$``) takes the room of its five characters on every chart, not
    that of x² (x₂)."""
    for name, (draw, _) in chart_calls(stats, report).items():
        draw()
        fig = figures[-1]
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        texts = [t for t in fig.findobj(Text) if t.get_visible()]
        shown = [t for t in texts if any(f in t.get_text() for f in FORMULAS)]
        assert shown, name
        for text in shown:
            box = text.get_window_extent(renderer)
            literal = drawn_size(fig, text, parse_math=False)
            assert drawn_size(fig, text, parse_math=True) != pytest.approx(literal)  # x²
            assert (box.width, box.height) == pytest.approx(literal, abs=0.5), (name, text)


def test_the_chart_worker_draws_odd_names(report: SessionReport) -> None:
    """The bot draws in its chart worker's process: the same functions, the same rule."""
    worker = ChartWorker()
    try:
        png = worker.render(charts.session_overview_png, report)
    finally:
        worker.close()
    assert png == charts.session_overview_png(report)
    assert imread(io.BytesIO(png), format="png").shape == (850, 1200, 4)
