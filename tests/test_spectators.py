"""A player who played and then moved to spectator before the round ended (P3 = 3 at the
last snapshot) keeps that round's individual numbers; a spectator with no time of his own
(round 2 spectated whole: carried-over counters, deltas 0) does not count; and a counted
row of team 3 is on no side (STATS_FORMAT.md §3.1, §7 "Spectators"; DECISIONS.md
"Spectators")."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest

from etl_duck.domain.counting import player_reason, round_reasons
from etl_duck.domain.pairing import RowKind, round_only_all
from etl_duck.domain.parse import parse_bytes
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats

SERVER = "^1ET^7:^4L ^7Test ^3Server"
R1_NAME = "2025-04-12-210000-supply-round-1.txt"
R2_NAME = "2025-04-12-210748-supply-round-2.txt"
DAY = date(2025, 4, 12)


@dataclass(frozen=True)
class Play:
    """One player's numbers of one round, round-only (what the lake must hold)."""

    kills: int = 0
    deaths: int = 0
    damage: int = 0
    hits: int = 0
    shots: int = 0
    seconds: int = 0  # time played, a multiple of 6 s (X22 has 0.1-minute steps)

    def __add__(self, o: Play) -> Play:
        return Play(self.kills + o.kills, self.deaths + o.deaths, self.damage + o.damage,
                    self.hits + o.hits, self.shots + o.shots, self.seconds + o.seconds)  # fmt: skip


