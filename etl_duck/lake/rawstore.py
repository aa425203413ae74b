"""The raw store: the sole owner of ``raw/`` (the source of truth) and ``quarantine/``.

    raw/YYYY-MM-DD/<name>                            the first version stored of a file
    raw/YYYY-MM-DD/.versions/<name>@<arrival>-<id>   every later distinct version
    raw/YYYY-MM-DD/.versions/<name>@<arrival>.keep   an admin's choice (holds a version id)
    raw/YYYY-MM-DD/.versions/<name>@<arrival>.dismiss  an admin set the name aside
    raw/YYYY-MM-DD/.versions/<name>@<arrival>.accept   an admin accepted a version's
                                                       rejected lines (holds its sha256)
    raw/.incoming/                                   temp files of stores in progress
    quarantine/<name> + <name>.reason                copies of files that cannot be read
    quarantine/.incoming/                            temp files of quarantine copies
    .ingest-pending                                  names being stored, not yet committed
                                                     (its temp file beside it: raw/ may
                                                     be another file system)

Nothing here ever overwrites or deletes a raw copy: a store links a fully written temp file
into place, and a name that is taken gets a new version beside it. Which version of a name
counts is a pure function of what is stored (:meth:`RawStore.decide`), so ``rebuild`` needs
nothing but ``raw/``:

* a later version that extends the counted one (the counted one is a prefix of it, CRLF
  aside) is the file growing — it was fetched while the Lua was still writing — and counts
  instead, also when the cut was at a line break;
* any other later version (shorter, or different) is a **conflict**: kept, listed, and the
  counted version stays until an admin keeps another (``etl-duck resolve NAME --keep ID``).

A version's id is the first 12 hex digits of its content sha256 (CRLF normalised).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from etl_duck.domain.endstats import is_endstats_file_name
from etl_duck.domain.parse import is_stats_file_name
from etl_duck.domain.sources import MAIN as MAIN_SERVER
from etl_duck.domain.sources import check_server_name, qualify
from etl_duck.domain.sources import split as split_qualified
from etl_duck.lake.fsutil import failpoint, fsync_dir, sync_paths, write_bytes_atomic
from etl_duck.lake.snapshot import LakeError

RAW = "raw"
QUARANTINE = "quarantine"
INCOMING = ".incoming"
VERSIONS = ".versions"
PENDING = ".ingest-pending"  # names being stored in raw/, not yet committed (crash recovery)
ID_LENGTH = 12


def _longest_derived(name: str) -> int:
    """Bytes of the longest file name the raw store (and its atomic writes) derives from
    a qualified ``name``: a temp file of a store, a later version, a decision marker's temp
    file, a quarantine reason's temp file. Kept beside the naming it mirrors."""
    pid, index, stamp = "9" * 7, "9" * 7, "9" * 20  # Linux pids < 2**22; a batch < 10**7
    derived = (
        f".{name}.{pid}.{index}.tmp",  # store()
        f"{name}@{stamp}-{'f' * ID_LENGTH}",  # store(): a later version
        f".{name}@{stamp}.dismiss.{pid}.tmp",  # _decision_marker() via write_bytes_atomic
        f".{name}.reason.{pid}.tmp",  # quarantine() via write_bytes_atomic
    )
    return max(len(d.encode()) for d in derived)


NAME_MAX = 255  # bytes of one name on the usual file systems (ext4, xfs, btrfs, tmpfs)
#: the longest server name (etl_duck.domain.sources: 1-32 characters) in "NAME#SERVER"
SERVER_NAME_MAX = 32
#: the longest remote file name the raw store can hold under every name it derives from
#: it, for any server (the fetch refuses longer ones)
FILE_NAME_MAX = NAME_MAX - _longest_derived("#" + "s" * SERVER_NAME_MAX)


def content_sha256(data: bytes) -> str:
    """Identity of a file's content: CRLF copies (through a Windows share) are the same file."""
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


