"""`etl-duck status` with several game servers: one line per server — its rounds, how many
count, when its latest round ended — so an operator sees a server that stopped sending
rounds (before: only the lake's totals, every server together). One server's status, human
and ``--json``, stays as it was."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from etl_duck import snapshot_path
from etl_duck.cli import run
from etl_duck.ingest.run import ingest_paths
from etl_duck.synth import Truth, TruthRound, generate
from tests.test_servers import scrim_copy

SCRIM = "scrim"
#: the scrim server sent its rounds of the season's first evenings only, then stopped
SCRIM_EVENINGS = 3

Result = tuple[int, str, str]


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Result:
    code = run([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    files = tmp_path_factory.mktemp("season")
    return files, generate(files, seed=5, days=14)


def scrim_sent(files: Path, truth: Truth, out: Path) -> list[TruthRound]:
    """The rounds of the first :data:`SCRIM_EVENINGS` evenings, as the scrim server wrote
    them (same names, its own hostname: not duplicates), into ``out``."""
    out.mkdir(parents=True)
    sent = [r for r in truth.rounds if r.session_index < SCRIM_EVENINGS]
    for r in sent:
        (out / r.file_name).write_bytes(scrim_copy((files / r.file_name).read_bytes()))
    return sent


def counted_by_server(data: Path) -> dict[str, int]:
    """Counted rounds per server, by plain DuckDB over the snapshot's Parquet."""
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT server, count(*) FILTER (WHERE counted) "
            "FROM read_parquet(?, hive_partitioning = true) GROUP BY server",
            [str(snapshot_path(data) / "rounds" / "**" / "*.parquet")],
        ).fetchall()
    return {str(s): int(n) for s, n in rows}


def test_status_has_a_line_per_server_with_its_rounds_and_last_round(
    capsys: pytest.CaptureFixture[str], season: tuple[Path, Truth], tmp_path: Path
) -> None:
    files, truth = season
    data = tmp_path / "data"
    main = ingest_paths(data, [files])
    sent = scrim_sent(files, truth, tmp_path / "scrim")
    scrim = ingest_paths(data, [tmp_path / "scrim"], server=SCRIM)
    assert not main.problems and not scrim.problems, (main.summary(), scrim.summary())
    # what the test wrote: every round of the season on main, the first evenings on scrim
    wrote = {"": truth.rounds, SCRIM: sent}
    last = {s: max(r.end_time for r in rounds) for s, rounds in wrote.items()}
    assert last[SCRIM] < last[""]  # scrim stopped sending
    counted = counted_by_server(data)

    code, out, _ = cli(capsys, "--data-dir", data, "status", "--json")
    info = json.loads(out)
    assert info["servers"] == [
        {
            "server": name,
            "rounds": len(wrote[s]),
            "counted_rounds": counted[s],
            "last_round": last[s].isoformat(),
        }
        for s, name in (("", "main"), (SCRIM, SCRIM))
    ]
    assert info["rounds"] == len(truth.rounds) + len(sent)
    assert info["counted_rounds"] == sum(counted.values())

    again, out, _ = cli(capsys, "--data-dir", data, "status")
    assert again == code  # no exit code of its own
    lines = [line for line in out.splitlines() if line.startswith("server ")]
    assert lines == [
        f"server {name}: {len(wrote[s])} rounds ({counted[s]} counted), "
        f"last round {last[s]:%Y-%m-%d %H:%M}"
        for s, name in (("", "main"), (SCRIM, SCRIM))
    ], out


def test_one_servers_status_has_no_server_lines(
    capsys: pytest.CaptureFixture[str], season: tuple[Path, Truth], tmp_path: Path
) -> None:
    files, truth = season
    data = tmp_path / "data"
    assert not ingest_paths(data, [files]).problems
    _, out, _ = cli(capsys, "--data-dir", data, "status", "--json")
    info = json.loads(out)
    assert "servers" not in info and info["rounds"] == len(truth.rounds)
    _, out, _ = cli(capsys, "--data-dir", data, "status")
    assert "server " not in out and "last round" not in out, out
