"""A round is one contender for a record (review 84): its best value against the best of the
rounds before it, never one of its players against another. The rows of a round were read
in GUID order and each that beat the one before was a record "was" a player of the same
round — the first round on a map, with nothing to beat, announced a chain of them. The
standing records (the site, /records) follow the same rule, and so do personal bests where
two lines of one file share a GUID."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl

from etl_duck.domain import records as rec
from tests.test_records_order import _no_rounds

T = datetime(2025, 2, 10, 21, 0, 0)
ROUND = pl.Struct({"end": pl.Datetime("us"), "file": pl.String, "kills": pl.Int64,
                   "dpm": pl.Float64, "damage": pl.Int64})  # fmt: skip
SCHEMA: dict[str, Any] = {"session_id": pl.Int64, "guid": pl.String, "name": pl.String,
                          "map_name": pl.String, "rounds": pl.Int64,
                          "each_round": pl.List(ROUND)}  # fmt: skip


def _file(k: int) -> str:
    return f"{T + timedelta(minutes=10 * k):%Y-%m-%d-%H%M%S}-supply-round-{1 + k % 2}.txt"


def _bests(rounds: list[list[tuple[str, int]]]) -> pl.DataFrame:
    """``player_map_bests`` rows as the rollup writes them (parser version 18 on): round k
    of ``rounds`` (its players: (guid, kills); DPM follows kills) on supply, ending at T +
    10k minutes, one row per player with every round of his (a GUID twice in a round: two
    lines of one file share it)."""
    rows: dict[str, dict[str, Any]] = {}
    for k, players in enumerate(rounds):
        end = T + timedelta(minutes=10 * k)
        for guid, kills in players:
            row = rows.setdefault(guid, {"session_id": 20250210200000, "guid": guid,
                                         "name": f"P{guid}", "map_name": "supply",
                                         "rounds": 0, "each_round": []})  # fmt: skip
            row["rounds"] += 1
            row["each_round"].append({"end": end, "file": _file(k), "kills": kills,
                                      "dpm": float(kills * 10), "damage": kills * 100})  # fmt: skip
    return pl.DataFrame(list(rows.values()), schema=SCHEMA)


def _told(bests: pl.DataFrame) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """(scope, kind) → its events: (round, holder, value, previous, previous holder, the
    previous round)."""
    out: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for e in rec.round_record_events(_no_rounds(), bests):
        out.setdefault((e.scope, e.kind), []).append(
            (e.file_name, e.guid, e.value, e.previous, e.previous_holder, e.previous_file)
        )
    return out


def _standing(bests: pl.DataFrame) -> dict[tuple[str, str], tuple[Any, ...]]:
    events = rec.round_record_events(_no_rounds(), bests)
    return {(r["scope"], r["kind"]): (r["value"], r["guid"], r["file_name"])
            for r in rec.current_records(events, _no_rounds(), bests)}  # fmt: skip


SCOPES = [(s, k, u) for s in ("all", "supply") for k, u in (("round_kills", 1), ("round_dpm", 10))]
ROUND_OF_THREE = [("00000003", 19), ("00000001", 11), ("00000002", 13)]


def test_one_round_with_no_history_breaks_no_record() -> None:
    """The first round on a map has nothing to beat: 11, 13 and 19 kills are no chain of
    three records (13 "was 11 by" a player of the same round, 19 "was 13")."""
    bests = _bests([ROUND_OF_THREE])
    assert _told(bests) == {}
    # it stands, held by its best player (not the first by GUID)
    for scope, kind, unit in SCOPES:
        assert _standing(bests)[(scope, kind)] == (19 * unit, "00000003", _file(0))


def test_a_round_after_history_is_one_record_beating_the_earlier_round() -> None:
    bests = _bests([[("00000009", 10)], ROUND_OF_THREE])
    for scope, kind, unit in SCOPES:
        assert _told(bests)[(scope, kind)] == [
            (_file(1), "00000003", 19.0 * unit, 10.0 * unit, "P00000009", _file(0))
        ], (scope, kind)
        assert _standing(bests)[(scope, kind)] == (19 * unit, "00000003", _file(1))


def test_two_later_rounds_each_beating_the_record_are_two_events() -> None:
    """Each round beats the best of the rounds before it: 22 was 19 (not 21, a player of its
    own round), 25 was 22; a round below the record in between tells nothing."""
    bests = _bests(
        [
            [("00000009", 10)],
            ROUND_OF_THREE,
            [("00000001", 21), ("00000002", 22), ("00000003", 5)],
            [("00000001", 18), ("00000003", 17)],
            [("00000003", 25), ("00000002", 24)],
        ]
    )
    for scope, kind, unit in SCOPES:
        assert _told(bests)[(scope, kind)] == [
            (_file(1), "00000003", 19.0 * unit, 10.0 * unit, "P00000009", _file(0)),
            (_file(2), "00000002", 22.0 * unit, 19.0 * unit, "P00000003", _file(1)),
            (_file(4), "00000003", 25.0 * unit, 22.0 * unit, "P00000002", _file(2)),
        ], (scope, kind)
        assert _standing(bests)[(scope, kind)] == (25 * unit, "00000003", _file(4))


def test_a_tie_inside_a_round_is_one_event_held_by_the_first_guid() -> None:
    """An event has one holder (no joint holders): of equal values in one round the first by
    GUID holds it, as the first of equal rounds does (15 by a lower GUID is no record
    before them)."""
    bests = _bests([[("00000009", 10)], [("00000007", 19), ("00000004", 19), ("00000002", 15)]])
    for scope, kind, unit in SCOPES:
        assert _told(bests)[(scope, kind)] == [
            (_file(1), "00000004", 19.0 * unit, 10.0 * unit, "P00000009", _file(0))
        ]


def test_two_lines_of_one_player_in_a_round_are_one_personal_best() -> None:
    """Two lines of one file can share a GUID: his round's best is one personal best against
    his earlier rounds, not 11 beating 10 and 19 beating 11."""
    history = [[("0000000A", 5 + k % 6)] for k in range(rec.PB_HISTORY)]  # best: 10
    bests = _bests([*history, [("0000000A", 11), ("0000000A", 19)]])
    got = sorted((e.kind, e.file_name, e.value, e.previous)
                 for e in rec.personal_best_events(bests))  # fmt: skip
    assert got == [
        ("round_damage", _file(rec.PB_HISTORY), 1900.0, 1000.0),
        ("round_dpm", _file(rec.PB_HISTORY), 190.0, 100.0),
        ("round_kills", _file(rec.PB_HISTORY), 19.0, 10.0),
    ]
