"""Pair each round 2 with its round 1 and turn round-2 files into ROUND-ONLY values.

Rules (STATS_FORMAT.md §5): CUM fields are R2 − R1, ROUND fields are already round-only,
RATIO fields are recomputed. Which field is which lives in :mod:`etl_duck.domain.fields` — this
module only applies that table.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from etl_duck.domain.fields import (
    DERIVED_TOTALS,
    EXTENDED_FIELDS,
    RESET_SENTINELS,
    Scope,
)
from etl_duck.domain.parse import (
    FileStatus,
    PlayerLine,
    RoundFile,
    is_bot_guid,
    timeless_round_time,
)
from etl_duck.domain.sessions import clock_gap

#: Slack added to round 2's own length when looking back for its round 1 (§5.3).
PAIR_SLACK = timedelta(minutes=15)
#: How far a player's time played (X22, written in tenths of a minute: 6 s steps) may pass
#: the round's length in a file that holds that round alone (the 92 real round 1s: ≤ 3 s).
STANDALONE_SLACK_S = 10
#: Two stats scripts save the same round "seconds apart" (§7): files of one map and round
#: label this close are one round written twice.
TWIN_GAP = timedelta(seconds=60)
#: How far a player's time played (X22) must pass the wall-clock time since a round 1 ended
#: to prove his counters ran before it ended (X22: 6 s steps; the writer saves 3 s late)
CARRIED_SLACK = timedelta(seconds=60)


class RowKind(StrEnum):
    """How a player's round-only row was obtained."""

    R1 = "r1"  # a round-1 line: already round-only
    R2_DIFF = "r2_diff"  # R2 − R1 for CUM fields
    R2_ONLY = "r2_only"  # joined in round 2: his counters started at 0, values are round-only
    R2_RESET = "r2_reset"  # counters were reset by a reconnect (§5.6): raw R2 values, flagged
    ORPHAN_R2 = "orphan_r2"  # no round 1 to subtract: values stay cumulative, never counted
    #: a round 2 with no round 1 whose values hold none (a gametype other than stopwatch
    #: labels every round 2, §1.3): the round's own, counted
    STANDALONE = "standalone"
    #: his round-1 line is missing (rejected, or lost to a cut file): the round-2 line is
    #: cumulative and cannot be differenced, never counted
    R1_REJECTED = "r1_rejected"
    INTERRUPTED = "interrupted"  # shutdown-path file: label unreliable, never counted
    #: a second, older stats script's copy of a round (``Pairing.second_writer``): as
    #: written, never counted
    SECOND_WRITER = "second_writer"


WeaponGroups = dict[int, tuple[int, int, int, int, int]]
Values = dict[str, int | float | None]


@dataclass(slots=True)
class PlayerRound:
    """One player's ROUND-ONLY stats for one round."""

    line: PlayerLine  # the line as written in this round's file
    kind: RowKind
    values: Values
    weapons: WeaponGroups
    paired_line_no: int | None = None  # the R1 line subtracted, if any

    @property
    def guid(self) -> str:
        return self.line.guid


@dataclass(slots=True)
class Pairing:
    """Result of pairing a set of rounds: which R1 each R2 continues."""

    round1_of: dict[str, str] = field(default_factory=dict)  # R2 file name → R1 file name
    orphans: set[str] = field(default_factory=set)  # R2 file names without an R1
    #: R2 file names without an R1 whose counters hold no round 1 (see ``_standalone``)
    standalone: set[str] = field(default_factory=set)
    #: files labelled round 1 that are an interrupted round 2 (an older writer's shutdown
    #: path, §7): R1 + part of R2, cumulative; never counted, never anyone's round 1
    interrupted: set[str] = field(default_factory=set)
    #: copies of a round written by a second, older stats script loaded beside the current
    #: one (§7): never paired, never counted (see ``_second_writer_files``)
    second_writer: set[str] = field(default_factory=set)


def player_key(line: PlayerLine, duplicated: set[str]) -> str:
    """Identity used to pair lines: the GUID, plus the clean name where the GUID is shared
    (an omni-bot's `OMNIBOT0`…`OMNIBOT6` is its client slot's tens; 8-char prefixes can
    collide)."""
    return f"{line.guid}:{line.name}" if line.guid in duplicated else line.guid


