"""Shared pieces of the benchmarks: timing, the synthetic data set, machine facts.

Timing is ``time.perf_counter`` around the whole client round trip. A :class:`Timing` keeps
every sample, so the report can give the median, the p95 and the first (cold) run.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from etl_duck.ingest.options import IngestOptions

ROOT = Path(__file__).resolve().parents[1]
START = date(2016, 1, 4)  # a Monday; the synthetic history starts here

#: a synthetic history runs past today (30 years from START: to 2046), and the ingest
#: quarantines files dated ahead of the clock (a game server's wrong clock): the check is
#: off for the benchmarks, in process (:func:`ingest_options`) and in the ``etl-duck``
#: processes they start (this in their environment)
NO_FUTURE_CHECK_ENV = {"ETL_DUCK_FUTURE_TOLERANCE_HOURS": "0"}


def ingest_options() -> IngestOptions:
    """The ingest's defaults, without the check of files dated ahead of the clock."""
    from etl_duck.ingest.options import IngestOptions

    return IngestOptions(future_tolerance_hours=None)


def size_days(years: float) -> int:
    """Days of history for a size in whole years: every size ends on 27 December, so its
    benchmark's new files land in the last days of a full year at every size. A commit
    re-sums its year into the careers (and, before the latest dates had a serving shard of
    their own, rewrote its year's serving shards), so sizes that ended at different points
    of a year (1 and 10 years early in January, 30 years in late December) compared a new
    year's few rounds with a full year's. Other sizes: 365 a year.
    """
    whole = round(years)
    if whole >= 1 and abs(years - whole) < 1e-9:
        return (date(START.year + whole - 1, 12, 27) - START).days
    return round(years * 365)


def label_of_days(days: int) -> str:
    """ "1 year" for ``size_days(1)`` (358 days), "10 years", …; "7 days" below ~a year."""
    if days < 300:
        return f"{days} days"
    years = round(days / 365, 1)
    return f"{years:g} year" if years == 1 else f"{years:g} years"


SEED = 7
BACKLOG_FILES = 100


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """Samples of one measured operation, in milliseconds."""

    samples: list[float] = field(default_factory=list)
    first: float | None = None  # the first (cold) run, not part of ``samples``

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def p95(self) -> float:
        if not self.samples:
            return float("nan")
        s = sorted(self.samples)
        return s[min(len(s) - 1, max(0, round(0.95 * (len(s) - 1))))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_ms": self.median,
            "p95_ms": self.p95,
            "first_ms": self.first,
            "n": self.n,
        }


def fmt_ms(x: float | None) -> str:
    """Milliseconds with the digits that matter (— for none or NaN)."""
    if x is None or x != x:
        return "—"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def time_ms(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def measure(
    fn: Callable[[], Any],
    *,
    reps: int = 20,
    min_reps: int = 5,
    budget_s: float = 10.0,
    before: Callable[[], Any] | None = None,
    first: bool = True,
) -> Timing:
    """Run ``fn`` once cold (``first``), then up to ``reps`` times, at least ``min_reps``,
    stopping early once ``budget_s`` of measured time is spent. ``before`` runs untimed
    before every call (e.g. clearing a cache)."""
    t = Timing()
    if first:
        if before is not None:
            before()
        t.first, _ = time_ms(fn)
    spent = 0.0
    for i in range(reps):
        if before is not None:
            before()
        ms, _ = time_ms(fn)
        t.samples.append(ms)
        spent += ms / 1000
        if i + 1 >= min_reps and spent > budget_s:
            break
    return t


# --------------------------------------------------------------------------- data set


@dataclass
class Dataset:
    """A synthetic history split into what the lake holds, a backlog and one late file."""

    days: int
    files_dir: Path  # every generated file (flat)
    history: list[Path]  # the first ``days`` days: ingested up front
    backlog: list[Path]  # the next BACKLOG_FILES files, in file-time order
    late_file: Path  # a counted round 1 after the backlog (visibility latency)
    gen_s: float = 0.0

    @property
    def label(self) -> str:
        return label_of_days(self.days)


def make_dataset(days: int, out: Path, backlog: int = BACKLOG_FILES) -> Dataset:
    """Generate ``days`` days of history plus enough following days for the backlog."""
    from etl_duck.synth import generate

    files_dir = out / "files"
    extra = 28
    t0 = time.perf_counter()
    while True:
        truth = generate(files_dir, seed=SEED, start=START, days=days + extra)
        cut = START + timedelta(days=days)
        ordered = sorted(truth.rounds, key=lambda r: (r.end_time, r.file_name))
        hist = [r for r in ordered if r.end_time.date() < cut]
        after = [r for r in ordered if r.end_time.date() >= cut]
        late = late_candidates(after, backlog, lambda r: r.end_time)
        if len(after) > backlog and late:
            break
        extra *= 2
    gen_s = time.perf_counter() - t0
    return Dataset(
        days=days,
        files_dir=files_dir,
        history=[files_dir / r.file_name for r in hist],
        backlog=[files_dir / r.file_name for r in after[:backlog]],
        late_file=files_dir / late[0].file_name,
        gen_s=gen_s,
    )


class _RoundFile(Protocol):
    kind: str
    round_number: int
    map_name: str


R = TypeVar("R", bound=_RoundFile)


def late_candidates(after: Sequence[R], backlog: int, end_time: Callable[[R], datetime]) -> list[R]:
    """The files after the first ``backlog`` that make a clean late file: a counted round 1
    (not a filler map) that does not turn an earlier round 1 of its map into a "restart"
    (no round 1 of that map in the 20 minutes before it)."""
    return [
        r
        for i, r in enumerate(after)
        if i >= backlog
        and r.kind == "normal"
        and r.round_number == 1
        and r.map_name != "mp_sillyctf"
        and not any(
            p.map_name == r.map_name
            and p.round_number == 1
            and end_time(r) - end_time(p) <= timedelta(minutes=20)
            for p in after[max(0, i - 6) : i]
        )
    ]


# --------------------------------------------------------------------------- machine


def machine_info() -> dict[str, str]:
    import duckdb
    import polars
    import psutil

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram_gib": f"{psutil.virtual_memory().total / 2**30:.1f}",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "polars": polars.__version__,
        "pyarrow": _version("pyarrow"),
        "psycopg": _version("psycopg"),
    }


