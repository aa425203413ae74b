"""A young file (written less than fetch_stable_seconds ago) is taken only after two looks
at two polls, whatever other files a poll finds; a killed fetch's download folder is
removed at the next fetch's start. Over the real SFTP test server (tests/sftp_server.py)."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from etl_duck.fetch.poller import FETCH_DIR, Fetcher
from etl_duck.lake.rawstore import RawStore
from tests.sftp_server import SFTPTestServer
from tests.test_fetch import CONTENT, FIXTURE, OLD, Recorder, raw_files, run, stats_names
from tests.waiting import wait_until


def test_an_old_file_new_in_the_same_poll_takes_no_young_file_with_it(tmp_path: Path) -> None:
    """An old file gets its second look within the poll; a young one listed with it got the
    same second look fetch_recheck_s later and was taken, so a one-shot fetch took a round
    the server was still writing (alone, the young one was pending, as it should be)."""

    async def main() -> None:
        old, young = stats_names(2)
        whole = FIXTURE.read_bytes()
        async with SFTPTestServer(tmp_path) as server:
            server.write(old, CONTENT, age_s=OLD)
            server.write(young, whole)  # just written
            data = tmp_path / "data"
            rec = Recorder()
            async with Fetcher(server.settings(data), rec) as cron:  # a one-shot `fetch`
                first = await cron.poll_once()
            assert (first.downloaded, first.pending) == ([old], [young])
            assert sorted(raw_files(data)) == [old] and RawStore(data).versions(young) == []
            async with Fetcher(server.settings(data), rec) as cron:  # no earlier look
                assert (await cron.poll_once()).pending == [young]
            async with Fetcher(server.settings(data), rec) as watch:
                assert (await watch.poll_once()).pending == [young]  # first look
                assert (await watch.poll_once()).downloaded == [young]  # two equal looks
            # or a one-shot fetch once it is older than fetch_stable_seconds by our clock
            (tmp_path / "data2").mkdir()
            later = server.settings(tmp_path / "data2")
            async with Fetcher(later, Recorder(), clock=lambda: time.time() + 31) as cron:
                assert sorted((await cron.poll_once()).downloaded) == [old, young]
            assert rec.names == [old, young]
            assert [v.data for v in RawStore(data).versions(young)] == [whole]

    run(main())


def test_a_round_that_grows_between_polls_is_never_taken_while_young(tmp_path: Path) -> None:
    """The server writes half a round and stalls; old files keep arriving (a backlog copied
    in) so every poll takes a second look within itself: the half was ingested as a whole
    round (the bot would post it), then replaced. Taken once, whole, when it stops."""

    async def main() -> None:
        *olds, young = stats_names(5)
        lines = FIXTURE.read_bytes().splitlines(keepends=True)
        cut = len(lines) // 2
        async with SFTPTestServer(tmp_path) as server:
            server.write(young, b"".join(lines[:cut]))
            data = tmp_path / "data"
            rec = Recorder()
            async with Fetcher(server.settings(data), rec) as fetcher:
                for i, old in enumerate(olds[:3]):
                    server.write(old, CONTENT, age_s=OLD)
                    r = await fetcher.poll_once()
                    assert (r.downloaded, r.pending) == ([old], [young])
                    server.append(young, b"".join(lines[cut + i : cut + i + 1]))
                server.append(young, b"".join(lines[cut + 3 :]))
                server.write(olds[3], CONTENT, age_s=OLD)
                r = await fetcher.poll_once()  # grew since the last poll: still not taken
                assert (r.downloaded, r.pending) == ([olds[3]], [young])
                r = await fetcher.poll_once()
                assert r.downloaded == [young]
            assert [v.data for v in RawStore(data).versions(young)] == [FIXTURE.read_bytes()]
            rec.assert_once()

    run(main())


#: a Fetcher in another process: takes its lock, writes its download folder and ingests it
#: (an ingest that never ends), the way `etl-duck fetch` does, until it is killed
_OWNER = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from etl_duck.fetch.poller import Fetcher
    from etl_duck.fetch.remote import RemoteFile
    from etl_duck.settings import Settings

    data, marker, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    def ingest(paths):
        marker.write_text(str(paths[0].parent))
        time.sleep(3600)

    f = Fetcher(Settings(_env_file=None, data_dir=data), ingest)
    asyncio.run(f._housekeep())  # as its first poll starts
    f._ingest_batch(f.folder / f"{f._token}-{time.time_ns()}",
                    [(RemoteFile(name, name.encode(), 3, 0), b"abc")])
    """
)


def _owner(tmp_path: Path, data: Path, tag: str) -> tuple[subprocess.Popen[bytes], Path]:
    marker = tmp_path / f"{tag}.batch"
    proc = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(data), str(marker), stats_names(1)[0]],
        cwd=Path(__file__).parents[1],
    )
    wait_until(f"{tag}'s download folder", marker.exists)
    batch = Path(marker.read_text())
    assert (batch / stats_names(1)[0]).read_bytes() == b"abc"
    return proc, batch


