"""`etl-duck bot --check` (run_bot(check=True)) and the missing-token message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import etl_duck.fetch.poller
from etl_duck.bot import run_bot
from tests.bot_fakes import make_lake, settings_for, template_lake

#: the shape of a real bot token (base64 bot id . timestamp . secret); never printed
SECRET = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhJk3a.never-print-this-secret-part-xyz0123"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_lake(tmp_path_factory)


def lines(out: str) -> dict[str, str]:
    """check name → its line, e.g. 'lake' → '[ ok ] lake  version 1: …'."""
    found = {}
    for line in out.splitlines():
        if line.startswith("["):
            name = line[7:].split("  ")[0].strip()
            found[name] = line
    return found


def test_check_passes_without_a_token(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "fresh"  # created by the check
    assert run_bot(settings_for(data), check=True) == 0
    out = lines(capsys.readouterr().out)
    assert out["data dir"].startswith("[ ok ]") and "readable and writable" in out["data dir"]
    assert out["lake"].startswith("[ ok ]") and "empty (no data yet)" in out["lake"]
    assert out["link store"].startswith("[ ok ]")
    assert out["game server (SSH)"].startswith("[skip]")
    assert "missing" in out["discord token"]

    assert run_bot(settings_for(lake, discord_token=SECRET), check=True) == 0
    text = capsys.readouterr().out
    out = lines(text)
    # sessions with a counted round (as `sessions` and `session DATE` count them; 2024-09-11's
    # player alone on the server is no game since parser 16)
    assert "15 sessions" in out["lake"] and "2024-04-16 → 2025-11-11" in out["lake"]
    assert (
        out["discord token"].startswith("[ ok ]")
        and "bot id 123456789012345678" in out["discord token"]
    )
    assert "verified only when the bot connects" in out["discord token"]
    assert SECRET not in text

    # a bogus token fails --check (it used to pass, and fail only when connecting)
    assert run_bot(settings_for(lake, discord_token="not-a-token"), check=True) == 1
    out = lines(capsys.readouterr().out)
    assert (
        out["discord token"].startswith("[FAIL]")
        and "does not look like a bot token" in out["discord token"]
    )


def test_check_fails_on_an_unusable_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert run_bot(settings_for(blocker / "data"), check=True) == 1
    captured = capsys.readouterr().out
    assert lines(captured)["data dir"].startswith("[FAIL]")
    assert "check(s) failed" in captured


class GoodFetcher:
    closed = 0

    def __init__(self, settings: Any, ingest: Any = None) -> None:
        self.settings = settings

    async def check(self) -> str:
        return f"{self.settings.ssh_user}@{self.settings.ssh_host}:22:gamestats: 12 stats files"

    async def close(self) -> None:
        GoodFetcher.closed += 1


class BadFetcher(GoodFetcher):
    async def check(self) -> str:
        raise ConnectionRefusedError("connection refused by game.example:22")


def test_check_tries_ssh_when_configured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make_lake(tmp_path / "data", [])
    ssh = {"ssh_host": "game.example", "ssh_user": "et", "ssh_key_passphrase": SECRET}
    monkeypatch.setattr(etl_duck.fetch.poller, "Fetcher", GoodFetcher)
    assert run_bot(settings_for(data, **ssh), check=True) == 0
    out = capsys.readouterr().out
    assert lines(out)["game server (SSH)"].startswith("[ ok ]")
    assert "et@game.example:22:gamestats: 12 stats files" in out
    assert GoodFetcher.closed == 1

    monkeypatch.setattr(etl_duck.fetch.poller, "Fetcher", BadFetcher)
    assert run_bot(settings_for(data, **ssh), check=True) == 1
    out = capsys.readouterr().out
    assert lines(out)["game server (SSH)"].startswith("[FAIL]")
    assert "connection refused" in out and SECRET not in out


def test_missing_token_is_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_bot(settings_for(tmp_path), check=False) == 2
    err = capsys.readouterr().err
    assert "ETL_DUCK_DISCORD_TOKEN" in err and "--check" in err
    assert run_bot(settings_for(tmp_path, discord_token="   "), check=False) == 2


def test_check_shows_the_test_only_discord_endpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = settings_for(tmp_path / "a")
    assert run_bot(plain, check=True) == 0
    assert "discord endpoints" not in lines(capsys.readouterr().out)
    emulated = settings_for(
        tmp_path / "b",
        discord_api_base="http://127.0.0.1:9/api/v10",
        discord_gateway_url="ws://127.0.0.1:9/gateway",
    )
    assert run_bot(emulated, check=True) == 0
    line = lines(capsys.readouterr().out)["discord endpoints"]
    assert "TEST ONLY" in line and "http://127.0.0.1:9/api/v10" in line


def test_the_endpoint_settings_are_validated() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        settings_for(Path("x"), discord_api_base="http://127.0.0.1:9/api/v9")
    with pytest.raises(ValidationError):
        settings_for(Path("x"), discord_gateway_url="http://127.0.0.1:9/gateway")


def test_unset_voice_channels_and_admins_name_the_variables_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An admin reading --check learns which setting turns each on (and that it is JSON)."""
    assert run_bot(settings_for(tmp_path / "data"), check=True) == 0
    out = lines(capsys.readouterr().out)
    assert "ETL_DUCK_VOICE_CHANNEL_IDS=[id, …]" in out["voice channels"]
    assert "ETL_DUCK_ADMIN_ROLE_IDS=[id, …]" in out["admins"]
    assert "ETL_DUCK_ADMIN_USER_IDS=[id, …]" in out["admins"]

    settings = settings_for(tmp_path / "data", voice_channel_ids=[1, 2], admin_role_ids=[3])
    assert run_bot(settings, check=True) == 0
    out = lines(capsys.readouterr().out)
    assert "2 watched" in out["voice channels"] and "ETL_DUCK_" not in out["voice channels"]
    assert "0 users, 1 roles" in out["admins"] and "ETL_DUCK_" not in out["admins"]
