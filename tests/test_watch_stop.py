"""How `etl-duck watch` stops (README "Exit codes"), over a real SFTP server with real
signals: the first SIGTERM / Ctrl-C stops at once while a poll is downloading (the
downloads are in memory: abandoned, nothing stored), and waits only for an ingest that has
begun, saying so; a second one interrupts that too (130) and names the lake version the
lake is at once the ingest's thread has ended. And a lost link names every file in flight.

`run_watch` runs in the main thread (its signal handlers need it); a helper thread sends
the signals to this process, only while the handlers are installed: a SIGTERM that found
none would end the test process.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from etl_duck.cli.fetching import run_fetch, run_watch
from etl_duck.fetch.poller import FETCH_DIR, Fetcher
from etl_duck.lake.snapshot import Lake
from etl_duck.pipeline import Ingestor
from tests.conftest import REAL
from tests.machine import within
from tests.sftp_server import Hooks, serve_in_thread
from tests.test_fetch import CONTENT, OLD, Recorder, raw_files, run, stats_names

FILES = [p for p in sorted(REAL.glob("*.txt")) if p.stat().st_size > 1000][:4]
WAITING = "stopping: waiting for the ingest in progress to commit"
GIVE_UP_S = 10.0  # a helper's wait for what it expects; past it the test fails, not hangs


def _until(cond: Callable[[], bool], limit: float = GIVE_UP_S) -> bool:
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Signals:
    """Sends signals to this process from a helper thread while ``run_watch`` runs."""

    def __init__(self) -> None:
        self.returned = threading.Event()  # run_watch returned: no handler any more
        self.sent: list[float] = []  # monotonic time of each signal

    def send(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if not self.returned.is_set():
            self.sent.append(time.monotonic())
            os.kill(os.getpid(), sig)

    def start(self, script: Callable[[], None]) -> None:
        def body() -> None:
            script()
            # the expected did not happen and watch still runs: end it with a Ctrl-C (a
            # KeyboardInterrupt where no handler is left, never a process killed)
            if not _until(self.returned.is_set, 2 * GIVE_UP_S):
                self.send(signal.SIGINT)

        threading.Thread(target=body, daemon=True).start()


def _leftovers(data: Path) -> list[str]:
    folder = data / FETCH_DIR
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("several", [False, True], ids=["one server", "two servers"])
def test_a_stop_does_not_wait_for_a_stalled_download(tmp_path: Path, several: bool) -> None:
    """One SIGTERM while a file's read stalls (the server answers after 20 s): `watch`
    waited for it (up to FETCH_TIMEOUT_S, 60 s a file, past `docker stop`'s 10 s grace).
    Now the download is abandoned: exit 0 at once, nothing stored, no download folder
    left, and the next run fetches everything."""
    stderr = io.StringIO()  # what watch says, readable while it runs
    stalled = FILES[1].name
    hooks = Hooks(slow_reads={stalled: 20.0})
    with serve_in_thread(tmp_path, hooks=hooks) as server:
        for p in FILES[:3]:
            server.write(p.name, p.read_bytes(), age_s=OLD)
        data = tmp_path / "data"
        extra: dict[str, object] = {}
        if several:  # a second game server on the same machine, another folder
            second = server.folder.parent / "gamestats2"
            second.mkdir()
            (second / FILES[3].name).write_bytes(FILES[3].read_bytes())
            os.utime(second / FILES[3].name, (time.time() - OLD,) * 2)
            extra["servers"] = [{"name": "scrim", "ssh_remote_dir": "gamestats2"}]
        settings = server.settings(data, fetch_parallel=2, **extra)
        rec = Recorder()
        signals = Signals()

        def script() -> None:
            if _until(lambda: hooks.opens[stalled] > 0):
                time.sleep(0.2)  # its read is waiting on the server
                signals.send()

        signals.start(script)
        try:
            with contextlib.redirect_stderr(stderr):  # its console writes there
                code = run_watch(settings, ingest=rec)
        finally:
            signals.returned.set()
        took = time.monotonic() - signals.sent[0]
        said = stderr.getvalue()
        assert code == 0, said
        assert "stopping" in said and WAITING not in said
        assert within(took, 3.0, "watch's stop during a stalled download"), took
        main_names = {p.name for p in FILES[:3]}
        assert not main_names & set(rec.names)  # the main server's batch never ingested
        assert not main_names & set(raw_files(data))
        assert _leftovers(data) == []  # no download folder, no lock file
        hooks.slow_reads.clear()
        assert run_fetch(server.settings(data, **extra), ingest=rec) == 0
    assert main_names <= set(raw_files(data))
    if not several:  # the Recorder stores a second server's files unqualified: not here
        rec.assert_once()


def _gated(data: Path, started: threading.Event, go: Callable[[], bool]) -> Callable[..., object]:
    """The real ingest, begun (``started``) and then held until ``go()`` (or GIVE_UP_S)."""
    real = Ingestor(data)

    def ingest(paths: list[Path]) -> object:
        started.set()
        _until(go)
        return real(paths)

    return ingest


def test_a_stop_during_the_ingest_waits_for_its_commit_and_says_so(tmp_path: Path) -> None:
    """The ingest has begun: the stop lets it commit (exit 0, the lake at version 1) and
    says what it waits for."""
    stderr = io.StringIO()  # what watch says, readable while it runs
    with serve_in_thread(tmp_path) as server:
        for p in FILES[:2]:
            server.write(p.name, p.read_bytes(), age_s=OLD)
        data = tmp_path / "data"
        started = threading.Event()
        ingest = _gated(data, started, lambda: WAITING in stderr.getvalue())
        signals = Signals()

        def script() -> None:
            if started.wait(GIVE_UP_S):
                signals.send()

        signals.start(script)
        try:
            with contextlib.redirect_stderr(stderr):  # its console writes there
                code = run_watch(server.settings(data), ingest=ingest)
        finally:
            signals.returned.set()
    said = stderr.getvalue()
    assert WAITING in said, said
    assert code == 0
    assert Lake(data).version() == 1
    assert {p.name for p in FILES[:2]} <= set(raw_files(data))
    assert _leftovers(data) == []


def test_a_second_signal_during_the_ingest_exits_130_naming_the_lake_version(
    tmp_path: Path,
) -> None:
    """Two SIGTERMs during an ingest: exit 130 with "nothing half-fetched or
    half-ingested" only, though README's 130 says "the lake is at the version printed".
    The ingest's thread runs on to its commit (here: only once `watch` itself has ended),
    and the version printed is the one after it."""
    stderr = io.StringIO()  # what watch says, readable while it runs
    with serve_in_thread(tmp_path) as server:
        for p in FILES[:2]:
            server.write(p.name, p.read_bytes(), age_s=OLD)
        data = tmp_path / "data"
        started = threading.Event()
        main: list[asyncio.Task[object]] = []

        def on_start() -> None:
            task = asyncio.current_task()
            assert task is not None
            main.append(task)

        # committed only after the interrupted watch's coroutine has returned
        ingest = _gated(data, started, lambda: bool(main) and main[0].done())
        signals = Signals()

        def script() -> None:
            if started.wait(GIVE_UP_S):
                signals.send()
                _until(lambda: WAITING in stderr.getvalue())  # the first one was handled
                signals.send()

        signals.start(script)
        try:
            with contextlib.redirect_stderr(stderr):  # its console writes there
                code = run_watch(server.settings(data), ingest=ingest, on_start=on_start)
        finally:
            signals.returned.set()
    said = stderr.getvalue()
    assert code == 130, said
    assert Lake(data).version() == 1
    assert "interrupted: nothing half-fetched or half-ingested" in said
    assert "the lake is at version 1" in said, said
    assert _leftovers(data) == []


def test_a_lost_link_names_every_file_in_flight(tmp_path: Path) -> None:
    """Two downloads were in flight when the link dropped: both are marked (fetched last
    from now on), but the sentence named only the first."""
    victim, other = stats_names(2)
    # every read waits a little (the test server answers one request at a time): the
    # victim's second read drops the link while one of the other's many reads waits
    hooks = Hooks(drop_after={victim: 300}, read_delay_s=0.02)

    async def main() -> None:
        with serve_in_thread(tmp_path, hooks=hooks) as server:
            server.write(victim, CONTENT * 20, age_s=OLD)
            server.write(other, CONTENT * 20_000, age_s=OLD)  # 9 MB: tens of reads
            settings = server.settings(
                tmp_path / "data", fetch_parallel=2, fetch_max_file_bytes=16 << 20
            )
            async with Fetcher(settings, Recorder()) as fetcher:
                report = await fetcher.poll_once()
        assert report.connection_lost and report.downloaded == []
        assert sorted(n for n, _ in report.failed) == sorted([victim, other])
        why = report.connection_error or ""
        assert "lost while fetching 2 files (" in why, why
        assert victim in why and other in why

    run(main())
