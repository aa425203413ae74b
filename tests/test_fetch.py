"""Fetch over a real asyncssh SFTP server on 127.0.0.1 (tests/sftp_server.py): no mocks."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import shutil
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PosixPath
from typing import Any, TypeVar

import asyncssh
import pytest

from etl_duck.cli.fetching import run_fetch, run_watch
from etl_duck.domain.parse import parse_file_name
from etl_duck.domain.sources import check_server_name, qualify
from etl_duck.fetch import poller, remote
from etl_duck.fetch.looks import FOLDER, Looks
from etl_duck.fetch.poller import FETCH_DIR, Fetcher, FetchReport
from etl_duck.fetch.remote import display_name, hostile_reason
from etl_duck.fetch.sftp import AuthError, FetchConnectionError, HostKeyError
from etl_duck.lake.rawstore import FILE_NAME_MAX, INCOMING, SERVER_NAME_MAX, RawStore
from etl_duck.pipeline import Ingestor
from tests.conftest import FIXTURES
from tests.machine import within
from tests.sftp_server import HookedSFTPServer, Hooks, SFTPTestServer, serve_in_thread
from tests.waiting import until

T = TypeVar("T")
FIXTURE = FIXTURES / "2026-03-14-213512-supply-round-1.txt"
#: header + two player lines: small, valid, ends with LF
CONTENT = b"".join(FIXTURE.read_bytes().splitlines(keepends=True)[:3])
OLD = 3600.0  # seconds: older than fetch_stable_seconds (30 s), taken on the first look


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def stats_names(n: int, start: datetime = datetime(2026, 3, 14, 20, 0, 0)) -> list[str]:
    out = []
    for i in range(n):
        t = start + timedelta(minutes=7 * i)
        out.append(f"{t:%Y-%m-%d-%H%M%S}-supply-round-{1 + i % 2}.txt")
    return out


@dataclass(frozen=True)
class Got:
    name: str
    data: bytes


class Recorder:
    """The injected ingest: records every batch and stores it through the real raw store,
    as the real ingest does (the fetch itself never writes raw/)."""

    def __init__(self, fail_times: int = 0) -> None:
        self.batches: list[list[Got]] = []
        self.fail_times = fail_times
        self.lock = threading.Lock()

    def __call__(self, paths: list[Path]) -> int:
        with self.lock:
            batch = [Got(p.name, p.read_bytes()) for p in paths]
            self.batches.append(batch)
            if self.fail_times:
                self.fail_times -= 1
                raise RuntimeError("lake is locked (test)")
            data_dir = paths[0].parents[2]  # data/.fetch/<batch>/<name>
            RawStore(data_dir).store((g.name, g.data) for g in batch)
            RawStore(data_dir).clear_pending()
        return len(paths)

    @property
    def names(self) -> list[str]:
        return [g.name for b in self.batches for g in b]

    def assert_once(self) -> None:
        dupes = [n for n, c in Counter(self.names).items() if c > 1]
        assert not dupes, f"ingested more than once: {dupes}"


def raw_files(data_dir: Path) -> dict[str, bytes]:
    """The counted version of every file in the raw store, by name."""
    raw = RawStore(data_dir)
    return {n: c.counted.data for n in raw.names() if (c := raw.decide(n)) is not None}


def assert_clean(data_dir: Path, server: SFTPTestServer) -> None:
    """Raw copies are whole and where they belong; no download left behind; server untouched."""
    for name, data in raw_files(data_dir).items():
        assert data == (server.folder / name).read_bytes(), f"{name}: raw copy differs"
        assert RawStore(data_dir).path(name).is_file()
    for folder in (data_dir / "raw" / INCOMING, data_dir / FETCH_DIR):
        # an open Fetcher's lock file (.fetch/<token>.lock) is no download
        leftovers = [p for p in folder.iterdir() if p.suffix != ".lock"] if folder.exists() else []
        assert leftovers == [], f"left in {folder}: {leftovers}"
    assert server.hooks.mutations == []


# --------------------------------------------------------------------------- names


def test_hostile_reason_and_display_name() -> None:
    good = b"2026-03-14-213512-supply-round-1.txt"
    assert hostile_reason(good) is None
    assert hostile_reason("2026-03-14-213512-größe-round-1.txt".encode()) is None
    assert hostile_reason(b"../x") == "path traversal"
    assert hostile_reason(b"a/../../x") == "path traversal"
    assert hostile_reason(b"/etc/passwd") == "absolute path"
    assert hostile_reason(b"a/b") == "contains a path separator"
    assert hostile_reason(b"..\\..\\x") == "path traversal"
    assert hostile_reason(good + b"\n") == "control or invisible character in name"
    assert hostile_reason(b"a\x00b") == "control or invisible character in name"
    assert hostile_reason("a\u202eb".encode()) == "control or invisible character in name"
    assert hostile_reason(b"\xff\xfe") == "name is not valid UTF-8"
    assert hostile_reason(b"x" * 256) == (
        f"name longer than {FILE_NAME_MAX} bytes, more than the raw store can hold: rename it "
        "on the game server to a shorter name of the same pattern"
    )
    # '#' marks another server's file in our names: "NAME#scrim" would land as scrim's
    assert (
        hostile_reason(good + b"#scrim")
        == "contains '#' (etl-duck's mark of another game server's file)"
    )
    assert display_name(b"a\x1b[31mb\n") == "a\\x1b[31mb\\n"
    assert display_name(b"\xffok") == "\\xffok"


def test_the_longest_name_the_fetch_takes_fits_every_name_the_raw_store_derives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name of up to 255 bytes passed the fetch's check, but the raw store's temp and
    version names add to it (ENAMETOOLONG). The bound holds for the longest server name and
    a 7-digit pid, through a store, a grown version, a conflict, an admin's three decisions
    and a quarantine copy."""
    monkeypatch.setattr(os, "getpid", lambda: 4_194_303)  # the largest pid Linux gives
    server = "s" * SERVER_NAME_MAX
    assert check_server_name(server) == server  # the longest a server name can be
    with pytest.raises(ValueError):
        check_server_name(server + "s")
    stem, tail = "2026-03-14-213512-", "-round-1.txt"
    name = stem + "x" * (FILE_NAME_MAX - len(stem) - len(tail)) + tail
    assert len(name.encode()) == FILE_NAME_MAX and hostile_reason(name.encode()) is None
    assert hostile_reason(("x" + name).encode()) is not None
    raw, q = RawStore(tmp_path), qualify(name, server)
    raw.store([(q, CONTENT[:100])])
    raw.store([(q, CONTENT)])  # it grew: a later version
    raw.store([(q, CONTENT.replace(b"supply", b"SUPPLY", 1))])  # a conflict
    raw.keep(q, raw.versions(q)[2].id)
    raw.accept(q)
    raw.dismiss(q)
    raw.quarantine(q, CONTENT, "test")
    assert len(raw.versions(q)) == 3 and raw.names() == [q]


def test_a_name_the_raw_store_cannot_hold_is_skipped_and_stops_no_other_file(
    tmp_path: Path,
) -> None:
    """One 255-byte stats name failed the store of the whole batch (ENAMETOOLONG), poll
    after poll: nothing from that server was ingested again. It is skipped and named."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            long = "2026-03-14-213512-" + "x" * 225 + "-round-1.txt"
            assert len(long.encode()) == 255
            (good,) = stats_names(1)
            server.write(long, CONTENT, age_s=OLD)
            server.write(good, CONTENT, age_s=OLD)
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), Recorder()) as fetcher:
                r = await fetcher.poll_once()
                assert r.ingest_error is None and r.downloaded == [good]
                assert "rename it on the game server" in dict(r.skipped)[long]
            assert list(raw_files(data)) == [good]

    run(main())


# --------------------------------------------------------------------------- polling


def test_new_files_between_polls_each_ingested_exactly_once(tmp_path: Path) -> None:
    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            first, later = stats_names(5)[:2], stats_names(5)[2:]
            for name in first:
                server.write(name, CONTENT, age_s=OLD)
            endstats = "2026-03-14-213512-supply-round-1-endstats.txt"  # fetched too (§10)
            server.write(endstats, b"x\n", age_s=OLD)
            server.write("2026-03-14-213512-supply-round-1_ws.txt", b"x\n", age_s=OLD)  # not ours
            rec = Recorder()
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), rec) as fetcher:
                r1 = await fetcher.poll_once()
                assert sorted(r1.downloaded) == sorted([*first, endstats])
                assert r1.bytes == 2 * len(CONTENT) + 2 and r1.listed == 3
                for name in later:  # written "now": the first look only records them
                    server.write(name, CONTENT)
                r2 = await fetcher.poll_once()
                assert r2.downloaded == [] and sorted(r2.pending) == sorted(later)
                assert r2.known == 3
                r3 = await fetcher.poll_once()  # unchanged since the last look: stable
                assert sorted(r3.downloaded) == sorted(later)
                r4 = await fetcher.poll_once()
                assert r4.downloaded == [] and r4.pending == [] and r4.known == 6
            assert [len(b) for b in rec.batches] == [3, 3]  # one ingest call per batch
            rec.assert_once()
            assert sorted(rec.names) == sorted([*first, *later, endstats])
            assert sorted(raw_files(data)) == sorted([*first, *later, endstats])
            assert_clean(data, server)

    run(main())


def test_a_poll_of_an_unchanged_folder_looks_up_and_parses_only_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live server's folder holds every round ever played (thousands of files) and `watch`
    lists it every 10 s in a session: a poll looked up every listed name in the raw store
    (a stat and a directory listing each) and parsed every name again — 30,000 files cost
    ~3–5 s of CPU a poll on a 2-core machine. Only names new or changed since the last look
    cost file-system calls or parsing now; what is fetched and reported stays the same."""
    lookups: list[str] = []
    parsed: list[str] = []
    real_sizes = RawStore.sizes
    real_parse = parse_file_name

    def sizes(self: RawStore, name: str) -> set[int]:
        lookups.append(name)
        return real_sizes(self, name)

    def parse(name: str) -> Any:
        parsed.append(name)
        return real_parse(name)

    monkeypatch.setattr(RawStore, "sizes", sizes)
    monkeypatch.setattr(remote, "parse_file_name", parse)

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            names = stats_names(6)
            for name in names[:4]:
                server.write(name, CONTENT, age_s=OLD)
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), Recorder()) as fetcher:
                assert sorted((await fetcher.poll_once()).downloaded) == sorted(names[:4])
                await fetcher.poll_once()  # the stored sizes are learnt once per process
                lookups.clear()
                parsed.clear()
                quiet = await fetcher.poll_once()
                assert (quiet.known, quiet.downloaded, quiet.pending) == (4, [], [])
                assert (lookups, parsed) == ([], [])
                server.write(names[4], CONTENT, age_s=OLD)  # a new round
                server.write(names[0], CONTENT + CONTENT[-40:], age_s=OLD)  # one grew
                r = await fetcher.poll_once()
                assert sorted(r.downloaded) == sorted([names[0], names[4]])
                assert sorted(set(lookups)) == sorted([names[0], names[4]])
                assert parsed == [names[4]]

    run(main())


