"""A published site with a page missing or damaged (removed or cut by hand, a bad disk
block): the next build renders those pages again instead of hard-linking them, also when
nothing changed in the lake ("up to date" was said while the page was gone, and every
build after the next commit failed with exit 2 until `--full`); the repaired site equals
a full build byte for byte. And a full disk during `site` names the site."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from etl_duck.cli import app
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from etl_duck.site import SiteOptions, build_site, publish, urls
from etl_duck.site.updater import SiteUpdater
from tests.bot_fakes import lake_copy, lake_sql, real_files, run

LAST_R2 = "2025-11-11-233911-braundorf_b4-round-2.txt"


def stats_for(data: Path) -> Stats:
    return Stats(data, min_rounds=1)


def opts() -> SiteOptions:
    return SiteOptions(title="Test community")


def site_files(site: Path) -> dict[Path, bytes]:
    root = site.resolve()
    return {
        p.relative_to(root): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != publish.MANIFEST
    }


def test_a_missing_or_damaged_page_is_rendered_again(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETL_DUCK_MIN_ROUNDS", "1")  # `etl-duck site` builds what opts() does
    monkeypatch.setenv("ETL_DUCK_SITE_TITLE", opts().title)
    data = lake_copy(tmp_path_factory, tmp_path / "data", (LAST_R2,))
    site = tmp_path / "site"
    first = build_site(stats_for(data), site, opts())
    v1 = site.resolve()
    oldest = int(lake_sql(data, "SELECT min(session_id) FROM {t}", "rounds")[0][0])
    guid = str(lake_sql(data, "SELECT min(guid) FROM {t} WHERE counted")[0][0])
    gone, cut, locked = urls.player(guid), urls.session(oldest), "records.html"
    original = {p: (site / p).read_bytes() for p in (gone, cut, locked)}
    (site / gone).unlink()  # removed by hand
    (site / cut).write_bytes(original[cut][:100])  # cut short (the same inode: v1's too)
    (site / locked).chmod(0)  # nobody may read it

    # the lake did not change: not "up to date" but a new version with those three pages
    args = ["--data-dir", str(data), "site", "--out", str(site), "--json"]
    fixed = CliRunner().invoke(app, args)
    assert fixed.exit_code == 0, fixed.output
    report = json.loads(fixed.output)
    assert report["published"], fixed.output  # it said "up to date"
    assert report["rendered"] == report["repaired"] == 3
    assert report["reused"] == first.pages - 3
    assert site.resolve() != v1
    assert {p: (site / p).read_bytes() for p in original} == original
    assert (site / locked).stat().st_mode & 0o444
    # every other page is still a hard link to the first version's file
    assert (site / "index.html").stat().st_ino == (v1 / "index.html").stat().st_ino
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and not json.loads(again.output)["published"]

    # an old session's page removed, then a commit: the listener's build goes through (it
    # failed with "no such file or folder" after every commit) and renders exactly the
    # pages whose key changed, plus the missing one
    (site / cut).unlink()
    before = json.loads((site / publish.MANIFEST).read_text())["pages"]
    ingest_paths(data, [f for f in real_files() if f.name == LAST_R2])
    updater = SiteUpdater(stats_for(data), site, opts())
    run(updater.on_commit())
    assert updater.error is None and updater.last is not None and updater.last.published
    after = json.loads((site / publish.MANIFEST).read_text())["pages"]
    changed = {p for p, key in after.items() if before.get(p) != key}
    assert cut not in changed and set(updater.last.written) == changed | {cut}
    assert updater.last.repaired == 1 and "1 missing or damaged" in updater.last.summary()
    assert (site / cut).read_bytes() == original[cut]

    # the repaired site equals a full build byte for byte
    full = tmp_path / "full"
    build_site(stats_for(data), full, opts(), full=True)
    assert site_files(site) == site_files(full)


def test_a_full_disk_names_the_site(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page write on a full disk fails with no file name (ENOSPC from write(), not open()):
    the sentence said "no space left on the device" without a word of where."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", (LAST_R2,))
    site = tmp_path / "www"
    write_bytes = Path.write_bytes

    def full_disk(self: Path, data: Any) -> int:
        if ".www.versions" in str(self):
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    result = CliRunner().invoke(app, ["--data-dir", str(data), "site", "--out", str(site)])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert f"cannot write the site {site.absolute()}: no space left on the disk of" in said
    assert str(tmp_path) in said and "free space" in said
    assert not site.exists() and not list(tmp_path.glob(".www.versions/*.tmp"))
    assert os.path.isdir(tmp_path / ".www.versions")
