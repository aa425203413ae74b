"""Snapshot expiry, an operation of its own (as in iceberg-python): the writer calls
:func:`expire_snapshots` after a commit; the commit itself only publishes.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

KEEP_SNAPSHOTS = 3  # current + two before it, for readers still holding an older one
GRACE_SECONDS = 120.0


def expire_snapshots(snapshots: Path, current: Path) -> None:
    """Remove snapshots older than the last ``KEEP_SNAPSHOTS`` once past the grace
    period. Each is renamed out of the way (one atomic step) and deleted by a detached
    ``rm -rf``: ~10k entries per snapshot at 10 years, which a Python loop would delete
    while holding the GIL beside the queries and the next commit."""
    now = time.time()
    try:
        snaps = sorted(
            p
            for p in snapshots.iterdir()
            if p.name.startswith("v") and "." not in p.name and p.is_dir()
        )
    except FileNotFoundError:
        return
    older = [p for p in snaps if p.name < current.name]
    old = older[: -(KEEP_SNAPSHOTS - 1) or None]
    doomed: list[str] = []
    for p, successor in zip(old, [*older[1:], current], strict=False):
        try:
            # a reader may hold a snapshot until its successor is GRACE_SECONDS old
            superseded = (successor / "_manifest.json").stat().st_mtime
        except OSError:
            superseded = 0.0
        try:
            if now - superseded <= GRACE_SECONDS:
                continue
            gone = p.with_name(p.name + ".gc")
            os.replace(p, gone)
        except OSError:
            continue
        doomed.append(str(gone))
    doomed += [str(p) for p in snapshots.glob("*.gc") if str(p) not in doomed]
    if doomed:
        _remove_in_background(doomed)


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
