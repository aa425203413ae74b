"""Settings as an admin writes them: list settings are JSON, and internal fields are not
settings (ETL_DUCK_* variables and .env in the working directory)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from etl_duck.settings import Settings, load_settings, settings_problem


def problem(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> str:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises((ValidationError, SettingsError)) as err:
        load_settings()
    assert isinstance(err.value, ValidationError | SettingsError)
    return settings_problem(err.value)


@pytest.mark.parametrize(
    ("variable", "value", "example"),
    [
        ("ETL_DUCK_ADMIN_ROLE_IDS", "123,456", "[123, 456]"),  # not JSON at all
        ("ETL_DUCK_VOICE_CHANNEL_IDS", "123", "[123, 456]"),  # JSON, but not a list
        ("ETL_DUCK_FILLER_MAPS", "mp_sillyctf,te_escape2", '["mp_sillyctf"]'),
        ("ETL_DUCK_SERVERS", "scrim", """'[{"name": "scrim", "ssh_host": "scrim.example.org"}]'"""),
    ],
)
def test_a_list_setting_that_is_not_a_json_list_says_how_to_write_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, example: str
) -> None:
    msg = problem(monkeypatch, tmp_path, **{variable: value})
    assert msg.startswith(f"invalid setting {variable}")
    assert "a JSON list, e.g. " in msg and f"{variable}={example}" in msg
    assert "fix it in the environment or in .env" in msg


def test_a_plain_setting_gets_no_json_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    msg = problem(monkeypatch, tmp_path, ETL_DUCK_SSH_PORT="x")
    assert "ETL_DUCK_SSH_PORT='x'" in msg and "JSON" not in msg


def test_json_lists_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text('ETL_DUCK_FILLER_MAPS=["mp_sillyctf", "te_escape2"]\n')
    monkeypatch.setenv("ETL_DUCK_ADMIN_ROLE_IDS", "[123, 456]")
    s = load_settings()
    assert s.admin_role_ids == [123, 456] and s.filler_maps == ["mp_sillyctf", "te_escape2"]


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_server_name_cannot_be_set_by_an_admin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    """ETL_DUCK_SERVER_NAME set by hand made the main server's fetches store every file
    again, as another server's duplicates: it is etl-duck's own, set per ETL_DUCK_SERVERS."""
    monkeypatch.chdir(tmp_path)
    if where == ".env":
        (tmp_path / ".env").write_text("ETL_DUCK_SERVER_NAME=scrim\n")
    else:
        monkeypatch.setenv("ETL_DUCK_SERVER_NAME", "scrim")
    monkeypatch.setenv("ETL_DUCK_SSH_HOST", "game.example.org")
    monkeypatch.setenv("ETL_DUCK_SERVERS", '[{"name": "event", "ssh_host": "10.0.0.7"}]')
    s = load_settings()
    assert s.server_name == ""
    assert [(x.server_name, x.ssh_host) for x in s.sources()] == [
        ("", "game.example.org"),
        ("event", "10.0.0.7"),
    ]
    assert "server_name" not in Settings.model_fields
