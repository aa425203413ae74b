"""raw/ (the source of truth) against the lake: what `etl-duck status` and `check` and the
bot's /status say about it — an interrupted ingest's leftovers, and raw/ compared with the
current snapshot's ledger of files, both ways (a backup whose raw/ and lake come from
different moments, a deleted folder, an unmounted volume). Each finding is one sentence
with its fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


def leftovers(data_dir: Path) -> list[str]:
    """Traces of an interrupted ingest, and what will clean them. The pending list names
    what an ingest meant to store: only the names raw/ holds were stored (a full disk may
    have cut the copy short), the others are named with their own fix."""
    from etl_duck.lake.rawstore import PENDING, RawStore

    out: list[str] = []
    raw = RawStore(data_dir)
    stored, lost = raw.pending_stored(), raw.pending_missing()  # one stat each
    if stored:
        out.append(
            f"{len(stored)} stored file(s) not yet committed ({data_dir / PENDING}): "
            "`etl-duck ingest` (with no files, or with any) or the bot's next fetch commits them"
        )
    if lost:
        out.append(
            f"{len(lost)} file(s) an interrupted ingest listed in {data_dir / PENDING} never "
            f"reached raw/ (the copy stopped: a full disk?), so they are not in the lake "
            f"(first: {first_names(lost)}) — ingest them again from their source: `etl-duck fetch`, "
            "or `etl-duck ingest` with the files or folder given before"
        )
    scratch = list((data_dir / ".lake").glob("*.tmp")) if (data_dir / ".lake").exists() else []
    if scratch:
        out.append(
            f"{len(scratch)} unfinished staging folder(s) in {data_dir / '.lake'}: the next "
            "ingest removes them"
        )
    return out


def first_names(names: list[str], n: int = 3) -> str:
    """`A, B, C and 34 more`: the first names of a sorted list."""
    names = sorted(names)
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


#: folders of a server that the fix for raw/ files the ledger lacks lists in an `ingest`
#: command; beyond them (and when raw/ lacks none of the ledger's) it is `etl-duck rebuild`
FOLDERS_LISTED = 8


@dataclass(frozen=True)
class RawAudit:
    """raw/ (the source of truth) against the current snapshot's ledger of files."""

    ledger: int  # names the ledger holds
    held: int  # round and endstats names raw/ holds (first versions)
    unknown: list[str]  # in raw/, neither in the ledger nor in the pending list
    missing: list[str]  # in the ledger, not in raw/
    unreadable: str | None  # why raw/ itself is not there (missing, a dangling link…)
    #: raw/, or a server or date folder of it, that cannot be listed, and why (raw/ was
    #: not compared)
    unlisted: tuple[Path, str] | None = None


def raw_audit(data_dir: Path) -> RawAudit | None:
    """Compare raw/ with the ledger, both ways (None: no lake). A listing of raw/ (one
    ``scandir`` per date folder: ~0.25 s for 33k files, warm) between two reads of the
    ledger and one of the pending list, so an ingest running meanwhile raises no false
    alarm: a name it stores is in the pending list first, and leaves it only once its
    commit (a new version, read again) holds it; raw/ never loses a file, so a name of the
    first read that raw/ lacks is lost."""
    import os

    from etl_duck.lake.rawstore import RawFolderUnreadable, RawStore
    from etl_duck.lake.snapshot import Lake

    lake = Lake(data_dir)
    raw = RawStore(data_dir)
    version = lake.version()
    snap = lake.current_dir()
    if snap is None:
        return None

    def ledger_names(at: Path | None) -> set[str]:
        return set(lake.read_state("files", at).column("file_name").to_pylist())

    ledger = ledger_names(snap)
    unreadable: str | None = None
    unlisted: tuple[Path, str] | None = None
    held: list[str] = []
    where = raw.raw_dir
    if not where.exists():
        unreadable = (
            f"{where} is a link to {os.readlink(where)}, which is not there"
            if where.is_symlink()
            else f"{where} is missing"
        )
    elif not where.is_dir():
        unreadable = f"{where} is not a folder"
    else:
        try:
            held = raw.names()
        except RawFolderUnreadable as exc:  # (a folder that is not etl-duck's is skipped)
            unlisted = (exc.folder, exc.why)
    if unreadable is None and unlisted is None and ledger and not held:
        unreadable = f"{where} holds no round files"
    pending = set(raw.pending())
    known = ledger | (ledger_names(None) if lake.version() != version else set())
    return RawAudit(
        ledger=len(ledger),
        held=len(held),
        unknown=sorted(set(held) - known - pending),
        missing=sorted(ledger - set(held)),
        unreadable=unreadable,
        unlisted=unlisted,
    )


