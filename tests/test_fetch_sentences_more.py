"""More of what `fetch` says when the game server's side cannot work (review 3): one
sentence each, naming the thing and the fix, over the real SFTP test server.

- a round file the SSH user cannot read: "failed  …: permission denied (Permission
  denied)", the server's reason repeated and no fix;
- a stats folder that does not exist, is a file, or cannot be listed: "cannot list
  'nosuchdir' on etl@127.0.0.1:PORT: No such file or directory", no setting named;
- a network with no route: "connect call failed ('10.255.255.1', 22)", asyncio's text
  instead of the errno's words.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncssh
import pytest

from etl_duck.fetch.download import sftp_reason
from etl_duck.fetch.sftp import _connect_problem
from etl_duck.settings import Settings
from tests.lakecheck import clean_cli
from tests.sftp_server import USER, HookedSFTPServer, Hooks, SFTPTestServer, serve_in_thread
from tests.test_fetch import CONTENT, OLD, stats_names

#: exit code, stdout (in one line), stderr (in one line)
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """``etl-duck ARGS`` in-process, with none of the host's SSH settings."""
    for name in list(os.environ):
        if name.startswith("ETL_DUCK_SSH_") or name == "ETL_DUCK_SERVERS":
            monkeypatch.delenv(name)
    return clean_cli(capsys, monkeypatch, tmp_path)


def _ssh_env(monkeypatch: pytest.MonkeyPatch, server: SFTPTestServer, **over: str) -> None:
    values = {
        "SSH_HOST": "127.0.0.1",
        "SSH_PORT": str(server.port),
        "SSH_USER": USER,
        "SSH_KEY_PATH": str(server.client_key_path),
        "SSH_KNOWN_HOSTS": str(server.known_hosts),
        "SSH_REMOTE_DIR": server.remote_dir,
        "CONNECT_TIMEOUT_S": "5",
        "FETCH_RECHECK_S": "0.1",
    } | over
    for name, value in values.items():
        monkeypatch.setenv(f"ETL_DUCK_{name}", value)


UNREADABLE = (
    "permission denied — the SSH user etl cannot read it: make the game server's round files "
    "readable (chmod o+r for this one; for the next ones start the game server with umask "
    "022, or 027 with etl in the game server's group)"
)


def test_a_round_file_the_ssh_user_cannot_read_is_named_once_with_the_fix(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server answers "Permission denied" to the OPEN (a file chmod 600 by another
    user; the tests run as root, whom no mode stops, so the server's hook refuses it)."""
    good, denied = stats_names(2)
    with serve_in_thread(tmp_path / "sftp", hooks=Hooks(deny={denied})) as server:
        for name in (good, denied):
            server.write(name, CONTENT, age_s=OLD)
        _ssh_env(monkeypatch, server)
        code, out, err = cli("--data-dir", tmp_path / "data", "fetch")
    assert code == 3, (out, err)
    assert f"failed {denied}: {UNREADABLE}" in out
    assert "(Permission denied)" not in out


def test_the_other_refusals_of_a_file_never_repeat_the_servers_words() -> None:
    gone = sftp_reason(asyncssh.SFTPNoSuchFile("No such file"))
    assert gone.startswith("gone from the game server between its listing and its download")
    assert "No such file" not in gone
    other = sftp_reason(asyncssh.SFTPFailure("Failure"))
    assert other == (
        "SFTP error on the game server (failure): the next poll tries it again; if it keeps "
        "failing, check that file there"
    )
    # without the user (a refused lstat): the sentence still holds
    assert sftp_reason(asyncssh.SFTPPermissionDenied("Permission denied")).startswith(
        "permission denied — the SSH user cannot read it: "
    )


def _missing(folder: str, where: str, setting: str = "ETL_DUCK_SSH_REMOTE_DIR") -> str:
    return (
        f"cannot list the stats folder {folder!r} on {where}: it does not exist or is not a "
        f"folder — set {setting} to the folder the game server writes its round files into "
        "(a relative path starts in etl's home folder)"
    )


def test_a_stats_folder_that_does_not_exist_names_the_setting(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_in_thread(tmp_path / "sftp") as server:
        _ssh_env(monkeypatch, server, SSH_REMOTE_DIR="nosuchdir")
        code, out, err = cli("--data-dir", tmp_path / "data", "fetch")
        where = f"{USER}@127.0.0.1:{server.port}"
    assert (code, out) == (1, ""), err
    assert err == f"error: {_missing('nosuchdir', where)}"


def test_a_file_where_the_stats_folder_should_be_names_the_setting(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_in_thread(tmp_path / "sftp") as server:
        server.write("notes.txt", b"x")
        _ssh_env(monkeypatch, server, SSH_REMOTE_DIR=f"{server.remote_dir}/notes.txt")
        code, out, err = cli("--data-dir", tmp_path / "data", "fetch")
        where = f"{USER}@127.0.0.1:{server.port}"
    assert (code, out) == (1, ""), err
    assert err == f"error: {_missing('gamestats/notes.txt', where)}"


def test_another_servers_missing_folder_names_its_entry(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The main server is fetched; the scrim server's folder is wrong: its entry is named,
    not ETL_DUCK_SSH_REMOTE_DIR (which is right)."""
    with serve_in_thread(tmp_path / "sftp") as server:
        server.write(stats_names(1)[0], CONTENT, age_s=OLD)
        _ssh_env(monkeypatch, server)
        monkeypatch.setenv(
            "ETL_DUCK_SERVERS", json.dumps([{"name": "scrim", "ssh_remote_dir": "/scrim/stats"}])
        )
        code, out, err = cli("--data-dir", tmp_path / "data", "fetch")
        where = f"{USER}@127.0.0.1:{server.port}"
    assert code == 1 and "main: 1 downloaded" in out, (out, err)
    assert err == (
        f"scrim: error: cannot list the stats folder '/scrim/stats' on {where}: it does not "
        "exist or is not a folder — set its ETL_DUCK_SERVERS entry's ssh_remote_dir to the "
        "folder the game server writes its round files into"
    )


def test_a_stats_folder_the_ssh_user_cannot_list_says_which_permission(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server lists a chmod 700 folder of another user as os.scandir fails there
    (EACCES: the tests run as root, whom no mode stops, so the server is made to)."""

    async def denied(self: HookedSFTPServer, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        yield  # an async generator, as the server's own scandir

    monkeypatch.setattr(HookedSFTPServer, "scandir", denied)
    with serve_in_thread(tmp_path / "sftp") as server:
        _ssh_env(monkeypatch, server)
        code, out, err = cli("--data-dir", tmp_path / "data", "fetch")
        where = f"{USER}@127.0.0.1:{server.port}"
    assert (code, out) == (1, ""), err
    assert err == (
        f"error: cannot list the stats folder 'gamestats' on {where}: permission denied — let "
        "the SSH user etl list it (chmod o+rx on it and o+x on the folders above it, or the "
        "same for a group etl is in)"
    )


@pytest.mark.parametrize(
    ("code", "words"), [(errno.ENETUNREACH, "network is unreachable"), (113, "no route to host")]
)
def test_an_unreachable_network_is_said_in_the_errnos_words(code: int, words: str) -> None:
    """asyncio raises OSError(errno, "Connect call failed (addr)"): its strerror is that
    text, not the errno's."""
    settings = Settings(_env_file=None, ssh_host="10.255.255.1")  # type: ignore[call-arg]
    said = _connect_problem(OSError(code, "Connect call failed ('10.255.255.1', 22)"), settings)
    assert said == f"{words} — check ETL_DUCK_SSH_HOST and ETL_DUCK_SSH_PORT and the network"
