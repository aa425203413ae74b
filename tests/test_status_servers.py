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


def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *others: str) -> None:
    """The main game server (its host) and ``others`` in ETL_DUCK_SERVERS, as an operator
    writes them; no .env of the working directory read."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ETL_DUCK_SSH_HOST", "game.example.org")
    entries = [{"name": name, "ssh_remote_dir": f"{name}/stats"} for name in others]
    monkeypatch.setenv("ETL_DUCK_SERVERS", json.dumps(entries))


NO_ROUND = (
    "no round in the lake yet — run `etl-duck fetch` (it says why a server cannot be "
    "fetched); if its stats folder holds round files, check that {setting} is that folder"
)


def test_a_configured_server_without_rounds_is_listed_without_changing_the_exit_code(
    capsys: pytest.CaptureFixture[str],
    season: tuple[Path, Truth],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second server whose folder is wrong fetches nothing: `status` listed servers with
    rounds only, so the operator never saw it. Now each configured server is listed — the
    main one too — with the fix; a server just added is normal: the exit code stays."""
    files, truth = season
    data = tmp_path / "data"
    assert not ingest_paths(data, [files]).problems
    monkeypatch.chdir(tmp_path)
    alone, before, _ = cli(capsys, "--data-dir", data, "status", "--json")
    counted = counted_by_server(data)[""]
    main_row = {
        "server": "main",
        "rounds": len(truth.rounds),
        "counted_rounds": counted,
        "last_round": max(r.end_time for r in truth.rounds).isoformat(),
    }

    configure(monkeypatch, tmp_path, "cup")
    code, out, _ = cli(capsys, "--data-dir", data, "status", "--json")
    info = json.loads(out)
    assert code == alone
    cup = {"server": "cup", "rounds": 0, "counted_rounds": 0, "last_round": None}
    assert info["servers"] == [main_row, cup]
    assert {k: v for k, v in info.items() if k != "servers"} == json.loads(before)
    again, out, _ = cli(capsys, "--data-dir", data, "status")
    assert again == alone
    lines = [line for line in out.splitlines() if line.startswith("server ")]
    assert lines[1:] == [
        "server cup: " + NO_ROUND.format(setting="its ETL_DUCK_SERVERS entry's ssh_remote_dir")
    ], out
    assert lines[0].startswith(f"server main: {len(truth.rounds)} rounds"), out

    # the main server configured too, its rounds not in the lake (only scrim's, by hand)
    lake = tmp_path / "scrim-lake"
    sent = scrim_sent(files, truth, tmp_path / "scrim")
    assert not ingest_paths(lake, [tmp_path / "scrim"], server=SCRIM).problems
    configure(monkeypatch, tmp_path, SCRIM)
    code, out, _ = cli(capsys, "--data-dir", lake, "status")
    lines = [line for line in out.splitlines() if line.startswith("server ")]
    assert lines == [
        "server main: " + NO_ROUND.format(setting="ETL_DUCK_SSH_REMOTE_DIR"),
        f"server {SCRIM}: {len(sent)} rounds ({counted_by_server(lake)[SCRIM]} counted), "
        f"last round {max(r.end_time for r in sent):%Y-%m-%d %H:%M}",
    ], out
    assert code == alone


def test_one_configured_servers_status_is_unchanged(
    capsys: pytest.CaptureFixture[str],
    season: tuple[Path, Truth],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The main server alone configured: no server line, human or --json (as with none)."""
    files, _ = season
    data = tmp_path / "data"
    assert not ingest_paths(data, [files]).problems
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ETL_DUCK_SSH_HOST", raising=False)
    monkeypatch.delenv("ETL_DUCK_SERVERS", raising=False)
    plain = [cli(capsys, "--data-dir", data, "status", *flag) for flag in ((), ("--json",))]
    configure(monkeypatch, tmp_path)
    assert [cli(capsys, "--data-dir", data, "status", *flag) for flag in ((), ("--json",))] == plain
    assert "server " not in plain[0][1] and "servers" not in json.loads(plain[1][1])
