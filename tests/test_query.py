"""Golden tests: every query against values computed independently from the ground truth.

The expected numbers are computed here in plain Python from the generator's `Truth` (what
it really wrote), never with the project's SQL or metric code.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from etl_duck.domain.fields import WEAPONS
from etl_duck.domain.metrics import METRICS
from etl_duck.query.stats import Stats
from etl_duck.query.windows import Window
from etl_duck.synth import Truth, TruthPlayerRound

WEAPON_GRENADE = 11


def _counted(truth: Truth) -> list[TruthPlayerRound]:
    return list(truth.counted_rows())


def _expected_totals(rows: list[TruthPlayerRound]) -> dict[str, dict[str, Any]]:
    acc: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        a = acc[r.guid]
        v = r.values
        a["rounds"] += 1
        for f in ("kills", "deaths", "damage_given", "team_damage_given", "time_played_s", "hits",
                  "shots", "headshot_kills", "revives_given", "gibs"):  # fmt: skip
            a[f] += v[f]
        a["dpm_damage"] += v["damage_given"] if v["time_played_s"] > 0 else 0
        a["objectives"] += v["dynamites_planted"] + v["dynamites_defused"]
        a["multikills"] += sum(v[f"multikill_{i}"] for i in range(2, 7))
        a["grenade_kills"] += r.weapons.get(WEAPON_GRENADE, (0, 0, 0, 0, 0))[2]
    out: dict[str, dict[str, float | int | None]] = {}
    for guid, a in acc.items():
        k, d, t = a["kills"], a["deaths"], a["time_played_s"]
        out[guid] = {
            "kills": k,
            "kd": k / d if d else float(k),
            "dpm": a["dpm_damage"] * 60 / t if t else None,
            "accuracy": 100 * a["hits"] / a["shots"] if a["shots"] else None,
            "headshot_rate": 100 * a["headshot_kills"] / k if k else None,
            "games": a["rounds"],
            "revives": a["revives_given"],
            "gibs": a["gibs"],
            "objectives": a["objectives"],
            "efficiency": 100 * k / (k + d) if k + d else None,
            "teamwork": 100 * a["team_damage_given"] / (a["damage_given"] + a["team_damage_given"])
            if a["damage_given"] + a["team_damage_given"]
            else None,
            "multikills": a["multikills"],
            "grenade_kills": a["grenade_kills"],
            "rounds": a["rounds"],
        }
    return out


@pytest.fixture
def lake(synthetic_lake: tuple[Path, Truth]) -> tuple[Stats, Truth]:
    data, truth = synthetic_lake
    return Stats(data, min_rounds=0), truth


def _session_dates(truth: Truth) -> dict[int, date]:
    """Each evening's date: the start (end − duration − 3 s) of its first round."""
    starts: dict[int, Any] = {}
    for r in truth.rounds:
        start = r.end_time - timedelta(seconds=r.duration_s + 3)
        if r.session_index not in starts or start < starts[r.session_index]:
            starts[r.session_index] = start
    return {i: s.date() for i, s in starts.items()}


@pytest.mark.parametrize("metric", list(METRICS))
def test_all_time_leaderboards(lake: tuple[Stats, Truth], metric: str) -> None:
    stats, truth = lake
    expected = _expected_totals(_counted(truth))
    board = stats.leaderboard(metric, "all", limit=10_000, min_rounds=0)
    got = {r["guid"]: r["value"] for r in board.iter_rows(named=True)}
    want = {g: v[metric] for g, v in expected.items() if v[metric] is not None}
    assert set(got) == set(want)
    for guid, value in want.items():
        assert got[guid] == pytest.approx(value, rel=1e-9), (metric, guid)
    values = board["value"].to_list()
    descending = METRICS[metric].descending
    assert values == sorted(values, reverse=descending)
    assert board["rank"].to_list() == list(range(1, board.height + 1))


def test_minimum_sample_threshold(lake: tuple[Stats, Truth]) -> None:
    stats, truth = lake
    expected = _expected_totals(_counted(truth))
    board = stats.leaderboard("dpm", "all", limit=10_000, min_rounds=50)
    assert set(board["guid"]) == {g for g, v in expected.items() if v["rounds"] >= 50}


def test_date_range_window(lake: tuple[Stats, Truth]) -> None:
    stats, truth = lake
    dates = _session_dates(truth)
    lo, hi = sorted(set(dates.values()))[5], sorted(set(dates.values()))[20]
    files = {r.file_name for r in truth.rounds if lo <= dates[r.session_index] <= hi}
    expected = _expected_totals([r for r in _counted(truth) if r.file_name in files])
    board = stats.leaderboard("kills", f"{lo}..{hi}", limit=10_000, min_rounds=0)
    assert {r["guid"]: r["value"] for r in board.iter_rows(named=True)} == {
        g: v["kills"] for g, v in expected.items()
    }