def test_a_raw_folder_restored_from_an_older_backup_is_filled_again(tmp_path: Path) -> None:
    """A name this process fetched was "held" without a look in raw/: raw/ restored from a
    backup taken before that round (or a raw copy lost) while `watch` ran, and the round was
    never fetched again until a restart. Another raw/ folder makes every name be looked up
    at once; a copy lost inside the same folder is found by the periodic re-check."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            a, b = stats_names(2)
            server.write(a, CONTENT, age_s=OLD)
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), Recorder()) as fetcher:
                assert (await fetcher.poll_once()).downloaded == [a]
                assert (await fetcher.poll_once()).known == 1
                shutil.rmtree(data / "raw")  # restored from a backup without a
                assert (await fetcher.poll_once()).downloaded == [a]
                assert list(raw_files(data)) == [a]
                server.write(b, CONTENT, age_s=OLD)
                assert (await fetcher.poll_once()).downloaded == [b]
                await fetcher.poll_once()
                RawStore(data).path(b).unlink()  # lost; raw/ is the same folder
                assert (await fetcher.poll_once()).known == 2  # held: not looked up
            # a fetcher that re-checks what it holds at every poll (the interval passed)
            async with Fetcher(server.settings(data), Recorder(), held_recheck_s=0) as fetcher:
                assert (await fetcher.poll_once()).downloaded == [b]
                assert (await fetcher.poll_once()).known == 2
                RawStore(data).path(b).unlink()
                assert (await fetcher.poll_once()).downloaded == [b]
            assert sorted(raw_files(data)) == [a, b]

    run(main())


def test_growing_file_is_taken_only_once_complete(tmp_path: Path) -> None:
    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            (name,) = stats_names(1)
            lines = FIXTURE.read_bytes().splitlines(keepends=True)
            server.write(name, b"".join(lines[:2]))
            rec = Recorder()
            data = tmp_path / "data"
            settings = server.settings(data, fetch_stable_seconds=3600)
            async with Fetcher(settings, rec) as fetcher:
                assert (await fetcher.poll_once()).pending == [name]  # first look
                server.append(name, lines[2][:20])  # the writer is mid-line
                assert (await fetcher.poll_once()).pending == [name]  # changed: not stable
                server.append(name, lines[2][20:] + b"".join(lines[3:]))
                assert (await fetcher.poll_once()).pending == [name]  # changed again
                r = await fetcher.poll_once()  # two equal looks
                assert r.downloaded == [name]
            assert raw_files(data)[name] == FIXTURE.read_bytes()
            assert rec.names == [name]
            assert_clean(data, server)

    run(main())


def test_partial_copy_is_fetched_again_when_the_file_grows(tmp_path: Path) -> None:
    # A writer that paused long enough to look stable: the partial copy is stored, and when
    # the remote file grows (different size) it is fetched again; both versions are kept
    # and the grown one counts.
    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            (name,) = stats_names(1)
            whole = FIXTURE.read_bytes()
            server.write(name, whole[:500], age_s=OLD)
            rec = Recorder()
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), rec) as fetcher:
                assert (await fetcher.poll_once()).downloaded == [name]
                assert raw_files(data)[name] == whole[:500]
                server.write(name, whole, age_s=OLD - 1)
                r = await fetcher.poll_once()
                assert r.downloaded == [name]
            assert raw_files(data)[name] == whole
            assert [b[0].name for b in rec.batches] == [name, name]  # ingest sees the new copy
            assert [v.data for v in RawStore(data).versions(name)] == [whole[:500], whole]
            assert_clean(data, server)

    run(main())


def test_zero_byte_files_are_never_taken(tmp_path: Path) -> None:
    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            old, new = stats_names(2)
            server.write(old, b"", age_s=OLD)
            server.write(new, b"")
            rec = Recorder()
            async with Fetcher(server.settings(tmp_path / "data"), rec) as fetcher:
                for _ in range(3):
                    r = await fetcher.poll_once()
                    assert r.downloaded == [] and sorted(r.empty) == sorted([old, new])
            assert rec.batches == [] and server.hooks.opens == Counter()

    run(main())


def test_age_rule_uses_the_injected_clock(tmp_path: Path) -> None:
    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            (name,) = stats_names(1)
            mtime = (server.write(name, CONTENT, age_s=OLD)).stat().st_mtime
            settings = server.settings(tmp_path / "data", fetch_stable_seconds=60)
            # "now" is just after the write: too young, and only one look so far
            async with Fetcher(settings, Recorder(), clock=lambda: mtime + 5) as fetcher:
                assert (await fetcher.poll_once()).pending == [name]
            # "now" is past the stable age: taken at the first look
            async with Fetcher(settings, Recorder(), clock=lambda: mtime + 61) as fetcher:
                assert (await fetcher.poll_once()).downloaded == [name]

    run(main())


def test_a_file_is_never_taken_on_its_first_sighting_whatever_the_clocks_say(
    tmp_path: Path,
) -> None:
    """The game host's clock is behind ours (here: ours an hour ahead): a file the Lua is
    still writing looked older than fetch_stable_seconds and was taken on the first look,
    half-written, as final. It is taken only after two equal looks."""

    async def main() -> None:
        (name,) = stats_names(1)
        lines = FIXTURE.read_bytes().splitlines(keepends=True)
        hooks = Hooks()
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            server.write(name, b"".join(lines[:2]), age_s=60)
            written = iter(lines[2:4])

            def writer() -> None:  # the Lua writes a line more by each of the first looks
                line = next(written, None)
                if line is not None:
                    server.append(name, line)

            hooks.on_list = writer
            rec = Recorder()
            data = tmp_path / "data"
            ahead = server.settings(data, fetch_stable_seconds=30)
            async with Fetcher(ahead, rec, clock=lambda: time.time() + 3600) as fetcher:
                first = await fetcher.poll_once()
                assert first.downloaded == [] and first.pending == [name]
                assert hooks.listings == 2  # looked twice: it changed in between
                second = await fetcher.poll_once()  # it stopped changing: taken
                assert second.downloaded == [name]
            assert (
                raw_files(data)[name] == b"".join(lines[:4]) == (server.folder / name).read_bytes()
            )
            assert rec.names == [name]

    run(main())


def test_a_one_shot_fetch_takes_a_settled_file_from_a_server_that_sends_no_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SFTP server whose listing carries no mtime: such a file got no second look within
    the poll, so every one-shot `etl-duck fetch` (a new process: no earlier look) reported
    it pending and exited 0, and cron never fetched it. A missing mtime tells no age: the
    second look comes within the poll, and a file that changed between the looks waits."""
    original = HookedSFTPServer.scandir

    async def no_mtimes(self: HookedSFTPServer, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        async for entry in original(self, path):
            entry.attrs.mtime = entry.attrs.atime = None
            yield entry

    monkeypatch.setattr(HookedSFTPServer, "scandir", no_mtimes)

    async def main() -> None:
        a, b = stats_names(2)
        lines = FIXTURE.read_bytes().splitlines(keepends=True)
        hooks = Hooks()
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            server.write(a, CONTENT, age_s=OLD)
            server.write(b, b"".join(lines[:2]), age_s=OLD)
            written = iter(lines[2:4])

            def writer() -> None:  # b: the Lua writes a line more by each of the first looks
                line = next(written, None)
                if line is not None:
                    server.append(b, line)

            hooks.on_list = writer
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), Recorder()) as cron:
                first = await cron.poll_once()
            assert (first.downloaded, first.pending) == ([a], [b])
            async with Fetcher(server.settings(data), Recorder()) as cron:
                assert (await cron.poll_once()).downloaded == [b]
            assert raw_files(data)[b] == b"".join(lines[:4])

    run(main())


