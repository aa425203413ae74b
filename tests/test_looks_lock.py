"""A lock held on the record of looks stalls no fetch poll for SQLite's 5 s (real SFTP
server on 127.0.0.1, real SQLite locks from a second connection)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from etl_duck.fetch.looks import BUSY_S, LOCKED_FIX, Looks, looks_path
from etl_duck.fetch.poller import Fetcher
from tests.sftp_server import SFTPTestServer
from tests.test_fetch import CONTENT, OLD, Recorder, stats_names

#: loose: the old wait was SQLiteStore's 5 s per open; a busy machine must not fail it
SOON_S = 3.0


@contextmanager
def held(data: Path, *, readers_too: bool = False) -> Iterator[None]:
    """Another process's write lock on the looks file. WAL readers do not wait for a
    writer: ``readers_too`` holds it in exclusive locking mode, which they do wait for."""
    con = sqlite3.connect(looks_path(data), isolation_level=None)
    try:
        if readers_too:
            con.execute("PRAGMA locking_mode=EXCLUSIVE")
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO looks VALUES ('other', 'x', 1, 2)")  # uncommitted
        yield
    finally:
        con.close()  # rolls back, drops the lock


def _recorded(data: Path) -> dict[str, tuple[int, int | None]]:
    with Looks(data) as store:
        return store.load("")


def test_a_held_lock_fails_an_open_or_a_write_within_the_bounded_wait(tmp_path: Path) -> None:
    assert BUSY_S <= 1.0
    with Looks(tmp_path) as store:
        store.put("", {"a": (1, 2)})
    with held(tmp_path):
        t = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"), Looks(tmp_path) as store:
            assert store.load("") == {"a": (1, 2)}  # WAL: a writer does not stop a read
            store.put("", {"b": (3, 4)})
        assert time.monotonic() - t < SOON_S
    with held(tmp_path, readers_too=True):
        t = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            Looks(tmp_path)
        assert time.monotonic() - t < SOON_S
    with Looks(tmp_path) as store:  # released: both work again
        store.put("", {"b": (3, 4)})
        assert store.load("") == {"a": (1, 2), "b": (3, 4)}


@pytest.mark.parametrize("readers_too", [False, True], ids=["write", "read-and-write"])
def test_a_poll_does_not_stall_on_a_held_lock_and_records_once_it_is_released(
    tmp_path: Path, readers_too: bool
) -> None:
    """Each poll waited SQLite's 5 s busy timeout at each open of the looks (a read, a
    write) while another process held a lock: now a bounded wait, the trouble is in the
    poll's report as before, and the next poll after the release reads and records."""
    data = tmp_path / "data"

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            first, second = stats_names(2)
            server.write(first, CONTENT, age_s=OLD)
            async with Fetcher(server.settings(data), Recorder()) as fetcher:
                assert (await fetcher.poll_once()).downloaded == [first]  # the file exists
                server.write(second, CONTENT, age_s=OLD)
                with held(data, readers_too=readers_too):
                    t = time.monotonic()
                    r = await fetcher.poll_once()
                    took = time.monotonic() - t
                    assert r.downloaded == [second]  # the fetch goes on without its record
                    assert r.looks_error and "database is locked" in r.looks_error
                    assert r.looks_error.endswith(LOCKED_FIX)
                    assert r.looks_error.startswith(f"cannot record {looks_path(data)} (")
                    # a lock is in use, not broken: never "remove it" (review 123)
                    assert r.looks_error.endswith(LOCKED_FIX) and "remove it" not in r.looks_error
                    assert took < SOON_S, took
                r = await fetcher.poll_once()  # released: the look not recorded is now
                assert r.looks_error is None
                assert set(await asyncio.to_thread(_recorded, data)) == {first, second}
            server.write(stats_names(3)[2], CONTENT, age_s=OLD)
            # a new process whose first read meets the lock: told as a read, retried
            async with Fetcher(server.settings(data), Recorder()) as fetcher:
                with held(data, readers_too=readers_too):
                    t = time.monotonic()
                    r = await fetcher.poll_once()
                    took = time.monotonic() - t
                    assert r.looks_error and "database is locked" in r.looks_error
                    assert r.looks_error.endswith(LOCKED_FIX)
                    verb = "read" if readers_too else "record"  # WAL: only a write waits
                    assert r.looks_error.startswith(f"cannot {verb} {looks_path(data)} (")
                    assert took < SOON_S, took
                r = await fetcher.poll_once()
                assert r.looks_error is None and r.known == 3
                assert len(await asyncio.to_thread(_recorded, data)) == 3

    asyncio.run(main())
