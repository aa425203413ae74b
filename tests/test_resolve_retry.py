"""A quarantined file is read again when an admin resolves its name or ingests it again
(review 92, D4): a parser bug quarantined a good file, and after the fix `resolve NAME
--keep ID` and `--accept` did nothing and exited 0 ("0 ingested; lake version 2
(unchanged)"), `ingest FILE` said "1 quarantined" with the old reason, and `status` stayed
at exit 3 — only `rebuild` or a parser-version bump brought it back. And a resolve that
changes nothing says so in one sentence and never exits 0."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import etl_duck.ingest.run as run_module
from etl_duck.domain import parse
from etl_duck.lake.rawstore import RawStore
from etl_duck.lake.snapshot import Lake
from tests.lakecheck import clean_cli, content_digest, renamed_pair

#: exit code, stdout (in one line), stderr (in one line)
Cli = Callable[..., tuple[int, str, str]]

BAD = "2026-01-09-210000-supply-round-1.txt"  # the file the "bug" cannot read
FIRST_REASON = "a bug in this release"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """``etl-duck ARGS`` through the real entry point; no .env or settings of the host."""
    return clean_cli(capsys, monkeypatch, tmp_path)


@pytest.fixture
def bug(monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], None]:
    """``bug(reason)``: the ingest's parser fails on :data:`BAD` with ``reason`` (a bug in
    a release); ``bug(None)``: the fixed parser."""
    real = parse.parse_head

    def put(reason: str | None) -> None:
        def head(data: bytes, name: str) -> parse.RoundHead:
            if reason is not None and name == BAD:
                raise parse.ParseError(name, 1, "H6 time limit", reason)
            return real(data, name)

        monkeypatch.setattr(run_module, "parse_head", head)

    return put


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """Two evenings; the second one's round 1 is the file the bug quarantines."""
    folder = tmp_path / "files"
    folder.mkdir()
    renamed_pair(folder, "2026-01-08-210000", "2026-01-08-210937", "first")
    renamed_pair(folder, "2026-01-09-210000", "2026-01-09-210937", "second")
    return folder


@pytest.fixture
def quarantined(cli: Cli, bug: Callable[[str | None], None], files: Path, tmp_path: Path) -> Path:
    """A lake in which a release's parser bug quarantined the good file :data:`BAD`; the
    bug is fixed now (the same parser version: a small fix)."""
    data = tmp_path / "data"
    bug(FIRST_REASON)
    code, out, _ = cli("--data-dir", data, "ingest", files)
    assert code == 3 and "3 ingested, 1 quarantined" in out, out
    assert f"{BAD}:1: H6 time limit: {FIRST_REASON}" in out
    bug(None)
    return data


def _clean(files: Path, tmp_path: Path, cli: Cli) -> str:
    whole = tmp_path / "whole"
    code, out, _ = cli("--data-dir", whole, "ingest", files)
    assert code == 0, out
    return content_digest(whole)


def _version(data: Path) -> str:
    return RawStore(data).decide(BAD).counted.id  # type: ignore[union-attr]


def test_status_names_the_command_that_reads_a_quarantined_file_again(
    cli: Cli, quarantined: Path
) -> None:
    code, out, _ = cli("--data-dir", quarantined, "status")
    assert code == 3, out
    assert f"quarantined {BAD}:1: H6 time limit: {FIRST_REASON}" in out
    said = f"after an upgrade or a fix, `etl-duck resolve {BAD} --keep {_version(quarantined)}`"
    assert f"{said} reads it again (so does ingesting the file again)" in out, out


@pytest.mark.parametrize("how", ["--keep", "--accept"])
def test_resolve_reads_a_quarantined_file_again_and_it_lands(
    cli: Cli, quarantined: Path, files: Path, tmp_path: Path, how: str
) -> None:
    data = quarantined
    before = Lake(data).version()
    option = ["--keep", _version(data)] if how == "--keep" else ["--accept"]
    code, out, err = cli("--data-dir", data, "resolve", BAD, *option)
    assert code == 0, (out, err)
    assert out.startswith(f"1 ingested; lake version {before + 1}"), out
    assert "quarantined" not in out and err == ""
    code, out, _ = cli("--data-dir", data, "status")
    assert code == 0 and "no open problems" in out, out
    assert not (data / "quarantine" / BAD).exists()  # the admin's copy goes with it
    # the same lake as if the bug had never been: its round 2 is paired, its session whole
    assert content_digest(data) == _clean(files, tmp_path, cli)


