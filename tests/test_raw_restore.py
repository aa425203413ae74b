"""raw/ is the source of truth, so it must be repairable and its losses said:

* ingesting the original files again puts back the raw copies raw/ lacks (raw/ restored
  from a backup older than the lake): it said "0 ingested, N duplicate", exit 0, raw/
  still lacked them and `rebuild` refused;
* an ingest that finishes an interrupted one's journal (``.ingest-pending``: a full disk or
  a kill during the raw copy) names the names that never reached raw/ and exits 3: they
  vanished from the journal without a word, exit 0.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from etl_duck.cli import run
from etl_duck.ingest.run import ingest_paths, rebuild
from etl_duck.lake.rawstore import PENDING, RawStore
from etl_duck.lake.snapshot import Lake
from tests.lakecheck import content_digest, one_player_round, renamed_pair, table_rows


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    return " ".join((out + err).split())


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """Two evenings (four rounds) as the server wrote them."""
    folder = tmp_path / "src"
    folder.mkdir()
    renamed_pair(folder, "2026-02-01-210000", "2026-02-01-211000", "a")
    renamed_pair(folder, "2026-02-05-210000", "2026-02-05-211000", "b")
    return folder


@pytest.fixture
def committed(tmp_path: Path, src: Path) -> Path:
    data = tmp_path / "data"
    assert ingest_paths(data, [src]).committed
    return data


# --------------------------------------------------------------------------- D3: restore


def test_ingesting_the_originals_again_restores_their_lost_raw_copies(
    committed: Path, src: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, raw = committed, RawStore(committed)
    lost = ["2026-02-01-210000-supply-round-1.txt", "2026-02-05-211000-supply-round-2.txt"]
    for name in lost:  # raw/ restored from a backup taken before their commit
        raw.path(name).unlink()
    before = content_digest(data)
    capsys.readouterr()
    assert run(["--data-dir", str(data), "ingest", str(src)]) == 0
    said = _said(capsys)
    assert "0 ingested, 2 duplicate, 2 restored to raw/; lake version 1 (unchanged)" in said
    for name in lost:  # where the ledger expects them, byte for byte
        assert raw.path(name).read_bytes() == (src / name).read_bytes()
    assert Lake(data).version() == 1 and content_digest(data) == before
    assert not (data / PENDING).exists() and not list(raw.incoming.iterdir())
    assert rebuild(data).committed  # refused before: "raw lacks 2 of the 4 round files"
    assert content_digest(data) == before
    # restored once: the same files again are duplicates
    report = ingest_paths(data, [src])
    assert len(report.duplicates) == 4 and not report.restored and not report.committed


def test_a_restore_never_replaces_a_raw_copy_and_puts_a_grown_version_back(
    committed: Path, tmp_path: Path
) -> None:
    """The counted version of a file that grew lives beside its first, shorter copy; the
    later copy lost, ingesting the whole file again stores it again as that later version
    (the first copy untouched) and the same version counts; nothing is committed."""
    data, raw = committed, RawStore(committed)
    whole = one_player_round(tmp_path / "src", "2026-02-07-200000")
    cut = tmp_path / "cut" / whole.name
    cut.parent.mkdir()
    cut.write_bytes(b"".join(whole.read_bytes().splitlines(keepends=True)[:-1]))  # one line
    ingest_paths(data, [cut])
    assert ingest_paths(data, [whole]).replaced == [whole.name]  # it grew
    (later,) = (raw.path(whole.name).parent / ".versions").iterdir()
    counted = raw.decide(whole.name)
    assert counted is not None and counted.counted.path == later
    later.unlink()  # lost with raw/
    version, before = Lake(data).version(), content_digest(data)
    report = ingest_paths(data, [whole])
    assert report.restored == [whole.name] and not report.duplicates, report
    assert raw.path(whole.name).read_bytes() == cut.read_bytes()  # never replaced
    again = raw.decide(whole.name)
    assert again is not None and again.counted.id == counted.counted.id
    assert again.counted.data == whole.read_bytes() and not again.conflicts
    assert Lake(data).version() == version and content_digest(data) == before
    assert ingest_paths(data, [whole]).duplicates == [whole.name]


def test_a_lost_first_copy_of_a_file_that_grew_is_put_back_as_one_version(
    committed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first, cut copy of a file that grew lost, its counted whole version kept in
    .versions/: ingesting the whole file again stored it as a first version beside the
    same content, and after `rebuild` `status` said "version X differs from the counted
    version X" (a conflict of a version with itself)."""
    data, raw = committed, RawStore(committed)
    whole = one_player_round(tmp_path / "src", "2026-02-07-200000")
    cut = tmp_path / "cut" / whole.name
    cut.parent.mkdir()
    cut.write_bytes(b"".join(whole.read_bytes().splitlines(keepends=True)[:-1]))
    ingest_paths(data, [cut])
    assert ingest_paths(data, [whole]).replaced == [whole.name]  # it grew
    (later,) = (raw.path(whole.name).parent / ".versions").iterdir()
    raw.path(whole.name).unlink()  # the first copy lost with raw/
    # what raw/ keeps of the name is found: a store of that content again stores nothing
    assert [v.path for v in raw.versions(whole.name)] == [later]
    assert raw.store([(whole.name, whole.read_bytes())], journal=False) == []
    assert not raw.path(whole.name).exists()
    version, before = Lake(data).version(), content_digest(data)
    capsys.readouterr()
    assert run(["--data-dir", str(data), "ingest", str(whole)]) == 0
    assert f"0 ingested, 1 restored to raw/; lake version {version} (unchanged)" in _said(capsys)
    # the first copy back where the ledger expects it (and a rebuild lists it) …
    assert raw.path(whole.name).read_bytes() == whole.read_bytes()
    assert list(later.parent.iterdir()) == [later] and later.read_bytes() == whole.read_bytes()
    # … and the content one version, counted, no conflict
    (only,) = raw.versions(whole.name)
    choice = raw.decide(whole.name)
    assert choice is not None and choice.counted == only and not choice.conflicts
    assert Lake(data).version() == version and content_digest(data) == before
    assert rebuild(data).committed and content_digest(data) == before
    capsys.readouterr()
    assert run(["--data-dir", str(data), "status"]) == 0
    assert "conflict" not in _said(capsys)
    assert ingest_paths(data, [whole]).duplicates == [whole.name]


