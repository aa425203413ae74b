"""Sessions: regrouping only around new rounds equals grouping the whole history.

Ingest regroups just the sessions within the gap of a batch's rounds (so a live commit does
not touch 10 years of rounds). These properties check it against ``group_sessions`` over
everything, for random histories split into random batches, including re-sent rounds whose
start changed (a partial file that grew) and rounds that bridge two sessions.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_duck.domain.sessions import RoundTime, Session, group_sessions
from etl_duck.ingest import state
from etl_duck.ingest.state import regroup_sessions, round_index_rows
from etl_duck.lake.schemas import ROUND_INDEX_SCHEMA

GAP = 60
BASE = datetime(2025, 12, 29, 20, 0)  # six days from here cross a New Year


def _by_date(sessions: list[Session]) -> dict[date, set[Session]]:
    out: dict[date, set[Session]] = defaultdict(set)
    for s in sessions:
        out[s.session_date].add(s)
    return out


rounds_strategy = st.lists(
    st.tuples(
        st.integers(0, 60 * 24 * 6),  # end: minutes after BASE (six days: midnights, gaps)
        st.integers(0, 40 * 60),  # duration in seconds (up to 40 min: starts before midnight)
        st.integers(0, 7),  # batch
        st.booleans(),  # re-sent later with a shorter duration (a partial file that grew)
        st.sampled_from([True, True, True, False]),  # players (False: header only, idle)
        st.sampled_from([False, False, False, True]),  # taken out later (a dismissal)
    ),
    min_size=1,
    max_size=40,
)


@pytest.mark.parametrize("few", [0, 1000], ids=["sorted-index", "scan-per-round"])
@settings(max_examples=150, deadline=None)
@given(rounds_strategy)
def test_regrouping_around_new_rounds_equals_grouping_everything(
    few: int, spec: list[tuple[int, int, int, bool, bool, bool]]
) -> None:
    # both ways of finding a new round's neighbours: a sort of the index (large batches),
    # one scan per new round (a live commit's few rounds)
    saved, state._FEW_ROUNDS = state._FEW_ROUNDS, few
    try:
        _check_regrouping(spec)
    finally:
        state._FEW_ROUNDS = saved


#: the hours Berlin's clock jumps forward (2026-03-29) and back (2025-10-26), from 01:00
CLOCK_CHANGES = (datetime(2026, 3, 29, 1, 0), datetime(2025, 10, 26, 1, 0))


@pytest.mark.parametrize("gap", [30, 60])
@pytest.mark.parametrize("change", CLOCK_CHANGES, ids=["spring", "autumn"])
@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 180),  # minutes after 01:00: the changing hour and around it
            st.integers(0, 20 * 60),
            st.integers(0, 3),
            st.booleans(),
            st.sampled_from([True, True, True, False]),
            st.sampled_from([False, False, False, True]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_regrouping_across_a_clock_change_equals_grouping_everything(
    gap: int, change: datetime, spec: list[tuple[int, int, int, bool, bool, bool]]
) -> None:
    """With the server's zone, gaps are read on the absolute clock (a name the jump skipped
    reads as the jump's instant, the repeated hour both ways): still, a live regroup equals
    grouping everything, including with a gap setting under an hour."""
    _check_regrouping(spec, base=change, gap=gap, timezone="Europe/Berlin")


def _check_regrouping(
    spec: list[tuple[int, int, int, bool, bool, bool]],
    *,
    base: datetime = BASE,
    gap: int = GAP,
    timezone: str | None = None,
) -> None:
    batches: dict[int, dict[str, RoundTime]] = defaultdict(dict)
    outs: dict[int, set[str]] = defaultdict(set)
    for i, (minute, duration, batch, resend, players, out) in enumerate(spec):
        end = base + timedelta(minutes=minute, seconds=i)  # unique end times
        name = f"{end:%Y-%m-%d-%H%M%S}-map{i}-round-1.txt"
        rt = RoundTime(name, end, end - timedelta(seconds=duration + 3), players)
        batches[batch][name] = rt
        if resend:  # the same round again, later, with a different start
            batches[batch + 1][name] = RoundTime(
                name, end, end - timedelta(seconds=duration // 2), players
            )
        if out:  # taken out two batches later, unless it came again then
            outs[batch + 2].add(name)
    index = ROUND_INDEX_SCHEMA.empty_table()
    seen: dict[str, RoundTime] = {}
    for b in sorted(batches.keys() | outs.keys()):
        new = batches[b]
        gone = {n for n in outs[b] if n in seen and n not in new}
        before = _by_date(group_sessions(seen.values(), gap, timezone))
        seen.update(new)
        for n in gone:
            del seen[n]
        everything = group_sessions(seen.values(), gap, timezone)
        after = _by_date(everything)

        result = regroup_sessions(index, new, gap, removed=gone, timezone=timezone)

        # every date whose sessions changed is rebuilt, with exactly its sessions
        changed = {d for d in before.keys() | after.keys() if before.get(d) != after.get(d)}
        assert changed <= result.affected
        assert _by_date(result.sessions) == {d: after[d] for d in result.affected if d in after}
        keep = pc.invert(pc.is_in(index["file_name"], pa.array(sorted(result.index_drop))))
        index = pa.concat_tables([index.filter(keep), result.index_rows]).sort_by("file_name")
        assert index.equals(round_index_rows(everything, seen))


def test_a_round_between_two_sessions_merges_them() -> None:
    def rt(name: str, minute: int) -> RoundTime:
        end = BASE + timedelta(minutes=minute)
        return RoundTime(name, end, end - timedelta(minutes=10))

    first = {"a": rt("a", 0), "b": rt("b", 20)}
    second = {"c": rt("c", 130), "d": rt("d", 150)}  # 110 min after b: another session
    sessions = group_sessions({**first, **second}.values(), GAP)
    assert len(sessions) == 2
    index = round_index_rows(sessions, {**first, **second})
    result = regroup_sessions(index, {"x": rt("x", 75)}, GAP)  # within 60 min of b and c
    assert [s.rounds for s in result.sessions] == [("a", "b", "x", "c", "d")]
    assert result.index_drop == {"a", "b", "c", "d", "x"}


@pytest.mark.parametrize("few", [0, 1000], ids=["sorted-index", "scan-per-round"])
def test_a_round_exactly_one_gap_away_joins_the_session_one_second_more_does_not(
    few: int,
) -> None:
    """The gap is inclusive on both sides, however the neighbours are found."""
    saved, state._FEW_ROUNDS = state._FEW_ROUNDS, few
    try:
        for offset, joins in ((-GAP * 60, True), (GAP * 60, True), (GAP * 60 + 1, False),
                              (-GAP * 60 - 1, False)):  # fmt: skip
            old = RoundTime("old", BASE, BASE - timedelta(minutes=10))
            index = round_index_rows(group_sessions([old], GAP), {"old": old})
            end = BASE + timedelta(seconds=offset)
            new = RoundTime("new", end, end - timedelta(minutes=10) if offset > 0 else end)
            result = regroup_sessions(index, {"new": new}, GAP)
            together = next(s.rounds for s in result.sessions if "new" in s.rounds)
            assert ("old" in together) == joins, offset
    finally:
        state._FEW_ROUNDS = saved


def test_an_evening_that_opens_with_a_cut_round_is_dated_by_its_own_day(
    tmp_path: Path,
) -> None:
    """A round the header shows was cut (c0rnp0rn8: H8 < 0) lasted an unknown part of its
    limit: its start is its end, not a whole limit earlier — which dated an evening that
    opened with one just after midnight on the day before (§8, §2: "otherwise unknown")."""
    from etl_duck.ingest.run import ingest_paths
    from tests.conftest import FIXTURES
    from tests.lakecheck import table_rows

    files = tmp_path / "files"
    files.mkdir()
    renamed = {
        "2026-03-14-230004-etl_sp_delivery-round-2.txt": "2026-03-15-000500-etl_sp_delivery-round-2.txt",
        "2026-03-14-213512-supply-round-1.txt": "2026-03-15-002000-supply-round-1.txt",
        "2026-03-14-214449-supply-round-2.txt": "2026-03-15-003000-supply-round-2.txt",
    }
    for old, new in renamed.items():
        (files / new).write_bytes((FIXTURES / old).read_bytes())
    data = tmp_path / "data"
    ingest_paths(data, [files])
    rounds = table_rows(data, "rounds")
    assert {str(r["session_date"]) for r in rounds} == {"2026-03-15"}
    (cut,) = [r for r in rounds if r["file_status"] == "interrupted"]
    assert cut["start_time"] == datetime(2026, 3, 15, 0, 4, 57)  # its end − 3 s
    assert {r["session_id"] for r in rounds} == {20260315000457}


def test_the_hour_the_clock_jumps_forward_splits_no_session(tmp_path: Path) -> None:
    """On 2026-03-29 Berlin's clock goes from 02:00 to 03:00: a round 2 ending ten minutes
    after its round 1 (01:58) is named 03:08. The names are 70 minutes apart, more than the
    gap: without the server's zone that was two sessions and an orphan round 2."""
    from etl_duck.ingest.run import ingest_paths
    from tests.conftest import FIXTURES
    from tests.lakecheck import content_digest, table_rows

    r1 = RoundTime(
        "2026-03-29-015800-supply-round-1.txt",
        datetime(2026, 3, 29, 1, 58),
        datetime(2026, 3, 29, 1, 49),
    )
    r2 = RoundTime(
        "2026-03-29-030800-supply-round-2.txt",
        datetime(2026, 3, 29, 3, 8),
        datetime(2026, 3, 29, 3, 0),
    )
    assert len(group_sessions([r1, r2], 60)) == 2  # the names alone
    assert len(group_sessions([r1, r2], 60, "Europe/Berlin")) == 1
    assert len(group_sessions([r1, r2], 60, "UTC")) == 2  # no jump there

    files = tmp_path / "files"
    files.mkdir()
    (files / r1.name).write_bytes((FIXTURES / "2026-03-14-213512-supply-round-1.txt").read_bytes())
    (files / r2.name).write_bytes((FIXTURES / "2026-03-14-214449-supply-round-2.txt").read_bytes())
    data = tmp_path / "data"
    ingest_paths(data, [files])  # the default zone: Europe/Berlin
    rounds = {r["file_name"]: r for r in table_rows(data, "rounds")}
    assert len({r["session_id"] for r in rounds.values()}) == 1
    assert rounds[r2.name]["counted"] and rounds[r2.name]["paired_round_id"] is not None
    # live, one file per commit: the round 2's regroup reaches the round 1 70 names away
    live = tmp_path / "live"
    ingest_paths(live, [files / r1.name])
    ingest_paths(live, [files / r2.name])
    assert content_digest(live) == content_digest(data)


