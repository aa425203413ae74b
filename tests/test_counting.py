"""What counts: the restart rule on the rounds' own timelines (long replays included)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from etl_duck.domain.counting import RESTART_GAP, restarted_round1s, round_reasons
from etl_duck.domain.parse import RoundFile, parse_bytes
from tests.lakecheck import R1, R2

HEADER = b"^1ET^7:^4L ^7Test ^3Server\\supply\\legacy3\\1\\1\\2\\12:00\\8:41\\521460"


def _round(end: datetime, number: int = 1, *, limit: str = "12:00", clock: str = "8:41",
           play_ms: int = 521_460) -> RoundFile:  # fmt: skip
    """The supply fixture as a round of ``number`` ending at ``end`` with its own clock."""
    src = (R1 if number == 1 else R2).read_bytes()
    body = src.split(b"\n", 1)[1]
    header = b"\\".join(
        [*HEADER.split(b"\\")[:3], str(number).encode(), b"1", b"2", limit.encode(),
         clock.encode(), str(play_ms).encode()]
    )  # fmt: skip
    name = f"{end:%Y-%m-%d-%H%M%S}-supply-round-{number}.txt"
    return parse_bytes(header + b"\n" + body, name)


T0 = datetime(2026, 3, 14, 21, 0, 0)


def test_a_long_replay_started_right_after_the_abandoned_round_is_a_restart() -> None:
    abandoned = _round(T0)
    # a 20-minute replay that started 90 s after the abandoned round ended: its file is
    # written 21.5 min after the abandoned one (the old file-to-file rule missed these)
    replay_ms = 20 * 60_000
    replay = _round(T0 + timedelta(seconds=90 + 3) + timedelta(milliseconds=replay_ms),
                    limit="30:00", clock="20:00", play_ms=replay_ms)  # fmt: skip
    assert replay.file.end_time - abandoned.file.end_time > timedelta(minutes=15)
    assert restarted_round1s([abandoned, replay], set()) == {abandoned.file.name}
    reasons, _ = round_reasons([abandoned, replay], ())
    assert reasons[abandoned.file.name] == "restart" and reasons[replay.file.name] is None


def test_a_later_round_1_that_started_after_the_gap_is_not_a_restart() -> None:
    first = _round(T0)
    later_start = T0 + RESTART_GAP + timedelta(minutes=1)
    later = _round(later_start + timedelta(seconds=3, milliseconds=521_460))
    assert restarted_round1s([first, later], set()) == set()


def test_a_round_2_in_between_means_the_map_was_played_not_restarted() -> None:
    first = _round(T0)
    r2 = _round(T0 + timedelta(minutes=2), number=2, limit="8:41", clock="7:52", play_ms=100_000)
    again = _round(T0 + timedelta(minutes=4), play_ms=100_000, clock="1:40")
    # the R2 does not pair with `first` (it is too short to have followed it), yet it was
    # played between them: `first` was not abandoned for a replay
    assert restarted_round1s([first, r2, again], set()) == set()


def test_a_paired_round_1_is_never_a_restart() -> None:
    first = _round(T0)
    again = _round(T0 + timedelta(minutes=12))
    assert restarted_round1s([first, again], {first.file.name}) == set()


def test_a_round1_whose_round2_file_was_lost_counts_when_the_map_is_played_again() -> None:
    """The real 2025-11-11 te_escape2 without its first round 2 (22:23:53): round 1 (1:53
    played) ended 22:21:41 and the map's next round 1 started 22:24:53 — room for a round 2
    of round 1's length and the breaks around it, which is what was played. A round 1 without
    its round 2 is a valid round (STATS_FORMAT §7); it was a `restart`, and status said only
    "not counted: restart 1"."""
    from tests.conftest import REAL

    names = ["2025-11-11-220936-etl_sp_delivery-round-1.txt",
             "2025-11-11-221843-etl_sp_delivery-round-2.txt",
             "2025-11-11-222141-te_escape2-round-1.txt",
             "2025-11-11-222852-te_escape2-round-1.txt",
             "2025-11-11-223323-te_escape2-round-2.txt",
             "2025-11-11-223722-et_brewdog-round-1.txt",
             "2025-11-11-224128-et_brewdog-round-2.txt"]  # fmt: skip
    rounds = [parse_bytes((REAL / n).read_bytes(), n) for n in names]
    reasons, round1_of = round_reasons(rounds, ())
    assert reasons == dict.fromkeys(names)  # every round counts
    assert round1_of["2025-11-11-223323-te_escape2-round-2.txt"] == names[3]


def test_a_replay_sooner_than_a_round2_could_fit_is_a_restart() -> None:
    """The bound: round 1's played time (the longest its round 2 could take) plus the two
    breaks around a round 2 (INTERMISSIONS). A replay starting sooner is a restart; one
    starting later may follow a lost round 2, and the round 1 counts."""
    from etl_duck.domain.counting import INTERMISSIONS

    played = timedelta(milliseconds=521_460)
    for after, restarted in ((played + INTERMISSIONS - timedelta(seconds=5), True),
                             (played + INTERMISSIONS + timedelta(seconds=5), False)):  # fmt: skip
        first = _round(T0)
        short = timedelta(seconds=100)  # the replay's own length, started `after` T0
        again = _round(T0 + after + timedelta(seconds=3) + short, play_ms=100_000, clock="1:40")
        got = restarted_round1s([first, again], set())
        assert got == ({first.file.name} if restarted else set()), after
    # a round 1 as long as the restart gap caps the bound: nothing past it is a restart
    assert played + INTERMISSIONS < RESTART_GAP


# --------------------------------------------------------------------------- rounds that are no game


def _line(guid: str, team: int, minutes: float, damage: int = 0, *, kills: int = 0,
          shots: int = 10, rounds: int = 0) -> str:  # fmt: skip
    """A 38-field player line (§3): one MP40 group (mask 16), X0 damage, X22 minutes."""
    ext = ["0"] * 38
    ext[0], ext[20], ext[22] = str(damage), str(shots), f"{minutes:.1f}"
    for i in (8, 21, 23, 24, 25, 26):
        ext[i] = "0.0"
    return f"{guid}\\Player{guid[:2]}\\{rounds}\\{team}\\16 {shots // 2} {shots} {kills} 0 0 \t" + (
        "\t".join(ext)
    )


def _file(
    end: datetime, number: int, header: str, *lines: str, map_name: str = "supply"
) -> RoundFile:
    """A round file written by hand: 8-field header ``map\\cfg\\N\\H4\\H5\\H6\\H7`` tail."""
    text = f"srv\\{map_name}\\legacy3\\{number}\\{header}\n" + "".join(f"{x}\n" for x in lines)
    return parse_bytes(text.encode(), f"{end:%Y-%m-%d-%H%M%S}-{map_name}-round-{number}.txt")


def _reason(r: RoundFile) -> str | None:
    return round_reasons([r], ())[0][r.file.name]


def test_a_player_alone_on_the_server_is_no_game() -> None:
    """The real 2024-09-11 supply round 1: one player, 15 minutes alone on team 1, no
    damage. Stored, not counted (it made a 1-player session and cut his career DPM)."""
    from etl_duck.domain.parse import parse_head
    from tests.conftest import REAL

    src = REAL / "2024-09-11-212540-supply-round-1.txt"
    r = parse_bytes(src.read_bytes(), src.name)
    assert [(p.team, p.values["time_played_s"]) for p in r.players] == [(1, 900)]
    assert _reason(r) == "one_side"
    assert not parse_head(src.read_bytes(), src.name).players  # links no session


def test_one_side_or_none_is_no_game_and_a_1v1_is_one() -> None:
    t = T0
    held = "1\\1\\12:00\\12:00"
    team1 = [_line(f"A{i}000000", 1, 12.0, 300 * i) for i in range(1, 4)]
    assert _reason(_file(t, 1, held, *team1)) == "one_side"  # three players, one team
    assert _reason(_file(t, 1, held, _line("B1000000", 2, 12.0))) == "one_side"
    # spectators only (team 3): on neither side
    spectators = _file(t, 1, held, _line("S1000000", 3, 0.0), _line("S2000000", 3, 0.0))
    assert _reason(spectators) == "one_side"
    # a player on the other side for under 3 s (X22 0.0) makes no side played
    assert _reason(_file(t, 1, held, *team1, _line("B1000000", 2, 0.0))) == "one_side"
    # one against one is a game
    duel = _file(t, 1, held, _line("A1000000", 1, 12.0, 900), _line("B1000000", 2, 11.9, 700))
    assert duel.two_sided and _reason(duel) is None


def test_a_file_without_any_time_reads_its_sides_from_the_teams() -> None:
    """X22 0.0 on every line (a writer fault reported once, §6.2) says nothing of time:
    players on both teams are a game, as before."""
    r = _file(T0, 1, "1\\1\\12:00\\12:00", _line("A1000000", 1, 0.0), _line("B1000000", 2, 0.0))
    assert _reason(r) is None


def test_a_rejected_line_still_shows_its_side() -> None:
    """The hand-built goldrush file keeps one valid line (team 1); the two team-2 lines are
    rejected for their weapon groups and field count, yet they show the round had two
    sides: it counts with the valid line, as before."""
    from etl_duck.domain.parse import parse_head
    from tests.conftest import FIXTURES

    src = FIXTURES / "2026-03-14-224455-sw_goldrush_te-round-1.txt"
    r = parse_bytes(src.read_bytes(), src.name)
    assert [p.team for p in r.players] == [1] and len(r.rejected) == 3
    assert _reason(r) is None and parse_head(src.read_bytes(), src.name).players


def test_a_one_sided_round1_whose_round2_has_both_sides() -> None:
    """One player alone attacks round 1 (held 12:00); two players join for round 2, which
    is a game: round 1 does not count, round 2 does — paired with round 1 all the same, so
    the lone player's cumulative round-2 line is differenced (his round-2 damage is 500,
    not 600) and the map has no result (the clock was set by nobody's play)."""
    from etl_duck.domain.pairing import RowKind, round_only_rows

    r1 = _file(T0, 1, "1\\1\\12:00\\12:00", _line("A1000000", 2, 12.0, 100, rounds=0))
    r2_end = T0 + timedelta(seconds=300 + 45)
    r2 = _file(
        r2_end,
        2,
        "1\\2\\12:00\\5:00",  # round 2's attackers completed in 5:00
        _line("A1000000", 1, 17.0, 600, rounds=1),  # cumulative: 12 + 5 minutes
        _line("B1000000", 2, 5.0, 800),  # joined for round 2
        _line("C1000000", 2, 5.0, 400),
    )
    reasons, round1_of = round_reasons([r1, r2], ())
    assert reasons == {r1.file.name: "one_side", r2.file.name: None}
    assert round1_of == {r2.file.name: r1.file.name}
    rows = {row.guid: row for row in round_only_rows(r2, r1)}
    assert rows["A1000000"].kind is RowKind.R2_DIFF
    assert (rows["A1000000"].values["damage_given"], rows["A1000000"].values["time_played_s"]) == (
        500,
        300,
    )
    assert rows["B1000000"].kind is RowKind.R2_ONLY


def test_a_one_sided_round2_after_a_game() -> None:
    """The other side left after round 1: round 1 was a game and counts; round 2 is not."""
    r1 = _file(T0, 1, "1\\2\\12:00\\5:00", _line("A1000000", 2, 5.0, 400, rounds=0),
               _line("B1000000", 1, 5.0, 300, rounds=0))  # fmt: skip
    r2 = _file(T0 + timedelta(seconds=300 + 45), 2, "1\\1\\5:00\\5:00",
               _line("A1000000", 1, 10.0, 700, rounds=1))  # fmt: skip
    reasons, round1_of = round_reasons([r1, r2], ())
    assert reasons == {r1.file.name: None, r2.file.name: "one_side"}
    assert round1_of == {r2.file.name: r1.file.name}


def test_a_round1_followed_by_a_one_sided_one_was_not_replayed() -> None:
    """A game's round 1, then one player alone on the same map 5 minutes later (the others
    left): no replay took the first round's place, so it still counts (it was a
    `restart`); the lone round is no game."""
    game = _file(T0, 1, "1\\1\\12:00\\12:00", _line("A1000000", 1, 12.0, 900),
                 _line("B1000000", 2, 12.0, 700))  # fmt: skip
    alone = _file(T0 + timedelta(minutes=5), 1, "1\\1\\12:00\\1:00",
                  _line("A1000000", 2, 1.0, 0))  # fmt: skip
    reasons, _ = round_reasons([game, alone], ())
    assert reasons == {game.file.name: None, alone.file.name: "one_side"}


def test_one_sided_rounds_link_no_evenings_and_count_nowhere(tmp_path: Path) -> None:
    """Two evenings 110 minutes apart with a one-sided round 55 minutes after the first
    and before the second; later a one-sided round alone on another day. Each evening is a
    session of its own (the lone round linked them), the last session is the second evening
    (not the lone round's), `status` names `one_side`, and the lone player has no counted
    row: not in careers, leaderboards or the sessions' counts."""
    from etl_duck.ingest.run import ingest_paths
    from etl_duck.query.stats import NoData, Stats
    from tests.conftest import REAL
    from tests.lakecheck import renamed_pair, table_rows

    files = tmp_path / "files"
    files.mkdir()
    evening1 = renamed_pair(files, "2025-09-30-210000", "2025-09-30-211000", "a")
    evening2 = renamed_pair(files, "2025-09-30-230000", "2025-09-30-231000", "b")
    lone = (REAL / "2024-09-11-212540-supply-round-1.txt").read_bytes()
    alone = []
    for stamp, tag in (("2025-09-30-220500", b"x"), ("2025-10-02-210000", b"y")):
        alone.append(files / f"{stamp}-supply-round-1.txt")
        alone[-1].write_bytes(lone.replace(b"only\\supply", b"only" + tag + b"\\supply", 1))
    data = tmp_path / "data"
    ingest_paths(data, [files])
    rounds = {str(r["file_name"]): r for r in table_rows(data, "rounds")}
    assert {rounds[p.name]["reason"] for p in alone} == {"one_side"}
    sid = {p.name: int(str(rounds[p.name]["session_id"])) for p in (*evening1, *evening2)}
    assert sid[evening1[0].name] == sid[evening1[1].name] != sid[evening2[0].name]
    stats = Stats(data)
    assert stats.status()["excluded"] == {"one_side": 2}
    last = stats.last_session()
    assert last.session_id == sid[evening2[0].name]
    assert last.players.height == 7  # EXPECTED.md §1: lefty:) left after R1, NewKid joined
    listed = stats.sessions()
    assert sorted(listed["session_id"].to_list()) == sorted({*sid.values()})
    assert listed["rounds"].to_list() == [2, 2]
    # the lone round at 22:05 joined the first evening (within the gap after it) but was
    # no round of it: the evening still ends with its round 2 at 21:10
    (first,) = listed.filter(listed["session_id"] == sid[evening1[0].name]).iter_rows(named=True)
    assert rounds[alone[0].name]["session_id"] == first["session_id"]
    assert first["end_time"] == datetime(2025, 9, 30, 21, 10)
    report = stats.session_by_id(int(first["session_id"]), first["session_date"])
    assert report.end_time == datetime(2025, 9, 30, 21, 10)  # the digest's and /session's
    from etl_duck.site.pages import _round_rows

    assert [r["file_name"] for r in _round_rows(report)] == [p.name for p in evening1]  # site
    with pytest.raises(NoData):  # the lone round's day has no session to show
        stats.session(date(2025, 10, 2))
    his = [r for r in table_rows(data, "player_rounds") if r["guid"] == "FDA127DF"]
    assert len(his) == 2 and not any(r["counted"] for r in his)
    assert "FDA127DF" not in stats.player_totals(stats.resolve_window("all"))["guid"].to_list()
    with pytest.raises(NoData):  # no counted round: no career card
        stats.player("FDA127DF")
