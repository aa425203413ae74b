"""Snapshot expiry, an operation of its own (as in iceberg-python): the writer calls
:func:`expire_snapshots` after a commit; the commit itself only publishes.

The rule (DECISIONS.md "Old snapshots"): keep the current snapshot, the one before it (a
reader that resolved the ``lake`` link just before the swap) and one spare (the next
commit builds in its folder), plus every snapshot a reader holds a live lease on (:meth:`etl_duck.lake.snapshot.Lake.lease`: the query API and
``etl_duck.snapshot_path`` take one). Everything else goes at once, whatever its age, so a
burst of commits cannot multiply disk use (before: every snapshot was kept until its
successor was 120 s old — 80 commits in two minutes kept 80 snapshots).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from etl_duck.lake.snapshot import LEASES, lease_lock

#: the current one, the one before it (a reader that resolved the link just before the
#: swap), and one spare: the next commit builds in the spare's folder (see Lake.commit)
KEEP_SNAPSHOTS = 3


def live_leases(snapshots: Path, now: float | None = None) -> set[str]:
    """Names of snapshots with a lease that has not run out; expired lease files go."""
    now = time.time() if now is None else now
    held: set[str] = set()
    try:
        entries = list(os.scandir(snapshots / LEASES))
    except FileNotFoundError:
        return held
    for e in entries:
        try:
            until = e.stat().st_mtime  # a lease file's mtime is its expiry
        except FileNotFoundError:
            continue
        if until > now:
            held.add(e.name.split(".", 1)[0])
        else:
            with _quiet():
                os.unlink(e.path)
    return held


def expire_snapshots(snapshots: Path, current: Path) -> list[str]:
    """Expire the snapshots the rule does not keep; returns their names. Each is renamed out
    of the way (one atomic step) and deleted by a detached ``rm -rf``: ~10k entries per
    snapshot at 10 years, which a Python loop would delete while holding the GIL beside the
    queries and the next commit."""
    try:
        snaps = sorted(
            p.name
            for p in snapshots.iterdir()
            if p.name.startswith("v") and p.name[1:].isdigit() and p.is_dir()
        )
    except FileNotFoundError:
        return []
    older = [n for n in snaps if n < current.name]
    doomed: list[str] = []
    expired: list[str] = []
    with lease_lock(snapshots, shared=False):  # no lease can be taken while we decide
        keep = set(older[-(KEEP_SNAPSHOTS - 1) :]) if KEEP_SNAPSHOTS > 1 else set()
        keep |= live_leases(snapshots)
        for name in older:
            if name in keep:
                continue
            gone = snapshots / f"{name}.gc"
            with _quiet():
                os.replace(snapshots / name, gone)
                doomed.append(str(gone))
                expired.append(name)
    doomed += [str(p) for p in snapshots.glob("*.gc") if str(p) not in doomed]
    if doomed:
        _remove_in_background(doomed)
    return expired


class _quiet:
    """Ignore OSError (a concurrent remover got there first)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, OSError)


def _remove_in_background(paths: list[str]) -> None:
    import subprocess

    try:
        subprocess.Popen(
            ["rm", "-rf", "--", *paths],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives a CLI ingest that exits right after commit
        )
    except OSError:  # no rm: delete here (slower, same result)
        for p in paths:
            shutil.rmtree(p, ignore_errors=True)
