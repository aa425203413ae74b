"""raw/ is the source of truth: every version of a name is kept, the growth rule picks the
counted one, conflicts stay listed until an admin resolves them, rebuild agrees."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_duck.ingest.run import ingest_paths, rebuild, resolve
from etl_duck.lake.rawstore import RawStore, RawStoreError
from etl_duck.lake.snapshot import Lake
from etl_duck.query.stats import Stats
from tests.lakecheck import R1, content_digest, table_rows

FULL = R1.read_bytes()
LINES = FULL.split(b"\n")


def _write(folder: Path, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / R1.name
    path.write_bytes(data)
    return path


def _players(data_dir: Path) -> int:
    return len(table_rows(data_dir, "player_rounds"))


def _why_counted(data_dir: Path) -> str | None:
    """The ledger's reason for the counted version of R1 (None: simply the first)."""
    (row,) = [
        r for r in Lake(data_dir).read_state("files").to_pylist() if r["file_name"] == R1.name
    ]
    return row["reason"]  # type: ignore[no-any-return]


def test_a_file_cut_at_a_line_break_grows_into_its_full_version(
    data_dir: Path, tmp_path: Path
) -> None:
    cut = b"\n".join(LINES[:3]) + b"\n"  # header + 2 players: a valid, shorter file
    first = ingest_paths(data_dir, [_write(tmp_path / "a", cut)])
    assert first.ingested == [R1.name] and first.partial == []
    assert _players(data_dir) == 2
    second = ingest_paths(data_dir, [_write(tmp_path / "b", FULL)])
    assert second.replaced == [R1.name] and not second.conflicts
    assert _players(data_dir) == 6
    versions = RawStore(data_dir).versions(R1.name)
    assert [v.data for v in versions] == [cut, FULL]  # both kept, never overwritten
    assert Stats(data_dir).status()["conflicts"] == {}
    assert _why_counted(data_dir) == f"grew from {versions[0].id}"  # the ledger says why
    before = content_digest(data_dir)
    rebuild(data_dir)
    assert content_digest(data_dir) == before
    assert _why_counted(data_dir) == f"grew from {versions[0].id}"


def test_a_version_that_shrank_is_a_conflict_and_the_counted_one_stays(
    data_dir: Path, tmp_path: Path
) -> None:
    ingest_paths(data_dir, [_write(tmp_path / "a", FULL)])
    shrunk = b"\n".join(LINES[:3]) + b"\n"
    report = ingest_paths(data_dir, [_write(tmp_path / "b", shrunk)])
    (key,) = report.conflicts
    assert key.startswith(R1.name + "@") and "shorter" in report.conflicts[key]
    assert _players(data_dir) == 6
    status = Stats(data_dir).status()
    assert list(status["conflicts"]) == [key]
    rebuild(data_dir)  # the ledger's choice, not the newest file, decides
    assert _players(data_dir) == 6
    assert list(Stats(data_dir).status()["conflicts"]) == [key]
    # the same conflicting copy again is a duplicate, not a second conflict
    again = ingest_paths(data_dir, [_write(tmp_path / "c", shrunk)])
    assert again.duplicates == [R1.name] and again.ingested == []


def test_an_admin_keeps_the_other_version_and_rebuild_agrees(
    data_dir: Path, tmp_path: Path
) -> None:
    ingest_paths(data_dir, [_write(tmp_path / "a", FULL)])
    other = FULL.replace(b"\\1\\1\\2\\", b"\\1\\1\\1\\", 1)  # another winner: differs
    assert other != FULL
    report = ingest_paths(data_dir, [_write(tmp_path / "b", other)])
    (key,) = report.conflicts
    version = key.split("@", 1)[1]
    assert "differs" in report.conflicts[key]
    with pytest.raises(RawStoreError):
        resolve(data_dir, R1.name, keep="zz")
    done = resolve(data_dir, R1.name, keep=version)
    assert done.replaced == [R1.name] and done.committed
    (round_row,) = table_rows(data_dir, "rounds")
    assert round_row["winner_side"] == 1
    assert Stats(data_dir).status()["conflicts"] == {}
    assert _why_counted(data_dir) == "kept by an admin"
    before = content_digest(data_dir)
    rebuild(data_dir)
    assert content_digest(data_dir) == before


