"""The one-line summaries of `ingest` and `fetch` count each file once, in the class that
says what happened to it (review 203): `ingest` of a folder with notes.txt, a garbage file
and a cut file said "1 ingested, 1 skipped (not stats files), 1 partial (awaiting the
rest), 1 quarantined": four for three files, the partial one counted as ingested too; the
first `fetch` said "34 downloaded (58,409 B), 34 ingested" above "33 ingested, 1
quarantined": the quarantined file was ingested on the top line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from etl_duck.cli.fetching import run_fetch
from etl_duck.fetch.poller import FetchReport
from tests.conftest import FIXTURES, REAL, SHARED
from tests.lakecheck import clean_cli
from tests.sftp_server import serve_in_thread

WHOLE = "2026-03-14-213512-supply-round-1.txt"
CUT = "2026-03-14-220518-etl_adlernest-round-1.txt"  # its last line is cut
LATER = "2026-03-14-223140-etl_frostbite-round-1.txt"  # a later round of the same server
GARBAGE = "2026-03-14-221702-te_escape2-round-1.txt"  # a stats name, no stats inside
#: an endstats file whose round file is not in the lake
ENDSTATS = SHARED / "fixtures" / "endstats" / "2026-01-12-224606-te_escape2-round-2-endstats.txt"


def _ingest(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    names: list[str],
) -> tuple[int, str]:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        if name == GARBAGE:
            (folder / name).write_bytes(b"garbage\n")
        elif name == "notes.txt":
            (folder / name).write_text("what we played\n")
        elif name == ENDSTATS.name:
            shutil.copy(ENDSTATS, folder / name)
        else:
            shutil.copy(FIXTURES / name, folder / name)
    cli = clean_cli(capsys, monkeypatch, tmp_path)
    code, out, _ = cli("--data-dir", tmp_path / "data", "ingest", folder)
    return code, out


def test_a_partial_file_is_partial_not_ingested_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The reviewer's folder (and one whole round): four files, four counted."""
    code, out = _ingest(capsys, monkeypatch, tmp_path, ["notes.txt", GARBAGE, CUT, WHOLE])
    assert code == 3
    assert out.startswith(
        "1 ingested, 1 skipped (not stats files), 1 partial (awaiting the rest), 1 "
        "quarantined; lake version 1"
    ), out


def test_a_cut_file_counted_short_is_cut_not_ingested_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A later round of its server follows: its complete lines count, the rest is
    missing ("cut"): one class, not "2 ingested, 1 cut" of two files."""
    code, out = _ingest(capsys, monkeypatch, tmp_path, [CUT, LATER])
    assert code == 3
    assert out.startswith("1 ingested, 1 cut (the rest missing); lake version 1"), out


def test_an_endstats_file_waiting_for_its_round_is_counted_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Stored, its rows waiting for the round file: "waiting", not "1 endstats" too."""
    code, out = _ingest(capsys, monkeypatch, tmp_path, [ENDSTATS.name])
    assert code == 0
    assert out.startswith("0 ingested, 1 endstats waiting for their round; lake version 1"), out


def test_fetchs_top_line_counts_a_quarantined_file_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over the real SFTP server: four files, one of them garbage. The top line (the one
    the bot's /sync shows alone) says what the ingest made of them, as its own line does."""
    good = sorted(REAL.glob("*.txt"))[:3]
    with serve_in_thread(tmp_path / "sftp") as server:
        for p in good:
            server.write(p.name, p.read_bytes(), age_s=3600.0)
        server.write(GARBAGE, b"garbage\n", age_s=3600.0)
        code = run_fetch(server.settings(tmp_path / "data"))
    out = capsys.readouterr().out
    top = out.splitlines()[0]
    assert code == 3
    said = r"4 downloaded \([\d,]+ B\), 3 ingested, 1 quarantined in [\d.]+ s"
    assert re.fullmatch(said, top), out
    assert "  ingest  3 ingested, 1 quarantined; lake version 1" in out, out


def test_a_failed_ingest_ingested_nothing() -> None:
    """The ingest failed: the files were downloaded, none ingested ("2 ingested, ingest
    failed" said both)."""
    report = FetchReport(
        downloaded=["a", "b"], ingested=[Path("a"), Path("b")], bytes=10, ingest_error="x"
    )
    assert report.summary() == "2 downloaded (10 B), ingest failed in 0.00 s"