def test_a_name_in_the_repeated_autumn_hour_is_read_as_an_evening_reads(tmp_path: Path) -> None:
    """On 2025-10-26 Berlin's 02:00-03:00 happens twice: a round 1 named 02:50 on its
    second pass and its round 2 at 03:05 are 15 minutes apart, not 75 (the first pass's
    reading): one session, paired — as with no zone at all."""
    from etl_duck.domain.sessions import clock_gap
    from etl_duck.ingest.run import ingest_paths
    from tests.conftest import FIXTURES
    from tests.lakecheck import table_rows

    gap = clock_gap("Europe/Berlin")
    assert gap(datetime(2025, 10, 26, 2, 50), datetime(2025, 10, 26, 3, 5)) == timedelta(minutes=15)
    assert gap(datetime(2025, 10, 26, 2, 55), datetime(2025, 10, 26, 2, 4)) == timedelta(minutes=9)
    assert gap(datetime(2025, 7, 1, 20, 0), datetime(2025, 7, 1, 21, 0)) == timedelta(hours=1)
    files = tmp_path / "files"
    files.mkdir()
    r1, r2 = "2025-10-26-025000-supply-round-1.txt", "2025-10-26-030500-supply-round-2.txt"
    (files / r1).write_bytes((FIXTURES / "2026-03-14-213512-supply-round-1.txt").read_bytes())
    (files / r2).write_bytes((FIXTURES / "2026-03-14-214449-supply-round-2.txt").read_bytes())
    data = tmp_path / "data"
    ingest_paths(data, [files])
    rounds = {r["file_name"]: r for r in table_rows(data, "rounds")}
    assert len({r["session_id"] for r in rounds.values()}) == 1
    assert rounds[r2]["counted"] and rounds[r2]["paired_round_id"] is not None


