"""Download one remote file into memory, verified against its listed size (a file that
grew or shrank meanwhile is refused and fetched again once it is stable)."""

from __future__ import annotations

import contextlib
import time

import asyncssh

from etl_duck.fetch.remote import RemoteFile
from etl_duck.fetch.sftp import CONNECTION_ERRORS, Connection, FetchError

_SAFE_READ = 16 * 1024  # read length every SFTP server accepts


class SizeMismatch(Exception):
    """The file changed between the listing and the download."""


class DownloadTimeout(Exception):
    """The file did not arrive whole within the fetch timeout (a huge file on a slow link, a
    stalled server): that file's failure, not a lost connection."""


async def download(
    link: Connection, sftp: asyncssh.SFTPClient, f: RemoteFile, timeout_s: float
) -> bytes:
    """The whole file, read with one request per call (block_size=0), at most what the
    server accepts per read. Remote files are opened read-only, never written.

    Every request goes through :meth:`Connection.call`: the file as a whole has
    ``timeout_s``, and the CLOSE has its own deadline (a stalled server never answers it:
    the link is then aborted, and the file is still only this file's failure)."""
    chunks: list[bytes] = []
    got = 0
    max_read = sftp.limits.max_read_len or _SAFE_READ
    until = time.monotonic() + timeout_s
    try:
        fh = await link.call(
            sftp.open(link.remote_path(f.raw_name), "rb", block_size=0),
            f"open of {f.name}",
            until=until,
        )
        try:
            while True:
                # ask for one byte more than listed: a file that grew since the listing
                # is noticed now instead of storing a prefix of it, and a small file
                # takes one round trip (a short read that ends exactly at the listed
                # size is EOF; one that ends earlier may be a server's choice: go on)
                want = min(max_read, f.size + 1 - got)
                data: bytes = await link.call(fh.read(want, got), f"read of {f.name}", until=until)
                if not data:
                    break  # EOF
                got += len(data)
                chunks.append(data)
                if got > f.size or (len(data) < want and got == f.size):
                    break
        finally:
            # not `async with`: its exit awaits the CLOSE reply with no limit at all. What
            # was read is whole or refused either way; a close that fails or goes
            # unanswered (the link is then aborted) changes nothing about this file
            with contextlib.suppress(FetchError, asyncssh.Error, *CONNECTION_ERRORS):
                await link.call(fh.close(), f"close of {f.name}")
    except TimeoutError:
        raise DownloadTimeout(
            f"not complete within {timeout_s:g} s ({got} of {f.size} B); "
            "fetched after the others from now on"
        ) from None
    if got != f.size:
        what = "grew" if got > f.size else "shrank"
        raise SizeMismatch(f"size changed during download ({what}: listed {f.size} B)")
    return b"".join(chunks)


def sftp_reason(exc: asyncssh.SFTPError, user: str | None = None) -> str:
    """Why the server refused a file, and the fix (the server's own reason is only its
    code in words, "Permission denied": never repeated after ours)."""
    who = f"the SSH user {user}" if user else "the SSH user"
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        # the game server writes its files with its own umask: one chmod is not enough
        group = f"with {user or 'that user'} in the game server's group"
        return (
            f"permission denied — {who} cannot read it: make the game server's round files "
            f"readable (chmod o+r for this one; for the next ones start the game server with "
            f"umask 022, or 027 {group})"
        )
    if isinstance(exc, asyncssh.SFTPNoSuchFile):
        return (
            "gone from the game server between its listing and its download (deleted or "
            "moved there): if a cleanup moves round files away, let it wait for them to be "
            "fetched"
        )
    why = (exc.reason or type(exc).__name__).rstrip(".")
    return (
        f"SFTP error on the game server ({why[:1].lower()}{why[1:]}): the next poll tries it "
        "again; if it keeps failing, check that file there"
    )
