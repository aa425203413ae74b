"""Admit a batch: read the candidate files, store new versions in the raw store, and decide
for every touched name which version counts (``RawStore.decide``) — so the ingest knows
which rounds are new, which changed (a file that grew, an admin's choice), which are open
conflicts and which are duplicates.

A name's round changes in the lake only when its counted version changes; a version that
conflicts is kept in raw/ and listed, never counted on its own.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from etl_duck.domain.endstats import is_endstats_file_name
from etl_duck.domain.parse import FILE_NAME_PATTERN, has_player_lines, is_stats_file_name
from etl_duck.domain.sources import qualify
from etl_duck.ingest.future import is_future_reason
from etl_duck.ingest.options import IngestReport, Progress
from etl_duck.ingest.state import lookup
from etl_duck.lake.fsutil import failpoint
from etl_duck.lake.rawstore import FILE_NAME_MAX, Choice, RawStore, content_sha256


@dataclass
class Admitted:
    """The outcome of admission, for the rest of the ingest."""

    changed: dict[str, bytes] = field(default_factory=dict)  # name → counted bytes
    choices: dict[str, Choice] = field(default_factory=dict)  # every touched name
    set_aside: set[str] = field(default_factory=set)  # dismissed by an admin
    arrived: set[str] = field(default_factory=set)  # the batch's names, before a rebuild's
    #: names whose counted version is 0 bytes (stored in raw/, recorded in the ledger as
    #: ``empty``: awaiting a version with content, or an admin's dismissal)
    empty: set[str] = field(default_factory=set)


def expand(paths: Iterable[Path], unreadable: dict[str, str] | None = None) -> list[Path]:
    """Files, and every entry under folders that is not a folder (hidden entries skipped;
    links to folders followed, each folder once), each once. Broken links and pipes are
    listed too: :func:`admit` names them as skipped instead of losing them silently; so are
    folders that cannot be listed, in ``unreadable`` (path → why)."""
    out: dict[str, Path] = {}

    def cannot_list(exc: OSError) -> None:
        if unreadable is not None:
            unreadable[str(exc.filename)] = f"cannot list this folder: {exc.strerror}"

    for p in paths:
        if not p.is_dir():
            out.setdefault(os.path.abspath(p), p)
            continue
        found: list[Path] = []
        walked: set[str] = set()
        for root, dirs, files in os.walk(p, onerror=cannot_list, followlinks=True):
            real = os.path.realpath(root)
            if real in walked:  # a link back to a folder already read: no loop, no repeat
                dirs[:] = []
                continue
            walked.add(real)
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found += [Path(root) / f for f in files if not f.startswith(".")]
        for q in sorted(found):
            out.setdefault(os.path.abspath(q), q)
    return list(out.values())


def admit(
    raw: RawStore,
    ledger: pa.Table,
    paths: Sequence[Path],
    report: IngestReport,
    *,
    everything: bool = False,
    recheck: Iterable[str] = (),
    progress: Progress | None = None,
    server: str = "",
    retry: Collection[str] = (),
) -> Admitted:
    """Store what is new among ``paths``; decide every touched name. ``everything``
    (rebuild): every name in raw/ is touched. ``recheck``: names an admin resolved.
    ``server``: the game server ``paths`` came from (their names are qualified with it).
    ``retry``: quarantined names whose counted version is read again although it did not
    change (files dated ahead of the clock that are admitted now, see ``future``).

    A file quarantined because it did not read (not for its date: ``future`` decides those)
    is read again when it is given again or an admin resolves its name: a fix, an upgrade
    or an admin's choice may read it now (it lands), or it stays quarantined (an
    unchanged reason commits nothing, see ``run``)."""
    candidates = expand(paths, report.skipped)
    loaded: list[tuple[str, bytes]] = []
    empty_at: dict[str, Path] = {}  # where a 0-byte file came from
    for i, path in enumerate(candidates):
        if progress is not None and i % 500 == 0:
            progress("reading files", i, len(candidates))
        name = qualify(path.name, server)
        if not (is_stats_file_name(name) or is_endstats_file_name(name)):
            why = f"not a round stats file name (expected {FILE_NAME_PATTERN})"
            report.skipped[str(path)] = why
            continue
        if len(os.fsencode(path.name)) > FILE_NAME_MAX:  # its raw copy's names would fail
            report.skipped[str(path)] = (
                f"name longer than {FILE_NAME_MAX} bytes, more than the raw store can hold: "
                "copy it under a shorter name of the same pattern and ingest that"
            )
            continue
        if not path.is_file():  # never opened: a pipe would block the ingest for good
            report.skipped[str(path)] = "not a regular file (a broken link, a pipe, a device)"
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:  # this file alone: the batch goes on, and it is named
            report.skipped[str(path)] = f"cannot read it: {exc.strerror or exc}"
            continue
        if not data:
            empty_at[name] = path
        loaded.append((name, data))  # 0 bytes too: see `empty` below
    if progress is not None:
        progress("reading files", len(candidates), len(candidates))

    # duplicates: content the ledger holds under this name, or has landed under another
    # (a file quarantined under another name may come back under its right name); the
    # ledger (32k rows at 10 years) is probed, not turned into Python objects
    import pyarrow.compute as pc

    shas = [content_sha256(d) for _, d in loaded]
    landed = (
        ledger.filter(pc.invert(pc.is_in(ledger["status"], value_set=pa.array(_NOT_LANDED))))
        if ledger.num_rows
        else ledger
    )
    counted_by_sha = lookup(landed, "content_sha256", shas)
    by_name = lookup(ledger, "file_name", [n for n, _ in loaded])
    fresh: list[tuple[str, bytes]] = []
    seen: set[str] = set()  # content already taken in this batch (a CRLF copy, a 2nd name)
    again: set[str] = set()  # quarantined files given again: read again
    #: held content whose raw copy raw/ lacks (raw/ restored from an older backup): the
    #: ledger's name → the bytes given, stored again (``RawStore.restore``)
    lacking: dict[str, bytes] = {}
    restoring_as: list[tuple[str, dict[str, Any]]] = []  # (given name, its ledger row)
    for (name, data), csha in zip(loaded, shas, strict=True):
        if not data and not _held_empty(by_name.get(name), csha):
            # 0 bytes: the writer had not written yet, or the copy failed. A name the lake
            # knows nothing of is stored (raw/ keeps what arrived) and recorded as awaiting
            # its content: `status` names it until a version with content lands (it extends
            # the empty one: it counts) or an admin dismisses it. A name the lake already
            # holds content of keeps it: the empty copy is skipped (named), never a conflict
            if name in by_name or raw.versions(name):
                report.skipped[str(empty_at[name])] = (
                    f"0 bytes, and the lake holds {name} already: the empty copy changes "
                    "nothing (a copy that failed?)"
                )
                continue
            if name not in report.empty:
                report.empty.append(name)
        # a round without player lines is its header alone, which an idle server writes
        # byte for byte each time a map times out: the same bytes under another name are
        # another round, and only the same name makes it the same file
        key = csha if has_player_lines(data) else f"{name}\0{csha}"
        held = counted_by_sha.get(csha) if key == csha else None
        if held is None and (same := by_name.get(name)) and same["content_sha256"] == csha:
            held = same  # this very file again (quarantined: that problem again)
        # the ledger holds it, so raw/ must: one stat says so (a copy lost with raw/ is
        # stored again from this one, where the ledger expects it; the lake is unchanged)
        restoring = False
        if held is not None and _lacks(raw, held):
            restoring = True
            lacking.setdefault(str(held["file_name"]), data)
        if held is not None and held["file_name"] == name and _reads_again(held):
            again.add(name)  # (raw/ holds it, or will: nothing new is stored)
            continue
        if held is not None or key in seen:
            if restoring and held is not None and held["status"] not in _STILL_A_PROBLEM:
                restoring_as.append((name, held))  # named as restored, not as a duplicate
                continue
            if not (name in retry and held is not None and held["file_name"] == name):
                _already_held(name, held, report)  # (one retried lands: no problem)
            continue
        seen.add(key)
        fresh.append((name, data))
    # first: a name whose first copy is lost and which brings a new version too keeps its
    # order (the held content first, the new one a later version beside it)
    restored = {v.name for v in raw.restore(sorted(lacking.items()))}
    report.restored.extend(sorted(restored))
    for name, held in restoring_as:  # raw/ held that content after all (it read it)
        if str(held["file_name"]) not in restored:
            _already_held(name, held, report)
    stored = raw.store(fresh)
    failpoint("raw stored")
    stored_now = {(v.name, v.content_sha256) for v in stored}

    pending = set(raw.pending())  # this batch's names, and those an interrupted ingest left
    touched = {v.name for v in stored} | pending | set(recheck) | again
    out = Admitted(arrived=set(touched))
    touched |= set(retry)  # stored before: not brought by this batch
    again |= set(recheck)  # an admin's resolve reads a quarantined file again too
    if everything:
        touched |= set(raw.names())
    known = {v.path: v.data for v in stored}
    rows = lookup(ledger, "file_name", sorted(touched))
    for name in sorted(touched):
        choice = raw.decide(name, known)
        if choice is None:  # named as pending, never stored (a full disk, a kill mid-copy)
            if name in pending:  # said (the journal goes with this commit), not lost quietly
                report.lost.append(name)
            continue
        out.choices[name] = choice
        if choice.set_aside:
            out.set_aside.add(name)
            continue
        row: dict[str, Any] | None = rows.get(name)
        if not choice.counted.data:  # nothing but an empty version yet (see above)
            out.empty.add(name)
            if name not in report.empty:
                report.empty.append(name)
            continue
        held_now = row is not None and row["content_sha256"] == choice.counted.content_sha256
        # quarantined, admitted now (dated ahead), or read again (it did not read): the
        # same bytes are read again
        reread = held_now and (name in retry or (name in again and _reads_again(row)))
        if row is None or not held_now or reread or row["status"] in ("dismissed", "empty"):
            # (dismissed: an admin's --keep; empty: its content came)
            out.changed[name] = choice.counted.data
            if row is not None and row["status"] != "empty" and not reread:
                report.replaced.append(name)  # grew, or an admin kept another version
        elif name in again and row["status"] == "quarantined":  # dated ahead: it still is
            report.quarantined.setdefault(name, str(row["reason"] or "quarantined"))
        for v in choice.conflicts:
            report.conflicts[f"{name}@{v.id}"] = choice.conflict_reason(v)
    # a file whose content was stored before (a conflicting version sent again) is a
    # duplicate — unless it was stored by a run that never committed (then it lands now)
    for (name, _), csha in zip(fresh, (content_sha256(d) for _, d in fresh), strict=True):
        if (name, csha) not in stored_now and name not in out.changed:
            report.duplicates.append(name)
    return out


#: ledger statuses of content that never landed: the same bytes under another name are a
#: new file (a copy under its right name of a file quarantined for its name). A dismissed
#: file's bytes stay a duplicate under any name (an admin set them aside) — except a file
#: of its header alone, whose bytes an idle server writes again for every timed-out map
_NOT_LANDED = ("quarantined",)


#: ledger statuses that stay a problem when their file is given again (``_already_held``):
#: said so even when its raw copy is restored
_STILL_A_PROBLEM = ("quarantined", "partial", "empty")


def _lacks(raw: RawStore, row: dict[str, Any]) -> bool:
    """raw/ lacks the copy of a file the ledger holds (one stat, see ``RawStore.holds``)."""
    size = -1 if row["size"] is None else int(row["size"])
    return not raw.holds(str(row["file_name"]), str(row["content_sha256"]), size)


def _reads_again(row: dict[str, Any] | None) -> bool:
    """A ledger row of a file quarantined because it did not read (not for its date: the
    future check decides when those are admitted, ``retry``)."""
    return (
        row is not None and row["status"] == "quarantined" and not is_future_reason(row["reason"])
    )


def _held_empty(row: dict[str, Any] | None, csha: str) -> bool:
    """The ledger holds this very empty content under the name (recorded as awaiting its
    content, or set aside by an admin): the held-content rules below answer for it."""
    return row is not None and row["content_sha256"] == csha


def _already_held(name: str, row: dict[str, Any] | None, report: IngestReport) -> None:
    """Content the lake already holds: a duplicate — or, when that content did not land
    as a round (quarantined, cut), that problem again: a rerun after a crash, or a cron
    retry, must not exit 0 while the file is still not counted."""
    status = row["status"] if row is not None else None
    if row is not None and status == "quarantined":
        why = str(row["reason"] or "quarantined")
        held = str(row["file_name"])
        report.quarantined[name] = (
            why if held == name else f"the same content as {held}, quarantined: {why}"
        )
    elif status == "partial":
        report.partial.append(name)
    elif status == "empty":
        report.empty.append(name)  # still nothing but the empty version
    else:
        report.duplicates.append(name)
