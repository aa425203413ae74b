"""What the lake was derived by and under is said, never changed silently (review 92, D5):
an ingest run from another directory (`.env` is read from the working directory) re-derived
every partition under its own settings with no word ("1 ingested; lake version 2"), and the
bot's next fetch derived it back; a lake a NEWER parser wrote was re-derived by the older
code (an un-restarted bot after `pip install -U`, a downgrade) and called "derived by an
older parser". Through the real entry point, as tests/test_cli_errors.py does."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from etl_duck.domain.parse import PARSER_VERSION
from etl_duck.ingest.options import LAKE_FORMAT
from etl_duck.lake.snapshot import Lake
from tests.lakecheck import clean_cli, renamed_pair

#: exit code, stdout (in one line), stderr (in one line)
Cli = Callable[..., tuple[int, str, str]]

GAP = "ETL_DUCK_SESSION_GAP_MINUTES"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """``etl-duck ARGS`` through the real entry point; no .env or settings of the host."""
    return clean_cli(capsys, monkeypatch, tmp_path)


@pytest.fixture
def lake(cli: Cli, tmp_path: Path) -> Path:
    """A lake of two evenings 50 minutes apart (one session at a gap of 60, two at 45),
    derived under the default settings; a third evening waits in ``tmp_path/later``."""
    files, later = tmp_path / "files", tmp_path / "later"
    files.mkdir()
    later.mkdir()
    renamed_pair(files, "2026-01-08-200000", "2026-01-08-200937", "a")
    renamed_pair(files, "2026-01-08-210800", "2026-01-08-211737", "b")
    renamed_pair(later, "2026-01-09-210000", "2026-01-09-210937", "c")
    data = tmp_path / "data"
    code, out, _ = cli("--data-dir", data, "ingest", files)
    assert code == 0, out
    return data


def _options(data: Path) -> dict[str, object]:
    return dict(Lake(data).manifest().options)


def _stamp(data: Path, **options: int) -> None:
    """Record other settings in the current manifest, as another etl-duck wrote it."""
    manifest = (data / "lake").resolve() / "_manifest.json"
    text = json.loads(manifest.read_text())
    text["options"].update(options)
    manifest.write_text(json.dumps(text, separators=(",", ":")))


def test_an_ingest_under_other_settings_says_which_changed(
    cli: Cli, lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = cli("--data-dir", lake, "sessions")
    assert code == 0 and out.count("2026-01-08") == 1, out  # one session at a gap of 60
    # status under other settings says what an ingest from here would do
    monkeypatch.setenv(GAP, "45")
    code, out, _ = cli("--data-dir", lake, "status")
    assert code == 0 and "no open problems" in out, out
    assert (
        "settings differ the lake was derived under other settings than this command's (the "
        f"lake's → these: {GAP} 60 → 45): an ingest run like this one derives every partition "
        "again"
    ) in out, out
    # the ingest goes on (the settings given win), and says so in one line
    code, out, _ = cli("--data-dir", lake, "ingest", tmp_path / "later")
    assert code == 0, out
    assert out.startswith("2 ingested; lake version 2"), out
    assert (
        f"note the lake's settings changed ({GAP} 60 → 45): every partition was derived again "
        "under this run's — set the same ones wherever etl-duck writes to this lake (the bot, "
        "cron; `.env` is read from the working directory), or the next ingest there derives "
        "it back"
    ) in out, out
    assert _options(lake)["session_gap_minutes"] == 45
    code, out, _ = cli("--data-dir", lake, "sessions")
    assert code == 0 and out.count("2026-01-08") == 2, out  # split at a gap of 45
    # the same settings again: nothing to say
    code, out, _ = cli("--data-dir", lake, "status")
    assert "settings differ" not in out and "re-read due" not in out, out
    # back to the defaults (the bot's fetch): said again, the other way round
    monkeypatch.delenv(GAP)
    monkeypatch.setenv("ETL_DUCK_FILLER_MAPS", "[]")
    renamed_pair(tmp_path / "later", "2026-01-10-210000", "2026-01-10-210937", "d")
    code, out, _ = cli("--data-dir", lake, "ingest", tmp_path / "later")
    assert code == 0, out
    assert f'({GAP} 45 → 60, ETL_DUCK_FILLER_MAPS ["mp_sillyctf"] → [])' in out, out


@pytest.mark.parametrize(
    ("key", "ours", "said"),
    [("parser_version", PARSER_VERSION, "parser"), ("lake_format", LAKE_FORMAT, "lake format")],
)
def test_a_lake_a_newer_etl_duck_wrote_is_never_written(
    cli: Cli, lake: Path, tmp_path: Path, key: str, ours: int, said: str
) -> None:
    _stamp(lake, **{key: ours + 1})
    raw_before = sorted(p.name for p in (lake / "raw").rglob("*"))
    sentence = (
        f"error: the lake was written by a newer etl-duck ({said} {ours + 1} > {ours}): "
        "upgrade this installation (or run the newer one)"
    )
    code, out, err = cli("--data-dir", lake, "ingest", tmp_path / "later")
    assert code == 1 and out == "" and err == f"{sentence}; nothing written", (out, err)
    code, out, err = cli("--data-dir", lake, "ingest")  # nothing given: the same
    assert code == 1 and err == f"{sentence}; nothing written", err
    name = "2026-01-08-200000-supply-round-1.txt"
    code, _, err = cli("--data-dir", lake, "resolve", name, "--dismiss")
    assert code == 1 and err == f"{sentence}; nothing written", err
    code, _, err = cli("--data-dir", lake, "rebuild")
    assert code == 1, err
    assert err == (
        f"{sentence} (a deliberate downgrade: `etl-duck rebuild --force`); nothing written"
    )
    # nothing was stored, marked or committed
    assert sorted(p.name for p in (lake / "raw").rglob("*")) == raw_before
    assert Lake(lake).version() == 1
    assert _options(lake)[key] == ours + 1
    # readers still read; status names it as a problem
    code, out, _ = cli("--data-dir", lake, "sessions")
    assert code == 0 and "2026-01-08" in out, out
    code, out, _ = cli("--data-dir", lake, "status")
    assert code == 3, out
    assert (
        f"newer lake the lake was written by a newer etl-duck ({said} {ours + 1} > {ours}): "
        "this installation reads it but writes nothing"
    ) in out, out
    assert "older" not in out and "re-read due" not in out
    # a deliberate downgrade
    code, out, _ = cli("--data-dir", lake, "rebuild", "--force")
    assert code == 0 and _options(lake)[key] == ours, out


def test_status_says_when_a_re_read_is_due_and_the_ingest_does_it(
    cli: Cli, lake: Path, tmp_path: Path
) -> None:
    _stamp(lake, parser_version=PARSER_VERSION - 1)  # as the release before left it
    code, out, _ = cli("--data-dir", lake, "status")
    assert code == 0 and "no open problems" in out, out  # no problem: it happens by itself
    assert (
        f"re-read due the lake was derived by an older parser (parser {PARSER_VERSION - 1}; "
        f"this etl-duck's is {PARSER_VERSION}): the next ingest (or the bot's next fetch) "
        "re-reads all of raw/"
    ) in out, out
    code, out, _ = cli("--data-dir", lake, "ingest", tmp_path / "later")
    assert code == 0 and "the lake was derived by an older parser: every file was read" in out
    assert "settings changed" not in out, out  # the parser is no setting of the admin's
    assert _options(lake)["parser_version"] == PARSER_VERSION
    code, out, _ = cli("--data-dir", lake, "status")
    assert code == 0 and "re-read due" not in out, out
