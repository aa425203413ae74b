"""Round-2 pairing and differencing: fixtures (EXPECTED.md §1.1/§1.2) and the real set."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from etl_duck.domain.fields import CUM_FIELDS, ROUND_FIELDS
from etl_duck.domain.pairing import RowKind, difference, pair_rounds, round_only_all
from etl_duck.domain.parse import FileStatus, RoundFile, read_round_file
from tests.conftest import FIXTURES, REAL

R1 = read_round_file(FIXTURES / "2026-03-14-213512-supply-round-1.txt")
R2 = read_round_file(FIXTURES / "2026-03-14-214449-supply-round-2.txt")
R1_BYTES = (FIXTURES / R1.file.name).read_bytes()
R2_BYTES = (FIXTURES / R2.file.name).read_bytes()


def _rows() -> dict[str, dict[str, object]]:
    rows = round_only_all([R1, R2])[R2.file.name]
    return {r.guid: {"kind": r.kind, **r.values} for r in rows}


def test_fixture_pairs() -> None:
    p = pair_rounds([R2, R1])
    assert p.round1_of == {R2.file.name: R1.file.name} and not p.orphans


@pytest.mark.parametrize(
    ("guid", "expected"),
    [
        (
            "7A3E9B21",
            dict(
                kills=7, deaths=7, damage_given=1006, time_played_s=474, damage_received=1372,
                shots=182, hits=58, headshot_hits=9, self_kills=2, xp=83, headshot_kills=2,
                denied_playtime_s=100, time_dead_s=132, revives_given=5,
            ),
        ),
        (
            "E0A4B2C8",
            dict(
                kills=8, deaths=8, damage_given=1560, time_played_s=474, damage_received=1670,
                shots=257, hits=80, headshot_hits=9, self_kills=1, xp=77, headshot_kills=3,
                denied_playtime_s=99, time_dead_s=192, revives_given=2,
            ),
        ),
    ],
)  # fmt: skip
def test_required_round_only_values(guid: str, expected: dict[str, int]) -> None:
    row = _rows()[guid]
    assert row["kind"] is RowKind.R2_DIFF
    assert {k: row[k] for k in expected} == expected


def test_recomputed_ratios() -> None:
    rows = _rows()
    assert rows["7A3E9B21"]["time_alive_pct"] == pytest.approx(71.3, abs=0.15)
    assert rows["E0A4B2C8"]["time_alive_pct"] == pytest.approx(61.0, abs=0.15)
    assert rows["7A3E9B21"]["time_dead_pct"] == pytest.approx(100 * 132 / 474, abs=0.1)
    assert rows["7A3E9B21"]["kd_written"] is None  # K/D comes from the differenced sums


def test_other_players() -> None:
    rows = _rows()
    got = {
        g: (r["kills"], r["deaths"], r["damage_given"], r["time_played_s"]) for g, r in rows.items()
    }
    assert got["B7E21D04"] == (9, 10, 1672, 474)
    assert got["5C6D8E9F"] == (5, 10, 1228, 474)
    assert got["91D3F5A7"] == (11, 5, 1820, 474)
    assert rows["91D3F5A7"]["team_kills"] == 1
    assert got["D4F7092B"] == (8, 8, 1914, 474)
    assert rows["D4F7092B"]["kind"] is RowKind.R2_ONLY
    assert "2C8F6A13" not in rows  # left after R1: no R2 row, no error


def test_round_fields_are_not_subtracted() -> None:
    raven1 = next(p for p in R1.players if p.guid == "7A3E9B21")
    raven2 = next(p for p in R2.players if p.guid == "7A3E9B21")
    _, values, _ = difference(raven2, raven1)
    for f in ROUND_FIELDS:
        if f != "time_dead_s":  # capped at time played in old writers only
            assert values[f] == raven2.values[f], f


def test_reconnect_detected_by_counter_drop() -> None:
    raven1 = next(p for p in R1.players if p.guid == "7A3E9B21")
    raven2 = next(p for p in R2.players if p.guid == "7A3E9B21")
    lower = dataclasses.replace(raven2, values={**raven2.values, "kills": 1})
    kind, values, _ = difference(lower, raven1)
    assert kind is RowKind.R2_RESET and values["damage_given"] == raven2.values["damage_given"]


def test_reconnect_detected_by_rounds_counter() -> None:
    # counters all grew, but P2 did not: a reconnect in the R1→R2 break (§5.6)
    raven1 = next(p for p in R1.players if p.guid == "7A3E9B21")
    raven2 = next(p for p in R2.players if p.guid == "7A3E9B21")
    same = dataclasses.replace(raven2, rounds_counter=raven1.rounds_counter)
    kind, values, _ = difference(same, raven1)
    assert kind is RowKind.R2_RESET and values["kills"] == raven2.values["kills"]


def test_interrupted_file_is_never_paired() -> None:
    shut = read_round_file(FIXTURES / "2026-03-14-230004-etl_sp_delivery-round-2.txt")
    rows = round_only_all([shut])[shut.file.name]
    assert {r.kind for r in rows} == {RowKind.INTERRUPTED}
    assert shut.file.name not in pair_rounds([shut]).round1_of


def test_consistency_check_refuses_a_mismatched_clock() -> None:
    assert R2.header is not None
    other = dataclasses.replace(R2, header=dataclasses.replace(R2.header, time_limit_s=600))
    p = pair_rounds([R1, other])
    assert p.orphans == {R2.file.name}


def test_window_refuses_a_round1_too_long_before() -> None:
    late = dataclasses.replace(
        R2, file=dataclasses.replace(R2.file, end_time=R2.file.end_time.replace(hour=23))
    )
    assert pair_rounds([R1, late]).orphans == {R2.file.name}


# --------------------------------------------------------------------------- real set

REAL_ROUNDS = [read_round_file(p) for p in sorted(REAL.glob("*.txt"))]
REAL_ORPHANS = {
    "2024-05-09-200616-etl_sp_delivery-round-2.txt",
    "2024-08-13-231656-sw_goldrush_te-round-2.txt",
    "2024-09-12-174949-supply-round-2.txt",
    "2025-01-06-221847-supply-round-2.txt",
    "2025-01-10-221224-etl_adlernest-round-2.txt",
    "2025-05-05-214759-etl_adlernest-round-2.txt",
    "2025-05-22-225410-te_escape2-round-2.txt",
    "2025-08-21-215952-etl_adlernest-round-2.txt",
    "2025-09-23-215543-etl_sp_delivery-round-2.txt",
    "2025-10-12-220306-te_escape2-round-2.txt",
}


def test_real_round2s_pair_or_are_the_ten_orphans() -> None:
    p = pair_rounds(REAL_ROUNDS)
    r2 = {r.file.name for r in REAL_ROUNDS if r.file.round_number == 2}
    assert p.orphans == REAL_ORPHANS
    assert set(p.round1_of) == r2 - REAL_ORPHANS
    for r2name, r1name in p.round1_of.items():
        assert r1name.split("-round-")[0][18:] == r2name.split("-round-")[0][18:]  # same map
        assert r1name < r2name


def test_real_differences_are_never_negative_and_add_up() -> None:
    p = pair_rounds(REAL_ROUNDS)
    by_name = {r.file.name: r for r in REAL_ROUNDS}
    rows = round_only_all(REAL_ROUNDS)
    checked = 0
    for r2name, r1name in p.round1_of.items():
        r1 = {x.guid: x for x in by_name[r1name].players}
        for row in rows[r2name]:
            for f in CUM_FIELDS:
                v = row.values[f]
                assert v is None or v >= 0, (r2name, row.guid, f)
            if row.kind is RowKind.R2_DIFF:
                line1 = r1[row.guid]
                for f in CUM_FIELDS:
                    if f != "bullets_fired" or row.line.layout == 38:
                        assert line1.values[f] + row.values[f] == row.line.values[f], (r2name, f)  # type: ignore[operator]
                checked += 1
    assert checked > 150


# --------------------------------------------------------------------------- what a round 1 hides


def _without_last_weapon_value(data: bytes, guid: str) -> bytes:
    """``data`` with one value cut from ``guid``'s weapon groups: a line the parser rejects."""
    lines = data.split(b"\n")
    (i,) = [k for k, line in enumerate(lines) if line.startswith(guid.encode())]
    prefix, tab, tail = lines[i].partition(b"\t")
    lines[i] = prefix.rsplit(b" ", 2)[0] + b" " + tab + tail
    return b"\n".join(lines)


