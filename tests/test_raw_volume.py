"""raw/ on a volume of its own (DESIGN: a separate disk): an ingest works when it is
mounted — on another file system than the data directory — and refuses, storing nothing,
when it is not (an empty folder in its place)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_duck.cli import run
from etl_duck.ingest.run import RawIncomplete, ingest_paths
from etl_duck.lake.rawstore import PENDING, RawStore
from etl_duck.lake.snapshot import Lake
from tests.lakecheck import one_player_round, renamed_pair


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    return " ".join((out + err).split())


@pytest.fixture
def committed(tmp_path: Path) -> Path:
    """A lake of two evenings (four rounds) and its raw/."""
    src = tmp_path / "src"
    src.mkdir()
    data = tmp_path / "data"
    ingest_paths(
        data,
        [
            *renamed_pair(src, "2026-02-01-210000", "2026-02-01-211000", "a"),
            *renamed_pair(src, "2026-02-05-210000", "2026-02-05-211000", "b"),
        ],
    )
    assert Lake(data).version() == 1
    return data


# --------------------------------------------------------------------------- not mounted


def test_an_ingest_while_raws_volume_is_not_mounted_stores_and_commits_nothing(
    committed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """raw/'s volume unmounted (an empty folder in its place): the ingest committed the new
    round and stored its raw copy on the wrong file system, hidden once the volume was
    mounted again; every later ingest then failed and rebuild refused."""
    data = committed
    (data / "raw").rename(tmp_path / "raw.volume")  # the volume, not mounted …
    (data / "raw").mkdir()  # … its mount point, empty
    new = one_player_round(tmp_path / "src", "2026-02-07-200000")
    with pytest.raises(RawIncomplete, match=r"is raw/'s volume mounted"):
        ingest_paths(data, [new])
    assert Lake(data).version() == 1
    assert not any((data / "raw").iterdir()), "a file landed on the wrong file system"
    assert not (data / PENDING).exists()
    # the CLI: one sentence, exit 1, nothing changed
    capsys.readouterr()
    assert run(["--data-dir", str(data), "ingest", str(new)]) == 1
    said = _said(capsys)
    assert "holds none of the lake's round files" in said and "volume mounted" in said
    assert "Traceback" not in said
    assert not any((data / "raw").iterdir()) and Lake(data).version() == 1
    # no raw/ folder at all (the mount point gone too) is the same
    (data / "raw").rmdir()
    with pytest.raises(RawIncomplete, match=r"volume mounted"):
        ingest_paths(data, [new])
    # mounted again: the ingest goes on, rebuild agrees
    (tmp_path / "raw.volume").rename(data / "raw")
    assert ingest_paths(data, [new]).committed
    assert Lake(data).version() == 2
    assert RawStore(data).path(new.name).exists()


def test_a_few_lost_raw_files_do_not_stop_an_ingest(committed: Path, tmp_path: Path) -> None:
    """The check looks at a sample (a few stats, not the ledger): raw/ holding some of it is
    mounted; one file lost is named by the commit that needs it, not refused up front."""
    raw = RawStore(committed)
    raw.path("2026-02-05-211000-supply-round-2.txt").unlink()
    new = one_player_round(tmp_path / "src", "2026-02-09-200000")
    assert ingest_paths(committed, [new]).committed


def test_a_missing_raw_copy_is_one_sentence_naming_it_and_the_likely_cause(
    committed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A committed round's raw copy gone (hidden under a volume mounted since, moved) while
    a new round regroups its evening: "a file or folder the error does not name is
    missing: …" (exit 2); now the copy's path, the likely cause and the fix (exit 1)."""
    data = committed
    gone = RawStore(data).path("2026-02-01-210000-supply-round-1.txt")
    gone.unlink()
    late = one_player_round(tmp_path / "src", "2026-02-01-213000", "et_brewdog")
    with pytest.raises(RawIncomplete, match="is missing: the lake holds round"):
        ingest_paths(data, [late])
    capsys.readouterr()
    assert run(["--data-dir", str(data), "ingest", str(late)]) == 1
    said = _said(capsys)
    assert f"{gone} is missing" in said and "volume mounted" in said, said
    assert "does not name" not in said
    assert Lake(data).version() == 1


