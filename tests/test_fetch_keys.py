"""An OpenSSH private key protected by a passphrase (what `ssh-keygen -N …` writes): its
encryption needs bcrypt, which asyncssh installs only with its `bcrypt` extra. Without it
every fetch failed with "OpenSSH private key encryption requires bcrypt with KDF support"
whatever the passphrase."""

from __future__ import annotations

import os
from pathlib import Path

from etl_duck.fetch.poller import Fetcher
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
