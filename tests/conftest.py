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
        help="parser fuzz size (default: 400 in a normal run, 100,000 with --runslow)",
    )
    parser.addoption(
        "--cpu-budget-seconds",
        type=float,
        default=0,
        help="fail when the suite's CPU time (every worker and its children) exceeds this; "
        "CPU time does not grow when the machine is busy, wall time does (0 = no budget)",
    )
    parser.addoption(
        "--wall-warning-seconds",
        type=float,
        default=0,
        help="print a warning (never fail) when the suite's wall time exceeds this",
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


def _cpu_seconds(children: bool = True) -> float:
    """CPU time of this process and (optionally) its reaped children (parse workers, forks)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    total = own.ru_utime + own.ru_stime
    if children:
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        total += kids.ru_utime + kids.ru_stime
    return total


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: report its CPU time to the controller
        workeroutput["cpu_seconds"] = _cpu_seconds()
        return
    took = time.monotonic() - _START
    # with xdist, the workers report their own (and their children's) CPU time; the
    # controller adds only its own, so a reaped worker is not counted twice
    cpu = _cpu_seconds(children=False) + sum(_WORKER_CPU) if _WORKER_CPU else _cpu_seconds()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    line = f"suite: {took:.1f} s wall, {cpu:.1f} s CPU"
    budget = config.getoption("--cpu-budget-seconds")
    warn = config.getoption("--wall-warning-seconds")
    if warn and took > warn:
        line += f" — WARNING: wall time over {warn:.0f} s (a busy machine? see the CPU figure)"
    if reporter is not None:
        reporter.write_line(line)
    if budget and cpu > budget and exitstatus == 0:
        if reporter is not None:
            reporter.write_line(f"CPU time {cpu:.0f} s exceeds the budget of {budget:.0f} s")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_WORKER_CPU: list[float] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """xdist hook (controller): collect each worker's CPU time as it finishes."""
    out = getattr(node, "workeroutput", {})
    if "cpu_seconds" in out:
        _WORKER_CPU.append(float(out["cpu_seconds"]))


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
