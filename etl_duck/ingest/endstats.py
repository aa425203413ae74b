"""Endstats files in the ingest: which committed rounds a new endstats file touches, which
endstats files a session date's build reads, their ledger rows, and the rows of the two
endstats tables (built with the date's partitions, so they follow the same atomic rules).

An endstats file belongs to the round file of its map and round written within ±60 s
(:func:`etl_duck.domain.endstats.pair_endstats`). It usually lands in the same fetch as its
round; when it comes first, it waits in ``raw/`` (listed in the ledger) and is picked up
when its round's date is built; when it comes later, it touches its round's session, whose
date is rebuilt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from etl_duck.domain.endstats import (
    PAIR_WINDOW_S,
    Endstats,
    is_endstats_file_name,
    name_key,
    pair_endstats,
    parse_endstats,
    parse_endstats_name,
    stored_endstats,
    waiting_for_round,
)
from etl_duck.domain.parse import FileStatus, ParseError, RoundFile, parse_file_name
from etl_duck.domain.sessions import RoundTime, Session
from etl_duck.lake.schemas import ENDSTATS_AWARDS_SCHEMA, ENDSTATS_VERSUS_SCHEMA, table_from_rows

__all__ = [
    "PAIR_WINDOW_S",
    "Checked",
    "build_endstats",
    "check",
    "is_endstats_file_name",
    "known_endstats",
    "select_for",
    "touched_rounds",
    "waiting_for_round",
]

_WINDOW = timedelta(seconds=PAIR_WINDOW_S)


#: what the ingest records of a new endstats file: ledger status (ok | partial), a note
#: (an older writer's unattributable rows; not a problem) and its bad lines
Checked = tuple[str, str | None, list[tuple[int | None, str | None, str]]]


def check(name: str, data: bytes) -> Checked:
    """The ledger status, note and bad lines of a new endstats file; :class:`ParseError`
    if nothing in it can be used (the file is quarantined)."""
    es = parse_endstats(data, name)
    status = FileStatus.PARTIAL.value if es.partial else FileStatus.OK.value
    return status, es.note, [(line, fld, why) for line, fld, why in es.skipped]


def known_endstats(ledger: pa.Table) -> list[str]:
    """Endstats files already stored that count (the ledger lists them like round files):
    :func:`~etl_duck.domain.endstats.stored_endstats`, less those stored empty (0 bytes,
    awaiting their content: nothing to read)."""
    import pyarrow.compute as pc

    if ledger.num_rows:
        ledger = ledger.filter(pc.not_equal(ledger["status"], "empty"))
    return [str(n) for n in stored_endstats(ledger).to_pylist()]


def touched_rounds(
    endstats: Iterable[str], index: pa.Table, new: Mapping[str, RoundTime]
) -> set[str]:
    """The round files the new endstats files pair with, among the committed rounds
    (``index``, the round index) and this batch's (``new``): their sessions are rebuilt to
    take the endstats rows in. Only index rows near the endstats times are read."""
    import pyarrow.compute as pc

    names = list(endstats)
    if not names:
        return set()
    times = [parse_endstats_name(n).end_time for n in names]
    rounds: dict[str, datetime] = {n: rt.end_time for n, rt in new.items()}
    if index.num_rows:
        near = pc.and_(
            pc.greater_equal(index["end_time"], pa.scalar(min(times) - _WINDOW, pa.timestamp("s"))),
            pc.less_equal(index["end_time"], pa.scalar(max(times) + _WINDOW, pa.timestamp("s"))),
        )
        hits = index.filter(near)
        for n, end in zip(hits["file_name"].to_pylist(), hits["end_time"].to_pylist(), strict=True):
            rounds.setdefault(str(n), end)
    candidates = []
    for name, end in rounds.items():
        f = parse_file_name(name)
        candidates.append((name, end, f.map_name, f.round_number))
    out: set[str] = set()
    for es_name in names:
        paired = pair_endstats(parse_endstats_name(es_name), candidates)
        if paired is not None:
            out.add(paired)
    return out


def select_for(sessions: Sequence[Session], names: Iterable[str]) -> list[str]:
    """The endstats files whose time lies within one of ``sessions`` (±60 s): those a
    session date's build reads (pairing then picks the exact round)."""
    spans = [(s.start_time - _WINDOW, s.end_time + _WINDOW) for s in sessions]
    out = []
    for name in names:
        t = parse_endstats_name(name).end_time
        if any(lo <= t <= hi for lo, hi in spans):
            out.append(name)
    return sorted(out)