def test_month_and_week_windows_are_calendar_periods(lake: tuple[Stats, Truth]) -> None:
    stats, truth = lake
    last = max(_session_dates(truth).values())
    month = stats.resolve_window("month")
    assert (month.date_from, month.date_to.month) == (last.replace(day=1), last.month)
    assert (month.date_to + timedelta(days=1)).day == 1
    week = stats.resolve_window("week")
    assert week.date_from.weekday() == 0 and week.date_from <= last <= week.date_to
    season = stats.resolve_window("season")
    assert season.date_from.month in (1, 4, 7, 10) and season.date_from <= last <= season.date_to


def test_sessions_list(lake: tuple[Stats, Truth]) -> None:
    stats, truth = lake
    df = stats.sessions()
    assert df.height == len({r.session_index for r in truth.rounds})
    dates = _session_dates(truth)
    assert sorted(df["session_date"].to_list()) == sorted(dates.values())
    counted_by_evening: dict[int, int] = defaultdict(int)
    for r in truth.rounds:
        counted_by_evening[r.session_index] += r.kind == "normal"
    by_date = {d: counted_by_evening[i] for i, d in dates.items()}
    for row in df.iter_rows(named=True):
        assert row["rounds"] == by_date[row["session_date"]]
    month = f"{max(dates.values()):%Y-%m}"
    assert stats.sessions(month).height == sum(1 for d in dates.values() if f"{d:%Y-%m}" == month)


def test_last_session_players_maps_and_dpm(lake: tuple[Stats, Truth]) -> None:
    stats, truth = lake
    last = max(r.session_index for r in truth.rounds)
    files = {r.file_name for r in truth.rounds if r.session_index == last}
    rows = [r for r in _counted(truth) if r.file_name in files]
    expected = _expected_totals(rows)
    rep = stats.last_session()
    assert rep.session_date == _session_dates(truth)[last]
    got = {r["guid"]: r for r in rep.players.iter_rows(named=True)}
    assert set(got) == set(expected)
    for guid, e in expected.items():
        assert got[guid]["kills"] == e["kills"]
        assert got[guid]["dpm"] == pytest.approx(e["dpm"])
    # per-map DPM timeline: Σdamage·60/Σown seconds per match
    kinds = {r.file_name: r for r in truth.rounds}
    normal = [kinds[f] for f in files if kinds[f].kind == "normal"]
    assert rep.maps.height == len({(r.map_name, r.end_time) for r in normal if r.round_number == 1})
    t = rep.dpm_timeline
    for guid in list(expected)[:3]:
        mine = [r for r in rows if r.guid == guid]
        dmg = sum(r.values["damage_given"] for r in mine if r.values["time_played_s"] > 0)
        secs = sum(r.values["time_played_s"] for r in mine)
        per_match = t.filter(t["guid"] == guid)
        assert per_match["damage_given"].sum() == sum(r.values["damage_given"] for r in mine)
        assert per_match["time_played_s"].sum() == secs
        assert dmg * 60 / secs == pytest.approx(got[guid]["dpm"])


def _mostly(group: set[str], team: frozenset[str]) -> bool:
    return 2 * len(group & team) > len(group)