def _duplicated_guids(*rounds: RoundFile) -> set[str]:
    """GUIDs two lines of one file share (a rejected line's too: it was someone), and every
    omni-bot's: a bot's GUID is shared by design, so one bot in round 1 and another of the
    same ten slots in round 2 are two bots, not one to difference."""
    dup: set[str] = set()
    for r in rounds:
        seen: set[str] = set()
        for guid in [*(p.guid for p in r.players), *(g for g, _ in r.rejected_players)]:
            if guid in seen or is_bot_guid(guid):
                dup.add(guid)
            seen.add(guid)
    return dup


def _missing_in(round1: RoundFile, dup: set[str]) -> set[str]:
    """Player keys of round 1's rejected (or cut) lines; a shared GUID whose name could
    not be read stands for every player of that GUID."""
    return {f"{g}:{n}" if g in dup and n else g for g, n in round1.rejected_players}


def pair_rounds(rounds: Iterable[RoundFile], timezone: str | None = None) -> Pairing:
    """Find the round 1 of every round 2 (§5.3, with the recommended checks).

    Candidates: same map, labelled round 1, not interrupted, earlier than the R2 and at most
    (R2 duration + 15 min) before it, whose H7 (the clock it set) equals the R2's H6. The
    latest candidate wins; an R1 claimed by an earlier R2 is not taken twice.

    An older writer's round 2 with the clock artefact (H7 > H6, ``_clock_artefact``) is
    either a complete round 2 (the engine reset the cvar; §2: ignore H7) or a round 1 cut
    by the shutdown path (§7.1). It is the former when it continues its round 1: the
    candidate above, whose players' time played it carries (``_continues``); otherwise it
    is interrupted (never an orphan, never standalone). A file the header shows was cut
    (c0rnp0rn8's shutdown path) but that is partial, not interrupted, is interrupted too.

    ``timezone`` (the server's, IANA): file names are local wall-clock times, so in the
    hour the clocks go back a round 2 can be named before its round 1 (§1.2); such an
    orphan is paired as the later of the hour's two readings.
    """
    clock = clock_gap(timezone)  # the hours a clock changes: a real evening's gap
    usable = [r for r in rounds if r.header is not None and r.status is not FileStatus.EMPTY]
    usable.sort(key=lambda r: (r.file.end_time, r.file.name))
    result = Pairing(second_writer=_second_writer_files(usable))
    usable = [r for r in usable if r.file.name not in result.second_writer]
    claimed: set[str] = set()
    r1_by_map: dict[str, list[RoundFile]] = {}
    for r in usable:
        assert r.header is not None
        if r.status is FileStatus.INTERRUPTED:
            continue
        if r.header.shutdown_path:  # a cut shutdown-path file: partial, still never paired
            result.interrupted.add(r.file.name)
            continue
        if r.file.round_number == 1:
            earlier = r1_by_map.get(r.header.map_name, [])
            if earlier and _round2_saved_as_round1(r, earlier[-1], claimed):
                result.interrupted.add(r.file.name)
                continue
            r1_by_map.setdefault(r.header.map_name, []).append(r)
            continue
        window = _window(r)
        chosen: RoundFile | None = None
        for cand in reversed(r1_by_map.get(r.header.map_name, [])):
            assert cand.header is not None
            gap = clock(cand.file.end_time, r.file.end_time)
            if gap <= timedelta(0):
                continue
            if gap > window:
                break
            if cand.file.name in claimed:
                break  # the latest R1 already has its R2: an older one is not ours either
            if _round2_of(r, cand):
                chosen = cand
            break  # only the latest R1 in the window can be ours
        if chosen is None:
            result.orphans.add(r.file.name)
        else:
            claimed.add(chosen.file.name)
            result.round1_of[r.file.name] = chosen.file.name
    if timezone and result.orphans:
        _pair_across_the_clock_change(result, claimed, usable, r1_by_map, clock)
    for r in usable:
        if r.file.name not in result.orphans:
            continue
        if _clock_artefact(r):  # no round 1 it continues: a round 1 cut and saved as 2
            result.orphans.discard(r.file.name)
            result.interrupted.add(r.file.name)
        elif _standalone(r):
            result.orphans.discard(r.file.name)
            result.standalone.add(r.file.name)
    return result