def test_activity_is_our_time_of_a_poll_that_saw_a_change_not_a_remote_mtime(
    tmp_path: Path,
) -> None:
    """`watch` polls fast while the server was active recently; that was the newest remote
    mtime, so one file with a wrong (future) mtime kept it polling fast for a week."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            old, new = stats_names(2)
            path = server.write(old, CONTENT)
            week = time.time() + 7 * 86400
            os.utime(path, (week, week))  # the game host's clock was wrong
            async with Fetcher(server.settings(tmp_path / "data"), Recorder()) as fetcher:
                # its mtime is in our future: its second look is within the first poll
                assert (await fetcher.poll_once()).downloaded == [old]
                await fetcher.poll_once()
                assert fetcher.last_activity is None
                before = time.time()
                server.write(new, CONTENT, age_s=OLD)  # a new round arrives
                await fetcher.poll_once()
                assert fetcher.last_activity is not None
                assert before <= fetcher.last_activity <= time.time()
                seen = fetcher.last_activity
                await fetcher.poll_once()  # nothing new: the time stays
                assert fetcher.last_activity == seen

    run(main())


@pytest.mark.parametrize(
    ("age_s", "fast"),
    [(120.0, True), (59 * 60.0, True), (61 * 60.0, False), (-7 * 86400.0, False)],
    ids=["2-min-old", "inside-the-gap", "past-the-gap", "a-week-ahead"],
)
def test_a_watch_restarted_in_a_session_polls_fast_from_its_first_poll(
    tmp_path: Path, age_s: float, fast: bool
) -> None:
    """A first poll had nothing to compare with, so a `watch` restarted mid-evening polled
    at the slow interval until the next round came (up to that interval late). Its first
    poll now reads the newest round file's age: within the session gap (60 min) it is a
    session, written that long ago by our clock; older, or ahead of our clock (a wrong
    game-host clock), it is not."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            (name,) = stats_names(1)
            mtime = server.write(name, CONTENT, age_s=age_s).stat().st_mtime
            settings = server.settings(tmp_path / "data", session_gap_minutes=60)
            async with Fetcher(settings, Recorder()) as before_restart:
                await before_restart.poll_once()  # fetched: known to raw/ from now on
            async with Fetcher(settings, Recorder()) as fetcher:
                assert fetcher.last_activity is None
                report = await fetcher.poll_once()
                assert report.downloaded == [] and report.known == 1
                if not fast:
                    assert fetcher.last_activity is None
                    return
                assert fetcher.last_activity is not None
                # the file's own mtime, as SFTP lists it (whole seconds), not the time the
                # test wrote it: a busy machine's first poll took over a second (CI failed)
                assert math.floor(mtime) - 0.5 <= fetcher.last_activity <= mtime + 0.5

    run(main())