def raw_problems(audit: RawAudit | None, data_dir: Path) -> list[str]:
    """One sentence per way raw/ and the ledger differ, each with its fix."""
    from etl_duck.domain.sources import label, split
    from etl_duck.lake.rawstore import RawStore

    if audit is None:
        return []
    raw = RawStore(data_dir)
    out: list[str] = []
    if audit.unlisted is not None:  # what it holds is unknown: no comparison
        folder, why = audit.unlisted
        return [
            f"{folder} cannot be listed ({why}), so raw/ was not compared with the lake's "
            f"ledger — let the user etl-duck runs as read it (its owner and mode: `ls -ld "
            f"{folder}`)"
        ]
    if audit.unreadable is not None:
        if not audit.ledger:
            return []  # nothing stored yet: the first ingest makes raw/
        return [
            f"{audit.unreadable}, but the lake's ledger counts {audit.ledger:,} files stored "
            "there: is raw/'s volume mounted? Mount it (or restore raw/ from a backup); "
            "until then `etl-duck ingest` refuses to store anything and `etl-duck rebuild` "
            "would lose every round"
        ]
    if audit.missing:
        out.append(
            f"raw/ lacks {len(audit.missing):,} of the {audit.ledger:,} files the lake's "
            f"ledger counts (first: {raw.path(audit.missing[0])}): the lake still shows "
            "them, but raw/ is the source of truth (a backup whose raw/ is older than its "
            "lake, a folder deleted?) — restore raw/ from a backup, or ingest the original "
            "files again (they are stored again); until then `etl-duck rebuild` refuses"
        )
    if audit.unknown:
        folders: dict[str, set[Path]] = {}
        for name in audit.unknown:
            folders.setdefault(split(name)[1], set()).add(raw.path(name).parent)
        many = any(len(f) > FOLDERS_LISTED for f in folders.values())
        if many and not audit.missing:
            fix = "`etl-duck rebuild` reads them in (all of raw/ again)"
        else:
            commands = [
                "`etl-duck ingest "
                + (f"--server {label(server)} " if server else "")
                + " ".join(str(f) for f in sorted(paths))
                + "`"
                for server, paths in sorted(folders.items())
            ]
            verb = "commits" if len(commands) == 1 else "commit"
            fix = f"{' and '.join(commands)} {verb} them (files already counted there are "
            fix += "duplicates, nothing changes for them)"
            if not audit.missing:
                fix += ", or `etl-duck rebuild`"
        out.append(
            f"raw/ holds {len(audit.unknown):,} round file(s) the lake's ledger does not "
            f"count (first: {raw.path(audit.unknown[0])}), so their rounds are missing from "
            f"every table (a backup whose raw/ is newer than its lake?) — {fix}"
        )
    return out


def disk_problems(data_dir: Path) -> dict[str, Any]:
    """What `status` adds to the lake's own answer from the folders on disk (the same for
    the CLI and the bot): ``ingest_in_progress``; ``leftovers`` of an interrupted ingest
    (none while a writer holds the lock: its pending list and staging folder are its work,
    not a crash's); ``raw_files``, the round files raw/ holds (None when raw/ could not be
    listed); ``raw``, one sentence per way raw/ and the ledger differ."""
    from etl_duck.lake.snapshot import Lake

    lake = Lake(data_dir)
    # asked before and after the listing (a few stats): an ingest that starts or ends
    # between them is seen by one of the probes
    busy = lake.writer_busy()
    left = leftovers(data_dir)
    busy = busy or lake.writer_busy()
    audit = raw_audit(data_dir)
    unknown = audit is None or audit.unreadable or audit.unlisted  # (raw/ not listed)
    return {
        "ingest_in_progress": busy,
        "leftovers": [] if busy else left,
        "raw_files": None if unknown or audit is None else audit.held,
        "raw": raw_problems(audit, data_dir),
    }
