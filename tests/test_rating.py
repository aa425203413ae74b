"""The skill rating: its input (stopwatch map results by player), determinism across ingest
orders, incremental = full recompute, no leakage, partial play, ties, the forecasts and
their scores, recovery of the generator's latent skill, and the CLI."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from etl_duck.cli import app
from etl_duck.domain import forecasts as F
from etl_duck.domain import rating as rating_module
from etl_duck.domain import thurstone
from etl_duck.domain.rating import (
    DEFAULT,
    MapPlayer,
    MapResult,
    brier,
    log_loss,
    replay,
    roster,
    spearman,
    win_probability,
)
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from etl_duck.synth import Truth
from tests.bot_fakes import lake_copy, lake_sql, real_files, template_lake

VID = "D8423F90"


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_lake(tmp_path_factory)


@pytest.fixture(scope="module")
def other_orders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The real files ingested twice more, in other orders and batches: every round 2
    before its round 1; and dates newest first, a Stats instance following each commit."""
    files = real_files()
    r2_first = Path(tmp_path_factory.mktemp("r2-first")) / "data"
    ingest_paths(r2_first, [f for f in files if "round-2" in f.name][::-1])
    ingest_paths(r2_first, [f for f in files if "round-2" not in f.name])
    newest = Path(tmp_path_factory.mktemp("newest-first")) / "data"
    days = sorted({f.name[:10] for f in files}, reverse=True)
    thirds = [days[i::3] for i in range(3)]
    follower: Stats | None = None
    replayed = []
    for part in thirds:
        ingest_paths(newest, [f for f in files if f.name[:10] in part])
        follower = follower or Stats(newest)
        run = follower.ratings()
        replayed.append((run.replayed, len(run.events)))
    assert follower is not None
    return {"r2_first": r2_first, "newest": newest, "follower": follower, "replayed": replayed}


# --------------------------------------------------------------------------- the input


def test_map_rows_are_the_stopwatch_teams_and_shares(real: Path) -> None:
    stats = Stats(real)
    stats.version()  # point at the current snapshot
    cur, text = stats.serving.cursor(), "SELECT * FROM map_players ORDER BY start_time, guid"
    stats.serving.prepare(cur, text)
    res = cur.execute(text)
    cols = [d[0] for d in res.description]
    got = [dict(zip(cols, r, strict=True)) for r in res.fetchall()]
    # every counted map with both rounds counted, and nothing else (independent count)
    want_maps = lake_sql(
        real,
        "SELECT count(*) FROM (SELECT match_id FROM {t} WHERE counted GROUP BY match_id "
        "HAVING count(DISTINCT round_number) = 2)",
        "rounds",
    )[0][0]
    assert len({r["match_id"] for r in got}) == want_maps > 30
    # one map checked player by player against the Parquet files: R1 attackers and R2
    # defenders are one team; seconds are the player's own time on that team
    m = got[0]["match_id"]
    rounds = lake_sql(real, f"SELECT round_number, defender_side, attackers_won FROM {{t}} "
                            f"WHERE match_id = {m} ORDER BY round_number", "rounds")  # fmt: skip
    (_, d1, won1), (_, d2, won2) = rounds
    players = lake_sql(real, f"SELECT guid, round_number, team, time_played_s FROM {{t}} "
                             f"WHERE match_id = {m} AND counted")  # fmt: skip
    first: dict[str, int] = {}
    second: dict[str, int] = {}
    for guid, rn, team, secs in players:
        on_first = (rn == 1 and team != d1) or (rn == 2 and team == d2)
        (first if on_first else second)[guid] = (first if on_first else second).get(guid, 0) + secs
    mine = {r["guid"]: r for r in got if r["match_id"] == m}
    assert {g for g, r in mine.items() if r["first_attack"]} == set(first)
    assert {g for g, r in mine.items() if not r["first_attack"]} == set(second)
    for g, r in mine.items():
        assert r["seconds"] == (first if r["first_attack"] else second)[g]
        assert 0 < r["seconds"] <= r["map_seconds"] + 6
    assert mine[next(iter(mine))]["result_first"] == (0.0 if won2 else 1.0 if won1 else 0.5)


