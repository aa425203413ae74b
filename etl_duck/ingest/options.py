"""Ingest settings and the report of one ingest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_FILLER_MAPS: tuple[str, ...] = ("mp_sillyctf",)


@dataclass(frozen=True)
class IngestOptions:
    session_gap_minutes: int = 60
    filler_maps: tuple[str, ...] = DEFAULT_FILLER_MAPS
    timezone: str = "Europe/Berlin"
    workers: int = 0  # parse processes for big batches; 0 = decide from the batch size

    def fingerprint(self) -> dict[str, Any]:
        """The settings the lake's content depends on (stored in each manifest)."""
        return {
            "session_gap_minutes": self.session_gap_minutes,
            "filler_maps": sorted(self.filler_maps),
            "timezone": self.timezone,
        }


@dataclass
class IngestReport:
    ingested: list[str] = field(default_factory=list)  # round stats files
    endstats: list[str] = field(default_factory=list)  # endstats files stored (§10)
    replaced: list[str] = field(default_factory=list)  # partial files that grew
    duplicates: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # neither round nor endstats files
    empty: list[str] = field(default_factory=list)  # 0 bytes: retry later
    partial: list[str] = field(default_factory=list)  # stored, flagged, awaiting re-fetch
    quarantined: dict[str, str] = field(default_factory=dict)  # name → reason
    rejected_lines: int = 0
    partitions_written: int = 0
    version: int = 0
    rebuilt: bool = False  # a rebuild from raw/: every file is listed, none of them is new

    def summary(self) -> str:
        return (
            f"{len(self.ingested)} ingested, {len(self.endstats)} endstats, "
            f"{len(self.replaced)} replaced, "
            f"{len(self.duplicates)} duplicate, {len(self.skipped)} skipped (not stats files), "
            f"{len(self.empty)} empty (retry later), {len(self.partial)} partial, "
            f"{len(self.quarantined)} quarantined, {self.rejected_lines} rejected lines; "
            f"lake version {self.version}"
        )
