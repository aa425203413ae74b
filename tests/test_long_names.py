"""A round file whose name is longer than the raw store can hold under the names it derives
(temp files, later versions): skipped and named, the rest of the batch lands."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_duck.ingest.run import ingest_paths
from etl_duck.lake.rawstore import FILE_NAME_MAX
from tests.conftest import FIXTURES

R1 = FIXTURES / "2026-03-14-213512-supply-round-1.txt"


def test_a_name_too_long_for_the_raw_store_is_skipped_and_the_batch_lands(
    tmp_path: Path,
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / R1.name).write_bytes(R1.read_bytes())
    stem, tail = "2026-03-14-223512-", "-round-1.txt"
    long = stem + "x" * (250 - len(stem) - len(tail)) + tail  # a valid name, 250 bytes
    assert FILE_NAME_MAX < len(long) <= 255
    (src / long).write_bytes(R1.read_bytes().replace(b"supply", b"x" * 220, 1))
    report = ingest_paths(tmp_path / "data", [src])
    assert report.committed and [p.name for p in map(Path, report.ingested)] == [R1.name]
    why = report.skipped[str(src / long)]
    assert f"longer than {FILE_NAME_MAX} bytes" in why
    assert report.problems  # `etl-duck ingest` exits 3


@pytest.mark.parametrize("extra", [0, 1])
def test_the_bound_is_the_raw_store_s_own(tmp_path: Path, extra: int) -> None:
    """A name at the bound is stored; one byte over is skipped."""
    src = tmp_path / "src"
    src.mkdir()
    stem, tail = "2026-03-14-223512-", "-round-1.txt"
    map_name = "m" * (FILE_NAME_MAX + extra - len(stem) - len(tail))
    name = stem + map_name + tail
    (src / name).write_bytes(R1.read_bytes().replace(b"supply", map_name.encode(), 1))
    report = ingest_paths(tmp_path / "data", [src])
    assert (str(src / name) in report.skipped) == bool(extra)
    assert report.ingested == ([] if extra else [name]), report
