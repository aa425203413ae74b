"""Ingest settings and the report of one ingest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from etl_duck.domain.parse import PARSER_VERSION

#: progress(phase, done, total): "reading files", "building partitions", "committing"
Progress = Callable[[str, int, int], None]

DEFAULT_FILLER_MAPS: tuple[str, ...] = ("mp_sillyctf",)
LAKE_FORMAT = 3


@dataclass(frozen=True)
class IngestOptions:
    session_gap_minutes: int = 60
    filler_maps: tuple[str, ...] = DEFAULT_FILLER_MAPS
    timezone: str = "Europe/Berlin"
    #: parse processes for a batch of many files. 0 (automatic): a backfill builds in the
    #: ingesting process, so its memory is one process's (10 years: ~330 MiB), and a
    #: rebuild (which holds the whole history anyway) uses up to 4 cores. N: N processes
    #: for both, 1 meaning none; each worker adds ~170 MiB (its imports and DuckDB) for
    #: ~25 % less time on 2 cores
    workers: int = 0
    #: a round or endstats file dated more than this many hours ahead of now (the wall
    #: clock of ``timezone``, the zone its name's time is in) is quarantined, not committed:
    #: its game server's clock is wrong, and a round dated years ahead would be the last
    #: session, and the anchor of every relative window, for good. A day absorbs time zones
    #: and clock skew. None or 0: no check (a synthetic history that runs into the future).
    #: Not in the fingerprint: it decides which files are admitted, not what they mean
    future_tolerance_hours: float | None = 24.0

    def fingerprint(self) -> dict[str, Any]:
        """The settings the lake's content depends on (stored in each manifest)."""
        return {
            "session_gap_minutes": self.session_gap_minutes,
            "filler_maps": sorted(self.filler_maps),
            "timezone": self.timezone,
            # the tables' shape: a lake of an older format is re-derived from raw/ at the
            # next ingest (2: every table has its game `server`; 3: career tables)
            "lake_format": LAKE_FORMAT,
            # what the parser and the pairing make of the same files: a lake derived by an
            # older parser is re-read from raw/ (2: H5 = 0, rejected round-1 lines, mixed
            # layouts, round 2s saved as round 1, newer headers; 3: cut files final once a
            # later round exists, lines_rejected, cut rounds' start; 4: session gaps and pairing
            # on the server's absolute clock; 5: a cut file is final once any later round
            # of its server exists; 6: both readings of a clock change's hour, a cut file
            # not final when its only later round is taken out; 7: a name the spring jump
            # skipped reads as the jump's instant; DECISIONS "Parsing")
            "parser_version": PARSER_VERSION,
        }


