"""`ETL_DUCK_DATA_DIR` in `./.env`: every command uses it, as the bot's and fetch's other
settings there (the option read only the process environment: a data dir set in `.env`
was ignored and `fetch`, `watch` and the bot wrote a second lake into `./data`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_duck.cli import run as cli
from tests.conftest import FIXTURES

R1 = FIXTURES / "2026-03-14-213512-supply-round-1.txt"


@pytest.fixture
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("ETL_DUCK_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / R1.name).write_bytes(R1.read_bytes())
    return tmp_path


def test_the_data_dir_of_dot_env_is_the_default(in_folder: Path) -> None:
    (in_folder / ".env").write_text("# the admin's settings\nETL_DUCK_DATA_DIR=lakes/main\n")
    assert cli(["ingest", "in"]) == 0
    assert (in_folder / "lakes" / "main" / "lake").is_symlink()
    assert not (in_folder / "data").exists()
    assert cli(["status"]) in (0, 3)  # finds the lake without --data-dir


def test_the_option_and_the_environment_come_before_dot_env(
    in_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_folder / ".env").write_text("ETL_DUCK_DATA_DIR=from-env-file\n")
    assert cli(["--data-dir", "given", "ingest", "in"]) == 0
    monkeypatch.setenv("ETL_DUCK_DATA_DIR", "from-environment")
    assert cli(["ingest", "in"]) == 0
    assert (in_folder / "given" / "lake").is_symlink()
    assert (in_folder / "from-environment" / "lake").is_symlink()
    assert not (in_folder / "from-env-file").exists()


def test_without_dot_env_the_default_is_data(in_folder: Path) -> None:
    assert cli(["ingest", "in"]) == 0
    assert (in_folder / "data" / "lake").is_symlink()


def test_a_bad_dot_env_is_one_sentence(in_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_folder / ".env").write_text("ETL_DUCK_MIN_ROUNDS=-1\n")
    assert cli(["status"]) == 2
    err = capsys.readouterr().err
    assert "ETL_DUCK_MIN_ROUNDS" in err and "Traceback" not in err
