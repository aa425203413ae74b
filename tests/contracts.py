"""The import contract, checked in clean interpreters (run: ``python -m tests.contracts``).

1. The query core (parsing, pairing, sessions, lake, ingest, queries, cache) imports no
   `discord`, `asyncssh` or `matplotlib`, and nothing from the bot, fetch or chart layers:
   notebooks, the CLI and exports must be able to use it without them.
2. A cold ``import etl_duck.query.stats`` stays under the start-up budget (measured median of
   several cold interpreters; see README "Development").
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

CORE_MODULES = (
    "etl_duck.domain.fields",
    "etl_duck.domain.parse",
    "etl_duck.domain.pairing",
    "etl_duck.domain.sessions",
    "etl_duck.domain.counting",
    "etl_duck.domain.metrics",
    "etl_duck.domain.scoring",
    "etl_duck.domain.rating",
    "etl_duck.domain.forecasts",
    "etl_duck.domain.balance",
    "etl_duck.lake.snapshot",
    "etl_duck.lake.rawstore",
    "etl_duck.lake.rollups",
    "etl_duck.ingest.run",
    "etl_duck.query.stats",
    "etl_duck.query.aio",
    "etl_duck.query.rating",
    "etl_duck.sqlfiles",
)
FORBIDDEN = (
    "discord",
    "asyncssh",
    "matplotlib",
    "etl_duck.bot",
    "etl_duck.fetch",
    "etl_duck.charts",
)
STARTUP_MODULE = "etl_duck.query"
STARTUP_BUDGET_MS = 150.0

_PROBE = """
import importlib, json, sys, time
t = time.perf_counter()
importlib.import_module(sys.argv[1])
ms = (time.perf_counter() - t) * 1000
print(json.dumps({"ms": ms, "modules": sorted(sys.modules)}))
"""


def probe(module: str) -> tuple[float, list[str]]:
    out = subprocess.run(
        [sys.executable, "-X", "frozen_modules=on", "-c", _PROBE, module],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"cannot import {module}:\n{out.stderr}")
    data = json.loads(out.stdout)
    return float(data["ms"]), list(data["modules"])


def violations(module: str) -> list[str]:
    """Forbidden modules a cold import of ``module`` pulls in."""
    _, loaded = probe(module)
    return sorted(m for m in loaded for bad in FORBIDDEN if m == bad or m.startswith(bad + "."))


def check(
    modules: tuple[str, ...] = CORE_MODULES, budget_ms: float = STARTUP_BUDGET_MS
) -> list[str]:
    problems: list[str] = []
    for module in modules:
        bad = violations(module)
        if bad:
            roots = sorted({b.split(".")[0] if not b.startswith("etl_duck") else b for b in bad})
            problems.append(
                f"import contract broken: core module {module} imports {', '.join(roots)} "
                "(the query core must not depend on discord, asyncssh, matplotlib or the bot/fetch/chart layers)"
            )
    times = [probe(STARTUP_MODULE)[0] for _ in range(5)]
    median = statistics.median(times)
    if median > budget_ms:
        problems.append(
            f"start-up budget broken: cold import {STARTUP_MODULE} took {median:.0f} ms "
            f"(median of 5) > {budget_ms:.0f} ms"
        )
    else:
        print(f"cold import {STARTUP_MODULE}: {median:.0f} ms (budget {budget_ms:.0f} ms)")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.contracts [MODULE...]``: all core modules by default."""
    import importlib.util

    names = tuple(argv if argv is not None else sys.argv[1:]) or CORE_MODULES
    present = tuple(m for m in names if importlib.util.find_spec(m) is not None)
    problems = check(present)
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"import contract OK for {len(present)} core modules")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
