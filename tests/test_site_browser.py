"""The static site in a real browser: Debian's headless Chromium, driven by Playwright.

Every page kind loads with no console error and no failed request; a crawl from the home
page reaches every page of the site through links that all resolve; the numbers on a
player's page equal ``etl-duck player --json``, ``etl-duck rating NAME --json`` and
``etl-duck bests NAME --json``; the player search works from ``file://`` (a file share);
screenshots of the home, a session, a player and the records page at desktop and phone
widths are written to ``build/test-output/site/`` (or ``$ETL_DUCK_SCREENSHOT_DIR``).

Skipped, saying why, when Chromium (``apt-get install chromium``) or the Playwright
package is missing. Playwright drives the system Chromium (``executable_path``): its own
browser download is not used.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse
from urllib.request import urlopen

import pytest
from typer.testing import CliRunner

from etl_duck.cli import app
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from etl_duck.site import SiteOptions, build_site, publish, urls
from tests import sitecheck
from tests.bot_fakes import lake_copy, lake_sql
from tests.sitecheck import versus_file

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VID = "D8423F90"
DESKTOP: Any = {"width": 1280, "height": 800}
PHONE: Any = {"width": 390, "height": 844}


def _why_not() -> str | None:
    if not Path(CHROMIUM).is_file():
        return "Chromium is not installed (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=f"browser test: {_why_not()}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("browser")
    data = lake_copy(tmp_path_factory, base / "data")
    ingest_paths(data, [versus_file(data, base)])  # rivals on the player pages
    build_site(Stats(data, min_rounds=1), base / "site", SiteOptions(title="Test community"))
    return data, base / "site"


@pytest.fixture(scope="module")
def server(site: tuple[Path, Path]) -> Iterator[str]:
    """The site over HTTP on 127.0.0.1 (a static host), from the published link."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site[1]))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS, viewport=DESKTOP
        )
        try:
            yield context
        finally:
            context.close()


class Watched:
    """A page whose console errors, uncaught exceptions and failed requests are recorded."""

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.page.set_default_timeout(10_000)  # a static page: anything slower is a failure
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", self._failed)
        self.page.on(
            "response",
            lambda r: (
                self.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
            ),
        )

    def _failed(self, request: Any) -> None:
        # a request cut short by the next navigation (the favicon, typically) is no error;
        # a missing file is (it also shows as an HTTP 404 below)
        if "ERR_ABORTED" not in (request.failure or ""):
            self.problems.append(f"failed: {request.url} ({request.failure})")

    def open(self, url: str) -> Any:
        self.page.goto(url, wait_until="load")
        return self.page

    def links(self) -> list[str]:
        found: list[str] = self.page.eval_on_selector_all(
            "a[href], link[href], script[src]", "els => els.map(e => e.href || e.src)"
        )
        return found


@contextlib.contextmanager
def watched(context: Any) -> Iterator[Watched]:
    w = Watched(context)
    try:
        yield w
    finally:
        w.page.close()


def page_kinds(data: Path) -> dict[str, str]:
    sid = lake_sql(data, "SELECT max(session_id) FROM {t}", "rounds")[0][0]
    return {
        "home": urls.home(),
        "sessions": urls.sessions(),
        "year": urls.sessions_year(2025),
        "session": urls.session(sid),
        "players": urls.players(),
        "player": urls.player(VID),
        "leaderboards": urls.leaderboards(),
        "leaderboard": urls.leaderboard("dpm", "month"),
        "rating": urls.rating(),
        "records": urls.records(),
    }


def test_every_page_kind_loads_cleanly_and_the_crawl_finds_no_broken_link(
    site: tuple[Path, Path], server: str, browser: Any
) -> None:
    data, root = site
    kinds = page_kinds(data)
    to_visit = [server + p for p in kinds.values()]
    seen: set[str] = set()
    with watched(browser) as w:
        for url in to_visit:  # each kind in the browser: scripts, styles, charts, no error
            w.open(url)
            assert w.page.title().endswith("Test community"), url
            seen.add(url)
        assert w.problems == [], w.problems
    # the crawl: every link of every reachable page, fetched from the server
    queue, pages = [server + urls.home()], set()
    while queue:
        url = queue.pop()
        if url in pages:
            continue
        pages.add(url)
        with urlopen(url) as resp:  # raises on 404
            assert resp.status == 200, url
            body = resp.read()
        if not url.endswith(".html"):
            continue
        parser = sitecheck._Page()
        parser.feed(body.decode())
        for href in parser.links:
            target = urljoin(url, href).split("#", 1)[0]
            assert urlparse(target).netloc == urlparse(server).netloc, f"{url} → {target}"
            queue.append(target)
    listed = json.loads((root / publish.MANIFEST).read_text())["pages"]
    html = {server + p for p in listed if p.endswith(".html")}
    assert html <= pages, f"pages no link reaches: {sorted(html - pages)[:5]}"