def test_a_season_of_duplicates_costs_one_stat_each_and_reads_no_raw_copy(
    committed: Path, src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check that keeps raw/ whole must not make re-ingesting a folder of duplicates
    read raw/: one stat of each file's first copy, nothing else of raw/."""
    looked: list[str] = []
    real = RawStore.holds

    def holds(self: RawStore, name: str, content_sha256: str, size: int) -> bool:
        looked.append(name)
        return real(self, name, content_sha256, size)

    monkeypatch.setattr(RawStore, "holds", holds)
    monkeypatch.setattr(RawStore, "versions", lambda *a, **k: pytest.fail("raw/ read"))
    monkeypatch.setattr(RawStore, "_entries", lambda *a, **k: pytest.fail("raw/ listed"))
    report = ingest_paths(committed, [src])
    assert len(report.duplicates) == 4 and not report.restored
    assert sorted(looked) == sorted(p.name for p in src.iterdir())


# --------------------------------------------------------------------------- D1: lost names


def _fail_raw_links_after(
    monkeypatch: pytest.MonkeyPatch, raw: Path, n: int, exc: BaseException
) -> None:
    """The raw copy of the ``n+1``-th file fails (a full disk, or a kill mid-copy)."""
    real, done = os.link, [0]

    def link(src: str | os.PathLike[str], dst: str | os.PathLike[str], **kw: object) -> None:
        if Path(dst).is_relative_to(raw):
            if done[0] >= n:
                raise exc
            done[0] += 1
        real(src, dst, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "link", link)


def test_journal_names_that_never_reached_raw_are_named_and_exit_3(
    committed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    data, raw = committed, RawStore(committed)
    new = tmp_path / "new"
    new.mkdir()
    files = [one_player_round(new, f"2026-02-{d:02d}-200000") for d in range(10, 15)]
    _fail_raw_links_after(monkeypatch, data / "raw", 2, OSError(errno.ENOSPC, "No space left"))
    capsys.readouterr()
    assert run(["--data-dir", str(data), "ingest", str(new)]) == 1
    assert "disk full" in _said(capsys)
    monkeypatch.undo()
    names = [f.name for f in files]
    assert sorted(raw.pending()) == names
    assert raw.pending_stored() == names[:2] and raw.pending_missing() == names[2:]
    # the advised rerun with no files: commits the two stored, names the three never stored
    assert run(["--data-dir", str(data), "ingest"]) == 3
    said = _said(capsys)
    assert "2 ingested, 3 never reached raw/; lake version 2" in said, said
    assert (
        f"3 files listed by the interrupted ingest never reached raw/ ({names[2]}, "
        f"{names[3]}, {names[4]}): ingest them again from where they came" in said
    ), said
    assert not (data / PENDING).exists()
    assert len(table_rows(data, "rounds")) == 6
    # ingested again from where they came: they land, nothing is said of them any more
    assert run(["--data-dir", str(data), "ingest", str(new)]) == 0
    assert "3 ingested, 2 duplicate; lake version 3" in _said(capsys)
    assert len(table_rows(data, "rounds")) == 9


def test_a_kill_during_the_raw_copy_leaves_names_the_next_ingest_says(
    committed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = committed
    new = tmp_path / "new"
    new.mkdir()
    files = [one_player_round(new, f"2026-02-{d:02d}-200000") for d in range(10, 13)]
    _fail_raw_links_after(monkeypatch, data / "raw", 1, KeyboardInterrupt("SIGKILL"))
    with pytest.raises(KeyboardInterrupt):
        ingest_paths(data, [new])
    monkeypatch.undo()
    report = ingest_paths(data, [])
    assert report.lost == [f.name for f in files[1:]] and report.problems
    assert report.committed and report.ingested == [files[0].name]
    # any later ingest has nothing more to say: the journal is done with
    assert not ingest_paths(data, []).problems
    # one of them given again with the rest of a batch: it lands, nothing is lost
    assert ingest_paths(data, [files[1]]).ingested == [files[1].name]