def test_results_agree_with_the_session_score(real: Path) -> None:
    """Map results (incl. a double fullhold 1–1) are those of the stopwatch scoring."""
    stats = Stats(real)
    run = stats.ratings()
    by_match = {p.match_id: p.result for p in run.predictions}
    seen = {0.0: 0, 0.5: 0, 1.0: 0}
    for d in {p.session_date for p in run.predictions}:
        rep = stats.session(d)
        for row in rep.maps.iter_rows(named=True):
            if row.get("outcome") is None or row["match_id"] not in by_match:
                continue
            result = by_match[row["match_id"]]
            seen[result] += 1
            if row["outcome"] == "double fullhold":
                assert result == 0.5
            else:
                assert result in (0.0, 1.0)
    assert seen[0.5] >= 1 and seen[0.0] and seen[1.0]


# --------------------------------------------------------------------------- determinism


def test_same_ratings_whatever_the_ingest_order(real: Path, other_orders: dict[str, Any]) -> None:
    base = Stats(real).ratings()
    assert base.maps > 30
    for key in ("r2_first", "newest"):
        other = Stats(other_orders[key]).ratings()
        assert other.states == base.states, key  # floats compared exactly: bit for bit
        assert other.predictions == base.predictions, key
        assert other.history == base.history, key


def test_incremental_equals_full_recompute(real: Path, other_orders: dict[str, Any]) -> None:
    follower = other_orders["follower"].ratings()  # replayed from checkpoints, commit by commit
    full = Stats(other_orders["newest"]).ratings()
    assert follower.states == full.states and follower.predictions == full.predictions
    (first, n1), *later = other_orders["replayed"]
    assert first == n1  # the first run computes everything
    assert len(later) == 2


def test_an_appended_map_replays_only_itself() -> None:
    maps = synthetic_maps(400, seed=3)
    before = replay(maps[:-1])
    after = replay(maps, previous=before)
    assert after.replayed < 64 + 2  # from the last checkpoint, not from the start
    assert after.states == replay(maps).states
    assert after.predictions == replay(maps).predictions


def test_late_map_in_the_middle_replays_from_a_checkpoint() -> None:
    maps = synthetic_maps(600, seed=4)
    late = maps.pop(250)
    before = replay(maps)
    after = replay([*maps, late], previous=before)
    full = replay(sorted([*maps, late], key=lambda m: m.start_time))
    assert after.states == full.states and after.predictions == full.predictions
    assert after.replayed < len(full.events)


def test_no_leakage_later_maps_never_change_earlier_forecasts() -> None:
    maps = synthetic_maps(300, seed=5)
    full = {p.match_id: p for p in replay(maps).predictions}
    for k in (1, 50, 299):
        part = replay(maps[:k])
        for p in part.predictions:
            assert full[p.match_id] == p
        # and the forecast itself did not use the map's own result
        flipped = [*maps[: k - 1], _flip(maps[k - 1])]
        assert replay(flipped).predictions[-1].p_first == part.predictions[-1].p_first


def test_no_leakage_in_the_lake(tmp_path: Path) -> None:
    files = real_files()
    early = tmp_path / "early"
    ingest_paths(early, [f for f in files if f.name[:10] < "2025-11-11"])  # not the last evening
    first = {p.match_id: p for p in Stats(early).ratings().predictions}
    ingest_paths(early, files)
    later = {p.match_id: p for p in Stats(early).ratings().predictions}
    assert first and len(later) > len(first)
    for mid, p in first.items():
        assert later[mid] == p
    scores_before = Stats(early).predictions().maps
    assert scores_before.height == len(later)


# --------------------------------------------------------------------------- the model