@dataclass(frozen=True)
class RawVersion:
    """One stored version of a round file."""

    name: str
    path: Path
    arrival: int  # ns since the epoch when it was stored; 0 for the first version
    size: int
    content_sha256: str
    data: bytes = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.content_sha256[:ID_LENGTH]


@dataclass(frozen=True)
class Choice:
    """Which version of a name counts, and why; the versions that do not."""

    name: str
    counted: RawVersion
    why: str  # "first version" | "grew from <id>" | "kept by an admin"
    superseded: tuple[RawVersion, ...] = ()  # earlier, shorter versions of the counted one
    conflicts: tuple[RawVersion, ...] = ()  # open: an admin must pick
    dismissed: tuple[RawVersion, ...] = ()  # set aside by an admin's choice
    set_aside: bool = False  # an admin dismissed the name (it stays out of the lake)
    #: an admin accepted the counted version as it is (its rejected lines are no open
    #: problem); a later version needs its own acceptance
    accepted: bool = False

    def conflict_reason(self, v: RawVersion) -> str:
        shrank = _norm_prefix(v, self.counted)
        what = "is shorter than (a prefix of)" if shrank else "differs from"
        return (
            f"{v.name}: version {v.id} ({v.size:,} B) {what} the counted version "
            f"{self.counted.id} ({self.counted.size:,} B); both kept — "
            f"`etl-duck resolve {v.name} --keep {v.id}` to count it instead"
        )


class RawStoreError(ValueError):
    """An admin's request the raw store cannot carry out (unknown name or version)."""


class RawFolderUnreadable(LakeError):
    """raw/, or one of its server or date folders, cannot be listed (its owner or mode
    keeps the user etl-duck runs as out): raw/ cannot be read whole, and whatever reads
    it whole (a rebuild, an ingest that re-reads it) stops before committing anything."""

    def __init__(self, folder: Path, why: str) -> None:
        self.folder, self.why = folder, why
        super().__init__(
            f"{folder} cannot be listed ({why}): raw/ cannot be read whole, so nothing was "
            f"committed — let the user etl-duck runs as read it (its owner and mode: `ls -ld "
            f"{folder}`) and run the command again"
        )


