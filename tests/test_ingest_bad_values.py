"""One bad file never stops ingestion: out-of-range values, rows that cannot be built,
a batch of nothing but bad files (issue: one number once stopped every later ingest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import etl_duck.ingest.build as ingest_module
from etl_duck.ingest.run import ingest_paths, rebuild, resolve
from etl_duck.lake.rawstore import PENDING
from etl_duck.lake.snapshot import Lake
from etl_duck.query.stats import Stats
from tests.conftest import REAL
from tests.lakecheck import table_rows

BREWDOG = REAL / "2025-09-25-000238-et_brewdog-round-1.txt"


def _with_value(folder: Path, name: str, field_index: int, value: bytes) -> Path:
    lines = BREWDOG.read_bytes().split(b"\n")
    parts = lines[1].split(b"\t")
    parts[field_index] = value
    lines[1] = b"\t".join(parts)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"\n".join(lines))
    return path


def _fail_builds_with(monkeypatch: pytest.MonkeyPatch, victim: str, error: Exception) -> None:
    """Building any date's rows that include ``victim`` raises ``error``."""
    real_build = ingest_module.build_partition

    def build(sessions: Any, files: Any, opts: Any, *endstats: Any) -> Any:
        if victim in files:
            raise error
        return real_build(sessions, files, opts, *endstats)

    monkeypatch.setattr(ingest_module, "build_partition", build)


@pytest.mark.parametrize("value", [b"99999999999", b"-2147483649", b"1" * 400])
def test_an_out_of_range_value_rejects_its_line_and_later_ingests_go_on(
    data_dir: Path, tmp_path: Path, value: bytes
) -> None:
    bad = _with_value(tmp_path / "in", "2025-12-01-120000-et_brewdog-round-1.txt", 1, value)
    first = ingest_paths(data_dir, [bad])
    assert first.ingested == [bad.name] and first.rejected_lines == 1
    assert not (data_dir / PENDING).exists()
    rejected = Lake(data_dir).read_state("rejected_lines").to_pylist()
    assert rejected[0]["field"] == "X0 damage_given" and "out of range" in rejected[0]["reason"]
    players = table_rows(data_dir, "player_rounds")
    assert len(players) == 5  # the other five players of the file landed
    second = ingest_paths(data_dir, [REAL])
    assert len(second.ingested) == 92 and second.version == 2


def test_a_file_whose_rows_cannot_be_built_is_quarantined_and_the_batch_lands(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = "2025-09-24-233657-te_escape2-round-2.txt"
    _fail_builds_with(
        monkeypatch, victim, OverflowError("simulated: a value the encoder cannot take")
    )
    report = ingest_paths(data_dir, [REAL])
    assert set(report.quarantined) == {victim}
    assert "OverflowError" in report.quarantined[victim]
    assert len(report.ingested) == 91 and report.version == 1
    assert not (data_dir / PENDING).exists()  # nothing left to wedge the next ingest
    assert (data_dir / "quarantine" / victim).exists()
    status = Stats(data_dir).status()
    assert victim in status["quarantined"]
    rounds = {r["file_name"] for r in table_rows(data_dir, "rounds")}
    assert victim not in rounds and len(rounds) == 91
    # the raw copy stays (raw/ is the source of truth); the next ingest is not blocked
    assert (data_dir / "raw" / "2025-09-24" / victim).exists()
    again = ingest_paths(data_dir, [REAL])
    assert again.quarantined.keys() == {victim}  # still not counted: named again (exit 3)
    assert victim not in again.duplicates and not again.committed


def test_a_committed_file_that_can_no_longer_be_built_leaves_the_lake_visibly(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_paths(data_dir, [REAL / "2025-09-24-233255-te_escape2-round-1.txt"])
    old = "2025-09-24-233255-te_escape2-round-1.txt"
    _fail_builds_with(monkeypatch, old, ValueError("simulated"))
    report = ingest_paths(data_dir, [REAL / "2025-09-24-233657-te_escape2-round-2.txt"])
    assert set(report.quarantined) == {old} and report.ingested == [
        "2025-09-24-233657-te_escape2-round-2.txt"
    ]
    rounds = {r["file_name"]: r for r in table_rows(data_dir, "rounds")}
    assert set(rounds) == {"2025-09-24-233657-te_escape2-round-2.txt"}
    assert Stats(data_dir).status()["quarantined"].keys() == {old}


def test_a_batch_of_only_bad_files_is_still_recorded_for_status(
    data_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "2025-12-01-120000-et_brewdog-round-1.txt"
    bad.write_bytes(b"not a header\n")
    report = ingest_paths(data_dir, [bad])
    assert set(report.quarantined) == {bad.name}
    assert Stats(data_dir).status()["quarantined"].keys() == {bad.name}


R1_CUT = "2024-04-16-220731-te_escape2-round-1.txt"


def test_a_file_sent_again_while_still_not_counted_is_that_problem_again(
    data_dir: Path, tmp_path: Path
) -> None:
    """A rerun after a crash, or a cron retry: the content the lake holds but does not count
    (quarantined, cut) is that problem again, not a plain duplicate, so the exit code stays
    3 until it is fixed (it was "1 duplicate", exit 0)."""
    from typer.testing import CliRunner

    from etl_duck.cli import app

    bad = tmp_path / "in" / "2025-12-01-120000-et_brewdog-round-1.txt"
    bad.parent.mkdir()
    bad.write_bytes(b"not a header\n")
    first = ingest_paths(data_dir, [bad])
    again = ingest_paths(data_dir, [bad])
    assert again.quarantined == first.quarantined and again.problems and not again.duplicates
    other = tmp_path / "in" / "2025-12-01-121000-et_brewdog-round-1.txt"  # same bytes
    other.write_bytes(bad.read_bytes())
    copy = ingest_paths(data_dir, [other])  # read for itself: the same header error
    assert copy.quarantined.keys() == {other.name} and "header" in copy.quarantined[other.name]
    cut = tmp_path / "in" / R1_CUT
    cut.write_bytes((REAL / R1_CUT).read_bytes().rsplit(b"\n", 2)[0])  # last line cut
    assert ingest_paths(data_dir, [cut]).partial == [cut.name]
    assert ingest_paths(data_dir, [cut]).partial == [cut.name]
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), "ingest", str(bad)])
    assert result.exit_code == 3, result.output


