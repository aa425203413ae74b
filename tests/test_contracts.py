"""The import contract fails loudly when the query core imports a forbidden layer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests import contracts

ROOT = Path(__file__).resolve().parents[1]


def test_the_core_is_clean() -> None:
    for module in ("etl_duck.query.stats", "etl_duck.ingest.run", "etl_duck.domain.parse"):
        assert contracts.violations(module) == []


def test_import_discord_in_a_core_module_breaks_the_contract(tmp_path: Path) -> None:
    pkg = tmp_path / "etl_duck"
    shutil.copytree(ROOT / "etl_duck", pkg)
    query = pkg / "query" / "stats.py"
    text = query.read_text().replace(
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nimport discord  # a mistake\n",
        1,
    )
    query.write_text(text)
    shutil.copytree(ROOT / "tests", tmp_path / "tests")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "ETL_DUCK_QUERIES": str(ROOT / "queries")}
    # the imports alone: a start-up measure of a copy that imports discord (15 cold
    # interpreters over budget, each retried) cost 17 s of CPU and tests nothing here
    out = subprocess.run(
        [sys.executable, "-m", "tests.contracts", "--imports-only", "etl_duck.query.stats"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert "import contract broken: core module etl_duck.query.stats imports discord" in out.stderr


def test_the_start_up_budget_fails_only_when_every_attempt_misses(monkeypatch: Any) -> None:
    """A busy minute (one attempt over) passes on a retry; an import over its budget in
    every attempt (a regression) fails, with what was measured."""
    monkeypatch.setattr(contracts, "violations", lambda module: [])
    tries: list[bool] = []

    def measured(outcomes: list[bool]) -> Any:
        def startup(budget_ms: float) -> tuple[str, bool]:
            tries.append(outcomes[len(tries)])
            return f"cold import: attempt {len(tries)}", tries[-1]

        return startup

    monkeypatch.setattr(contracts, "_startup", measured([False, True, True]))
    assert contracts.check(("etl_duck.query.stats",)) == [] and tries == [False, True]
    tries.clear()
    monkeypatch.setattr(contracts, "_startup", measured([False] * contracts.ATTEMPTS))
    assert contracts.check(("etl_duck.query.stats",)) == [
        f"start-up budget broken: cold import: attempt {contracts.ATTEMPTS}"
    ]
