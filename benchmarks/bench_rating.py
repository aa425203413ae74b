"""The skill rating: walk-forward scores against the baselines, rank correlation with the
generator's latent skill, and the cost of a full recompute and of a one-map commit.

Run: ``python -m benchmarks.bench_rating [--years 1,10]``. Writes ``benchmarks/RATING.json``
and the "Skill rating" section of ``benchmarks/RESULTS.md`` (between its markers; the main
benchmark keeps that section when it rewrites the file).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ROOT,
    SECTION_BEGIN,
    SECTION_END,
    SEED,
    START,
    ingest_options,
    machine_info,
)

OUT = ROOT / "benchmarks" / "RESULTS.md"
BEGIN, END = SECTION_BEGIN.format(name="rating"), SECTION_END.format(name="rating")


def log(msg: str) -> None:
    print(f"[bench_rating {datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def run_size(days: int, work: Path) -> dict[str, Any]:
    from etl_duck.domain import forecasts as F
    from etl_duck.domain.rating import replay, spearman
    from etl_duck.ingest.run import ingest_paths
    from etl_duck.query.stats import Stats
    from etl_duck.synth import generate

    files = work / "files"
    t0 = time.perf_counter()
    truth = generate(files, seed=SEED, start=START, days=days)
    ordered = sorted(truth.rounds, key=lambda r: (r.end_time, r.file_name))
    last_day = ordered[-1].end_time.date()
    history = [files / r.file_name for r in ordered if r.end_time.date() < last_day]
    tail = [files / r.file_name for r in ordered if r.end_time.date() >= last_day]
    data = work / "data"
    ingest_paths(data, history, ingest_options())
    log(f"{days} days: generated and ingested in {time.perf_counter() - t0:.0f} s")

    stats = Stats(data)
    stats.version()
    full = []
    for _ in range(3):  # a full recompute: a fresh book reads every map and replays them all
        fresh = Stats(data)
        fresh.version()
        t = time.perf_counter()
        fresh.ratings()
        full.append((time.perf_counter() - t) * 1000)
    stats.ratings()

    # a commit that appends the last evening's maps, one map (R1 + R2) per commit
    incremental = []
    pairs = [tail[i : i + 2] for i in range(0, len(tail), 2)]
    for batch in pairs:
        ingest_paths(data, batch, ingest_options())
        stats.version()  # the serving refresh is the commit's own cost, measured elsewhere
        t = time.perf_counter()
        after = stats.ratings()
        incremental.append((time.perf_counter() - t) * 1000)
    final = Stats(data).ratings()
    same = final.states == after.states and final.predictions == after.predictions

    t = time.perf_counter()
    board = F.walk_forward(final)
    walk_ms = (time.perf_counter() - t) * 1000
    scores = {k: board.score(k) for k in F.METHODS}
    rated = [(g, s) for g, s in final.states.items() if s.maps >= 20 and g in truth.skills]
    rho_mu = spearman([s.mu for _, s in rated], [truth.skills[g] for g, _ in rated])
    rho_cons = spearman([s.rating for _, s in rated], [truth.skills[g] for g, _ in rated])

    # other models, same maps (the choice in DECISIONS.md)
    from etl_duck.domain.rating import DEFAULT, RatingConfig

    maps = list({e[2]: e[3] for e in final.events}.values())
    models = {}
    for name in ("ThurstoneMostellerFull", "PlackettLuce", "BradleyTerryFull"):
        cfg = RatingConfig(model=name, mu=DEFAULT.mu, sigma=DEFAULT.sigma, beta=DEFAULT.beta,
                           tau=DEFAULT.tau, drift_per_day=DEFAULT.drift_per_day)  # fmt: skip
        t = time.perf_counter()
        other = replay(maps, cfg)
        ms = (time.perf_counter() - t) * 1000
        b = F.walk_forward(other)
        rr = [(g, s) for g, s in other.states.items() if s.maps >= 20 and g in truth.skills]
        models[name] = {
            "replay_ms": ms,
            "raw": b.score("rating"),
            "calibrated": b.score("rating_cal"),
            "rho_mu": spearman([s.mu for _, s in rr], [truth.skills[g] for g, _ in rr]),
        }

    # balance: 14 players, exhaustive
    from etl_duck.domain.balance import splits
    from etl_duck.domain.rating import win_probability

    top = sorted(final.states.values(), key=lambda s: -s.maps)[:14]
    players = [(s.guid, s.mu, s.sigma) for s in top]
    bal = []
    for _ in range(5):
        t = time.perf_counter()
        found = splits(players, lambda a, b: win_probability(a, b, DEFAULT.beta), limit=None)
        bal.append((time.perf_counter() - t) * 1000)
    return {
        "days": days,
        "maps": final.maps,
        "players": len(final.states),
        "full_ms": full,
        "incremental_ms": incremental,
        "incremental_equals_full": same,
        "walk_forward_ms": walk_ms,
        "scores": {k: list(v) for k, v in scores.items()},
        "rho_mu": rho_mu,
        "rho_conservative": rho_cons,
        "rho_players": len(rated),
        "models": models,
        "balance_ms": bal,
        "balance_splits": len(found),
    }


def section(res: dict[str, Any]) -> str:
    from etl_duck.domain.forecasts import LABELS, METHODS

    L = [BEGIN, "## Skill rating: walk-forward forecasts and cost", ""]
    L.append(f"Command: `{res['command']}` · run {res['started']} on {res['machine']['cpu']} "
             f"× {res['machine']['cores']} cores · synthetic community seed {SEED}, from "
             f"{START}; all figures from this one run (1-minute load average "
             f"{res.get('load_start', float('nan')):.1f} at the start, "
             f"{res.get('load_end', float('nan')):.1f} at the end: the machine is shared)."
             )  # fmt: skip
    L.append("")
    for size in res["sizes"]:
        years = size["days"] / 365
        L.append(f"### {years:g} year{'s' if years != 1 else ''}: {size['maps']:,} maps, "
                 f"{size['players']} players")  # fmt: skip
        L.append("")
        L.append("| Forecast of P(first attackers win), every map | Brier | log-loss |")
        L.append("|---|---|---|")
        for k in METHODS:
            b, ll, _ = size["scores"][k]
            L.append(f"| {LABELS[k]} | {b:.4f} | {ll:.4f} |")
        L.append("")
        L.append(
            f"Rank correlation (Spearman) of μ with the generator's latent skill, players with "
            f"≥ 20 maps (n = {size['rho_players']}): **{size['rho_mu']:.3f}**; of the "
            f"conservative rating μ − 3σ: {size['rho_conservative']:.3f}."
        )
        L.append("")
        inc = size["incremental_ms"]
        L.append("| Cost | Median | Max | Target |")
        L.append("|---|---|---|---|")
        L.append(f"| full recompute (read {size['maps']:,} maps + replay) | "
                 f"{statistics.median(size['full_ms']):.0f} ms | {max(size['full_ms']):.0f} ms "
                 f"| ≤ 5 s |")  # fmt: skip
        L.append(f"| one-map commit → ratings updated ({len(inc)} commits) | "
                 f"{statistics.median(inc):.1f} ms | {max(inc):.1f} ms | ≤ 100 ms |")  # fmt: skip
        L.append(f"| balance, 14 players, all {size['balance_splits']:,} splits | "
                 f"{statistics.median(size['balance_ms']):.1f} ms | "
                 f"{max(size['balance_ms']):.1f} ms | ≤ 50 ms |")  # fmt: skip
        L.append(f"| walk-forward table (every method, every map) | "
                 f"{size['walk_forward_ms']:.0f} ms | | |")  # fmt: skip
        L.append("")
        L.append(f"Incremental result identical to a full recompute: "
                 f"{'yes' if size['incremental_equals_full'] else '**NO**'}.")  # fmt: skip
        L.append("")
        L.append("| openskill model (same hyper-parameters) | raw Brier / log-loss | "
                 "calibrated Brier / log-loss | ρ(μ, skill) | replay |")  # fmt: skip
        L.append("|---|---|---|---|---|")
        for name, m in size["models"].items():
            L.append(f"| {name} | {m['raw'][0]:.4f} / {m['raw'][1]:.4f} | "
                     f"{m['calibrated'][0]:.4f} / {m['calibrated'][1]:.4f} | "
                     f"{m['rho_mu']:.3f} | {m['replay_ms']:.0f} ms |")  # fmt: skip
        L.append("")
    L.append(END)
    return "\n".join(L)


def write_section(text: str, out: Path = OUT) -> None:
    old = out.read_text() if out.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + text + rest.split(END, 1)[1]
    else:
        new = old.rstrip() + "\n\n" + text + "\n"
    out.write_text(new)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_rating")
    p.add_argument("--years", default="1,10", help="comma-separated sizes in years")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    res: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.bench_rating", *(argv or sys.argv[1:])]),
        "machine": machine_info(),
        "started": f"{datetime.now():%Y-%m-%d %H:%M}",
        "load_start": os.getloadavg()[0],
        "sizes": [],
    }
    for y in args.years.split(","):
        work = Path(tempfile.mkdtemp(prefix="etl-duck-rating-"))
        try:
            res["sizes"].append(run_size(round(float(y) * 365), work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    res["load_end"] = os.getloadavg()[0]
    args.out.with_name("RATING.json").write_text(json.dumps(res, indent=1, default=str))
    write_section(section(res), args.out)
    log(f"wrote the rating section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