def test_a_same_size_rewrite_is_fetched_again_and_a_touch_stores_nothing_new(
    tmp_path: Path,
) -> None:
    """A file rewritten with new content of the same length matched a stored size and was
    never fetched again; its mtime now tells. A mere touch costs one download and the raw
    store keeps one copy of identical content."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            (name,) = stats_names(1)
            server.write(name, CONTENT, age_s=OLD)
            rec = Recorder()
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), rec) as fetcher:
                assert (await fetcher.poll_once()).downloaded == [name]
                assert (await fetcher.poll_once()).known == 1
                rewritten = CONTENT.replace(b"supply", b"SUPPLY", 1)
                assert len(rewritten) == len(CONTENT) and rewritten != CONTENT
                server.write(name, rewritten, age_s=OLD - 10)  # new content, new mtime
                assert (await fetcher.poll_once()).downloaded == [name]
                assert (await fetcher.poll_once()).known == 1  # not again
                server.write(name, rewritten, age_s=OLD - 20)  # touched: same bytes
                assert (await fetcher.poll_once()).downloaded == [name]
                again = await fetcher.poll_once()
                assert again.downloaded == [] and again.known == 1
            assert [v.data for v in RawStore(data).versions(name)] == [CONTENT, rewritten]
            assert rec.names == [name] * 3

    run(main())


def test_a_same_length_rewrite_is_fetched_by_a_fresh_process(tmp_path: Path) -> None:
    """The server writes a file again with other content of the same length (a restart
    reusing the timestamp, an admin's fix of one digit). A running `watch` noticed by the
    mtime; a cron `etl-duck fetch`, or a `watch` or bot restarted meanwhile, took its first
    listing as the reference and never downloaded it: the version was in neither raw/ nor
    `status`, exit 0. The reference is kept across processes; once fetched, it is the new
    look (a third process downloads nothing)."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            (name,) = stats_names(1)
            rewritten = CONTENT.replace(b"supply", b"SUPPLY", 1)
            assert len(rewritten) == len(CONTENT) and rewritten != CONTENT
            data = tmp_path / "data"
            server.write(name, CONTENT, age_s=OLD)
            async with Fetcher(server.settings(data), Ingestor(data)) as cron:
                assert (await cron.poll_once()).downloaded == [name]
            server.write(name, rewritten, age_s=OLD - 60)  # new content, new mtime
            async with Fetcher(server.settings(data), Ingestor(data)) as cron:
                assert (await cron.poll_once()).downloaded == [name]
            async with Fetcher(server.settings(data), Ingestor(data)) as cron:
                again = await cron.poll_once()
                assert (again.downloaded, again.known) == ([], 1)
            assert [v.data for v in RawStore(data).versions(name)] == [CONTENT, rewritten]

    run(main())


def test_files_stored_before_any_reference_are_not_fetched_again_and_then_are_watched(
    tmp_path: Path,
) -> None:
    """raw/ from before the references were kept (an upgrade): a name without one keeps
    the old rule (its size is stored: known), so the history is not downloaded again; its
    first look becomes its reference, and a later process notices a same-length rewrite."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            a, b = stats_names(2)
            data = tmp_path / "data"
            for name in (a, b):
                server.write(name, CONTENT.replace(b"supply", name[:17].encode(), 1), age_s=OLD)
            RawStore(data).store((n, (server.folder / n).read_bytes()) for n in (a, b))
            RawStore(data).clear_pending()
            rec = Recorder()
            async with Fetcher(server.settings(data), rec) as cron:
                first = await cron.poll_once()
                assert (first.downloaded, first.known) == ([], 2)
            server.write(a, (server.folder / a).read_bytes().upper(), age_s=OLD - 60)
            async with Fetcher(server.settings(data), rec) as cron:
                assert (await cron.poll_once()).downloaded == [a]
            assert rec.names == [a]

    run(main())


def test_a_folder_copied_without_mtimes_is_fetched_once_then_never_again(
    tmp_path: Path,
) -> None:
    """Every file's mtime changed at once (the folder copied without them): each is
    fetched once more (the raw store keeps one copy of identical content), and its new look
    is its reference from then on, not a download of the whole history by every process."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            names = stats_names(3)
            data = tmp_path / "data"
            for i, name in enumerate(names):
                server.write(name, CONTENT.replace(b"supply", f"sup{i:03d}".encode(), 1), age_s=OLD)
            async with Fetcher(server.settings(data), Ingestor(data)) as cron:
                assert sorted((await cron.poll_once()).downloaded) == names
            for name in names:  # copied: same bytes, new mtimes
                os.utime(server.folder / name, (time.time() - 600, time.time() - 600))
            async with Fetcher(server.settings(data), Ingestor(data)) as cron:
                assert sorted((await cron.poll_once()).downloaded) == names
            for _ in range(2):
                async with Fetcher(server.settings(data), Ingestor(data)) as cron:
                    quiet = await cron.poll_once()
                    assert (quiet.downloaded, quiet.known) == ([], 3)
            assert all(len(RawStore(data).versions(n)) == 1 for n in names)

    run(main())


def test_a_damaged_record_of_looks_stops_no_fetch_and_is_told(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The looks are a record beside the lake, not its input: one that cannot be read or
    written is told once, and the fetch goes on with the old rule."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            (name,) = stats_names(1)
            server.write(name, CONTENT, age_s=OLD)
            data = tmp_path / "data"
            (data / FOLDER).mkdir(parents=True)
            (data / FOLDER / "looks.sqlite3").write_bytes(b"not a database" * 100)
            async with Fetcher(server.settings(data), Recorder()) as fetcher:
                assert (await fetcher.poll_once()).downloaded == [name]
                assert (await fetcher.poll_once()).known == 1

    with caplog.at_level(logging.WARNING, logger="etl_duck.fetch.poller"):
        run(main())
    told = [r.getMessage() for r in caplog.records if "looks" in r.getMessage()]
    assert len(told) == 1 and "the fetch goes on" in told[0], told


def test_an_unusable_record_of_looks_is_in_the_output_and_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record of looks that cannot be read or written (a same-length rewrite may then be
    missed) was a log warning only: `fetch` exited 0 and printed nothing. It is named with
    its fix and `fetch` exits 3 (degraded, as a skipped file)."""
    from etl_duck.cli.fetching import WatchLines

    with serve_in_thread(tmp_path) as server:
        (name,) = stats_names(1)
        server.write(name, CONTENT, age_s=OLD)
        data = tmp_path / "data"
        (data / FOLDER).mkdir(parents=True)
        (data / FOLDER / "looks.sqlite3").write_bytes(b"not a database" * 100)
        rec = Recorder()
        assert run_fetch(server.settings(data), ingest=rec) == 3
        assert rec.names == [name]
    said = capsys.readouterr().out
    assert "looks not kept" in said
    (line,) = [li for li in said.splitlines() if li.startswith("  looks ")]
    assert f"cannot read {data / FOLDER / 'looks.sqlite3'} (" in line
    assert "fix its permissions or remove it (nothing else is lost)" in line

    class Sink:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def print(self, line: str, **_: object) -> None:
            self.lines.append(line)

    out, err = Sink(), Sink()
    watch = WatchLines(out, err)
    quiet = FetchReport(looks_error="cannot record x (y): fix it")
    for _ in range(3):  # `watch`: told once, not every poll
        watch.report(quiet)
    assert not out.lines and [li.split(" ", 1)[1] for li in err.lines] == [
        "looks cannot record x (y): fix it"
    ]


def test_a_failed_read_of_the_looks_does_not_overwrite_the_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process whose read of the looks failed (busy past 5 s, an I/O error) recorded every
    name's first look as if it had none: a same-length rewrite made while no process ran
    was then hidden from every later process for good. Only fetched looks are recorded
    until a read works."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            (name,) = stats_names(1)
            data = tmp_path / "data"
            server.write(name, CONTENT, age_s=OLD)
            async with Fetcher(server.settings(data), Ingestor(data)) as f:
                assert (await f.poll_once()).downloaded == [name]
            server.write(name, CONTENT.replace(b"supply", b"SUPPLY", 1), age_s=OLD - 60)
            real = Looks.load

            def locked(self: Looks, server_name: str) -> dict[str, tuple[int, int | None]]:
                raise sqlite3.OperationalError("database is locked")

            monkeypatch.setattr(Looks, "load", locked)
            async with Fetcher(server.settings(data), Ingestor(data)) as f:
                assert (await f.poll_once()).downloaded == []  # the old rule, told: missed
            monkeypatch.setattr(Looks, "load", real)
            async with Fetcher(server.settings(data), Ingestor(data)) as f:
                assert (await f.poll_once()).downloaded == [name]  # the record was kept
            server.write(name, CONTENT.replace(b"supply", b"SUPPLx", 1), age_s=OLD - 120)
            monkeypatch.setattr(Looks, "load", locked)
            async with Fetcher(server.settings(data), Ingestor(data)) as f:
                r = await f.poll_once()
                assert r.downloaded == [] and r.looks_error and "locked" in r.looks_error
                monkeypatch.setattr(Looks, "load", real)
                r = await f.poll_once()  # the read is tried again at each poll: it tells
                assert r.downloaded == [name] and r.looks_error is None

    run(main())


def test_an_unreadable_fetch_state_folder_stops_no_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`looks_path().exists()` was outside the try: EACCES (fetch-state/ of another user,
    mode 0700; Python 3.11's exists() raises PermissionError) failed the whole poll, and
    `etl-duck fetch` exited 1 every run. Simulated: the tests run as root."""

    class Denied(PosixPath):
        def exists(self, *args: Any, **kwargs: Any) -> bool:
            raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(poller, "looks_path", lambda d: Denied(d, FOLDER, "looks.sqlite3"))
    with serve_in_thread(tmp_path) as server:
        (name,) = stats_names(1)
        server.write(name, CONTENT, age_s=OLD)
        rec = Recorder()
        assert run_fetch(server.settings(tmp_path / "data"), ingest=rec) == 3
        assert rec.names == [name]


def test_a_file_rewritten_to_the_size_of_its_partial_copy_is_fetched_again(
    tmp_path: Path,
) -> None:
    """Stored partial, then whole, then rewritten to the partial copy's size with other
    content: a size other than the fetched one reset the mtime reference ("first sight"),
    and the new content was never fetched. A fetched name whose look changed is a change."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            (name,) = stats_names(1)
            half = CONTENT[: len(CONTENT) // 2]
            other = bytes(reversed(half))
            server.write(name, half, age_s=OLD)
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), Recorder()) as fetcher:
                assert (await fetcher.poll_once()).downloaded == [name]
                server.write(name, CONTENT, age_s=OLD - 10)
                assert (await fetcher.poll_once()).downloaded == [name]
                server.write(name, other, age_s=OLD - 20)  # the partial copy's size
                assert (await fetcher.poll_once()).downloaded == [name]
                assert (await fetcher.poll_once()).known == 1  # not again
            assert [v.data for v in RawStore(data).versions(name)] == [half, CONTENT, other]

    run(main())


# --------------------------------------------------------------------------- failures


def test_connection_dropped_mid_transfer_then_a_later_poll_completes(tmp_path: Path) -> None:
    async def main() -> None:
        names = stats_names(20)
        victim = names[7]
        hooks = Hooks(drop_after={victim: 300}, read_delay_s=0.005)
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            for name in names:
                server.write(name, CONTENT, age_s=OLD)
            rec = Recorder()
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), rec) as fetcher:
                r1 = await fetcher.poll_once()
                assert r1.connection_lost
                assert victim in dict(r1.failed)
                assert victim not in raw_files(data)  # never half a file in data/raw
                assert_clean(data, server)
                assert sorted(rec.names) == sorted(r1.downloaded)
                r2 = await fetcher.poll_once()  # reconnects
                assert not r2.connection_lost and r2.failed == []
                assert victim in r2.downloaded
            assert hooks.dropped == {victim}
            assert sorted(rec.names) == sorted(names)
            rec.assert_once()
            assert_clean(data, server)

    run(main())


def test_a_cancelled_poll_leaves_nothing_half_done(tmp_path: Path) -> None:
    # Ctrl-C or the bot shutting down mid-backlog: no partial raw file, no stray temp file
    # after the next poll, and every file still ingested exactly once.
    async def main() -> None:
        names = stats_names(60)
        hooks = Hooks(read_delay_s=0.01)
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            for name in names:
                server.write(name, CONTENT, age_s=OLD)
            rec = Recorder()
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), rec) as fetcher:
                task = asyncio.create_task(fetcher.poll_once())
                while hooks.opens.total() < 10:
                    await asyncio.sleep(0.005)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert rec.batches == []
                for name, content in raw_files(data).items():  # only whole files, if any
                    assert content == CONTENT, name
                r = await fetcher.poll_once()
                assert r.failed == [] and not r.connection_lost
            assert sorted(rec.names) == sorted(names)
            rec.assert_once()
            assert_clean(data, server)

    run(main())


def test_watch_reconnects_after_a_drop_and_stops_cleanly(tmp_path: Path) -> None:
    async def main() -> None:
        names = stats_names(14)
        backlog, fresh = names[:12], names[12:]
        hooks = Hooks(drop_after={names[3]: 100, names[9]: 250})
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            for name in backlog:
                server.write(name, CONTENT, age_s=OLD)
            rec = Recorder()
            reports: list[FetchReport] = []
            # the slow interval would never fire here: the session is active, so the fast one
            settings = server.settings(
                tmp_path / "data",
                poll_interval_s=600,
                active_poll_interval_s=0.05,
                fetch_recheck_s=0.05,
                fetch_stable_seconds=3600,
            )
            stop = asyncio.Event()

            async def until(want: list[str]) -> None:
                deadline = time.monotonic() + 15
                while not set(want) <= set(rec.names) and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)

            async with Fetcher(settings, rec) as fetcher:
                task = asyncio.create_task(
                    fetcher.watch(stop, lambda: True, on_report=reports.append)
                )
                await until(backlog)
                for name in fresh:  # new rounds arrive while watching
                    server.write(name, CONTENT)
                await until(names)
                stop.set()
                await asyncio.wait_for(task, 5)  # returns once stop is set
            assert sorted(rec.names) == sorted(names)
            rec.assert_once()
            assert hooks.dropped == {names[3], names[9]}
            assert any(r.connection_lost for r in reports)
            assert any(set(r.pending) == set(fresh) for r in reports)  # first look only records
            assert_clean(tmp_path / "data", server)

    run(main())


def test_a_connection_that_died_between_polls_is_replaced_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        names = stats_names(2)
        async with SFTPTestServer(tmp_path) as server:
            server.write(names[0], CONTENT, age_s=OLD)
            rec = Recorder()
            async with Fetcher(server.settings(tmp_path / "data"), rec) as fetcher:
                assert (await fetcher.poll_once()).downloaded == [names[0]]
                server.hooks.drop_next_list = True  # e.g. sshd restarted: the old link is dead
                server.write(names[1], CONTENT, age_s=OLD)
                r = await fetcher.poll_once()  # no error: reconnected within the poll
                assert r.downloaded == [names[1]] and not r.connection_lost
            assert not server.hooks.drop_next_list
            assert rec.names == names

    run(main())


def test_watch_backs_off_while_the_server_is_unreachable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        server = await SFTPTestServer(tmp_path).start()
        await server.stop()  # nothing listens on that port any more
        settings = server.settings(tmp_path / "data", reconnect_backoff_s=0.02)
        stop = asyncio.Event()
        async with Fetcher(settings, Recorder()) as fetcher:
            task = asyncio.create_task(fetcher.watch(stop))
            await until("four retries", lambda: len(caplog.messages) >= 4)
            stop.set()
            await asyncio.wait_for(task, 30)

    with caplog.at_level(logging.WARNING, logger="etl_duck.fetch.poller"):
        run(main())
    waits = [float(m.split("retrying in ")[1].split(" s")[0]) for m in caplog.messages]
    assert len(waits) >= 3
    assert waits[:4] == sorted(waits[:4]) and waits[1] > waits[0]  # exponential, capped
    assert max(waits) <= 0.5
    assert all("cannot connect to etl@127.0.0.1" in m for m in caplog.messages)


def test_watch_tells_of_each_failed_poll_and_of_the_recovery(tmp_path: Path) -> None:
    """`watch` said nothing while the server was down (the warnings are not logged without
    --verbose): each failed poll and the recovery reach the caller, once each."""

    async def main() -> list[tuple[str, str | None]]:
        server = await SFTPTestServer(tmp_path).start()
        await server.stop()  # the server goes down
        settings = server.settings(tmp_path / "data", reconnect_backoff_s=0.02)
        said: list[tuple[str, str | None]] = []
        stop = asyncio.Event()
        async with Fetcher(settings, Recorder()) as fetcher:
            task = asyncio.create_task(
                fetcher.watch(stop, on_trouble=lambda who, what: said.append((who, what)))
            )
            await until("the trouble said twice", lambda: len(said) >= 2)
            await server.start()  # back, on the same port
            await until("the all-clear", lambda: said[-1][1] is None)
            stop.set()
            await asyncio.wait_for(task, 30)
        await server.stop()
        return said

    said = run(main())
    *down, back = said
    assert len(down) >= 2 and back == ("", None)
    assert all(
        who == "" and what and "cannot connect to etl@127.0.0.1" in what for who, what in down
    )
    assert all(what and "; retrying in " in what for _, what in down)


async def finished(aw: Awaitable[T], within: float = 30.0) -> T:
    """The result of ``aw``, which must end within ``within`` s (far above what it takes,
    for a slow machine). A hung one fails the test instead of hanging it: wait_for would
    cancel it and then wait for the cancel, which is what hung."""
    task = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait({task}, timeout=within)
    assert done, f"still running after {within:g} s"
    return task.result()


@pytest.mark.parametrize("kind", ["readdir", "lstat", "read"])
def test_a_request_the_server_never_answers_ends_the_poll_in_time(
    tmp_path: Path, kind: str
) -> None:
    """The server stops answering one kind of request while sshd stays alive and answers
    keepalives (a stuck disk under the folder): the poll hung forever, silently. Each request
    now has fetch_timeout_s; then the link is aborted (which fails a pending CLOSE too)."""

    async def main() -> None:
        hooks = Hooks()
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            (name,) = stats_names(1)
            server.write(name, CONTENT, age_s=OLD)
            settings = server.settings(tmp_path / "data", fetch_timeout_s=1.0)
            async with Fetcher(settings, Recorder()) as fetcher:
                hooks.never_answer.add(kind)
                if kind == "readdir":
                    with pytest.raises(FetchConnectionError, match="no answer within 1 s"):
                        await finished(fetcher.poll_once())
                else:
                    r = await finished(fetcher.poll_once())
                    why = dict(r.failed)[name]
                    if kind == "lstat":
                        assert "no answer within 1 s" in why and r.connection_lost
                    else:  # one file's failure; it is fetched after the others from now on
                        assert "not complete within 1 s" in why and not r.connection_lost
                if kind != "read":  # `watch` backs off and says why
                    said: list[str | None] = []
                    stop = asyncio.Event()
                    watching = asyncio.create_task(
                        fetcher.watch(stop, on_trouble=lambda _, what: said.append(what))
                    )
                    await until("the trouble told", lambda: bool(said))
                    stop.set()
                    await finished(watching)
                    assert said[0] and "no answer within 1 s" in said[0]
                    assert "retrying in" in said[0]
                hooks.never_answer.clear()  # the server recovers: a new link works
                r = await finished(fetcher.poll_once())
                assert r.downloaded == [name] and r.failed == []

    run(main())


@pytest.mark.parametrize("kind", ["readdir", "read"])
def test_cancelling_a_poll_stuck_on_the_server_returns_at_once(tmp_path: Path, kind: str) -> None:
    """Cancelling a poll whose request the server never answers hung as well: the listing
    and a file's `async with` await the CLOSE reply on the way out. A cancel now aborts the
    link, long before any deadline (60 s here)."""

    async def main() -> None:
        hooks = Hooks(never_answer={kind})
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            (name,) = stats_names(1)
            server.write(name, CONTENT, age_s=OLD)
            settings = server.settings(tmp_path / "data", fetch_timeout_s=60)
            async with Fetcher(settings, Recorder()) as fetcher:
                polling = asyncio.create_task(fetcher.poll_once())
                await until("the request stuck", lambda: hooks.unanswered[kind] > 0)
                polling.cancel()
                done, _ = await asyncio.wait({polling}, timeout=30)
                assert done and polling.cancelled()
                hooks.never_answer.clear()
                r = await finished(fetcher.poll_once())
                assert r.downloaded == [name] and r.failed == []

    run(main())


def test_watch_backs_off_while_the_ingest_keeps_failing(tmp_path: Path) -> None:
    """An ingest that keeps failing (disk full, a damaged lake) made `watch` download the
    whole backlog again about every second, forever, and say nothing: it now backs off as
    from a lost connection and tells on_trouble."""

    async def main() -> tuple[list[str | None], int]:
        async with SFTPTestServer(tmp_path) as server:
            for name in stats_names(3):
                server.write(name, CONTENT, age_s=OLD)
            rec = Recorder(fail_times=10**6)
            settings = server.settings(
                tmp_path / "data",
                reconnect_backoff_s=0.2,
                reconnect_backoff_max_s=60,
                poll_interval_s=600,
                active_poll_interval_s=600,
            )
            said: list[str | None] = []
            stop = asyncio.Event()
            async with Fetcher(settings, rec) as fetcher:
                task = asyncio.create_task(
                    fetcher.watch(stop, on_trouble=lambda _, what: said.append(what))
                )
                await until("three retries told", lambda: len(said) >= 3)
                stop.set()
                await asyncio.wait_for(task, 30)
            return said, len(rec.batches)

    said, attempts = run(main())
    assert all(w and "ingest failed: RuntimeError: lake is locked (test)" in w for w in said)
    waits = [float(str(w).split("retrying in ")[1].split(" s")[0]) for w in said]
    assert waits[:3] == [0.2, 0.4, 0.8]  # exponential, as after a lost connection
    assert attempts == len(said)  # one ingest (and one download of the batch) per wait


def test_unknown_host_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            server.write(stats_names(1)[0], CONTENT, age_s=OLD)
            other = asyncssh.generate_private_key("ssh-ed25519")
            # known_hosts knows some other host, not this one
            server.write_known_hosts(text=f"example.org {other.export_public_key().decode()}")
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), Recorder()) as fetcher:
                with pytest.raises(HostKeyError) as err:
                    await fetcher.poll_once()
            msg = str(err.value)
            assert "127.0.0.1" in msg and str(server.port) in msg
            assert str(server.known_hosts) in msg
            assert "not in known_hosts" in msg and "Will not connect" in msg
            keyscan = f"ssh-keyscan -p {server.port} 127.0.0.1 >> {server.known_hosts}"
            assert keyscan in msg and "fingerprint" in msg  # the fix, named
            assert raw_files(data) == {} and server.hooks.opens == Counter()

    run(main())


def test_changed_host_key_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            server.write(stats_names(1)[0], CONTENT, age_s=OLD)
            server.write_known_hosts(asyncssh.generate_private_key("ssh-ed25519"))
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), Recorder()) as fetcher:
                with pytest.raises(HostKeyError) as err:
                    await fetcher.check()
            msg = str(err.value)
            assert "does NOT match" in msg and str(server.port) in msg
            assert str(server.known_hosts) in msg and "Will not connect" in msg
            # the fix, named: only once the server's admin confirms the new key
            assert f"ssh-keygen -R '[127.0.0.1]:{server.port}' -f {server.known_hosts}" in msg
            assert f"ssh-keyscan -p {server.port} 127.0.0.1 >> {server.known_hosts}" in msg
            assert raw_files(data) == {}

    run(main())


def test_missing_known_hosts_file_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            server.known_hosts.unlink()
            async with Fetcher(server.settings(tmp_path / "data"), Recorder()) as fetcher:
                with pytest.raises(HostKeyError, match="does not exist: will not connect") as err:
                    await fetcher.poll_once()
            keyscan = f"ssh-keyscan -p {server.port} 127.0.0.1 >> {server.known_hosts}"
            assert keyscan in str(err.value) and "ETL_DUCK_SSH_KNOWN_HOSTS" in str(err.value)

    run(main())


def test_a_private_key_given_as_known_hosts_is_never_printed(tmp_path: Path) -> None:
    """ETL_DUCK_SSH_KNOWN_HOSTS pointing at a key file (the variable next to it): asyncssh's
    error quoted the line it could not read — the whole PKCS#8 key, seed included."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            key = asyncssh.generate_private_key("ssh-ed25519")
            pem = key.export_private_key("pkcs8-pem")
            server.known_hosts.write_bytes(pem)
            secret_lines = [ln for ln in pem.decode().splitlines() if "-----" not in ln]
            async with Fetcher(server.settings(tmp_path / "data"), Recorder()) as fetcher:
                with pytest.raises(HostKeyError) as err:
                    await fetcher.poll_once()
            msg = str(err.value)
            assert "looks like a private key, not a known_hosts file" in msg
            assert not any(line[:20] in msg for line in secret_lines)
            server.known_hosts.write_text("onlyoneword\n")
            async with Fetcher(server.settings(tmp_path / "data"), Recorder()) as fetcher:
                with pytest.raises(HostKeyError, match="a line of it is not `host key-type key`"):
                    await fetcher.poll_once()

    run(main())


def test_wrong_key_is_a_clear_auth_error_without_the_passphrase(tmp_path: Path) -> None:
    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            secret = "correct horse battery staple"
            wrong = tmp_path / "keys" / "id_wrong"
            # PKCS#8: encrypted OpenSSH-format keys need the optional bcrypt package
            asyncssh.generate_private_key("ssh-ed25519").write_private_key(
                str(wrong), "pkcs8-pem", passphrase=secret
            )
            os.chmod(wrong, 0o600)
            settings = server.settings(
                tmp_path / "data", ssh_key_path=wrong, ssh_key_passphrase=secret
            )
            async with Fetcher(settings, Recorder()) as fetcher:
                with pytest.raises(AuthError) as err:
                    await fetcher.poll_once()
            msg = str(err.value)
            assert "'etl'" in msg and f"127.0.0.1:{server.port}" in msg and str(wrong) in msg
            assert secret not in msg and secret not in repr(settings)

            bad = server.settings(tmp_path / "data", ssh_key_path=wrong, ssh_key_passphrase="x")
            async with Fetcher(bad, Recorder()) as fetcher:
                with pytest.raises(AuthError, match="cannot load SSH key") as err2:
                    await fetcher.poll_once()
            assert secret not in str(err2.value) and str(wrong) in str(err2.value)

    run(main())


def test_a_file_too_large_is_named_once_by_watch_with_the_fix(tmp_path: Path) -> None:
    """A file over fetch_max_file_bytes is never fetched: `watch` printed skips only in a
    poll that also downloaded something, and the reason gave no fix."""
    import io

    from rich.console import Console

    from etl_duck.cli.fetching import WatchLines

    names = stats_names(2)

    async def main() -> list[FetchReport]:
        async with SFTPTestServer(tmp_path) as server:
            server.write(names[0], CONTENT, age_s=OLD)
            server.write(names[1], CONTENT * 40, age_s=OLD)
            settings = server.settings(tmp_path / "data", fetch_max_file_bytes=len(CONTENT) * 2)
            async with Fetcher(settings, Recorder()) as fetcher:
                return [await fetcher.poll_once() for _ in range(3)]

    reports = run(main())
    assert reports[0].downloaded == [names[0]] and not reports[1].downloaded
    (why,) = {w for r in reports for _, w in r.skipped}
    assert "larger than fetch_max_file_bytes" in why and "ETL_DUCK_FETCH_MAX_FILE_BYTES" in why
    out, err = io.StringIO(), io.StringIO()
    lines = WatchLines(Console(file=out, width=80), Console(file=err, width=80))
    for r in reports[1:]:  # polls that download nothing: the skip is still named, once
        lines.report(r)
    assert err.getvalue().count(f"skipped {names[1]}: larger than") == 1
    assert "\n" not in err.getvalue().rstrip("\n")  # one line, whatever the width


def test_a_file_that_keeps_failing_the_same_way_is_named_once_by_watch(tmp_path: Path) -> None:
    """A file the server denies was printed by `watch` at every poll (every 10 s in a
    session) for as long as it was denied; now once, again when its reason changes or
    when it fails again after it landed."""
    import io

    from rich.console import Console

    from etl_duck.cli.fetching import WatchLines

    names = stats_names(2)
    hooks = Hooks(deny={names[1]})

    async def main() -> list[FetchReport]:
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            for name in names:
                server.write(name, CONTENT, age_s=OLD)
            async with Fetcher(server.settings(tmp_path / "data"), Recorder()) as fetcher:
                reports = [await fetcher.poll_once() for _ in range(4)]
                hooks.deny.clear()
                reports.append(await fetcher.poll_once())
                return reports

    reports = run(main())
    assert [len(r.failed) for r in reports] == [1, 1, 1, 1, 0]
    assert reports[-1].downloaded == [names[1]]
    out, err = io.StringIO(), io.StringIO()
    lines = WatchLines(Console(file=out, width=200), Console(file=err, width=200))
    for r in reports:
        lines.report(r)
    assert out.getvalue().count(f"failed  {names[1]}: permission denied") == 1
    assert out.getvalue().count(f"failed  {names[1]}") == 1
    # after it landed, the same failure is news again; a new reason is news too
    again = FetchReport(failed=[(names[1], "permission denied (Permission denied)")])
    lines.report(again)
    lines.report(FetchReport(failed=[(names[1], "SFTP error: Failure")]))
    lines.report(FetchReport(failed=[(names[1], "SFTP error: Failure")]))
    assert out.getvalue().count(f"failed  {names[1]}: permission denied") == 2
    assert out.getvalue().count(f"failed  {names[1]}: SFTP error") == 1


def test_hostile_names_are_skipped_and_reported(tmp_path: Path) -> None:
    good = "2026-03-14-213512-supply-round-1.txt"
    injected = [  # names no real file system can hold; a hostile server can still send them
        b"../2026-03-14-213512-supply-round-1.txt",
        b"/etc/2026-03-14-213512-supply-round-1.txt",
        b"2026-03-14-213512-../../../../tmp/x-round-1.txt",
        b"2026-03-14-213512-..\\..\\x-round-1.txt",
        b"2026-03-14-213512-\xff\xfe-round-1.txt",
    ]
    real = [  # legal on Linux, hostile to logs, terminals and the stats regex
        good + "\n",
        "2026-03-14-213512-sup\x1b[2Jply-round-1.txt",
        "2026-03-14-213512-sup\u202eply-round-1.txt",
    ]

    async def main() -> None:
        hooks = Hooks(extra_names=[(n, len(CONTENT)) for n in injected])
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            for name in [good, *real]:
                server.write(name, CONTENT, age_s=OLD)
            rec = Recorder()
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), rec) as fetcher:
                r = await fetcher.poll_once()
                assert r.downloaded == [good]
                skipped = dict(r.skipped)
                assert len(skipped) == len(injected) + len(real)
                assert skipped["../2026-03-14-213512-supply-round-1.txt"] == "path traversal"
                assert skipped["/etc/2026-03-14-213512-supply-round-1.txt"] == "absolute path"
                assert skipped[good + "\\n"] == "control or invisible character in name"
                assert skipped["2026-03-14-213512-\\xff\\xfe-round-1.txt"] == (
                    "name is not valid UTF-8"
                )
                assert all(n.isprintable() for n in skipped)  # reported names are safe to print
                assert "skipped" in await fetcher.check()
                assert dict((await fetcher.poll_once()).skipped) == skipped  # reported each poll
            assert set(hooks.opens) == {good}  # hostile names are never even opened
            every = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
            inside = [p for p in every if p.startswith("data/raw") or p.startswith("data/qu")]
            assert inside == [f"data/raw/2026-03-14/{good}"]
            assert {p.split("/")[1] for p in every if p.startswith("data/")} <= {
                "raw",
                ".fetch",
                FOLDER,  # the looks the fetch took, by name: nothing of the names' own
            }
            assert rec.names == [good]
            assert_clean(data, server)

    run(main())


