"""How fast this machine runs the suite's kind of work now, so that a budget measures the
code, not the machine.

CPU time does not grow when other processes share the cores, but it does when the host
behind a virtual machine is slower or oversubscribed: a guest sees no steal time, so every
instruction simply costs more CPU seconds (the same suite: 313 s of CPU on one dev VM, 762 s
on another, 2026-11-30). The gate's budgets are therefore set in *reference seconds*: the
CPU time the work would take on the machine where ``REFERENCE_S`` was measured. A short,
fixed workload is timed several times during a run; its CPU time against ``REFERENCE_S`` is
the machine's slowness, and a budget is scaled by it.

The workload is the suite's mix: most of the suite's CPU is native code (DuckDB, Arrow,
Polars: py-spy found no Python function over 3 %), the rest the interpreter. A pure-Python
workload alone misjudged a host by 1.7× (2026-12-02: it ran 2.4× faster than on the
reference, the suite's DuckDB-heavy CPU only ~1.4×, and a green suite failed its budget).
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

# CPU seconds of one ``sample()`` on the reference machine (the 2-core dev VM of 2026-12-02,
# Python 3.11, DuckDB 2.0: the mean of 60 samples with the machine near idle). The budgets in
# the Makefile and tests/contracts.py are in seconds of this machine.
REFERENCE_S = 0.058
_N = 100_000
_ROWS = 800_000
_NATIVE: list[Any] = []  # one single-threaded DuckDB connection per process, opened untimed


def _work(n: int) -> int:
    # dict, int and attribute work, as the interpreter does most of in the suite
    seen: dict[int, int] = {}
    total = 0
    for i in range(n):
        k = (i * 7919) & 1023
        seen[k] = seen.get(k, 0) + 1
        total += len(str(k))
    return total


def _native_work(rows: int) -> None:
    # a hash aggregate, a distinct count and casts over generated rows, on one thread: the
    # engine's work that most of the suite's queries and commits are made of
    _NATIVE[0].execute(
        "SELECT count(DISTINCT i % 4099), sum(hash(i) % 1000), max(i::VARCHAR) FROM range(?) t(i)",
        [rows],
    ).fetchall()


def sample() -> float:
    """CPU seconds of the fixed workload in this process, now (about a third interpreter,
    two thirds DuckDB on one thread)."""
    if not _NATIVE:
        import duckdb

        _NATIVE.append(duckdb.connect(config={"threads": 1}))
        _native_work(1_000)  # the first query's set-up is not the machine's speed
    start = time.process_time()
    _work(_N)
    _native_work(_ROWS)
    return time.process_time() - start


def slowness(samples: list[float]) -> float:
    """How many times slower than the reference machine the samples say this one is
    (the mean: a run's CPU time accrues over the whole run, fast and slow minutes alike)."""
    return statistics.fmean(samples) / REFERENCE_S if samples else 1.0


def busy_allowance() -> float:
    """How many times a wall-clock limit of a test may stretch now because other work
    shares the cores (1.0 on a machine that is not oversubscribed): a test that checks a
    deadline (Discord's 3 s, "never waits for a lock") measures the code only while the
    machine is not busy, and must not fail because it is (a CI on a shared host ran at load
    13 on 2 cores, 2026-12-02: the bot's acks took 3.0–4.5 s). The load is the larger of
    the 1-minute average and the tasks runnable right now (the average lags a burst); up to
    two runnable tasks per core is the suite's own normal (xdist workers and their threads).
    """
    cores = os.cpu_count() or 1
    try:
        fields = Path("/proc/loadavg").read_text().split()
        load = max(float(fields[0]), float(fields[3].split("/")[0]))
    except (OSError, ValueError, IndexError):
        load = os.getloadavg()[0]
    return max(1.0, load / (2 * cores))


def within(seconds: float, limit: float, what: str) -> bool:
    """Whether ``seconds`` is within ``limit`` stretched by :func:`busy_allowance`; a time
    past ``limit`` that only the stretch allows is a warning (the operator sees it), not a
    failure."""
    if seconds < limit:
        return True
    allowance = busy_allowance()
    if seconds < limit * allowance:
        warnings.warn(
            f"{what} took {seconds:.2f} s, past its {limit:g} s: allowed on a busy machine "
            f"({allowance:.1f}× the limit now)",
            stacklevel=2,
        )
        return True
    return False
