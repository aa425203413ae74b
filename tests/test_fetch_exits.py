"""`etl-duck fetch`'s account and exit code (README "Exit codes") over a real SFTP server:
a retry after a lost connection, several servers, a host clock ahead, a lost round."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import pytest

from etl_duck.cli.fetching import run_fetch
from tests.conftest import REAL
from tests.sftp_server import Hooks, SFTPTestServer, serve_in_thread
from tests.test_fetch import CONTENT, OLD, Recorder, stats_names

FILES = sorted(REAL.glob("*.txt"))


def test_a_file_quarantined_before_the_retry_still_makes_fetch_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first poll quarantined a bad file, then lost the link; the retry's own ingest
    report replaced the first's, and `fetch` exited 0 with the bad file unnamed."""
    bad = stats_names(1)[0]
    good, victim = FILES[0], FILES[1]
    hooks = Hooks(drop_after={victim.name: 300}, slow_reads={victim.name: 0.5})
    with serve_in_thread(tmp_path, hooks=hooks) as server:
        server.write(bad, b"not a header\n", age_s=OLD)
        for p in (good, victim):
            server.write(p.name, p.read_bytes(), age_s=OLD)
        code = run_fetch(server.settings(tmp_path / "data"))
    assert hooks.dropped == {victim.name}  # the retry fetched it
    out = capsys.readouterr().out
    assert code == 3
    assert f"quarantined {bad}" in out and "2 ingested, 1 quarantined" in out


def test_a_retry_that_cannot_reconnect_still_tells_what_was_committed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The link dropped after some files were committed and the server went down before
    the retry: `fetch` printed only the error and exited 1, "nothing committed"."""
    victim = FILES[2]
    hooks = Hooks(drop_after={victim.name: 300}, slow_reads={victim.name: 0.5})
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = SFTPTestServer(tmp_path, hooks=hooks)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)

    def stop_after_the_drop() -> None:  # within the retry's 0.5 s back-off
        deadline = time.monotonic() + 10
        while not hooks.dropped and time.monotonic() < deadline:
            time.sleep(0.01)
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)

    try:
        for p in FILES[:3]:
            server.write(p.name, p.read_bytes(), age_s=OLD)
        threading.Thread(target=stop_after_the_drop, daemon=True).start()
        rec = Recorder()
        settings = server.settings(tmp_path / "data", reconnect_backoff_s=0.5)
        code = run_fetch(settings, ingest=rec)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    out = capsys.readouterr()
    assert sorted(rec.names) == sorted(p.name for p in FILES[:2])
    assert "2 downloaded" in out.out and f"failed  {victim.name}" in out.out
    assert "error: cannot connect" in out.err
    assert code == 3  # committed, some input not fetched: not 1 ("nothing committed")


def test_one_unreachable_server_does_not_keep_the_others_from_being_fetched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()
    with serve_in_thread(tmp_path) as scrim:
        names = stats_names(2)
        for name in names:
            scrim.write(name, CONTENT, age_s=OLD)
        other = {"name": "scrim", "ssh_host": "127.0.0.1", "ssh_port": scrim.port}
        rec = Recorder()
        # the main server is down (a reboot): 1, and scrim's rounds land
        assert (
            run_fetch(scrim.settings(tmp_path / "data", ssh_port=dead, servers=[other]), ingest=rec)
            == 1
        )
        assert sorted(rec.names) == sorted(names)
        out = capsys.readouterr()
        assert "main: error: cannot connect" in out.err and "scrim: 2 downloaded" in out.out
        # the main server's host key is unknown (a setup problem): 2, scrim still fetched
        unknown = tmp_path / "empty_known_hosts"
        unknown.write_text("")
        other["ssh_known_hosts"] = str(scrim.known_hosts)
        # two servers may not read one folder (the same files, fetched twice): main's is
        # another one, never listed (its host key stops it first)
        other["ssh_remote_dir"] = scrim.remote_dir
        settings = scrim.settings(
            tmp_path / "data2", ssh_known_hosts=unknown, ssh_remote_dir="main", servers=[other]
        )
        rec = Recorder()
        assert run_fetch(settings, ingest=rec) == 2
        assert sorted(rec.names) == sorted(names)
        out = capsys.readouterr()
        assert "main: error: refusing" in out.err and "scrim: 2 downloaded" in out.out


def test_a_settled_file_from_a_host_whose_clock_is_ahead_is_taken_by_one_fetch(
    tmp_path: Path,
) -> None:
    """Its mtime is 2 h in our future: it never looked old, so a one-shot `fetch` (cron)
    never gave it its second look within the poll and left it pending, exit 0, for hours."""
    with serve_in_thread(tmp_path) as server:
        (name,) = stats_names(1)
        server.write(name, CONTENT, age_s=-7200)
        rec = Recorder()
        assert run_fetch(server.settings(tmp_path / "data"), ingest=rec) == 0
        assert rec.names == [name]


def test_an_old_empty_round_file_makes_fetch_exit_3_a_young_one_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 0-byte file older than fetch_stable_seconds is a lost round (the writer crashed):
    `ingest` of it exits 3, `fetch` exited 0. A young one may still be written."""
    old, young = stats_names(2)
    with serve_in_thread(tmp_path) as server:
        server.write(young, b"")
        rec = Recorder()
        data = tmp_path / "data"
        assert run_fetch(server.settings(data), ingest=rec) == 0
        server.write(old, b"", age_s=OLD)
        assert run_fetch(server.settings(data), ingest=rec) == 3
        assert rec.batches == []
    out = capsys.readouterr().out
    assert f"empty   {old}: 0 bytes" in out and f"empty   {young}" not in out


def test_watch_names_an_old_empty_round_file_once() -> None:
    """`fetch` exits 3 for a 0-byte round file old enough not to be in writing and names it;
    `watch` printed nothing about it (it only prints polls that did something)."""
    import io

    from rich.console import Console

    from etl_duck.cli.fetching import WatchLines
    from etl_duck.fetch.poller import FetchReport

    name = "2026-03-14-213512-supply-round-1.txt"
    out, err = io.StringIO(), io.StringIO()
    lines = WatchLines(Console(file=out, width=80), Console(file=err, width=80))
    for _ in range(3):
        lines.report(FetchReport(empty=[name], empty_old=[name]))
    assert err.getvalue().count(f"empty {name}: 0 bytes") == 1
    lines.report(FetchReport(empty=["young.txt"]))  # still being written: not a problem
    assert "young.txt" not in err.getvalue()