def test_a_foreign_file_with_a_non_utf8_name_is_ignored_not_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An admin's note named in Latin-1 next to the stats files was reported as a skipped
    file, so `etl-duck fetch` exited 3 on every run for a file that is not ours. Names that
    pretend to be ours are still checked and reported."""
    good = stats_names(1)[0]
    foreign = [b"notizen-m\xe4rz.cfg", b"../m\xe4rz.txt", b"2026-03-14-213512-x-round-1_ws.txt\xff"]
    lookalike = b"2026-03-14-213512-m\xe4rz-round-1.txt"
    hooks = Hooks(extra_names=[(n, 10) for n in foreign])
    with serve_in_thread(tmp_path, hooks=hooks) as server:
        server.write(good, CONTENT, age_s=OLD)
        data = tmp_path / "data"
        assert run_fetch(server.settings(data), ingest=Recorder()) == 0
        assert run_fetch(server.settings(data), ingest=Recorder()) == 0
        assert "skipped" not in capsys.readouterr().out
        hooks.extra_names.append((lookalike, 10))
        assert run_fetch(server.settings(data), ingest=Recorder()) == 3
        out = capsys.readouterr().out
        assert "skipped 2026-03-14-213512-m\\xe4rz-round-1.txt: name is not valid UTF-8" in out
        assert "notizen" not in out

    from etl_duck.fetch.remote import looks_like_ours

    assert not any(looks_like_ours(n) for n in foreign)
    assert looks_like_ours(lookalike) and looks_like_ours(b"../" + good.encode())


def test_permission_denied_on_one_file_the_rest_land(tmp_path: Path) -> None:
    async def main() -> None:
        names = stats_names(10)
        hooks = Hooks(deny={names[4]})
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            for name in names:
                server.write(name, CONTENT, age_s=OLD)
            rec = Recorder()
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), rec) as fetcher:
                r = await fetcher.poll_once()
                assert sorted(r.downloaded) == sorted(set(names) - {names[4]})
                (failed, why), *more = r.failed  # named once, with the fix
                assert failed == names[4] and not more
                assert why.startswith("permission denied — the SSH user etl cannot read it: ")
                assert not r.connection_lost and not r.ok
                r2 = await fetcher.poll_once()  # retried, still denied, nothing else redone
                assert r2.downloaded == [] and list(dict(r2.failed)) == [names[4]]
                hooks.deny.clear()
                assert (await fetcher.poll_once()).downloaded == [names[4]]
            assert sorted(rec.names) == sorted(names)
            rec.assert_once()
            assert_clean(data, server)

    run(main())


def test_a_failed_ingest_loses_nothing_and_the_files_are_handed_over_again(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            names = stats_names(3)
            for name in names:
                server.write(name, CONTENT, age_s=OLD)
            data = tmp_path / "data"
            rec = Recorder(fail_times=1)
            async with Fetcher(server.settings(data), rec) as fetcher:
                r1 = await fetcher.poll_once()
                assert r1.ingest_error == "RuntimeError: lake is locked (test)"
                assert raw_files(data) == {}  # nothing stored: the server still has them
                r2 = await fetcher.poll_once()  # fetched again and handed over again
                assert sorted(r2.downloaded) == sorted(names) and r2.ingest_error is None
                r3 = await fetcher.poll_once()
                assert r3.downloaded == [] and r3.known == 3
            assert [sorted(g.name for g in b) for b in rec.batches] == [sorted(names)] * 2
            assert_clean(data, server)

    run(main())


def test_a_crash_after_the_store_is_committed_by_the_next_ingest(tmp_path: Path) -> None:
    """The real pipeline: raw copies stored (and listed as pending) by an ingest that died
    before its commit are committed by the next one, without downloading them again."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            fixtures = sorted(FIXTURES.glob("*supply*.txt"))
            for p in fixtures:
                server.write(p.name, p.read_bytes(), age_s=OLD)
            data = tmp_path / "data"
            real = Ingestor(data)
            crashed: list[str] = []

            def store_then_crash(paths: list[Path]) -> None:
                RawStore(data).store((p.name, p.read_bytes()) for p in paths)
                crashed.extend(p.name for p in paths)
                raise RuntimeError("killed before the commit (test)")

            async with Fetcher(server.settings(data), store_then_crash) as fetcher:
                assert (await fetcher.poll_once()).ingest_error is not None
            assert sorted(crashed) == [p.name for p in fixtures]
            assert RawStore(data).pending() == sorted(crashed)  # listed, not yet committed
            # the next poll downloads nothing new, and commits what the crash left stored:
            # a fetch-driven process (the bot, `watch`) ingests only what a poll hands over
            async with Fetcher(server.settings(data), real) as fetcher:
                r = await fetcher.poll_once()
                assert r.downloaded == [] and r.known == len(fixtures)
                assert sorted(getattr(r.ingest_result, "ingested", [])) == sorted(crashed)
                assert RawStore(data).pending() == []
                again = await fetcher.poll_once()  # nothing pending: no empty ingests
                assert again.ingest_result is None

    run(main())


