"""What counts: the reasons a round or a player's row is excluded from aggregates
(DECISIONS.md "What counts"). Pure: rounds in, reasons out."""

from __future__ import annotations

import itertools
from datetime import timedelta

from etl_duck.domain.pairing import PlayerRound, pair_rounds
from etl_duck.domain.parse import FileStatus, RoundFile

RESTART_WINDOW = timedelta(minutes=15)


def round_reasons(
    rounds: list[RoundFile], filler_maps: tuple[str, ...]
) -> tuple[dict[str, str | None], dict[str, str]]:
    """Per file: why the round does not count (None = it counts); and R2 → R1 pairs."""
    pairing = pair_rounds(rounds)
    paired_r1 = set(pairing.round1_of.values())
    reasons: dict[str, str | None] = {}
    by_map: dict[str, list[RoundFile]] = {}
    for r in sorted(rounds, key=lambda x: (x.file.end_time, x.file.name)):
        if r.file.round_number == 1 and r.status is not FileStatus.INTERRUPTED:
            by_map.setdefault(r.file.map_name, []).append(r)
    restarted: set[str] = set()
    for r1s in by_map.values():
        for a, b in itertools.pairwise(r1s):
            if a.file.name not in paired_r1 and b.file.end_time - a.file.end_time <= RESTART_WINDOW:
                restarted.add(a.file.name)
    for r in rounds:
        players = [p for p in r.players if p.team in (1, 2)]
        bots = sum(1 for p in players if p.is_bot)
        reason: str | None = None
        if r.status is FileStatus.INTERRUPTED:
            reason = "interrupted"
        elif r.status is FileStatus.PARTIAL:
            reason = "partial"
        elif r.file.name in pairing.orphans:
            reason = "orphan_r2"
        elif r.file.name in restarted:
            reason = "restart"
        elif r.file.map_name in filler_maps:
            reason = "filler_map"
        elif bots and 2 * bots >= len(players):
            reason = "bot_majority"
        else:
            r1 = pairing.round1_of.get(r.file.name)
            if r1 is not None and r1 in {
                x.file.name for x in rounds if x.status is FileStatus.PARTIAL
            }:
                reason = "partial_round1"
        reasons[r.file.name] = reason
    return reasons, pairing.round1_of


def player_reason(row: PlayerRound, round_reason: str | None) -> str | None:
    if round_reason is not None:
        return round_reason
    if row.line.is_bot:
        return "bot"
    if row.line.team not in (1, 2):
        return "spectator"
    return None
