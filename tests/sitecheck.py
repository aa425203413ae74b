"""Reading the static site's HTML in tests: links and the machine-readable numbers
(``data-stat`` / ``data-value`` attributes) with the standard library's parser; and the
endstats file that gives the site tests' lake its rivals."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from tests.bot_fakes import lake_sql

LAST_R2_ENDSTATS = "2025-11-11-233910-braundorf_b4-round-2-endstats.txt"

ROW_KEYS = ("data-guid", "data-weapon", "data-map", "data-best", "data-mate", "data-rival",
            "data-record")  # fmt: skip


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.values: dict[str, dict[str, str]] = {}  # row key ("" outside rows) → stat → value
        self.texts: dict[str, dict[str, str]] = {}
        self._row = ""
        self._open: tuple[str, str] | None = None  # (row, stat) whose text is being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for attr in ("href", "src"):
            if attr in a and tag in ("a", "link", "script"):
                self.links.append(a[attr])
        if tag == "tr":
            self._row = next((f"{k}={a[k]}" for k in ROW_KEYS if k in a), "")
        if "data-stat" in a:
            stat = a["data-stat"]
            self.values.setdefault(self._row, {})[stat] = a.get("data-value", "")
            self._open = (self._row, stat)
            self.texts.setdefault(self._row, {})[stat] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = ""
        if tag in ("td", "dd", "code", "span", "strong"):
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            row, stat = self._open
            self.texts[row][stat] += data


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text())
    return page


def local_links(page_path: Path, root: Path) -> list[Path]:
    """Every link of a page that points inside the site, as a file path under ``root``."""
    out = []
    for href in parse(page_path).links:
        if href.startswith(("http:", "https:", "mailto:", "#", "javascript:")):
            continue
        target = (page_path.parent / href.split("#", 1)[0]).resolve()
        out.append(target)
    return out


def all_pages(root: Path) -> list[Path]:
    return sorted(p for p in root.resolve().rglob("*.html"))


def versus_file(data: Path, folder: Path) -> Path:
    """The newer endstats writer's file for the evening's last round (a VS_HEADER block per
    player: whom he killed, who killed him), so players have rivals. Kills are made up, the
    same pair seen consistently from both sides."""
    rows = lake_sql(
        data,
        """SELECT name, guid, team FROM {t} WHERE NOT is_bot AND team IN (1, 2)
           AND map_name = 'braundorf_b4' AND round_number = 2
           AND end_time = TIMESTAMP '2025-11-11 23:39:11'""",
    )
    team = {str(n): t for n, _, t in rows}
    guid = {str(n): str(g) for n, g, _ in rows}
    assert len(team) == 6

    def kills(a: str, b: str) -> int:
        return (len(a) * 3 + len(b)) % 7

    lines = ["Most damage given\tvid\t3214"]
    for a in sorted(team):
        lines.append(f"VS_HEADER\t{a}\t{guid[a]}{'0' * 24}")
        lines += [f"{b}\t{kills(a, b)}\t{kills(b, a)}" for b in sorted(team) if team[b] != team[a]]
    path = folder / LAST_R2_ENDSTATS
    path.write_text("\n".join(lines) + "\n")
    return path
