"""Rivals from endstats versus blocks (STATS_FORMAT.md §10) against a hand-made duel
matrix: every kill of every round is known, the endstats files are written from it as the
newer writer does (one VS_HEADER block per player), and each player's rivals must be the
matrix's sums over the rounds he met each opponent in.

* A file cut inside a player's block (a crash, or the copy taken mid-write) still tells his
  duels of that round through his opponents' blocks: his view and theirs agree.
* Bots are no rivals (every omni-bot writes GUID `OMNIBOT0`; they would merge into one
  opponent named after whichever bot came last), as they are in every other player stat.

The rounds are two synthetic maps of one evening, each with a bot among the players."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from etl_duck.synth import Truth, TruthPlayerRound, TruthRound, generate
from tests.lakecheck import table_rows

BOT_GUID = "OMNIBOT0"


@dataclass
class Evening:
    rounds: list[TruthRound]  # map 1 round 1, round 2, map 2 round 1, round 2
    players: dict[str, list[TruthPlayerRound]]  # file → its players on team 1 or 2


def two_maps_with_bots(folder: Path) -> Evening:
    """Four consecutive counted rounds (two maps of one evening), each with a bot, the two
    maps' bots named differently; their stats files are left in ``folder``."""
    for seed in range(1, 40):
        gen = folder.parent / f"gen{seed}"
        truth: Truth = generate(gen, seed=seed, days=28)
        rows = truth.rows_by_file()
        rs = truth.rounds
        for i in range(len(rs) - 3):
            four = rs[i : i + 4]
            if not all(r.kind == "normal" for r in four):
                continue
            if [r.round_number for r in four] != [1, 2, 1, 2]:
                continue
            if four[0].map_name != four[1].map_name or four[2].map_name != four[3].map_name:
                continue
            if len({r.session_index for r in four}) != 1:
                continue
            bots = [{p.name for p in rows[r.file_name] if p.is_bot} for r in four]
            if not all(bots) or bots[0] | bots[1] == bots[2] | bots[3]:
                continue
            folder.mkdir(exist_ok=True)
            for r in four:
                (folder / r.file_name).write_bytes((gen / r.file_name).read_bytes())
            players = {
                r.file_name: [p for p in rows[r.file_name] if p.team in (1, 2)] for r in four
            }
            _remove(gen)
            return Evening(four, players)
        _remove(gen)
    pytest.skip("no synthetic evening with two maps with bots")


def _remove(folder: Path) -> None:
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()


def duels(evening: Evening) -> dict[tuple[str, str, str], int]:
    """(round file, killer name, victim name) → kills, for every pair on opposite teams:
    made up, different in every round and direction, some zero."""
    out = {}
    for n, r in enumerate(evening.rounds):
        ps = evening.players[r.file_name]
        for a in ps:
            for b in ps:
                if a.team != b.team:
                    out[r.file_name, a.name, b.name] = (len(a.name) * 3 + len(b.name) + n) % 6
    return out


def endstats_name(r: TruthRound) -> str:
    stamp = (r.end_time - timedelta(seconds=1)).strftime("%Y-%m-%d-%H%M%S")
    return f"{stamp}-{r.map_name}-round-{r.round_number}-endstats.txt"


def header(p: TruthPlayerRound, hex_bot_guid: bool = False) -> str:
    # a bot's block carries its cl_guid (OMNIBOT0…), read like any GUID (the stats files'
    # rule); ``hex_bot_guid`` writes a hex one instead: a bot known by its [BOT] name only
    guid = ("0" * 8 if hex_bot_guid else BOT_GUID) if p.is_bot else p.guid
    return f"VS_HEADER\t{p.name}\t{guid}{'0' * 24}"


def write_endstats(
    folder: Path, evening: Evening, kills: dict[tuple[str, str, str], int], cut: str | None
) -> list[Path]:
    """One endstats file per round, a block per player (bots too); in map 1's round 2 the
    file is cut inside ``cut``'s block (written last), after its first opponent row."""
    out = []
    for n, r in enumerate(evening.rounds):
        ps = evening.players[r.file_name]
        order = sorted(ps, key=lambda p: (p.name == cut, p.name))
        lines = [f"Most damage given\t{ps[0].name}\t3214"]
        text = None
        for p in order:
            lines.append(header(p, hex_bot_guid=n == 0))
            rows = [
                f"{o.name}\t{kills[r.file_name, p.name, o.name]}\t"
                f"{kills[r.file_name, o.name, p.name]}"
                for o in sorted(ps, key=lambda o: o.name)
                if o.team != p.team
            ]
            if n == 1 and p.name == cut:
                assert len(rows) >= 3
                text = "\n".join([*lines, rows[0], rows[1][:-2]])  # no final LF: cut
                break
            lines += rows
        path = folder / endstats_name(r)
        path.write_text(text if text is not None else "\n".join(lines) + "\n")
        out.append(path)
    return out