def test_a_dismissed_file_leaves_the_lake_and_the_open_list(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "2025-12-01-120000-supply-round-1.txt"
    bad.write_bytes(b"not a header\n")
    ingest_paths(data_dir, [bad])
    assert bad.name in Stats(data_dir).status()["quarantined"]
    resolve(data_dir, bad.name, dismiss=True)
    status = Stats(data_dir).status()
    assert bad.name not in status["quarantined"] and status["dismissed"] == [bad.name]


def test_keep_takes_a_dismissal_back_and_equals_a_rebuild(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`resolve --keep` after `--dismiss` said it worked and changed nothing (the round
    stayed out, while a rebuild counted it); status now says how to take it back."""
    from etl_duck.cli import run

    ingest_paths(data_dir, [R1])
    players = _players(data_dir)
    resolve(data_dir, R1.name, dismiss=True)
    assert Stats(data_dir).status()["counted_rounds"] == 0
    capsys.readouterr()
    run(["--data-dir", str(data_dir), "status"])
    said = " ".join(capsys.readouterr().out.split())
    version = said.split(f"etl-duck resolve {R1.name} --keep ")[1].split("`")[0]
    resolve(data_dir, R1.name, keep=version)
    assert _players(data_dir) == players
    status = Stats(data_dir).status()
    assert status["dismissed"] == [] and status["counted_rounds"] == 1
    live = content_digest(data_dir)
    rebuild(data_dir)
    assert content_digest(data_dir) == live


def test_a_rerun_after_a_crash_counts_each_file_once(data_dir: Path, tmp_path: Path) -> None:
    """The raw copies of a batch are stored but the commit never happened (pending list)."""
    raw = RawStore(data_dir)
    raw.store([(R1.name, FULL)])  # what a crashed ingest left: stored, pending, no commit
    report = ingest_paths(data_dir, [_write(tmp_path / "a", FULL)])
    assert report.ingested == [R1.name] and report.duplicates == []


def test_a_clock_stepped_back_keeps_the_order_of_arrivals(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file fetched three times while it grew, the wall clock stepped back between the
    2nd and 3rd fetch (NTP): the longest version sorted before the middle one, which became
    an open conflict only an admin could clear; an admin's choice made after such a step
    came before the version it chose."""
    import time  # the same module object rawstore stamps with

    real = time.time_ns
    grown = [b"\n".join(LINES[:3]) + b"\n", b"\n".join(LINES[:5]) + b"\n", FULL]
    for n, (body, shift_s) in enumerate(zip(grown, (0, 0, -5), strict=True)):
        monkeypatch.setattr(time, "time_ns", lambda s=shift_s: real() + s * 10**9)
        report = ingest_paths(data_dir, [_write(tmp_path / f"v{n}", body)])
        assert not report.conflicts, report.conflicts
    choice = RawStore(data_dir).decide(R1.name)
    assert choice is not None and choice.counted.data == FULL and not choice.conflicts
    # a different version, then the admin keeps the first one — with the clock 10 s back
    other = FULL.replace(b"Server", b"Serv3r", 1)
    ingest_paths(data_dir, [_write(tmp_path / "x", other)])
    first = RawStore(data_dir).versions(R1.name)[0]
    monkeypatch.setattr(time, "time_ns", lambda: real() - 10 * 10**9)
    resolve(data_dir, R1.name, keep=first.id)
    choice = RawStore(data_dir).decide(R1.name)
    assert choice is not None and choice.why == "kept by an admin"
    assert choice.counted.id == first.id and not choice.conflicts


def test_a_decision_whose_commit_was_interrupted_is_applied_by_the_next_ingest(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`resolve` records the decision in raw/, then commits: killed in between, a plain
    ingest left the lake without it (a rebuild applied it: live ≠ rebuild)."""
    import etl_duck.ingest.run as run_module

    bad = tmp_path / R1.name
    bad.write_bytes(b"not a header\n")
    ingest_paths(data_dir, [bad])
    real_ingest = run_module.ingest_paths

    def killed(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt  # the process dies after the decision was written

    monkeypatch.setattr(run_module, "ingest_paths", killed)
    with pytest.raises(KeyboardInterrupt):
        resolve(data_dir, R1.name, dismiss=True)
    monkeypatch.setattr(run_module, "ingest_paths", real_ingest)
    ingest_paths(data_dir, [])  # the next ingest, with nothing new
    status = Stats(data_dir).status()
    assert status["dismissed"] == [R1.name] and status["quarantined"] == {}
    live = content_digest(data_dir)
    rebuild(data_dir, force=True)
    assert content_digest(data_dir) == live
