"""What counts: the reasons a round or a player's row is excluded from aggregates
(DECISIONS.md "What counts"). Pure: rounds in, reasons out."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from etl_duck.domain.pairing import TWIN_GAP, PlayerRound, RowKind, pair_rounds
from etl_duck.domain.parse import FileStatus, RoundFile, header_duration
from etl_duck.domain.sessions import round_start

#: A round 1 is a restart (abandoned, replayed) when another round 1 of the same map
#: STARTS within this long after it ENDED, with no round 2 of that map in between. Measured
#: on the round's own timeline (start = file time − header duration − 3 s), so a replay of
#: any length is caught; the gap covers a map restart, warm-up and in-round pauses.
RESTART_GAP = timedelta(minutes=10)

#: … and only when the replay starts sooner than round 1 could have been followed by its
#: round 2 (a round 2 plays at most round 1's time, H6 = round 1's H7) and the breaks before
#: and after it: a gap that holds a whole round 2 is a round 2 whose file was lost, and a
#: round 1 without its round 2 is a valid round (STATS_FORMAT §7). The two breaks in the
#: real files (round 1 → its round 2, round 2 → the next round 1) add up to 62 s or more
#: (mostly 75–120 s); the shortest is taken, so a round 2 as long as its round 1 is never
#: missed (DECISIONS.md "What counts")
INTERMISSIONS = timedelta(seconds=60)

#: reasons of rounds that were no game at all: nobody played (a header-only file) or
#: players were on one side only (DECISIONS.md "Rounds that are no game"). They never
#: link rounds into a session (the round's head, ``parse.two_sided``); an evening's times,
#: its round list and the bot's posts leave them out like an idle server's rounds
NOT_A_GAME = frozenset({"no_players", "one_side"})


def restarted_round1s(
    rounds: list[RoundFile], paired_r1: set[str], ignored: set[str] | None = None
) -> set[str]:
    """File names of round 1s that were abandoned and replayed (see RESTART_GAP and
    INTERMISSIONS);
    ``ignored``: files the pairing found to be interrupted rounds or a second writer's
    copies (neither a replay nor replayed). A round that was no game (header only, one
    side: ``RoundFile.two_sided``) neither replays a round 1 nor was one worth replaying."""
    by_map: dict[str, list[RoundFile]] = {}
    r2_ends: dict[str, list[RoundFile]] = {}
    for r in sorted(rounds, key=lambda x: (x.file.end_time, x.file.name)):
        if r.status is FileStatus.INTERRUPTED or r.header is None or not r.two_sided:
            continue
        if ignored and r.file.name in ignored:
            continue
        if r.file.round_number == 1:
            by_map.setdefault(r.file.map_name, []).append(r)
        else:
            r2_ends.setdefault(r.file.map_name, []).append(r)
    restarted: set[str] = set()
    for map_name, r1s in by_map.items():
        for a, b in itertools.pairwise(r1s):
            if a.file.name in paired_r1:
                continue
            assert a.header is not None and b.header is not None
            b_start = round_start(b.file.end_time, header_duration(b.header), b.header.time_limit_s)
            if b_start - a.file.end_time > min(RESTART_GAP, _round2_fits(a)):
                continue
            between = any(
                a.file.end_time < r2.file.end_time < b.file.end_time
                for r2 in r2_ends.get(map_name, ())
            )
            if not between:
                restarted.add(a.file.name)
    return restarted


def _round2_fits(r1: RoundFile) -> timedelta:
    """The shortest gap after round 1 ``r1`` that could hold its round 2 played to the
    clock round 1 set (its played time; unknown: its limit) and the breaks around it."""
    assert r1.header is not None
    played = header_duration(r1.header)
    seconds = played if played is not None else float(r1.header.time_limit_s)
    return timedelta(seconds=seconds) + INTERMISSIONS


def round_reasons(
    rounds: list[RoundFile],
    filler_maps: tuple[str, ...],
    timezone: str | None = None,
    final: frozenset[str] = frozenset(),
) -> tuple[dict[str, str | None], dict[str, str]]:
    """Per file: why the round does not count (None = it counts); and R2 → R1 pairs
    (``timezone``: the server's, for the hour its clock goes back; see ``pair_rounds``;
    ``final``: cut files a later round of their server follows outside these rounds)."""
    pairing = pair_rounds(rounds, timezone)
    paired_r1 = set(pairing.round1_of.values())
    reasons: dict[str, str | None] = {}
    restarted = restarted_round1s(rounds, paired_r1, pairing.interrupted | pairing.second_writer)
    for r in rounds:
        players = [p for p in r.players if p.team in (1, 2)]
        bots = sum(1 for p in players if p.is_bot)
        reason: str | None = None
        if not r.players and not r.rejected_players and r.status is not FileStatus.PARTIAL:
            # header only: a map that timed out with nobody playing (an idle server writes
            # one per map, all day; an empty one shut down writes one too): stored, never a
            # round of anyone's evening — the reason the grouping, the session times and
            # the bot go by (a header-only file is never cut: that is a ParseError)
            reason = "no_players"
        elif r.status is FileStatus.INTERRUPTED or r.file.name in pairing.interrupted:
            reason = "interrupted"
        elif r.file.name in pairing.second_writer:
            reason = "second_writer"  # the newer script's file of the same round counts
        elif (
            r.status is FileStatus.PARTIAL
            and r.file.name not in final
            and not any(ends_later(x.file.end_time, r.file.end_time) for x in rounds)
        ):
            # cut, maybe still being copied: re-fetched when it grows. Once a later round
            # exists the writer has moved on (it writes a file once, at the round's end), so
            # the complete lines count (§7; the cut line's player is missing from round 1,
            # see RowKind.R1_REJECTED). That is no proof the server's own file is cut (a
            # copy taken short looks the same): `status` keeps the file an open problem
            # until the whole file arrives or an admin accepts it (DECISIONS "Cut files")
            reason = "partial"
        elif not r.players and (r.rejected or r.rejected_players or r.status is FileStatus.PARTIAL):
            reason = "lines_rejected"  # every player line refused (a newer writer's) or cut
        elif r.file.name in pairing.orphans:
            reason = "orphan_r2"
        elif not r.two_sided:
            # players on one side only (or none with time): a player alone on the server, a
            # team waiting for opponents — no game, however long. Stored, never counted, and
            # like a header-only round it links no rounds into a session (its head says
            # so). After the reasons that shape a round's rows (interrupted, orphan, …):
            # those keep their rows; every one of them is uncounted too
            reason = "one_side"
        elif r.file.name in restarted:
            reason = "restart"
        elif r.file.map_name in filler_maps:
            reason = "filler_map"
        elif bots and 2 * bots >= len(players):
            reason = "bot_majority"
        reasons[r.file.name] = reason
    return reasons, pairing.round1_of


def ends_later(other_end: datetime, cut_end: datetime) -> bool:
    """A round ending at ``other_end`` is a later round than a cut file ending at
    ``cut_end`` (the writer has moved on: the cut is final) — not one within a minute,
    which may be a second stats script's copy of the same round (``TWIN_GAP``)."""
    return other_end > cut_end + TWIN_GAP


def player_reason(row: PlayerRound, round_reason: str | None) -> str | None:
    """Why a player's round-only row does not count (None = it counts)."""
    if round_reason is not None:
        return round_reason
    if row.kind is RowKind.R1_REJECTED:
        return "round1_line_rejected"
    if row.line.is_bot:
        return "bot"
    if row.line.team not in (1, 2) and not played_own_time(row):
        return "spectator"
    return None


def played_own_time(row: PlayerRound) -> bool:
    """The row holds time played of its own (X22, round-only: for a paired round 2 the
    differenced R2 − R1 time).

    P3 is the team at the LAST snapshot: a player who played on Axis/Allies and moved to
    spectator before the round ended is written with team 3, and his numbers of that round
    count for his own totals. A spectator without time of his own (one who spectated all of
    round 2: his carried-over counters give deltas of 0) stays out: his row would only add a
    round played. A counted row of team 3 is on no side: every per-team/side use of the
    ``team`` column (stopwatch score, sides, map results, the rating's map players, round
    posts) takes teams 1 and 2 only (DECISIONS.md "Spectators").
    """
    played = row.values.get("time_played_s")
    return isinstance(played, int | float) and played > 0