def test_partial_play_scales_the_team_and_the_update() -> None:
    """A player who played a share w enters his team as (wμ, wσ): checked against
    openskill called directly, and a late joiner moves less than a full-timer."""
    t0 = datetime(2025, 1, 1, 20)
    players = (
        MapPlayer("A1", True, 1.0, 600, 3000),
        MapPlayer("A2", True, 0.25, 150, 500),
        MapPlayer("B1", False, 1.0, 600, 3000),
        MapPlayer("B2", False, 1.0, 600, 3000),
    )
    m = MapResult(1, 1, t0.date(), "supply", t0, t0 + timedelta(minutes=20), 1.0, roster(players))
    run = replay([m])
    model = DEFAULT.new_model()
    sigma = min(math.sqrt(DEFAULT.sigma**2 + DEFAULT.tau**2), DEFAULT.sigma)
    teams = [
        [model.rating(mu=w * DEFAULT.mu, sigma=w * sigma) for w in (1.0, 0.25)],
        [model.rating(mu=DEFAULT.mu, sigma=sigma) for _ in range(2)],
    ]
    want = model.rate(teams, ranks=[0.0, 1.0])
    assert run.states["A1"].mu == pytest.approx(want[0][0].mu)
    assert run.states["A2"].mu == pytest.approx(want[0][1].mu / 0.25)
    assert run.states["A2"].sigma == pytest.approx(want[0][1].sigma / 0.25)
    gain_full = run.states["A1"].mu - DEFAULT.mu
    gain_part = run.states["A2"].mu - DEFAULT.mu
    assert 0 < gain_part < gain_full
    assert run.states["A2"].sigma > run.states["A1"].sigma  # learned less about him
    assert run.states["B1"].mu < DEFAULT.mu


@given(
    st.lists(st.tuples(st.floats(-20, 70), st.floats(0.01, 8)), min_size=1, max_size=8),
    st.lists(st.tuples(st.floats(-20, 70), st.floats(0.01, 8)), min_size=1, max_size=8),
    st.sampled_from([0.0, 0.5, 1.0]),
)
@settings(max_examples=300, deadline=None)
def test_the_update_on_floats_is_openskills_bit_for_bit(
    first: list[tuple[float, float]], second: list[tuple[float, float]], result: float
) -> None:
    """The default model's update is computed on plain floats (thurstone.py); openskill's
    ``rate`` called with its objects gives exactly the same numbers, ties and upsets
    included."""
    model = DEFAULT.new_model()
    ranks = [0.0, 0.0] if result == 0.5 else ([0.0, 1.0] if result > 0.5 else [1.0, 0.0])
    objs = [[model.rating(mu=m, sigma=s) for m, s in t] for t in (first, second)]
    want = [[(r.mu, r.sigma) for r in t] for t in model.rate(objs, ranks=ranks)]
    assert list(thurstone.rate(first, second, result, DEFAULT.beta)) == want


@pytest.mark.parametrize(
    "first, second",
    [
        ([(200.0, 0.5)], [(0.0, 0.5)]),  # so lopsided that Φ underflows (the guarded branches)
        ([(0.0, 0.01)], [(300.0, 0.01), (300.0, 0.01)]),
        ([(25.0, 3.0), (22.0, 2.0), (28.0, 4.0)], [(19.0, 1.0), (25.0, 3.0)]),  # ties on μ − 3σ
        ([(1e-3 * 25.0, 1e-3 * 6.25)], [(25.0, 6.25)]),  # a player who played 0.1 % of it
    ],
)
@pytest.mark.parametrize("result", [0.0, 0.5, 1.0])
def test_the_update_matches_openskill_at_the_edges(
    first: list[tuple[float, float]], second: list[tuple[float, float]], result: float
) -> None:
    model = DEFAULT.new_model()
    ranks = [0.0, 0.0] if result == 0.5 else ([0.0, 1.0] if result > 0.5 else [1.0, 0.0])
    objs = [[model.rating(mu=m, sigma=s) for m, s in t] for t in (first, second)]
    want = [[(r.mu, r.sigma) for r in t] for t in model.rate(objs, ranks=ranks)]
    assert list(thurstone.rate(first, second, result, DEFAULT.beta)) == want


