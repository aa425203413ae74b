"""`resolve NAME --accept` of an empty file (0 bytes arrived: recorded as awaiting its
content, `status` names it) accepts nothing: there is no line in it. Each such resolve
committed a new lake version with nothing new in it (the empty file's ledger row written
again under the new version). Now it commits nothing, says the file is empty and what
settles it, and exits 3 as every resolve that leaves its problem open; `status` is as
before. The same for `--keep` of its one (empty) version, which also committed each time.
Through the real entry point, over a real lake."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from etl_duck.lake.rawstore import RawStore
from tests.conftest import FIXTURES
from tests.lakecheck import clean_cli, content_digest

R1, R2 = "2026-03-14-213512-supply-round-1.txt", "2026-03-14-214449-supply-round-2.txt"


def _published(data: Path) -> str:
    """The snapshot the lake's link points at (what every reader opens)."""
    return os.readlink(data / "lake")


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """Round 1 of the supply pair, and round 2 as 0 bytes (the copy ran before the server
    wrote it)."""
    files = tmp_path / "files"
    files.mkdir()
    (files / R1).write_bytes((FIXTURES / R1).read_bytes())
    (files / R2).write_bytes(b"")
    return files


def test_accepting_an_empty_file_commits_nothing_and_says_so(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = clean_cli(capsys, monkeypatch, tmp_path)
    data = tmp_path / "data"
    code, out, _ = cli("--data-dir", data, "ingest", lake)
    assert code == 3 and out.startswith("1 ingested, 1 empty (retry later); lake version 1"), out
    code, before, _ = cli("--data-dir", data, "status", "--json")
    assert code == 3 and json.loads(before)["empty"] == [R2]
    snapshot, digest = _published(data), content_digest(data)
    for _ in range(2):  # the first --accept and the same again: alike
        code, out, err = cli("--data-dir", data, "resolve", R2, "--accept")
        assert code == 3, (out, err)
        assert out.startswith("0 ingested, 1 empty (retry later); lake version 1 (unchanged)")
        assert err == (
            f"resolve {R2}: nothing changed — it is empty (0 bytes): there is nothing in it "
            f"to accept; copy it again once the server has written it, or `etl-duck resolve "
            f"{R2} --dismiss` if the server's own file is empty"
        )
        assert _published(data) == snapshot and content_digest(data) == digest
        # no acceptance recorded: there was nothing to accept (a later --accept, after a
        # --dismiss, would answer "accepted already")
        assert RawStore(data).accepted(R2) == set()
        assert not list((data / "raw").rglob("*.accept"))
        code, now, _ = cli("--data-dir", data, "status", "--json")
        assert code == 3 and now == before
    # its content arrives: it lands, as it did before any --accept
    (lake / R2).write_bytes((FIXTURES / R2).read_bytes())
    code, out, _ = cli("--data-dir", data, "ingest", lake / R2)
    assert code == 0 and out.startswith("1 ingested; lake version 2"), out


def test_keeping_an_empty_files_one_version_again_commits_nothing(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = clean_cli(capsys, monkeypatch, tmp_path)
    data = tmp_path / "data"
    code, _, _ = cli("--data-dir", data, "ingest", lake)
    assert code == 3
    (only,) = RawStore(data).versions(R2)
    snapshot = _published(data)
    for _ in range(2):
        code, out, err = cli("--data-dir", data, "resolve", R2, "--keep", only.id)
        assert code == 3 and "lake version 1 (unchanged)" in out, (out, err)
        assert err == (
            f"resolve {R2}: nothing changed — it is empty (0 bytes): version {only.id} counts "
            f"already; copy it again once the server has written it, or `etl-duck resolve "
            f"{R2} --dismiss` if the server's own file is empty"
        )
        assert _published(data) == snapshot
