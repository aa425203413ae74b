"""A round 1 whose lines all say 0.0 minutes played (X22 0.0 on every line: a writer fault
reported in Nov 2025, STATS_FORMAT §6.2 "keep the fallback, but log it"). Its players'
damage counted for no DPM, and the round 2 after it took both rounds' time for its own:
every DPM of the map was about halved, silently."""

from __future__ import annotations

import shutil
from pathlib import Path

from etl_duck.domain.pairing import RowKind, round_only_all
from etl_duck.domain.parse import parse_bytes, timeless_round_time
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from tests.conftest import REAL

R1 = "2025-11-11-212628-etl_adlernest-round-1.txt"
R2 = "2025-11-11-213348-etl_adlernest-round-2.txt"
R1_LENGTH_S = 6 * 60 + 51  # its header: H7 6:51 (the attackers' time), limit H6 10:00


def _timeless(text: str) -> str:
    """Every player line's X22 (time played) and X24 (time played %) written as 0.0."""
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if not lines[i].strip():
            continue
        cells = lines[i].split("\t")
        cells[1 + 22], cells[1 + 24] = "0.0", "0.0"  # cells[0] is the prefix and weapons
        lines[i] = "\t".join(cells)
    return "\n".join(lines)


def _file_values(text: str) -> dict[str, tuple[int, int, int]]:
    """GUID → (team, X0 damage given, X22 time in s), read from the file by hand."""
    out = {}
    for line in text.split("\n")[1:]:
        if line.strip():
            cells = line.split("\t")
            guid, _name, _rounds, team = cells[0].split("\\")[:4]
            out[guid] = (int(team), int(cells[1]), round(float(cells[1 + 22]) * 60))
    return out


def _copy(folder: Path) -> tuple[str, str]:
    folder.mkdir()
    r1 = _timeless((REAL / R1).read_bytes().decode())
    (folder / R1).write_text(r1)
    shutil.copy(REAL / R2, folder / R2)
    return r1, (REAL / R2).read_bytes().decode()


def test_each_player_on_a_side_is_given_the_round_length_and_round_2_its_own(
    tmp_path: Path,
) -> None:
    r1_text, r2_text = _copy(tmp_path / "in")
    first, second = _file_values(r1_text), _file_values(r2_text)
    assert all(t == 0 for _, _, t in first.values())  # the fault, as written
    r1 = parse_bytes(r1_text.encode(), R1)
    assert timeless_round_time(r1) == R1_LENGTH_S
    assert r1.note is not None and f"{R1_LENGTH_S} s" in r1.note and "X22 0.0" in r1.note
    # the real file has time: nothing given
    assert timeless_round_time(parse_bytes((REAL / R1).read_bytes(), R1)) is None

    rows = round_only_all([r1, parse_bytes(r2_text.encode(), R2)])
    for row in rows[R1]:
        assert row.values["time_played_s"] == (R1_LENGTH_S if row.line.team in (1, 2) else 0)
    for row in rows[R2]:
        assert row.kind is RowKind.R2_DIFF, row.line.guid
        own = second[row.line.guid][2] - R1_LENGTH_S  # both rounds' time less round 1's
        assert row.values["time_played_s"] == max(0, own), row.line.guid

    report = ingest_paths(tmp_path / "data", [tmp_path / "in"])
    assert R1 in report.round_notes and f"{R1_LENGTH_S} s" in report.round_notes[R1]
    stats = Stats(tmp_path / "data")
    totals = stats.player_totals(stats.resolve_window("session"))
    by_guid = {r["guid"]: r for r in totals.iter_rows(named=True)}
    assert set(by_guid) == set(second)
    for guid, (_, damage, played) in second.items():
        # the map: round 2's counters are both rounds' (§5.1), so its X0 and X22 are the
        # map's damage and time whatever round 1 says; DPM = Σdamage·60/Σtime (§6.3)
        total = by_guid[guid]
        assert total["damage_given"] == damage and total["time_played_s"] == played, guid
        assert abs(total["dpm"] - damage * 60 / played) < 1e-9, guid
