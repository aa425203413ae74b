"""Synthetic histories and their lakes, cached between benchmark runs in a work folder.

A 30-year history is ~100k stats files and its backfill takes many minutes on two cores,
so a rerun must not redo them. Two caches, each in a folder named by a key that changes
whenever what produced it changes:

* ``files-<key>-d<days>/``: the generated files, ``history/`` (the first ``days`` days,
  what the lake holds) and ``next/`` (the evenings after it, in play order: the new files a
  live server would write next), plus ``meta.json`` (counts, the next files in order with
  their round facts, and a truth summary from the generator). The key hashes the
  generator (``etl_duck/synth.py`` and the field table it writes) and its arguments.
* ``lake-<key>-d<days>/``: ``data/``, the data directory after ``etl-duck ingest
  history/`` (the backfill, measured while it runs: see :func:`backfill`), and
  ``backfill.json`` with those figures. The key hashes the file key, everything that
  writes the lake (``etl_duck/domain``, ``lake``, ``ingest``, ``sqlfiles.py``,
  ``queries/*.sql``) and the DuckDB / PyArrow / Polars versions.

Each folder is built under a ``.tmp`` name and renamed when complete, so an interrupted
run leaves nothing that looks valid; folders of other keys for the same size are removed
when a new one is built (old code, old data). Measurements that change a lake (commits)
run on :func:`scratch_copy`, never on the cached one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import NO_FUTURE_CHECK_ENV, ROOT, SEED, START, label_of_days
from benchmarks.procmem import TreeSampler

#: days generated after the history: the benchmark's new files come from them
NEXT_DAYS = 42
#: at least this many files after the history (commit stream, visibility, burst, backlog)
MIN_NEXT_FILES = 260

GENERATOR_SOURCES = ("etl_duck/synth.py", "etl_duck/domain/fields.py")
LAKE_SOURCES = (
    "etl_duck/domain",
    "etl_duck/lake",
    "etl_duck/ingest",
    "etl_duck/sqlfiles.py",
    "queries",
)


#: what counts as source in a folder (not caches, results or the benchmark's work folder)
SOURCE_SUFFIXES = (".py", ".sql")


def _hash_paths(paths: Iterable[str], extra: str = "") -> str:
    """sha256 over the relative path and bytes of every source file (``.py``, ``.sql``)
    under ``paths`` (a file named directly counts whatever its suffix)."""
    h = hashlib.sha256(extra.encode())
    for rel in paths:
        p = ROOT / rel
        files = sorted(_source_files(p)) if p.is_dir() else [p]
        for f in files:
            h.update(f.relative_to(ROOT).as_posix().encode())
            h.update(b"\0")
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _source_files(folder: Path) -> Iterator[Path]:
    """Source files under ``folder``, never walking into caches or the benchmark's work
    folder (hundreds of thousands of generated files once a 30-year size is cached)."""
    for parent, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", "_work")]
        for name in names:
            path = Path(parent, name)
            if path.suffix in SOURCE_SUFFIXES and path.is_file():  # not a broken link
                yield path


def files_key(days: int) -> str:
    return _hash_paths(GENERATOR_SOURCES, f"seed={SEED} start={START} days={days} next={NEXT_DAYS}")


def lake_key(days: int) -> str:
    import duckdb
    import polars
    import pyarrow

    libs = f"duckdb={duckdb.__version__} pyarrow={pyarrow.__version__} polars={polars.__version__}"
    return _hash_paths(LAKE_SOURCES, f"{files_key(days)} {libs}")


@dataclass(frozen=True)
class NextFile:
    """A file after the history, with what the generator says about it."""

    path: Path
    kind: str  # "normal" | "orphan_r2" | "interrupted" | "restart" | "bot_majority"
    round_number: int
    map_name: str
    end_time: str  # ISO

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.path.name,
            "kind": self.kind,
            "round_number": self.round_number,
            "map_name": self.map_name,
            "end_time": self.end_time,
        }


@dataclass(frozen=True)
class Prepared:
    """A size ready to measure: files, the cached (pristine) data directory, backfill."""

    days: int
    files_dir: Path
    data_dir: Path  # the cached lake: read it, never commit into it
    history_files: int
    next_files: list[NextFile]
    truth: dict[str, Any]  # generator truth over the history (see _truth_summary)
    backfill: dict[str, Any]
    keys: dict[str, str]
    reused: dict[str, bool]  # files / lake taken from the cache

    @property
    def history_dir(self) -> Path:
        return self.files_dir / "history"

    @property
    def label(self) -> str:
        return size_label(self.days)


size_label = label_of_days


def prepare(
    days: int, work: Path, *, rebuild: bool = False, progress: Callable[[str], None] = print
) -> Prepared:
    """The size's files and lake, from the cache when their keys match, else built."""
    work.mkdir(parents=True, exist_ok=True)
    fkey, lkey = files_key(days), lake_key(days)
    files_dir = work / f"files-{fkey}-d{days}"
    lake_dir = work / f"lake-{lkey}-d{days}"
    reused = {"files": files_dir.is_dir() and not rebuild}
    if not reused["files"]:
        _remove_stale(work, "files", days, keep=None)
        progress(f"{size_label(days)}: generating the synthetic history (not cached)")
        _generate(days, files_dir)
    else:
        progress(f"{size_label(days)}: generated files from the cache ({files_dir.name})")
    _remove_stale(work, "files", days, keep=files_dir.name)
    meta = json.loads((files_dir / "meta.json").read_text())
    reused["lake"] = lake_dir.is_dir() and not rebuild and reused["files"]
    if not reused["lake"]:
        _remove_stale(work, "lake", days, keep=None)
        progress(
            f"{size_label(days)}: backfill of {meta['history_files']:,} files "
            "(`etl-duck ingest`, not cached)"
        )
        _build_lake(files_dir / "history", lake_dir)
    else:
        progress(f"{size_label(days)}: lake from the cache ({lake_dir.name})")
    _remove_stale(work, "lake", days, keep=lake_dir.name)
    backfill = json.loads((lake_dir / "backfill.json").read_text())
    return Prepared(
        days=days,
        files_dir=files_dir,
        data_dir=lake_dir / "data",
        history_files=int(meta["history_files"]),
        next_files=[
            NextFile(
                files_dir / "next" / n["name"],
                n["kind"],
                int(n["round_number"]),
                n["map_name"],
                n["end_time"],
            )
            for n in meta["next"]
        ],
        truth=meta["truth"],
        backfill=backfill,
        keys={"files": fkey, "lake": lkey},
        reused=reused,
    )


