"""Personal bests are news after :data:`~etl_duck.domain.records.PB_HISTORY` counted rounds of
the player's own history — every counted round before the best's, in time order: rounds too
short for a DPM count, and so do the rounds of the same session and map that came before it.
Checked on hand-made rollup rows and against the generator's truth."""

from __future__ import annotations

import random
from collections import defaultdict
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


def truth_events(truth: Truth) -> tuple[dict[str, tuple[float, float]], dict[str, list[str]]]:
    """The personal bests of the truth's counted rounds read one by one in time order (a
    round beats every earlier one of the player strictly, after PB_HISTORY earlier rounds),
    and per player the files of his counted rounds."""
    by_file = truth.round_by_file()
    rows = sorted(truth.counted_rows(), key=lambda r: (by_file[r.file_name].end_time, r.file_name))
    out: dict[str, tuple[float, float]] = {}
    played: dict[str, list[str]] = defaultdict(list)
    best: dict[tuple[str, str], float] = {}
    for r in rows:
        v = r.values
        dpm = v["damage_given"] * 60.0 / v["time_played_s"] if v["time_played_s"] >= 300 else None
        for kind, value in (("round_kills", v["kills"]), ("round_dpm", dpm),
                            ("round_damage", v["damage_given"])):  # fmt: skip
            if value is None:
                continue
            before = best.get((r.guid, kind))
            if before is not None and value > before and len(played[r.guid]) >= rec.PB_HISTORY:
                out[f"pb|{kind}|{r.guid}|{r.file_name}"] = (float(value), before)
            if before is None or value > before:
                best[(r.guid, kind)] = float(value)
                SET_BY[(kind, r.guid, float(value))] = r.file_name
        played[r.guid].append(r.file_name)
    return out, played


#: (kind, GUID, value) → the file of the round that set that best, told or not
SET_BY: dict[tuple[str, str, float], str] = {}


def test_personal_bests_equal_the_truth_up_to_what_the_rollup_records(
    synthetic_lake: tuple[Path, Truth],
) -> None:
    """Every personal best told is one of the truth's, with its value and the best it beat.
    One of the truth's is missing only where the rollup (each player's best round of each
    session and map) cannot tell it: a round that was not the best of its session and map,
    or one after a round whose time the rollup does not keep (a round best at nothing, in
    the best's own row or in a row whose known rounds all came later)."""
    data, truth = synthetic_lake
    idx = Stats(data, min_rounds=1).social()
    bests = idx.bests
    got = {e.key: (e.value, e.previous) for e in rec.personal_best_events(bests)}
    want, played = truth_events(truth)
    assert got.keys() <= want.keys()
    rounds = {r["file_name"]: r for r in idx.rounds.iter_rows(named=True)}
    for key, (value, previous) in got.items():
        assert abs(value - want[key][0]) < 1e-6, key
        if abs(float(previous or 0) - want[key][1]) > 1e-6:
            # the best it beat was set earlier in the same session and map (told or not): the
            # rollup keeps the row's best round only, so it names the best before the row
            kind, guid, file = key.split("|")[1:]
            at, by = rounds[file], rounds[SET_BY[(kind, guid, want[key][1])]]
            assert (by["session_id"], by["map_name"]) == (at["session_id"], at["map_name"]), key
    columns = ("best_kills", "best_dpm", "best_damage")
    mine: dict[tuple[str, int, str], dict[str, Any]] = {
        (r["guid"], r["session_id"], r["map_name"]): r for r in bests.iter_rows(named=True)
    }

    def known(r: dict[str, Any]) -> dict[str, Any]:
        return {r[f"{c}_file"]: r[f"{c}_end"] for c in columns if r[f"{c}_file"] is not None}

    unknowable = 0
    for key in sorted(want.keys() - got.keys()):
        _, kind, guid, file = key.split("|")
        column = {"round_kills": "best_kills", "round_dpm": "best_dpm"}.get(kind, "best_damage")
        at = rounds[file]
        own = mine[(guid, at["session_id"], at["map_name"])]
        if own[f"{column}_file"] != file:  # another round of this session and map was better
            unknowable += 1
            continue
        hidden = []
        for name in played[guid]:
            r = rounds[name]
            if r["end_time"] >= at["end_time"]:
                continue
            y = mine[(guid, r["session_id"], r["map_name"])]
            ends = known(y)
            if name not in ends and (y is own or min(ends.values()) > at["end_time"]):
                hidden.append(name)
        assert hidden, key  # else the rollup could have told it
        unknowable += 1
    dpm = sum(1 for k in got if k.startswith("pb|round_dpm|"))
    assert dpm >= 0.9 * sum(1 for k in want if k.startswith("pb|round_dpm|"))
    assert unknowable <= 0.1 * len(want)


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
