"""Several game servers in one lake: every file is known by its *qualified name*.

A community may run more than one server (public, scrim, event) whose Lua writes files of
the same names. The first server — the only one of a one-server community — is the *main*
server: its files keep their own names (and so their raw paths, round ids and session ids:
a lake written before servers existed reads unchanged). Every other server's files are
``<name>#<server>``: unique in the ledger, the round index and the raw store, and the
server is a column of every table.
"""

from __future__ import annotations

import hashlib
import re

SEPARATOR = "#"
MAIN = ""  # the main server's name inside the lake
MAIN_LABEL = "main"  # how people name it (`--server main`)
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
#: session ids are YYYYMMDDHHMMSS (< 10^14); another server's sessions add its code × 10^14
SESSION_SPAN = 10**14


def qualify(name: str, server: str) -> str:
    """The lake's name of ``name`` as written by ``server``."""
    return name if server == MAIN else f"{name}{SEPARATOR}{server}"


def split(qualified: str) -> tuple[str, str]:
    """(the file's own name, its server) of a qualified name."""
    name, _, server = qualified.partition(SEPARATOR)
    return name, server


def server_of(qualified: str) -> str:
    return qualified.partition(SEPARATOR)[2]


def check_server_name(name: str) -> str:
    """A server name as configured: lower-case letters, digits, `_` and `-`, starting with a
    letter (it names a folder of raw/ and never looks like a date); ``main`` is the main
    server. ValueError otherwise."""
    if name in (MAIN, MAIN_LABEL):
        return MAIN
    if _NAME.match(name) is None:
        raise ValueError(
            f"server name {name!r}: use 1–32 lower-case letters, digits, '_' or '-', "
            "starting with a letter"
        )
    return name


def label(server: str) -> str:
    """A server as people read it."""
    return server or MAIN_LABEL


def session_offset(server: str) -> int:
    """Added to a session id of ``server`` so two servers' sessions starting the same second
    differ (the main server's ids are the plain start time)."""
    if server == MAIN:
        return 0
    code = 1 + int.from_bytes(hashlib.blake2b(server.encode(), digest_size=4).digest()) % 9000
    return code * SESSION_SPAN
