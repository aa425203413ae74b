"""Download one remote file into memory, verified against its listed size (a file that
grew or shrank meanwhile is refused and fetched again once it is stable)."""

from __future__ import annotations

import asyncio

import asyncssh

from etl_duck.fetch.remote import RemoteFile
from etl_duck.fetch.sftp import Connection

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
    server accepts per read. Remote files are opened read-only, never written."""
    chunks: list[bytes] = []
    got = 0
    max_read = sftp.limits.max_read_len or _SAFE_READ
    try:
        async with asyncio.timeout(timeout_s):
            async with sftp.open(link.remote_path(f.raw_name), "rb", block_size=0) as fh:
                while True:
                    # ask for one byte more than listed: a file that grew since the listing
                    # is noticed now instead of storing a prefix of it, and a small file
                    # takes one round trip (a short read that ends exactly at the listed
                    # size is EOF; one that ends earlier may be a server's choice: go on)
                    want = min(max_read, f.size + 1 - got)
                    data: bytes = await fh.read(want, got)
                    if not data:
                        break  # EOF
                    got += len(data)
                    chunks.append(data)
                    if got > f.size or (len(data) < want and got == f.size):
                        break
    except TimeoutError:
        raise DownloadTimeout(
            f"not complete within {timeout_s:g} s ({got} of {f.size} B); "
            "fetched after the others from now on"
        ) from None
    if got != f.size:
        what = "grew" if got > f.size else "shrank"
        raise SizeMismatch(f"size changed during download ({what}: listed {f.size} B)")
    return b"".join(chunks)


def sftp_reason(exc: asyncssh.SFTPError) -> str:
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return f"permission denied ({exc.reason})"
    if isinstance(exc, asyncssh.SFTPNoSuchFile):
        return f"vanished before download ({exc.reason})"
    return f"SFTP error: {exc.reason}"
