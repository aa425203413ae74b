"""raw/ (the source of truth) against the lake's ledger of files, both ways: a backup whose
raw/ and lake come from different moments, a deleted date folder or an unmounted volume is
an open problem of `status` and a failed `check`, each named with its fix; what raw/
legitimately holds besides round files raises no alarm. And `status`'s leftovers of an
interrupted ingest count only the pending names raw/ really holds (a full disk stops the
copy part-way), naming the others with their fix."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from etl_duck.cli import run
from etl_duck.ingest.run import ingest_paths
from etl_duck.lake.rawstore import PENDING, RawStore
from etl_duck.lake.snapshot import Lake
from tests.lakecheck import one_player_round, renamed_pair
from tests.test_endstats import the_real_endstats_and_its_round
from tests.test_servers import scrim_copy

SCRIM = "scrim"
MOUNTED = "is raw/'s volume mounted"


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """``etl-duck ARGS``: (exit code, stdout, stderr), each on one line."""
    code = run([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, " ".join(out.split()), " ".join(err.split())


def status_json(capsys: pytest.CaptureFixture[str], data: Path) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = run(["--data-dir", str(data), "status", "--json"])
    return code, json.loads(capsys.readouterr().out)


def scrim_pair(folder: Path, r1: str, r2: str, tag: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for p in renamed_pair(folder, r1, r2, tag):
        data = scrim_copy(p.read_bytes())  # the scrim server's hostname, made unique
        p.write_bytes(data.replace(b".server", f".server{tag}".encode(), 1))
        out.append(p)
    return out


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """A lake holding all raw/ legitimately holds: two servers' date folders, a version
    that grew (raw/…/.versions/), a quarantined file (quarantine/), an endstats file with
    its round, and stray things a store or an admin leaves (raw/.incoming/, a note)."""
    src, data = tmp_path / "src", tmp_path / "data"
    src.mkdir()
    ingest_paths(data, [*renamed_pair(src, "2026-02-01-210000", "2026-02-01-211000", "a")])
    ingest_paths(data, scrim_pair(src / SCRIM, "2026-02-02-210000", "2026-02-02-211000", "s"))
    ingest_paths(data, [src / SCRIM], server=SCRIM)
    r1, r2 = renamed_pair(src, "2026-02-03-210000", "2026-02-03-211000", "g")
    full = r2.read_bytes()
    r2.write_bytes(full[: len(full) - 10])  # fetched while the server still wrote it
    ingest_paths(data, [r1, r2])
    r2.write_bytes(full)  # … and whole later: a second version in .versions/
    ingest_paths(data, [r2])
    bad = src / "2026-02-04-200000-supply-round-1.txt"
    bad.write_bytes(b"not a stats file\n")
    ingest_paths(data, [bad])
    (src / "es").mkdir()
    ingest_paths(data, list(the_real_endstats_and_its_round(src / "es")))
    raw = data / "raw"
    assert list(raw.glob("2026-02-03/.versions/*")), "no later version stored"
    assert list((data / "quarantine").glob("*.reason")), "nothing quarantined"
    assert list(raw.glob("*/*endstats*")), "no endstats file stored"
    (raw / ".incoming").mkdir(exist_ok=True)
    (raw / ".incoming" / ".download.part").write_bytes(b"x")
    (raw / "2026-02-01" / "README").write_text("an admin's note\n")
    return data


def newer(data: Path, tmp_path: Path) -> list[Path]:
    """An evening of each server ingested into ``data``: its raw files."""
    src = tmp_path / "later"
    src.mkdir()
    main = list(renamed_pair(src, "2026-02-10-210000", "2026-02-10-211000", "n"))
    scrim = scrim_pair(src / SCRIM, "2026-02-11-210000", "2026-02-11-211000", "t")
    assert ingest_paths(data, main).committed
    assert ingest_paths(data, [src / SCRIM], server=SCRIM).committed
    return main + scrim


def copy(data: Path, to: Path) -> Path:
    shutil.copytree(data, to, symlinks=True)
    return to


def counted(data: Path) -> int:
    return len(Lake(data).read_state("files").column("file_name"))


# --------------------------------------------------------------------------- no false alarm


def test_what_raw_legitimately_holds_raises_no_alarm(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "--data-dir", lake, "check")
    assert code == 0, err
    assert "OK:" in out and "raw/ holds every file the ledger counts and no other" in out
    code, info = status_json(capsys, lake)
    assert info["raw"] == [], info["raw"]
    assert info["raw_files"] == info["files"] == counted(lake)
    assert code == 3 and info["quarantined"]  # the quarantined file: its own problem


# --------------------------------------------------------------------------- raw/ newer


def test_raw_newer_than_the_lake_is_named_and_its_fix_brings_the_rounds_in(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rsync copies the lake before raw/ (`.lake`, `lake` sort first): the restored raw/
    holds files the lake never counted. Everything said OK and `top` missed the rounds."""
    old = copy(lake, tmp_path / "old")
    later = newer(lake, tmp_path)
    shutil.rmtree(old / "raw")
    shutil.copytree(lake / "raw", old / "raw", symlinks=True)  # raw/ of later
    before = counted(old)

    code, out, err = cli(capsys, "--data-dir", old, "check")
    assert code == 1 and "raw/ holds 4 round file(s)" in err and "Traceback" not in err
    assert "OK" not in out
    code, info = status_json(capsys, old)
    assert code == 3
    (said,) = info["raw"]
    assert isinstance(said, str)
    assert f"raw/ holds {len(later)} round file(s) the lake's ledger does not count" in said
    main_dir, scrim_dir = old / "raw" / "2026-02-10", old / "raw" / SCRIM / "2026-02-11"
    assert f"`etl-duck ingest {main_dir}`" in said
    assert f"`etl-duck ingest --server {SCRIM} {scrim_dir}`" in said
    assert "`etl-duck rebuild`" in said
    code, out, err = cli(capsys, "--data-dir", old, "status")
    assert code == 3 and "raw/ vs ledger raw/ holds 4 round file(s)" in out
    assert "no open problems" not in out

    # the fix it names, as it names it, brings the rounds in
    for command in re.findall(r"`etl-duck (ingest [^`]+)`", said):
        code, _, err = cli(capsys, "--data-dir", old, *command.split())
        assert code == 0, err
    assert counted(old) == before + len(later) == counted(lake)
    assert status_json(capsys, old)[1]["raw"] == []
    assert cli(capsys, "--data-dir", old, "check")[0] == 0