def test_rebuild_after_a_quarantine_gives_the_same_lake(data_dir: Path, tmp_path: Path) -> None:
    bad = _with_value(tmp_path / "in", "2025-12-01-120000-et_brewdog-round-1.txt", 1, b"9" * 50)
    ingest_paths(data_dir, [REAL, bad])
    before = sorted(str(r["file_name"]) for r in table_rows(data_dir, "rounds"))
    rebuild(data_dir)
    assert sorted(str(r["file_name"]) for r in table_rows(data_dir, "rounds")) == before


def test_a_rejected_round1_line_leaves_that_players_round2_uncounted(tmp_path: Path) -> None:
    """Through the lake: the player whose round-1 line was rejected keeps a round-2 row,
    not counted (``round1_line_rejected``); his team-mates' rows are differenced and count."""
    from tests.conftest import FIXTURES

    files = tmp_path / "files"
    files.mkdir()
    r1 = "2026-03-14-213512-supply-round-1.txt"
    r2 = "2026-03-14-214449-supply-round-2.txt"
    lines = (FIXTURES / r1).read_bytes().split(b"\n")
    (i,) = [k for k, line in enumerate(lines) if line.startswith(b"7A3E9B21")]
    prefix, tab, tail = lines[i].partition(b"\t")
    lines[i] = prefix.rsplit(b" ", 2)[0] + b" " + tab + tail  # one weapon value short
    (files / r1).write_bytes(b"\n".join(lines))
    (files / r2).write_bytes((FIXTURES / r2).read_bytes())
    data = tmp_path / "data"
    report = ingest_paths(data, [files])
    (rejected,) = report.rejected
    assert rejected.startswith(f"{r1}:{i + 1}: P4 weapon groups: ")
    rows = {r["guid"]: r for r in table_rows(data, "player_rounds", "round_number = 2")}
    raven = rows["7A3E9B21"]
    assert (raven["row_kind"], raven["counted"], raven["reason"]) == (
        "r1_rejected",
        False,
        "round1_line_rejected",
    )
    assert rows["E0A4B2C8"]["row_kind"] == "r2_diff" and rows["E0A4B2C8"]["counted"]
    assert rows["E0A4B2C8"]["kills"] == 8