def test_a_pending_batch_whose_ingest_keeps_failing_is_retried_once_per_interval(
    tmp_path: Path,
) -> None:
    """What a crash left pending is committed by the next poll; if that ingest fails (a
    damaged lake), the next try waits a poll interval instead of following `watch`'s
    one-second retry."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            (name,) = stats_names(1)
            server.write(name, CONTENT, age_s=OLD)
            data = tmp_path / "data"
            RawStore(data).store([(name, CONTENT)])  # stored and pending: a killed ingest
            calls: list[list[Path]] = []

            def failing(paths: list[Path]) -> None:
                calls.append(paths)
                raise RuntimeError("the lake is damaged (test)")

            settings = server.settings(data, poll_interval_s=3600)
            async with Fetcher(settings, failing) as fetcher:
                first = await fetcher.poll_once()
                assert first.ingest_error is not None and calls == [[]]
                for _ in range(3):
                    later = await fetcher.poll_once()
                    assert later.ingest_error is None and later.downloaded == []
                assert calls == [[]]  # once per poll interval

    run(main())


@pytest.mark.parametrize("links_look_regular", [False, True])
def test_a_symbolic_link_on_the_server_is_never_fetched(
    tmp_path: Path, links_look_regular: bool
) -> None:
    async def main() -> None:
        hooks = Hooks(links_look_regular=links_look_regular)
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            good, link = stats_names(2)
            server.write(good, CONTENT, age_s=OLD)
            secret = server.folder / "secret.txt"  # inside the chroot: a listing can follow it
            secret.write_bytes(CONTENT.replace(b"supply", b"secret"))
            os.utime(secret, (time.time() - OLD, time.time() - OLD))
            os.symlink(secret, server.folder / link)
            rec = Recorder()
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), rec) as fetcher:
                r = await fetcher.poll_once()
            assert r.downloaded == [good]
            assert link in dict(r.skipped) and "not a regular file" in dict(r.skipped)[link]
            assert list(raw_files(data)) == [good]

    run(main())


def test_a_changed_remote_file_never_overwrites_its_raw_copy(tmp_path: Path) -> None:
    """The server's copy shrank after it was fetched: both versions are kept, the counted
    one stays, and the conflict is listed (real ingest, real raw store)."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            name = FIXTURE.name
            whole = FIXTURE.read_bytes()
            server.write(name, whole, age_s=OLD)
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), Ingestor(data)) as fetcher:
                assert (await fetcher.poll_once()).downloaded == [name]
                server.write(name, CONTENT, age_s=OLD - 5)  # shorter: header + 2 lines
                r = await fetcher.poll_once()
                assert r.downloaded == [name]
                conflicts = r.ingest_result.conflicts  # type: ignore[attr-defined]
                assert len(conflicts) == 1 and "shorter" in next(iter(conflicts.values()))
                again = await fetcher.poll_once()  # that size is stored: not fetched again
                assert again.downloaded == [] and again.known == 1
            versions = RawStore(data).versions(name)
            assert [v.data for v in versions] == [whole, CONTENT]
            assert RawStore(data).decide(name).counted.data == whole  # type: ignore[union-attr]

    run(main())