def test_a_name_the_spring_jump_skipped_keeps_its_neighbours_apart() -> None:
    """01:50, 02:30 (a name that does not exist on 2026-03-29 in Berlin: a wrong zone) and
    03:10 with a 30-minute gap: touching or taking out the middle round regroups as
    grouping everything does (read both ways, 02:30 brought 01:50 and 03:10 closer to each
    other than to it, and a live regroup merged sessions the whole grouping keeps apart)."""
    zone = "Europe/Berlin"

    def rt(hour: int, minute: int) -> RoundTime:
        end = datetime(2026, 3, 29, hour, minute)
        return RoundTime(f"{end:%Y-%m-%d-%H%M%S}-supply-round-1.txt", end, end)

    rounds = {r.name: r for r in (rt(1, 50), rt(2, 30), rt(3, 10))}
    everything = group_sessions(rounds.values(), 30, zone)
    index = round_index_rows(everything, rounds)
    middle = rt(2, 30).name
    touched = regroup_sessions(index, {}, 30, touched={middle}, timezone=zone)
    assert _by_date(touched.sessions) == _by_date(everything)
    rest = {n: r for n, r in rounds.items() if n != middle}
    gone = regroup_sessions(index, {}, 30, removed={middle}, timezone=zone)
    assert _by_date(gone.sessions) == _by_date(group_sessions(rest.values(), 30, zone))