def test_a_killed_fetchs_download_folder_is_removed_at_the_next_fetchs_start(
    tmp_path: Path,
) -> None:
    """A SIGKILL'd fetch left a full copy of its batch in data/.fetch/ for an hour, through
    every rerun. Its lock can be taken now: gone at the next fetch's first poll. A live
    fetch's folder (its lock held) is never touched, whatever its age, and one without a
    lock file (an older etl-duck's) waits for the hour as before; raw/ is never touched."""
    data = tmp_path / "data"
    dead, dead_batch = _owner(tmp_path, data, "dead")
    live, live_batch = _owner(tmp_path, data, "live")
    try:
        dead.send_signal(signal.SIGKILL)
        dead.wait()
        folder = data / FETCH_DIR
        lockless = folder / "0badf00d-1"  # no lock file: an older etl-duck's, or a live one
        lockless.mkdir()
        for batch, age in ((live_batch, OLD * 2), (lockless, 600.0)):
            t = time.time() - age  # the live one past the hour: never taken while held
            os.utime(batch, (t, t))
        raw = data / "raw" / "keep.txt"
        raw.parent.mkdir(parents=True, exist_ok=True)
        raw.write_bytes(b"raw")

        async def main() -> None:
            async with SFTPTestServer(tmp_path / "srv") as server:
                async with Fetcher(server.settings(data), Recorder()) as fetcher:
                    await fetcher.poll_once()
                    assert not dead_batch.exists()
                    mine = folder / f"{fetcher._token}.lock"
                    assert mine.is_file()  # held while the Fetcher is open
                assert not mine.exists()  # let go at close

        run(main())
        assert not (folder / f"{dead_batch.name.partition('-')[0]}.lock").exists()
        assert (live_batch / stats_names(1)[0]).read_bytes() == b"abc"
        assert lockless.is_dir() and raw.read_bytes() == b"raw"
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [live_batch.name, f"{live_batch.name.partition('-')[0]}.lock", lockless.name]
        )
    finally:
        for proc in (dead, live):
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def _no_flock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system without flock (NFS mounted nolock, no lockd): every flock fails."""

    def flock(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", flock)


def test_without_flock_every_download_folder_keeps_the_one_hour_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without flock a Fetcher left a lock file it could not lock, and every folder of a
    token with a lock file was skipped: a killed fetch's folders stayed for ever (an hour
    before locks). No lock file is left now; an unlockable token's folders go after the
    hour, with its lock file once that is an hour old; younger ones stay."""
    _no_flock(monkeypatch)
    data = tmp_path / "data"
    folder = data / FETCH_DIR
    folder.mkdir(parents=True)
    ages = {
        "aaaaaaaa.lock": OLD * 2,  # a killed fetch's, from a release that left it
        "aaaaaaaa-1": OLD * 2,
        "bbbbbbbb.lock": 600.0,  # a fetch that may be running: under the hour
        "bbbbbbbb-2": 600.0,
        "0badf00d-3": OLD * 2,  # no lock file at all
    }
    for name, age in ages.items():
        path = folder / name
        if name.endswith(".lock"):
            path.write_bytes(b"")
        else:
            path.mkdir()
            (path / "x.txt").write_bytes(b"x")
        t = time.time() - age
        os.utime(path, (t, t))
    name = stats_names(1)[0]

    async def main() -> None:
        async with SFTPTestServer(tmp_path / "srv") as server:
            server.write(name, CONTENT, age_s=OLD)
            rec = Recorder()
            async with Fetcher(server.settings(data), rec) as fetcher:
                assert (await fetcher.poll_once()).downloaded == [name]
                # no lock file of its own: nobody could ever take it
                assert sorted(os.listdir(folder)) == ["bbbbbbbb-2", "bbbbbbbb.lock"]
            rec.assert_once()

    run(main())
    assert sorted(os.listdir(folder)) == ["bbbbbbbb-2", "bbbbbbbb.lock"]
    assert (folder / "bbbbbbbb-2" / "x.txt").read_bytes() == b"x"


def test_a_reopened_fetcher_owns_its_download_folders_again(tmp_path: Path) -> None:
    """The bot's fetch cog closes the Fetcher on unload and a reload polls the same one
    again: its lock file was gone and not taken again for an hour, so another fetch's start
    could take its download folders for a dead one's."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path / "srv") as server:
            data = tmp_path / "data"
            fetcher = Fetcher(server.settings(data), Recorder())
            lock = data / FETCH_DIR / f"{fetcher._token}.lock"
            await fetcher.poll_once()
            assert lock.is_file()
            await fetcher.close()
            assert not lock.exists()
            await fetcher.poll_once()  # reopened
            try:
                assert lock.is_file()
                fd = os.open(lock, os.O_RDWR)
                try:
                    with pytest.raises(BlockingIOError):  # held: another's probe keeps off
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                finally:
                    os.close(fd)
            finally:
                await fetcher.close()
            assert not lock.exists()

    run(main())