def _line(guid: str, name: str, rounds: int, team: int, p: Play) -> str:
    """A c0rnp0rn8 player line (38 tab fields); one weapon group (MP40) holds everything."""
    kd = p.kills / p.deaths if p.deaths else p.kills + 1
    ext = [p.damage, 900, 0, 0, 0, 0, 0, 0, "80.0", 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           p.shots, "0.0", f"{p.seconds / 60:.1f}", "0.0", "0.0", "0.0", f"{kd:.1f}",
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # fmt: skip
    assert len(ext) == 38
    weapons = f"{1 << 4} {p.hits} {p.shots} {p.kills} {p.deaths} 0 "
    return f"{guid}\\{name}\\{rounds}\\{team}\\{weapons}\t" + "\t".join(map(str, ext))


def _file(number: int, lines: list[str]) -> bytes:
    # supply, Axis (1) defends; the round-1 attackers set 8:00, round 2 beat it in 7:00
    head = (f"{SERVER}\\supply\\legacy3\\1\\1\\2\\10:00\\8:00\\480000" if number == 1
            else f"{SERVER}\\supply\\legacy3\\2\\1\\2\\8:00\\7:00\\420000")  # fmt: skip
    return ("\n".join([head, *lines]) + "\n").encode()


FULL1, FULL2 = 480, 420  # the rounds' lengths (s)
#: (guid, name, team in round 1, round 1, round 2 (None: absent), team in round 2)
#: round-2 values are the round's own; the file gets them cumulative, as the game writes
PLAYERS: list[tuple[str, str, int, Play, Play | None, int]] = [
    (f"AAAA000{i}", f"Axis{i}", 1, Play(2 + i, 3, 500 + 100 * i, 20, 100, FULL1),
     Play(1 + i, 2, 400, 10, 80, FULL2), 2)
    for i in (1, 2, 3)
] + [
    (f"BBBB000{i}", f"Allies{i}", 2, Play(3 + i, 3, 600 + 100 * i, 20, 100, FULL1),
     Play(2, 2 + i, 450, 10, 80, FULL2), 1)
    for i in (1, 2, 3)
] + [
    # played 7:00 of round 1 on a team, then moved to spectator; gone before round 2
    ("EEEE0001", "Golf", 3, Play(6, 4, 1400, 60, 200, 420), None, 0),
    # round 1 on Allies; 3:00 of round 2 on Axis, then spectator
    ("EEEE0002", "Hotel", 2, Play(4, 3, 800, 30, 120, FULL1), Play(2, 1, 600, 20, 90, 180), 3),
    # round 1 on Axis; spectated the whole of round 2 (his counters carried over)
    ("EEEE0003", "India", 1, Play(3, 3, 500, 25, 110, FULL1), Play(), 3),
]  # fmt: skip


def _files() -> dict[str, bytes]:
    r1 = [_line(g, n, 0, t1, p1) for g, n, t1, p1, _, _ in PLAYERS]
    r2 = [_line(g, n, 1, t2, p1 + p2) for g, n, _, p1, p2, t2 in PLAYERS if p2 is not None]
    return {R1_NAME: _file(1, r1), R2_NAME: _file(2, r2)}


def _expected() -> dict[str, tuple[int, Play]]:
    """Per GUID: counted rounds and summed round-only numbers, from the table above: every
    row with time played of its own counts (a spectator's too), no other."""
    out: dict[str, tuple[int, Play]] = {}
    for guid, _, _, p1, p2, _ in PLAYERS:
        for p in (p1, p2):
            if p is not None and p.seconds > 0:
                n, tot = out.get(guid, (0, Play()))
                out[guid] = (n + 1, tot + p)
    return out


# --------------------------------------------------------------------------- the rule


def test_a_spectator_row_counts_when_it_holds_time_played_of_its_own() -> None:
    rounds = [parse_bytes(data, name) for name, data in _files().items()]
    reasons, _ = round_reasons(rounds, ())
    assert reasons == {R1_NAME: None, R2_NAME: None}
    rows = round_only_all(rounds)
    got = {(name, row.guid): (row.kind, row.line.team, row.values["time_played_s"],
                              player_reason(row, reasons[name]))
           for name, rs in rows.items() for row in rs}  # fmt: skip
    assert got[(R1_NAME, "EEEE0001")] == (RowKind.R1, 3, 420, None)  # moved to spectator
    assert got[(R2_NAME, "EEEE0002")] == (RowKind.R2_DIFF, 3, 180, None)  # R2-only time
    assert got[(R2_NAME, "EEEE0003")] == (RowKind.R2_DIFF, 3, 0, "spectator")  # spectated R2
    assert got[(R1_NAME, "AAAA0001")][3] is None
    # no time of his own (did nothing on a team, or only the carried-over counters): out
    golf = next(r for r in rows[R1_NAME] if r.guid == "EEEE0001")
    idle = replace(golf, values={**golf.values, "time_played_s": 0})
    assert player_reason(idle, None) == "spectator"
    assert player_reason(replace(golf, values={**golf.values, "time_played_s": None}), None) == (
        "spectator"
    )
    # the other reasons come first
    assert player_reason(golf, "restart") == "restart"
    bot = replace(golf, line=replace(golf.line, is_bot=True))
    assert player_reason(bot, None) == "bot"


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spectators")
    folder = root / "files"
    folder.mkdir()
    for name, data in _files().items():
        (folder / name).write_bytes(data)
    report = ingest_paths(root / "data", [folder])
    assert len(report.ingested) == 2
    return root / "data"


def test_a_player_who_moved_to_spectator_keeps_his_round(lake: Path) -> None:
    """The reviewer's case: Golf played 7:00 of round 1 (6 kills, 1,400 damage) and ended it
    spectating: his card and the session list him, DPM 1400·60/420 = 200."""
    stats = Stats(lake)
    card = stats.player("Golf")
    totals = card.totals
    assert (totals["rounds"], totals["kills"], totals["damage_given"]) == (1, 6, 1400)
    assert totals["time_played_s"] == 420
    assert totals["dpm"] == pytest.approx(200.0)
    session = stats.last_session()
    players = {r["guid"]: r for r in session.players.iter_rows(named=True)}
    want = _expected()
    assert set(players) == set(want)  # Golf and Hotel in; India in by his round 1 only
    for guid, (n, p) in want.items():
        row = players[guid]
        got = [row[c] for c in ("rounds", "kills", "deaths", "damage_given", "time_played_s")]
        assert got == [n, p.kills, p.deaths, p.damage, p.seconds], guid
        assert row["dpm"] == pytest.approx(p.damage * 60 / p.seconds), guid
    assert want["EEEE0002"] == (2, Play(6, 4, 1400, 50, 210, 660))  # the table, read by hand
    assert want["EEEE0003"][0] == 1
    board = stats.leaderboard("kills", min_rounds=1, limit=50)
    assert dict(zip(board["guid"], board["value"], strict=True)) == {
        g: p.kills for g, (_, p) in want.items()
    }


def test_a_counted_spectator_row_is_on_no_side(lake: Path) -> None:
    """Team 3 on a counted row makes no third team: the stopwatch teams, the sides, the map
    results and the rating's map players take teams 1 and 2 only."""
    stats = Stats(lake)
    session = stats.last_session()
    assert session.teams is not None
    rosters = {frozenset(t.guids) for t in session.teams}
    # R1 attackers (Allies) + Hotel, R1 defenders (Axis) + India; Golf on neither
    assert rosters == {
        frozenset({"BBBB0001", "BBBB0002", "BBBB0003", "EEEE0002"}),
        frozenset({"AAAA0001", "AAAA0002", "AAAA0003", "EEEE0003"}),
    }
    assert sorted(t.points for t in session.teams) == [0, 2]
    sides = stats.run("session_sides", [DAY], session_id=session.session_id)
    assert set(sides["team"].to_list()) == {1, 2}
    assert "EEEE0001" not in set(sides["guid"].to_list())
    results = stats.social().results
    assert "EEEE0001" not in set(results["guid"].to_list())
    assert len(results) == 8 and set(results["side"].to_list()) == {"X", "Y"}
    cur, text = stats.serving.cursor(), "SELECT guid, seconds FROM map_players ORDER BY guid"
    stats.serving.prepare(cur, text)
    shares = dict(cur.execute(text).fetchall())
    assert "EEEE0001" not in shares and len(shares) == 8
    assert shares["EEEE0002"] == FULL1  # his spectator row's 3:00 is on no side


def test_the_round_post_shows_a_counted_spectator_on_no_side(lake: Path) -> None:
    """The bot's round post: Golf's 6 kills count in round 1, so his line is there — in a
    block of its own after the two teams' (it was in neither: only his time showed)."""
    from etl_duck.bot.embeds.posts import round_post

    detail = Stats(lake).round_detail(R1_NAME)
    assert detail is not None
    fields = {str(f.name): str(f.value) for f in round_post(detail).fields}
    blocks = [n for n in fields if "Golf" in fields[n]]
    assert "Moved to spectator — no side" in blocks
    team_blocks = [n for n in fields if n.endswith(("attack", "defence"))]
    assert len(team_blocks) == 2 and not any("Golf" in fields[n] for n in team_blocks)
    assert "6/" in fields["Moved to spectator — no side"]  # K/D/G: his 6 kills
