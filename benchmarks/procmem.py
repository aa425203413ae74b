"""Memory of a process and of a process tree, and scheduler times, from ``/proc``
(psutil for the tree walk).

RSS counts every page a process maps, shared library pages included, so the sum of RSS
over a tree counts pages shared between parent and workers (fork, shared libraries) once
per process: a safe upper bound. PSS (``/proc/PID/smaps_rollup``) divides each shared
page between the processes that map it, so the sum of PSS over a tree is what the tree
really holds. Both are reported.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

MIB = 1024.0  # /proc reports kB


def rollup(pid: int | str = "self") -> dict[str, float]:
    """``Rss`` and ``Pss`` of one process in MiB (0 when it is gone)."""
    out = {"rss": 0.0, "pss": 0.0}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            out[key.lower()] = int(rest.split()[0]) / MIB
    return out


def status_mib(field: str, pid: int | str = "self") -> float:
    """A ``/proc/PID/status`` memory field (``VmRSS``, ``VmHWM``) in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / MIB
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def tree_memory(pid: int | None = None, *, include_root: bool = True) -> tuple[float, float]:
    """(Σ RSS, Σ PSS) in MiB of the process ``pid`` (default: this one) and every
    descendant (``include_root=False``: the descendants only); (0, 0) when it is gone."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [*([root] if include_root else []), *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0
    rss = pss = 0
    for p in procs:
        try:
            info = p.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss / 2**20, pss / 2**20


def self_memory() -> dict[str, float]:
    """This process now: RSS, PSS (smaps_rollup) and its peak RSS (VmHWM), MiB."""
    return {**rollup("self"), "peak_rss": status_mib("VmHWM")}


class TreeSampler:
    """Samples the tree under ``pid`` every ``interval`` seconds in a thread, keeping the
    peaks: the largest single process RSS, Σ RSS and Σ PSS over the tree."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_largest_rss = 0.0
        self.peak_tree_rss = 0.0
        self.peak_tree_pss = 0.0
        self.max_processes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _pids(self) -> list[int]:
        import psutil

        try:
            root = psutil.Process(self.pid)
            return [self.pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.Error:
            return []

    def sample(self) -> None:
        pids = self._pids()
        if not pids:
            return
        rss = [status_mib("VmRSS", p) for p in pids]
        pss = sum(rollup(p)["pss"] for p in pids)
        self.peak_largest_rss = max(self.peak_largest_rss, max(rss))
        self.peak_tree_rss = max(self.peak_tree_rss, sum(rss))
        self.peak_tree_pss = max(self.peak_tree_pss, pss)
        self.max_processes = max(self.max_processes, len(pids))
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            self.sample()
            self._stop.wait(max(0.0, self.interval - (time.perf_counter() - t0)))

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def as_dict(self) -> dict[str, Any]:
        return {
            "peak_largest_rss_mib": self.peak_largest_rss,
            "peak_tree_rss_mib": self.peak_tree_rss,
            "peak_tree_pss_mib": self.peak_tree_pss,
            "max_processes": self.max_processes,
            "memory_samples": self.samples,
            "sample_interval_s": self.interval,
        }


def sched_ms(pid: int | str = "self") -> tuple[float, float]:
    """(time on a CPU, time waiting for one in the run queue) of a process so far, in ms,
    summed over its threads (``/proc/PID/task/*/schedstat``, nanoseconds). The second is
    what a busy machine adds to a wall time: the process was ready but another held the
    core. (nan, nan) where the kernel does not keep these."""
    cpu = wait = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return float("nan"), float("nan")
    for t in tasks:
        try:
            fields = (t / "schedstat").read_text().split()
            cpu += int(fields[0])
            wait += int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    return cpu / 1e6, wait / 1e6
