"""Personal bests are news after :data:`~etl_duck.domain.records.PB_HISTORY` counted rounds of
the player's own history — every counted round before the best's, in time order: rounds too
short for a DPM count, and so do the rounds of the same session and map that came before it.
Bests are beaten round by round: a best beaten twice on one map in one session is two
events, the second beating the first. Checked on hand-made rollup rows (the rollup of
parser version 18, with every round, and the older ones, with each row's best rounds) and
against the generator's truth."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from etl_duck.domain import records as rec
from etl_duck.query.stats import Stats
from etl_duck.synth import Truth

START = datetime(2025, 1, 6, 20)
COLUMNS = ("best_kills", "best_dpm", "best_damage")
SCHEMA = {
    "session_id": pl.Int64, "guid": pl.String, "map_name": pl.String, "name": pl.String,
    "rounds": pl.Int64,
    **{k: v for c in COLUMNS for k, v in (
        (c, pl.Float64 if c == "best_dpm" else pl.Int64), (f"{c}_file", pl.String),
        (f"{c}_end", pl.Datetime("ms")))},
}  # fmt: skip


def row(
    day: int, map_name: str, rounds: int, best: dict[str, tuple[float | None, int]]
) -> dict[str, Any]:
    """One ``player_map_bests`` row of player P: ``best`` maps a column to (value, the round
    of the row it came from: 1, 2, …); round k of day d ends at 20:00 + d days + 10k min."""
    out: dict[str, Any] = {"session_id": day, "guid": "P", "map_name": map_name, "name": "p",
                           "rounds": rounds}  # fmt: skip
    for c in COLUMNS:
        value, k = best[c]
        end = START + timedelta(days=day, minutes=10 * k)
        out[c] = value
        out[f"{c}_file"] = None if value is None else f"{end:%Y-%m-%d-%H%M%S}-{map_name}-r{k}"
        out[f"{c}_end"] = None if value is None else end
    return out


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA)


ROUND = pl.Struct({"end": pl.Datetime("us"), "file": pl.String, "kills": pl.Int64,
                   "dpm": pl.Float64, "damage": pl.Int64})  # fmt: skip


def each_row(
    day: int, map_name: str, rounds: Sequence[tuple[int, float | None, int]]
) -> dict[str, Any]:
    """One ``player_map_bests`` row of player P as the rollup writes it since parser version
    18: every round (kills, DPM, damage), round k ending at 20:00 + ``day`` days + 10k min."""
    each: list[dict[str, Any]] = []
    for k, (kills, dpm, damage) in enumerate(rounds, 1):
        end = START + timedelta(days=day, minutes=10 * k)
        each.append({"end": end, "file": f"{end:%Y-%m-%d-%H%M%S}-{map_name}-r{k}",
                     "kills": kills, "dpm": dpm, "damage": damage})  # fmt: skip
    return {"session_id": day, "guid": "P", "map_name": map_name, "name": "p",
            "rounds": len(each), "each_round": each}  # fmt: skip


def each_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {c: SCHEMA[c] for c in ("session_id", "guid", "map_name", "name", "rounds")}
    return pl.DataFrame(rows, schema={**schema, "each_round": pl.List(ROUND)})


def told(bests: pl.DataFrame) -> list[tuple[str, float, float | None]]:
    return [(e.kind, e.value, e.previous) for e in rec.personal_best_events(bests)]


def plain(day: int, rounds: int = 2, dpm: float | None = 100.0) -> dict[str, Any]:
    """A row that beats nothing: 10 kills, 1,000 damage, the DPM given (None: short rounds)."""
    return row(day, "supply", rounds, {"best_kills": (10, 1), "best_dpm": (dpm, 1),
                                       "best_damage": (1000, 1)})  # fmt: skip


def test_short_rounds_count_towards_the_history_of_a_dpm_best() -> None:
    """20 counted rounds, 18 of them without a DPM (under 5 minutes played): a DPM best is
    news as the kills and damage bests would be."""
    rows = [row(0, "supply", 2, {"best_kills": (10, 1), "best_dpm": (150.0, 1),
                                 "best_damage": (1000, 1)})]  # fmt: skip
    rows += [plain(d, dpm=None) for d in range(1, 10)]
    rows.append(row(10, "goldrush", 2, {"best_kills": (12, 1), "best_dpm": (187.0, 1),
                                        "best_damage": (1200, 1)}))  # fmt: skip
    assert told(frame(rows)) == [
        ("round_damage", 1200.0, 1000.0),
        ("round_dpm", 187.0, 150.0),
        ("round_kills", 12.0, 10.0),
    ]


def test_earlier_rounds_of_the_same_session_and_map_count() -> None:
    """19 rounds in earlier rows, then a map whose round 1 set the most kills and round 2 the
    best DPM and damage: round 2 had 20 rounds of history, round 1 only 19."""
    rows = [plain(d) for d in range(9)] + [plain(9, rounds=1)]  # 19 rounds
    rows[0]["best_dpm"] = 150.0
    last: dict[str, tuple[float | None, int]] = {
        "best_kills": (30, 1),
        "best_dpm": (187.0, 2),
        "best_damage": (2000, 2),
    }
    rows.append(row(10, "goldrush", 2, last))
    assert told(frame(rows)) == [("round_damage", 2000.0, 1000.0), ("round_dpm", 187.0, 150.0)]
    # one round less: nothing is news yet
    rows[9] = plain(9, rounds=0)
    assert told(frame(rows)) == []


def test_the_events_do_not_depend_on_the_row_order() -> None:
    """A rebuild may write the rollup in another order: the same events, the same keys."""
    rng = random.Random(3)
    rows = [plain(d, dpm=rng.choice([None, 100.0])) for d in range(15)]
    for d in range(15, 40):
        rows.append(row(d, rng.choice(["supply", "goldrush"]), rng.randint(1, 4), {
            "best_kills": (rng.randint(5, 40), rng.randint(1, 2)),
            "best_dpm": (rng.choice([None, rng.uniform(80, 400)]), rng.randint(1, 2)),
            "best_damage": (rng.randint(500, 4000), rng.randint(1, 2))}))  # fmt: skip
    want = rec.personal_best_events(frame(rows))
    assert want
    for _ in range(5):
        rng.shuffle(rows)
        assert rec.personal_best_events(frame(rows)) == want


def test_a_best_beaten_twice_on_one_map_in_one_session_is_two_events() -> None:
    """Review 71 (F6): "big boss" beat his bests in round 1 of goldrush (21 kills, was 20) and
    again in its round 2 (25): two events, the second "was 21" — the round-1 post already
    said 21. The rollup kept the row's best round alone: round 1's events vanished once
    round 2 landed, and round 2 told "was 20"."""
    history = [each_row(d, "supply", [(20, 305.5, 3666), (10, 100.0, 1000)]) for d in range(10)]
    evening = [(21, 362.0, 4308), (25, 473.7, 5637)]  # round 1, round 2 of goldrush
    want_r1 = [("round_damage", 4308.0, 3666.0), ("round_dpm", 362.0, 305.5),
               ("round_kills", 21.0, 20.0)]  # fmt: skip
    after_r1 = each_frame([*history, each_row(10, "goldrush", evening[:1])])
    assert told(after_r1) == want_r1
    events = rec.personal_best_events(each_frame([*history, each_row(10, "goldrush", evening)]))
    got = [(e.file_name, e.kind, e.value, e.previous, e.previous_file) for e in events]
    first = f"{START + timedelta(minutes=10):%Y-%m-%d-%H%M%S}-supply-r1"  # ties keep the first
    r1, r2 = (f"{START + timedelta(days=10, minutes=10 * k):%Y-%m-%d-%H%M%S}-goldrush-r{k}"
              for k in (1, 2))  # fmt: skip
    assert got == [
        (r1, "round_damage", 4308.0, 3666.0, first),
        (r1, "round_dpm", 362.0, 305.5, first),
        (r1, "round_kills", 21.0, 20.0, first),
        (r2, "round_damage", 5637.0, 4308.0, r1),
        (r2, "round_dpm", 473.7, 362.0, r1),
        (r2, "round_kills", 25.0, 21.0, r1),
    ]
    # round 1's events keep their keys: the bot told them once and tells them no more
    assert {e.key for e in rec.personal_best_events(after_r1)} <= {e.key for e in events}
    # a round of the evening that beats nothing of it (a 22 after the 25) is no event
    third = each_row(10, "goldrush", [*evening, (22, 400.0, 5000)])
    assert len(rec.personal_best_events(each_frame([*history, third]))) == 6


def truth_events(
    truth: Truth,
) -> tuple[dict[str, tuple[float, float]], dict[tuple[str, str], tuple[float, str]]]:
    """The personal bests of the truth's counted rounds read one by one in time order (a
    round beats every earlier one of the player strictly, after PB_HISTORY earlier rounds):
    key → (value, the best it beat); and each player's bests, (GUID, kind) → (value, the
    round that first set it)."""
    by_file = truth.round_by_file()
    rows = sorted(truth.counted_rows(), key=lambda r: (by_file[r.file_name].end_time, r.file_name))
    out: dict[str, tuple[float, float]] = {}
    played: dict[str, int] = defaultdict(int)
    best: dict[tuple[str, str], tuple[float, str]] = {}
    for r in rows:
        v = r.values
        dpm = v["damage_given"] * 60.0 / v["time_played_s"] if v["time_played_s"] >= 300 else None
        for kind, value in (("round_kills", v["kills"]), ("round_dpm", dpm),
                            ("round_damage", v["damage_given"])):  # fmt: skip
            if value is None:
                continue
            before = best.get((r.guid, kind), (None, ""))[0]
            if before is not None and value > before and played[r.guid] >= rec.PB_HISTORY:
                out[f"pb|{kind}|{r.guid}|{r.file_name}"] = (float(value), before)
            if before is None or value > before:
                best[(r.guid, kind)] = (float(value), r.file_name)
        played[r.guid] += 1
    return out, best


def test_personal_bests_equal_the_truth(synthetic_lake: tuple[Path, Truth]) -> None:
    """Every personal best of the truth is told, with its value and the best it beat, and
    nothing else — also a best beaten twice on one map in one session (the rollup kept the
    row's best round alone: the earlier one was lost, and the later one named the best
    before the row; review 71, F6)."""
    data, truth = synthetic_lake
    idx = Stats(data, min_rounds=1).social()
    got = {e.key: (e.value, e.previous) for e in rec.personal_best_events(idx.bests)}
    want, standing = truth_events(truth)
    assert got.keys() == want.keys()
    for key, (value, previous) in got.items():
        assert abs(value - want[key][0]) < 1e-6, key
        assert previous is not None and abs(previous - want[key][1]) < 1e-6, key
    # the case of F6 is in the lake: bests beaten again on the same map the same evening
    rounds = truth.round_by_file()
    last: dict[tuple[str, str], tuple[int, str]] = {}
    again = 0
    for key in sorted(want, key=lambda k: (rounds[k.split("|")[3]].end_time, k)):
        _, kind, guid, file = key.split("|")
        at = (rounds[file].session_index, rounds[file].map_name)
        again += last.get((kind, guid)) == at
        last[(kind, guid)] = at
    assert again
    # each player's bests (his card): the best round of each kind, the first to reach it
    for guid in {g for g, _ in standing}:
        card = {b["kind"]: (b["value"], b["file_name"])
                for b in rec.personal_bests(idx.bests, idx.sessions, guid)}  # fmt: skip
        for kind in rec.PERSONAL:
            if (guid, kind) in standing:
                value, file = standing[(guid, kind)]
                assert abs(card[kind][0] - value) < 1e-6 and card[kind][1] == file, (guid, kind)


def test_a_map_played_again_later_in_the_session_keeps_the_history_exact() -> None:
    """The rollup kept a (session, map) row's best rounds' times only: a map played again
    later in the evening made its row count whole from its first best (a best told with 18
    rounds of history) or moved the row later (a told best vanished). With every round's end
    in the row (``ends``) the history is the rounds before the best, exactly."""
    schema = {**SCHEMA, "ends": pl.List(pl.Datetime("ms"))}

    def with_ends(r: dict[str, Any], ends: list[datetime]) -> dict[str, Any]:
        return {**r, "ends": ends}

    day = START + timedelta(days=9)
    history = [
        with_ends(plain(d), [START + timedelta(days=d, minutes=10 * k) for k in (1, 2)])
        for d in range(9)
    ] + [  # 18 rounds
        with_ends(plain(8, rounds=1), [START + timedelta(days=8, hours=1)])
    ]  # 19
    at = {m: day + timedelta(minutes=m) for m in (10, 20, 30)}
    best: dict[str, tuple[float | None, int]] = {
        "best_kills": (50, 2),
        "best_dpm": (500.0, 2),
        "best_damage": (9000, 2),
    }
    goldrush = with_ends(row(9, "goldrush", 1, best), [at[20]])
    # supply at 20:10 and again at 20:30, its best at 20:30: the goldrush best at 20:20 has
    # 19 + 1 = 20 rounds before it
    supply = with_ends(row(9, "supply", 2, {"best_kills": (12, 3), "best_dpm": (120.0, 3),
                                            "best_damage": (1100, 3)}), [at[10], at[30]])  # fmt: skip
    told_now = [(e.kind, e.value) for e in rec.personal_best_events(
        pl.DataFrame([*history, goldrush, supply], schema=schema))]  # fmt: skip
    assert sorted(k for k, _ in told_now if _ in (50.0, 500.0, 9000.0)) == [
        "round_damage", "round_dpm", "round_kills"]  # fmt: skip
    # with 1 round before it (no replay), 19 + 0 = 19: not news yet
    supply_once = with_ends(row(9, "supply", 1, {"best_kills": (12, 3), "best_dpm": (120.0, 3),
                                                 "best_damage": (1100, 3)}), [at[30]])  # fmt: skip
    early = rec.personal_best_events(pl.DataFrame([*history, goldrush, supply_once], schema=schema))
    assert not [e for e in early if e.value in (50.0, 500.0, 9000.0)]