class _DropsEveryTime(set[str]):
    """``Hooks.dropped`` that forgets: the server drops the link at every read of the file."""

    def add(self, item: str) -> None:
        pass


def test_a_file_that_drops_the_connection_every_time_keeps_no_other_file_out(
    tmp_path: Path,
) -> None:
    """A file during whose download the link is lost was tried first again at every poll:
    the link dropped, the files behind it were "not attempted", poll after poll (`watch`
    backing off up to 5 minutes between them). It is fetched after the others from then on,
    like a file that stalls, and the lost connection names it."""

    async def main() -> None:
        names = stats_names(8)
        hooks = Hooks(dropped=_DropsEveryTime())
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            for i, name in enumerate(names):
                server.write(name, CONTENT.replace(b"supply", f"sup{i:03d}".encode(), 1), age_s=OLD)
            bad = os.listdir(server.folder)[0]  # the first listed: tried first
            hooks.drop_after[bad] = 0
            rec = Recorder()
            data = tmp_path / "data"
            async with Fetcher(server.settings(data, fetch_parallel=1), rec) as fetcher:
                first = await fetcher.poll_once()
                assert first.connection_lost and first.downloaded == []
                assert dict(first.failed)[bad].startswith("connection lost")
                second = await fetcher.poll_once()  # the others first, then it
                assert sorted(second.downloaded) == sorted(set(names) - {bad})
                assert second.connection_lost and [n for n, _ in second.failed] == [bad]
                assert second.connection_error is not None and bad in second.connection_error
            rec.assert_once()

    run(main())


