"""Where each page of the static site lives: one function per page kind, relative to the
site root, plus absolute links for the bot (``ETL_DUCK_SITE_URL``).

Pure and cheap (no Stats, no Jinja), so the bot can import it for its links.

Every path is built from a :class:`Scope`: the whole community, or one game server
(``Scope(server="scrim")``), whose pages (its home, leaderboards and session lists) live
under ``servers/scrim/`` (``servers/main/`` for the first server) beside the community's.
Session and player pages exist once, in the community's scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def slug(text: str) -> str:
    """A file-name-safe form of an identifier (GUIDs are hex, but they come from files)."""
    cleaned = _UNSAFE.sub(lambda m: f"~{ord(m.group(0)):x}", text)
    return cleaned or "_"


@dataclass(frozen=True)
class Scope:
    """Which rounds a set of pages covers: all (``server=None``) or one game server."""

    server: str | None = None

    @property
    def prefix(self) -> str:
        from etl_duck.domain.sources import label

        return "" if self.server is None else f"servers/{slug(label(self.server))}/"


ALL = Scope()


def home(scope: Scope = ALL) -> str:
    return f"{scope.prefix}index.html"


def sessions(scope: Scope = ALL) -> str:
    return f"{scope.prefix}sessions/index.html"


def sessions_year(year: int, scope: Scope = ALL) -> str:
    return f"{scope.prefix}sessions/{year:04d}.html"


def session(session_id: int, scope: Scope = ALL) -> str:
    return f"{scope.prefix}sessions/{int(session_id)}.html"


def players(scope: Scope = ALL) -> str:
    return f"{scope.prefix}players/index.html"


def player(guid: str, scope: Scope = ALL) -> str:
    return f"{scope.prefix}players/{slug(guid)}.html"


def leaderboards(scope: Scope = ALL) -> str:
    return f"{scope.prefix}leaderboards/index.html"


def leaderboard(metric: str, window: str, scope: Scope = ALL) -> str:
    return f"{scope.prefix}leaderboards/{slug(metric)}-{slug(window)}.html"


def records(scope: Scope = ALL) -> str:
    return f"{scope.prefix}records.html"


def rating(scope: Scope = ALL) -> str:
    """The skill rating list (no dash: it cannot clash with a metric's leaderboard)."""
    return f"{scope.prefix}leaderboards/rating.html"


def relative(from_path: str, to_path: str) -> str:
    """``to_path`` as a link from the page at ``from_path`` (both relative to the root), so
    the site works from any folder, any host path and ``file://``."""
    depth = from_path.count("/")
    return "../" * depth + to_path


class SiteLinks:
    """Absolute page URLs under a base URL (the bot's embeds link to them); ``None`` when
    no site URL is configured, so callers simply leave the link out."""

    def __init__(self, base_url: str | None) -> None:
        base = (base_url or "").strip()
        self.base = base.rstrip("/") + "/" if base else None

    def _url(self, path: str) -> str | None:
        return None if self.base is None else self.base + quote(path)

    def session(self, session_id: int) -> str | None:
        return self._url(session(session_id))

    def player(self, guid: str) -> str | None:
        return self._url(player(guid))

    def leaderboard(self, metric: str, window: str, server: str | None = None) -> str | None:
        """The page of a named window (all, season, …), of every server or one; None for a
        date range, or one server's last session (no page)."""
        from etl_duck.query.windows import WINDOWS

        if window not in WINDOWS or (server is not None and window == "session"):
            return None
        return self._url(leaderboard(metric, window, Scope(server)))

    def server(self, server: str) -> str | None:
        """One game server's home page."""
        return self._url(home(Scope(server)))

    def sessions(self, server: str | None = None) -> str | None:
        """The session list, of every server or one (``server``: its pages exist)."""
        return self._url(sessions(Scope(server)))

    def records(self) -> str | None:
        return self._url(records())

    def rating(self) -> str | None:
        return self._url(rating())

    def home(self) -> str | None:
        return self._url(home())