class RawStore:
    """``raw/`` and ``quarantine/`` of one data directory. Writes happen under the lake's
    writer lock (:meth:`etl_duck.lake.snapshot.Lake.writer_lock`)."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.raw_dir = self.data_dir / RAW
        self.quarantine_dir = self.data_dir / QUARANTINE
        self.incoming = self.raw_dir / INCOMING
        self._raw = str(self.raw_dir)

    # ---- where things are

    def path(self, name: str) -> Path:
        """The first version of a stats file: ``raw/YYYY-MM-DD/<name>`` (its own date) for
        the main server, ``raw/<server>/YYYY-MM-DD/<file>`` for another one (``name`` is
        qualified, see :mod:`etl_duck.domain.sources`)."""
        return self._date_dir(name) / split_qualified(name)[0]

    def _date_dir(self, name: str) -> Path:
        base, server = split_qualified(name)
        root = self.raw_dir / server if server else self.raw_dir
        return root / base[:10]

    def _versions_dir(self, name: str) -> Path:
        return self._date_dir(name) / VERSIONS

    def versions(self, name: str, known: Mapping[Path, bytes] | None = None) -> list[RawVersion]:
        """Every stored version of ``name``, in the order they arrived, with its bytes
        (``known``: bytes already in memory by path, not read again). Content kept twice
        is one version, the earlier copy: a first copy lost (raw/ restored from an older
        backup) and put back by :meth:`restore` with the content of a later version, the
        one the ledger counts. A lost first copy leaves the later versions."""
        known = known or {}
        out: list[RawVersion] = []
        seen: set[str] = set()
        first = self.path(name)
        paths = [(first, 0)] + [(e, a) for e, a, _ in self._entries(name, "")]
        for path, arrival in paths:
            try:
                data = known[path] if path in known else path.read_bytes()
            except FileNotFoundError:
                continue  # the first copy lost: what raw/ keeps of the name still counts
            csha = content_sha256(data)
            if csha not in seen:
                seen.add(csha)
                out.append(RawVersion(name, path, arrival, len(data), csha, data))
        return out

    def sizes(self, name: str) -> set[int]:
        """Sizes of every stored version (fetch compares a remote file against them)."""
        sizes: set[int] = set()
        try:
            sizes.add(self.path(name).stat().st_size)
        except FileNotFoundError:
            return sizes
        for entry, _, _ in self._entries(name, ""):
            sizes.add(entry.stat().st_size)
        return sizes

    def _entries(self, name: str, suffix: str) -> list[tuple[Path, int, str]]:
        """(path, arrival, rest) of ``.versions/<name>@<arrival><rest>`` entries whose rest
        ends with ``suffix`` ("" = versions: ``-<id>``), in arrival order."""
        folder = self._versions_dir(name)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        prefix = name + "@"
        out: list[tuple[Path, int, str]] = []
        for entry in names:
            if not entry.startswith(prefix) or entry.startswith("."):
                continue
            stamp, sep, rest = entry[len(prefix) :].partition("-" if not suffix else ".")
            if not sep or not stamp.isdigit():
                continue
            if (suffix and "." + rest != suffix) or (not suffix and len(rest) != ID_LENGTH):
                continue
            out.append((folder / entry, int(stamp), rest))
        return sorted(out, key=lambda e: (e[1], e[0].name))

    def _after_every_stamp(self, name: str, now: int) -> int:
        """``now``, or just after the newest version or decision of ``name`` when the clock
        stepped back (NTP, a restored VM): the order of arrivals is the rule's input, so a
        file that grew would otherwise sort before its shorter version (a false conflict),
        and an admin's choice before what it chose among. Under the writer lock."""
        folder = self._versions_dir(name)
        try:
            entries = os.listdir(folder)
        except FileNotFoundError:
            return now
        prefix = name + "@"
        stamps = [
            int(stamp)
            for e in entries
            if e.startswith(prefix)
            and (stamp := e[len(prefix) :].split("-", 1)[0].split(".", 1)[0]).isdigit()
        ]
        return max(now, max(stamps, default=0) + 1)

    # ---- storing

    def store(
        self, items: Iterable[tuple[str, bytes]], *, journal: bool = True, refill: bool = False
    ) -> list[RawVersion]:
        """Store each file unless a version with the same content is already there (as its
        first copy or a later version); never overwrite. Names are added to the pending
        list first (a crash before the commit leaves a list the next ingest reads;
        ``journal=False``: not, see :meth:`restore`), and one sync makes the batch durable.
        ``refill``: a lost first copy is put back even when a later version keeps that
        content (:meth:`restore`). Returns the versions stored now."""
        items = list(items)
        if not items:
            return []
        if journal:
            self.mark_pending(n for n, _ in items)
        self.incoming.mkdir(parents=True, exist_ok=True)
        stored: list[RawVersion] = []
        written: list[Path] = []
        folders: set[Path] = set()
        now = time.time_ns()
        seen: dict[str, set[str]] = {}  # name → content stored so far (this batch too)
        for i, (name, data) in enumerate(items):
            csha = content_sha256(data)
            if name not in seen:
                seen[name] = {v.content_sha256 for v in self.versions(name)}
            target = self.path(name)
            if csha in seen[name] and not (refill and not target.exists()):
                continue  # this content is stored already (a CRLF copy included)
            seen[name].add(csha)
            arrival = 0
            if target.exists():  # the name is taken: a new version beside it
                arrival = self._after_every_stamp(name, now + i)
                target = self._versions_dir(name) / f"{name}@{arrival:020d}-{csha[:ID_LENGTH]}"
            if target.parent not in folders:
                target.parent.mkdir(parents=True, exist_ok=True)
                folders.add(target.parent)
            tmp = self.incoming / f".{name}.{os.getpid()}.{i}.tmp"
            tmp.write_bytes(data)
            failpoint("temp file written")
            os.link(tmp, target)  # fails if taken: a raw copy is never replaced
            tmp.unlink()
            written.append(target)
            stored.append(RawVersion(name, target, arrival, len(data), csha, data))
        sync_paths(written, folders)
        failpoint("files synced")
        return stored

    def mark_pending(self, names: Iterable[str]) -> None:
        """Add names to the pending list (durably, before their files are stored)."""
        pending = set(self.pending())
        added = set(names) - pending
        if added:
            text = "\n".join(sorted(pending | added)).encode()
            # the temp file beside the list, never in raw/: raw/ may be its own volume (a
            # mount point or a link), and a rename across file systems fails (EXDEV)
            write_bytes_atomic(self.data_dir / PENDING, text)

    def restore(self, items: Iterable[tuple[str, bytes]]) -> list[RawVersion]:
        """Store again content the lake's ledger holds whose raw copy raw/ lacks (see
        :meth:`holds`): the same atomic write as :meth:`store`, so it lands where a first
        store put it (``raw/YYYY-MM-DD/<name>``; a later version beside a first one that is
        there) and never replaces a raw copy. A lost first copy is put back also when a
        later version keeps the content (the counted version of a file that grew): the first
        copy is what the ledger expects and what a rebuild lists, and :meth:`versions` counts
        the content once. Not on the pending list: the lake counts it already, there is
        nothing to commit (a crash leaves a temp file :meth:`recover` removes, or the copy
        in place)."""
        return self.store(items, journal=False, refill=True)

    def holds(self, name: str, content_sha256: str, size: int) -> bool:
        """Whether raw/ holds the version of ``name`` with this content (the ledger's
        ``content_sha256`` and ``size``) where the ledger expects it: one ``stat`` when the
        first version has that size (every file that never grew), a listing of its
        ``.versions/`` otherwise. A copy of the right size is taken on trust: its bytes are
        not read. Without its first copy raw/ lacks the name (a rebuild lists first copies,
        :meth:`names`), also when a later version keeps the content: :meth:`restore` puts
        the first copy back."""
        base, server = split_qualified(name)
        root = os.path.join(self._raw, server) if server else self._raw
        try:  # (a str path: ~4x cheaper than building the Path of self.path(name))
            if os.stat(os.path.join(root, base[:10], base)).st_size == size:
                return True
        except FileNotFoundError:
            return False  # no first version: raw/ holds nothing under this name
        return any(rest == content_sha256[:ID_LENGTH] for _, _, rest in self._entries(name, ""))

    def pending(self) -> list[str]:
        """The names on the pending list: an ingest that did not finish (a crash, a full
        disk, a kill) meant to store them and had not committed them. Each may or may not
        have reached raw/ (:meth:`pending_stored`, :meth:`pending_missing`)."""
        try:
            names = (self.data_dir / PENDING).read_text().split()
        except FileNotFoundError:
            return []
        return [n for n in names if _ours(n)]

    def pending_stored(self) -> list[str]:
        """Pending names raw/ holds a copy of (one ``stat`` each): what the next ingest
        commits. A name raw/ held before keeps counting as stored (the list holds names,
        not versions)."""
        return [n for n in self.pending() if self.path(n).is_file()]

    def pending_missing(self) -> list[str]:
        """Pending names raw/ holds no copy of (one ``stat`` each): the interrupted ingest
        never stored them (the disk filled, it was killed mid-copy); they must be ingested
        again from where they came, and the next ingest names them."""
        return [n for n in self.pending() if not self.path(n).is_file()]

    def clear_pending(self) -> None:
        (self.data_dir / PENDING).unlink(missing_ok=True)

    # ---- which version counts

    def decide(self, name: str, known: Mapping[Path, bytes] | None = None) -> Choice | None:
        """Apply the version rule (module doc) to everything stored for ``name``."""
        versions = self.versions(name, known)
        if not versions:
            return None
        events: list[tuple[int, int, RawVersion | str]] = [(v.arrival, 0, v) for v in versions]
        events += [
            (a, 1, "keep:" + p.read_text().strip()) for p, a, _ in self._entries(name, ".keep")
        ]
        events += [(a, 1, "dismiss") for _, a, _ in self._entries(name, ".dismiss")]
        accepted = self.accepted(name)
        events.sort(key=lambda e: (e[0], e[1]))
        counted = versions[0]
        chain: list[RawVersion] = []
        conflicts: list[RawVersion] = []
        dismissed: list[RawVersion] = []
        why, set_aside = "first version", False
        for _, _, event in events[1:]:
            if isinstance(event, RawVersion):
                if _norm_prefix(counted, event):  # the file grew: the longer version counts
                    chain.append(counted)
                    why, counted = f"grew from {counted.id}", event
                else:
                    conflicts.append(event)
            elif event == "dismiss":
                set_aside = True
                dismissed += conflicts
                conflicts = []
            else:
                wanted = event.removeprefix("keep:")
                target = next(v for v in versions if v.content_sha256.startswith(wanted))
                dismissed += [v for v in [counted, *conflicts] if v is not target]
                chain = [v for v in chain if _norm_prefix(v, target)]
                conflicts, counted, why, set_aside = [], target, "kept by an admin", False
        dismissed = [v for v in dismissed if v is not counted and v not in chain]
        return Choice(
            name,
            counted,
            why,
            tuple(chain),
            tuple(conflicts),
            tuple(dismissed),
            set_aside,
            counted.content_sha256 in accepted,
        )

    def _decision_marker(self, name: str, kind: str, text: str) -> None:
        folder = self._versions_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / f"{name}@{self._after_every_stamp(name, time.time_ns()):020d}.{kind}"
        write_bytes_atomic(marker, text.encode(), tmp_dir=self.incoming)
        fsync_dir(folder.parent)

    def find_version(self, name: str, version: str) -> RawVersion:
        """The stored version of ``name`` that ``version`` (an id or a longer sha prefix)
        names, or a :class:`RawStoreError` that lists the ids there are."""
        versions = self.versions(name)
        if not versions:
            raise RawStoreError(f"no stored file named {name} (see `etl-duck status`)")
        wanted = version.strip().lower()
        hits = [v for v in versions if v.content_sha256.startswith(wanted)] if wanted else []
        if len(wanted) < 6 or len(hits) != 1:
            ids = ", ".join(v.id for v in versions)
            raise RawStoreError(
                f"{name}: no single version {version!r} (give at least 6 characters of one "
                f"of: {ids})"
            )
        return hits[0]

    def keep(self, name: str, version: str) -> RawVersion:
        """An admin's choice: ``version`` (an id or a longer sha prefix) counts for ``name``
        from now on. Appends a marker; nothing stored is changed."""
        target = self.find_version(name, version)
        self._decision_marker(name, "keep", target.content_sha256)
        return target

    def accepted(self, name: str) -> set[str]:
        """The content sha256s of the versions of ``name`` an admin accepted as they are."""
        return {p.read_text().strip() for p, _, _ in self._entries(name, ".accept")}

    def accept(self, name: str) -> RawVersion:
        """An admin accepts the version of ``name`` that counts now as it is: its rejected
        lines (the server wrote them so) stop being an open problem. Appends a marker, once
        a version: an acceptance holds whenever it was made, so a repeated `resolve --accept`
        (a cron job, a retry) would only pile up markers in raw/ that nothing may delete."""
        choice = self.decide(name)
        if choice is None:
            raise RawStoreError(f"no stored file named {name} (see `etl-duck status`)")
        if not choice.accepted:
            self._decision_marker(name, "accept", choice.counted.content_sha256)
        return choice.counted

    def dismiss(self, name: str) -> None:
        """An admin sets ``name`` aside: it stays out of the lake and out of the open list
        (a later version of it is considered again)."""
        if not self.versions(name):
            raise RawStoreError(f"no stored file named {name} (see `etl-duck status`)")
        self._decision_marker(name, "dismiss", "dismissed\n")

    # ---- quarantine (copies for the admin; raw/ keeps the bytes)

    def quarantine(self, name: str, data: bytes, reason: str) -> None:
        q = self.quarantine_dir
        write_bytes_atomic(q / name, data, tmp_dir=q / INCOMING)
        write_bytes_atomic(q / f"{name}.reason", (reason + "\n").encode(), tmp_dir=q / INCOMING)

    def release(self, name: str) -> None:
        """The name reads now (a grown or chosen version): drop its quarantine copy."""
        for p in (self.quarantine_dir / name, self.quarantine_dir / f"{name}.reason"):
            p.unlink(missing_ok=True)

    # ---- listing and recovery

    def names(self) -> list[str]:
        """Every stored round (and endstats) file name, qualified with its server (a scan of
        raw/: rebuild, status and check). Date folders are the main server's; a folder named
        as a server is (:func:`~etl_duck.domain.sources.check_server_name`) is that
        server's, holding date folders of its own; any other folder is not etl-duck's and
        is skipped (``lost+found`` of a volume mounted on raw/, root's and unreadable).
        :class:`RawFolderUnreadable` names raw/, or the one server or date folder, that
        cannot be listed."""
        if not self.raw_dir.exists():
            return []
        out: list[str] = []
        for entry in _listing(self.raw_dir):
            if not entry.is_dir() or entry.name.startswith("."):
                continue
            if entry.name[:1].isdigit():  # YYYY-MM-DD: the main server
                out.extend(_files_in(Path(entry.path), MAIN_SERVER))
            elif _server_folder(entry.name):
                for day in _listing(Path(entry.path)):  # raw/<server>/YYYY-MM-DD/
                    if day.is_dir() and day.name[:1].isdigit():
                        out.extend(_files_in(Path(day.path), entry.name))
        return out

    def holds_any(self, names: Iterable[str]) -> bool:
        """True when raw/ holds the first version of at least one of ``names`` (one stat
        each): a sample of the lake's ledger that raw/ holds none of is a raw/ whose volume
        is not mounted (or that was moved), not lost files."""
        return any(self.path(name).is_file() for name in names)

    def recover(self) -> None:
        """Remove temp files of interrupted writes: stores (``raw/.incoming/.<name>.<pid>.
        <i>.tmp``; fetch's downloads in the same folder are its own), quarantine copies
        (``quarantine/.incoming/.<name>.<pid>.tmp``) and the pending list's
        (``..ingest-pending.<pid>.tmp`` beside it). Call under the writer lock."""
        for folder, pattern in (
            (self.incoming, ".*.tmp"),
            (self.quarantine_dir / INCOMING, ".*.tmp"),
            (self.data_dir, f".{PENDING}.*.tmp"),
        ):
            for leftover in folder.glob(pattern):
                leftover.unlink(missing_ok=True)