@dataclass
class IngestReport:
    """What one ingest did. Every problem is named (file, and line and field where known)."""

    ingested: list[str] = field(default_factory=list)  # round stats files
    endstats: list[str] = field(default_factory=list)  # endstats files stored (§10)
    #: endstats files of an older writer: why some of their rows say nothing (not a problem)
    endstats_notes: dict[str, str] = field(default_factory=dict)
    #: round files of a newer writer than this etl-duck knows (longer player lines: their
    #: known fields were read, the rest ignored) → the parser's note. Not a problem: nothing
    #: the product knows how to read is lost (DECISIONS "A newer writer's round files")
    round_notes: dict[str, str] = field(default_factory=dict)
    #: endstats files of this batch whose round file is not in the lake yet, while their
    #: server has written no later round: it may be on its way (the fetcher can bring the
    #: endstats file a poll first); their rows land with it. Named, not a problem
    endstats_waiting: list[str] = field(default_factory=list)
    #: endstats files without their round file although their server has written later
    #: rounds (this batch's, or stored ones this batch's rounds leave without theirs): the
    #: round file is missing, so their awards and duels are not counted. A problem
    endstats_without_round: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # grew, or an admin kept another version
    duplicates: list[str] = field(default_factory=list)  # content the lake already holds
    #: content the lake already holds whose raw copy raw/ lacked (raw/ restored from an
    #: older backup, a lost file): stored into raw/ again from the copy given, where the
    #: ledger expects it; the lake is unchanged. Not a problem: a repair
    restored: list[str] = field(default_factory=list)
    #: names an interrupted ingest listed as being stored (``.ingest-pending``) that never
    #: reached raw/ (a full disk, a kill during the copy): nothing of them is stored, the
    #: journal is done with; they must be ingested again from where they came. A problem
    lost: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # path → why (not a round file)
    #: 0 bytes: the writer is not done, or the copy failed. Recorded (ledger ``empty``) until
    #: a version with content lands or an admin dismisses it; a problem
    empty: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)  # last line cut: stored, not counted yet
    #: last line cut, and a later round of its server follows: its complete lines count,
    #: the players after the cut are missing. A problem until the whole file is ingested or
    #: an admin accepts the cut version (a later round does not prove the server's own file
    #: is cut: a copy taken short, or cut in transfer, looks the same)
    cut: list[str] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)  # name → reason
    conflicts: dict[str, str] = field(default_factory=dict)  # "name@version" → reason
    rejected: list[str] = field(default_factory=list)  # "file:line: field: reason"
    partitions_written: int = 0
    version: int = 0
    committed: bool = False  # a new lake version was published
    rebuilt: bool = False  # a rebuild from raw/: every file is listed, none of them is new
    #: the rebuild was the lake's own: derived by an older parser version, it was re-read
    reparsed: bool = False
    #: settings that shape the lake (``ingest.derived.SETTINGS``) this commit changed, so it
    #: re-derived every partition: setting → (the lake's before, this run's). Not a problem
    #: (the settings given win), but said: another directory's ``.env`` is another lake
    settings_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: a ``resolve`` that changed nothing: the sentence that says so (the CLI exits non-zero)
    unchanged: str = ""
    #: names this batch brought (stored now, left by a crash, or an admin's), rebuild or not
    arrived: list[str] = field(default_factory=list)
    #: problems a re-read after an upgrade found again just as the lake recorded them (a
    #: file quarantined for the same reason, still empty, the same rejected line …) in files
    #: this batch did not bring: report field (``quarantined``, ``rejected`` …) → its
    #: entries. Still open (``status`` lists them and exits 3), but not this run's news: said
    #: in one clause, they leave the exit code alone (``ingest.known``)
    still_open: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rejected_lines(self) -> int:
        return len(self.rejected)

    @property
    def problems(self) -> bool:
        """Some input did not land as a counted round (the CLI exits 3)."""
        return bool(
            self.quarantined
            or self.conflicts
            or self.rejected
            or self.skipped
            or self.empty
            or self.partial
            or self.cut
            or self.endstats_without_round
            or self.lost
        )

    def merge(self, later: IngestReport) -> IngestReport:
        """This report followed by ``later``'s (the next commit of the same ingest)."""
        for name in (
            "ingested",
            "endstats",
            "replaced",
            "duplicates",
            "restored",
            "lost",
            "empty",
            "partial",
            "cut",
            "arrived",
        ):
            getattr(self, name).extend(getattr(later, name))
        # one still waiting at the end of a backfill's year may be missing after the next
        missing = set(later.endstats_without_round)
        self.endstats_waiting = [n for n in self.endstats_waiting if n not in missing]
        self.endstats_waiting.extend(later.endstats_waiting)
        self.endstats_without_round.extend(
            n for n in later.endstats_without_round if n not in self.endstats_without_round
        )
        self.rejected.extend(later.rejected)
        for name in ("endstats_notes", "round_notes", "skipped", "quarantined", "conflicts"):
            getattr(self, name).update(getattr(later, name))
        self.partitions_written += later.partitions_written
        self.version = later.version or self.version
        self.committed = self.committed or later.committed
        self.reparsed = self.reparsed or later.reparsed
        for key, change in later.settings_changed.items():  # the first batch's "before"
            self.settings_changed.setdefault(key, change)
        for kind, entries in later.still_open.items():
            self.still_open.setdefault(kind, []).extend(entries)
        return self

    def file_classes(self) -> list[str]:
        """The batch in words, "33 ingested", "1 quarantined" …: each file once, in the
        class that says what happened to it. A cut file is partial or cut, not ingested (or
        replaced, or endstats) as well: "1 ingested, 1 partial" of two files, where the
        partial one was counted twice; an endstats file waiting for its round (or without
        it) is in that class, not among the endstats stored with theirs."""
        short = {*self.partial, *self.cut}
        alone = short | {*self.endstats_waiting, *self.endstats_without_round}
        parts = [f"{sum(n not in short for n in self.ingested)} ingested"]
        for label, items in (
            ("endstats", [n for n in self.endstats if n not in alone]),
            ("replaced", [n for n in self.replaced if n not in short]),
            ("duplicate", self.duplicates),
            ("restored to raw/", self.restored),
            ("never reached raw/", self.lost),
            ("skipped (not stats files)", self.skipped),
            ("empty (retry later)", self.empty),
            ("partial (awaiting the rest)", self.partial),
            ("cut (the rest missing)", self.cut),
            ("endstats waiting for their round", self.endstats_waiting),
            ("endstats without their round", self.endstats_without_round),
            ("quarantined", self.quarantined),
            ("conflicting versions", self.conflicts),
            ("rejected lines", self.rejected),
        ):
            if items:
                parts.append(f"{len(items)} {label}")
        return parts

    def summary(self) -> str:
        parts = self.file_classes()
        known = [
            f"{len(entries)} {STILL_OPEN_LABELS.get(kind, kind)}"
            for kind, entries in self.still_open.items()
            if entries
        ]
        if known:  # not this run's news, but never hidden
            parts[-1] += f"; {', '.join(known)}, still open — see `etl-duck status`"
        where = f"lake version {self.version}" + ("" if self.committed else " (unchanged)")
        lost = f" — {lost_said(self.lost)}" if self.lost else ""
        return f"{', '.join(parts)}; {where}{lost}"


def lost_said(names: list[str], shown: int = 3) -> str:
    """The one sentence for journal names that never reached raw/ (``IngestReport.lost``)."""
    first = ", ".join(names[:shown]) + (", …" if len(names) > shown else "")
    n = len(names)
    files, them, they = ("files", "them", "they") if n > 1 else ("file", "it", "it")
    return (
        f"{n} {files} listed by the interrupted ingest never reached raw/ ({first}): ingest "
        f"{them} again from where {they} came (the server's stats folder via `etl-duck "
        "fetch`, or the folder given before)"
    )


#: how the summary names the problems a re-read found again (``IngestReport.still_open``)
STILL_OPEN_LABELS: dict[str, str] = {
    "quarantined": "already quarantined",
    "empty": "already empty",
    "partial": "already partial",
    "cut": "already cut",
    "conflicts": "conflicting versions already open",
    "rejected": "rejected lines already known",
    "endstats_without_round": "endstats already without their round",
}
