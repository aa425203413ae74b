from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures" / "stats"
REAL = SHARED / "fixtures" / "real"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run long fuzz/crash/scale tests")
    parser.addoption(
        "--spark",
        action="store_true",
        help="run the Spark test (a JVM: ~20 s; make test-spark, .ci/run)",
    )
    parser.addoption(
        "--fuzz-mutants",
        type=int,
        default=0,
        help="parser fuzz size (default: 1,000 in a normal run, 100,000 with --runslow)",
    )
    parser.addoption(
        "--budget-seconds",
        type=float,
        default=0,
        help="fail the run when the whole suite takes longer than this (0 = no budget)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--spark"):
        no_spark = pytest.mark.skip(reason="Spark test: run with --spark (make test-spark)")
        for item in items:
            if "spark" in item.keywords:
                item.add_marker(no_spark)
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


_START = time.monotonic()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    budget = session.config.getoption("--budget-seconds")
    took = time.monotonic() - _START
    if budget and took > budget:
        print(f"\nsuite wall time {took:.0f} s exceeds the budget of {budget:.0f} s")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "data"
    d.mkdir()
    yield d


@pytest.fixture(scope="session")
def synthetic_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """Four months of a synthetic community, ingested once for the whole run: (data dir, Truth)."""
    from etl_duck.ingest.run import ingest_paths
    from etl_duck.synth import generate

    files = tmp_path_factory.mktemp("synthetic-files")
    truth = generate(files, seed=5, days=120)
    data = tmp_path_factory.mktemp("synthetic-data")
    ingest_paths(data, [files])
    return data, truth