def test_a_rejected_round1_line_leaves_his_round2_uncounted_not_cumulative() -> None:
    """Raven's round-1 line is rejected: his round-2 line holds both rounds' counters and
    nothing to subtract. Taken as "joined in round 2" it counted 15 kills and 996 s where
    his round 2 had 7 and 474; it is now kept, flagged and not counted."""
    from etl_duck.domain.counting import player_reason, round_reasons
    from etl_duck.domain.parse import parse_bytes

    data = (FIXTURES / R1.file.name).read_bytes()
    damaged = parse_bytes(_without_last_weapon_value(data, "7A3E9B21"), R1.file.name)
    (err,) = damaged.rejected
    assert err.field == "P4 weapon groups" and [g for g, _ in damaged.rejected_players] == [
        "7A3E9B21"
    ]
    reasons, _ = round_reasons([damaged, R2], ())
    assert reasons[R2.file.name] is None  # the round still counts, without him
    rows = {r.guid: r for r in round_only_all([damaged, R2])[R2.file.name]}
    raven = rows["7A3E9B21"]
    assert raven.kind is RowKind.R1_REJECTED
    assert player_reason(raven, None) == "round1_line_rejected"
    assert rows["E0A4B2C8"].kind is RowKind.R2_DIFF  # the others are differenced as before
    assert rows["E0A4B2C8"].values["kills"] == 8
    assert player_reason(rows["E0A4B2C8"], None) is None


