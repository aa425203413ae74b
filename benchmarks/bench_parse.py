"""Parse CPU: ``parse_bytes`` over the 92 real files and a synthetic season, and, with
``--against REV``, the parser of git revision REV beside it — both in this one process,
interleaved, on the same bytes, their results compared file by file.

    python -m benchmarks.bench_parse [--days 150] [--repeats 9] [--against REV]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.common import ROOT

REAL = ROOT.parent / "shared" / "fixtures" / "real"


def parser_at(rev: str) -> ModuleType:
    """``etl_duck/domain/parse.py`` as it was at ``rev``, loaded as a module of its own."""
    text = subprocess.run(
        ["git", "show", f"{rev}:etl_duck/domain/parse.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "parse_at_rev.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("parse_at_rev", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["parse_at_rev"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def files(days: int) -> list[tuple[bytes, str]]:
    from etl_duck.synth import generate

    paths = sorted(REAL.glob("*.txt"))
    season = Path(tempfile.mkdtemp())
    generate(season, seed=7, days=days)
    paths += sorted(p for p in season.rglob("*.txt") if "endstats" not in p.name)
    return [(p.read_bytes(), p.name) for p in paths]


def parse_all(module: Any, blobs: list[tuple[bytes, str]]) -> tuple[float, list[str]]:
    """CPU seconds to parse every file, and each result's repr (an error's too)."""
    out: list[Any] = []
    start = time.process_time()
    for data, name in blobs:
        try:
            out.append(module.parse_bytes(data, name))
        except Exception as exc:  # a file this parser refuses: compared like a result
            out.append(exc)
    spent = time.process_time() - start
    return spent, [repr(r) for r in out]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--against", metavar="REV")
    args = ap.parse_args()
    from etl_duck.domain import parse

    blobs = files(args.days)
    other = parser_at(args.against) if args.against else None
    now: list[float] = []
    then: list[float] = []
    differ = 0
    for _ in range(args.repeats):
        if other is not None:
            spent, old = parse_all(other, blobs)
            then.append(spent)
        spent, new = parse_all(parse, blobs)
        now.append(spent)
        if other is not None:
            differ = sum(a != b for a, b in zip(old, new, strict=True))
    line = f"{len(blobs)} files: parse CPU median {statistics.median(now):.3f} s"
    if other is not None:
        ratio = statistics.median(now) / statistics.median(then)
        line += (
            f"; at {args.against} {statistics.median(then):.3f} s (ratio {ratio:.2f}); "
            f"files parsed differently: {differ}"
        )
    print(line)


if __name__ == "__main__":
    main()