def _idle(end: datetime) -> RoundTime:
    return RoundTime(f"{end:%Y-%m-%d-%H%M%S}-supply-round-1.txt", end, end, players=False)


def _played(end: datetime, minutes: int = 10) -> RoundTime:
    name = f"{end:%Y-%m-%d-%H%M%S}-goldrush-round-1.txt"
    return RoundTime(name, end, end - timedelta(minutes=minutes))


def test_idle_rounds_never_join_two_evenings() -> None:
    """An idle server writes a header-only round for every map that times out, all day.
    Those rounds never link rounds with players into one session, and an evening's date,
    start and end are its played rounds'; an idle round next to an evening (before its first
    round or after its last, within the gap) belongs to it, any other is a session alone."""
    day1 = datetime(2025, 10, 1, 21, 0)
    evening1 = [_played(day1), _played(day1 + timedelta(minutes=12))]
    # every 13 minutes from 10 minutes after the first evening to the next evening
    idle = [_idle(day1 + timedelta(minutes=22 + 13 * k)) for k in range(110)]
    day2 = idle[-1].end_time + timedelta(minutes=13)
    evening2 = [_played(day2), _played(day2 + timedelta(minutes=11))]
    sessions = group_sessions([*evening1, *idle, *evening2], gap_minutes=GAP)
    with_players = [s for s in sessions if len(s.rounds) > 1]
    assert len(with_players) == 2
    first, second = with_players
    assert first.start_time == evening1[0].start_time
    assert first.end_time == evening1[-1].end_time  # an idle round after it does not extend it
    assert first.rounds[:2] == tuple(r.name for r in evening1)
    assert set(first.rounds[2:]) == {
        r.name for r in idle if r.end_time - day1 <= timedelta(minutes=72)
    }
    assert (second.start_time, second.session_date) == (evening2[0].start_time, day2.date())
    assert second.end_time == evening2[-1].end_time
    # the idle rounds within the gap before the second evening open it (a round 2 may follow)
    before = [r.name for r in idle if day2 - r.end_time <= timedelta(minutes=GAP)]
    assert len(before) == 4 and second.rounds[: len(before)] == tuple(before)
    alone = [s for s in sessions if len(s.rounds) == 1]
    assert len(alone) == len(idle) - len(first.rounds[2:]) - len(before)
    assert all(s.start_time == s.end_time for s in alone)


def test_idle_rounds_alone_are_sessions_of_their_own() -> None:
    t = datetime(2025, 10, 1, 3, 0)
    sessions = group_sessions([_idle(t), _idle(t + timedelta(minutes=13))], gap_minutes=GAP)
    assert [len(s.rounds) for s in sessions] == [1, 1]


def test_an_older_writers_round2_with_the_clock_artefact_starts_at_its_end() -> None:
    """An older writer's round 1 cut by the shutdown path is saved as round 2 with the clock
    artefact (H7 > H6, §7.1): it lasted an unknown part of its limit, so its start is its
    end — a whole limit earlier, an evening opening with one just after midnight was dated
    the day before. A complete round 2 with the artefact starts there too (its round 1 comes
    first in its session, so its own start never dates it)."""
    from etl_duck.domain.parse import parse_head
    from etl_duck.ingest.build import round_time
    from tests.conftest import REAL

    head = (REAL / "2025-10-02-213333-supply-round-1.txt").read_bytes().split(b"\n")[0]
    assert head.endswith(b"\\1\\1\\2\\12:00\\9:41")  # 8 fields: an older writer
    cut = head.replace(b"\\1\\1\\2\\12:00\\9:41", b"\\2\\1\\2\\12:00\\71:05") + b"\n"
    name = "2025-10-04-000500-supply-round-2.txt"
    rh = parse_head(cut, name)
    assert rh.header.play_time_ms is None and rh.header.time_limit_artefact
    rt = round_time(rh.file, rh.header)
    assert rt.start_time == rt.end_time - timedelta(seconds=3)  # not 12 minutes earlier
    assert rt.start_time.date().isoformat() == "2025-10-04"
    # the round 1 it came from (no artefact) starts a duration before its end
    r1 = parse_head(head + b"\n", "2025-10-04-002200-supply-round-1.txt")
    t1 = round_time(r1.file, r1.header)
    assert t1.end_time - t1.start_time == timedelta(minutes=9, seconds=41 + 3)