@pytest.mark.parametrize("stray", [b"\xc9\x9f", b"-x", b"  \x01"])
def test_a_round1_line_rejected_for_its_guid_still_names_the_player(stray: bytes) -> None:
    """Stray bytes after a GUID reject the line (P0 GUID); the rejected line must still
    name him, or his round-2 line (counters of both rounds) was counted as a joiner's:
    30 kills, 4,838 damage and 1,086 s where his round 2 had 10, 2,192 and 504."""
    from etl_duck.domain.parse import parse_bytes

    r1 = REAL / "2025-11-11-214627-supply-round-1.txt"
    r2 = read_round_file(REAL / "2025-11-11-215843-supply-round-2.txt")
    data = r1.read_bytes().replace(b"\nD8423F90\\", b"\nD8423F90" + stray + b"\\", 1)
    damaged = parse_bytes(data, r1.name)
    assert [e.field for e in damaged.rejected] == ["P0 GUID"]
    assert "D8423F90" in {g for g, _ in damaged.rejected_players}
    rows = {r.guid: r for r in round_only_all([damaged, r2])[r2.file.name]}
    assert rows["D8423F90"].kind is RowKind.R1_REJECTED
    assert {r.kind for g, r in rows.items() if g != "D8423F90"} <= {
        RowKind.R2_DIFF,
        RowKind.R2_ONLY,
        RowKind.R2_RESET,
    }


REAL_R1 = REAL / "2025-11-11-212628-etl_adlernest-round-1.txt"


def _ending_at(r: RoundFile, end: datetime, map_name: str) -> RoundFile:
    """``r`` as if its file were named for ``map_name``, ending at ``end``."""
    name = f"{end:%Y-%m-%d-%H%M%S}-{map_name}-round-{r.file.round_number}.txt"
    file = dataclasses.replace(r.file, name=name, map_name=map_name, end_time=end)
    return dataclasses.replace(r, file=file)


