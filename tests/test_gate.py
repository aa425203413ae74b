"""The test gate's budgets (``tests/conftest.py``): only CPU time can fail a run, counted over
every xdist worker and its children; wall time over its mark is a warning. So a busy machine
(which stretches wall time, not CPU time) cannot turn a green suite red."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SUITE = """
import time

def _burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

def test_burns_cpu_a():
    _burn(0.4)

def test_burns_cpu_b():
    _burn(0.4)

def test_only_waits():
    time.sleep(1.0)  # wall time, as on a busy machine: no CPU
"""


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text("from tests.conftest import *  # noqa: F403\n")
    (tmp_path / "test_suite.py").write_text(SUITE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "--wall-warning-seconds", "0.5", *args, str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip


def test_cpu_over_budget_fails_and_wall_over_its_mark_only_warns(tmp_path: Path) -> None:
    # two workers burn 0.8 s of CPU between them: over a 0.8 s budget only if the workers'
    # CPU is counted (the controller itself burns none of it)
    over = _pytest(tmp_path, "-n", "2", "--cpu-budget-seconds", "0.8")
    assert over.returncode == 1, over.stdout + over.stderr
    assert "exceeds the budget" in over.stdout
    assert "WARNING: wall time over" in over.stdout
    # a second of waiting (no CPU) within a budget its CPU fits: warned, never failed
    ok = _pytest(tmp_path, "-p", "no:xdist", "-k", "only_waits", "--cpu-budget-seconds", "60")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "WARNING: wall time over" in ok.stdout
    found = re.search(r"suite: ([\d.]+) s wall, ([\d.]+) s CPU", ok.stdout)
    assert found, ok.stdout
    wall, cpu = float(found[1]), float(found[2])
    assert wall >= 1.0 and cpu < wall - 0.5  # the second of waiting is wall time, not CPU