def test_an_idle_round_moves_to_the_next_evening_when_its_own_is_taken_out() -> None:
    """A played round at 20:00, an idle one at 20:50 (its evening: within the gap after it)
    and a played one at 21:45. Dismiss the first: the idle round now lies within the gap
    before 21:45 and belongs to that evening — live, as a regroup of everything says."""
    _check_regrouping(
        [
            (0, 600, 0, False, True, True),  # played, taken out two batches later
            (50, 0, 0, False, False, False),  # idle
            (105, 600, 0, False, True, False),  # played
        ]
    )


# --------------------------------------------------------------------------- a map's play time


def test_a_maps_play_time_counts_a_held_round2(tmp_path: Path) -> None:
    """2025-11-11 (8-field headers): each map's play time is round 1 + round 2, a held
    round 2 lasting the clock round 1 set (H6). Expected values read from the headers by
    hand (STATS_FORMAT §2): R1 completed → H7, R1 held → H6, R2 beat the clock → H7, R2
    held → H6. Seven of the ten maps left their held round 2 out (adlernest showed 411)."""
    from etl_duck.ingest.run import ingest_paths
    from etl_duck.query.stats import Stats
    from tests.conftest import REAL

    data = tmp_path / "data"
    ingest_paths(data, sorted(REAL.glob("2025-11-11-*-round-*.txt")))
    maps = Stats(data).session(date(2025, 11, 11)).maps
    want = [
        ("etl_adlernest", 411 + 411),  # R1 6:51 set; R2 held 6:51
        ("supply", 720 + 720),  # R1 held 12:00; R2 held 12:00
        ("etl_sp_delivery", 720 + 498),  # R1 held 12:00; R2 beat it in 8:18
        ("te_escape2", 113 + 113),  # 1:53 set; held
        ("te_escape2", 236 + 232),  # 3:56 set; beaten in 3:52
        ("et_brewdog", 175 + 175),  # 2:55; held
        ("sw_goldrush_te", 720 + 720),  # held; held
        ("etl_frostbite", 217 + 149),  # 3:37; beaten in 2:29
        ("erdenberg_t2", 283 + 283),  # 4:43; held
        ("braundorf_b4", 275 + 275),  # 4:35; held
    ]
    assert list(zip(maps["map_name"], maps["play_time_s"], strict=True)) == want


def test_a_paired_round2_with_the_clock_artefact_lasts_its_clock(tmp_path: Path) -> None:
    """An older writer's held round 2 whose H7 is the artefact (H7 > H6): its round 1 found,
    it is a complete round 2 and lasted H6; alone (no round 1: the pairing takes it for a
    round 1 cut and saved as round 2, §7.1) its length stays unknown."""
    from etl_duck.ingest.run import ingest_paths
    from tests.conftest import REAL
    from tests.lakecheck import table_rows

    r1 = REAL / "2025-11-11-214627-supply-round-1.txt"
    r2 = REAL / "2025-11-11-215843-supply-round-2.txt"
    data = r2.read_bytes()
    assert b"\\12:00\\12:00\n" in data  # held, H7 = H6 (no artefact in the real file)
    artefact = data.replace(b"\\12:00\\12:00\n", b"\\12:00\\79:20\n", 1)
    paired = tmp_path / "paired"
    paired.mkdir()
    (paired / r1.name).write_bytes(r1.read_bytes())
    (paired / r2.name).write_bytes(artefact)
    ingest_paths(tmp_path / "a", [paired])
    rounds = {str(r["file_name"]): r for r in table_rows(tmp_path / "a", "rounds")}
    assert rounds[r2.name]["paired_round_id"] is not None and rounds[r2.name]["counted"]
    assert rounds[r2.name]["duration_s"] == 720.0
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / r2.name).write_bytes(artefact)
    ingest_paths(tmp_path / "b", [alone])
    (row,) = table_rows(tmp_path / "b", "rounds")
    assert not row["counted"] and row["duration_s"] is None