def _round2_saved_as_round1(minutes_after: int) -> tuple[str, bytes]:
    """An older writer's shutdown path: round 2 cut ~30 s in, saved as ``round-1`` — its
    clock (H6) is the one REAL_R1 set (H7), its players' counters are round 1's plus 30 s."""
    lines = REAL_R1.read_bytes().split(b"\n")
    head = lines[0].split(b"\\")
    head[6] = head[7]  # round 2 plays against round 1's time
    out = [b"\\".join(head)]
    for line in lines[1:-1]:
        prefix, _, tail = line.partition(b"\t")
        fields = tail.split(b"\t")
        fields[22] = b"%.1f" % (float(fields[22]) + 0.5)
        out.append(prefix + b"\t" + b"\t".join(fields))
    end = read_round_file(REAL_R1).file.end_time + timedelta(minutes=minutes_after)
    return f"{end:%Y-%m-%d-%H%M%S}-etl_adlernest-round-1.txt", b"\n".join(out) + b"\n"


def test_a_round2_saved_as_round1_is_interrupted_and_the_real_round1_still_pairs() -> None:
    """§7: "a round-1 file right after another R1 of the same map, whose H6 equals that
    R1's H7": R1 + part of R2, never counted, never a round 1. Before, it counted (every
    player's XP that of 30 s) and made the real round 1 a "restart"."""
    from etl_duck.domain.counting import round_reasons
    from etl_duck.domain.parse import parse_bytes

    real = read_round_file(REAL_R1)
    assert real.header is not None and real.header.attackers_won  # it set a clock: 6:51
    name, data = _round2_saved_as_round1(2)
    cut = parse_bytes(data, name)
    assert cut.status is FileStatus.OK  # nothing in the file alone gives it away
    reasons, _ = round_reasons([real, cut], ())
    assert reasons == {real.file.name: None, name: "interrupted"}
    assert {r.kind for r in round_only_all([real, cut])[name]} == {RowKind.INTERRUPTED}
    # the round 2 replayed after it pairs with the real round 1, not with the cut file
    assert R2.header is not None
    r2_end = real.file.end_time + timedelta(minutes=12)
    r2 = dataclasses.replace(
        _ending_at(R2, r2_end, "etl_adlernest"),
        header=dataclasses.replace(
            R2.header, map_name="etl_adlernest", time_limit_s=real.header.next_time_limit_s
        ),
    )
    pairing = pair_rounds([real, cut, r2])
    assert pairing.round1_of == {r2.file.name: real.file.name}
    assert pairing.interrupted == {name}


def test_a_round1_replayed_after_a_hold_is_a_restart_not_a_round2() -> None:
    """After a hold, round 1's H7 is its H6: a replayed round 1 (the same limit) has the
    same clock, so the rule must not take it for an interrupted round 2."""
    from etl_duck.domain.counting import round_reasons

    real = read_round_file(REAL_R1)
    assert real.header is not None
    held = dataclasses.replace(
        real,
        header=dataclasses.replace(
            real.header,
            winner_side=real.header.defender_side,
            next_time_limit_s=real.header.time_limit_s,
        ),
    )
    replay_end = real.file.end_time + timedelta(minutes=13)
    replay = _ending_at(held, replay_end, "etl_adlernest")
    assert not pair_rounds([held, replay]).interrupted
    reasons, _ = round_reasons([held, replay], ())
    assert reasons == {held.file.name: "restart", replay.file.name: None}


