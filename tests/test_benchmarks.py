"""Smoke test of the benchmark code at a tiny size (7 days of history), one run.

``python -m benchmarks.run`` at 7 days with the fewest repetitions: the cost-flat benchmark
(every question as hit, miss, nothing warm and after a commit; commits, visibility, disk,
memory), the side-by-side with PostgreSQL and its calibration when the machine has server
binaries (skipped with the reason otherwise). No timing is asserted (a loaded machine
would fail it): the checks are that every figure came from a real run — repetition counts,
answers equal to the generator's truth and to each other across processes — and that the
report has every row and column.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from benchmarks import datasets, report_flat
from benchmarks.bench_flat import FlatOptions
from benchmarks.bench_query import _same_top
from benchmarks.botqueries import BOARD_LIMIT, BY_KEY, METRICS, QUERIES
from benchmarks.common import START, size_days
from benchmarks.pg.baseline import pg_available
from benchmarks.run import evaluate, main

PG_OK, PG_WHY = pg_available()
DAYS = 7
OPTS = FlatOptions.quick()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("bench")
    out = base / "RESULTS.md"
    args = ["--days", str(DAYS), "--quick", "--min-games", "2,5", "--no-fetch",
            "--work", str(base / "work"), "--out", str(out)]  # fmt: skip
    if not PG_OK:
        args.append("--no-pg")
    assert main(args) == 0
    return {
        "out": out,
        "args": args,
        "work": base / "work",
        "flat": json.loads(out.with_name("RESULTS_flat.json").read_text()),
        "side": json.loads(out.with_suffix(".json").read_text()),
    }


def _size(run: dict[str, Any]) -> dict[str, Any]:
    (size,) = run["flat"]["sizes"]
    assert size["days"] == DAYS
    out: dict[str, Any] = size
    return out


def test_every_question_measured_in_every_way(run: dict[str, Any]) -> None:
    size = _size(run)
    reads, writes = size["flat_reads"], size["flat_writes"]
    assert set(reads["in_process"]) == {q.key for q in QUERIES}
    for q in QUERIES:
        ip = reads["in_process"][q.key]
        assert ip["miss"]["n"] == OPTS.miss_reps and ip["hit"]["n"] == OPTS.hit_reps
        assert ip["answer"]["rows"] > 0, q.key
        if q.headline:
            nw = reads["nothing_warm"][q.key]
            assert nw["query"]["n"] == OPTS.cold_reps
            # the fresh process answered the same question the same way
            assert nw["answer"] == ip["answer"], q.key
            assert nw["query"]["median_ms"] > 0 and nw["spawn_to_answer"]["median_ms"] > 0
            assert writes["stream"]["first_after_commit"][q.key]["n"] == OPTS.after_commit_reps
    assert reads["cold_start"]["spawn_to_answer"]["n"] == OPTS.coldstart_reps
    assert all(rows > 0 for rows in reads["cold_start"]["rows"])
    bot = reads["bot_memory"]
    assert bot["queries"] == [q.key for q in QUERIES] and bot["charts"] == 4
    # the charts were drawn in the chart worker, as the bot draws them: not in the process
    assert bot["chart_worker"]["rss"] > 0 and bot["matplotlib_in_bot"] is False
    assert bot["after_queries"]["pss"] > 0 and bot["after_queries"]["rss"] >= bot["start"]["rss"]


def test_answers_match_the_generators_truth(run: dict[str, Any]) -> None:
    size = _size(run)
    players = size["truth"]["players"]
    ip = size["flat_reads"]["in_process"]
    assert sum(p["rounds"] for p in players.values()) == size["truth"]["counted_player_rounds"]
    assert size["flat_reads"]["lake"]["counted_rounds"] == size["truth"]["counted_rounds"]
    # the kills board: everyone with ≥ 10 counted rounds (Stats' default), by kills
    eligible = sorted((p["kills"] for p in players.values() if p["rounds"] >= 10), reverse=True)
    board = ip["lb_kills"]["answer"]
    limit = BOARD_LIMIT
    assert board["rows"] == len(eligible[:limit]) and board["kills"] == sum(eligible[:limit])
    assert [v for _, v in board["top"]] == eligible[:10]
    games = [v for _, v in ip["lb_games"]["answer"]["top"]]
    assert games == sorted((p["rounds"] for p in players.values() if p["rounds"] >= 10),
                           reverse=True)[:10]  # fmt: skip
    card = ip["card"]["answer"]
    truth = players[card["guid"]]
    assert (card["rounds"], card["kills"]) == (truth["rounds"], truth["kills"])
    assert ip["weapons"]["answer"]["kills"] == truth["kills"]  # every kill is some weapon's
    assert size["flat_reads"]["player"]["guid"] == card["guid"]


def test_commits_backfill_and_disk_come_from_real_runs(run: dict[str, Any]) -> None:
    size = _size(run)
    w = size["flat_writes"]
    assert w["stream"]["files"] == w["stream"]["ingested"] == OPTS.stream_length()
    assert w["stream"]["ingest"]["n"] == OPTS.stream_length()
    assert w["visibility"]["visible"]["n"] == w["visibility"]["files"] == OPTS.visible_reps
    assert w["burst"]["commits"] == w["burst"]["ingest"]["n"] == OPTS.burst
    assert 0 < w["burst"]["disk_before_mib"] <= w["burst"]["disk_peak_mib"]
    sc = w["syscalls"]
    assert "skipped" in sc or (sc["total_calls"] > 0 and sc["calls"].get("fsync", 0) > 0)
    b = size["backfill"]
    assert b["files"] == size["history_files"] > 0 and b["memory_samples"] > 0
    assert 0 < b["peak_largest_rss_mib"] <= b["peak_tree_rss_mib"]


def test_report_has_every_row_and_column(run: dict[str, Any]) -> None:
    text = run["out"].read_text()
    assert text.count("<!-- section:flat begin -->") == 1
    section = text.split("<!-- section:flat begin -->")[1].split("<!-- section:flat end -->")[0]
    table = section.split("### Measured against the goals")[1].strip().split("\n\n")[0]
    lines = [ln for ln in table.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[1] == "7 days" and header[-2:] == ["Goal", "Met"]
    assert any(h.startswith("PostgreSQL") for h in header) == PG_OK
    rows = {ln.strip("|").split("|")[0].strip() for ln in lines[2:]}
    assert rows == {r.what for r in report_flat.goal_rows(run["flat"])}
    for ln in lines:
        assert len(ln.strip("|").split("|")) == len(header), ln
    for q in QUERIES:
        assert f"| {q.label} |" in section
    assert f"Command: `python -m benchmarks.run --days {DAYS}" in section
    assert re.search(r"load average", section, re.I)


def test_goal_verdicts_follow_the_values() -> None:
    size = {"days": report_flat.TEN, "label": "10 years", "flat_reads": {"nothing_warm": {
        "card": {"query": {"median_ms": 4.0}}, "weapons": {"query": {"median_ms": 40.0}}}}}  # fmt: skip
    rows = {r.what: r for r in report_flat.goal_rows({"sizes": [size]})}
    assert rows["player card, nothing warm (fresh process: the call)"].met([report_flat.TEN]) == (
        True,
        "",
    )
    assert rows["weapon totals, nothing warm"].met([report_flat.TEN]) == (False, "")
    # a goal at 10 and 30 years, judged on a 1-year run, says so
    one = {**size, "days": size_days(1), "label": "1 year"}
    rows = {r.what: r for r in report_flat.goal_rows({"sizes": [one]})}
    assert rows["weapon totals, nothing warm"].met([size_days(1)]) == (False, " (at the sizes run)")


def test_every_size_ends_in_late_december_of_a_full_year() -> None:
    """The benchmark's new files land at the same point of a year at every size (a commit
    rewrites its year's serving shards, which grow through the year)."""
    from datetime import timedelta

    ends = [START + timedelta(days=size_days(y)) for y in (1, 10, 30)]
    assert [(d.month, d.day) for d in ends] == [(12, 27)] * 3
    assert [d.year - START.year for d in ends] == [0, 9, 29]  # 1, 10 and 30 whole years
    assert [datasets.size_label(size_days(y)) for y in (1, 10, 30)] == [
        "1 year",
        "10 years",
        "30 years",
    ]
    assert datasets.size_label(7) == "7 days" and size_days(0.5) == 182
    assert (size_days(10), size_days(30)) == (report_flat.TEN, report_flat.THIRTY)


