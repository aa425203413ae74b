"""Readers beside a writer: `etl-duck status` run while another process ingests (cron's
status beside the bot's fetch) tells an ingest in progress from a crash's leftovers, and
`etl-duck lake-path --holder NAME` lets a reader that asks from a new process each time
hold one snapshot, not one per call."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_duck.cli import run
from etl_duck.ingest.run import ingest_paths
from etl_duck.lake.rawstore import PENDING, RawStore
from etl_duck.lake.snapshot import REPIN_GRACE_S, Lake
from tests.conftest import FIXTURES

R1 = FIXTURES / "2026-03-14-213512-supply-round-1.txt"
R2 = FIXTURES / "2026-03-14-214449-supply-round-2.txt"


def _said(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    out, err = capsys.readouterr()
    return out, " ".join((out + err).split())


@pytest.fixture
def lake_with_leftovers(data_dir: Path) -> Path:
    ingest_paths(data_dir, [R1])
    return data_dir


def _leave_traces(data_dir: Path) -> None:
    """What an ingest in flight has on disk: names stored, a staging folder."""
    RawStore(data_dir).mark_pending([R2.name])
    (data_dir / ".lake" / "v00000002.tmp").mkdir()


@pytest.fixture
def ingest_in_progress(lake_with_leftovers: Path) -> Iterator[Path]:
    """Another writer holds the writer lock (a thread here: flock locks belong to an open
    file, so it is another holder exactly as another process is) and has stored a file."""
    data = lake_with_leftovers
    held, done = threading.Event(), threading.Event()

    def writer() -> None:
        with Lake(data).writer_lock():
            _leave_traces(data)  # after the lock: taking it removes staging folders
            held.set()
            done.wait(30)

    t = threading.Thread(target=writer)
    t.start()
    assert held.wait(30)
    try:
        yield data
    finally:
        done.set()
        t.join()


def test_status_during_an_ingest_names_it_and_reports_no_leftovers(
    ingest_in_progress: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It listed the ingest's pending list and staging folder as crash leftovers and
    exited 3 (an open problem) every time cron ran it during a commit."""
    data = ingest_in_progress
    capsys.readouterr()
    assert run(["--data-dir", str(data), "status"]) == 0
    _, said = _said(capsys)
    assert "an ingest is in progress" in said, said
    assert "leftover " not in said and "not yet committed" not in said
    assert said.endswith("no open problems")
    assert run(["--data-dir", str(data), "status", "--json"]) == 0
    out, _ = _said(capsys)
    info = json.loads(out)
    assert info["ingest_in_progress"] is True and info["leftovers"] == []
    assert (data / PENDING).exists()  # a reader removes nothing


def test_status_after_a_crash_still_lists_the_leftovers(
    lake_with_leftovers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No writer holds the lock: the same traces are a crash's, an open problem (exit 3)."""
    data = lake_with_leftovers
    _leave_traces(data)
    capsys.readouterr()
    assert run(["--data-dir", str(data), "status", "--json"]) == 3
    out, _ = _said(capsys)
    info = json.loads(out)
    assert info["ingest_in_progress"] is False and len(info["leftovers"]) == 2
    assert run(["--data-dir", str(data), "status"]) == 3
    _, said = _said(capsys)
    assert "leftover " in said and "an ingest is in progress" not in said


def test_the_writer_probe_creates_nothing_and_does_not_hold_the_lock(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "nowhere")
    assert lake.writer_busy() is False and not lake.data_dir.exists()  # a reader's probe
    lake = Lake(tmp_path)
    with lake.writer_lock():
        pass
    assert lake.writer_busy() is False
    with lake.writer_lock(timeout=0.5):  # the probe let go at once
        pass


# --------------------------------------------------------------------------- lake-path


def _leases(data_dir: Path) -> dict[str, float]:
    folder = data_dir / ".lake" / "leases"
    return {p.name: p.stat().st_mtime for p in folder.iterdir()}


def test_lake_path_with_a_holder_name_lets_its_older_snapshots_go(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A notebook renewing its view with `lake-path --lease 3600` from a new shell after each
    commit pinned one snapshot per call for the whole hour (the older leases were matched
    by process id): with --holder, a repeat call shortens the same holder's older leases
    to a minute, as a repeat call in one process does; another holder's stay."""
    ingest_paths(data_dir, [R1])

    def lake_path(*extra: str) -> Path:
        capsys.readouterr()
        args = ["--data-dir", str(data_dir), "lake-path", "--lease", "3600", *extra]
        assert run(args) == 0
        return Path(capsys.readouterr().out.strip())

    first = lake_path("--holder", "nb-1")
    other = lake_path("--holder", "nb_2")
    ingest_paths(data_dir, [R2])
    second = lake_path("--holder", "nb-1")
    assert second != first and first == other
    leases = _leases(data_dir)
    soon = time.time() + REPIN_GRACE_S + 5
    assert leases[f"{second.name}.named.nb-1"] > time.time() + 3000
    assert leases[f"{first.name}.named.nb-1"] <= soon  # shortened: goes within a minute
    assert leases[f"{other.name}.named.nb_2"] > time.time() + 3000  # another holder's stays
    # without --holder: as before (a lease of this process)
    lake_path()
    capsys.readouterr()
    for bad in ("a.b", "", "x" * 65, "*"):
        assert run(["--data-dir", str(data_dir), "lake-path", "--holder", bad]) == 2
        _, said = _said(capsys)
        assert "--holder" in said and "letters, digits" in said, bad


def test_a_named_lease_from_another_process_is_shortened(data_dir: Path) -> None:
    """The holder's earlier call was another process (a forked child here)."""
    ingest_paths(data_dir, [R1])
    pid = os.fork()
    if pid == 0:
        try:
            Lake(data_dir).pin(3600, named="cron")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    first = Lake(data_dir).current_dir()
    assert first is not None
    ingest_paths(data_dir, [R2])
    second = Lake(data_dir).pin(3600, named="cron")
    assert second is not None and second != first
    leases = _leases(data_dir)
    assert leases[f"{first.name}.named.cron"] <= time.time() + REPIN_GRACE_S + 5
    assert leases[f"{second.name}.named.cron"] > time.time() + 3000
