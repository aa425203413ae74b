"""The raw store: the sole owner of ``raw/`` (the source of truth) and ``quarantine/``.

    raw/YYYY-MM-DD/<file>.txt           immutable copies of the stats files
    raw/.incoming/                      temp files of stores in progress
    quarantine/<file>.txt + .reason     files that could not be parsed, with the reason
    .ingest-pending                     names stored but not yet committed (crash recovery)

Nothing here ever overwrites or deletes a raw copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from etl_duck.domain.endstats import is_endstats_file_name
from etl_duck.domain.parse import is_stats_file_name
from etl_duck.lake.fsutil import store_files_atomic, write_bytes_atomic

RAW = "raw"
QUARANTINE = "quarantine"
INCOMING = ".incoming"
PENDING = ".ingest-pending"  # names stored in raw/ but not yet committed (crash recovery)


class RawStore:
    """``raw/`` and ``quarantine/`` of one data directory."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.raw_dir = self.data_dir / RAW
        self.quarantine_dir = self.data_dir / QUARANTINE
        self.incoming = self.raw_dir / INCOMING

    def path(self, file_name: str) -> Path:
        """Where a stats file lives: ``raw/YYYY-MM-DD/<name>`` (the name's own date)."""
        return self.raw_dir / file_name[:10] / file_name

    def store(self, items: dict[str, bytes]) -> None:
        """Store new files (name → bytes) durably, one sync for the batch."""
        to_store: list[tuple[Path, bytes]] = []
        for name, data in items.items():
            target = self.path(name)
            if not (target.exists() and target.read_bytes() == data):  # not already in raw/
                to_store.append((target, data))
        store_files_atomic(to_store, tmp_dir=self.incoming)

    def quarantine(self, name: str, data: bytes, reason: str) -> None:
        q = self.quarantine_dir
        write_bytes_atomic(q / name, data, tmp_dir=q / INCOMING)
        write_bytes_atomic(q / f"{name}.reason", (reason + "\n").encode(), tmp_dir=q / INCOMING)

    # ---- the pending list: names stored before their commit

    def mark_pending(self, names: list[str]) -> None:
        """Named before they are stored: a crash before the commit leaves a list the next
        ingest reads (instead of scanning all of raw/, 32k files at 10 years)."""
        write_bytes_atomic(
            self.data_dir / PENDING, "\n".join(sorted(names)).encode(), tmp_dir=self.incoming
        )

    def pending(self) -> list[Path]:
        """Raw files a crashed ingest stored but did not commit."""
        try:
            names = (self.data_dir / PENDING).read_text().split()
        except FileNotFoundError:
            return []
        return [
            p
            for n in names
            if (is_stats_file_name(n) or is_endstats_file_name(n)) and (p := self.path(n)).is_file()
        ]

    def clear_pending(self) -> None:
        (self.data_dir / PENDING).unlink(missing_ok=True)

    # ---- listing and recovery

    def files_not_in(self, ledger: set[str] | dict[str, object]) -> list[Path]:
        """Files under raw/<date>/ whose names ``ledger`` does not list (checked by name from
        the directory entries: no path object or realpath per stored file)."""
        if not self.raw_dir.exists():
            return []
        out: list[Path] = []
        with os.scandir(self.raw_dir) as days:
            for day in sorted(days, key=lambda e: e.name):
                if day.is_dir() and not day.name.startswith("."):
                    with os.scandir(day.path) as files:
                        out.extend(
                            Path(f.path)
                            for f in sorted(files, key=lambda e: e.name)
                            if f.name.endswith(".txt") and f.name not in ledger
                        )
        return out

    def recover(self) -> None:
        """Remove temp files of interrupted stores (``.<name>.<pid>.tmp``; fetch's downloads
        in the same folder end in .part and are not touched). Call under the writer lock."""
        for leftover in self.incoming.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)
