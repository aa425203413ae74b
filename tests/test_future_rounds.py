"""A round file dated ahead of the clock (a game server whose clock is wrong) is quarantined,
not committed: it was ingested silently (exit 0, "no open problems") and became the last
session and the anchor of every relative window for good (review 90, repro 1). The clock
is fixed here (``etl_duck.ingest.future.utc_now``): nothing depends on the real date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from etl_duck.cli import run
from etl_duck.ingest import future
from etl_duck.ingest.options import IngestOptions
from etl_duck.ingest.run import ingest_paths, rebuild
from etl_duck.query.stats import Stats
from tests.conftest import SHARED
from tests.lakecheck import content_digest, renamed_pair

#: "now" in these tests: 13:00 in Berlin (the default zone), 12:00 UTC
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
WRONG = ("2031-01-01-210000", "2031-01-01-210906")  # a server clock five years ahead
R1, R2 = (f"{s}-supply-round-{n}.txt" for s, n in zip(WRONG, (1, 2), strict=True))

Cli = Callable[..., tuple[int, str]]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Fix the check's clock (settable again); the checkout's .env and the environment's
    settings stay out."""

    def put(when: datetime) -> None:
        monkeypatch.setattr(future, "utc_now", lambda: when)

    put(NOW)
    return put


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    clock: Callable[[datetime], None],
) -> Cli:
    """``etl-duck ARGS`` through the real entry point: (exit code, stdout in one line)."""
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    for name in ("ETL_DUCK_TIMEZONE", future.SETTING, "ETL_DUCK_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)

    def call(*args: str | Path) -> tuple[int, str]:
        code = run([str(a) for a in args])
        out, _ = capsys.readouterr()
        return code, " ".join(out.split())

    return call


def _evening(folder: Path, day: str, tag: str) -> None:
    renamed_pair(folder, f"{day}-210000", f"{day}-210937", tag)


def _last(data: Path) -> str:
    return Stats(data).last_session().session_date.isoformat()


def test_a_file_dated_years_ahead_is_quarantined_and_the_rest_of_the_batch_lands(
    cli: Cli, tmp_path: Path
) -> None:
    data, batch = tmp_path / "data", tmp_path / "batch"
    batch.mkdir()
    _evening(batch, "2026-01-08", "real")
    renamed_pair(batch, *WRONG, "wrong clock")
    code, out = cli("--data-dir", data, "ingest", batch)
    assert code == 3, out
    assert "2 ingested, 2 quarantined" in out
    for name, when in ((R1, "2031-01-01 21:00:00"), (R2, "2031-01-01 21:09:06")):
        said = out.split(f"quarantined {name}: ", 1)[1]
        assert said.startswith(f"dated {when}, 1,817 days (about 5 years) ahead of the clock "
                               "here (2026-01-10 13:00 Europe/Berlin), more than the 24 hours "
                               f"allowed ({future.SETTING}): the game server's clock is wrong")  # fmt: skip
        assert f"`etl-duck resolve {name} --accept` counts it as dated" in said
    # raw/ keeps the files; the admin's copy and reason are in quarantine/
    assert (data / "raw" / "2031-01-01" / R1).is_file()
    assert (data / "quarantine" / R1).is_file()
    assert (data / "quarantine" / f"{R1}.reason").read_text().startswith(f"{R1}: dated 2031")
    # the real evening is the last session, in the CLI too
    assert _last(data) == "2026-01-08"
    code, out = cli("--data-dir", data, "session", "last")
    assert code == 0 and out.startswith("Session 2026-01-08"), out
    code, out = cli("--data-dir", data, "status")
    assert code == 3 and f"quarantined {R1}: dated 2031-01-01 21:00:00" in out, out
    assert "no open problems" not in out
    # the next real evening becomes the last session (it never did)
    later = tmp_path / "later"
    later.mkdir()
    _evening(later, "2026-01-09", "next")
    code, out = cli("--data-dir", data, "ingest", later)
    assert code == 0, out
    assert _last(data) == "2026-01-09"
    code, out = cli("--data-dir", data, "top", "kills", "--window", "month", "--min-rounds", "0")
    assert code == 0 and "month 2026-01" in out, out
    # sent again while still that far ahead: that problem again (exit 3), no duplicate
    code, out = cli("--data-dir", data, "ingest", batch / R1)
    assert code == 3 and f"quarantined {R1}: dated" in out and "duplicate" not in out, out


@pytest.mark.parametrize(
    ("zone", "stamp", "lands"),
    [
        ("Europe/Berlin", "2026-01-11-123000", True),  # 23.5 hours ahead of 13:00 in Berlin
        ("UTC", "2026-01-11-123000", False),  # 24.5 hours ahead of 12:00 UTC
        ("Europe/Berlin", "2026-01-11-130100", False),  # 24 hours and a minute
        ("Europe/Berlin", "2026-01-10-120000", True),  # the past
    ],
)
def test_the_tolerance_is_a_day_on_the_clock_of_the_configured_zone(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zone: str, stamp: str, lands: bool
) -> None:
    monkeypatch.setenv("ETL_DUCK_TIMEZONE", zone)
    files = tmp_path / "files"
    files.mkdir()
    renamed_pair(files, stamp, "2026-01-01-000000", "x")[1].unlink()  # its round 1 alone
    code, out = cli("--data-dir", tmp_path / "data", "ingest", files)
    assert (code, "quarantined" not in out) == ((0, True) if lands else (3, False)), out


def test_the_setting_off_admits_a_future_file(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    renamed_pair(files, *WRONG, "wrong clock")
    monkeypatch.setenv(future.SETTING, "0")
    code, out = cli("--data-dir", tmp_path / "data", "ingest", files)
    assert code == 0 and "2 ingested" in out, out
    assert _last(tmp_path / "data") == "2031-01-01"
    # the library: None is no check
    lib = tmp_path / "lib"
    report = ingest_paths(lib, [files], IngestOptions(future_tolerance_hours=None))
    assert sorted(report.ingested) == [R1, R2] and not report.problems


def test_accepting_the_files_lands_them_and_a_rebuild_agrees(cli: Cli, tmp_path: Path) -> None:
    data, files = tmp_path / "data", tmp_path / "files"
    files.mkdir()
    _evening(files, "2026-01-08", "real")
    renamed_pair(files, *WRONG, "wrong clock")
    assert cli("--data-dir", data, "ingest", files)[0] == 3
    quarantined = content_digest(data)
    rebuild(data)  # not accepted: a rebuild quarantines them again
    assert content_digest(data) == quarantined
    assert Stats(data).status()["quarantined"].keys() == {R1, R2}
    for name in (R1, R2):
        code, out = cli("--data-dir", data, "resolve", name, "--accept")
        assert code == 0 and "1 ingested" in out, out
        assert not (data / "quarantine" / name).exists()
    code, out = cli("--data-dir", data, "status")
    assert code == 0 and "no open problems" in out, out
    assert _last(data) == "2031-01-01"  # as dated: the admin said so
    live = content_digest(data)
    rebuild(data)
    assert content_digest(data) == live


@pytest.mark.parametrize("fix", ["setting off", "setting raised", "clock caught up"])
def test_once_the_file_is_no_longer_too_far_ahead_the_next_ingest_lands_it(
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: Callable[[datetime], None],
    fix: str,
) -> None:
    data, files = tmp_path / "data", tmp_path / "files"
    files.mkdir()
    renamed_pair(files, *WRONG, "wrong clock")
    assert cli("--data-dir", data, "ingest", files)[0] == 3
    if fix == "setting off":
        monkeypatch.setenv(future.SETTING, "0")
    elif fix == "setting raised":
        monkeypatch.setenv(future.SETTING, str(6 * 365 * 24))
    else:
        clock(datetime(2031, 1, 1, 12, tzinfo=UTC))
    code, out = cli("--data-dir", data, "ingest")  # no paths: what raw/ holds
    assert code == 0 and "2 ingested" in out, out
    code, out = cli("--data-dir", data, "status")
    assert code == 0 and "no open problems" in out, out
    assert not any((data / "quarantine").glob("*.txt"))
    # sent again now: a plain duplicate
    code, out = cli("--data-dir", data, "ingest", files)
    assert code == 0 and "2 duplicate" in out, out


def test_a_renamed_copy_lands_and_the_future_name_is_dismissed(cli: Cli, tmp_path: Path) -> None:
    data, files, fixed = tmp_path / "data", tmp_path / "files", tmp_path / "fixed"
    files.mkdir()
    fixed.mkdir()
    renamed_pair(files, *WRONG, "wrong clock")
    assert cli("--data-dir", data, "ingest", files)[0] == 3
    for name in (R1, R2):  # the same bytes under the round's real time
        (fixed / name.replace("2031-01-01", "2026-01-09")).write_bytes((files / name).read_bytes())
    code, out = cli("--data-dir", data, "ingest", fixed)
    assert "2 ingested" in out and _last(data) == "2026-01-09", out
    for name in (R1, R2):
        assert cli("--data-dir", data, "resolve", name, "--dismiss")[0] == 0
    code, out = cli("--data-dir", data, "status")
    assert code == 0 and "no open problems" in out, out


def test_an_endstats_file_dated_ahead_is_quarantined_too(cli: Cli, tmp_path: Path) -> None:
    src = SHARED / "fixtures" / "endstats" / "2026-01-12-224606-te_escape2-round-2-endstats.txt"
    files = tmp_path / "files"
    files.mkdir()
    ahead = files / src.name.replace("2026-01-12", "2031-01-12")
    ahead.write_bytes(src.read_bytes())
    code, out = cli("--data-dir", tmp_path / "data", "ingest", files)
    assert code == 3 and f"quarantined {ahead.name}: dated 2031-01-12 22:46:06" in out, out
