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
        help="fail when the suite's CPU time (every worker and its children), in seconds of the "
        "reference machine (tests/machine.py), exceeds this; CPU time does not grow when the "
        "cores are shared, wall time does, and the host's speed is measured (0 = no budget)",
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
# this process's timings of tests/machine.py's fixed workload: at the start and every
# _SAMPLE_EVERY tests (~2 s of CPU in a whole run), so that a host that is slow for a few
# minutes weighs as much as those minutes do
_MACHINE: list[float] = []
_SAMPLE_EVERY = 20
_TESTS_DONE = [0]


def pytest_sessionstart(session: pytest.Session) -> None:
    from tests.machine import sample

    _MACHINE.append(sample())


def pytest_runtest_logfinish(nodeid: str, location: object) -> None:
    _TESTS_DONE[0] += 1
    if _TESTS_DONE[0] % _SAMPLE_EVERY == 0:
        from tests.machine import sample

        _MACHINE.append(sample())


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
        workeroutput["machine_samples"] = list(_MACHINE)
        return
    took = time.monotonic() - _START
    # with xdist, the workers report their own (and their children's) CPU time; the
    # controller adds only its own, so a reaped worker is not counted twice
    cpu = _cpu_seconds(children=False) + sum(_WORKER_CPU) if _WORKER_CPU else _cpu_seconds()
    from tests.machine import slowness

    slow = slowness(_MACHINE + _WORKER_SAMPLES)
    reference = cpu / slow
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    line = (
        f"suite: {took:.1f} s wall, {cpu:.1f} s CPU; this machine {slow:.2f}× the reference "
        f"(tests/machine.py) = {reference:.0f} reference s"
    )
    budget = config.getoption("--cpu-budget-seconds")
    warn = config.getoption("--wall-warning-seconds")
    if budget:
        line += f" (budget {budget:.0f})"
    if warn and took > warn:
        line += f" — WARNING: wall time over {warn:.0f} s (a busy machine? see the CPU figure)"
    if reporter is not None:
        reporter.write_line(line)
    if budget and reference > budget and exitstatus == 0:
        if reporter is not None:
            reporter.write_line(
                f"CPU time {reference:.0f} reference s exceeds the budget of {budget:.0f} s"
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_WORKER_CPU: list[float] = []
_WORKER_SAMPLES: list[float] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """xdist hook (controller): collect each worker's CPU time as it finishes."""
    out = getattr(node, "workeroutput", {})
    if "cpu_seconds" in out:
        _WORKER_CPU.append(float(out["cpu_seconds"]))
    _WORKER_SAMPLES.extend(float(x) for x in out.get("machine_samples", ()))


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


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder other users may enter (pytest's own tmp folder is private to this one): for
    the tests that run etl-duck as another user."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="etl-duck-shared-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
