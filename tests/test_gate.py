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
    _burn(0.6)

def test_burns_cpu_b():
    _burn(0.6)

def test_only_waits():
    time.sleep(2.0)  # wall time, as on a busy machine: no CPU
"""


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text("from tests.conftest import *  # noqa: F403\n")
    (tmp_path / "test_suite.py").write_text(SUITE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "-q",
         "--wall-warning-seconds", "1", *args, str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip


def test_cpu_over_budget_fails_and_wall_over_its_mark_only_warns(tmp_path: Path) -> None:
    # 1.2 s of CPU in the two workers' tests: over a 1 s budget only if the workers'
    # CPU is counted (the controller itself burns none of it)
    over = _pytest(tmp_path, "--cpu-budget-seconds", "1")
    assert over.returncode == 1, over.stdout + over.stderr
    assert "exceeds the budget of 1 s" in over.stdout
    assert "WARNING: wall time over 1 s" in over.stdout
    # the same suite, its 2 s of waiting included, passes a budget its CPU time fits
    ok = _pytest(tmp_path, "--cpu-budget-seconds", "60")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "WARNING: wall time over 1 s" in ok.stdout  # said, never failed on
    found = re.search(r"suite: ([\d.]+) s wall, ([\d.]+) s CPU", ok.stdout)
    assert found, ok.stdout
    wall, cpu = float(found[1]), float(found[2])
    assert wall >= 2.0 and cpu >= 1.2  # the waiting shows in wall time, the work in CPU