def test_a_round2_named_in_the_repeated_hour_pairs_with_its_round1(tmp_path: Path) -> None:
    """File names are the server's wall clock: on 2025-10-26 Berlin's 02:00-03:00 happens
    twice, so a round 2 ending at 03:04:37 summer time is named 02:04:37, before its round 1
    (02:55). It pairs as the hour's second reading (§1.2), in the lake too; without the
    server's zone, or on another day, the naive order stands (an orphan)."""
    from etl_duck.ingest.run import ingest_paths
    from tests.lakecheck import table_rows

    r1_name = "2025-10-26-025500-supply-round-1.txt"  # 02:55 CEST
    r2_name = "2025-10-26-020437-supply-round-2.txt"  # 03:04:37 CEST = 02:04:37 CET
    files = tmp_path / "files"
    files.mkdir()
    (files / r1_name).write_bytes((FIXTURES / R1.file.name).read_bytes())
    (files / r2_name).write_bytes((FIXTURES / R2.file.name).read_bytes())
    r1, r2 = read_round_file(files / r1_name), read_round_file(files / r2_name)
    assert pair_rounds([r1, r2], "Europe/Berlin").round1_of == {r2_name: r1_name}
    assert pair_rounds([r1, r2]).orphans == {r2_name}
    assert pair_rounds([r1, r2], "America/New_York").orphans == {r2_name}  # not its day
    rows = {r.guid: r for r in round_only_all([r1, r2], "Europe/Berlin")[r2_name]}
    assert rows["7A3E9B21"].kind is RowKind.R2_DIFF and rows["7A3E9B21"].values["kills"] == 7

    data = tmp_path / "data"
    ingest_paths(data, [files])  # the default zone is Europe/Berlin
    (r2_row,) = table_rows(data, "rounds", "round_number = 2")
    assert r2_row["counted"] and r2_row["paired_round_id"] is not None
    raven = table_rows(data, "player_rounds", "round_number = 2 AND guid = '7A3E9B21'")
    assert [(p["row_kind"], p["kills"], p["counted"]) for p in raven] == [("r2_diff", 7, True)]


def _as_bots(data: bytes, bots: dict[str, str], drop: tuple[str, ...] = ()) -> bytes:
    """``data`` with the players of ``bots`` (GUID → bot name) turned into omni-bots, who
    all write the GUID OMNIBOT0 (§7), and the players of ``drop`` removed."""
    out = []
    for line in data.split(b"\n"):
        guid, _, rest = line.partition(b"\\")
        g = guid.decode()
        if g in drop:
            continue
        if g in bots:
            _, _, after_name = rest.partition(b"\\")
            line = b"OMNIBOT0\\" + bots[g].encode() + b"\\" + after_name
        out.append(line)
    return b"\n".join(out)


def test_a_rejected_line_under_a_shared_guid_is_told_apart_by_name() -> None:
    """Omni-bots share OMNIBOT0, so their lines pair by GUID and name: a bot whose round-1
    line was rejected is missing from round 1 — not another bot, and not a bot who joined
    in round 2 (who is ``r2_only``)."""
    from etl_duck.domain.parse import parse_bytes

    bots = {"E0A4B2C8": "[BOT]A", "B7E21D04": "[BOT]B", "D4F7092B": "[BOT]C"}
    r1_data = _without_last_weapon_value(_as_bots(R1_BYTES, bots), "OMNIBOT0\\[BOT]A")
    r1 = parse_bytes(r1_data, R1.file.name)
    assert r1.rejected_players == (("OMNIBOT0", "[BOT]A"),)
    r2 = parse_bytes(_as_bots(R2_BYTES, bots), R2.file.name)
    kinds = {r.line.name: r.kind for r in round_only_all([r1, r2])[R2.file.name]}
    assert kinds["[BOT]A"] is RowKind.R1_REJECTED
    assert kinds["[BOT]B"] is RowKind.R2_DIFF
    assert kinds["[BOT]C"] is RowKind.R2_ONLY  # joined in round 2
    # only A in round 2: he is not differenced against B's round-1 line
    alone = parse_bytes(_as_bots(R2_BYTES, bots, drop=("B7E21D04",)), R2.file.name)
    (a,) = [r for r in round_only_all([r1, alone])[R2.file.name] if r.line.name == "[BOT]A"]
    assert a.kind is RowKind.R1_REJECTED and a.paired_line_no is None