def _round2_of(r2: RoundFile, r1: RoundFile) -> bool:
    """``r2`` plays the clock ``r1`` set (R2's H6 = R1's H7, §5.3); a round 2 with the
    clock artefact must also carry ``r1``'s counters (``_continues``)."""
    assert r1.header is not None and r2.header is not None
    if r1.header.next_time_limit_s != r2.header.time_limit_s:
        return False
    return not _clock_artefact(r2) or _continues(r2, r1)


def _clock_artefact(r: RoundFile) -> bool:
    """An older writer's (no H8) round 2 whose H7 passes H6: the nextTimeLimit artefact
    (§2), written in complete round 2s and in round 1s cut by the shutdown path (§7.1)."""
    h = r.header
    assert h is not None
    return h.play_time_ms is None and h.time_limit_artefact


def _continues(r2: RoundFile, r1: RoundFile) -> bool:
    """Most players in both files have at least the time played (X22) in ``r2`` they had in
    ``r1``: a round 2's counters are round 1's plus its own (§5.1). A round 1 cut by the
    shutdown path started from 0 after the map change or restart before it (a cut after a
    few minutes: "X22 far below H6"), and the time of a held round 1 it follows is a full
    limit. A player who reconnected in the break (§5.6) is outvoted."""
    dup = _duplicated_guids(r2, r1)
    before = {player_key(p, dup): p for p in r1.players}
    carried = dropped = 0
    for line in r2.players:
        first = before.get(player_key(line, dup))
        if first is None:
            continue  # joined in round 2: says nothing
        t2, t1 = line.values["time_played_s"], first.values["time_played_s"]
        if isinstance(t2, int) and isinstance(t1, int) and t2 >= t1:
            carried += 1
        else:
            dropped += 1
    return carried > dropped


def _second_writer_files(rounds: list[RoundFile]) -> set[str]:
    """Files of a second stats script loaded beside the current one (§7 "Two writers
    loaded at once": two files for the same map and round, seconds apart, in different
    layouts): the older layout's file of each such pair, so the newer one alone is paired
    and counted. ``rounds`` sorted by end time."""
    by_round: dict[tuple[str, int], list[RoundFile]] = {}
    for r in rounds:
        by_round.setdefault((r.file.map_name, r.file.round_number), []).append(r)
    older: set[str] = set()
    for group in by_round.values():
        for a, b in itertools.pairwise(group):
            if b.file.end_time - a.file.end_time > TWIN_GAP:
                continue
            wa, wb = _writer(a), _writer(b)
            if wa != wb:
                older.add(a.file.name if wa < wb else b.file.name)
    return older


def _writer(r: RoundFile) -> tuple[int, int]:
    """How new the writer of a file is: its header's field count (c0rnp0rn8 added H8),
    then its player lines' layout (33 < 36 < 37 < 38)."""
    assert r.header is not None
    return r.header.field_count, r.layout or 0