def test_stopwatch_score_follows_the_truth(lake: tuple[Stats, Truth]) -> None:
    """Outcomes per map; every player who played on a team in exactly one of the two
    teams; and a map's points for the teams only where the truth's winners are mostly one
    team and its losers mostly the other (the generator redrafts teams during an evening:
    a reshuffled map is nobody's points — it once went to whichever team the vote
    leaned to)."""
    stats, truth = lake
    rows: dict[str, list[TruthPlayerRound]] = defaultdict(list)
    for row in truth.counted_rows():
        rows[row.file_name].append(row)
    for idx in sorted({r.session_index for r in truth.rounds})[-5:]:
        evening = sorted(
            (r for r in truth.rounds if r.session_index == idx and r.kind == "normal"),
            key=lambda r: r.end_time,
        )
        outcomes: list[str] = []
        sides: list[tuple[set[str], set[str], bool]] = []  # (winners, losers, drawn)
        for r1, r2 in itertools.pairwise(evening):
            if r1.round_number == 1 and r2.round_number == 2 and r1.map_name == r2.map_name:
                # round-1 attackers defend round 2; who played both sides is on neither
                first = {p.guid for p in rows[r1.file_name] if p.team != r1.defender_side}
                first |= {p.guid for p in rows[r2.file_name] if p.team == r2.defender_side}
                second = {p.guid for p in rows[r1.file_name] if p.team == r1.defender_side}
                second |= {p.guid for p in rows[r2.file_name] if p.team != r2.defender_side}
                first, second = first - second, second - first
                if r2.winner_side != r2.defender_side:
                    outcomes.append("beat the clock")
                    sides.append((second, first, False))
                elif r1.winner_side != r1.defender_side:
                    outcomes.append("clock held")
                    sides.append((first, second, False))
                else:
                    outcomes.append("double fullhold")
                    sides.append((first, second, True))
        rep = stats.session(_session_dates(truth)[idx])
        assert rep.maps.drop_nulls("outcome")["outcome"].to_list() == outcomes
        assert rep.teams is not None
        a, b = rep.teams
        assert not (a.guids & b.guids)
        played = {p.guid for r in evening for p in rows[r.file_name]}
        assert played <= a.guids | b.guids  # nobody left out (a tied vote once was)
        expected = [0, 0]
        for won, lost, drawn in sides:
            for i, (mine, theirs) in enumerate(((a.guids, b.guids), (b.guids, a.guids))):
                if _mostly(won, mine) and _mostly(lost, theirs):
                    expected[i] += 1 if drawn else 2
                    if drawn:
                        expected[1 - i] += 1
        assert [a.points, b.points] == expected, rep.session_date


def test_player_card(lake: tuple[Stats, Truth]) -> None:
    stats, truth = lake
    counted = _counted(truth)
    expected = _expected_totals(counted)
    guid = max(expected, key=lambda g: expected[g]["rounds"])
    card = stats.player(guid)
    assert card.guid == guid
    assert card.totals["kills"] == expected[guid]["kills"]
    assert card.totals["dpm"] == pytest.approx(expected[guid]["dpm"])
    mine = [r for r in counted if r.guid == guid]
    weapon_kills: dict[int, int] = defaultdict(int)
    for r in mine:
        for wid, g in r.weapons.items():
            weapon_kills[wid] += g[2]
    top = card.weapons.row(0, named=True)
    assert top["kills"] == max(weapon_kills.values())
    names = {r.name for r in truth.player_rounds if r.guid == guid}
    assert set(card.aliases["name"]) == names
    ends = {r.file_name: r.end_time for r in truth.rounds}
    latest = sorted((ends[r.file_name] for r in mine), reverse=True)[:5]
    assert card.last_rounds["end_time"].to_list() == latest
    per_map: dict[str, int] = defaultdict(int)
    maps = {r.file_name: r.map_name for r in truth.rounds}
    for r in mine:
        per_map[maps[r.file_name]] += r.values["kills"]
    assert dict(zip(card.maps["map_name"], card.maps["kills"], strict=True)) == per_map


def test_every_players_last_rounds(lake: tuple[Stats, Truth]) -> None:
    """Last rounds come from per-session tails: right for players whose newest session
    holds fewer than five rounds too (the five then span several sessions)."""
    stats, truth = lake
    ends = {r.file_name: r.end_time for r in truth.rounds}
    by_player: dict[str, list[Any]] = defaultdict(list)
    for r in _counted(truth):
        by_player[r.guid].append(ends[r.file_name])
    spanning = 0
    for guid, mine in by_player.items():
        latest = sorted(mine, reverse=True)[:5]
        card = stats.player(guid)
        assert card.last_rounds["end_time"].to_list() == latest, guid
        spanning += len({t.date() for t in latest}) > 1
    assert spanning > 0  # some cards do span sessions


def test_weapon_stats_all_time_and_a_month(lake: tuple[Stats, Truth]) -> None:
    stats, truth = lake
    counted = _counted(truth)
    guid = max(_expected_totals(counted), key=lambda g: _expected_totals(counted)[g]["rounds"])
    month = stats.resolve_window("month")
    days = _session_dates(truth)
    day_of = {r.file_name: days[r.session_index] for r in truth.rounds}

    def everything(r: TruthPlayerRound) -> bool:
        return True

    def this_month(r: TruthPlayerRound) -> bool:
        return month.date_from <= day_of[r.file_name] <= month.date_to

    windows: tuple[tuple[str | Window, Callable[[TruthPlayerRound], bool]], ...] = (
        ("all", everything),
        (month, this_month),
    )
    for window, keep in windows:
        kills: dict[str, int] = defaultdict(int)
        shots: dict[str, int] = defaultdict(int)
        for r in counted:
            if r.guid == guid and keep(r):
                for wid, g in r.weapons.items():
                    kills[WEAPONS[wid]] += g[2]
                    shots[WEAPONS[wid]] += g[1]
        got = stats.weapon_stats(guid, window)
        assert dict(zip(got["weapon"], got["kills"], strict=True)) == kills
        assert dict(zip(got["weapon"], got["shots"], strict=True)) == shots
        assert got["kills"].to_list() == sorted(got["kills"].to_list(), reverse=True)