# --------------------------------------------------------------------------- scale


def test_backlog_of_1000_files_bounded_parallelism(tmp_path: Path) -> None:
    async def main() -> None:
        names = stats_names(1000)
        hooks = Hooks(read_delay_s=0.001)  # so downloads overlap and the bound is visible
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            for name in names:
                server.write(name, CONTENT, age_s=OLD)
            rec = Recorder()
            progress: list[tuple[int, int]] = []
            data = tmp_path / "data"
            settings = server.settings(data, fetch_parallel=5)
            async with Fetcher(settings, rec, progress=lambda d, t: progress.append((d, t))) as f:
                t0 = time.perf_counter()
                r = await f.poll_once()
                took = time.perf_counter() - t0
            print(f"\n1,000-file backlog over loopback SFTP: {took:.2f} s")
            assert len(r.downloaded) == 1000 and r.failed == [] and r.bytes == 1000 * len(CONTENT)
            assert 2 <= hooks.max_open <= 5  # parallel, and never more than the setting
            assert [len(b) for b in rec.batches] == [1000]  # one ingest call for the batch
            assert progress[0] == (0, 1000) and progress[-1] == (1000, 1000)
            assert len(raw_files(data)) == 1000
            assert_clean(data, server)

    run(main())


# --------------------------------------------------------------------------- check / CLI


def test_check_connects_and_lists(tmp_path: Path) -> None:
    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            for name in stats_names(3):
                server.write(name, CONTENT, age_s=OLD)
            async with Fetcher(server.settings(tmp_path / "data"), Recorder()) as fetcher:
                line = await fetcher.check()
            assert line == (
                f"etl@127.0.0.1:{server.port}:gamestats: 3 stats files, 3 not yet fetched"
            )
            assert server.hooks.opens == Counter()

    run(main())


def test_run_fetch_and_run_watch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = stats_names(4)
    with serve_in_thread(tmp_path) as server:
        for name in names[:2]:
            server.write(name, CONTENT, age_s=OLD)
        data = tmp_path / "data"
        rec = Recorder()
        assert run_fetch(server.settings(data), ingest=rec) == 0
        assert sorted(rec.names) == sorted(names[:2])
        assert "2 downloaded" in capsys.readouterr().out

        for name in names[2:]:
            server.write(name, CONTENT, age_s=OLD)
        settings = server.settings(data, poll_interval_s=0.05)

        def interrupt_when_done() -> None:
            deadline = time.monotonic() + 10
            while len(rec.names) < 4 and time.monotonic() < deadline:
                time.sleep(0.02)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C

        threading.Thread(target=interrupt_when_done, daemon=True).start()
        assert run_watch(settings, ingest=rec) == 0
        assert sorted(rec.names) == sorted(names)
        rec.assert_once()

        server.write_known_hosts(asyncssh.generate_private_key("ssh-ed25519"))
        assert run_fetch(server.settings(data), ingest=rec) == 2
        assert "does NOT match" in capsys.readouterr().err
    assert run_fetch(server.settings(data), ingest=rec) == 1  # server gone: failed


def test_fetch_exits_3_and_names_a_bad_file_it_committed_around(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`etl-duck fetch` with the real ingest: a good round lands, a broken one is
    quarantined — the poll committed, so exit 3 (not 0), and the bad file is named."""
    good = next(p for p in sorted(FIXTURES.glob("*.txt")) if p.stat().st_size > 0)
    bad = stats_names(1)[0]
    with serve_in_thread(tmp_path) as server:
        server.write(good.name, good.read_bytes(), age_s=OLD)
        server.write(bad, b"not a header\n", age_s=OLD)
        assert run_fetch(server.settings(tmp_path / "data")) == 3
    out = capsys.readouterr()
    assert bad in out.out + out.err and "quarantined" in out.out + out.err


# --------------------------------------------------------------------------- end to end


def test_end_to_end_with_the_real_ingest_rounds_are_queryable(tmp_path: Path) -> None:
    import duckdb

    every = sorted(FIXTURES.glob("*.txt"))
    fixtures = [p for p in every if p.stat().st_size > 0]

    async def main() -> FetchReport:
        async with SFTPTestServer(tmp_path) as server:
            for p in every:
                server.write(p.name, p.read_bytes(), age_s=OLD)
            data = tmp_path / "data"
            async with Fetcher(server.settings(data), Ingestor(data)) as fetcher:
                t0 = time.perf_counter()
                report = await fetcher.poll_once()
                report.seconds = time.perf_counter() - t0
                return report

    report = run(main())
    assert report.ingest_error is None, report.ingest_error
    assert sorted(report.downloaded) == sorted(p.name for p in fixtures)
    lake = tmp_path / "data" / "lake" / "rounds"
    count = duckdb.execute(
        f"select count(*) from read_parquet('{lake}/**/*.parquet', hive_partitioning=true)"
    ).fetchall()
    assert count[0][0] == len(fixtures)  # every fetched round is queryable (0-byte one: never)
    assert within(report.seconds, 5, "the poll")


def test_content_the_lake_already_holds_is_not_downloaded_every_poll(tmp_path: Path) -> None:
    """A remote file whose content the lake already counts (a copy under another name: a
    mirror, an admin's backup) is a duplicate: the ingest stores nothing, so it was not
    "known" by the raw store's sizes and was downloaded and ingested again every poll."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            original, copy = stats_names(2)
            server.write(original, CONTENT, age_s=OLD)
            data = tmp_path / "data"
            real = Ingestor(data)
            async with Fetcher(server.settings(data), real) as fetcher:
                assert (await fetcher.poll_once()).downloaded == [original]
                server.write(copy, CONTENT, age_s=OLD)  # the same bytes under another name
                r = await fetcher.poll_once()
                assert r.downloaded == [copy]
                assert getattr(r.ingest_result, "duplicates", []) == [copy]
                for _ in range(2):
                    later = await fetcher.poll_once()
                    assert later.downloaded == [] and later.known == 2
            assert sorted(raw_files(data)) == [original]

    run(main())


def test_one_file_that_does_not_arrive_in_time_keeps_no_other_file_out(tmp_path: Path) -> None:
    """A file whose reads stall past the timeout fails alone: it is not a lost connection
    (no back-off), the link is replaced, and from then on it is fetched after the others —
    before, it stopped the whole batch as "connection lost" on every poll, and every later
    file waited behind it."""

    async def main() -> None:
        names = stats_names(5)
        slow = names[0]
        hooks = Hooks(slow_reads={slow: 1.5})
        async with SFTPTestServer(tmp_path, hooks=hooks) as server:
            for name in names:
                server.write(name, CONTENT, age_s=OLD)
            rec = Recorder()
            data = tmp_path / "data"
            settings = server.settings(data, fetch_timeout_s=0.5, fetch_parallel=1)
            async with Fetcher(settings, rec) as fetcher:
                first = await fetcher.poll_once()
                assert not first.connection_lost
                (why,) = [w for n, w in first.failed if n == slow]
                assert "not complete within 0.5 s" in why
                second = await fetcher.poll_once()
                assert sorted(second.downloaded) == sorted(
                    n for n in names[1:] if n not in first.downloaded
                )
                assert not second.connection_lost
                hooks.slow_reads.clear()  # the server catches up
                third = await fetcher.poll_once()
                assert third.downloaded == [slow]
            assert sorted(rec.names) == sorted(names)
            rec.assert_once()

    run(main())


def test_status_names_an_unusable_record_of_looks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`etl-duck status` checks the fetch's record of looks (read-only): a damaged one is
    an open problem (exit 3) named with its fix; a good one, or none yet, is none."""
    import json

    from etl_duck.fetch.looks import looks_path
    from etl_duck.ingest.run import ingest_paths
    from tests.lakecheck import R1, R2, clean_cli

    data = tmp_path / "data"
    ingest_paths(data, [R1, R2])
    cli = clean_cli(capsys, monkeypatch, tmp_path)
    code, out, _ = cli("--data-dir", data, "status")
    assert code == 0 and "no open problems" in out, out
    assert not looks_path(data).parent.exists()  # status created nothing
    with Looks(data) as store:
        store.put("", {R1.name: (10, 20)})
    code, out, _ = cli("--data-dir", data, "status", "--json")
    assert code == 0 and json.loads(out)["fetch_looks"] is None, out
    looks_path(data).write_bytes(b"this is not a database" * 100)
    for file in looks_path(data).parent.glob("looks.sqlite3-*"):
        file.unlink()
    code, out, _ = cli("--data-dir", data, "status")
    assert code == 3, out
    assert f"fetch looks cannot read {looks_path(data)} (" in out, out
    assert "fix its permissions, or remove it" in out and "no open problems" not in out
