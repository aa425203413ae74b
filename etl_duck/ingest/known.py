"""Problems a re-read after an upgrade finds again, as the lake already recorded them.

An upgrade that bumps the parser version makes the next ingest (``etl-duck ingest``, a
fetch, the bot's) read every file of ``raw/`` again in the commit of its batch
(DECISIONS "The parser version is one of the lake's settings"). That re-read reads the
files quarantined, empty or with rejected lines before the upgrade too, and reported them
as the batch's problems: its exit 3 fired a cron alert for problems that were open and
known ("265 ingested, 1 empty, 2 quarantined" where the batch's 2 new files landed).

Here the report's problems are compared with the snapshot the re-read replaces: one that
a file this batch did not bring still has *just as recorded* (quarantined for the same
reason — for its date, whatever the hours — still empty, still cut, the same rejected
line, the same open conflict, an endstats file whose round was missing already) moves to
``IngestReport.still_open``: said in one clause, no exit 3 by itself (``status`` still
lists it and exits 3). A file that reads worse now (newly quarantined, another reason, a
new rejected line) stays a problem of this run, as does every problem of the batch's own
files. ``rebuild`` keeps reporting everything: the admin asked for the whole inventory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from etl_duck.ingest import endstats
from etl_duck.ingest.future import is_future_reason
from etl_duck.ingest.state import lookup
from etl_duck.lake.snapshot import LakeError

if TYPE_CHECKING:
    import pyarrow as pa

    from etl_duck.ingest.options import IngestReport
    from etl_duck.lake.snapshot import Lake


@dataclass(frozen=True)
class Before:
    """What the snapshot a re-read replaces recorded of its files."""

    ledger: pa.Table
    rejected: pa.Table
    conflicts: pa.Table
    index: pa.Table

    @classmethod
    def of(cls, lake: Lake) -> Before | None:
        """The current snapshot's state tables; None when they cannot be read (then every
        problem the re-read finds is reported, as before)."""
        snap = lake.current_dir()
        if snap is None:
            return None
        with contextlib.suppress(LakeError, OSError):
            # (not the writer's shard cache: the re-read's commit rewrites every shard)
            return cls(
                ledger=lake.read_state("files", snap),
                rejected=lake.read_state("rejected_lines", snap),
                conflicts=lake.read_state("conflicts", snap),
                index=lake.read_state("round_index", snap),
            )
        return None


def set_apart(report: IngestReport, before: Before, *, brought: Collection[str]) -> None:
    """Move the problems ``report`` found again as ``before`` recorded them, in files the
    batch did not bring (``brought``: the report's ``arrived`` — its own files, stored now
    or given again, since a re-read's admission marks each pending, and those a crash or an
    admin left pending), to ``report.still_open``."""

    def old(names: list[str]) -> list[str]:
        return [n for n in names if n not in brought]

    rows = lookup(before.ledger, "file_name", old([*report.quarantined, *report.empty]))
    rows |= lookup(before.ledger, "file_name", old([*report.partial, *report.cut]))

    def was(name: str, status: str) -> str | None:
        """The reason recorded when ``name`` had ``status`` before; None when it had not."""
        row = rows.get(name)
        return str(row["reason"] or "") if row is not None and row["status"] == status else None

    def same_quarantine(name: str, why: str) -> bool:
        held = was(name, "quarantined")
        # a file dated ahead is said with the hours it is ahead now: its cause is the same
        return held is not None and (
            held == why or (is_future_reason(held) and is_future_reason(why))
        )

    quarantined = [
        n for n in old(list(report.quarantined)) if same_quarantine(n, report.quarantined[n])
    ]
    for name in quarantined:
        del report.quarantined[name]
    empty = [n for n in old(report.empty) if was(n, "empty") is not None]
    # cut (partial) before: partial or final now, as a later round decides; still cut
    partial = [n for n in old(report.partial) if was(n, "partial") is not None]
    cut = [n for n in old(report.cut) if was(n, "partial") is not None]
    report.empty = [n for n in report.empty if n not in empty]
    report.partial = [n for n in report.partial if n not in partial]
    report.cut = [n for n in report.cut if n not in cut]

    recorded = {
        f"{r['file_name']}:{r['line']}: {r['field']}: {r['reason']}"
        for r in before.rejected.to_pylist()
        if r["file_name"] not in brought
    }
    rejected = [line for line in report.rejected if line in recorded]
    report.rejected = [line for line in report.rejected if line not in recorded]

    open_before = {f"{r['file_name']}@{r['version']}" for r in before.conflicts.to_pylist()}
    conflicts = [
        k for k in report.conflicts if k in open_before and k.rpartition("@")[0] not in brought
    ]
    for key in conflicts:
        del report.conflicts[key]

    missing = old(report.endstats_without_round)
    overdue = endstats.waiting_for_round(missing, before.index.select(["file_name", "end_time"]))
    without = [n for n in missing if overdue.get(n)]  # its round was missing already
    report.endstats_without_round = [n for n in report.endstats_without_round if n not in without]

    for kind, entries in (
        ("quarantined", quarantined),
        ("empty", empty),
        ("partial", partial),
        ("cut", cut),
        ("conflicts", conflicts),
        ("rejected", rejected),
        ("endstats_without_round", without),
    ):
        if entries:
            report.still_open.setdefault(kind, []).extend(sorted(entries))