def test_a_replay_with_openskills_objects_equals_the_float_replay() -> None:
    """The whole replay (partial play, σ widening, every outcome) gives the same states,
    predictions and history bit for bit whichever way the update is computed."""
    maps = synthetic_maps(300, seed=11)
    fast = replay(maps)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rating_module, "FLOAT_MODEL", "")  # no model on floats: openskill's objects
        slow = replay(maps)
    assert slow.states == fast.states
    assert slow.predictions == fast.predictions
    assert slow.history.points() == fast.history.points()


def test_a_tie_moves_ratings_less_than_a_result() -> None:
    t0 = datetime(2025, 1, 1, 20)

    def game(result: float, a_mu_edge: bool) -> dict[str, Any]:
        warm = [synthetic_map(i, t0 + timedelta(hours=i), ("S1", "S2"), ("W1", "W2"), 1.0)
                for i in range(5)]  # fmt: skip
        last = synthetic_map(9, t0 + timedelta(hours=9), ("S1", "S2"), ("W1", "W2"), result)
        before = replay(warm).states
        after = replay([*warm, last]).states
        return {g: after[g].mu - before[g].mu for g in ("S1", "W1")}

    tie = game(0.5, True)
    loss = game(0.0, True)
    assert tie["S1"] < 0 < tie["W1"]  # the favourite drops a little on a 1–1
    assert loss["S1"] < tie["S1"] and loss["W1"] > tie["W1"]


def test_inactivity_widens_sigma_up_to_the_prior() -> None:
    maps = synthetic_maps(200, seed=6)
    run = replay(maps)
    guid, state = max(run.states.items(), key=lambda kv: kv[1].maps)
    now = run.rating(guid, state.last_end).sigma
    month = run.rating(guid, state.last_end + timedelta(days=30)).sigma
    years = run.rating(guid, state.last_end + timedelta(days=3650)).sigma
    assert now == state.sigma < month < years == DEFAULT.sigma


def test_the_trend_is_his_rating_over_his_last_10_maps_not_his_time_away() -> None:
    """Trend: his rating after his latest map against after the map 10 maps earlier (both
    history points), never the current rating whose σ also grew while he was away (a
    player who rose over his last maps read a falling trend a year later)."""
    from etl_duck.query.rating import TREND_MAPS, index

    start = datetime(2025, 1, 6, 20)
    team, other = ("A0", "A1", "A2", "A3"), ("B0", "B1", "B2", "B3")
    results = [0.0, 0.0, 0.5, 1.0, 0.0, 1.0, 1.0, 0.5, 1.0, 1.0, 0.0, 1.0, 1.0]
    maps = [synthetic_map(i, start + timedelta(minutes=20 * i), team, other, r)
            for i, r in enumerate(results)]  # fmt: skip
    later = start + timedelta(days=400)  # the others play on, a year later
    maps += [synthetic_map(100 + i, later + timedelta(minutes=20 * i), ("C0", "C1"),
                           ("C2", "C3"), 1.0) for i in range(3)]  # fmt: skip
    then = index(replay(maps[: len(results)]), {}).table
    now = index(replay(maps), {})
    points = now.history["A0"]
    assert len(points) == len(results) > TREND_MAPS
    own = [p[3] - 3 * p[4] for p in points]
    want = own[-1] - own[-1 - TREND_MAPS]
    row = now.table.filter(now.table["guid"] == "A0").row(0, named=True)
    assert row["trend"] == pytest.approx(want) and want > 0  # he rose over his last 10 maps
    assert row["rating"] < own[-1]  # … and his rating now is lower: σ grew while away
    assert then.filter(then["guid"] == "A0")["trend"][0] == pytest.approx(row["trend"])


