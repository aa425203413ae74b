"""Publishing the site atomically: a versioned folder per build, one symlink swap.

Layout beside the output path ``OUT``::

    OUT -> .OUT.versions/v00000007          the site readers see (a symlink)
    .OUT.versions/v00000007/_site.json      every page's path and key, the lake version and
                                            the session dates it was built from
    .OUT.versions/v00000007/index.html …    rendered pages; unchanged ones are hard links
    .OUT.versions/.lock                     one builder at a time

A build stages the next version beside the current one — pages whose key did not change
are hard-linked from it, the others written — syncs it to disk, renames it into place and
swaps ``OUT`` with one atomic rename, the same commit as the lake's. A reader (a web server
or a file share following ``OUT``) sees the old site or the new one, never half of each.
The previous versions stay for in-flight readers and are pruned after ``KEEP`` builds.
To copy the site to a static host, follow the link (``rsync -aL OUT/ host:…``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from etl_duck.lake.fsutil import fsync_dir

MANIFEST = "_site.json"
FORMAT = 2  # 2: the lake's digest, not its data dir (published); the dates built from
KEEP = 3  # versions kept: the current one and two predecessors for in-flight readers


class SiteError(RuntimeError):
    """The output path cannot hold a site (it is something else)."""


class SiteDir:
    def __init__(self, out: Path | str) -> None:
        self.out = Path(out).absolute()
        self.versions = self.out.parent / f".{self.out.name}.versions"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.check()
        self.versions.mkdir(parents=True, exist_ok=True)
        with open(self.versions / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # a watch listener and a manual build: in turn
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def check(self) -> None:
        """``OUT`` must be our link, absent, or an empty folder (replaced by the link)."""
        out = self.out
        if out.is_symlink():
            target = Path(os.readlink(out))
            if target.parent.name != self.versions.name:
                raise SiteError(f"{out} is a link to {target}, not a site etl-duck built")
            return
        if out.is_dir():
            if any(out.iterdir()):
                raise SiteError(
                    f"{out} is a folder with files in it; choose a new path for the site "
                    "(etl-duck publishes it as a link to versioned folders) or empty it"
                )
            out.rmdir()
        elif out.exists():
            raise SiteError(f"{out} exists and is not a folder")

    def current(self) -> tuple[Path | None, dict[str, Any]]:
        """The published version's folder and its manifest (``None, {}`` before the first)."""
        try:
            target = os.readlink(self.out)
        except (FileNotFoundError, OSError):
            return None, {}
        folder = (self.out.parent / target).resolve()
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return folder, {}
        if manifest.get("format") != FORMAT:
            return folder, {}
        return folder, manifest

    def next_version(self, published: int) -> int:
        """The number of the next version: past the published one and past every folder on
        disk. A manifest this code cannot read (an older format: version 0) once numbered
        the first build after an upgrade v1 again, and publishing it deleted the v1 folder
        the link pointed to while readers were in it."""
        numbers = [published]
        for folder in self.versions.glob("v*"):
            digits = folder.name[1:].split(".", 1)[0]
            if digits.isdigit():
                numbers.append(int(digits))
        return max(numbers) + 1

    def stage(self, version: int) -> Path:
        staged = self.versions / f"v{version:08d}.tmp"
        if staged.exists():  # a build that died: its leftovers are not published
            shutil.rmtree(staged)
        staged.mkdir(parents=True)
        return staged

    def publish(self, staged: Path, version: int) -> Path:
        # one sync for the whole folder (data and directory entries) before it is renamed
        # into place: a crash cannot publish pages that are not on disk, and a later build
        # would hard-link them as "unchanged"
        os.sync()
        final = self.versions / f"v{version:08d}"
        current, _ = self.current()
        if current is not None and final.resolve() == current:
            raise SiteError(f"{final} is the published version: a new one needs a new number")
        if final.exists():
            shutil.rmtree(final)
        os.replace(staged, final)
        fsync_dir(self.versions)
        tmp_link = self.out.parent / f".{self.out.name}.link.{os.getpid()}"
        tmp_link.unlink(missing_ok=True)
        os.symlink(f"{self.versions.name}/{final.name}", tmp_link)
        os.replace(tmp_link, self.out)  # THE publish point: one atomic rename
        fsync_dir(self.out.parent)
        return final

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    def prune(self, keep: int = KEEP) -> list[Path]:
        """Drop all but the newest ``keep`` published versions (and stray stagings): each is
        renamed to ``*.gc`` (gone for readers at once) and deleted by a detached ``rm -rf``,
        so the build does not wait for thousands of unlinks (the lake's old snapshots go
        the same way). A ``*.gc`` left by a crash goes with the next prune."""
        current, _ = self.current()
        done = sorted(p for p in self.versions.glob("v*") if not p.name.endswith((".tmp", ".gc")))
        doomed = list(self.versions.glob("v*.tmp")) + list(self.versions.glob("v*.gc"))
        for old in done[:-keep] if keep > 0 else done:
            if current is None or old.resolve() != current:
                doomed.append(old)
        removed = []
        for path in doomed:
            gone = path if path.name.endswith(".gc") else path.with_name(path.name + ".gc")
            with contextlib.suppress(FileNotFoundError):
                if gone != path:
                    os.replace(path, gone)
                removed.append(gone)
        if removed:
            subprocess.Popen(
                ["rm", "-rf", "--", *map(str, removed)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        return removed


def link_or_copy(src: Path, dst: Path) -> bool:
    """Hard-link ``src`` at ``dst`` (copy it on a file system without hard links). False,
    nothing written, when ``src`` is gone or cannot be read (a page removed by hand since
    the build looked at it): the caller renders the page again."""
    try:
        os.link(src, dst)
        return True
    except FileNotFoundError:
        if not os.path.lexists(src):
            return False
    except OSError:  # a file system without hard links (some shares): copy instead
        pass
    try:
        shutil.copy2(src, dst)
    except (FileNotFoundError, PermissionError) as exc:
        if str(exc.filename) == str(src) or not os.path.lexists(src):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(dst)  # a copy cut short
            return False
        raise
    return True
