"""How fast this machine runs Python now, so that a budget measures the code, not the machine.

CPU time does not grow when other processes share the cores, but it does when the host
behind a virtual machine is slower or oversubscribed: a guest sees no steal time, so every
instruction simply costs more CPU seconds (the same suite: 313 s of CPU on one dev VM, 762 s
on another, 2026-11-30). The gate's budgets are therefore set in *reference seconds*: the
CPU time the work would take on the machine where ``REFERENCE_S`` was measured. A short,
fixed pure-Python workload is timed several times during a run; its CPU time against
``REFERENCE_S`` is the machine's slowness, and a budget is scaled by it.
"""

from __future__ import annotations

import statistics
import time

# CPU seconds of one ``sample()`` on the reference machine (the dev VM where the budgets in
# the Makefile and tests/contracts.py were set, 2026-11-30): the mean of 90 samples, idle
REFERENCE_S = 0.042
_N = 100_000


def _work(n: int) -> int:
    # dict, int and attribute work, as the interpreter does most of in the suite
    seen: dict[int, int] = {}
    total = 0
    for i in range(n):
        k = (i * 7919) & 1023
        seen[k] = seen.get(k, 0) + 1
        total += len(str(k))
    return total


def sample() -> float:
    """CPU seconds of the fixed workload in this process, now."""
    start = time.process_time()
    _work(_N)
    return time.process_time() - start


def slowness(samples: list[float]) -> float:
    """How many times slower than the reference machine the samples say this one is
    (the mean: a run's CPU time accrues over the whole run, fast and slow minutes alike)."""
    return statistics.fmean(samples) / REFERENCE_S if samples else 1.0