def test_an_admin_accepts_a_file_with_a_rejected_line_and_status_clears(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rejected line the server wrote cannot be corrected: `status` exited 3 for good
    (a monitor red forever). `resolve NAME --accept` (the command status prints) accepts
    the version that counts as it is, and a rebuild makes the same choice."""
    from etl_duck.cli import run
    from tests.lakecheck import content_digest

    bad = _with_value(tmp_path / "in", "2025-12-01-120000-et_brewdog-round-1.txt", 1, b"9" * 50)
    ingest_paths(data_dir, [bad])
    capsys.readouterr()
    assert run(["--data-dir", str(data_dir), "status"]) == 3
    said = " ".join(capsys.readouterr().out.split())
    command = said.split("`etl-duck resolve ", 1)[1].split("`", 1)[0]
    assert command == f"{bad.name} --accept"
    assert run(["--data-dir", str(data_dir), "resolve", bad.name, "--accept"]) == 0
    capsys.readouterr()
    assert run(["--data-dir", str(data_dir), "status"]) == 0
    assert "rejected line (accepted by an admin)" in capsys.readouterr().out
    status = Stats(data_dir).status()
    assert status["rejected"] == [] and len(status["rejected_accepted"]) == 1
    live = content_digest(data_dir)
    rebuild(data_dir)
    assert content_digest(data_dir) == live
    assert Stats(data_dir).status()["rejected"] == []


def test_keeping_a_version_never_accepts_its_rejected_lines_unseen(
    data_dir: Path, tmp_path: Path
) -> None:
    """Settling a conflict with `--keep` counted the other version and silently accepted
    its out-of-range line; an acceptance names the version it accepted."""
    good = _with_value(tmp_path / "a", "2025-12-01-120000-et_brewdog-round-1.txt", 1, b"100")
    ingest_paths(data_dir, [good])
    bad = _with_value(tmp_path / "b", good.name, 1, b"9" * 50)
    (conflict,) = ingest_paths(data_dir, [bad]).conflicts
    report = resolve(data_dir, good.name, keep=conflict.split("@")[1])
    assert report.rejected and Stats(data_dir).status()["rejected"]  # named, still open
    resolve(data_dir, good.name, accept=True)
    assert not Stats(data_dir).status()["rejected"]


def test_an_endstats_file_with_a_rejected_line_can_be_accepted(
    data_dir: Path, tmp_path: Path
) -> None:
    """The command status printed never settled an endstats file (it rebuilt the file at
    every paste, and the line stayed open)."""
    src = REAL.parent / "endstats" / "2026-01-12-224606-te_escape2-round-2-endstats.txt"
    copy = tmp_path / src.name
    copy.write_bytes(src.read_bytes() + b"garbage line\n")
    ingest_paths(data_dir, [copy])
    assert Stats(data_dir).status()["rejected"]
    first = resolve(data_dir, copy.name, accept=True)
    assert not first.rejected and not Stats(data_dir).status()["rejected"]
    assert not resolve(data_dir, copy.name, accept=True).committed  # nothing to change


def test_a_mistyped_version_leaves_nothing_pending(data_dir: Path, tmp_path: Path) -> None:
    """`resolve NAME --keep 65175` (no such version) marked the name pending first: status
    then showed a leftover, exit 3, until the next ingest."""
    from etl_duck.lake.rawstore import RawStoreError

    ingest_paths(data_dir, [REAL])
    with pytest.raises(RawStoreError, match="no single version"):
        resolve(data_dir, "2025-11-11-212628-etl_adlernest-round-1.txt", keep="65175")
    assert not (data_dir / PENDING).exists()


def test_a_file_quarantined_for_its_name_lands_under_its_right_name(
    data_dir: Path, tmp_path: Path
) -> None:
    """status says "ingest a copy under its right name": the copy's bytes were taken for the
    quarantined file's (quarantined again; after a dismissal, a duplicate — never counted)."""
    good = REAL / "2025-11-11-212628-etl_adlernest-round-1.txt"
    wrong = tmp_path / "a" / "2025-13-11-212628-etl_adlernest-round-1.txt"
    wrong.parent.mkdir()
    wrong.write_bytes(good.read_bytes())
    assert wrong.name in ingest_paths(data_dir, [wrong]).quarantined
    right = tmp_path / "b" / good.name
    right.parent.mkdir()
    right.write_bytes(good.read_bytes())
    report = ingest_paths(data_dir, [right])
    assert report.ingested == [good.name] and not report.quarantined
    assert Stats(data_dir).status()["rounds"] == 1
    resolve(data_dir, wrong.name, dismiss=True)
    assert Stats(data_dir).status()["rounds"] == 1  # the renamed copy stays


def test_a_round_is_counted_once_whatever_names_its_bytes_come_under(
    data_dir: Path, tmp_path: Path
) -> None:
    """The same bytes quarantined under a bad name (sorting first), counted under the right
    one, then sent under a third name: the third was counted too (two rounds from one
    file). And a dismissed file's bytes under another name stay out."""
    good = REAL / "2025-11-11-212628-etl_adlernest-round-1.txt"
    names = ["2025-02-30-212628-etl_adlernest-round-1.txt", good.name,
             "2025-11-11-212700-etl_adlernest-round-1.txt"]  # fmt: skip
    for i, name in enumerate(names):
        path = tmp_path / str(i) / name
        path.parent.mkdir()
        path.write_bytes(good.read_bytes())
        ingest_paths(data_dir, [path])
    assert Stats(data_dir).status()["rounds"] == 1
    rebuild(data_dir)
    assert Stats(data_dir).status()["rounds"] == 1
    resolve(data_dir, good.name, dismiss=True)
    again = tmp_path / "x" / "2025-11-11-212629-etl_adlernest-round-1.txt"
    again.parent.mkdir()
    again.write_bytes(good.read_bytes())
    assert ingest_paths(data_dir, [again]).duplicates == [again.name]
    assert Stats(data_dir).status()["counted_rounds"] == 0