def expected_rivals(
    evening: Evening, kills: dict[tuple[str, str, str], int], me: TruthPlayerRound
) -> dict[str, tuple[int, int, int]]:
    """Opponent GUID → (rounds, kills, deaths) of ``me`` against human opponents, straight
    from the duel matrix (every round both played on opposite teams)."""
    out: dict[str, tuple[int, int, int]] = {}
    for r in evening.rounds:
        ps = evening.players[r.file_name]
        mine = [p for p in ps if p.guid == me.guid]
        if not mine:
            continue
        m = mine[0]
        for o in ps:
            if o.is_bot or o.team == m.team:
                continue
            rounds, k, d = out.get(o.guid, (0, 0, 0))
            out[o.guid] = (
                rounds + 1, k + kills[r.file_name, m.name, o.name],
                d + kills[r.file_name, o.name, m.name],
            )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def lake(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Evening, dict[tuple[str, str, str], int], TruthPlayerRound]:
    base = tmp_path_factory.mktemp("rivals")
    incoming = base / "in"
    evening = two_maps_with_bots(incoming)
    kills = duels(evening)
    # the player whose block is cut: a human of map 1's round 2 with three human opponents
    r2 = evening.rounds[1].file_name
    ps = evening.players[r2]
    cut = next(
        p for p in sorted(ps, key=lambda p: p.name)
        if not p.is_bot and sum(not o.is_bot and o.team != p.team for o in ps) >= 3
    )  # fmt: skip
    files = write_endstats(incoming, evening, kills, cut.name)
    data = base / "data"
    ingest_paths(data, sorted(incoming.iterdir()))
    versus = table_rows(data, "endstats_versus")
    assert {str(v["file_name"]) for v in versus} == {p.name for p in files}
    assert any(v["opponent_guid"] == BOT_GUID for v in versus)  # bots were in the blocks
    assert any(v["guid"] == BOT_GUID for v in versus)  # and had their own blocks, stored
    # the cut block kept one opponent row: the others are known from their own blocks only
    cut_rows = [v for v in versus if v["guid"] == cut.guid and v["file_name"] == files[1].name]
    assert len(cut_rows) == 1
    return data, evening, kills, cut


def rivals_of(data: Path, guid: str) -> dict[str, tuple[int, int, int]]:
    _, _, table = Stats(data, min_rounds=1).rivals(guid)
    return {
        str(r["guid"]): (r["rounds"], r["kills"], r["deaths"]) for r in table.iter_rows(named=True)
    }


def humans(evening: Evening) -> dict[str, TruthPlayerRound]:
    return {p.guid: p for ps in evening.players.values() for p in ps if not p.is_bot}


def test_a_cut_block_takes_the_rounds_duels_from_the_opponents_blocks(
    lake: tuple[Path, Evening, dict[tuple[str, str, str], int], TruthPlayerRound],
) -> None:
    data, evening, kills, cut = lake
    people = humans(evening)  # (bots: the next test)
    want = expected_rivals(evening, kills, cut)
    got = {g: v for g, v in rivals_of(data, cut.guid).items() if g in people}
    assert got == want
    # every player against every human opponent, and both views of each pair agree
    for guid, p in people.items():
        got = {g: v for g, v in rivals_of(data, guid).items() if g in people}
        assert got == expected_rivals(evening, kills, p), p.name
        for opponent, (rounds, k, d) in got.items():
            theirs = rivals_of(data, opponent)[guid]
            assert theirs == (rounds, d, k), (p.name, opponent)


def test_bots_are_no_rivals(
    lake: tuple[Path, Evening, dict[tuple[str, str, str], int], TruthPlayerRound],
) -> None:
    data, evening, kills, _ = lake
    names = {p.name for ps in evening.players.values() for p in ps if p.is_bot}
    assert len(names) >= 2
    for guid, p in humans(evening).items():
        _, _, table = Stats(data, min_rounds=1).rivals(guid)
        assert BOT_GUID not in table["guid"].to_list(), p.name
        assert not set(table["name"].to_list()) & names, p.name
        # his opponents are the humans he met (their numbers: the test above)
        assert set(table["guid"].to_list()) == set(expected_rivals(evening, kills, p)), p.name
    # nor does a bot have rivals, even under a GUID the parser takes (map 1's round 1)
    assert table_rows(data, "endstats_versus", "guid = '00000000'")  # his block is stored
    versus = Stats(data, min_rounds=1).social().versus
    assert not versus.is_empty()
    for side in ("guid", "opponent_guid"):
        assert not set(versus[side].to_list()) & {BOT_GUID, "00000000"}
    for side in ("name", "opponent_name"):
        assert not set(versus[side].to_list()) & names