def _name_index(es: Endstats, rf: RoundFile) -> dict[str, str | None]:
    """Name key (:func:`~etl_duck.domain.endstats.name_key`) → GUID for one endstats file
    and its round: the file's own VS_HEADER lines first (the name as the writer cleaned it,
    with the GUID), then the round file's names, reduced as the writer reduces them (it drops
    every byte outside 0x20–0x7E, so ``vïd`` there is ``vd`` here). None where two GUIDs
    share a key, in either source or between them: no name is ever given a wrong GUID."""
    guids: dict[str, set[str]] = {}
    for _, name, guid in es.headers:
        guids.setdefault(name_key(name), set()).add(guid)
    for p in rf.players:
        guids.setdefault(name_key(p.name), set()).add(p.guid)
    for guid, name in rf.rejected_players:  # a player whose line was refused still plays
        if name:
            guids.setdefault(name_key(name), set()).add(guid)
    return {key: next(iter(g)) if len(g) == 1 else None for key, g in guids.items()}


def build_endstats(
    files: Sequence[tuple[str, bytes]],
    rounds_rows: Sequence[Mapping[str, Any]],
    parsed: Mapping[str, RoundFile],
) -> dict[str, pa.Table]:
    """The endstats rows of one session date: each file paired with its round among
    ``rounds_rows`` (the date's `rounds` rows) and its names matched to GUIDs through that
    round's stats file. A file without its round, or one that cannot be read (it is
    quarantined at ingest), adds no rows."""
    candidates = [
        (r["file_name"], r["end_time"], r["map_name"], int(r["round_number"])) for r in rounds_rows
    ]
    by_file = {r["file_name"]: r for r in rounds_rows}
    claimed: dict[str, tuple[float, str]] = {}  # round → (distance, endstats file)
    read: dict[str, Endstats] = {}
    for name, data in files:
        try:
            es = parse_endstats(data, name)
        except ParseError:
            continue
        paired = pair_endstats(es.file, candidates)
        if paired is None:
            continue
        distance = abs((by_file[paired]["end_time"] - es.file.end_time).total_seconds())
        if paired not in claimed or (distance, name) < claimed[paired]:
            claimed[paired] = (distance, name)  # two files for one round: the nearest
        read[name] = es
    awards: list[dict[str, Any]] = []
    versus: list[dict[str, Any]] = []
    for round_file, (_, name) in sorted(claimed.items()):
        es, rnd = read[name], by_file[round_file]
        names = _name_index(es, parsed[round_file])
        head = {
            "round_id": rnd["round_id"],
            "match_id": rnd["match_id"],
            "session_id": rnd["session_id"],
            "map_name": rnd["map_name"],
            "round_number": rnd["round_number"],
            "end_time": rnd["end_time"],
            "file_name": name,
            "counted": rnd["counted"],
        }
        for a in es.awards:
            awards.append(
                {**head, "line_no": a.line, "award": a.award, "name": a.player,
                 "guid": names.get(name_key(a.player)), "value": a.value,
                 "unit": a.unit, "value_text": a.text}
            )  # fmt: skip
        for v in es.versus:
            versus.append(
                {**head, "line_no": v.line, "guid": v.subject_guid, "name": v.subject,
                 "opponent_guid": names.get(name_key(v.opponent)),
                 "opponent_name": v.opponent, "kills": v.kills, "deaths": v.deaths}
            )  # fmt: skip
    return {
        "endstats_awards": table_from_rows(awards, ENDSTATS_AWARDS_SCHEMA),
        "endstats_versus": table_from_rows(versus, ENDSTATS_VERSUS_SCHEMA),
    }