def test_ingesting_a_quarantined_file_again_reads_it_again(
    cli: Cli, quarantined: Path, files: Path, tmp_path: Path
) -> None:
    code, out, _ = cli("--data-dir", quarantined, "ingest", files / BAD)
    assert code == 0 and out.startswith("1 ingested; lake version 2"), out
    assert content_digest(quarantined) == _clean(files, tmp_path, cli)
    code, out, _ = cli("--data-dir", quarantined, "ingest", files / BAD)  # now a duplicate
    assert code == 0 and out.startswith("0 ingested, 1 duplicate; lake version 2 (unchanged)")


def test_a_file_that_still_does_not_read_stays_quarantined_with_the_reason_of_now(
    cli: Cli, quarantined: Path, files: Path, bug: Callable[[str | None], None]
) -> None:
    data = quarantined
    version = _version(data)
    # the same bug: read again, quarantined again for the same reason — nothing committed
    bug(FIRST_REASON)
    code, out, err = cli("--data-dir", data, "resolve", BAD, "--keep", version)
    assert code == 3, (out, err)
    assert "0 ingested, 1 quarantined; lake version 1 (unchanged)" in out, out
    assert err == (
        f"resolve {BAD}: nothing changed — it is still quarantined: read again, it still does "
        "not read (the reason above); a corrected copy, ingested, is offered as a version to "
        f"keep, or `etl-duck resolve {BAD} --dismiss` leaves it out"
    )
    code, out, _ = cli("--data-dir", data, "ingest", files / BAD)  # given again: the same
    assert code == 3 and "1 quarantined; lake version 1 (unchanged)" in out, out
    # another reason (the fix fixed something else): it stays, with the reason of now
    bug("another bug")
    code, out, err = cli("--data-dir", data, "resolve", BAD, "--keep", version)
    assert code == 3 and err == "", (out, err)
    assert "0 ingested, 1 quarantined; lake version 2" in out and "another bug" in out, out
    code, out, _ = cli("--data-dir", data, "status")
    assert code == 3 and f"{BAD}:1: H6 time limit: another bug" in out, out
    assert FIRST_REASON not in out
    # fixed at last: the file lands
    bug(None)
    code, out, _ = cli("--data-dir", data, "resolve", BAD, "--keep", version)
    assert code == 0 and out.startswith("1 ingested; lake version 3"), out


def test_a_resolve_that_changes_nothing_says_so_and_exits_2(
    cli: Cli, quarantined: Path, files: Path
) -> None:
    data = quarantined
    cli("--data-dir", data, "resolve", BAD, "--accept")  # lands
    version = Lake(data).version()
    markers = sorted((data / "raw").rglob(f"{BAD}@*.accept"))
    assert len(markers) == 1, markers
    # the version that counts already, accepted already
    for option, said in (
        (["--keep", _version(data)], f"version {_version(data)} counts already"),
        (["--accept"], "its counted version is accepted already"),
    ):
        code, out, err = cli("--data-dir", data, "resolve", BAD, *option)
        assert code == 2, (option, out, err)
        assert out == f"0 ingested; lake version {version} (unchanged)", out
        assert err == (
            f"resolve {BAD}: nothing changed — {said} (`etl-duck status` lists what is open)"
        )
    # accepted again: no second marker in raw/ (nothing may delete one there)
    assert sorted((data / "raw").rglob(f"{BAD}@*.accept")) == markers
    # set aside: once a commit, twice nothing
    code, out, _ = cli("--data-dir", data, "resolve", BAD, "--dismiss")
    assert code == 0 and f"lake version {version + 1}" in out, out
    code, out, err = cli("--data-dir", data, "resolve", BAD, "--dismiss")
    assert code == 2 and f"lake version {version + 1} (unchanged)" in out, out
    assert err.endswith("nothing changed — it is set aside already (`etl-duck status` lists "
                        "what is open)")  # fmt: skip