def _standalone(r: RoundFile) -> bool:
    """A round 2 without a round 1 that holds no round 1: every player's time played fits
    in the round itself (its H8 length and pauses; without H8, its limit H6, filled at
    least half).

    A gametype other than stopwatch labels every round ``round-2`` and its counters are the
    round's own (§1.3; §7: "treat each file as a standalone round; do not difference").
    A stopwatch round 2's counters carry round 1, which lasted the clock this round plays
    (its H6): anyone who played both rounds has more time than the round — in every round
    2 of the real files (the ten orphans too) a player is at least 79 s past H6. A round 2 whose
    players all joined in it (his counters start at 0 on connecting, §5.5) is its own
    too, whatever the gametype."""
    h = r.header
    assert h is not None
    if not r.players or h.time_limit_s <= 0:
        return False
    longest = max(int(p.values["time_played_s"] or 0) for p in r.players)
    if (measured := h.measured_play_ms) is not None:
        # X22 counts paused time, H8 does not: the round's own counters hold H8 plus its
        # pauses; a stopwatch round 2's also hold round 1, which lasted this round's clock
        # (H6), so at least H8 + H6. Half way between: pauses up to half the limit stay
        # the round's own (a paused round of its own is not an orphan).
        own = -(-measured // 1000)
        return 0 < longest <= own + max(STANDALONE_SLACK_S, h.time_limit_s // 2)
    # an older writer (no H8) marks its shutdown path only in part: a round 1 cut early and
    # saved as round 2 (the writer's H7 fallback not applied) has "max X22 far below H6"
    # (§7) and fits its limit too — such a file stays out unless its players' time fills
    # at least half the limit. Without H8 a round's pauses cannot be told from a short round
    # 1 carried: a round of its own paused past the slack stays an orphan (not counted).
    return h.time_limit_s / 2 <= longest <= h.time_limit_s + STANDALONE_SLACK_S


def _window(r: RoundFile) -> timedelta:
    """How long before a round 2 its round 1 may end: the R2's length + the slack."""
    assert r.header is not None
    ms = r.header.measured_play_ms
    return timedelta(milliseconds=ms if ms else r.header.time_limit_s * 1000) + PAIR_SLACK


def _pair_across_the_clock_change(
    result: Pairing,
    claimed: set[str],
    usable: list[RoundFile],
    r1_by_map: dict[str, list[RoundFile]],
    clock: Callable[[datetime, datetime], timedelta],
) -> None:
    """Orphan round 2s named before their round 1 by the wall clock (the repeated autumn
    hour, read as its second pass): the round 1 named after it that ended before it on
    the server's clock, within the window, the latest such, with the clock it plays."""
    by_name = {r.file.name: r for r in usable}
    for name in sorted(result.orphans, key=lambda n: (by_name[n].file.end_time, n)):
        r = by_name[name]
        assert r.header is not None
        fits = [
            (gap, c)
            for c in r1_by_map.get(r.header.map_name, [])
            if c.file.end_time > r.file.end_time  # the first pass never looked at these
            and timedelta(0) < (gap := clock(c.file.end_time, r.file.end_time)) <= _window(r)
        ]
        if not fits:
            continue
        _, cand = min(fits, key=lambda gc: gc[0])
        assert cand.header is not None
        if cand.file.name in claimed or not _round2_of(r, cand):
            continue
        claimed.add(cand.file.name)
        result.orphans.discard(name)
        result.round1_of[name] = cand.file.name


def _round2_saved_as_round1(r: RoundFile, before: RoundFile, claimed: set[str]) -> bool:
    """An older writer's shutdown path saves an interrupted round 2 as ``round-1`` (§7):
    right after a round 1 of the same map that no round 2 has continued, its clock (H6)
    is the one that round 1 set (H7).

    A completed round 1 sets a clock of its own (H7 < H6): that is enough. After a hold
    H7 = H6, which a replayed round 1 also has; there the file must also hold round 1's
    time (§7: "whose players' X22 exceed H6"), told by the wall clock, not by H6: a
    player's X22 cannot pass the time since his counters started, so time played beyond
    the time since ``before`` ended (+ ``CARRIED_SLACK``) started before it ended. X22
    past H6 alone is no sign: X22 counts paused time, and a paused round 1 has it."""
    h, b = r.header, before.header
    assert h is not None and b is not None
    if before.file.name in claimed or h.time_limit_s != b.next_time_limit_s:
        return False
    gap = r.file.end_time - before.file.end_time
    if not timedelta(0) < gap <= timedelta(seconds=h.time_limit_s) + PAIR_SLACK:
        return False
    if b.attackers_won and 0 < b.next_time_limit_s < b.time_limit_s:
        return True
    if b.next_time_limit_s != b.time_limit_s or b.time_limit_s <= 0 or not r.players:
        return False
    longest = max(int(p.values["time_played_s"] or 0) for p in r.players)
    return timedelta(seconds=longest) > gap + CARRIED_SLACK


def _round_values(line: PlayerLine, given: int | None = None) -> tuple[Values, WeaponGroups]:
    """A line's values as a round's own; ``given``: the time played a round without any
    (:func:`timeless_round_time`) gives each player on a side."""
    values = dict(_given_time(line, given).values)
    _recompute_ratios(values, line)
    return values, dict(line.weapons)


def _given_time(line: PlayerLine, given: int | None) -> PlayerLine:
    """``line`` with the time played its timeless round 1 gives it (a player on a side)."""
    if given is None or line.team not in (1, 2):
        return line
    return dataclasses.replace(line, values={**line.values, "time_played_s": given})


def _recompute_ratios(values: Values, line2: PlayerLine, line1: PlayerLine | None = None) -> None:
    """Recompute the RATIO fields from round-only absolutes (§5.1); never difference them."""
    played = values.get("time_played_s")
    played_s = int(played) if isinstance(played, int) else 0
    dead = values.get("time_dead_s")
    if isinstance(dead, int) and dead > played_s:
        # pre-c0rnp0rn8 writers re-add the running death every snapshot (§3.6): cap it
        values["time_dead_s"] = dead = played_s
    values["time_dead_pct"] = (
        round(100 * dead / played_s, 1) if played_s > 0 and isinstance(dead, int) else None
    )
    if line1 is not None:
        p2, p1 = line2.values["time_alive_pct"], line1.values["time_alive_pct"]
        t2, t1 = line2.values["time_played_s"], line1.values["time_played_s"]
        if played_s > 0 and None not in (p2, p1, t2, t1):
            assert isinstance(p2, float) and isinstance(p1, float)
            assert isinstance(t2, int) and isinstance(t1, int)
            alive = (p2 * t2 - p1 * t1) / played_s
            values["time_alive_pct"] = round(min(100.0, max(0.0, alive)), 1)
        else:
            values["time_alive_pct"] = None
        received, deaths = values["damage_received"], values["deaths"]
        assert isinstance(received, int) and isinstance(deaths, int)
        meat = (received / deaths if deaths else received + 1) / 130
        values["tank_meatshield"] = round(meat, 1) if received > 1000 and meat > 3 else 0.0
        values["kd_written"] = None  # X26 is CUM-based (§3.5): K/D comes from the sums


def difference(
    line2: PlayerLine, line1: PlayerLine, round1_given: int | None = None
) -> tuple[RowKind, Values, WeaponGroups]:
    """Round-only values of a round-2 line given the same player's round-1 line;
    ``round1_given``: the time played his timeless round 1 gave him (subtracted, as his
    round-1 row holds it; the reset test reads the file's own values)."""
    v2, v1 = line2.values, line1.values
    went_down = any(
        isinstance(v2[f], int | float) and isinstance(v1[f], int | float) and v2[f] < v1[f]  # type: ignore[operator]
        for f in RESET_SENTINELS
    )
    if went_down or line2.rounds_counter <= line1.rounds_counter:
        # A reconnect restarted his counters (§5.6): the R2 line is already round-only.
        raw_values, raw_weapons = _round_values(line2)
        return RowKind.R2_RESET, raw_values, raw_weapons
    line1 = _given_time(line1, round1_given)
    v1 = line1.values
    values: Values = {}
    for spec in EXTENDED_FIELDS:
        a, b = v2[spec.name], v1[spec.name]
        if spec.scope is Scope.CUM and isinstance(a, int) and isinstance(b, int):
            values[spec.name] = max(0, a - b)
        else:
            values[spec.name] = a  # ROUND: as written; RATIO/IGNORE: recomputed below
    weapons: WeaponGroups = {}
    for wid, g2 in line2.weapons.items():
        g1 = line1.weapons.get(wid, (0, 0, 0, 0, 0))
        d = tuple(max(0, x - y) for x, y in zip(g2, g1, strict=True))
        if any(d[:4]):
            weapons[wid] = (d[0], d[1], d[2], d[3], d[4])
    for name in DERIVED_TOTALS:
        # Totals are differenced as totals (R1 + R2-only = R2 holds for them); a single
        # weapon group that went down (seen once in real data: knife shots 4 → 2) is clamped
        # at 0 in `weapons`, so Σ weapons can exceed the total by that amount.
        a, b = v2[name], v1[name]
        assert isinstance(a, int) and isinstance(b, int)
        values[name] = max(0, a - b)
    if line2.layout < 38:
        values["bullets_fired"] = values["shots"]
    _recompute_ratios(values, line2, line1)
    return RowKind.R2_DIFF, values, weapons


def round_only_rows(
    round_file: RoundFile,
    round1: RoundFile | None,
    *,
    orphan: bool = False,
    interrupted: bool = False,
    second_writer: bool = False,
) -> list[PlayerRound]:
    """Every player of ``round_file`` as round-only rows.

    ``second_writer``: a second, older stats script's copy (``Pairing.second_writer``),
    as written. ``round1`` is its paired round 1 (round-2 files only). ``orphan`` marks a round 2 that
    has none: its values stay as written (cumulative) and its rows say so. A round 2 with
    no round 1 that is not an orphan is standalone (``Pairing.standalone``): its values are
    the round's own. ``interrupted`` marks a file the pairing found to be an interrupted
    round (``Pairing.interrupted``).
    """
    rows: list[PlayerRound] = []
    if second_writer:
        for line in round_file.players:
            values, weapons = _round_values(line)
            rows.append(PlayerRound(line, RowKind.SECOND_WRITER, values, weapons))
        return rows
    if round_file.status is FileStatus.INTERRUPTED or interrupted:
        for line in round_file.players:
            values, weapons = _round_values(line)
            rows.append(PlayerRound(line, RowKind.INTERRUPTED, values, weapons))
        return rows
    if round_file.file.round_number == 1 or (round1 is None and not orphan):
        kind = RowKind.R1 if round_file.file.round_number == 1 else RowKind.STANDALONE
        given = timeless_round_time(round_file)
        for line in round_file.players:
            values, weapons = _round_values(line, given)
            rows.append(PlayerRound(line, kind, values, weapons))
        return rows
    if round1 is None:
        for line in round_file.players:
            values, weapons = _round_values(line)
            rows.append(PlayerRound(line, RowKind.ORPHAN_R2, values, weapons))
        return rows
    dup = _duplicated_guids(round_file, round1)
    by_key = {player_key(p, dup): p for p in round1.players}
    round1_given = timeless_round_time(round1)
    missing = _missing_in(round1, dup)
    for line in round_file.players:
        key = player_key(line, dup)
        line1 = by_key.get(key)
        if line1 is None:
            values, weapons = _round_values(line)
            # joined in round 2 (counters from 0) — unless his round-1 line is missing: it
            # was rejected, or the file was cut before it (every line after a cut is gone)
            lost = round1.status is FileStatus.PARTIAL or key in missing or line.guid in missing
            kind = RowKind.R1_REJECTED if lost else RowKind.R2_ONLY
            rows.append(PlayerRound(line, kind, values, weapons))
        else:
            kind, values, weapons = difference(line, line1, round1_given)
            rows.append(PlayerRound(line, kind, values, weapons, line1.line_no))
    return rows


def round_only_all(
    rounds: Sequence[RoundFile], timezone: str | None = None
) -> dict[str, list[PlayerRound]]:
    """Pair a set of rounds and return every file's round-only rows, by file name."""
    pairing = pair_rounds(rounds, timezone)
    by_name = {r.file.name: r for r in rounds}
    out: dict[str, list[PlayerRound]] = {}
    for r in rounds:
        if r.header is None:
            continue
        r1_name = pairing.round1_of.get(r.file.name)
        out[r.file.name] = round_only_rows(
            r,
            by_name[r1_name] if r1_name else None,
            orphan=r.file.name in pairing.orphans,
            interrupted=r.file.name in pairing.interrupted,
            second_writer=r.file.name in pairing.second_writer,
        )
    return out


__all__ = [
    "Pairing",
    "PlayerRound",
    "RowKind",
    "difference",
    "pair_rounds",
    "player_key",
    "round_only_all",
    "round_only_rows",
]
