"""The first ingest after an upgrade that bumps the parser version re-reads every file of
raw/ in its commit — the ones quarantined, empty or with rejected lines before it too. It
reported those as its own problems ("4 ingested, 1 empty, 1 quarantined", exit 3) where
the same batch before the upgrade said "2 ingested", exit 0: a cron alert on the ingest's
exit 3 fired for problems open and known (`status` exits 3 for them anyway). Now a
problem the re-read finds just as the lake recorded it is said in one clause and leaves
the exit code alone; one it finds new (a landed file quarantined now, another reason) and
the batch's own bad files exit 3 as before; `rebuild` lists everything. Through the real
entry point, as tests/test_rederive_notice.py does."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import etl_duck.domain.parse as parse
from etl_duck.lake.snapshot import Lake
from tests.conftest import REAL
from tests.lakecheck import clean_cli, renamed_pair

#: exit code, stdout (in one line), stderr (in one line)
Cli = Callable[..., tuple[int, str, str]]

BAD = "2026-01-08-203000-supply-round-1.txt"  # its header does not read: quarantined
EMPTY = "2026-01-08-204000-supply-round-1.txt"  # 0 bytes
REJECTED = "2025-12-01-120000-et_brewdog-round-1.txt"  # one line out of range
BREWDOG = REAL / "2025-09-25-000238-et_brewdog-round-1.txt"
KNOWN = (
    "1 already quarantined, 1 already empty, 1 rejected lines already known, still open — "
    "see `etl-duck status`"
)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """``etl-duck ARGS`` through the real entry point; no .env or settings of the host."""
    return clean_cli(capsys, monkeypatch, tmp_path)


@pytest.fixture
def lake(cli: Cli, tmp_path: Path) -> Path:
    """A lake with a quarantined file, an empty one and one with a rejected line (open
    problems: exit 3), left by the release before this one (an older parser version);
    the next evening's two good files wait in ``tmp_path/later``."""
    files, later = tmp_path / "files", tmp_path / "later"
    files.mkdir()
    later.mkdir()
    renamed_pair(files, "2026-01-08-200000", "2026-01-08-200937", "a")
    (files / BAD).write_bytes(b"garbage\\x\nmore\n")
    (files / EMPTY).write_bytes(b"")
    lines = BREWDOG.read_bytes().split(b"\n")
    fields = lines[1].split(b"\t")
    fields[1] = b"99999999999"  # X0 damage given, out of range: the line is rejected
    lines[1] = b"\t".join(fields)
    (files / REJECTED).write_bytes(b"\n".join(lines))
    renamed_pair(later, "2026-01-09-210000", "2026-01-09-210937", "c")
    data = tmp_path / "data"
    code, out, _ = cli("--data-dir", data, "ingest", files)
    assert code == 3 and "1 empty" in out and "1 quarantined" in out, out
    assert "1 rejected lines" in out, out
    manifest = (data / "lake").resolve() / "_manifest.json"  # as the release before left it
    text = json.loads(manifest.read_text())
    text["options"]["parser_version"] = parse.PARSER_VERSION - 1
    manifest.write_text(json.dumps(text, separators=(",", ":")))
    return data


def test_known_problems_re_read_by_an_upgrade_leave_the_exit_code_alone(
    cli: Cli, lake: Path, tmp_path: Path
) -> None:
    code, out, _ = cli("--data-dir", lake, "ingest", tmp_path / "later")
    assert code == 0, out
    assert KNOWN in out, out
    assert "every file was read again from raw/" in out, out  # the re-read is said
    # nothing listed as this run's problem
    assert "quarantined 2026" not in out and "empty 2026" not in out, out
    assert "rejected line 2025" not in out, out
    assert Lake(lake).manifest().options["parser_version"] == parse.PARSER_VERSION
    # still open: `status` names each one and exits 3
    code, out, _ = cli("--data-dir", lake, "status")
    assert code == 3 and BAD in out and EMPTY in out and REJECTED in out, out


def test_a_new_bad_file_in_the_upgrades_batch_still_exits_3(
    cli: Cli, lake: Path, tmp_path: Path
) -> None:
    bad = "2026-01-09-220000-supply-round-1.txt"
    (tmp_path / "later" / bad).write_bytes(b"nonsense\n")
    code, out, _ = cli("--data-dir", lake, "ingest", tmp_path / "later")
    assert code == 3, out
    # (the re-read lists every file it read as ingested, as before: 2 + 3 landed)
    assert out.startswith("5 ingested, 1 quarantined; " + KNOWN), out
    assert f"quarantined {bad}:1: header" in out and f"quarantined {BAD}" not in out, out


def test_a_re_read_that_quarantines_a_landed_file_or_for_another_reason_exits_3(
    cli: Cli, lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new parser refuses a header the old one read ("Server a": a round that landed)
    and says another reason for the one quarantined before: both are new problems."""
    real_header = parse.parse_header

    def stricter(text: str, file: str) -> parse.Header:
        if "Server a" in text:
            raise parse.ParseError(file, 1, "header", "stricter now")
        if text.startswith("garbage"):
            raise parse.ParseError(file, 1, "header", "another reason")
        return real_header(text, file)

    monkeypatch.setattr(parse, "parse_header", stricter)
    code, out, _ = cli("--data-dir", lake, "ingest", tmp_path / "later")
    assert code == 3, out
    assert "quarantined 2026-01-08-200000-supply-round-1.txt:1: header: stricter now" in out
    assert f"quarantined {BAD}:1: header: another reason" in out, out
    # the empty file and the rejected line are as they were: said, not listed
    assert "1 already empty, 1 rejected lines already known, still open" in out, out
    assert "already quarantined" not in out, out


def test_rebuild_lists_every_open_problem_as_before(cli: Cli, lake: Path) -> None:
    """An admin's rebuild asked to re-read everything: its report is the whole inventory,
    and its exit 3 says that problems are open, as `status` does."""
    code, out, _ = cli("--data-dir", lake, "rebuild")
    assert code == 3, out
    assert "1 empty (retry later), 1 quarantined, 1 rejected lines" in out, out
    assert "still open" not in out, out


def test_a_known_bad_file_sent_again_in_the_upgrades_batch_is_that_problem_again(
    cli: Cli, lake: Path, tmp_path: Path
) -> None:
    """The batch's own files keep the rules of any ingest: a quarantined file given again
    is that problem again (exit 3), re-read or not."""
    (tmp_path / "later" / BAD).write_bytes((tmp_path / "files" / BAD).read_bytes())
    code, out, _ = cli("--data-dir", lake, "ingest", tmp_path / "later")
    assert code == 3, out
    assert f"quarantined {BAD}:1: header" in out, out
    assert "1 already empty, 1 rejected lines already known, still open" in out, out
    assert "already quarantined" not in out, out
