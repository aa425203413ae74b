"""The wheel is the product: built from the repo, installed (not editable) into a fresh
virtualenv, it runs a query from another directory — the SQL travels inside it."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from etl_duck.ingest.run import ingest_paths
from tests.conftest import REAL

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_the_queries_and_runs_from_anywhere(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(ROOT)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = dist.glob("etl_duck-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    sql = {Path(n).name for n in names if n.startswith("etl_duck/queries/")}
    assert sql == {p.name for p in (ROOT / "queries").glob("*.sql")}
    assert "etl_duck/py.typed" in names

    venv = tmp_path / "venv"
    # no pip of its own (ensurepip costs seconds): this pip installs into it (--python)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    # the dependencies come from this environment (no network); etl-duck itself only from
    # the wheel: a .pth file adds our site-packages after the venv's own
    site = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    data = tmp_path / "data"
    ingest_paths(data, [REAL])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [str(venv / "bin" / "etl-duck"), "--data-dir", str(data), "top", "kills", "--json"],
        cwd=elsewhere, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    where = subprocess.run(
        [str(py), "-c", "import etl_duck.sqlfiles as s; print(s.QUERY_DIR)"],
        cwd=elsewhere, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(str(site)) and where.endswith("etl_duck/queries")  # not the repo
    assert '"stat": "kills"' in done.stdout