def _remove_stale(work: Path, kind: str, days: int, keep: str | None) -> None:
    """Remove this size's other caches (and their unfinished ``.tmp`` copies), never
    another size's: ``d365*`` also matched the 10-year ``d3650`` folders."""
    for p in work.glob(f"{kind}-*-d{days}*"):
        size = p.name.rsplit("-d", 1)[1].removesuffix(".tmp")
        if size == str(days) and p.name != keep and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def _generate(days: int, files_dir: Path) -> None:
    from etl_duck.synth import generate

    tmp = files_dir.with_name(files_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    extra = NEXT_DAYS
    t0 = time.perf_counter()
    while True:
        shutil.rmtree(tmp, ignore_errors=True)
        truth = generate(tmp / "all", seed=SEED, start=START, days=days + extra)
        cut = START + timedelta(days=days)
        ordered = sorted(truth.rounds, key=lambda r: (r.end_time, r.file_name))
        hist = [r for r in ordered if r.end_time.date() < cut]
        after = [r for r in ordered if r.end_time.date() >= cut]
        if len(after) >= MIN_NEXT_FILES:
            break
        extra *= 2
    (tmp / "history").mkdir()
    (tmp / "next").mkdir()
    for r in hist:
        (tmp / "all" / r.file_name).rename(tmp / "history" / r.file_name)
    for r in after:
        (tmp / "all" / r.file_name).rename(tmp / "next" / r.file_name)
    shutil.rmtree(tmp / "all")
    meta = {
        "days": days,
        "seed": SEED,
        "start": START.isoformat(),
        "history_files": len(hist),
        "next": [
            NextFile(
                tmp / "next" / r.file_name,
                r.kind,
                r.round_number,
                r.map_name,
                r.end_time.isoformat(),
            ).as_dict()
            for r in after
        ],
        "truth": _truth_summary(truth, {r.file_name for r in hist}),
        "generate_s": time.perf_counter() - t0,
    }
    (tmp / "meta.json").write_text(json.dumps(meta))
    tmp.rename(files_dir)


def _truth_summary(truth: Any, names: set[str]) -> dict[str, Any]:
    """What the generator wrote into the history, for checks of the answers: counted
    player rows, and per GUID the counted rounds and kills."""
    kinds = {r.file_name: r.kind for r in truth.rounds}
    players: dict[str, list[int]] = {}
    rows = 0
    for row in truth.player_rounds:
        if row.file_name not in names:
            continue
        if kinds[row.file_name] != "normal" or row.is_bot or row.team == 3:
            continue
        rows += 1
        acc = players.setdefault(row.guid, [0, 0])
        acc[0] += 1
        acc[1] += row.values["kills"]
    return {
        "counted_player_rounds": rows,
        "counted_rounds": sum(1 for n in names if kinds[n] == "normal"),
        "players": {g: {"rounds": a[0], "kills": a[1]} for g, a in players.items()},
    }


def etl_duck_command() -> list[str]:
    """How to run the ``etl-duck`` CLI with this interpreter."""
    exe = Path(sys.executable).with_name("etl-duck")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from etl_duck.cli import main; main()"]


def backfill(history: Path, data_dir: Path) -> dict[str, Any]:
    """``etl-duck --data-dir DATA ingest HISTORY`` in a subprocess, its process tree's
    memory sampled every 50 ms (:class:`TreeSampler`). Returns the figures."""
    cmd = [*etl_duck_command(), "--data-dir", str(data_dir), "ingest", str(history)]
    files = sum(1 for _ in history.iterdir())
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **NO_FUTURE_CHECK_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with TreeSampler(proc.pid, interval=0.05) as mem:
        out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"backfill failed ({proc.returncode}): {' '.join(cmd)}\n{out[-4000:]}")
    return {
        "command": " ".join(["etl-duck", "--data-dir", "DATA", "ingest", "HISTORY"]),
        "files": files,
        "seconds": wall,
        "files_per_s": files / wall if wall else None,
        **mem.as_dict(),
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "loadavg": loadavg(),
        "output_tail": out.strip().splitlines()[-1:] if out.strip() else [],
    }


def _build_lake(history: Path, lake_dir: Path) -> None:
    tmp = lake_dir.with_name(lake_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    figures = backfill(history, tmp / "data")
    (tmp / "backfill.json").write_text(json.dumps(figures, indent=1))
    tmp.rename(lake_dir)


def scratch_copy(prep: Prepared, dest: Path) -> Path:
    """A copy of the cached data directory to commit into (``cp -a``: hard links inside
    the tree stay links, so the copy takes the space the original does)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(prep.data_dir), str(dest)], check=True)
    return dest


def disk_kib(path: Path) -> int:
    """Space used under ``path`` (``du -sk``: each hard-linked file counted once)."""
    out = subprocess.run(
        ["du", "-sk", str(path)], capture_output=True, text=True, check=False
    ).stdout
    try:
        return int(out.split()[0])
    except (IndexError, ValueError):
        return 0


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"
