"""The admin's first hour, through the real entry point (``etl_duck.cli.run``, what the
``etl-duck`` script calls): every error path is one clear line and an exit code from one
scheme (0 done, 1 failed, 2 usage, 3 committed with problems, 130 interrupted); problems
are named; output reads as a person expects."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from etl_duck.cli import run
from etl_duck.ingest.run import ingest_paths
from tests.conftest import FIXTURES, REAL

Result = tuple[int, str, str]


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("cli") / "data"
    ingest_paths(data, [REAL])
    return data


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Result:
    code = run([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_clear_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    return lines[0]


# --------------------------------------------------------------------------- error paths


def test_paths_that_do_not_exist_are_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    d = tmp_path / "data"
    code, _, err = cli(capsys, "--data-dir", d, "ingest", tmp_path / "nodir")
    assert code == 2 and "no such file or folder" in one_clear_line(err)
    missing = tmp_path / "2030-01-01-120000-supply-round-1.txt"  # looks like a round file
    code, _, err = cli(capsys, "--data-dir", d, "ingest", missing)
    assert code == 2 and str(missing) in one_clear_line(err)
    code, _, err = cli(capsys, "--data-dir", d, "parse", missing)
    assert code == 2 and "no such file" in one_clear_line(err)


def test_no_lake_says_where_it_looked_and_what_to_do(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for command in (["status"], ["top", "kills"], ["sessions"], ["player", "x"]):
        code, out, err = cli(capsys, "--data-dir", tmp_path / "none", *command)
        line = one_clear_line(err)
        assert code == 1 and "no lake at" in line and "--data-dir" in line, command
        assert out == ""


def test_a_read_only_data_dir_is_one_sentence(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def refuse(path: str, *args: object, **kwargs: object) -> int:
        if str(path).endswith(".writer.lock"):  # root ignores chmod: refuse like a ro mount
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse)
    code, _, err = cli(capsys, "--data-dir", tmp_path / "d", "ingest", FIXTURES)
    line = one_clear_line(err)
    assert code == 1 and "permission denied" in line and ".writer.lock" in line
    assert "must be writable" in line


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("ETL_DUCK_SESSION_GAP_MINUTES", "0", "at least 45 minutes"),
        # shorter than the pairing window: a long map's round 2 fell into the next session
        ("ETL_DUCK_SESSION_GAP_MINUTES", "30", "at least 45 minutes"),
        ("ETL_DUCK_INGEST_WORKERS", "two", "valid integer"),
        ("ETL_DUCK_SERVERS", "[{bad", "cannot be read"),
        # a typo failed the ingest with an unexpected error after storing the files
        ("ETL_DUCK_TIMEZONE", "Europe/Berln", "not a time zone"),
        ("ETL_DUCK_TIMEZONE", "", "not a time zone"),  # quietly turned the clock rules off
        ("ETL_DUCK_SSH_PORT", "99999", "less than or equal to 65535"),
        ("ETL_DUCK_CONNECT_TIMEOUT_S", "-1", "greater than 0"),
        ("ETL_DUCK_SSH_REMOTE_DIR", "", "at least 1 character"),  # listed / instead
    ],
)
def test_a_bad_setting_is_one_sentence_naming_the_variable(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    says: str,
) -> None:
    monkeypatch.setenv(variable, value)
    code, _, err = cli(capsys, "--data-dir", tmp_path / "d", "ingest", FIXTURES)
    line = one_clear_line(err)
    assert code == 2 and f"invalid setting {variable}" in line and says in line, line
    assert "fix it in the environment or in .env" in line
    assert not (tmp_path / "d" / "lake").exists()  # nothing was ingested
    assert not (tmp_path / "d" / "raw").exists()  # nor stored


@pytest.mark.parametrize("command", [["ingest", str(FIXTURES)], ["fetch"], ["bot", "--check"]])
def test_a_bad_setting_never_shows_a_secret(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    """Settings that fail inside a JSON entry or across settings name the variable and the
    place, and never echo a token or passphrase (pydantic's own text printed the entry)."""
    monkeypatch.setenv("ETL_DUCK_DISCORD_TOKEN", "TOKSECRET")
    monkeypatch.setenv("ETL_DUCK_SSH_KEY_PASSPHRASE", "MAINSECRET")
    servers = [
        {"name": "b", "ssh_host": "h", "ssh_port": "x", "ssh_key_passphrase": "S3CRET"},
        {"name": "c", "ssh_host": "h", "passphrase": "TYPOSECRET"},
    ]
    monkeypatch.setenv("ETL_DUCK_SERVERS", json.dumps(servers))
    code, out, err = cli(capsys, "--data-dir", tmp_path / "d", *command)
    line = one_clear_line(err)
    assert code == 2, line
    assert "ETL_DUCK_SERVERS (entry 1, ssh_port)" in line and "valid integer" in line
    assert "ETL_DUCK_SERVERS (entry 2, passphrase)" in line
    for secret in ("TOKSECRET", "MAINSECRET", "S3CRET", "TYPOSECRET"):
        assert secret not in out + err
    # a rule over several settings: its own words, no values
    monkeypatch.setenv("ETL_DUCK_SERVERS", json.dumps([servers[0] | {"ssh_port": 22}] * 2))
    code, out, err = cli(capsys, "--data-dir", tmp_path / "d", *command)
    line = one_clear_line(err)
    assert code == 2 and "ETL_DUCK_SERVERS: two servers share a name" in line, line
    assert "S3CRET" not in out + err and "TOKSECRET" not in out + err


def test_export_checks_its_query_and_parameters(
    capsys: pytest.CaptureFixture[str], real_lake: Path, tmp_path: Path
) -> None:
    d = real_lake
    code, _, err = cli(capsys, "--data-dir", d, "export", "session_on_date")
    assert code == 2 and "needs day: add --param day=" in one_clear_line(err)
    code, _, err = cli(capsys, "--data-dir", d, "export", "player_totals", "--param", "nope=1")
    assert code == 2 and "has no parameter 'nope'" in one_clear_line(err)
    code, _, err = cli(capsys, "--data-dir", d, "export", "rollup_player_sessions")
    line = one_clear_line(err)
    assert code == 2 and "unknown query" in line and "rollup_" not in line.split("choose")[1]
    code, _, err = cli(capsys, "--data-dir", d, "export", "session_on_date", "--param", "day=x")
    assert code == 2 and "not a date" in one_clear_line(err)
    # the format names the default file; CSV and JSON hold the same rows in the same order
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    cwd = os.getcwd()
    os.chdir(out_dir)
    try:
        assert (
            cli(capsys, "--data-dir", d, "export", "player_totals", "--format", "parquet")[0] == 0
        )
        assert cli(capsys, "--data-dir", d, "export", "player_totals", "--format", "json")[0] == 0
        assert cli(capsys, "--data-dir", d, "export", "player_totals")[0] == 0
    finally:
        os.chdir(cwd)
    import polars as pl

    assert pl.read_parquet(out_dir / "export.parquet").height > 10
    as_json = json.loads((out_dir / "export.json").read_text())
    as_csv = pl.read_csv(out_dir / "export.csv")
    assert [r["guid"] for r in as_json] == as_csv["guid"].to_list()


def test_an_export_keeps_the_order_of_its_query(
    capsys: pytest.CaptureFixture[str], real_lake: Path, tmp_path: Path
) -> None:
    """session_rounds lists rounds "in play order" (its ORDER BY session_id, end_time,
    file_name): the export re-sorted every query by all its columns, which put the rounds
    in round_id (hash) order. A query with no ORDER BY is sorted by its columns."""
    import csv

    out = tmp_path / "rounds.csv"
    code, _, err = cli(capsys, "--data-dir", real_lake, "export", "session_rounds", "--out", out)
    assert code == 0, err
    with out.open() as f:
        got = list(csv.DictReader(f))
    played = [(int(r["session_id"]), r["end_time"], r["file_name"]) for r in got]
    assert len(played) > 10 and played == sorted(played)
    ids = [int(r["round_id"]) for r in got]
    assert ids != sorted(ids)  # the hash order the export used to write
    code, _, err = cli(capsys, "--data-dir", real_lake, "export", "player_totals", "--out", out)
    assert code == 0, err
    with out.open() as f:
        guids = [r["guid"] for r in csv.DictReader(f)]
    assert len(guids) > 10 and guids == sorted(guids)


def test_dates_and_flags_are_checked(capsys: pytest.CaptureFixture[str], real_lake: Path) -> None:
    code, _, err = cli(capsys, "--data-dir", real_lake, "session", "yesterdy")
    assert code == 2 and "is not a session date" in one_clear_line(err)
    code, _, err = cli(capsys, "--data-dir", real_lake, "session", "2020-01-01")
    assert code == 1 and "No session on 2020-01-01" in one_clear_line(err)
    code, _, err = cli(capsys, "--data-dir", real_lake, "top", "kills", "--json", "true")
    assert code == 2 and "Traceback" not in err  # a flag takes no value: Typer's usage error
    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out.startswith("etl-duck ")
    # a flag takes no value: no command's help shows one as `<bool>` (Typer's default)
    import typer.main

    from etl_duck.cli import app

    group = typer.main.get_command(app)
    names = sorted(getattr(group, "commands", {}))
    assert len(names) > 20
    for name in ["", *names]:
        code, out, _ = cli(capsys, *([name] if name else []), "--help")
        assert code == 0 and "<bool>" not in out, name


def test_ctrl_c_says_where_the_lake_is_and_how_to_finish(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import etl_duck.ingest.run as ingest_run

    d = tmp_path / "data"
    ingest_paths(d, [FIXTURES / "2026-03-14-213512-supply-round-1.txt"])

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest_run, "ingest_paths", interrupted)
    code, _, err = cli(capsys, "--data-dir", d, "ingest", FIXTURES)
    line = one_clear_line(err)
    assert code == 130 and "lake is at version 1" in line and "run the same command" in line


def test_the_bot_without_network_is_one_sentence(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import discord.http

    from tests.test_bot_check import SECRET

    monkeypatch.setattr(discord.http.Route, "BASE", "http://127.0.0.1:9/api/v10")  # refused
    monkeypatch.setenv("ETL_DUCK_DISCORD_TOKEN", SECRET)
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        code, out, err = cli(capsys, "--data-dir", tmp_path / "d", "bot")
    finally:  # the bot installs its log handler on this test's captured stderr
        root.handlers[:] = handlers
        root.setLevel(level)
    assert code == 1 and "cannot reach Discord" in err and "Traceback" not in err
    assert SECRET not in out + err
    # discord.py's own log lines are printed once, not twice (plain and coloured)
    logged = [line for line in err.splitlines() if "logging in using static token" in line]
    assert len(logged) == 1


# --------------------------------------------------------------------------- problems named


def test_ingest_names_every_problem_and_exits_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    r1 = FIXTURES / "2026-03-14-213512-supply-round-1.txt"
    lines = r1.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"\t", b"\tx\t", 1)
    (src / r1.name).write_bytes(b"\n".join(lines))
    (src / f"{r1.stem} (copy).txt").write_bytes(r1.read_bytes())
    (src / "stats 2025-11-01.txt").write_bytes(b"x")
    (src / "2026-03-14-230000-supply-round-1.txt").write_bytes(b"broken header\n")
    d = tmp_path / "data"
    code, out, _ = cli(capsys, "--data-dir", d, "ingest", src)
    text = " ".join(out.split())
    assert code == 3
    # the rejected line, named: the inserted field shifted the rest, so X0 reads "x"
    assert f"{r1.name}:3: X0 damage_given" in text
    assert (
        "(copy).txt: not a round stats file name (expected YYYY-MM-DD-HHMMSS-<map>-round-<N>.txt)"
        in text
    )
    assert "stats 2025-11-01.txt: not a round stats file name" in text
    assert "quarantined 2026-03-14-230000-supply-round-1.txt" in text
    code, out, _ = cli(capsys, "--data-dir", d, "status")
    text = " ".join(out.split())
    assert code == 3 and f"rejected line {r1.name}:3" in text
    assert "quarantined 2026-03-14-230000-supply-round-1.txt" in text
    # the file named once, with the way out
    # quarantine + the fixes (read it again after a fix, or leave it out)
    assert text.count("2026-03-14-230000-supply-round-1.txt") == 3
    assert "etl-duck resolve 2026-03-14-230000-supply-round-1.txt --keep " in text
    assert "etl-duck resolve 2026-03-14-230000-supply-round-1.txt --dismiss" in text
    info = json.loads(cli(capsys, "--data-dir", d, "status", "--json")[1])
    assert info["rejected"] == [f"{r1.name}:3: X0 damage_given: not an integer: 'x'"]
    # a clean ingest exits 0
    assert cli(capsys, "--data-dir", tmp_path / "clean", "ingest", r1)[0] == 0


def test_status_mentions_leftovers_and_what_cleans_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from etl_duck.lake.rawstore import RawStore

    d = tmp_path / "data"
    ingest_paths(d, [FIXTURES / "2026-03-14-213512-supply-round-1.txt"])
    r2 = FIXTURES / "2026-03-14-214449-supply-round-2.txt"
    RawStore(d).store([(r2.name, r2.read_bytes())])  # what an interrupted ingest leaves
    _code, out, _ = cli(capsys, "--data-dir", d, "status")
    text = " ".join(out.split())
    assert (
        "1 stored file(s) not yet committed" in text
        and "`etl-duck ingest` (with no files, or with any)" in text
    )
    cli(capsys, "--data-dir", d, "ingest", r2)
    assert "not yet committed" not in cli(capsys, "--data-dir", d, "status")[1]


# --------------------------------------------------------------------------- output


def test_leaderboards_label_what_they_show(
    capsys: pytest.CaptureFixture[str], real_lake: Path
) -> None:
    d = real_lake
    out = cli(capsys, "--data-dir", d, "top", "headshot_rate", "--limit", "3")[1]
    assert "Headshot rate" in out and "Headshot kills" not in out
    out = cli(capsys, "--data-dir", d, "top", "games", "--limit", "3")[1]
    header = next(line for line in out.splitlines() if "player" in line)
    assert header.count("rounds") + header.count("Rounds") == 1  # not twice
    out = cli(capsys, "--data-dir", d, "top", "teamwork", "--limit", "3")[1]
    assert "(lower is better)" in out
    out = cli(capsys, "--data-dir", d, "top", "kills", "--window", "month", "--limit", "3")[1]
    assert "month 2025-11 (latest data)" in out


def test_sessions_and_session_agree(capsys: pytest.CaptureFixture[str], real_lake: Path) -> None:
    d = real_lake
    rows = json.loads(cli(capsys, "--data-dir", d, "sessions", "--json")[1])
    assert rows and all(r["rounds"] > 0 for r in rows)  # only sessions with counted rounds
    for r in rows[:5]:
        code, out, _ = cli(capsys, "--data-dir", d, "session", r["session_date"], "--json")
        s = json.loads(out)
        assert code == 0 and s["maps_played"] == r["matches"]
    text = cli(capsys, "--data-dir", d, "session", "2025-09-24")[1]
    assert "None" not in text  # revives of old layouts show "—"
    assert "maps played" in text


def test_parse_of_an_empty_file_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "2030-01-01-120000-supply-round-1.txt"
    empty.write_bytes(b"")
    code, out, _ = cli(capsys, "parse", empty)
    assert code == 3 and "empty: 0 bytes" in out and "None" not in out


def test_player_lookup_asks_when_unsure(
    capsys: pytest.CaptureFixture[str], real_lake: Path
) -> None:
    d = real_lake
    code, _, err = cli(capsys, "--data-dir", d, "player", "s")
    assert code == 2 and "matches several players; which one?" in err
    assert err.count("etl-duck player ") >= 2
    code, _, err = cli(capsys, "--data-dir", d, "player", "5D9")
    assert code == 2 and "at least 4 characters" in one_clear_line(err)
    code, out, _ = cli(capsys, "--data-dir", d, "player", "5D98")
    assert code == 0 and "5D989160" in out
    code, out, _ = cli(capsys, "--data-dir", d, "player", "^1.^7olz")  # as typed in game
    assert code == 0 and "5D989160" in out


def test_the_installed_script_runs_and_demo_says_how_to_run_it(tmp_path: Path) -> None:
    exe = shutil.which("etl-duck", path=str(Path(sys.executable).parent))
    assert exe is not None
    done = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("etl-duck ")
    done = subprocess.run(
        [exe, "--data-dir", str(tmp_path / "none"), "status"], capture_output=True, text=True
    )
    assert done.returncode == 1 and "no lake at" in done.stderr and "Traceback" not in done.stderr


# --------------------------------------------------------------------------- long work


def test_ingest_and_rebuild_show_every_phase_without_a_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Without a terminal (cron, a pipe): a line per phase — reading, building, committing —
    each ending at its total, never one "reading files 0 %" line and then silence."""
    data = tmp_path / "data"
    files = sorted(REAL.glob("*.txt"))[:12]
    runs: list[tuple[str | Path, ...]] = [("ingest", *files), ("rebuild",)]
    for args in runs:
        code, _, err = cli(capsys, "--data-dir", data, *args)
        assert code == 0 and "Traceback" not in err, err
        phases = {line.split(":")[0]: line for line in err.splitlines() if ": " in line}
        if args[0] == "ingest":
            assert phases["reading files"].startswith(f"reading files: {len(files)}/{len(files)}")
        assert phases["building partitions"].startswith("building partitions: 12/12"), err
        assert phases["committing"].startswith("committing: 1/1"), err


def test_a_lake_of_only_quarantined_files_answers_without_internal_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, real_lake: Path
) -> None:
    """A first ingest that quarantined its only file leaves a lake with no rounds: the
    social commands and the site answer (empty), never with DuckDB's "Table … does not
    exist"; `lake-path` without a lake says so; an unknown player is a usage error."""
    bad = tmp_path / "in" / "2025-12-01-120000-et_brewdog-round-1.txt"
    bad.parent.mkdir()
    bad.write_bytes(b"garbage\n")
    data = tmp_path / "data"
    code, _, _ = cli(capsys, "--data-dir", data, "ingest", bad.parent)
    assert code == 3
    for args in (("lineups",), ("records",), ("site", "--out", tmp_path / "www")):
        code, _, err = cli(capsys, "--data-dir", data, *args)
        assert code == 0 and "Error" not in err and "Traceback" not in err, (args, err)
    code, _, err = cli(capsys, "--data-dir", tmp_path / "none", "lake-path")
    assert code == 1 and "no lake at" in one_clear_line(err) and "None" not in err
    for command in ("teammates", "rivals", "bests"):
        code, _, err = cli(capsys, "--data-dir", real_lake, command, "nobody-at-all")
        assert code == 2 and "No player matches" in one_clear_line(err), (command, err)


def test_verbose_keeps_the_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The one sentence by default; `--verbose` adds the traceback (for a bug report)."""
    data = tmp_path / "data"
    ingest_paths(data, sorted(REAL.glob("*.txt"))[:4])
    (data / "lake" / "_manifest.json").resolve().write_text("{")  # a damaged manifest
    code, _, err = cli(capsys, "--data-dir", data, "top", "kills")
    assert code == 1 and "etl-duck rebuild" in one_clear_line(err)
    code, _, err = cli(capsys, "--verbose", "--data-dir", data, "top", "kills")
    assert code == 1 and "Traceback (most recent call last)" in err and "etl-duck rebuild" in err


def test_a_version_conflict_is_in_status_until_resolved(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A round file that came back shorter is a conflict: `ingest` and `status` name it
    with the command that settles it (exit 3) until `resolve` picks a version."""
    r1 = FIXTURES / "2026-03-14-213512-supply-round-1.txt"
    full = r1.read_bytes()
    shrunk = b"\n".join(full.split(b"\n")[:3]) + b"\n"
    data = tmp_path / "data"
    assert cli(capsys, "--data-dir", data, "ingest", r1)[0] == 0
    again = tmp_path / "again" / r1.name
    again.parent.mkdir()
    again.write_bytes(shrunk)
    code, out, err = cli(capsys, "--data-dir", data, "ingest", again)
    assert code == 3 and "conflict" in out + err
    code, out, _ = cli(capsys, "--data-dir", data, "status")
    assert code == 3 and r1.name in out and "etl-duck resolve" in out
    version = re.search(rf"{re.escape(r1.name)}@(\w+)", out)
    assert version is not None
    code, out, _ = cli(capsys, "--data-dir", data, "resolve", r1.name, "--keep", version.group(1))
    assert code == 0
    code, out, _ = cli(capsys, "--data-dir", data, "status")
    assert code == 0 and r1.name not in out


def test_the_global_options_may_follow_the_command(
    capsys: pytest.CaptureFixture[str], real_lake: Path, tmp_path: Path
) -> None:
    """The README says every command takes --data-dir and --verbose: after the command
    they were "No such option" (exit 2)."""
    code, out, _ = cli(capsys, "status", "--data-dir", real_lake)
    assert code == 0 and "92" in out
    code, out, _ = cli(capsys, "top", "kills", "--verbose", f"--data-dir={real_lake}")
    assert code == 0 and "Kills — all time" in out
    code, _, err = cli(capsys, "status", "--data-dir", tmp_path / "none")
    assert code == 1 and "no lake at" in one_clear_line(err)


def test_an_unknown_map_a_bad_lease_or_a_bad_name_is_one_sentence(
    capsys: pytest.CaptureFixture[str], real_lake: Path
) -> None:
    """`records nosuchmap` showed the all-time records as if they were the map's (exit 0);
    `lake-path --lease nan` and `resolve .. --dismiss` were unexpected errors."""
    code, _, err = cli(capsys, "--data-dir", real_lake, "records", "nosuchmap")
    line = one_clear_line(err)
    assert code == 2 and "no records on map 'nosuchmap'" in line and "supply" in line
    code, out, _ = cli(capsys, "--data-dir", real_lake, "records", "SUPPLY")
    assert code == 0 and "supply" in out
    for lease in ("nan", "inf", "-5", "1e308"):
        code, _, err = cli(capsys, "--data-dir", real_lake, "lake-path", "--lease", lease)
        assert code == 2 and "give seconds above 0" in one_clear_line(err), lease
    for name in ("..", "", "raw"):
        code, _, err = cli(capsys, "--data-dir", real_lake, "resolve", name, "--dismiss")
        assert code == 2 and "is not a round file name" in one_clear_line(err), name


def test_a_data_dir_that_is_a_file_is_one_sentence(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """It was "file exists — give another path" from ingest, "…/lake: not a directory"
    from check, and "no lake" from status."""
    afile = tmp_path / "data"
    afile.write_text("")
    for command in (["ingest", str(FIXTURES)], ["check"], ["status"], ["top", "kills"]):
        code, _, err = cli(capsys, "--data-dir", afile, *command)
        assert code == 2 and "is a file, not a folder" in one_clear_line(err), command


def test_a_file_quarantined_for_its_name_is_told_to_come_back_renamed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A corrected copy of a file with a bad name has another name: the status line said a
    corrected copy would be offered as a version of this one."""
    bad = tmp_path / "in" / "2025-13-45-213512-supply-round-1.txt"
    bad.parent.mkdir()
    bad.write_bytes((FIXTURES / "2026-03-14-213512-supply-round-1.txt").read_bytes())
    assert cli(capsys, "--data-dir", tmp_path / "d", "ingest", bad.parent)[0] == 3
    code, out, _ = cli(capsys, "--data-dir", tmp_path / "d", "status")
    said = " ".join(out.split())
    assert code == 3 and "month must be in 1..12 — ingest a copy under its right name" in said


def test_ingest_with_no_files_finishes_an_interrupted_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """status says the next `etl-duck ingest` commits an interrupted ingest's leftovers:
    pasted as written it was "Missing argument 'PATHS'" (exit 2)."""
    from etl_duck.lake.rawstore import RawStore

    data = tmp_path / "data"
    r1 = FIXTURES / "2026-03-14-213512-supply-round-1.txt"
    assert (
        cli(
            capsys,
            "--data-dir",
            data,
            "ingest",
            REAL / "2025-11-11-212628-etl_adlernest-round-1.txt",
        )[0]
        == 0
    )
    RawStore(data).store([(r1.name, r1.read_bytes())])  # an ingest killed after storing
    code, out, _ = cli(capsys, "--data-dir", data, "status")
    said = " ".join(out.split())
    assert "`etl-duck ingest` (with no files, or with any)" in said
    code, out, err = cli(capsys, "--data-dir", data, "ingest")
    assert code == 0 and "1 ingested" in out + err
    code, out, _ = cli(capsys, "--data-dir", data, "status")
    assert code == 0 and "not yet committed" not in out


def test_ingest_of_a_folder_with_no_files_is_never_exit_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`etl-duck ingest EMPTY_DIR` said "0 ingested; lake version 0 (unchanged)" and exited
    0: input that was empty is exit 3 with the folder named; `ingest` with no paths (it
    finishes an interrupted ingest) stays 0."""
    data = tmp_path / "data"
    empty = tmp_path / "incoming"
    (empty / ".hidden").mkdir(parents=True)
    (empty / ".hidden" / "2026-03-14-213512-supply-round-1.txt").write_bytes(b"x")  # not read
    code, _, err = cli(capsys, "--data-dir", data, "ingest", empty)
    line = one_clear_line(err)
    assert code == 3 and f"no stats files found under {empty}" in line, line
    # beside a folder with a file: that file lands, the empty folder is still named
    with_one = tmp_path / "with-one"
    with_one.mkdir()
    shutil.copy(REAL / "2025-11-11-212628-etl_adlernest-round-1.txt", with_one)
    code, out, err = cli(capsys, "--data-dir", data, "ingest", with_one, empty)
    said = [line for line in err.splitlines() if "no stats files found" in line]
    assert code == 3 and "1 ingested" in out and len(said) == 1 and str(empty) in said[0], err
    code, out, err = cli(capsys, "--data-dir", data, "ingest", with_one)  # a duplicate: 0
    assert code == 0 and "no stats files" not in err
    code, _, err = cli(capsys, "--data-dir", data, "ingest")
    assert code == 0 and "no stats files" not in err


def test_a_name_that_starts_with_a_dash_says_to_put_two_dashes_before_it(
    capsys: pytest.CaptureFixture[str], real_lake: Path
) -> None:
    """`etl-duck player -=A=-Bolt` (clan tags start with '-') was the parser's box "No such
    option: -=": one sentence that gives the command line with `--` before the name."""
    d: list[str | Path] = ["--data-dir", real_lake]
    code, out, err = cli(capsys, *d, "player", "-=A=-Bolt")
    line = one_clear_line(err)
    assert code == 2 and out == "" and "-=A=-Bolt reads as an option" in line, line
    assert line.endswith("put -- before it: etl-duck player -- -=A=-Bolt"), line
    # the command's options (and their values) stay before the --
    code, _, err = cli(capsys, *d, "player", "-=A=-Bolt", "--server", "main", "--json")
    line = one_clear_line(err)
    assert code == 2 and line.endswith("etl-duck player --server main --json -- -=A=-Bolt")
    code, _, err = cli(capsys, *d, "top", "kills", "--limt", "5")
    line = one_clear_line(err)
    assert code == 2 and "no option --limt (did you mean --limit?)" in line, line
    # as told: the name is read (here: no player of that name, exit 2 with that sentence)
    code, _, err = cli(capsys, *d, "player", "--", "-=A=-Bolt")
    assert code == 2 and "No player matches '-=A=-Bolt'" in one_clear_line(err)