def _version(module: str) -> str:
    try:
        mod = __import__(module)
    except ImportError:
        return "not installed"
    return str(getattr(mod, "__version__", "?"))


class MemorySampler:
    """Samples a ``() -> (rss, pss)`` function (MiB) in a thread; keeps the peaks."""

    def __init__(self, probe: Callable[[], tuple[float, float]], interval: float = 0.25) -> None:
        self.probe = probe
        self.interval = interval
        self.peak_rss = 0.0
        self.peak_pss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            rss, pss = self.probe()
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def children_memory() -> tuple[float, float]:
    """(Σ RSS, Σ PSS) in MiB of this process's children (e.g. a parse process pool)."""
    from benchmarks.procmem import tree_memory

    return tree_memory(include_root=False)


def vm_hwm_mib() -> float:
    """Peak RSS of this process image (VmHWM). Unlike ``ru_maxrss``, which Linux carries
    over from the parent across fork + exec, it starts afresh in a new interpreter."""
    from benchmarks.procmem import status_mib

    return status_mib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_json_subprocess(args: list[str], timeout: float = 1800.0) -> dict[str, Any]:
    """Run ``python -m <args>`` in a fresh interpreter; its last stdout line is JSON."""
    import json

    proc = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# --------------------------------------------------------------------------- report sections

SECTION_BEGIN = "<!-- section:{name} begin -->"
SECTION_END = "<!-- section:{name} end -->"


def write_section(path: Path, name: str, text: str) -> None:
    """Put ``text`` into ``path`` between this section's markers (replacing an older copy,
    appending it otherwise): one benchmark's results beside another's in one report."""
    begin, end = SECTION_BEGIN.format(name=name), SECTION_END.format(name=name)
    block = f"{begin}\n{text.rstrip()}\n{end}\n"
    old = path.read_text() if path.exists() else ""
    if begin in old and end in old:
        head, _, rest = old.partition(begin)
        _, _, tail = rest.partition(end)
        new = head + block + tail.lstrip("\n")
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + block
    path.write_text(new)


def kept_sections(path: Path) -> str:
    """The marked sections of an existing report, to append when it is rewritten."""
    if not path.exists():
        return ""
    import re

    found = re.findall(
        r"<!-- section:(\S+) begin -->.*?<!-- section:\1 end -->\n?", path.read_text(), re.S
    )
    text = path.read_text()
    blocks = []
    for name in found:
        begin, end = SECTION_BEGIN.format(name=name), SECTION_END.format(name=name)
        start = text.index(begin)
        blocks.append(text[start : text.index(end, start) + len(end)])
    return "".join("\n\n" + b for b in blocks) + ("\n" if blocks else "")