def test_forecast_formula_is_openskills() -> None:
    model = DEFAULT.new_model()
    rng = random.Random(1)
    for _ in range(20):
        a = [(rng.uniform(15, 35), rng.uniform(1, 6)) for _ in range(rng.randint(1, 6))]
        b = [(rng.uniform(15, 35), rng.uniform(1, 6)) for _ in range(rng.randint(1, 6))]
        want = model.predict_win(
            [[model.rating(mu=m, sigma=s) for m, s in t] for t in (a, b)]
        )[0]  # fmt: skip
        assert win_probability(a, b, DEFAULT.beta) == pytest.approx(want, abs=1e-9)


def test_scores_and_baselines() -> None:
    assert brier([(0.5, 1.0), (0.5, 0.0)]) == 0.25
    assert brier([(0.8, 1.0), (0.3, 0.5)]) == pytest.approx((0.04 + 0.04) / 2)
    assert log_loss([(0.5, 1.0)]) == pytest.approx(math.log(2))
    assert log_loss([(0.9, 1.0), (0.9, 0.0)]) == pytest.approx(-(math.log(0.9) + math.log(0.1)) / 2)
    run = replay(synthetic_maps(400, seed=8))
    board = F.walk_forward(run)
    assert [r.match_id for r in board.rows] == [p.match_id for p in run.predictions]
    ties = sum(1 for r in board.rows if r.result == 0.5)
    b, ll, n = board.score("coin")
    assert (
        n == 400 and b == pytest.approx(0.25 * (n - ties) / n) and ll == pytest.approx(math.log(2))
    )
    assert all(0.30 <= r.p["old_bot"] <= 0.70 for r in board.rows)
    assert all(r.p["dpm"] == 0.5 for r in board.rows[:20])  # nothing fitted yet
    # the rating learns the synthetic skill: it beats the coin flip
    assert board.score("rating_cal", 100)[0] < board.score("coin", 100)[0] - 0.01


def test_old_bot_formula_components() -> None:
    state = F._OldBotState()
    assert F.old_bot(state, ["a"], ["b"], "supply") == pytest.approx(0.5)
    t0 = datetime(2025, 1, 1, 20)
    for i in range(3):  # a beats b three times on supply
        F._old_bot_learn(state, synthetic_map(i, t0, ("a",), ("b",), 1.0))
    # h2h 1.0, form 1.0 vs 0.0 → 1.0, map 1.0 vs 0 → 1.0: the top of the 30–70 % range
    assert F.old_bot(state, ["a"], ["b"], "supply") == pytest.approx(0.70)
    assert F.old_bot(state, ["b"], ["a"], "supply") == pytest.approx(0.30)
    # another map: no map history (0.5 component)
    assert F.old_bot(state, ["a"], ["b"], "goldrush") == pytest.approx(0.30 + 0.40 * 0.875)


def test_rating_recovers_the_latent_skill(synthetic_lake: tuple[Path, Truth]) -> None:
    """Four months of the synthetic community: μ ranks regulars like the hidden skill."""
    data, truth = synthetic_lake
    run = Stats(data).ratings()
    regulars = [(g, s) for g, s in run.states.items() if s.maps >= 20]
    assert len(regulars) >= 30
    rho = spearman([s.mu for _, s in regulars], [truth.skills[g] for g, _ in regulars])
    assert rho >= 0.7


# --------------------------------------------------------------------------- the CLI