def test_the_rebuild_it_names_when_raw_alone_is_ahead_brings_the_rounds_in(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = copy(lake, tmp_path / "old")
    newer(lake, tmp_path)
    shutil.rmtree(old / "raw")
    shutil.copytree(lake / "raw", old / "raw", symlinks=True)
    assert cli(capsys, "--data-dir", old, "rebuild")[0] in (0, 3)
    assert counted(old) == counted(lake)
    assert status_json(capsys, old)[1]["raw"] == []


# --------------------------------------------------------------------------- raw/ older


def test_raw_older_than_the_lake_is_named_with_its_fix(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """raw/ copied first, the lake later: the ledger counts files raw/ lacks (a rebuild
    would lose them, and it refused — only then did anyone learn)."""
    old_raw = tmp_path / "raw.before"
    shutil.copytree(lake / "raw", old_raw, symlinks=True)
    later = newer(lake, tmp_path)
    shutil.rmtree(lake / "raw")
    old_raw.rename(lake / "raw")

    code, _, err = cli(capsys, "--data-dir", lake, "check")
    assert code == 1 and "raw/ lacks 4 of the" in err and "Traceback" not in err
    code, info = status_json(capsys, lake)
    assert code == 3
    (said,) = info["raw"]
    assert isinstance(said, str)
    assert f"raw/ lacks {len(later)} of the {counted(lake)} files" in said
    assert "restore raw/ from a backup, or ingest the original files again" in said


def test_a_deleted_date_folder_is_named(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.rmtree(lake / "raw" / "2026-02-01")
    assert cli(capsys, "--data-dir", lake, "check")[0] == 1
    code, info = status_json(capsys, lake)
    assert code == 3 and len(info["raw"]) == 1
    assert "raw/ lacks 2 of the" in str(info["raw"])
    assert str(lake / "raw" / "2026-02-01") in str(info["raw"])


# --------------------------------------------------------------------------- not mounted


@pytest.mark.parametrize("how", ["dangling link", "empty mount point", "gone"])
def test_raw_not_mounted_is_an_open_problem(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    """`ingest` refused (raw/ holds none of the lake's rounds) while `status` said "no
    open problems"."""
    (lake / "raw").rename(tmp_path / "volume")
    if how == "dangling link":
        (lake / "raw").symlink_to(tmp_path / "unmounted")
    elif how == "empty mount point":
        (lake / "raw").mkdir()
    code, out, err = cli(capsys, "--data-dir", lake, "status")
    assert code == 3 and MOUNTED in out and "no open problems" not in out
    code, info = status_json(capsys, lake)
    assert code == 3
    (said,) = info["raw"]
    assert MOUNTED in str(said) and f"counts {counted(lake)} files" in str(said)
    assert info["raw_files"] is None
    code, _, err = cli(capsys, "--data-dir", lake, "check")
    assert code == 1 and MOUNTED in err and "Traceback" not in err


# --------------------------------------------------------------------------- D1: leftovers


def test_leftovers_count_only_the_pending_names_raw_holds(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A disk full mid copy: the pending list names the whole batch, raw/ holds the first
    file of it. `status` said "3 stored file(s) not yet committed … `etl-duck ingest`
    commits them" — an ingest with no paths can commit one."""
    src = tmp_path / "batch"
    src.mkdir()
    files = [one_player_round(src, f"2026-02-12-2{i}0000") for i in range(3)]
    raw = RawStore(lake)
    raw.mark_pending(f.name for f in files)  # the ingest lists the batch first …
    raw.store([(files[0].name, files[0].read_bytes())])  # … and stored one before ENOSPC
    code, info = status_json(capsys, lake)
    assert code == 3
    stored, lost = info["leftovers"]
    assert str(stored).startswith("1 stored file(s) not yet committed")
    assert str(lost).startswith(f"2 file(s) an interrupted ingest listed in {lake / PENDING}")
    assert files[1].name in str(lost) and files[2].name in str(lost)
    assert "ingest them again from their source: `etl-duck fetch`" in str(lost)
    assert info["raw"] == []  # the stored one is the pending list's, not a stranger
    code, out, _ = cli(capsys, "--data-dir", lake, "status")
    assert "leftover 1 stored file(s)" in out and "leftover 2 file(s)" in out


# --------------------------------------------------------------------- folders it cannot list


@pytest.fixture
def deny(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """``deny(folder)``: the folder on disk made unreadable (mode 000) for the user the
    tests run as — root reads anything, so for root a listing of a folder whose mode
    grants nothing fails with EACCES as it does for a service user (a volume's
    `lost+found` is root's, mode 700)."""
    denied: list[Path] = []
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if denied and os.stat(path).st_mode & 0o777 == 0:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path)

    if os.geteuid() == 0:
        monkeypatch.setattr(os, "scandir", scandir)

    def deny(folder: Path) -> None:
        folder.mkdir(exist_ok=True)
        folder.chmod(0)
        denied.append(folder)

    yield deny
    for folder in denied:
        folder.chmod(0o700)


def test_a_lost_and_found_in_raw_raises_no_alarm(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], deny: Callable[[Path], None]
) -> None:
    """raw/ on its own volume (as the README suggests) is an ext4 mount point: its
    `lost+found` (root's, mode 700) cannot be listed by the bot's user. `status` said
    "raw/ cannot be listed … is raw/'s volume mounted?" for good (exit 3, `check` 1)."""
    newer(lake, tmp_path)  # a server's folder too (raw/scrim/)
    deny(lake / "raw" / "lost+found")
    admins = lake / "raw" / "Old Backup" / "2026-02-01"  # not a server's: not etl-duck's
    admins.mkdir(parents=True)
    shutil.copy(next((lake / "raw" / "2026-02-01").glob("*round-1.txt")), admins)
    code, out, err = cli(capsys, "--data-dir", lake, "check")
    assert code == 0 and "raw/ holds every file the ledger counts and no other" in out, err
    code, info = status_json(capsys, lake)
    assert info["raw"] == [] and info["raw_files"] == counted(lake)
    before = counted(lake)
    assert cli(capsys, "--data-dir", lake, "rebuild")[0] in (0, 3)
    assert counted(lake) == before and status_json(capsys, lake)[1]["raw"] == []


@pytest.mark.parametrize("folder", ["2026-02-01", SCRIM, f"{SCRIM}/2026-02-11"])
def test_a_server_or_date_folder_it_cannot_list_is_named_on_its_own(
    lake: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    deny: Callable[[Path], None],
    folder: str,
) -> None:
    """Not "raw/ cannot be listed … is raw/'s volume mounted? … `etl-duck ingest` refuses
    to store anything" (all false): that one folder, and its fix; a rebuild refuses (it
    would lose the folder's rounds), `--force` too."""
    newer(lake, tmp_path)  # raw/scrim/2026-02-11/
    where = lake / "raw" / folder
    assert where.is_dir()
    deny(where)
    version = Lake(lake).version()
    code, info = status_json(capsys, lake)
    (said,) = info["raw"]
    assert str(said).startswith(f"{where} cannot be listed (Permission denied), so raw/ was "), said
    assert MOUNTED not in str(said) and "refuses" not in str(said)
    assert code == 3 and info["raw_files"] is None
    code, _, err = cli(capsys, "--data-dir", lake, "check")
    assert code == 1 and f"{where} cannot be listed" in err and "could not be compared" in err
    for force in ([], ["--force"]):
        code, _, err = cli(capsys, "--data-dir", lake, "rebuild", *force)
        assert code == 1 and "Traceback" not in err
        assert err.startswith(f"error: {where} cannot be listed (Permission denied): "), err
        assert Lake(lake).version() == version
    assert cli(capsys, "--data-dir", lake, "ingest")[0] == 0  # ingest does not refuse


# --------------------------------------------------------------------------- damaged ledger


def test_check_of_a_damaged_ledger_says_raw_was_not_compared_in_one_sentence(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It wrapped the ledger's own error (several sentences, telling to run `check`)."""
    snap = Lake(lake).current_dir()
    assert snap is not None
    (part,) = (snap / "_state" / "files").glob("*.parquet")
    part.write_bytes(b"\0" * part.stat().st_size)  # a bad sector
    code, _, err = cli(capsys, "--data-dir", lake, "check")
    assert code == 1 and "damaged" in err and "Traceback" not in err
    said = "raw/ vs ledger the ledger is damaged (above), so raw/ was not compared error: 1 "
    assert said in err, err
    assert "`etl-duck check` lists" not in err
