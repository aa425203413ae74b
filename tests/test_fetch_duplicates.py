"""A second server that serves files whose bytes raw/ already holds under another server (a
renamed server, a mirror): each is a duplicate, stored nowhere, so raw/ cannot tell the
fetch it has it. Remembered in memory only, every new process (each cron `etl-duck fetch`)
downloaded the whole folder again, run after run (review 126). Two real asyncssh SFTP
servers (tests/sftp_server.py), the real ingest; a new process is new objects on the same
data folder."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from etl_duck.cli.fetching import run_fetch
from etl_duck.domain.sources import qualify
from etl_duck.fetch.looks import Looks
from etl_duck.fetch.poller import Fetcher, FetchReport
from etl_duck.lake.rawstore import RawStore
from etl_duck.pipeline import Ingestor
from etl_duck.settings import ServerSource, Settings
from tests.sftp_server import SFTPTestServer, serve_in_thread
from tests.test_fetch import CONTENT, OLD

T = TypeVar("T")
COPIES = "is a copy of one already in raw/ (a renamed server or a mirror?)"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def round_names(n: int) -> list[str]:
    """``n`` first rounds of supply, an hour apart (the content below is a round 1)."""
    return [f"2026-03-14-{12 + i:02d}0000-supply-round-1.txt" for i in range(n)]


def contents(names: list[str], tag: str = "Test") -> dict[str, bytes]:
    """Distinct rounds that read (another server hostname each), with player lines: a
    header alone is another round under any name, never a duplicate."""
    return {n: CONTENT.replace(b"Test", f"{tag}{i:03d}".encode(), 1) for i, n in enumerate(names)}


def configured(main: SFTPTestServer, other: SFTPTestServer, data: Path, name: str) -> Settings:
    """The settings of two servers, ``other`` called ``name`` (ETL_DUCK_SERVERS)."""
    source = ServerSource(
        name=name,
        ssh_host="127.0.0.1",
        ssh_port=other.port,
        ssh_key_path=other.client_key_path,
        ssh_known_hosts=other.known_hosts,
        ssh_remote_dir=other.remote_dir,
    )
    return main.settings(data, servers=[source])


def both(main: SFTPTestServer, other: SFTPTestServer, data: Path, name: str) -> list[Settings]:
    """The main server's and the other one's settings, as the fetch is given them."""
    return configured(main, other, data, name).sources()


def opens(server: SFTPTestServer) -> int:
    return sum(server.hooks.opens.values())


async def poll(settings: Settings, data: Path) -> FetchReport:
    """One poll by a new process: new Fetcher, new ingest, the same data folder."""
    ingest = Ingestor(data).for_server(settings.server_name)
    async with Fetcher(settings, ingest) as fetcher:
        return await fetcher.poll_once()


def test_a_mirror_s_files_are_downloaded_once_not_by_every_new_process(tmp_path: Path) -> None:
    """The mirror's files are duplicates at the first fetch; a new process downloads none of
    them; a file rewritten on the mirror (a new look) is fetched again, once."""

    async def main() -> None:
        async with (
            SFTPTestServer(tmp_path / "a") as a,
            SFTPTestServer(tmp_path / "b") as b,
        ):
            names = round_names(3)
            for name, content in contents(names).items():
                a.write(name, content, age_s=OLD)
                b.write(name, content, age_s=OLD)
            data = tmp_path / "data"
            main_s, scrim = both(a, b, data, "scrim")
            assert sorted((await poll(main_s, data)).downloaded) == names
            first = await poll(scrim, data)
            assert sorted(first.downloaded) == names
            assert sorted(getattr(first.ingest_result, "duplicates", [])) == sorted(
                qualify(n, "scrim") for n in names
            )
            assert first.copies is not None and first.copies.startswith(
                f"scrim: every file downloaded (3) {COPIES}"
            )
            assert first.copies in first.summary()
            assert opens(b) == 3
            for _ in range(2):  # each cron run: a new process
                later = await poll(scrim, data)
                assert (later.downloaded, later.known, later.copies) == ([], 3, None)
                assert later.looks_error is None
            assert opens(b) == 3  # not one file opened again

            # the same bytes written again (a new mtime): fetched once more, a copy again
            touched = time.time() - OLD + 60
            os.utime(b.folder / names[0], (touched, touched))
            again = await poll(scrim, data)
            assert again.downloaded == [names[0]]
            assert getattr(again.ingest_result, "duplicates", []) == [qualify(names[0], "scrim")]
            # rewritten with other content: fetched, and stored under this server
            b.write(
                names[1], contents(names)[names[1]].replace(b"Test", b"Other", 1), age_s=OLD - 120
            )
            rewritten = await poll(scrim, data)
            assert rewritten.downloaded == [names[1]] and rewritten.copies is None
            assert RawStore(data).sizes(qualify(names[1], "scrim"))
            assert opens(b) == 5
            quiet = await poll(scrim, data)
            assert (quiet.downloaded, quiet.known) == ([], 3)
            assert opens(b) == 5
            assert (await poll(main_s, data)).downloaded == []  # the main server untouched
            assert opens(a) == 3
            # nothing of the mirror's copies was stored under its name
            held = {qualify(n, "scrim") for n in names} & set(RawStore(data).names())
            assert held == {qualify(names[1], "scrim")}

    run(main())


def test_fetch_says_once_that_a_renamed_server_sends_copies_and_fetches_them_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 126's cron: `scrim` renamed `scrim2` downloaded its 3 files again on every
    `etl-duck fetch` ("0 ingested, 3 duplicate", exit 0, the server's opens growing). Now
    the first run says in one sentence what the server is, and later runs download
    nothing; the exit code stays 0 (nothing is open: nothing is lost or counted twice)."""
    with (
        serve_in_thread(tmp_path / "a") as a,
        serve_in_thread(tmp_path / "b") as b,
    ):
        names = round_names(3)
        for name, content in contents(names).items():
            a.write(name, content, age_s=OLD)
        for name, content in contents(names, "Scrim").items():  # rounds of its own
            b.write(name, content, age_s=OLD)
        data = tmp_path / "data"

        def fetch(server: str) -> tuple[int, str]:
            code = run_fetch(configured(a, b, data, server))
            return code, capsys.readouterr().out

        code, out = fetch("scrim")
        assert code == 0 and "scrim: 3 downloaded" in out and COPIES not in out, out
        assert opens(b) == 3
        code, out = fetch("scrim2")  # renamed: the same files under another name
        assert code == 0, out
        told = [line for line in out.splitlines() if COPIES in line]
        assert len(told) == 1 and f"scrim2: every file downloaded (3) {COPIES}" in told[0], out
        assert "see README 'Several game servers'" in told[0]
        assert opens(b) == 6
        for _ in range(2):
            code, out = fetch("scrim2")
            assert code == 0 and "scrim2: 0 downloaded" in out and COPIES not in out, out
        assert opens(b) == 6