def test_cli_rating_predictions_balance(real: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(real)]
    top = runner.invoke(app, [*base, "rating", "top", "--json"])
    assert top.exit_code == 0, top.output
    rows = json.loads(top.output)["rows"]
    stats = Stats(real)
    want = stats.rating_top(20)
    assert [r["guid"] for r in rows] == want["guid"].to_list()
    assert rows[0]["rating"] == pytest.approx(rows[0]["mu"] - 3 * rows[0]["sigma"])
    one = runner.invoke(app, [*base, "rating", "vid", "--json"])
    card = json.loads(one.output)
    assert card["guid"] == VID and card["maps"] == stats.ratings().states[VID].maps
    assert len(card["history"]) == card["maps"]
    pred = runner.invoke(app, [*base, "predictions", "--json"])
    out = json.loads(pred.output)
    assert len(out["maps"]) == stats.ratings().maps
    assert {s["method"] for s in out["scores"]} == set(F.METHODS)
    assert sum(VID in m["first_guids"] + m["second_guids"] for m in out["maps"]) == card["maps"]
    bal = runner.invoke(app, [*base, "balance", "vid", "olz", "carniee", "endekk", "--json",
                              "--apart", "vid,olz"])  # fmt: skip
    assert bal.exit_code == 0, bal.output
    splits = json.loads(bal.output)["splits"]
    assert len(splits) == 2  # 4 players, vid and olz apart: 2 of the 3 splits remain
    for s in splits:
        a = {p["guid"] for p in s["team_a"]}
        assert (VID in a) != ("5D989160" in a)
    fc = runner.invoke(app, [*base, "predict", "vid,olz", "carniee,endekk", "--json"])
    got = json.loads(fc.output)
    want_fc = stats.forecast(["vid", "olz"], ["carniee", "endekk"])
    assert got["p_a"] == pytest.approx(want_fc.p_a) and 0 < got["p_a"] < 1
    swapped = json.loads(runner.invoke(app, [*base, "predict", "carniee,endekk", "vid,olz",
                                             "--json"]).output)  # fmt: skip
    assert swapped["p_a"] == pytest.approx(1 - got["p_a"])  # sides unknown: symmetric
    assert runner.invoke(app, [*base, "predict", "vid", "vid"]).exit_code == 2
    bad = runner.invoke(app, [*base, "balance", "vid", "--apart", "vid"])
    assert bad.exit_code == 2
    # the last session's own teams, asked again with --avoid-previous: that split is out
    rep = stats.last_session()
    assert rep.teams is not None
    last = [frozenset(t.guids) for t in rep.teams]
    everyone = sorted(last[0] | last[1])
    avoid = runner.invoke(app, [*base, "balance", *everyone, "--avoid-previous", "--json"])
    assert avoid.exit_code == 0, avoid.output
    out = json.loads(avoid.output)
    assert out["avoided_previous"] is True and out["splits"]
    for s in out["splits"]:
        side = frozenset(p["guid"] for p in s["team_a"])
        assert side not in last, "the previous split came back"
    missing = runner.invoke(app, [*base, "rating", "qqqqzzzz"])
    assert missing.exit_code == 2 and "No player" in missing.output


def test_cli_a_new_player_is_written_plus_name(real: Path) -> None:
    """A newcomer (no GUID in the lake yet) joins a balance or forecast as ``+name`` at the
    starting rating, shown "(new)"; a bare unknown name is still refused (a typo must not
    become a player), and the refusal says how to add a new one."""
    runner = CliRunner()
    base = ["--data-dir", str(real)]
    typo = runner.invoke(app, [*base, "balance", ".olz", "vid", "carniee", "qqqqzzzz"])
    assert typo.exit_code == 2 and "No player matches" in typo.output
    assert "+qqqqzzzz" in typo.output
    bal = runner.invoke(app, [*base, "balance", ".olz", "vid", "carniee", "+Newbie", "--json",
                              "--apart", "newbie,vid"])  # fmt: skip
    assert bal.exit_code == 0, bal.output
    out = json.loads(bal.output)
    assert {"guid": None, "name": "Newbie", "new": True} in out["players"]
    assert {"guid": VID, "name": "vid", "new": False} in out["players"]
    for s in out["splits"]:  # kept apart from vid, as asked by his name alone
        a = {p["name"] for p in s["team_a"]}
        assert ("vid" in a) != ("Newbie" in a)
    text = runner.invoke(app, [*base, "balance", ".olz", "vid", "carniee", "+Newbie"])
    assert text.exit_code == 0 and "Newbie (new)" in text.output
    fc = runner.invoke(app, [*base, "predict", "vid,+Newbie", "olz,carniee"])
    assert fc.exit_code == 0 and "Newbie (new)" in fc.output, fc.output
    start = replay([]).rating("+newbie")  # the model's starting rating, as for any newcomer
    got = json.loads(runner.invoke(app, [*base, "predict", "vid,+Newbie", "olz,carniee",
                                         "--json"]).output)  # fmt: skip
    vid = Stats(real).ratings().rating(VID)
    assert got["team_a"][1] == {"guid": None, "name": "Newbie", "new": True}
    assert got["mu_a"] == pytest.approx(vid.mu + start.mu)
    twice = runner.invoke(app, [*base, "balance", "vid", "+newbie", "+Newbie"])
    assert twice.exit_code == 2 and "listed twice" in twice.output


