"""``ETL_DUCK_SERVERS`` entries take the main server's fields they leave out, ssh_host
included (review 203): two game servers on one machine in two folders were refused with
"(entry 1, ssh_host): field required", although the README says a left-out field is the
main server's. Two servers that read one folder (same host, port and folder; the same
user too for a folder relative to his home) are refused with one sentence, exit 2: each
file would be fetched twice, as two servers' rounds."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from etl_duck.settings import Settings
from tests.conftest import REAL
from tests.lakecheck import clean_cli
from tests.sftp_server import USER, serve_in_thread

FILES = sorted(REAL.glob("*.txt"))[:4]
OLD = 3600.0  # seconds: a file this old is taken at its second look


def _settings(monkeypatch: pytest.MonkeyPatch, servers: list[dict[str, object]]) -> Settings:
    monkeypatch.setenv("ETL_DUCK_SSH_HOST", "game.example.org")
    monkeypatch.setenv("ETL_DUCK_SSH_PORT", "2222")
    monkeypatch.setenv("ETL_DUCK_SSH_USER", "etl")
    monkeypatch.setenv("ETL_DUCK_SERVERS", json.dumps(servers))
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_an_entry_without_a_host_is_the_main_servers_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = _settings(monkeypatch, [{"name": "scrim", "ssh_remote_dir": "gamestats2"}])
    main, scrim = s.sources()
    assert (scrim.server_name, scrim.ssh_host, scrim.ssh_port, scrim.ssh_user) == (
        "scrim", "game.example.org", 2222, "etl",
    )  # fmt: skip
    assert scrim.ssh_remote_dir == "gamestats2" != main.ssh_remote_dir


@pytest.mark.parametrize(
    "servers",
    [
        [{"name": "scrim", "ssh_host": "other.example.org"}],  # the main's folder elsewhere
        [  # a folder in each user's home
            {"name": "scrim", "ssh_remote_dir": "g2"},
            {"name": "event", "ssh_remote_dir": "g2", "ssh_user": "event"},
        ],
        [{"name": "scrim", "ssh_port": 2223}],  # another sshd (a container) on the host
    ],
)
def test_servers_that_read_other_folders_are_taken(
    monkeypatch: pytest.MonkeyPatch, servers: list[dict[str, object]]
) -> None:
    assert len(_settings(monkeypatch, servers).sources()) == 1 + len(servers)


@pytest.mark.parametrize(
    ("servers", "said"),
    [
        ([{"name": "scrim"}], "scrim reads the same folder as the main server"),
        (
            [{"name": "scrim", "ssh_remote_dir": ".etlegacy/legacy/gamestats/"}],
            "scrim reads the same folder as the main server",
        ),
        (
            [{"name": "scrim", "ssh_remote_dir": "~/.etlegacy/legacy/gamestats"}],
            "scrim reads the same folder as the main server",
        ),
        (
            [{"name": "scrim", "ssh_host": "GAME.example.org", "ssh_port": 2222}],
            "scrim reads the same folder as the main server",
        ),
        (
            [
                {"name": "scrim", "ssh_remote_dir": "g2"},
                {"name": "event", "ssh_remote_dir": "./g2"},
            ],
            "event reads the same folder as scrim",
        ),
        (  # an absolute folder is one folder, whoever logs in
            [
                {"name": "scrim", "ssh_remote_dir": "/srv/et/stats"},
                {"name": "event", "ssh_remote_dir": "/srv/et/stats", "ssh_user": "event"},
            ],
            "event reads the same folder as scrim",
        ),
    ],
)
def test_two_servers_reading_one_folder_are_refused(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    servers: list[dict[str, object]],
    said: str,
) -> None:
    cli = clean_cli(capsys, monkeypatch, tmp_path)
    monkeypatch.setenv("ETL_DUCK_SSH_HOST", "game.example.org")
    monkeypatch.setenv("ETL_DUCK_SSH_PORT", "2222")
    monkeypatch.setenv("ETL_DUCK_SERVERS", json.dumps(servers))
    code, out, err = cli("--data-dir", tmp_path / "data", "fetch")
    assert (code, out) == (2, ""), err
    assert err.startswith(f"error: invalid setting ETL_DUCK_SERVERS: {said} (")
    assert err.endswith(
        "its files would be fetched twice — give it its own ssh_remote_dir (or ssh_host), or "
        "leave it out; fix it in the environment or in .env"
    )
    assert not (tmp_path / "data").exists()


def test_an_entry_without_a_host_and_no_main_host_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cli = clean_cli(capsys, monkeypatch, tmp_path)
    monkeypatch.delenv("ETL_DUCK_SSH_HOST", raising=False)
    monkeypatch.setenv("ETL_DUCK_SERVERS", '[{"name": "scrim", "ssh_remote_dir": "g2"}]')
    assert cli("--data-dir", tmp_path / "data", "fetch") == (
        2,
        "",
        "error: invalid setting ETL_DUCK_SERVERS: entry 1 (scrim) has no ssh_host and there "
        "is no ETL_DUCK_SSH_HOST to take it from — give the entry an ssh_host or set "
        "ETL_DUCK_SSH_HOST; fix it in the environment or in .env",
    )


def test_a_second_folder_on_the_main_host_is_fetched_into_its_raw_folder(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The reviewer's setting, through the environment and the real `etl-duck fetch`: one
    SFTP server with two folders; the entry names only its name and its folder."""
    cli = clean_cli(capsys, monkeypatch, tmp_path)
    with serve_in_thread(tmp_path / "sftp") as server:
        second = server.root / "gamestats2"
        second.mkdir()
        for p in FILES[:2]:
            server.write(p.name, p.read_bytes(), age_s=OLD)
        for p in FILES[2:]:
            (second / p.name).write_bytes(p.read_bytes())
            os.utime(second / p.name, (time.time() - OLD, time.time() - OLD))
        for name, value in {
            "SSH_HOST": "127.0.0.1",
            "SSH_PORT": str(server.port),
            "SSH_USER": USER,
            "SSH_KEY_PATH": str(server.client_key_path),
            "SSH_KNOWN_HOSTS": str(server.known_hosts),
            "SSH_REMOTE_DIR": server.remote_dir,
            "FETCH_RECHECK_S": "0.1",
            "SERVERS": '[{"name": "scrim", "ssh_remote_dir": "gamestats2"}]',
        }.items():
            monkeypatch.setenv(f"ETL_DUCK_{name}", value)
        data = tmp_path / "data"
        code, out, err = cli("--data-dir", data, "fetch")
    assert code == 0, (out, err)
    assert "main: 2 downloaded" in out and "scrim: 2 downloaded" in out, out
    raw = data / "raw"
    for p in FILES[:2]:
        assert (raw / p.name[:10] / p.name).read_bytes() == p.read_bytes()
    for p in FILES[2:]:
        assert (raw / "scrim" / p.name[:10] / p.name).read_bytes() == p.read_bytes()
    assert not (raw / "scrim" / FILES[0].name[:10] / FILES[0].name).exists()