def test_files_fetched_again_as_copies_of_their_own_raw_copies_are_no_renamed_server(
    tmp_path: Path,
) -> None:
    """A folder copied without its mtimes: each file is fetched once more and is a
    duplicate of its own raw copy — a server whose files are in raw/ under its own name is
    not told it is a renamed one."""

    async def main() -> None:
        async with SFTPTestServer(tmp_path) as server:
            names = round_names(2)
            for name, content in contents(names).items():
                server.write(name, content, age_s=OLD)
            data = tmp_path / "data"
            assert sorted((await poll(server.settings(data), data)).downloaded) == names
            for name in names:
                os.utime(server.folder / name, (time.time() - 600, time.time() - 600))
            again = await poll(server.settings(data), data)
            assert sorted(again.downloaded) == names
            assert sorted(getattr(again.ingest_result, "duplicates", [])) == names
            assert again.copies is None and COPIES not in again.summary()
            quiet = await poll(server.settings(data), data)
            assert (quiet.downloaded, quiet.known) == ([], 2)

    run(main())


def test_a_failed_read_of_the_record_downloads_the_copies_once_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that cannot read the record (locked past the wait) knows no duplicates:
    it downloads the copies once more (they are duplicates again, nothing is stored), says
    so, and records what it fetched; the next process that reads it downloads nothing."""

    async def main() -> None:
        async with (
            SFTPTestServer(tmp_path / "a") as a,
            SFTPTestServer(tmp_path / "b") as b,
        ):
            names = round_names(2)
            for name, content in contents(names).items():
                a.write(name, content, age_s=OLD)
                b.write(name, content, age_s=OLD)
            data = tmp_path / "data"
            main_s, scrim = both(a, b, data, "scrim")
            await poll(main_s, data)
            assert sorted((await poll(scrim, data)).downloaded) == names
            real = Looks.load

            def locked(self: Looks, server: str) -> dict[str, tuple[int, int | None]]:
                raise sqlite3.OperationalError("database is locked")

            monkeypatch.setattr(Looks, "load", locked)
            blind = await poll(scrim, data)
            assert sorted(blind.downloaded) == names
            assert blind.looks_error is not None and "locked" in blind.looks_error
            monkeypatch.setattr(Looks, "load", real)
            quiet = await poll(scrim, data)
            assert (quiet.downloaded, quiet.known, quiet.looks_error) == ([], 2, None)
            assert opens(b) == 4
            assert not {qualify(n, "scrim") for n in names} & set(RawStore(data).names())

    run(main())


def test_a_rebuild_forgets_the_copies_so_content_gone_from_raw_is_fetched_again(
    tmp_path: Path,
) -> None:
    """A remembered copy was never downloaded again, even after its original left raw/ and
    the lake was rebuilt without it (an admin retired the old server): its rounds were in
    no lake, for good (review 131). A rebuild forgets which files were copies; the next
    fetch downloads them once more and counts them."""
    import shutil

    from etl_duck.cli import run as cli
    from tests.bot_fakes import lake_sql

    async def main() -> None:
        async with (
            SFTPTestServer(tmp_path / "a") as a,
            SFTPTestServer(tmp_path / "b") as b,
        ):
            names = round_names(3)
            for name, content in contents(names).items():
                a.write(name, content, age_s=OLD)
                b.write(name, content, age_s=OLD)
            data = tmp_path / "data"
            main_s, scrim = both(a, b, data, "scrim")
            await poll(main_s, data)
            await poll(scrim, data)
            assert (await poll(scrim, data)).downloaded == []  # remembered as copies
            for folder in (data / "raw").iterdir():  # the main server's date folders
                if folder.name[:1].isdigit():
                    shutil.rmtree(folder)
            assert cli(["--data-dir", str(data), "rebuild", "--force"]) == 0
            later = await poll(scrim, data)
            assert sorted(later.downloaded) == names
            assert lake_sql(data, "SELECT count(*) FROM {t}", "rounds")[0][0] == 3

    run(main())