def test_a_player_whose_name_starts_with_plus_is_that_player_not_a_new_one(
    tmp_path: Path,
) -> None:
    """``+name`` is a new player only when no player is called that: the #1 rated vid
    renamed "+vid" was balanced as a newcomer at the starting rating, while `rating +vid`
    found him."""
    files = tmp_path / "files"
    files.mkdir()
    for f in real_files():
        (files / f.name).write_bytes(
            f.read_bytes().replace(b"D8423F90\\^pvid\\", b"D8423F90\\+vid\\")
        )
    data = tmp_path / "data"
    ingest_paths(data, [files])
    stats = Stats(data)
    assert stats.resolve_player("+vid") == (VID, "+vid")
    assert stats.balance(["+vid", "qmr", "bronze.", "carniee"]).players[VID] == "+vid"
    newcomer = stats.balance(["+Stranger", "qmr", "bronze.", "carniee"]).players
    assert newcomer["+stranger"] == "Stranger"  # a name nobody has: still a new player


def test_cli_answers_name_a_player_by_his_current_name(real: Path) -> None:
    """Looked up by an old alias, a player is still shown by the name he plays under now."""
    runner = CliRunner()
    base = ["--data-dir", str(real)]
    stats = Stats(real)
    guid, now = stats.resolve_player("94F16E69")
    assert now == "ripaZha eLx"
    assert stats.resolve_player("tokYo") == (guid, now)  # an old alias, found fuzzily
    assert stats.teammates("tokYo")[1] == now and stats.rivals("tokYo")[1] == now
    card = runner.invoke(app, [*base, "rating", "tokYo"])
    assert card.exit_code == 0 and card.output.startswith(f"{now} ({guid})"), card.output
    assert "tokYo" not in card.output
    assert "over his last 10 maps" in " ".join(card.output.split())
    bal = json.loads(runner.invoke(app, [*base, "balance", "tokYo", "vid", "--json"]).output)
    assert {"guid": guid, "name": now, "new": False} in bal["players"]
    fc = runner.invoke(app, [*base, "predict", "tokYo", "vid"])
    assert fc.exit_code == 0 and f"({now})" in fc.output and "tokYo" not in fc.output


def test_cli_a_player_without_a_rated_map_is_an_answer(real: Path) -> None:
    """A known player with no complete stopwatch map: an answer (exit 0), as bests and
    teammates give one; exit 1 is for problems with the lake."""
    runner = CliRunner()
    base = ["--data-dir", str(real)]
    stats = Stats(real)
    guid, name = stats.resolve_player("Jaka")
    assert guid not in stats.ratings().states
    res = runner.invoke(app, [*base, "rating", "Jaka"])
    assert res.exit_code == 0, res.output
    assert f"{name} ({guid})" in res.output and "unrated" in res.output
    js = runner.invoke(app, [*base, "rating", "Jaka", "--json"])
    assert js.exit_code == 0
    assert json.loads(js.output) == {"guid": guid, "name": name, "rated": False, "maps": 0}