def test_find_player_by_guid_prefix_alias_and_typo(lake: tuple[Stats, Truth]) -> None:
    stats, truth = lake
    humans = [r for r in truth.player_rounds if not r.is_bot]
    target = max({r.guid for r in humans}, key=lambda g: sum(1 for r in humans if r.guid == g))
    name = next(r.name for r in reversed(humans) if r.guid == target)
    assert stats.resolve_player(target[:6])[0] == target
    assert stats.resolve_player(name.upper())[0] == target
    if len(name) >= 5:
        typo = name[:-1] + ("x" if name[-1] != "x" else "y")
        assert target in stats.find_player(typo)["guid"].to_list()


def test_compare_two_players(lake: tuple[Stats, Truth]) -> None:
    stats, truth = lake
    expected = _expected_totals(_counted(truth))
    a, b = sorted(expected, key=lambda g: -int(expected[g]["rounds"] or 0))[:2]
    df = stats.compare(a, b)
    assert df["guid"].to_list() == [a, b]
    assert df["kills"].to_list() == [expected[a]["kills"], expected[b]["kills"]]


def test_status_counts_the_reasons(lake: tuple[Stats, Truth]) -> None:
    stats, truth = lake
    info = stats.status()
    assert info["rounds"] == len(truth.rounds)
    kinds: dict[str, int] = defaultdict(int)
    for r in truth.rounds:
        if r.kind != "normal":
            kinds[r.kind] += 1
    assert info["excluded"] == dict(kinds)
    assert info["players"] == len({r.guid for r in truth.player_rounds if not r.is_bot})


def test_session_window_is_the_last_session(lake: tuple[Stats, Truth]) -> None:
    stats, _ = lake
    w = stats.resolve_window("session")
    rep = stats.last_session()
    assert isinstance(w, Window) and w.session_id == rep.session_id
    board = stats.leaderboard("kills", "session", limit=100)
    assert set(board["guid"]) == set(rep.players["guid"])


def test_the_golden_data_is_not_trivial(lake: tuple[Stats, Truth]) -> None:
    stats, _truth = lake
    rep = stats.last_session()
    assert rep.maps.drop_nulls("outcome").height >= 5
    assert rep.players.height >= 6
    assert stats.leaderboard("kills", "all", limit=1000, min_rounds=0).height >= 30


@pytest.mark.parametrize("orphan_day", ["2025-11-20", "2026-01-02"])
def test_a_newer_round_that_does_not_count_moves_no_window(tmp_path: Path, orphan_day: str) -> None:
    """The latest session is the latest with a counted round: a newer file that does not
    count (an orphan round 2) anchored the week, month and season on its date (empty
    boards), and in a new year made the last session "no sessions yet"."""
    from etl_duck.ingest.run import ingest_paths
    from tests.conftest import REAL
    from tests.lakecheck import table_rows

    data = tmp_path / "data"
    ingest_paths(data, [REAL])
    before = Stats(data)
    last = before.session_id_for(None)
    report = before.last_session()
    week = before.resolve_window("week")
    board = before.leaderboard("kills", "week", min_rounds=0)
    assert board.height > 0
    source = REAL / "2025-11-11-213348-etl_adlernest-round-2.txt"
    head, _, rest = source.read_bytes().partition(b"\n")
    orphan = tmp_path / f"{orphan_day}-210000-etl_adlernest-round-2.txt"
    orphan.write_bytes(b"another server name" + head[head.index(b"\\") :] + b"\n" + rest)
    ingest_paths(data, [orphan])
    (row,) = table_rows(data, "rounds", f"file_name = '{orphan.name}'")
    assert (row["counted"], row["reason"]) == (False, "orphan_r2")
    after = Stats(data)
    assert after.session_id_for(None) == last
    assert after.last_session().players.equals(report.players)
    assert after.resolve_window("week") == week
    assert after.leaderboard("kills", "week", min_rounds=0).equals(board)
