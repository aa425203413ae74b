"""The lake's tables as explicit Arrow schemas: the partitioned tables, the state tables
(ledger, rejected lines, round index) and the helpers that build tables from rows.

Every column type here bounds a value the parser accepts (``etl_duck.domain.parse``
range-checks against these types).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from etl_duck.domain.fields import DERIVED_TOTALS, EXTENDED_FIELDS, Kind

ROUNDS_SCHEMA = pa.schema(
    [
        ("round_id", pa.int64()),
        ("match_id", pa.int64()),
        ("session_id", pa.int64()),
        ("file_name", pa.string()),
        ("sha256", pa.string()),
        ("map_name", pa.string()),
        ("round_number", pa.int8()),
        ("end_time", pa.timestamp("s")),  # server-local time from the file name (round END)
        ("start_time", pa.timestamp("s")),  # derived: end − duration − 3 s
        ("timezone", pa.string()),
        ("duration_s", pa.float64()),  # best source per STATS_FORMAT.md §2; null if unknown
        ("time_limit_s", pa.int32()),
        ("next_time_limit_s", pa.int32()),
        ("play_time_ms", pa.int64()),
        ("defender_side", pa.int8()),
        ("winner_side", pa.int8()),
        ("attackers_won", pa.bool_()),
        ("server_name", pa.string()),
        ("config", pa.string()),
        ("layout", pa.int8()),
        ("file_status", pa.string()),  # ok | partial | interrupted
        ("paired_round_id", pa.int64()),  # for a round 2: its round 1
        ("players", pa.int16()),
        ("bots", pa.int16()),
        ("counted", pa.bool_()),
        ("reason", pa.string()),
        ("parser_version", pa.int16()),
        ("server", pa.string()),  # the game server ("" = the main one): etl_duck.domain.sources
    ]
)


def _value_type(kind: Kind) -> pa.DataType:
    return pa.float64() if kind is Kind.TENTHS else pa.int32()


PLAYER_ROUNDS_SCHEMA = pa.schema(
    [
        ("round_id", pa.int64()),
        ("match_id", pa.int64()),
        ("session_id", pa.int64()),
        ("map_name", pa.string()),
        ("round_number", pa.int8()),
        ("end_time", pa.timestamp("s")),
        ("guid", pa.string()),
        ("name", pa.string()),
        ("name_raw", pa.string()),
        ("team", pa.int8()),
        ("is_bot", pa.bool_()),
        ("rounds_counter", pa.int16()),
        # r1 | r2_diff | r2_only | r2_reset | orphan_r2 | standalone | r1_rejected |
        # interrupted | second_writer
        ("row_kind", pa.string()),
        ("counted", pa.bool_()),
        ("reason", pa.string()),
        ("line_no", pa.int32()),
        ("layout", pa.int8()),
        *[(n, pa.int32()) for n in DERIVED_TOTALS],
        *[(f.name, _value_type(f.kind)) for f in EXTENDED_FIELDS],
        ("server", pa.string()),
    ]
)

WEAPON_ROUNDS_SCHEMA = pa.schema(
    [
        ("round_id", pa.int64()),
        ("session_id", pa.int64()),
        ("map_name", pa.string()),
        ("guid", pa.string()),
        ("weapon_id", pa.int8()),
        ("weapon", pa.string()),
        ("hits", pa.int32()),
        ("shots", pa.int32()),
        ("kills", pa.int32()),
        ("deaths", pa.int32()),
        ("headshots", pa.int32()),
        ("counted", pa.bool_()),
        ("server", pa.string()),
    ]
)

# From the endstats files (STATS_FORMAT.md §10), one row per award / versus row, joined to
# the round their file pairs with (its ids, map, round and `counted`); names matched to
# GUIDs through that round's stats file (null when no player of the round has the name).
_ENDSTATS_ROUND = [
    ("round_id", pa.int64()),
    ("match_id", pa.int64()),
    ("session_id", pa.int64()),
    ("map_name", pa.string()),
    ("round_number", pa.int8()),
    ("end_time", pa.timestamp("s")),  # the round's (its stats file name)
    ("file_name", pa.string()),  # the endstats file
    ("line_no", pa.int32()),
]
ENDSTATS_AWARDS_SCHEMA = pa.schema(
    [
        *_ENDSTATS_ROUND,
        ("award", pa.string()),
        ("name", pa.string()),  # clean name as the file writes it
        ("guid", pa.string()),
        ("value", pa.float64()),  # the first number of the value text
        ("unit", pa.string()),  # the words after it (`seconds`, `percent`, …)
        ("value_text", pa.string()),
        ("counted", pa.bool_()),
    ]
)
ENDSTATS_VERSUS_SCHEMA = pa.schema(
    [
        *_ENDSTATS_ROUND,
        ("guid", pa.string()),  # the VS_HEADER's player (8 hex, as in the stats files)
        ("name", pa.string()),
        ("opponent_guid", pa.string()),
        ("opponent_name", pa.string()),
        ("kills", pa.int32()),  # the player killed the opponent
        ("deaths", pa.int32()),  # the opponent killed the player
        ("counted", pa.bool_()),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "rounds": ROUNDS_SCHEMA,
    "player_rounds": PLAYER_ROUNDS_SCHEMA,
    "weapon_rounds": WEAPON_ROUNDS_SCHEMA,
    "endstats_awards": ENDSTATS_AWARDS_SCHEMA,
    "endstats_versus": ENDSTATS_VERSUS_SCHEMA,
}

FILES_SCHEMA = pa.schema(
    [
        ("file_name", pa.string()),
        ("sha256", pa.string()),
        ("content_sha256", pa.string()),  # sha256 with CRLF → LF: identity for dedupe
        ("size", pa.int64()),
        ("status", pa.string()),  # ok | partial | interrupted | quarantined
        ("reason", pa.string()),
        ("ingested_version", pa.int64()),
    ]
)
REJECTED_SCHEMA = pa.schema(
    [
        ("file_name", pa.string()),
        ("line", pa.int32()),
        ("field", pa.string()),
        ("reason", pa.string()),
    ]
)
ROUND_INDEX_SCHEMA = pa.schema(
    [
        ("file_name", pa.string()),
        ("end_time", pa.timestamp("s")),
        ("start_time", pa.timestamp("s")),
        ("session_id", pa.int64()),
        ("session_date", pa.date32()),
        # False: a header-only round (no one played); null in an index written before it
        # was kept (read as True). Sessions never chain through such rounds
        ("has_players", pa.bool_()),
    ]
)
CONFLICTS_SCHEMA = pa.schema(
    [
        ("file_name", pa.string()),
        ("version", pa.string()),  # content sha256 prefix (RawVersion.id)
        ("size", pa.int64()),
        ("raw_path", pa.string()),  # relative to the data directory
        ("counted_version", pa.string()),
        ("reason", pa.string()),
    ]
)
STATE_SCHEMAS: dict[str, pa.Schema] = {
    "files": FILES_SCHEMA,
    "rejected_lines": REJECTED_SCHEMA,
    "round_index": ROUND_INDEX_SCHEMA,
    "conflicts": CONFLICTS_SCHEMA,  # open version conflicts (etl_duck.lake.rawstore)
}


def split_years(table: pa.Table, column: str) -> dict[str, pa.Table]:
    """Rows by year of ``column``: a date, or a file name (which starts with its date)."""
    import pyarrow.compute as pc

    if not table.num_rows:
        return {}
    col = table[column]
    if pa.types.is_string(col.type):
        years = pc.utf8_slice_codeunits(col, 0, 4)
    else:
        years = pc.cast(pc.year(col), pa.string())
    found = sorted(pc.unique(years).to_pylist())
    if len(found) == 1:  # the usual case (a live commit, a backfill's year): no copy
        return {str(found[0]): table}
    return {str(y): table.filter(pc.equal(years, y)) for y in found}


def table_from_rows(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Column-wise construction (much faster than from_pylist for wide rows)."""
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.Table.from_pydict(cols, schema=schema)