def test_a_round_whose_every_line_was_rejected_does_not_count() -> None:
    """A writer whose lines the parser does not know (35 fields: no layout has that many)
    under a header it reads: the round has no player left; it is kept, named, and not
    counted (it fed the score and the records with nobody before)."""
    from etl_duck.domain.counting import round_reasons
    from etl_duck.domain.parse import parse_bytes

    def newer(data: bytes) -> bytes:
        lines = data.split(b"\n")
        lines[0] += b"\\1"
        return b"\n".join([lines[0], *(ln.rsplit(b"\t", 3)[0] for ln in lines[1:])])

    r1 = parse_bytes(newer(R1_BYTES), R1.file.name)
    r2 = parse_bytes(newer(R2_BYTES), R2.file.name)
    assert not r1.players and r1.rejected and not r2.players
    reasons, _ = round_reasons([r1, r2], ())
    assert reasons == {R1.file.name: "lines_rejected", R2.file.name: "lines_rejected"}


# --------------------------------------------------------------------------- older writers' clock and pauses


def _x22_plus(data: bytes, minutes: float) -> bytes:
    """``data`` with every player's time played (X22, minutes) ``minutes`` longer."""
    lines = data.split(b"\n")
    out = [lines[0]]
    for line in lines[1:]:
        if line:
            prefix, _, tail = line.partition(b"\t")
            fields = tail.split(b"\t")
            fields[22] = b"%.1f" % (float(fields[22]) + minutes)
            line = prefix + b"\t" + b"\t".join(fields)
        out.append(line)
    return b"\n".join(out)


def _header_field(data: bytes, index: int, value: bytes) -> bytes:
    head, nl, rest = data.partition(b"\n")
    fields = head.split(b"\\")
    fields[index] = value
    return b"\\".join(fields) + nl + rest


def _parsed_as(data: bytes, end: datetime, map_name: str, round_number: int) -> RoundFile:
    """``data`` parsed as the round ``round_number`` of ``map_name`` ending at ``end``."""
    from etl_duck.domain.parse import parse_bytes

    name = f"{end:%Y-%m-%d-%H%M%S}-{map_name}-round-{round_number}.txt"
    data = _header_field(_header_field(data, 1, map_name.encode()), 3, b"%d" % round_number)
    return parse_bytes(data, name, strict=True)


def _played(r: RoundFile) -> list[int]:
    """Every player's time played (X22) in seconds."""
    return [int(p.values["time_played_s"] or 0) for p in r.players]


SUPPLY_R1 = REAL / "2025-11-11-214627-supply-round-1.txt"  # held: H7 = H6 = 12:00
SUPPLY_R2 = REAL / "2025-11-11-215843-supply-round-2.txt"
GOLDRUSH_R1 = REAL / "2025-11-11-225406-sw_goldrush_te-round-1.txt"  # held: 12:00
GOLDRUSH_R2 = REAL / "2025-11-11-230632-sw_goldrush_te-round-2.txt"


def test_an_older_writers_round2_with_the_clock_artefact_pairs_with_its_round1() -> None:
    """An 8-field round 2 whose H7 (79:20) passes H6 (12:00): the writer's nextTimeLimit
    artefact in a complete round 2 (the engine reset the cvar; §2: ignore H7). It was
    marked interrupted (§7's old "R2 with H7 > H6"), so the map's round 2 was lost."""
    from etl_duck.domain.counting import round_reasons
    from etl_duck.domain.parse import parse_bytes

    r1 = read_round_file(SUPPLY_R1)
    data = _header_field(SUPPLY_R2.read_bytes(), 7, b"79:20")
    r2 = parse_bytes(data, SUPPLY_R2.name, strict=True)
    assert r2.header is not None and r2.header.time_limit_artefact
    assert r2.status is FileStatus.OK
    pairing = pair_rounds([r1, r2])
    assert pairing.round1_of == {r2.file.name: r1.file.name}
    assert not (pairing.orphans or pairing.interrupted or pairing.standalone)
    reasons, _ = round_reasons([r1, r2], ())
    assert reasons == {r1.file.name: None, r2.file.name: None}
    rows = round_only_all([r1, r2])[r2.file.name]
    assert {r.kind for r in rows} == {RowKind.R2_DIFF}
    assert all(0 < r.values["time_played_s"] <= 12 * 60 + 6 for r in rows)  # type: ignore[operator]
    # the same round 2 with the artefact and no round 1 is the shutdown path's (§7)
    alone = pair_rounds([r2])
    assert alone.interrupted == {r2.file.name} and not alone.orphans and not alone.standalone


