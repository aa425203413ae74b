"""What `fetch` and `watch` say when the SSH side cannot work (review 203): one sentence
each, naming the thing and the fix.

- `watch` with no SSH settings printed "watching None@None:22 every 60 s …" before the
  error: the settings are checked first, and nothing is said to be watched;
- "ETL_DUCK_SSH_HOST, ETL_DUCK_SSH_USER not set" named no place to set them;
- "cannot connect to etl@127.0.0.1:1: [Errno 111] Connect call failed ('127.0.0.1', 1)":
  Python's words; now "connection refused", what to check, and that the next run retries;
- "cannot read SSH key /nonexist: No such file or directory" named no setting.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from etl_duck.settings import Settings
from tests.lakecheck import clean_cli
from tests.sftp_server import USER, SFTPTestServer, serve_in_thread

#: exit code, stdout (in one line), stderr (in one line)
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """``etl-duck ARGS`` in-process, with none of the host's SSH settings."""
    for name in list(os.environ):
        if name.startswith("ETL_DUCK_SSH_") or name == "ETL_DUCK_SERVERS":
            monkeypatch.delenv(name)
    return clean_cli(capsys, monkeypatch, tmp_path)


NOT_SET = (
    "error: ETL_DUCK_SSH_HOST, ETL_DUCK_SSH_USER, ETL_DUCK_SSH_KEY_PATH not set: set them in "
    'the environment or in .env (README "Settings"; the server is fetched from with a key, '
    "never a password)"
)


@pytest.mark.parametrize("command", ["fetch", "watch"])
def test_no_ssh_settings_are_named_with_where_to_set_them(
    cli: Cli, tmp_path: Path, command: str
) -> None:
    """`watch` says nothing of what it would watch (no "watching None@None:22")."""
    assert cli("--data-dir", tmp_path / "data", command) == (2, "", NOT_SET)


def test_watch_names_the_one_setting_left_out(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETL_DUCK_SSH_HOST", "game.example.org")
    monkeypatch.setenv("ETL_DUCK_SSH_KEY_PATH", str(tmp_path / "id_ed25519"))
    assert cli("--data-dir", tmp_path / "data", "watch") == (
        2,
        "",
        "error: ETL_DUCK_SSH_USER not set: set it in the environment or in .env (README "
        '"Settings"; the server is fetched from with a key, never a password)',
    )


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def _ssh_env(monkeypatch: pytest.MonkeyPatch, server: SFTPTestServer, **over: str) -> None:
    values = {
        "SSH_HOST": "127.0.0.1",
        "SSH_PORT": str(server.port),
        "SSH_USER": USER,
        "SSH_KEY_PATH": str(server.client_key_path),
        "SSH_KNOWN_HOSTS": str(server.known_hosts),
        "CONNECT_TIMEOUT_S": "5",
    } | over
    for name, value in values.items():
        monkeypatch.setenv(f"ETL_DUCK_{name}", value)


def test_a_refused_connection_says_what_to_check(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()  # nobody listens there
    with serve_in_thread(tmp_path / "sftp") as server:
        _ssh_env(monkeypatch, server, SSH_PORT=str(port))
        code, out, err = cli("--data-dir", tmp_path / "data", "fetch")
    assert (code, out) == (1, ""), err
    assert err == (
        f"error: cannot connect to {USER}@127.0.0.1:{port}: connection refused — check "
        "ETL_DUCK_SSH_HOST and ETL_DUCK_SSH_PORT, and that the SSH server runs there; the "
        "next run retries"
    )


def test_a_missing_key_file_names_the_setting(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nonexist"
    with serve_in_thread(tmp_path / "sftp") as server:
        _ssh_env(monkeypatch, server, SSH_KEY_PATH=str(missing))
        code, out, err = cli("--data-dir", tmp_path / "data", "fetch")
    assert (code, out) == (2, ""), err
    assert err == (
        f"error: cannot read SSH key {missing}: no such file — point ETL_DUCK_SSH_KEY_PATH at "
        "the private key the server accepts"
    )


def test_a_host_whose_every_address_refuses_reads_as_refused() -> None:
    """A name with an IPv6 and an IPv4 address, neither listening: asyncio's "Multiple
    exceptions: [Errno 111] …, [Errno 111] …" (no errno of its own) is "refused" too."""
    from etl_duck.fetch.sftp import _connect_problem

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    both = OSError(
        "Multiple exceptions: [Errno 111] Connect call failed ('::1', 22, 0, 0), "
        "[Errno 111] Connect call failed ('127.0.0.1', 22)"
    )
    assert _connect_problem(both, settings).startswith("connection refused — check")
    mixed = OSError(
        "Multiple exceptions: [Errno 101] Network is unreachable, [Errno 111] Connect call "
        "failed ('127.0.0.1', 22)"
    )
    assert _connect_problem(mixed, settings).startswith("network is unreachable — check")
    assert "Errno" not in _connect_problem(
        socket.gaierror(-2, "Name or service not known"), settings
    )
