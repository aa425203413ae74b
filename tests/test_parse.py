"""The parser against the hand-built fixtures (EXPECTED.md) and the 92 real files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from etl_duck.domain.fields import LAYOUTS
from etl_duck.domain.parse import (
    FileStatus,
    ParseError,
    clean_name,
    header_duration,
    parse_bytes,
    parse_file_name,
    parse_header,
    parse_mss,
    read_round_file,
)
from tests.conftest import FIXTURES, REAL

R1 = FIXTURES / "2026-03-14-213512-supply-round-1.txt"
R2 = FIXTURES / "2026-03-14-214449-supply-round-2.txt"


def test_file_name_reads_date_time_map_round() -> None:
    f = parse_file_name("2025-11-02-000624-etl_adlernest-round-2.txt")
    assert (f.end_time.isoformat(), f.map_name, f.round_number) == (
        "2025-11-02T00:06:24",
        "etl_adlernest",
        2,
    )
    # map names may contain '-': anchored suffix, not split by position
    assert parse_file_name("2025-01-01-200000-my-map-v2-round-1.txt").map_name == "my-map-v2"


@pytest.mark.parametrize(
    "name",
    [
        "2025-11-02-000624-etl_adlernest-round-2-endstats.txt",
        "2025-11-02-000624-etl_adlernest-round-2_ws.txt",
        "notes.txt",
        "2025-13-02-000624-x-round-1.txt",
    ],
)
def test_non_stats_file_names_are_refused(name: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse_file_name(name)
    assert exc.value.file == name


def test_clean_name_uses_ets_rule() -> None:
    assert clean_name("^$Blue^7Jay") == "BlueJay"
    assert clean_name("^3.^7wolf^3.") == ".wolf."
    assert clean_name("^^7") == "^"  # `^^` is not a code; `^7` is
    assert clean_name("abc^") == "abc^"  # a trailing lone ^ stays
    assert clean_name("^a#^7p^au^7rans^a.^7only") == "#purans.only"


def test_mss() -> None:
    assert parse_mss("8:41") == 521
    assert parse_mss("86:40") == 5200
    assert parse_mss("0:00") == 0
    assert parse_mss("20.00") == 1200  # decimal minutes (jaymod)
    with pytest.raises(ValueError):
        parse_mss("8:61")


def test_supply_round1_header_and_players() -> None:
    r = read_round_file(R1)
    assert r.status is FileStatus.OK and not r.rejected
    h = r.header
    assert h is not None
    assert (h.map_name, h.round_number, h.defender_side, h.winner_side) == ("supply", 1, 1, 2)
    assert (h.time_limit_s, h.next_time_limit_s, h.play_time_ms) == (720, 521, 521460)
    assert r.duration_s == pytest.approx(521.46)
    assert h.attackers_won
    names = {p.guid: p.name for p in r.players}
    assert names == {
        "7A3E9B21": "Raven",
        "B7E21D04": "BlueJay",
        "5C6D8E9F": ".wolf.",
        "E0A4B2C8": "Dr. Fun",
        "91D3F5A7": "IceMan",
        "2C8F6A13": "lefty:)",
    }
    raven = next(p for p in r.players if p.guid == "7A3E9B21")
    assert raven.name_raw == "^1Ra^7ven"
    v = raven.values
    assert (v["kills"], v["deaths"], v["damage_given"], v["time_played_s"]) == (8, 12, 1584, 522)
    blue = next(p for p in r.players if p.guid == "B7E21D04")
    assert blue.values["kd_written"] == 10.0  # kills 9 + 1 with zero deaths
    lefty = next(p for p in r.players if p.guid == "2C8F6A13")
    assert (lefty.values["kills"], lefty.values["deaths"], lefty.values["damage_given"]) == (
        5,
        9,
        1398,
    )


def test_every_fixture_line_holds_the_file_invariants() -> None:
    for path in (R1, R2):
        r = read_round_file(path)
        assert r.header is not None and r.header.round_number == r.file.round_number
        for p in r.players:
            assert p.layout == 38
            assert p.values["bullets_fired"] == p.values["shots"]
            assert p.values["dpm_written"] == 0.0
            assert set(p.weapons) == {i for i in range(28) if p.weapon_mask >> i & 1}


def test_truncated_file_keeps_complete_lines_and_is_partial() -> None:
    r = read_round_file(FIXTURES / "2026-03-14-220518-etl_adlernest-round-1.txt")
    assert r.status is FileStatus.PARTIAL
    assert r.header is not None
    assert (r.header.round_number, r.header.next_time_limit_s, r.header.play_time_ms) == (
        1,
        372,
        372540,
    )
    assert sorted(p.guid for p in r.players) == ["5C6D8E9F", "E0A4B2C8"]


def test_empty_file_is_empty_not_an_error() -> None:
    r = read_round_file(FIXTURES / "2026-03-14-221702-te_escape2-round-1.txt")
    assert r.status is FileStatus.EMPTY and r.header is None and r.players == []


def test_header_only_file_is_a_round_with_no_players() -> None:
    r = read_round_file(FIXTURES / "2026-03-14-223140-etl_frostbite-round-1.txt")
    assert r.status is FileStatus.OK and r.players == [] and not r.rejected
    assert r.header is not None and r.header.play_time_ms == 600210
    assert not r.header.attackers_won


def test_wrong_field_counts_reject_lines_with_line_numbers() -> None:
    name = "2026-03-14-224455-sw_goldrush_te-round-1.txt"
    r = read_round_file(FIXTURES / name)
    assert [p.guid for p in r.players] == ["7A3E9B21"]
    rejected = {e.line: e for e in r.rejected}
    assert sorted(k for k in rejected if k is not None) == [3, 4, 5]
    assert all(e.file == name for e in r.rejected)
    assert rejected[3].field == "extended fields" and "37" in rejected[3].reason
    assert rejected[4].field == "P4 weapon groups"
    assert rejected[5].field == "extended fields" and "40" in rejected[5].reason
    assert f"{name}:4: P4 weapon groups" in str(rejected[4])


def test_shutdown_path_file_is_interrupted() -> None:
    r = read_round_file(FIXTURES / "2026-03-14-230004-etl_sp_delivery-round-2.txt")
    assert r.status is FileStatus.INTERRUPTED
    assert r.header is not None and r.header.play_time_ms is not None
    assert r.header.play_time_ms < 0 and r.header.time_limit_artefact
    assert r.duration_s is None
    assert len(r.players) == 4 and not r.rejected


def test_non_numeric_value_names_the_field() -> None:
    lines = R1.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"\t1890\t", b"\t18x0\t")
    r = parse_bytes(b"\n".join(lines), R1.name)
    assert len(r.players) == 5
    (err,) = r.rejected
    assert (err.line, err.field) == (2, "X0 damage_given")


def test_strict_mode_raises_the_first_problem() -> None:
    data = R1.read_bytes()[:-10]
    with pytest.raises(ParseError) as exc:
        parse_bytes(data, R1.name, strict=True)
    assert exc.value.line == 7


def test_bad_header_fails_the_file() -> None:
    with pytest.raises(ParseError) as exc:
        parse_bytes(
            b"srv\\supply\\x\\one\\1\\2\\12:00\\8:41\n", "2026-01-01-200000-supply-round-1.txt"
        )
    assert (exc.value.line, exc.value.field) == (1, "H3 round")


def test_header_round_must_match_the_name() -> None:
    data = R1.read_bytes()
    with pytest.raises(ParseError, match="H3 round"):
        parse_bytes(data, "2026-03-14-213512-supply-round-2.txt")


def test_latin1_names_are_decoded_not_dropped() -> None:
    lines = R1.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"Dr. ", "Dr\xe9 ".encode("latin-1"))
    r = parse_bytes(b"\n".join(lines), R1.name)
    assert any(p.name == "Dré Fun" for p in r.players)


def test_a_utf8_name_cut_mid_character_is_read_as_utf8() -> None:
    """The engine cuts a name to its byte limit, mid-character for a Cyrillic one: the line
    fell back to cp1252 and the name read "ÐŸÑ‘Ñ‚Ñ€â˜". The cut character is dropped, the
    rest read as UTF-8 — in the stats file and the endstats file alike."""
    from etl_duck.domain.parse import decode_line

    cut = "Пётр☆".encode()[:-1]  # ☆ is three bytes: two are left
    lines = R1.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"\\^7Dr. ^2Fun\\", b"\\^7" + cut + b"\\")  # at its end
    r = parse_bytes(b"\n".join(lines), R1.name)
    assert any(p.name == "Пётр" for p in r.players)
    assert not any("Ð" in p.name for p in r.players)
    assert decode_line(b"award\t" + cut + b"\t5", b"\t") == "award\tПётр\t5"
    # an invalid byte inside a field, or more than one cut character, is no cut: cp1252
    assert decode_line("Dré".encode("cp1252") + b"\\x", b"\\") == "Dré\\x"
    assert decode_line(b"a\xd0b\\x", b"\\") == "a\u00d0b\\x"  # Ð: cp1252
    assert decode_line(cut + cut, b"\\") == (cut + cut).decode("cp1252", errors="strict")


# --------------------------------------------------------------------------- real files

REAL_FILES = sorted(REAL.glob("*.txt"))


def test_real_files_agree_with_an_independent_reading() -> None:
    """Kills, deaths and damage of every real player line, read by a naive split written
    from STATS_FORMAT.md alone, equal what the parser says (92 files, ~600 lines)."""
    checked = 0
    for path in REAL_FILES:
        parsed = {p.line_no: p for p in read_round_file(path).players}
        lines = path.read_bytes().decode("latin-1").replace("\r", "").split("\n")[1:]
        for no, line in enumerate(lines, start=2):
            if not line:
                continue
            prefix, tail = line.split("\t", 1)
            groups = [int(x) for x in prefix.split("\\")[4].split()[1:]]
            kills, deaths = sum(groups[2::5]), sum(groups[3::5])
            damage = int(tail.split("\t")[0])
            p = parsed[no]
            assert (p.values["kills"], p.values["deaths"], p.values["damage_given"]) == (
                kills, deaths, damage,
            ), f"{path.name}:{no}"  # fmt: skip
            checked += 1
    assert checked > 500


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_every_real_file_parses(path: Path) -> None:
    r = read_round_file(path)
    assert r.status in (FileStatus.OK, FileStatus.INTERRUPTED)
    assert not r.rejected, r.rejected
    assert r.header is not None and r.header.round_number == r.file.round_number
    for p in r.players:
        assert p.layout in LAYOUTS
        assert p.values["dpm_written"] == 0.0
        assert len(p.guid) == 8


def test_real_layouts_cover_all_generations() -> None:
    layouts = {read_round_file(p).layout for p in REAL_FILES} - {None}
    assert layouts == {33, 36, 37, 38}


def test_crlf_copies_parse_identically() -> None:
    crlf = sorted((REAL / "crlf").glob("*.txt"))
    assert len(crlf) == 4
    for path in crlf:
        a, b = read_round_file(path), read_round_file(REAL / path.name)
        assert a.header == b.header
        assert [(p.guid, p.name_raw, p.values, p.weapons) for p in a.players] == [
            (p.guid, p.name_raw, p.values, p.weapons) for p in b.players
        ]


def test_33_field_layout_maps_multikills_by_position() -> None:
    r = read_round_file(REAL / "2024-04-16-220731-te_escape2-round-1.txt")
    p = r.players[0]
    assert p.layout == 33
    assert p.values["denied_playtime_s"] is None and p.values["revives_given"] is None
    # 33-field writers: X27 useful kills, X28..X32 multikills 2..6
    raw = (REAL / r.file.name).read_text().splitlines()[1].split("\t")[1:]
    assert p.values["useful_kills"] == int(raw[27])
    assert p.values["multikill_2"] == int(raw[28])
    assert p.values["multikill_6"] == int(raw[32])
    # inflated X20 in old writers → Σ shots
    assert p.values["bullets_fired"] == p.values["shots"]


# --------------------------------------------------------------------------- the header's edges


def test_a_newer_writers_extra_header_fields_are_ignored() -> None:
    """§9 asks for at least 8 fields: a writer that appends a tenth keeps H0-H8's meaning,
    and its rounds land instead of being quarantined."""
    lines = R1.read_bytes().split(b"\n")
    assert lines[0].count(b"\\") == 8  # the fixture is c0rnp0rn8's: 9 fields
    lines[0] += b"\\something new\\42"
    r = parse_bytes(b"\n".join(lines), R1.name, strict=True)
    assert r.header is not None and r.header.field_count == 11
    assert r.header.play_time_ms == 521460 and r.duration_s == 521.46
    assert len(r.players) == 6 and r.status is FileStatus.OK


def test_a_fractional_h8_is_read_by_the_originals_rule() -> None:
    """c0rnp0rn8 writes whole milliseconds; a fractional H8 is an unknown writer's, read as
    seconds up to 10,000 and as milliseconds above (§2)."""
    head = "srv\\supply\\legacy3\\1\\1\\2\\12:00\\8:41\\"
    assert parse_header(head + "521460.0", "f").play_time_ms == 521460
    assert parse_header(head + "521.46", "f").play_time_ms == 521460
    assert parse_header(head + "15234.6", "f").play_time_ms == 15235
    with pytest.raises(ParseError, match="H8 play time"):
        parse_header(head + "5.2e3", "f")


def test_an_h8_of_zero_falls_through_to_the_clocks() -> None:
    """H8 is the duration only when it is above 0 (§2); 0 leaves the stopwatch clocks."""
    h = parse_header("srv\\supply\\legacy3\\1\\1\\2\\12:00\\8:41\\0", "f")
    assert header_duration(h) == 521.0


def test_no_winner_is_nobodys_completion() -> None:
    """H5 = 0 is "no winner" (the engine's −1): the attackers did not complete, and the
    clock says nothing about how long the round lasted."""
    h = parse_header("srv\\supply\\legacy3\\1\\1\\0\\12:00\\0:00", "f")
    assert not h.attackers_won and header_duration(h) is None
    done = parse_header("srv\\supply\\legacy3\\1\\1\\2\\12:00\\0:00", "f")
    assert done.attackers_won and header_duration(done) is None  # 0:00: the reset cvar


def test_a_held_round2_lasts_the_clock_round1_set() -> None:
    """§2: a round 2 takes its limit H6 from round 1 (R1's time); defenders who hold it
    (H5 = H4) play it to the end, as a held round 1 plays its limit: the duration is H6
    where no H8 measured it. It was unknown (None), so a map's play time left it out."""
    held = "srv\\supply\\legacy3\\2\\1\\1\\8:41\\"
    assert header_duration(parse_header(held + "8:41", "f")) == 8 * 60 + 41  # 2024, Aug–Nov 2025
    assert header_duration(parse_header(held + "0:00", "f")) == 521.0  # H7 reset (Jan–May 2025)
    # H8 first (§2 "best source first"); the shutdown path and "no winner" stay unknown
    assert header_duration(parse_header(held + "8:41\\523100", "f")) == 523.1
    assert header_duration(parse_header(held + "8:41\\-3815220", "f")) is None
    no_winner = parse_header("srv\\supply\\legacy3\\2\\1\\0\\8:41\\8:41", "f")
    assert header_duration(no_winner) is None
    # the clock artefact (H7 > H6): maybe a round 1 cut and saved as round 2 (§7.1) — its
    # limit is its duration only once the pairing found the round 1 it continues
    artefact = parse_header(held + "79:20", "f")
    assert header_duration(artefact) is None
    assert header_duration(artefact, paired=True) == 521.0
    # a round 2 that beat the clock keeps its time, never an H7 of 0:00 or past H6
    beaten = "srv\\supply\\legacy3\\2\\1\\2\\8:41\\"
    assert header_duration(parse_header(beaten + "7:52", "f")) == 7 * 60 + 52
    assert header_duration(parse_header(beaten + "0:00", "f")) is None
    assert header_duration(parse_header(beaten + "79:20", "f"), paired=True) is None


@pytest.mark.parametrize(
    ("name", "seconds"),
    [  # H6 of each held round 2 of 2025-11-11 (8-field headers), M:SS read by hand
        ("2025-11-11-213348-etl_adlernest-round-2.txt", 6 * 60 + 51),
        ("2025-11-11-215843-supply-round-2.txt", 12 * 60),
        ("2025-11-11-222353-te_escape2-round-2.txt", 1 * 60 + 53),
        ("2025-11-11-224128-et_brewdog-round-2.txt", 2 * 60 + 55),
        ("2025-11-11-230632-sw_goldrush_te-round-2.txt", 12 * 60),
        ("2025-11-11-232808-erdenberg_t2-round-2.txt", 4 * 60 + 43),
        ("2025-11-11-233911-braundorf_b4-round-2.txt", 4 * 60 + 35),
    ],
)
def test_a_real_held_round2_of_an_older_writer_lasts_its_clock(name: str, seconds: int) -> None:
    r = read_round_file(REAL / name)
    assert r.header is not None and r.header.field_count == 8 and not r.header.attackers_won
    assert r.status is FileStatus.OK and r.duration_s == float(seconds)
    # the players' time (X22, R2 − R1 in 6-s steps) never passes that clock by more than
    # one step: the round did not last longer than H6
    r1 = next(
        read_round_file(p)
        for p in sorted(REAL.glob(f"2025-11-11-*-{r.file.map_name}-round-1.txt"), reverse=True)
        if p.name < name
    )
    before = {p.guid: p.values["time_played_s"] for p in r1.players}
    spent = [
        int(p.values["time_played_s"] or 0) - int(before.get(p.guid) or 0)
        for p in r.players
        if p.team in (1, 2)
    ]
    assert 0 < max(spent) <= seconds + 6


def test_a_cut_round_keeps_no_duration_paired_or_not() -> None:
    """The shutdown path's file (§7.1) has none, whatever the pairing says."""
    r = read_round_file(FIXTURES / "2026-03-14-230004-etl_sp_delivery-round-2.txt")
    assert r.status is FileStatus.INTERRUPTED
    assert r.duration_s is None and r.duration(paired=True) is None


def test_a_line_whose_layout_differs_from_the_files_is_rejected() -> None:
    """All lines of one file share a layout (§3.6): a line that lost its last field would
    be read as the 37-field layout, every later field in the wrong column."""
    old = REAL / "2025-11-11-212628-etl_adlernest-round-1.txt"
    lines = old.read_bytes().split(b"\n")
    assert lines[0].count(b"\\") == 7  # an 8-field header: no layout is implied
    lines[2] = lines[2].rsplit(b"\t", 1)[0]
    r = parse_bytes(b"\n".join(lines), old.name)
    (err,) = r.rejected
    assert (err.line, err.field) == (3, "extended fields")
    assert "37 fields where the file's other lines have 38" in err.reason
    assert {p.layout for p in r.players} == {38} and 3 not in {p.line_no for p in r.players}
    guid = lines[2].split(b"\\")[0].decode()
    assert guid in {g for g, _ in r.rejected_players}
    with pytest.raises(ParseError, match="37 fields where"):
        parse_bytes(b"\n".join(lines), old.name, strict=True)


@pytest.mark.parametrize("guid", ["D8423F90\xc9\u0178", "NO_GUIDX", "D8423F90-X", "A" * 33])
def test_a_guid_that_is_not_letters_and_digits_rejects_its_line(guid: str) -> None:
    """Two stray bytes in P0 made a phantom player "D8423F90ÉŸ" (no rejected line): the
    GUID is the player's identity, 1–32 letters or digits (§3.3), or a placeholder (see
    ``test_a_guidless_player_is_kept_under_his_name``)."""
    src = REAL / "2025-11-11-212628-etl_adlernest-round-1.txt"
    lines = src.read_bytes().split(b"\n")
    real = lines[2].split(b"\\")[0].decode()
    lines[2] = guid.encode() + lines[2][len(real) :]
    r = parse_bytes(b"\n".join(lines), src.name)
    (err,) = r.rejected
    assert (err.line, err.field) == (3, "P0 GUID") and "not 1–32 letters or digits" in err.reason
    assert 3 not in {p.line_no for p in r.players} and len(r.players) == len(lines) - 3
    with pytest.raises(ParseError, match="P0 GUID"):
        parse_bytes(b"\n".join(lines), src.name, strict=True)


# --------------------------------------------------------------------------- H8 on the shutdown path

SHUTDOWN = FIXTURES / "2026-03-14-230004-etl_sp_delivery-round-2.txt"


def _with_h8(data: bytes, h8: bytes) -> bytes:
    head, nl, rest = data.partition(b"\n")
    return head.rsplit(b"\\", 1)[0] + b"\\" + h8 + nl + rest


@pytest.mark.parametrize(
    "h8",
    [
        b"-700815220",  # a server up 8 days: roundStart, the uptime in ms, is past a week
        b"-2147483648",  # the engine's 32-bit counter at its top (24.8 days)
        b"-4294000000",  # a round over the counter's wrap: ≈ −2^32 (left to the shutdown path)
        b"-8589934592",  # the most the writer's end − start − pauses can reach
        b"2000000000",  # shutdown after the wrap (up 25-49 days): −roundStart is positive
        b"5000000",  # 83 min: past any round of a 12:00 limit (the limit + an hour)
        b"-700815220.0",  # the ".0" c0rnp0rn8 may add
    ],
)
def test_a_shutdown_h8_of_any_size_is_the_shutdown_path_not_an_error(h8: bytes) -> None:
    """H8 = roundEnd − roundStart − pauses, roundEnd 0 on the shutdown path and roundStart
    ms since the server process started (§2, §7.1): H8 is minus the server's uptime, so a
    server up more than a week wrote an H8 past the old ±7-day bound and the whole file was
    quarantined ("H8 play time: out of range"). Any H8 < 0 is the shutdown path; a positive
    one longer than any round is too (the counter wrapped). Neither is a duration."""
    from etl_duck.ingest.build import round_time

    data = _with_h8(SHUTDOWN.read_bytes(), h8)
    r = parse_bytes(data, SHUTDOWN.name, strict=True)
    assert r.header is not None and r.header.play_time_ms == int(float(h8))
    assert r.status is FileStatus.INTERRUPTED and r.header.shutdown_path
    assert r.duration_s is None and header_duration(r.header) is None
    assert r.header.measured_play_ms is None
    assert len(r.players) == 4 and not r.rejected
    # its start is its end (a cut round lasted an unknown part of its limit), not days before
    t = round_time(r.file, r.header)
    assert timedelta(0) <= r.file.end_time - t.start_time <= timedelta(seconds=5)


@pytest.mark.parametrize("h8", [b"8589934593", b"-8589934593", b"-7008x5220", b"-1e9", b"- 5"])
def test_an_h8_no_writer_writes_still_fails_the_file(h8: bytes) -> None:
    """Past ±2^33 (what end − start − pauses of the engine's 32-bit ms counter can reach)
    or not an integer: not a c0rnp0rn8 header."""
    with pytest.raises(ParseError) as exc:
        parse_bytes(_with_h8(SHUTDOWN.read_bytes(), h8), SHUTDOWN.name)
    assert (exc.value.line, exc.value.field) == (1, "H8 play time")


def test_a_measured_h8_is_the_duration_up_to_its_limit_and_an_hour() -> None:
    """A complete round's H8 may pass its limit by a little (wall clock against level
    time: the fixtures by 0.2 s), never by an hour; with no limit (H6 0:00) up to a week."""
    head = "srv\\supply\\legacy3\\1\\1\\1\\12:00\\12:00\\"
    assert header_duration(parse_header(head + "720180", "f")) == 720.18
    assert header_duration(parse_header(head + str((720 + 3600) * 1000), "f")) == 4320.0
    past = parse_header(head + str((720 + 3600) * 1000 + 1), "f")
    assert past.shutdown_path and header_duration(past) is None
    free = "srv\\supply\\legacy3\\2\\1\\1\\0:00\\0:00\\"
    assert header_duration(parse_header(free + "86400000", "f")) == 86400.0
    assert parse_header(free + str(7 * 86400 * 1000 + 1), "f").shutdown_path


# --------------------------------------------------------------------------- older writers' clues


def test_an_older_writers_round2_with_the_clock_artefact_is_not_interrupted_by_itself() -> None:
    """§2: "in a round-2 file, if H7 > H6, H7 is the nextTimeLimit artefact; ignore it" —
    complete round 2s carry it whenever the engine reset the cvar. The file alone cannot
    tell it from a round 1 cut and saved as round 2 (§7.1): the pairing decides."""
    src = REAL / "2025-11-11-215843-supply-round-2.txt"
    data = src.read_bytes().replace(b"\\12:00\\12:00\n", b"\\12:00\\79:20\n", 1)
    r = parse_bytes(data, src.name, strict=True)
    assert r.header is not None and r.header.field_count == 8
    assert r.header.time_limit_artefact and not r.header.shutdown_path
    assert r.status is FileStatus.OK and r.duration_s is None  # H7 ignored, H5 = H4


def test_an_older_writers_paused_round1_is_not_interrupted_by_itself() -> None:
    """A held round 1 paused two minutes: X22 counts paused time (the engine adds level time
    to time_axis/time_allies while paused), so players pass H6 + 60 s. It is a round 1 —
    it was marked interrupted, and its round 2 became an orphan (the map lost)."""
    src = REAL / "2025-11-11-225406-sw_goldrush_te-round-1.txt"
    lines = src.read_bytes().split(b"\n")
    out = [lines[0]]
    for line in lines[1:]:
        if line:
            prefix, _, tail = line.partition(b"\t")
            fields = tail.split(b"\t")
            fields[22] = b"%.1f" % (float(fields[22]) + 2.0)
            line = prefix + b"\t" + b"\t".join(fields)
        out.append(line)
    r = parse_bytes(b"\n".join(out), src.name, strict=True)
    assert r.header is not None and r.header.time_limit_s == 720
    assert min(int(p.values["time_played_s"] or 0) for p in r.players) > 720 + 60
    assert r.status is FileStatus.OK and r.duration_s == 720.0


# --------------------------------------------------------------------------- who a line is

ADLER1 = REAL / "2025-11-11-212628-etl_adlernest-round-1.txt"
ADLER2 = REAL / "2025-11-11-213348-etl_adlernest-round-2.txt"


def _players_as(
    data: bytes, p0s: dict[bytes, bytes], names: dict[bytes, bytes] | None = None
) -> bytes:
    """``data`` with the lines of the GUIDs in ``p0s`` written under another P0 (and for
    those in ``names``, another name)."""
    out = []
    for line in data.split(b"\n"):
        guid, _, rest = line.partition(b"\\")
        if guid in p0s:
            name, _, after = rest.partition(b"\\")
            line = p0s[guid] + b"\\" + (names or {}).get(guid, name) + b"\\" + after
        out.append(line)
    return b"\n".join(out)


def test_an_omnibot_in_any_client_slot_is_a_bot() -> None:
    """The engine sets a bot's cl_guid to "OMNIBOT" + its two-digit client slot (AddBot,
    g_etbot_interface.cpp) and the Lua writes its first 8 characters: slots 10-63 write
    OMNIBOT1…OMNIBOT6. Only OMNIBOT0 was a bot: bots in higher slots counted as humans (the
    round's bots 1 where 4 played, no bot_majority)."""
    from etl_duck.domain.counting import round_reasons

    slots = {b"5D989160": 0, b"7B84BE88": 10, b"D8423F90": 19, b"0A26D447": 63}
    p0s = {g: b"OMNIBOT%02d" % s for g, s in slots.items()}
    p0s = {g: p0[:8] for g, p0 in p0s.items()}
    names = {g: b"Bot%d" % s for g, s in slots.items()}
    r = parse_bytes(_players_as(ADLER1.read_bytes(), p0s, names), ADLER1.name, strict=True)
    assert sorted((p.guid, p.name) for p in r.players if p.is_bot) == [
        ("OMNIBOT0", "Bot0"), ("OMNIBOT1", "Bot10"), ("OMNIBOT1", "Bot19"), ("OMNIBOT6", "Bot63"),
    ]  # fmt: skip
    assert sum(p.is_bot for p in r.players) == 4 and len(r.players) == 6
    assert round_reasons([r], ())[0] == {ADLER1.name: "bot_majority"}


def test_bots_sharing_a_guid_are_never_one_player() -> None:
    """Kat and Tyr in slots 10-19 both write OMNIBOT1: each round 2 line is differenced
    against its own bot's round 1, and a bot who took a slot in round 2 is not the one
    who held another slot of those ten in round 1."""
    from etl_duck.domain.pairing import RowKind, round_only_all

    p0s = {b"7B84BE88": b"OMNIBOT1", b"D8423F90": b"OMNIBOT1"}
    names = {b"7B84BE88": b"Kat", b"D8423F90": b"Tyr"}
    r1 = parse_bytes(_players_as(ADLER1.read_bytes(), p0s, names), ADLER1.name)
    r2 = parse_bytes(_players_as(ADLER2.read_bytes(), p0s, names), ADLER2.name)
    rows = round_only_all([r1, r2])[ADLER2.name]
    bots = {r.line.name: (r.kind, r.values["kills"]) for r in rows if r.line.is_bot}
    assert bots == {"Kat": (RowKind.R2_DIFF, 14), "Tyr": (RowKind.R2_DIFF, 9)}
    # Kat alone in round 1, Tyr alone in round 2 (the same GUID, one line each): two bots
    kat = parse_bytes(_players_as(ADLER1.read_bytes(), {b"7B84BE88": b"OMNIBOT1"}, names), ADLER1.name)  # fmt: skip
    tyr = parse_bytes(_players_as(ADLER2.read_bytes(), {b"7B84BE88": b"OMNIBOT1"}, {b"7B84BE88": b"Tyr"}), ADLER2.name)  # fmt: skip
    (row,) = [r for r in round_only_all([kat, tyr])[ADLER2.name] if r.line.is_bot]
    assert (row.line.name, row.kind, row.paired_line_no) == ("Tyr", RowKind.R2_ONLY, None)


def test_bots_of_every_slot_are_no_rivals() -> None:
    """The versus rollup leaves bots out by their GUID: OMNIBOT1's Kat and Tyr were one
    rival "OMNIBOT1" (only OMNIBOT0 was left out)."""
    from datetime import date, datetime

    import duckdb

    from etl_duck.sqlfiles import sql

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE endstats_versus (session_id VARCHAR, session_date DATE, round_id VARCHAR,"
        " end_time TIMESTAMP, guid VARCHAR, name VARCHAR, opponent_guid VARCHAR,"
        " opponent_name VARCHAR, kills INTEGER, deaths INTEGER, counted BOOLEAN)"
    )
    day, end = date(2025, 11, 11), datetime(2025, 11, 11, 21, 26, 28)
    for opponent, name, kills in (("OMNIBOT1", "Kat", 3), ("OMNIBOT1", "Tyr", 2),
                                  ("OMNIBOT6", "Ace", 4), ("0A26D447", "carniee", 1)):  # fmt: skip
        con.execute(
            "INSERT INTO endstats_versus VALUES ('s', ?, 'r', ?, 'D8423F90', 'vid', ?, ?, ?, 0,"
            " true)",
            [day, end, opponent, name, kills],
        )
    got = con.execute(sql("rollup_player_versus"), {"dates": [day]}).fetchall()
    assert sorted((g, o) for _, _, g, o, *_ in got) == [
        ("0A26D447", "D8423F90"), ("D8423F90", "0A26D447"),
    ]  # fmt: skip


@pytest.mark.parametrize("p0", [b"NO_GUID", b"UNKNOWN", b"unknown", b"", b"  "])
def test_a_guidless_player_is_kept_under_his_name(p0: bytes) -> None:
    """The Lua writes upper(sub(cl_guid, 1, 8)): a client without a GUID is NO_GUID or
    UNKNOWN (WolfAdmin's placeholders), or nothing. NO_GUID was a rejected line (exit 3
    every evening he played); UNKNOWN was one identity, every GUID-less player in history
    one player. Each is now known by his clean name, and paired by it."""
    from etl_duck.domain.pairing import RowKind, round_only_all

    p0s = {b"5D989160": p0, b"7B84BE88": p0}
    r1 = parse_bytes(_players_as(ADLER1.read_bytes(), p0s), ADLER1.name, strict=True)
    r2 = parse_bytes(_players_as(ADLER2.read_bytes(), p0s), ADLER2.name, strict=True)
    guids = {p.name: p.guid for p in r1.players}
    assert guids[".olz"] != guids["endekk"] and p0.decode().strip().upper() not in guids.values()

    from etl_duck.domain.parse import guidless_identity, is_guidless

    olz, endekk = guidless_identity(".olz"), guidless_identity("endekk")
    assert olz != endekk and all(g.isascii() and g.isalnum() and is_guidless(g) for g in (olz, endekk))  # fmt: skip
    assert not is_guidless("NOGUID12")  # a writer's own P0 that starts so is a real GUID
    for r in (r1, r2):
        assert {p.name: p.guid for p in r.players if is_guidless(p.guid)} == {
            ".olz": olz, "endekk": endekk,
        }  # fmt: skip
        assert not r.rejected and not any(p.is_bot for p in r.players)
    rows = round_only_all([r1, r2])[ADLER2.name]
    guidless = {r.line.name: (r.kind, r.values["kills"]) for r in rows if is_guidless(r.guid)}
    assert guidless == {".olz": (RowKind.R2_DIFF, 2), "endekk": (RowKind.R2_DIFF, 14)}
    # a GUID-less player's rejected round-1 line still names him: his round 2 is no r2_only
    lines = _players_as(ADLER1.read_bytes(), p0s).split(b"\n")
    (i,) = [n for n, ln in enumerate(lines) if b"\\^7endekk\\" in ln]
    lines[i] = lines[i].replace(b"\t2010\t", b"\t2x10\t", 1)
    bad = parse_bytes(b"\n".join(lines), ADLER1.name)
    assert bad.rejected_players == ((endekk, "endekk"),)
    kinds = {r.line.name: r.kind for r in round_only_all([bad, r2])[ADLER2.name]}
    assert kinds["endekk"] is RowKind.R1_REJECTED and kinds[".olz"] is RowKind.R2_DIFF


def test_a_newer_writers_longer_lines_are_read_by_their_known_fields() -> None:
    """§3.6: layouts grow by appending. A writer that appends a field (39, or more) had
    every line rejected ("unknown layout: 39 fields") and its rounds landed with no
    player; the first 38 are the 38 known, read and checked as ever, the rest ignored,
    and the file says so once (a note, not a rejection)."""
    for src, extra in ((R1, b"\t0"), (ADLER1, b"\t7\tx y\t-1.5"), (ADLER1, b"\t0" * 89)):
        data = src.read_bytes()
        lines = data.split(b"\n")
        longer = b"\n".join([lines[0], *(ln + extra if ln else ln for ln in lines[1:])])
        got, want = parse_bytes(longer, src.name, strict=True), parse_bytes(data, src.name)
        assert [(p.guid, p.values, p.weapons) for p in got.players] == [
            (p.guid, p.values, p.weapons) for p in want.players
        ]
        layout = 38 + extra.count(b"\t")
        assert {p.layout for p in got.players} == {layout} and got.layout == layout
        assert not got.rejected and want.note is None
        assert got.note is not None and f"{len(got.players)} player lines have {layout}" in got.note
    lines = ADLER1.read_bytes().split(b"\n")
    # past the lake's int8 column: unknown; a known field's bad value still names the field
    lines[1] += b"\t0" * 90
    lines[2] = lines[2].replace(b"\t1710\t", b"\t17x0\t", 1) + b"\t0"
    r = parse_bytes(b"\n".join(lines), ADLER1.name)
    assert [(e.line, e.field) for e in r.rejected] == [
        (2, "extended fields"), (3, "X0 damage_given"),
    ]  # fmt: skip
    assert "unknown layout: 128 fields" in r.rejected[0].reason
    # one line that gained a field among lines of the known layout is that line's fault,
    # even one against one: read shifted, it would be wrong in every field after
    two = [lines[0], ADLER1.read_bytes().split(b"\n")[3] + b"\t0", lines[4], b""]
    r = parse_bytes(b"\n".join(two), ADLER1.name)
    assert [p.layout for p in r.players] == [38] and r.note is None
    (err,) = r.rejected
    assert (err.line, "39 fields where the file's other lines have 38") == (2, err.reason)


@pytest.mark.parametrize("tail", [b"\n", b"\r\n", b"\n\n", b"  \n", b"\r\n\r\n", b"\r\r\n"])
def test_blank_lines_after_the_last_player_are_no_rejected_lines(tail: bytes) -> None:
    """An editor or a Windows tool that passed a file on appended a blank line: it was a
    rejected line ("blank line") and the status an open problem until an admin acted."""
    for data in (ADLER1.read_bytes(), ADLER1.read_bytes().replace(b"\n", b"\r\n")):
        r = parse_bytes(data + tail, ADLER1.name, strict=True)
        assert r.status is FileStatus.OK and not r.rejected and len(r.players) == 6
    # one between player lines is something wrong inside the file, still told
    lines = ADLER1.read_bytes().split(b"\n")
    r = parse_bytes(b"\n".join([*lines[:3], b"\r", *lines[3:]]) + tail, ADLER1.name)
    assert [(e.line, e.reason) for e in r.rejected] == [(4, "blank line")]
    # and so is one before a cut last line: the file goes on after it
    cut = parse_bytes(b"\n".join([*lines[:3], b"", lines[3][:40]]), ADLER1.name)
    assert cut.status is FileStatus.PARTIAL and [e.line for e in cut.rejected] == [4]


def test_a_byte_order_mark_is_not_part_of_the_server_name() -> None:
    """No writer writes a BOM (§1.4); a Windows tool may add one: it stayed in H0."""
    import hashlib

    from etl_duck.domain.parse import parse_head

    plain = parse_bytes(ADLER1.read_bytes(), ADLER1.name)
    data = b"\xef\xbb\xbf" + ADLER1.read_bytes()
    r = parse_bytes(data, ADLER1.name, strict=True)
    assert r.header is not None and plain.header is not None
    assert r.header.server_name == plain.header.server_name == "^a#^7p^au^7rans^a.^7only"
    assert parse_head(data, ADLER1.name).header == r.header
    assert r.sha256 == hashlib.sha256(data).hexdigest() and r.size == len(data)  # the bytes'


def _with_decimal_ints(data: bytes) -> bytes:
    """``data`` with every integer of every player line written with ``.0`` (P2, P3, the
    weapon mask and counts, and the extended int fields): a whole number either way."""
    from etl_duck.domain.fields import FIELD_BY_NAME, Kind

    lines = data.split(b"\n")
    out = [lines[0]]
    for line in lines[1:]:
        if not line.strip():
            out.append(line)
            continue
        prefix, _, tail = line.partition(b"\t")
        guid, name, p2, p3, weapons = prefix.split(b"\\", 4)
        weapons = b" ".join(w + b".0" for w in weapons.split())
        ext = tail.split(b"\t")
        names = LAYOUTS[len(ext)]
        ext = [
            v + b".0" if FIELD_BY_NAME[n].kind is Kind.INT else v
            for n, v in zip(names, ext, strict=True)
        ]
        out.append(
            b"\\".join([guid, name, p2 + b".0", p3 + b".00", weapons]) + b"\t" + b"\t".join(ext)
        )
    return b"\n".join(out)


def test_a_whole_number_written_with_a_decimal_point_reads_as_that_number() -> None:
    """§3.5: "parse every field as a number; do not assume `.0` on ints". X0 written as
    1234.0 rejected the line ("not an integer"), losing the player's round (review 133);
    every int field so written reads as the integer, on a line as in the whole file, and a
    fraction in an int field still names the field."""
    for src in (R1, R2):
        data = src.read_bytes()
        got, want = (
            parse_bytes(_with_decimal_ints(data), src.name, strict=True),
            parse_bytes(data, src.name),
        )
        assert [(p.guid, p.team, p.values, p.weapons) for p in got.players] == [
            (p.guid, p.team, p.values, p.weapons) for p in want.players
        ]
        assert len(got.players) == len(want.players) > 0 and not got.rejected
    lines = R1.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"\t1890\t", b"\t1890.5\t")
    r = parse_bytes(b"\n".join(lines), R1.name)
    (err,) = r.rejected
    assert (err.line, err.field, err.reason) == (2, "X0 damage_given", "not an integer: '1890.5'")


def test_a_round_with_more_players_than_server_slots_is_read_whole() -> None:
    """§3.1: a line per GUID seen during the map, and a player who left keeps his: a busy
    public server writes more lines than its 64 slots. 130 lines quarantined the whole
    round (review 133); every line is read now, and only a file far past any server's
    (a bound on garbage) fails."""
    from etl_duck.domain.parse import MAX_PLAYER_LINES

    lines = R1.read_bytes().split(b"\n")
    header, first = lines[0], lines[1]
    guid = first.split(b"\\", 1)[0]

    def many(n: int) -> bytes:
        body = [first.replace(guid, b"%08X" % (0xA0000000 + i), 1) for i in range(n)]
        return b"\n".join([header, *body, b""])

    r = parse_bytes(many(130), R1.name, strict=True)
    assert len(r.players) == 130 and len({p.guid for p in r.players}) == 130
    with pytest.raises(ParseError) as exc:
        parse_bytes(many(MAX_PLAYER_LINES + 1), R1.name)
    assert exc.value.field == "player lines" and str(MAX_PLAYER_LINES + 1) in exc.value.reason
