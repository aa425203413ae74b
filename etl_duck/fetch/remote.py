"""The game server's stats folder as we see it: safe names, listing with lstat semantics
(only regular files), and the stability rule for files the Lua may still be writing.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Container
from dataclasses import dataclass

import asyncssh

from etl_duck.domain.endstats import is_endstats_file_name, parse_endstats_name
from etl_duck.domain.parse import ParseError, is_stats_file_name, parse_file_name
from etl_duck.fetch.sftp import (
    CONNECTION_ERRORS,
    Connection,
    FetchConnectionError,
    FetchError,
    Progress,
)
from etl_duck.lake.rawstore import FILE_NAME_MAX

log = logging.getLogger(__name__)

#: bytes: what the raw store can hold under every name it derives (temp files, versions)
_NAME_MAX = FILE_NAME_MAX


def display_name(name: str | bytes) -> str:
    """A name safe to print or log: invalid UTF-8 and control/format characters escaped."""
    text = name.decode("utf-8", "backslashreplace") if isinstance(name, bytes) else name
    return "".join(
        c if unicodedata.category(c) not in _UNSAFE_CATEGORIES else ascii(c)[1:-1] for c in text
    )


#: Control, format (bidi overrides, zero-width), line/paragraph separators, surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
#: the only ASCII characters in those categories (Cc): an ASCII name needs no per-character
#: Unicode lookup (a listing of 30,000 names spent ~0.8 s of CPU on it every poll)
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def hostile_reason(raw: bytes) -> str | None:
    """Why a remote name must not be used as a local file name, or None when it is safe.

    The server is not trusted: a name with a separator or ``..`` could escape the raw store,
    control characters can hide in logs and terminals (and ``$`` in a regex matches before a
    trailing newline, so the stats pattern alone would accept ``…-round-1.txt\\n``).
    """
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "name is not valid UTF-8"
    if name.startswith("/"):
        return "absolute path"
    if "/" in name or "\\" in name:
        parts = name.replace("\\", "/").split("/")
        return "path traversal" if ".." in parts else "contains a path separator"
    if (
        _ASCII_CONTROL.search(name) is not None
        if name.isascii()
        else any(unicodedata.category(c) in _UNSAFE_CATEGORIES for c in name)
    ):
        return "control or invisible character in name"
    if "#" in name:  # our names mark a file of another game server with it: NAME#SERVER
        return "contains '#' (etl-duck's mark of another game server's file)"
    if len(raw) > _NAME_MAX:
        # longer names fail in the raw store (its temp and version names add to them), and
        # with them the whole batch, poll after poll
        return (
            f"name longer than {_NAME_MAX} bytes, more than the raw store can hold: rename "
            "it on the game server to a shorter name of the same pattern"
        )
    return None


#: a round (or endstats) file's name anywhere in a name: date-time stamp ... -round-N.txt
_LOOKS_OURS = re.compile(r"\d{4}-\d{2}-\d{2}-\d{6}-.*-round-\d+(?:-endstats)?\.txt", re.DOTALL)


def looks_like_ours(raw: bytes) -> bool:
    """Whether a remote name is, or pretends to be, a stats or endstats file: those are
    checked for hostile parts and reported when unusable. Anything else in the folder (an
    admin's notes in Latin-1, weapon stats) is not ours and is ignored, whatever its bytes:
    reporting it would make every ``etl-duck fetch`` exit 3 for a file we never want."""
    return _LOOKS_OURS.search(raw.decode("utf-8", "replace")) is not None


@dataclass(frozen=True, slots=True)
class RemoteFile:
    name: str
    raw_name: bytes  # exactly as the server sent it: used to open the file
    size: int
    mtime: int | None


Skip = Callable[[str, str], None]  # (display name, reason)


async def list_stats_files(
    link: Connection,
    max_bytes: int,
    skip: Skip,
    failed: Callable[[str, str], None],
    valid: Container[str] = (),
) -> tuple[list[RemoteFile], int]:
    """The stats files of the remote folder (and how many safe stats names it holds).
    Hostile names, non-regular entries and oversized files are reported through ``skip``.
    ``valid``: names the caller saw pass the file-name parser before (a name's verdict
    never changes), so a poll parses only the names that are new to it."""
    folder = link.remote_dir.decode("utf-8", "backslashreplace")
    for attempt in (1, 2):
        reused = link.open
        sftp = await link.client()
        progress = Progress()
        try:
            entries = await link.call(
                _read_dir(sftp, link.remote_dir, progress),
                f"listing {folder!r}",
                progress=progress,
            )
            break
        except CONNECTION_ERRORS as exc:
            await link.drop()
            # a connection kept between polls may have died quietly (server restart):
            # one fresh attempt at once, before the caller's backoff
            if not reused or attempt == 2:
                msg = f"connection to {link.where} lost: {exc}"
                raise FetchConnectionError(msg) from None
        except asyncssh.SFTPError as exc:
            raise FetchError(_listing_problem(exc, folder, link)) from None
    files: list[RemoteFile] = []
    listed = 0
    for entry in entries:
        raw = entry.filename
        assert isinstance(raw, bytes)
        if raw in (b".", b"..") or not looks_like_ours(raw):
            continue
        reason = hostile_reason(raw)
        if reason is not None:
            skip(display_name(raw), reason)
            continue
        name = raw.decode("utf-8")
        endstats = is_endstats_file_name(name)  # awards and versus rows (§10): ours too
        if not (endstats or is_stats_file_name(name)):
            continue  # weapon stats, anything else: not ours, not reported
        listed += 1
        attrs = entry.attrs
        if attrs.type not in (asyncssh.FILEXFER_TYPE_REGULAR, asyncssh.FILEXFER_TYPE_UNKNOWN):
            skip(name, "not a regular file")
            continue
        if name not in valid:
            try:
                parse_endstats_name(name) if endstats else parse_file_name(name)
            except ParseError as exc:
                skip(name, exc.reason)
                continue
        if attrs.size is None:
            failed(name, "server did not report a size")
            continue
        if attrs.size > max_bytes:
            skip(
                name,
                f"larger than fetch_max_file_bytes ({attrs.size:,} B): raise "
                "ETL_DUCK_FETCH_MAX_FILE_BYTES if it is a real round file",
            )
            continue
        files.append(RemoteFile(name, raw, attrs.size, attrs.mtime))
    return files, listed


def _listing_problem(exc: asyncssh.SFTPError, folder: str, link: Connection) -> str:
    """Why the stats folder could not be listed, and the fix: the setting that names it, or
    the permission the SSH user lacks (never the server's bare "No such file")."""
    s = link.settings
    setting = (
        "ETL_DUCK_SSH_REMOTE_DIR"
        if not s.server_name
        else "its ETL_DUCK_SERVERS entry's ssh_remote_dir"
    )
    said = f"cannot list the stats folder {folder!r} on {link.where}"
    # OpenSSH answers "no such file" for a file in the folder's place too (ENOTDIR)
    if isinstance(exc, (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNotADirectory)):
        home = f" (a relative path starts in {s.ssh_user}'s home folder)"
        if folder.startswith("/"):
            home = ""
        return (
            f"{said}: it does not exist or is not a folder — set {setting} to the folder the "
            f"game server writes its round files into{home}"
        )
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return (
            f"{said}: permission denied — let the SSH user {s.ssh_user} list it (chmod o+rx on "
            f"it and o+x on the folders above it, or the same for a group {s.ssh_user} is in)"
        )
    why = (exc.reason or type(exc).__name__).rstrip(".")
    return (
        f"{said}: {why[:1].lower()}{why[1:]} — check that {setting} is the game server's stats "
        f"folder and that {s.ssh_user} can list it"
    )


async def _read_dir(
    sftp: asyncssh.SFTPClient, path: bytes, progress: Progress
) -> list[asyncssh.SFTPName]:
    """The folder's entries (bytes in, bytes names out), ticking ``progress`` as answers
    arrive (one READDIR request per batch of names)."""
    entries: list[asyncssh.SFTPName] = []
    async for entry in sftp.scandir(path):
        entries.append(entry)
        progress.tick()
    return entries


async def is_regular(
    link: Connection, sftp: asyncssh.SFTPClient, raw_name: bytes, name: str
) -> bool:
    """lstat the remote entry: listings may report a symbolic link as a regular file (its
    target's attributes), and we fetch regular files only — never a link's target."""
    attrs = await link.call(sftp.lstat(link.remote_path(raw_name)), f"lstat of {name}")
    if attrs.type == asyncssh.FILEXFER_TYPE_UNKNOWN and attrs.permissions is not None:
        return (attrs.permissions & 0o170000) == 0o100000  # S_IFREG, for SFTPv3 servers
    return bool(attrs.type == asyncssh.FILEXFER_TYPE_REGULAR)