def _older_cut_round1() -> tuple[str, bytes]:
    """The §7.1 case from an 8-field writer: the fixture without its H8 (a round 1 cut
    after 1.2 min by a scheduled restart, saved as round 2, H7 71:05-like artefact)."""
    data = (FIXTURES / "2026-03-14-230004-etl_sp_delivery-round-2.txt").read_bytes()
    head, nl, rest = data.partition(b"\n")
    return "2026-03-14-230004-etl_sp_delivery-round-2.txt", head.rsplit(b"\\", 1)[0] + nl + rest


def test_an_older_writers_round1_cut_and_saved_as_round2_stays_interrupted() -> None:
    """§7.1 with an older writer: the cut round stays interrupted — alone, and after a held
    round 1 of the same map whose clock (12:00) it plays, since its players' time (1.2 min,
    counters from 0 after the restart) does not carry that round 1's 12 minutes. The real
    round 1 and 2 that follow 17 and 30 minutes later pair."""
    from etl_duck.domain.counting import round_reasons
    from etl_duck.domain.parse import parse_bytes

    name, data = _older_cut_round1()
    cut = parse_bytes(data, name, strict=True)
    assert cut.header is not None and cut.header.field_count == 8
    assert cut.header.time_limit_artefact and cut.status is FileStatus.OK
    assert pair_rounds([cut]).interrupted == {name}
    assert round_reasons([cut], ())[0] == {name: "interrupted"}
    assert {r.kind for r in round_only_all([cut])[name]} == {RowKind.INTERRUPTED}

    # a held round 1 of the map 10 minutes before, with the cut round's players in it
    end = cut.file.end_time
    held_data = _header_field(_x22_plus(data, 12.0 - 1.2), 7, b"12:00")
    held = _parsed_as(held_data, end - timedelta(minutes=10), "etl_sp_delivery", 1)
    assert held.header is not None and held.header.next_time_limit_s == cut.header.time_limit_s
    assert held.status is FileStatus.OK
    # the real round 1 and 2 of the map after the restart (the supply fixtures' rounds)
    real1 = _parsed_as(R1_BYTES, end + timedelta(minutes=17), "etl_sp_delivery", 1)
    real2 = _parsed_as(R2_BYTES, end + timedelta(minutes=30), "etl_sp_delivery", 2)
    rounds = [held, cut, real1, real2]
    pairing = pair_rounds(rounds)
    assert pairing.interrupted == {name}
    assert pairing.round1_of == {real2.file.name: real1.file.name}
    reasons, _ = round_reasons(rounds, ())
    assert reasons[name] == "interrupted" and reasons[real2.file.name] is None


def test_a_paused_held_round1_of_an_older_writer_pairs_with_its_round2() -> None:
    """A held round 1 (H7 = H6 = 12:00) paused two minutes, from an 8-field writer: X22
    counts paused time, so every player passes H6 + 60 s (13.5 min). It was marked
    interrupted and its round 2 became an orphan: the whole map was lost."""
    from etl_duck.domain.counting import round_reasons
    from etl_duck.domain.parse import parse_bytes

    r1 = parse_bytes(_x22_plus(GOLDRUSH_R1.read_bytes(), 2.0), GOLDRUSH_R1.name, strict=True)
    r2 = parse_bytes(_x22_plus(GOLDRUSH_R2.read_bytes(), 2.0), GOLDRUSH_R2.name, strict=True)
    assert r1.header is not None and r1.header.time_limit_s == 720
    assert min(_played(r1)) > 720 + 60
    assert r1.status is FileStatus.OK and r2.status is FileStatus.OK
    pairing = pair_rounds([r1, r2])
    assert pairing.round1_of == {r2.file.name: r1.file.name} and not pairing.interrupted
    reasons, _ = round_reasons([r1, r2], ())
    assert reasons == {r1.file.name: None, r2.file.name: None}
    rows = round_only_all([r1, r2])[r2.file.name]
    assert {r.kind for r in rows} == {RowKind.R2_DIFF}