def cli_json(data: Path, *args: str) -> Any:
    out = CliRunner().invoke(app, ["--data-dir", str(data), *args, "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def test_player_page_numbers_equal_the_cli(
    site: tuple[Path, Path], server: str, browser: Any
) -> None:
    data, _ = site
    card = cli_json(data, "player", VID)
    with watched(browser) as w:
        page = w.open(server + urls.player(VID))
        cells = page.eval_on_selector_all(
            "[data-stat]",
            """els => els.map(e => {
                 const tr = e.closest('tr'), d = tr ? tr.dataset : {};
                 const row = d.weapon ? 'weapon:' + d.weapon : d.map ? 'map:' + d.map
                           : d.best ? 'best:' + d.best : d.mate ? 'mate:' + d.mate
                           : d.rival ? 'rival:' + d.rival : '';
                 return [row, e.dataset.stat, e.dataset.value ?? null, e.textContent.trim()];
               })""",
        )
        assert w.problems == []
    career = {stat: (value, text) for row, stat, value, text in cells if row == ""}
    assert career["guid"][1] == card["guid"]
    for stat in ("rounds", "kills", "deaths", "damage_given", "time_played_s", "revives",
                 "gibs", "objectives", "multikills"):  # fmt: skip
        assert int(career[stat][0]) == card[stat], stat
        assert career[stat][1] == f"{card[stat]:,}", stat
    for stat, decimals in (("kd", 2), ("dpm", 1), ("accuracy", 1), ("headshot_rate", 1),
                           ("efficiency", 1)):  # fmt: skip
        assert float(career[stat][0]) == card[stat], stat  # the same float, to the last bit
        assert career[stat][1] == f"{card[stat]:,.{decimals}f}", stat
    weapons = {row[7:]: int(v) for row, stat, v, _ in cells if row.startswith("weapon:")
               and stat == "kills"}  # fmt: skip
    for w_row in card["weapons"]:  # the CLI's top five
        assert weapons[w_row["weapon"]] == w_row["kills"]
    maps = {row[4:]: int(v) for row, stat, v, _ in cells if row.startswith("map:")
            and stat == "rounds"}  # fmt: skip
    assert maps == {m["map_name"]: m["rounds"] for m in card["maps"]}

    # the rating card, as `etl-duck rating` prints it, and the personal bests to the last bit
    rating = cli_json(data, "rating", VID)
    for stat, shown in (("rating", f"{rating['rating']:.1f}"), ("mu", f"{rating['mu']:.2f}"),
                        ("sigma", f"{rating['sigma']:.2f}"), ("trend", f"{rating['trend']:+.1f}"),
                        ("maps", str(rating["maps"])), ("rank", str(rating["rank"])),
                        ("ranked_players", str(rating["ranked_players"]))):  # fmt: skip
        assert career[f"rating-{stat}"][1] == shown, stat
    bests = {row[5:]: float(v) for row, stat, v, _ in cells if row.startswith("best:")
             and stat == "value"}  # fmt: skip
    assert bests == {b["kind"]: b["value"] for b in cli_json(data, "bests", VID)["bests"]}
    assert any(row.startswith("mate:") for row, *_ in cells)
    assert any(row.startswith("rival:") for row, *_ in cells)


def test_search_works_from_a_file_share(site: tuple[Path, Path], browser: Any) -> None:
    from playwright.sync_api import expect

    _, root = site
    with watched(browser) as w:
        page = w.open((root / urls.sessions()).resolve().as_uri())
        page.fill("#player-search", "vid")
        first = page.locator("#search-results a").first
        first.wait_for()
        assert "vid" in first.inner_text()
        first.click()
        page.wait_for_url(f"**/{urls.player(VID)}")
        assert page.locator("h1").inner_text() == "vid"
        page.fill("#player-search", "zzzz-nobody")  # the index loads again on this page
        expect(page.locator("#search-results")).to_have_text("No player matches.")
        assert w.problems == []


def test_screenshots_at_desktop_and_phone_widths(
    site: tuple[Path, Path], server: str, browser: Any
) -> None:
    data, _ = site
    out = Path(os.environ.get("ETL_DUCK_SCREENSHOT_DIR", ROOT / "build" / "test-output" / "site"))
    out.mkdir(parents=True, exist_ok=True)
    kinds = page_kinds(data)
    with watched(browser) as w:
        for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
            w.page.set_viewport_size(size)
            for kind in ("home", "session", "player", "records"):
                page = w.open(server + kinds[kind])
                path = out / f"{kind}-{size_name}.png"
                page.screenshot(path=str(path), full_page=True)
                assert path.stat().st_size > 10_000
                # readable on a phone: nothing wider than the screen but scrollable tables
                if size_name == "phone":
                    overflow = page.evaluate("document.documentElement.scrollWidth")
                    assert overflow <= size["width"], f"{kind} is {overflow}px wide on a phone"
        assert w.problems == []
