"""The bot's chart worker: charts drawn in a process of their own (matplotlib never enters
the bot's process), the same PNGs as drawn in process, and a worker that dies replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from etl_duck import charts
from etl_duck.bot.chartworker import ChartWorker
from etl_duck.query.stats import SessionReport, Stats
from tests.bot_fakes import template_lake


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> SessionReport:
    return Stats(template_lake(tmp_path_factory), min_rounds=1).last_session()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a dead child stays a zombie until its pool reaps it: read its state
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split(") ")[1][0] in "ZX"


def test_the_worker_draws_the_same_png_and_a_dead_worker_is_replaced(
    report: SessionReport,
) -> None:
    worker = ChartWorker()
    try:
        png = worker.render(charts.session_overview_png, report)
        assert png == charts.session_overview_png(report)  # what the thread used to draw
        first = worker.pid()
        assert first is not None and first != os.getpid()
        os.kill(first, signal.SIGKILL)  # killed (say, by the OOM killer) between charts
        deadline = time.monotonic() + 10
        while not _gone(first) and time.monotonic() < deadline:
            time.sleep(0.02)
        board = report.players.select("name", pl.col("dpm").alias("value"))
        assert worker.render(charts.leaderboard_png, board, "DPM") == charts.leaderboard_png(
            board, "DPM"
        )
        second = worker.pid()
        assert second is not None and second not in (first, os.getpid())
    finally:
        worker.close()
    assert worker.pid() is None


def test_the_bot_process_never_loads_matplotlib() -> None:
    code = (
        "import sys, polars as pl\n"
        "from etl_duck import charts\n"
        "from etl_duck.bot.chartworker import ChartWorker\n"
        "w = ChartWorker(); w.warm_up()\n"
        "board = pl.DataFrame({'name': ['a', 'b'], 'value': [3, 2]})\n"
        "png = w.render(charts.leaderboard_png, board, 'Kills')\n"
        "w.close()\n"
        "print(png[:4] == b'\\x89PNG', 'matplotlib' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout  # fmt: skip
    assert out.split() == ["True", "False"]
