"""`etl-duck export`'s format, target and required server (review of the export): the format
follows `--out`'s suffix when `--format` is not given, a `--format` in any case is taken and
one that contradicts the suffix refused, `--out -` is standard output, a JSON export ends
with a newline, and a one-server query without `--param server=` is refused, not 0 rows."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import polars as pl
import pytest

from etl_duck.cli.analytics import exportable, takes_any_server
from etl_duck.ingest.run import ingest_paths
from etl_duck.sqlfiles import parameters
from tests.conftest import REAL
from tests.test_cli_errors import cli
from tests.test_export_edges import EXE, _env, one_line

PARQUET_MAGIC = b"PAR1"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("export-format") / "data"
    ingest_paths(data, [REAL])
    return data


def _format_of(data: bytes) -> str:
    """What a file's bytes are: parquet, json or csv (the export's header line)."""
    if data.startswith(PARQUET_MAGIC) and data.endswith(PARQUET_MAGIC):
        return "parquet"
    if data.startswith(b"["):
        json.loads(data)
        return "json"
    assert data.startswith(b"guid,name,"), data[:40]
    return "csv"


# --------------------------------------------------------------------------- format


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("t.parquet", "parquet"),
        ("t.json", "json"),
        ("t.csv", "csv"),
        ("T.PARQUET", "parquet"),
        ("t.Json", "json"),
        ("t.txt", "csv"),
        ("t", "csv"),
    ],
)
def test_without_format_the_out_suffix_names_the_format(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path, name: str, fmt: str
) -> None:
    """`--out t.parquet` without --format wrote CSV under a .parquet name ("wrote 42 rows
    to t.parquet"; DuckDB: "No magic bytes found")."""
    out = tmp_path / name
    code, _, err = cli(capsys, "--data-dir", lake, "export", "player_totals", "--out", out)
    assert code == 0, err
    assert _format_of(out.read_bytes()) == fmt
    if fmt == "parquet":
        assert pl.read_parquet(out).height > 0


@pytest.mark.parametrize(
    ("given", "fmt"), [("CSV", "csv"), ("Parquet", "parquet"), ("JSON", "json")]
)
def test_format_is_taken_in_any_case(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path, given: str, fmt: str
) -> None:
    """`--format CSV` was exit 2 "unknown format 'CSV'"."""
    out = tmp_path / "x"
    code, _, err = cli(capsys, "--data-dir", lake, "export", "player_totals", "--format",
                       given, "--out", out)  # fmt: skip
    assert code == 0, err
    assert _format_of(out.read_bytes()) == fmt


@pytest.mark.parametrize(
    ("given", "name"), [("csv", "t.parquet"), ("CSV", "t.json"), ("json", "t.PARQUET")]
)
def test_a_format_that_contradicts_the_out_suffix_is_refused(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path, given: str, name: str
) -> None:
    out = tmp_path / name
    code, _, err = cli(capsys, "--data-dir", lake, "export", "player_totals", "--format",
                       given, "--out", out)  # fmt: skip
    line = one_line(err)
    assert code == 2 and f"--format {given} contradicts --out {out}" in line, line
    assert not out.exists()


# --------------------------------------------------------------------------- stdout, newline


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_out_dash_writes_the_rows_alone_to_stdout(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path, fmt: str
) -> None:
    """`--out -` wrote a file named `-`; it is standard output, as /dev/stdout is: the rows
    alone there, `wrote N rows` on stderr."""
    assert EXE is not None
    want = tmp_path / f"want.{fmt}"
    code, _, err = cli(capsys, "--data-dir", lake, "export", "session_list", "--out", want)
    assert code == 0, err
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = subprocess.run(
        [EXE, "--data-dir", lake, "export", "session_list", "--format", fmt, "--out", "-"],
        capture_output=True, cwd=cwd, env=_env(tmp_path), timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == want.read_bytes()
    assert done.stderr.decode().startswith("wrote ")
    assert list(cwd.iterdir()) == []  # no file named "-"


@pytest.mark.parametrize("query", ["session_list", "server_rounds"])
def test_a_json_export_ends_with_a_newline(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path, query: str
) -> None:
    """A JSON export ended at its `]`: `cat f.json; echo next` ran the lines together."""
    out = tmp_path / "x.json"
    code, _, err = cli(capsys, "--data-dir", lake, "export", query, "--out", out)
    assert code == 0, err
    data = out.read_bytes()
    assert data.endswith(b"]\n") and not data.endswith(b"\n\n")
    assert json.loads(data)
    empty = tmp_path / "empty.json"
    code, _, err = cli(capsys, "--data-dir", lake, "export", "session_list", "--param",
                       "date_from=1999-01-01", "--param", "date_to=1999-01-02", "--out",
                       empty)  # fmt: skip
    assert code == 0 and empty.read_bytes() == b"[]\n", err


# --------------------------------------------------------------------------- server


#: exportable queries whose `$server` is one server's (no NULL meaning "every server")
ONE_SERVER = [q for q in exportable() if "server" in parameters(q) and not takes_any_server(q)]


def test_the_one_server_queries_are_the_player_server_ones() -> None:
    assert sorted(ONE_SERVER) == [
        "player_server_aliases",
        "player_server_last_rounds",
        "player_server_maps",
    ]
    assert takes_any_server("player_totals") and takes_any_server("session_list")


@pytest.mark.parametrize("query", ONE_SERVER)
def test_a_one_server_query_without_server_is_refused_not_empty(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path, query: str
) -> None:
    """`export player_server_aliases --param guid=…` wrote 0 rows, exit 0: the server
    parameter was filled with NULL, which `server = $server` matches nowhere."""
    out = tmp_path / "x.csv"
    code, _, err = cli(capsys, "--data-dir", lake, "export", "player_totals", "--format",
                       "json", "--out", tmp_path / "t.json")  # fmt: skip
    assert code == 0, err
    guid = json.loads((tmp_path / "t.json").read_text())[0]["guid"]
    code, _, err = cli(capsys, "--data-dir", lake, "export", query, "--param", f"guid={guid}",
                       "--out", out)  # fmt: skip
    line = one_line(err)
    assert code == 2 and f"{query} needs server: add --param server=NAME" in line, line
    assert "(main for the main server)" in line and not out.exists()
    code, _, err = cli(capsys, "--data-dir", lake, "export", query, "--param", f"guid={guid}",
                       "--param", "server=main", "--out", out)  # fmt: skip
    assert code == 0, err
    assert pl.read_csv(io.BytesIO(out.read_bytes())).height > 0