def _norm_prefix(shorter: RawVersion, longer: RawVersion) -> bool:
    """True when ``longer`` extends ``shorter`` (CRLF aside) and is not the same content."""
    if shorter.content_sha256 == longer.content_sha256:
        return False
    a = shorter.data.replace(b"\r\n", b"\n")
    b = longer.data.replace(b"\r\n", b"\n")
    return len(b) > len(a) and b.startswith(a)


def _listing(folder: Path) -> list[os.DirEntry[str]]:
    """The entries of a folder of raw/, by name; :class:`RawFolderUnreadable` names it when
    it cannot be listed (a folder deleted meanwhile is gone: no error)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda e: e.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RawFolderUnreadable(folder, exc.strerror or str(exc)) from exc


def _server_folder(name: str) -> bool:
    """A folder of raw/ named as another server is (never the main one's: its date folders
    lie in raw/ itself)."""
    try:
        return check_server_name(name) == name
    except ValueError:
        return False


def _files_in(day: Path, server: str) -> list[str]:
    return sorted(qualify(f.name, server) for f in _listing(day) if f.is_file() and _ours(f.name))


def _ours(name: str) -> bool:
    """A round stats file or an endstats file (STATS_FORMAT.md §1.1, §10)."""
    return is_stats_file_name(name) or is_endstats_file_name(name)