def test_cli_players_sharing_a_name_are_told_apart(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A second player (GUID ABCDEF12) plays two maps as "vid" beside the real vid: every
    answer showing both adds the GUID's first characters to the name."""
    import re

    from etl_duck.query.rating import labels

    data = lake_copy(tmp_path_factory, tmp_path / "data")
    files = tmp_path / "files"
    files.mkdir()
    for f in real_files():
        if f.name.startswith("2025-11-11-21") and f.name[18:].startswith(("etl_adl", "supply")):
            text = re.sub(r"^1C747DF1\\[^\\]*\\", lambda m: "ABCDEF12\\^pvid\\",
                          f.read_text(), flags=re.M)  # fmt: skip
            (files / f.name.replace("2025-11-11", "2025-11-20")).write_text(text)
    assert len(list(files.iterdir())) == 4
    ingest_paths(data, sorted(files.iterdir()))
    runner = CliRunner()
    base = ["--data-dir", str(data)]
    bal = runner.invoke(app, [*base, "balance", "ABCDEF12", VID, ".olz", "endekk", "--limit", "1"])
    assert bal.exit_code == 0, bal.output
    assert "vid (ABCD)" in bal.output and "vid (D842)" in bal.output
    fc = runner.invoke(app, [*base, "predict", f"ABCDEF12,{VID}", ".olz,endekk"])
    assert "vid (ABCD), vid (D842)" in fc.output, fc.output
    top = runner.invoke(app, [*base, "rating", "top", "--min-maps", "1", "--limit", "40"])
    assert "vid (ABCD)" in top.output and "vid (D842)" in top.output
    alone = runner.invoke(app, [*base, "balance", VID, ".olz", "--limit", "1"])
    assert "vid (" not in alone.output  # one vid in the answer: his name alone
    # as few GUID characters as tell them apart, at least four; a new player is marked
    assert labels([("ABCD1234", "x"), ("ABCD5678", "X"), ("+x", "x"), ("11112222", "y")]) == {
        "ABCD1234": "x (ABCD1)",
        "ABCD5678": "X (ABCD5)",
        "+x": "x (new)",
        "11112222": "y",
    }


# --------------------------------------------------------------------------- helpers


def synthetic_map(
    i: int, start: datetime, first: tuple[str, ...], second: tuple[str, ...], result: float
) -> MapResult:
    players = roster(
        [MapPlayer(g, True, 1.0, 600, 2400) for g in first]
        + [MapPlayer(g, False, 1.0, 600, 2400) for g in second]
    )
    return MapResult(i, 1, start.date(), "supply", start, start + timedelta(minutes=15),
                     result, players)  # fmt: skip


def synthetic_maps(n: int, seed: int) -> list[MapResult]:
    """Random 4v4 maps among 16 players with a hidden skill (higher index: stronger)."""
    rng = random.Random(seed)
    guids = [f"P{i:02d}" for i in range(16)]
    out = []
    t = datetime(2025, 1, 6, 20)
    for i in range(n):
        pick = rng.sample(guids, 8)
        a, b = pick[:4], pick[4:]
        edge = sum(int(g[1:]) for g in a) - sum(int(g[1:]) for g in b)
        r = rng.random()
        p = 1 / (1 + math.exp(-edge / 8))
        result = 0.5 if r < 0.03 else (1.0 if rng.random() < p else 0.0)
        players = roster(
            [MapPlayer(g, True, rng.choice((1.0, 1.0, 0.5)), 600, 2000 + 50 * int(g[1:]))
             for g in a]
            + [MapPlayer(g, False, 1.0, 600, 2000 + 50 * int(g[1:])) for g in b]
        )  # fmt: skip
        out.append(MapResult(1000 + i, i // 8, (t.date()), "supply", t,
                             t + timedelta(minutes=15), result, players))  # fmt: skip
        t += timedelta(minutes=20) if i % 8 else timedelta(days=2)
    return out


def _flip(m: MapResult) -> MapResult:
    return MapResult(m.match_id, m.session_id, m.session_date, m.map_name, m.start_time,
                     m.end_time, 1.0 - m.result, m.roster)  # fmt: skip
