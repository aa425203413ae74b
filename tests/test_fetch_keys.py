"""An OpenSSH private key protected by a passphrase (what `ssh-keygen -N …` writes): its
encryption needs bcrypt, which asyncssh installs only with its `bcrypt` extra. Without it
every fetch failed with "OpenSSH private key encryption requires bcrypt with KDF support"
whatever the passphrase. And a known_hosts setting that names no regular file (/dev/null, a
folder) is said as it is, not "does not exist"."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from etl_duck.fetch.poller import Fetcher
from etl_duck.fetch.sftp import HostKeyError
from tests.sftp_server import SFTPTestServer
from tests.test_fetch import CONTENT, OLD, Recorder, run, stats_names


def test_a_passphrase_protected_openssh_key_fetches(tmp_path: Path) -> None:
    secret = "correct horse battery staple"

    async def main() -> list[str]:
        async with SFTPTestServer(tmp_path) as server:
            (name,) = stats_names(1)
            server.write(name, CONTENT, age_s=OLD)
            locked = tmp_path / "keys" / "id_locked"
            server.client_key.write_private_key(str(locked), passphrase=secret)  # openssh
            os.chmod(locked, 0o600)
            assert b"BEGIN OPENSSH PRIVATE KEY" in locked.read_bytes()
            settings = server.settings(
                tmp_path / "data", ssh_key_path=locked, ssh_key_passphrase=secret
            )
            async with Fetcher(settings, Recorder()) as fetcher:
                return (await fetcher.poll_once()).downloaded

    assert run(main()) == stats_names(1)


def refusal(tmp_path: Path, known_hosts: Path) -> tuple[str, int]:
    """The HostKeyError a poll with ``known_hosts`` gets, and the test server's port."""

    async def main() -> tuple[str, int]:
        async with SFTPTestServer(tmp_path) as server:
            server.write(stats_names(1)[0], CONTENT, age_s=OLD)
            settings = server.settings(tmp_path / "data", ssh_known_hosts=known_hosts)
            async with Fetcher(settings, Recorder()) as fetcher:
                with pytest.raises(HostKeyError) as err:
                    await fetcher.poll_once()
            return str(err.value), server.port

    return run(main())


def test_known_hosts_at_dev_null_is_not_said_to_be_missing(tmp_path: Path) -> None:
    """ETL_DUCK_SSH_KNOWN_HOSTS=/dev/null was "known_hosts file /dev/null does not exist"
    (and the fix appended the key to /dev/null): it exists, it is no file a key can be
    kept in. One sentence: the path, what it is, a file to point it at and how to fill it."""
    msg, port = refusal(tmp_path, Path("/dev/null"))
    home = Path("~/.ssh/known_hosts").expanduser()
    assert msg.startswith("known_hosts file /dev/null is not a regular file: will not connect")
    assert "does not exist" not in msg and ">> /dev/null" not in msg
    assert f"point ETL_DUCK_SSH_KNOWN_HOSTS at a regular file, such as {home}" in msg
    assert f"`ssh-keyscan -p {port} 127.0.0.1 >> {home}`" in msg and "fingerprint" in msg
    assert "\n" not in msg


def test_known_hosts_naming_a_folder_or_an_empty_file_is_said_as_it_is(tmp_path: Path) -> None:
    """A folder (`~/.ssh` given for the file) is a folder, not missing; an empty file exists
    and holds no key: the server's key is not in it, and the fix adds it there."""
    folder = tmp_path / "ssh"
    folder.mkdir()
    msg, port = refusal(tmp_path, folder)
    assert msg.startswith(f"known_hosts file {folder} is a folder: will not connect"), msg
    assert f"a known_hosts file in it, such as {folder / 'known_hosts'}" in msg
    assert f"`ssh-keyscan -p {port} 127.0.0.1 >> {folder / 'known_hosts'}`" in msg
    assert "does not exist" not in msg
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    msg, port = refusal(tmp_path, empty)
    assert msg.startswith(f"refusing 127.0.0.1 port {port}: it is not in known_hosts"), msg
    assert f"known_hosts file {empty}. Will not connect" in msg
    assert f"`ssh-keyscan -p {port} 127.0.0.1 >> {empty}`" in msg
    assert "does not exist" not in msg
