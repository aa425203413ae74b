"""A personal best needs :data:`~etl_duck.domain.records.PB_HISTORY` *rounds* of history, not
lines: two lines of one file can share a GUID (an 8-character prefix two players share, a
reconnect under another name; STATS_FORMAT §7), the parser and the pairing keep both, and
the rollup lists the round once for each line. Counted per line, a player with 19 rounds,
one of them with two lines, had his 20th-round best told a round early.

A real lake: the supply fixture pair renamed into an evening of maps (every file through
the real ingest), BlueJay's damage raised in the last map's round 1 (round 2 raised alike,
so its round-2-only damage stays). His history is counted here from the files written,
one per file that holds his GUID, independently of the lake."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from etl_duck.domain import records as rec
from etl_duck.query.stats import Stats
from tests.lakecheck import R1, R2, table_rows

PLAYER = "B7E21D04"  # BlueJay: in both rounds of the supply fixture
EVENING = datetime(2026, 5, 4, 20, 0, 0)
#: the fixture's round 2 ends 577 s after its round 1; a map every 20 minutes
R2_AFTER = timedelta(seconds=577)
MAP_EVERY = timedelta(minutes=20)
RAISE = 5000  # damage added to BlueJay's lines of the last map: beats every earlier round


def _his_line(lines: list[bytes]) -> int:
    (at,) = [i for i, line in enumerate(lines) if line.startswith(PLAYER.encode())]
    return at


def _his_damage(src: Path) -> int:
    """His damage given in a fixture file (cumulative in round 2)."""
    lines = src.read_bytes().splitlines()
    return int(lines[_his_line(lines)].split(b"\t")[1])


def _raised(line: bytes) -> bytes:
    """His line with ``RAISE`` more damage given (the first extended field, CUM)."""
    head, damage, rest = line.split(b"\t", 2)
    return b"\t".join([head, str(int(damage) + RAISE).encode(), rest])


def _write_map(
    folder: Path, k: int, *, second_line: bool = False, absent_in_r2: bool = False,
    raised: bool = False,
) -> list[Path]:  # fmt: skip
    """Map ``k`` of the evening (the supply pair, unique content). ``second_line``: round 1
    has a second line of BlueJay's GUID under another name; ``absent_in_r2``: he left
    before round 2; ``raised``: his damage is raised in both rounds."""
    out = []
    start = EVENING + k * MAP_EVERY
    for src, end, n in ((R1, start, 1), (R2, start + R2_AFTER, 2)):
        lines = src.read_bytes().replace(b"Server", f"Server {k}".encode(), 1)
        rows = lines.splitlines(keepends=True)
        at = _his_line(rows)
        if raised:
            rows[at] = _raised(rows[at])
        if n == 1 and second_line:  # same GUID, another name: two lines of one round
            rows.append(rows[at].replace(b"^$Blue^7Jay", b"^3Blue^7Jay2", 1))
        if n == 2 and absent_in_r2:
            del rows[at]
        path = folder / f"{end:%Y-%m-%d-%H%M%S}-supply-round-{n}.txt"
        path.write_bytes(b"".join(rows))
        out.append(path)
    return out


def _lake(tmp_path: Path, history_maps: int, absent_in_r2: int | None) -> tuple[Path, int]:
    """A lake of ``history_maps`` maps (map 0's round 1 holds his second line; he misses
    round 2 of map ``absent_in_r2``), then a map whose round 1 is his best damage: (data
    dir, his rounds before that round, counted from the files written)."""
    from etl_duck.ingest.run import ingest_paths

    files = tmp_path / "files"
    files.mkdir()
    written: list[Path] = []
    for k in range(history_maps):
        written += _write_map(files, k, second_line=k == 0, absent_in_r2=k == absent_in_r2)
    history = sum(PLAYER.encode() in p.read_bytes() for p in written)  # a file once
    _write_map(files, history_maps, raised=True)
    data = tmp_path / "data"
    ingest_paths(data, [files])
    return data, history


def _his_best_damage_events(data: Path) -> list[rec.Event]:
    events = Stats(data, min_rounds=1).social_events().personal
    return [e for e in events if e.guid == PLAYER and e.kind == "round_damage"]


def _check_lake(data: Path, history: int) -> None:
    """Every round of the lake counted, his second line kept: one line more than rounds."""
    rounds = table_rows(data, "rounds")
    assert rounds and all(r["counted"] for r in rounds)
    his = table_rows(data, "player_rounds", f"guid = '{PLAYER}' AND counted")
    # his rounds, his second line, the last map's two rounds
    assert len(his) == history + 1 + 2
    assert len({r["round_id"] for r in his}) == history + 2


def test_nineteen_rounds_one_with_two_lines_are_no_history_for_a_best(tmp_path: Path) -> None:
    """19 rounds (10 maps, he left one before its round 2), 20 lines: no personal best."""
    data, history = _lake(tmp_path, 10, absent_in_r2=5)
    assert history == rec.PB_HISTORY - 1
    _check_lake(data, history)
    assert _his_best_damage_events(data) == []


def test_twenty_rounds_one_with_two_lines_are_history_for_a_best(tmp_path: Path) -> None:
    """20 rounds (10 maps), 21 lines: his raised round 1 is a personal best, beating the
    best round-2 damage of the earlier maps."""
    data, history = _lake(tmp_path, 10, absent_in_r2=None)
    assert history == rec.PB_HISTORY
    _check_lake(data, history)
    first, second = (_his_damage(src) for src in (R1, R2))
    (event,) = _his_best_damage_events(data)
    assert event.value == first + RAISE
    assert event.previous == max(first, second - first)  # round 2's damage is R2 − R1
    assert event.file_name == f"{EVENING + 10 * MAP_EVERY:%Y-%m-%d-%H%M%S}-supply-round-1.txt"
