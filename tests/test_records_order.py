"""Standing records follow the running order (end time, file, player), also when two
servers write the same file name in the same second."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl

from etl_duck.domain import records

SERVER_ZONE = "Europe/Berlin"  # the ingest's default zone (IngestOptions.timezone)


T = datetime(2025, 2, 10, 21, 0, 0)


def _bests(rows: list[tuple[str, str, int, datetime]]) -> pl.DataFrame:
    """``player_map_bests`` rows: (file, guid, kills, end) — DPM follows kills."""
    return pl.DataFrame(
        [
            {
                "session_id": 20250210200000,
                "guid": guid,
                "name": f"P{guid}",
                "map_name": "supply",
                "best_kills": kills,
                "best_kills_file": file,
                "best_kills_end": end,
                "best_dpm": float(kills * 10),
                "best_dpm_file": file,
                "best_dpm_end": end,
            }
            for file, guid, kills, end in rows
        ]
    )


def _no_rounds() -> pl.DataFrame:
    schema: dict[str, Any] = {
        "session_id": pl.Int64, "file_name": pl.String, "map_name": pl.String,
        "end_time": pl.Datetime("us"), "counted": pl.Boolean, "attackers_won": pl.Boolean,
        "round_number": pl.Int64, "time_limit_s": pl.Int64, "next_time_limit_s": pl.Int64,
        "duration_s": pl.Float64,
    }  # fmt: skip
    return pl.DataFrame(schema=schema)


def _standing(bests: pl.DataFrame) -> dict[tuple[str, str], float]:
    events = records.round_record_events(_no_rounds(), bests)
    return {
        (r["scope"], r["kind"]): r["value"]
        for r in records.current_records(events, _no_rounds(), bests)
    }


def test_same_file_name_same_second_on_two_servers_keeps_the_running_order() -> None:
    """``X.txt`` came before ``X.txt#scrim`` (the rows' order); both broke the record, so
    the scrim's — the larger — stands, though its key sorts first ('#' < '|')."""
    x = "2025-02-10-210000-supply-round-1.txt"
    bests = _bests(
        [
            ("2025-02-09-210000-supply-round-1.txt", "00000001", 5, T - timedelta(days=1)),
            (x, "00000002", 10, T),
            (f"{x}#scrim", "00000003", 20, T),
        ]
    )
    events = records.round_record_events(_no_rounds(), bests)
    kills = [e for e in events if e.scope == "all" and e.kind == "round_kills"]
    assert [e.value for e in kills] == [10.0, 20.0]  # in the order they were set
    assert _standing(bests)[("all", "round_kills")] == 20.0
    assert _standing(bests)[("supply", "round_dpm")] == 200.0


def test_an_unbroken_record_is_the_first_round_of_the_running_order() -> None:
    """Nobody broke it: the first row of the running order (end, file, player) stands —
    not the first by player id."""
    x = "2025-02-10-210000-supply-round-1.txt"
    bests = _bests([(x, "ffffffff", 20, T), (f"{x}#scrim", "00000000", 10, T)])
    assert not records.round_record_events(_no_rounds(), bests)
    assert _standing(bests)[("all", "round_kills")] == 20.0


# --------------------------------------------------------------------------- 4: anchor


def _rows_with_rounds(rounds: list[tuple[str, str, int, datetime]]) -> pl.DataFrame:
    """``player_map_bests`` rows as the rollup writes them since parser version 18, from
    rounds (file, guid, kills, end) on supply in one session: a row per player with every
    round (DPM follows kills)."""
    rows: dict[str, dict[str, Any]] = {}
    for file, guid, kills, end in sorted(rounds, key=lambda r: (r[3], r[0])):
        row = rows.setdefault(guid, {"session_id": 20250210200000, "guid": guid,
                                     "name": f"P{guid}", "map_name": "supply",
                                     "each_round": []})  # fmt: skip
        row["each_round"].append({"end": end, "file": file, "kills": kills,
                                  "dpm": float(kills * 10), "damage": kills * 100})  # fmt: skip
    return pl.DataFrame(list(rows.values()))


def test_a_record_beaten_twice_on_one_map_in_one_session_is_two_events() -> None:
    """Review 71 (F6), records: player 1 set 30 kills in round 1 of supply (Z's 25 stood) and
    35 in its round 2 — two records, the second "was 30 by P1". Player 2's 28 in round 1
    came after player 1's 30 in the running order: no record. The rollup kept each row's
    best round alone: 30 was lost, player 2's 28 was told as a record and 35 "was 28"."""
    r1, r2 = "2025-02-10-210000-supply-round-1.txt", "2025-02-10-211000-supply-round-2.txt"
    bests = _rows_with_rounds(
        [
            ("2025-02-09-210000-supply-round-1.txt", "00000003", 25, T - timedelta(days=1)),
            (r1, "00000001", 30, T),
            (r1, "00000002", 28, T),
            (r2, "00000001", 35, T + timedelta(minutes=10)),
            (r2, "00000002", 5, T + timedelta(minutes=10)),
        ]
    )
    events = records.round_record_events(_no_rounds(), bests)
    for scope in ("all", "supply"):
        for kind, unit in (("round_kills", 1.0), ("round_dpm", 10.0)):
            got = [(e.file_name, e.guid, e.value, e.previous, e.previous_holder)
                   for e in events if (e.scope, e.kind) == (scope, kind)]  # fmt: skip
            assert got == [
                (r1, "00000001", 30 * unit, 25 * unit, "P00000003"),
                (r2, "00000001", 35 * unit, 30 * unit, "P00000001"),
            ], (scope, kind)
    standing = _standing(bests)
    assert standing[("all", "round_kills")] == standing[("supply", "round_kills")] == 35.0