def test_after_a_hold_a_round2_saved_as_round1_is_told_from_a_paused_replay() -> None:
    """§7's "a round-1 file right after another R1 of the same map whose H6 equals that R1's
    H7 … or whose players' X22 exceed H6", after a hold (H7 = H6, which a replay has too):
    a round 2 cut 2 minutes in holds round 1's time — more than has passed since round 1
    ended; a replay of round 1 paused two minutes has X22 past H6 + 60 s too, but no more
    than the time since (it was marked interrupted; now it is a restart's replay)."""
    from etl_duck.domain.counting import round_reasons

    held = read_round_file(GOLDRUSH_R1)
    data, end = GOLDRUSH_R1.read_bytes(), held.file.end_time
    cut = _parsed_as(_x22_plus(data, 2.0), end + timedelta(minutes=3), "sw_goldrush_te", 1)
    assert min(_played(cut)) > 720 + 60
    assert pair_rounds([held, cut]).interrupted == {cut.file.name}
    reasons, _ = round_reasons([held, cut], ())
    assert reasons == {held.file.name: None, cut.file.name: "interrupted"}

    replay = _parsed_as(_x22_plus(data, 2.0), end + timedelta(minutes=15), "sw_goldrush_te", 1)
    assert min(_played(replay)) > 720 + 60
    assert replay.status is FileStatus.OK and not pair_rounds([held, replay]).interrupted
    reasons, _ = round_reasons([held, replay], ())
    assert reasons == {held.file.name: "restart", replay.file.name: None}


def test_a_paused_round_of_its_own_is_standalone_not_an_orphan() -> None:
    """A round of a gametype other than stopwatch (every file ``round-2``, counters its
    own) paused two minutes: X22 counts the pause, H8 does not, so its players passed
    "H8 + 10 s" and it was an orphan (not counted). A stopwatch round 2 that lost its round
    1 holds round 1's time too (at least H8 + H6) and stays an orphan."""
    from etl_duck.domain.parse import parse_bytes

    name = R1.file.name.replace("round-1", "round-2")
    own = parse_bytes(_x22_plus(_header_field(R1_BYTES, 3, b"2"), 2.0), name, strict=True)
    assert own.header is not None and own.header.measured_play_ms == 521460
    assert max(_played(own)) > 522 + 10
    pairing = pair_rounds([own])
    assert pairing.standalone == {name} and not pairing.orphans
    assert {r.kind for r in round_only_all([own])[name]} == {RowKind.STANDALONE}
    assert pair_rounds([R2]).orphans == {R2.file.name}  # cumulative: holds its round 1


def test_a_cut_shutdown_path_file_is_interrupted_not_paired() -> None:
    """A shutdown-path file (H8 < 0) whose last line was cut is ``partial`` — the parser has
    one status — and was paired, or counted, as a round 2. It is interrupted (§7)."""
    from etl_duck.domain.counting import round_reasons
    from etl_duck.domain.parse import parse_bytes

    name = "2026-03-14-230004-etl_sp_delivery-round-2.txt"
    cut = parse_bytes((FIXTURES / name).read_bytes()[:-20], name)
    assert cut.status is FileStatus.PARTIAL and cut.header is not None
    assert cut.header.shutdown_path
    assert pair_rounds([cut]).interrupted == {name}
    assert round_reasons([cut], ())[0] == {name: "interrupted"}