def test_the_mount_check_costs_a_few_stats_whatever_the_history(
    committed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit path's cost must not grow with the history: the check stats at most
    2 × MOUNT_SAMPLE first versions, never a scan of raw/."""
    from etl_duck.ingest import run as run_mod

    looked: list[int] = []
    real = RawStore.holds_any

    def counting(self: RawStore, names: list[str]) -> bool:
        names = list(names)
        looked.append(len(names))
        return real(self, names)

    monkeypatch.setattr(RawStore, "holds_any", counting)
    monkeypatch.setattr(RawStore, "names", lambda self: pytest.fail("raw/ scanned"))
    new = one_player_round(tmp_path / "src", "2026-02-09-200000")
    assert ingest_paths(committed, [new]).committed
    assert looked == [4]  # the lake's four rounds: all of them, fewer than 2 × 3 + 1
    assert 2 * run_mod.MOUNT_SAMPLE == 6


# --------------------------------------------------------------------------- another fs


def test_the_pending_lists_temp_file_is_written_beside_it(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its temp file was written in raw/.incoming and renamed into the data directory: a
    raw/ on its own volume made every ingest fail with EXDEV."""
    renamed: list[tuple[Path, Path]] = []
    real = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        renamed.append((Path(src), Path(dst)))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    RawStore(data_dir).mark_pending(["2026-02-01-210000-supply-round-1.txt"])
    assert [d for _, d in renamed] == [data_dir / PENDING]
    assert all(s.parent == d.parent for s, d in renamed), renamed
    assert RawStore(data_dir).pending() == ["2026-02-01-210000-supply-round-1.txt"]


def test_recover_removes_the_pending_lists_temp_file(data_dir: Path) -> None:
    left = data_dir / f".{PENDING}.4242.tmp"  # a writer killed before its rename
    left.write_bytes(b"2026-02-01-210000-supply-round-1.txt")
    other = data_dir / ".other.4242.tmp"  # not ours: stays
    other.write_bytes(b"")
    RawStore(data_dir).recover()
    assert not left.exists() and other.exists()


def _other_file_system(here: Path) -> Path | None:
    """A folder on another file system than ``here`` (tmpfs at /dev/shm), or None."""
    shm = Path("/dev/shm")
    try:
        if not shm.is_dir() or shm.stat().st_dev == here.stat().st_dev:
            return None
        folder = shm / f"etl-duck-raw-{uuid.uuid4().hex}"
        folder.mkdir()
    except OSError:
        return None
    return folder


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    folder = _other_file_system(tmp_path)
    if folder is None:
        pytest.skip("no other file system to put raw/ on (/dev/shm is the same one here)")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_an_ingest_commits_with_raw_on_another_file_system(
    tmp_path: Path, elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """data/raw -> a folder on another file system (a volume of its own): every ingest
    failed with EXDEV ("Invalid cross-device link") and committed nothing."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "raw").symlink_to(elsewhere)
    src = tmp_path / "src"
    src.mkdir()
    first = renamed_pair(src, "2026-02-01-210000", "2026-02-01-211000", "a")
    report = ingest_paths(data, list(first))
    assert report.committed and len(report.ingested) == 2
    assert (elsewhere / "2026-02-01" / first[0].name).read_bytes() == first[0].read_bytes()
    assert not (data / PENDING).exists()
    # the CLI too, and a second commit (the pending list written again)
    late = one_player_round(src, "2026-02-01-213000", "et_brewdog")
    capsys.readouterr()
    assert run(["--data-dir", str(data), "ingest", str(late)]) == 0, _said(capsys)
    assert Lake(data).version() == 2
    left = [p for p in (*data.rglob("*.tmp"), *elsewhere.rglob("*.tmp"))]
    assert not left, left
