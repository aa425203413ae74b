"""`etl-duck export` at its edges (review 127): an export to stdout that a shell redirected
to a file keeps what the file held, every parameter of every exportable query takes a valid
value, the main server is "main" as in --json, a link into a missing folder is named, and a
parameter given twice is refused."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from etl_duck.cli.analytics import exportable
from etl_duck.ingest.run import ingest_paths
from etl_duck.sqlfiles import parameters
from tests.conftest import REAL
from tests.test_cli_errors import cli

EXE = shutil.which("etl-duck", path=str(Path(sys.executable).parent))
#: settings a host may have in its environment: none of them reach the subprocesses
_SETTINGS = ("ETL_DUCK_DATA_DIR", "ETL_DUCK_TIMEZONE", "ETL_DUCK_ENV_FILE")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("export-edges") / "data"
    ingest_paths(data, [REAL])
    return data


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTINGS)}
    return {**env, "HOME": str(home), "COLUMNS": "100"}


def _exported(capsys: pytest.CaptureFixture[str], lake: Path, out: Path, *args: str) -> bytes:
    """An export written to a plain file: what the stream cases must append."""
    code, _, err = cli(capsys, "--data-dir", lake, "export", *args, "--out", out)
    assert code == 0, err
    return out.read_bytes()


# --------------------------------------------------------------------------- 1. stdout


@pytest.mark.parametrize("target", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", "log.txt"])
def test_an_export_to_stdout_appends_to_the_log_it_is_redirected_to(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path, target: str
) -> None:
    """`etl-duck export … --out /dev/stdout >> log.txt` left the export alone in log.txt:
    /dev/stdout resolved to the regular file, and a temp file was renamed over it (the
    log's earlier lines gone). `--out log.txt >> log.txt` is the same file."""
    assert EXE is not None
    want = _exported(capsys, lake, tmp_path / "want.csv", "session_list")
    log = tmp_path / "log.txt"
    log.write_bytes(b"line1\n")
    with log.open("ab") as out:  # the shell's >>: O_APPEND
        done = subprocess.run(
            [EXE, "--data-dir", lake, "export", "session_list", "--out", target],
            stdout=out, stderr=subprocess.PIPE, cwd=tmp_path, env=_env(tmp_path), timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert log.read_bytes() == b"line1\n" + want
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.txt", "want.csv"]  # no temp


def test_an_export_between_two_lines_of_a_shell_group_keeps_both(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path
) -> None:
    """`{ echo hdr; etl-duck export … --out /dev/stdout; echo ftr; } > f`: the header was
    lost (the export renamed over f, "ftr" went on at the shell's offset)."""
    assert EXE is not None
    want = _exported(capsys, lake, tmp_path / "want.json", "session_list", "--format", "json")
    f = tmp_path / "f"
    line = (
        f"{{ echo hdr; '{EXE}' --data-dir '{lake}' export session_list --format json "
        f"--out /dev/stdout; echo ftr; }} > '{f}'"
    )
    done = subprocess.run(
        ["bash", "-c", line], capture_output=True, env=_env(tmp_path), timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f.read_bytes() == b"hdr\n" + want + b"ftr\n"


def test_a_file_under_dev_shm_is_still_replaced_whole(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path
) -> None:
    """A regular file under /dev (tmpfs /dev/shm) is a file like any other: replaced, not
    appended to, by a second export."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no writable /dev/shm")
    want = _exported(capsys, lake, tmp_path / "want.csv", "session_list")
    out = shm / f"etl-duck-test-{os.getpid()}.csv"
    try:
        for _ in range(2):
            assert _exported(capsys, lake, out, "session_list") == want
    finally:
        out.unlink(missing_ok=True)


# --------------------------------------------------------------------------- 2. parameters


def _first(capsys: pytest.CaptureFixture[str], lake: Path, query: str) -> Any:
    """The first row of an export of ``query`` (no parameters)."""
    out = lake.parent / f"{query}.json"
    return json.loads(_exported(capsys, lake, out, query, "--format", "json"))[0]


#: a valid value of each parameter an exportable query takes, read from the lake
VALUE_OF: dict[str, Callable[[pytest.CaptureFixture[str], Path], str]] = {
    "session_id": lambda c, d: str(_first(c, d, "session_list")["session_id"]),
    "round_id": lambda c, d: str(_first(c, d, "social_rounds")["round_id"]),
    "match_id": lambda c, d: str(_first(c, d, "social_rounds")["match_id"]),
    "names": lambda c, d: str(_first(c, d, "social_rounds")["file_name"]),
    "guid": lambda c, d: str(_first(c, d, "player_totals")["guid"]),
    "day": lambda c, d: str(_first(c, d, "session_list")["session_date"]),
    "date_from": lambda c, d: "2024-01-01",
    "date_to": lambda c, d: "2030-12-31",
    "server": lambda c, d: "main",
    "limit": lambda c, d: "5",
    "days": lambda c, d: "30",
    "text": lambda c, d: "a",
}


def test_every_parameter_of_every_exportable_query_takes_a_valid_value(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path
) -> None:
    """`export orphan_rounds --param days=30` was exit 2 "not a date" (a name starting with
    "day" read as a date) and `days=2025-01-01` an unexpected ConversionException. Every
    query an export offers runs with a valid value of each of its parameters, given
    (a parameter without an entry here fails: add its valid value)."""
    taken = {p for q in exportable() for p in parameters(q)}
    assert taken <= VALUE_OF.keys(), f"no valid value known for {taken - VALUE_OF.keys()}"
    value = {k: VALUE_OF[k](capsys, lake) for k in sorted(taken)}
    failed: dict[str, str] = {}
    for query in exportable():
        given = [a for p in sorted(parameters(query)) for a in ("--param", f"{p}={value[p]}")]
        for fmt in ("parquet", "json"):
            out = tmp_path / f"{query}.{fmt}"
            code, _, err = cli(capsys, "--data-dir", lake, "export", query, "--format", fmt,
                               "--out", out, *given)  # fmt: skip
            if code != 0 or not out.exists():
                failed[f"{query} {fmt}"] = err.strip()
    assert not failed, failed


@pytest.mark.parametrize("query", ["orphan_rounds", "replayed_round1s"])
@pytest.mark.parametrize("days", ["2025-01-01", "-1", "100001", "x"])
def test_days_that_are_not_a_number_of_days_are_one_usage_line(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path, query: str, days: str
) -> None:
    code, _, err = cli(capsys, "--data-dir", lake, "export", query, "--param", f"days={days}",
                       "--out", tmp_path / "x.csv")  # fmt: skip
    assert code == 2 and "a number of days: give a whole number from 0" in one_line(err)
    assert not (tmp_path / "x.csv").exists()


# --------------------------------------------------------------------------- 3. "main"


@pytest.mark.parametrize("query", ["session_list", "social_sessions", "session_rounds"])
def test_the_main_server_is_main_in_every_format_as_in_json(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path, query: str
) -> None:
    """Exports wrote the main server as "" while `sessions --json` says "main" and
    `--param server=main` takes "main"."""
    code, out, err = cli(capsys, "--data-dir", lake, "sessions", "--json")
    assert code == 0, err
    sid = str(json.loads(out)[0]["session_id"])
    assert {s["server"] for s in json.loads(out)} == {"main"}
    given = ["--param", f"session_id={sid}"] if "session_id" in parameters(query) else []
    for fmt in ("csv", "parquet", "json"):
        out_file = tmp_path / f"x.{fmt}"
        code, _, err = cli(capsys, "--data-dir", lake, "export", query, "--format", fmt,
                           "--out", out_file, *given)  # fmt: skip
        assert code == 0, err
        if fmt == "json":
            servers = {r["server"] for r in json.loads(out_file.read_text())}
        else:
            read = pl.read_csv if fmt == "csv" else pl.read_parquet
            servers = set(read(io.BytesIO(out_file.read_bytes()))["server"].to_list())
        assert servers == {"main"}, (fmt, servers)


def test_an_export_of_server_main_says_main(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path
) -> None:
    out = tmp_path / "x.json"
    code, _, err = cli(capsys, "--data-dir", lake, "export", "session_list", "--format",
                       "json", "--param", "server=main", "--out", out)  # fmt: skip
    assert code == 0, err
    rows = json.loads(out.read_text())
    assert rows and {r["server"] for r in rows} == {"main"}


# --------------------------------------------------------------------------- 4. links


def test_a_link_into_a_missing_folder_names_that_folder(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--out dangling.csv`, a link to missingdir/f.csv: the message named `.` ("make .
    writable") and exited 1; it names the link's missing folder and exits 2, as a missing
    folder given directly does."""
    missing = tmp_path / "x" / "missingdir"
    here = tmp_path / "here"
    here.mkdir()
    (here / "dangling.csv").symlink_to(missing / "f.csv")
    monkeypatch.chdir(here)
    code, _, err = cli(capsys, "--data-dir", lake, "export", "session_list", "--out",
                       "dangling.csv")  # fmt: skip
    line = one_line(err)
    assert code == 2, err
    assert f"folder {missing} does not exist" in line
    assert "make . writable" not in line and "dangling.csv" in line
    assert not missing.exists() and (here / "dangling.csv").is_symlink()


def test_a_link_into_an_existing_folder_writes_the_file_it_names(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path
) -> None:
    want = _exported(capsys, lake, tmp_path / "want.csv", "session_list")
    real = tmp_path / "real" / "f.csv"
    real.parent.mkdir()
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert _exported(capsys, lake, link, "session_list") == want
    assert link.is_symlink() and real.read_bytes() == want


# --------------------------------------------------------------------------- 5. twice


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("session_rounds", ["session_id=1", "session_id=2"]),
        ("rounds_by_files", ["names=a", "names=b"]),
        ("session_list", ["date_from=2024-01-01", "date_from=2024-01-01"]),
    ],
)
def test_a_parameter_given_twice_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], lake: Path, tmp_path: Path, query: str,
    params: list[str],
) -> None:  # fmt: skip
    """`--param session_id=1 --param session_id=2` kept the last value, exit 0."""
    out = tmp_path / "x.csv"
    given = [a for p in params for a in ("--param", p)]
    code, _, err = cli(capsys, "--data-dir", lake, "export", query, "--out", out, *given)
    key = params[0].partition("=")[0]
    assert code == 2 and f"--param {key} is given more than once" in one_line(err)
    assert not out.exists()