def test_catalogue_times_every_leaderboard() -> None:
    from etl_duck.query.stats import Stats

    assert set(METRICS) == set(Stats.metrics())
    assert {f"lb_{m}" for m in METRICS} <= set(BY_KEY)


def test_cache_reused_and_keyed_on_the_source(
    run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prep = datasets.prepare(DAYS, run["work"], progress=lambda _: None)
    assert prep.reused == {"files": True, "lake": True}
    assert prep.backfill == _size(run)["backfill"]  # measured once, when the lake was built
    # a resumed run measures nothing again
    args = list(run["args"])
    again = run["out"].with_name("AGAIN.md")
    args[args.index("--out") + 1] = str(again)
    assert main([*args, "--resume"]) == 0
    rerun = json.loads(again.with_name("AGAIN_flat.json").read_text())
    assert rerun["sizes"][0]["flat_reads"] == _size(run)["flat_reads"]
    # the key follows the bytes of the sources
    (tmp_path / "etl_duck").mkdir()
    src = tmp_path / "etl_duck" / "synth.py"
    src.write_text("A = 1\n")
    monkeypatch.setattr(datasets, "ROOT", tmp_path)
    first = datasets._hash_paths(["etl_duck"])
    src.write_text("A = 2\n")
    assert datasets._hash_paths(["etl_duck"]) != first


def test_side_by_side(run: dict[str, Any]) -> None:
    (size,) = run["side"]["sizes"]
    ops = {o["key"]: o for o in size["ops"]}
    assert {"kills_lb", "dpm_lb", "last_session", "career_card", "weapon_totals"} <= set(ops)
    for o in ops.values():
        assert o["etl_miss"]["n"] > 0 and o["etl_hit"]["n"] > 0
    assert size["ingest_history"]["files"] == size["dataset"]["history_files"] > 0
    assert size["etl_backlog"]["player_rounds_added"] > 0
    assert size["visibility"]["polls"] >= 1
    assert size["serving_vs_small_files"]["rows"] > 0
    assert size["concurrency"]["identical_answers"]
    assert evaluate(size)
    text = run["out"].read_text()
    assert "| Operation |" in text and "## Targets" in text


def test_pg_half(run: dict[str, Any]) -> None:
    if not PG_OK:
        pytest.skip(f"PostgreSQL baseline not available: {PG_WHY}")
    (size,) = run["side"]["sizes"]
    assert size["equality"]["ok"], size["equality"]["problems"]
    assert len(size["equality"]["checked"]) >= 5
    for o in size["ops"]:
        assert o["pg_noidx"]["n"] > 0 and o["pg_idx"]["n"] > 0 and o["ratio"] is not None
    assert size["pg_backlog"]["files"] == size["etl_backlog"]["files"] == 20  # quick: 20
    cal = _size(run)["pg_calibration"]
    assert cal["settings_default"]["jit"] and cal["settings_tuned"]["shared_buffers"] == "1GB"
    for phase in ("audit", "guid_pcs", "guid_both", "tuned"):
        for cells in cal[phase].values():
            assert {c["n"] for c in cells.values()} == {cal["reps"]}
    assert "### PostgreSQL: what moves its figures" in run["out"].read_text()


def test_render_rewrites_from_the_json(run: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "R.md"
    assert main(["--render", str(run["out"].with_suffix(".json")), "--out", str(out)]) == 0
    text = out.read_text()
    assert "## Targets" in text and "<!-- section:flat begin -->" in text


def test_equality_check_catches_differences() -> None:
    same = [("A", 10.0), ("B", 9.0)]
    assert _same_top("x", same, same, {"A": 10.0, "B": 9.0}) == []
    # a tie may come in another order
    tie = [("A", 10.0), ("B", 10.0)]
    assert _same_top("x", tie, tie[::-1], {"A": 10.0, "B": 10.0}) == []
    assert _same_top("x", same, [("A", 10.0), ("B", 8.0)], {"A": 10.0, "B": 8.0})
    assert _same_top("x", same, [("A", 10.0), ("C", 9.0)], {"A": 10.0, "C": 9.0})


def test_a_size_removes_only_its_own_stale_caches(tmp_path: Path) -> None:
    """Preparing 1 year (365 days) once removed the 10-year (3,650 days) caches: a glob of
    ``d365*`` matches ``d3650``."""
    names = ["files-old-d365", "files-new-d365", "files-old-d365.tmp", "files-ten-d3650",
             "files-ten-d3650.tmp", "lake-old-d365", "files-x-d36"]  # fmt: skip
    for name in names:
        (tmp_path / name).mkdir()
    datasets._remove_stale(tmp_path, "files", 365, keep="files-new-d365")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["files-new-d365", "files-ten-d3650", "files-ten-d3650.tmp", "files-x-d36",
                    "lake-old-d365"]  # fmt: skip


def test_a_quiet_poll_is_measured_over_files_already_held() -> None:
    """`bench_fetch --quiet-poll`: every listed file is known (none handed to the ingest,
    which raises otherwise), over the real SFTP server in its own process."""
    from benchmarks.bench_fetch import quiet_poll

    got = quiet_poll(6, polls=2)
    assert (got["n_files"], got["known"], got["polls"]) == (6, 6, 2)
    assert 0 < got["median_wall_s"] < 60
