"""The notebook runs top to bottom (its code cells executed in one namespace)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore_lake.ipynb"


def test_notebook_executes(
    monkeypatch: pytest.MonkeyPatch, synthetic_lake: tuple[Path, object]
) -> None:
    data, _ = synthetic_lake
    monkeypatch.setenv("ETL_DUCK_DATA_DIR", str(data))
    nb = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    namespace: dict[str, object] = {}
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert len(cells) >= 4
    for cell in cells:
        exec(compile(cell.source, f"{NOTEBOOK.name}", "exec"), namespace)
    career = namespace["career"]
    assert career.height > 10  # type: ignore[attr-defined]
