"""``build_site``: render the pages whose key changed, link the rest, publish atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from etl_duck.query.stats import Stats
from etl_duck.site.pages import Page, Plan, SiteOptions, page_key
from etl_duck.site.publish import FORMAT, MANIFEST, SiteDir, link_or_copy
from etl_duck.site.render import asset
from etl_duck.site.urls import Scope

log = logging.getLogger(__name__)

ASSETS = {
    "assets/site.css": "site.css",
    "assets/search.js": "search.js",
    "assets/favicon.svg": "favicon.svg",
}
ATTEMPTS = 3  # a commit landing during a build: start over (at most this often)


@dataclass
class SiteReport:
    out: Path
    version: int  # the site version now published (0: nothing yet)
    lake_version: int
    pages: int = 0
    rendered: int = 0
    reused: int = 0
    removed: int = 0
    repaired: int = 0  # of those rendered: missing or damaged in the published version
    published: bool = False
    full: bool = False
    seconds: float = 0.0
    written: list[str] = field(default_factory=list)  # paths rendered this time

    def summary(self) -> str:
        if not self.published:
            return (
                f"site v{self.version} is up to date with lake v{self.lake_version} "
                f"({self.pages} pages, {self.seconds:.2f} s)"
            )
        repaired = f" ({self.repaired} missing or damaged)" if self.repaired else ""
        return (
            f"site v{self.version} published from lake v{self.lake_version}: "
            f"{self.rendered} pages rendered{repaired}, {self.reused} unchanged, "
            f"{self.removed} removed ({self.pages} in all) in {self.seconds:.2f} s"
        )


def build_site(
    stats: Stats, out: Path | str, options: SiteOptions | None = None, *, full: bool = False
) -> SiteReport:
    """Bring the site at ``out`` up to the lake's current version.

    Only pages whose key changed since the published version are rendered (``full``:
    all of them); the new version is published with one atomic link swap. A commit that
    lands during the build restarts it, so a published site is one lake version
    throughout (its links all resolve)."""
    options = options or SiteOptions()
    site = SiteDir(out)
    t0 = time.perf_counter()
    with site.lock():
        for attempt in range(1, ATTEMPTS + 1):
            report = _attempt(stats, site, options, full, last=attempt == ATTEMPTS)
            if report is not None:
                # also when nothing changed: a build killed mid-way left its staging folder
                site.prune()
                report.seconds = time.perf_counter() - t0
                log.info("%s", report.summary())
                return report
            log.info("the lake changed during the site build; starting over")
    raise AssertionError("unreachable: the last attempt always returns")


def _attempt(
    stats: Stats, site: SiteDir, options: SiteOptions, full: bool, *, last: bool
) -> SiteReport | None:
    lake_version = stats.version()
    prev_dir, prev = site.current()
    lake = lake_id(stats)
    comparable = prev.get("lake_version", 0) <= lake_version and prev.get("lake") == lake
    if not comparable:
        full = True  # another lake (recreated, or another data dir): keys are not comparable
    live = sorted(set().union(*stats.serving.partitions.values()))
    gone = gone_dates(stats, live, prev if comparable else {}, lake_version)
    plan = Plan(stats, options, gone)
    # code, templates, options, the admins' team corrections and today (relative windows
    # say "(latest data)" depending on it): all a key holds but the lake
    teams = stats.teams.teams_revision() if stats.teams is not None else 0
    inputs = page_key(*plan.base, teams, stats.today())  # the server's date
    # published pages that cannot be reused (removed by hand, cut short): rendered again
    usable = {} if full or prev_dir is None else reusable(prev_dir, prev)
    broken = set() if full else {path for path in prev.get("pages", {}) if path not in usable}
    if (
        not full
        and prev_dir is not None
        and prev.get("lake_version") == lake_version
        and prev.get("inputs") == inputs
        and not broken
    ):
        # the same lake version and the same inputs give the same keys: nothing to compute
        # (a fresh process would otherwise replay the rating to find that out)
        return SiteReport(site.out, int(prev["version"]), lake_version, len(prev["pages"]))
    pages = plan.pages()
    for server in plan.servers:  # several game servers: each one's own pages too
        pages += Plan(stats, replace(options, scope=Scope(server)), gone).pages()
    pages += [_asset_page(path, name) for path, name in ASSETS.items()]
    old: dict[str, str] = {} if full or prev_dir is None else prev.get("pages", {})
    stale = [p for p in pages if old.get(p.path) != p.key or p.path in broken]
    current = {p.path for p in pages}
    removed = [path for path in old if path not in current]
    report = SiteReport(site.out, int(prev.get("version", 0)), lake_version, pages=len(pages))
    report.full = full
    if prev_dir is not None and not stale and not removed and not full:
        return report  # nothing changed: no new version
    repair = [p.path for p in stale if old.get(p.path) == p.key]
    if repair:
        log.warning("%d pages of the published site %s are missing or damaged (%s): "
                    "rendered again", len(repair), site.out, ", ".join(repair[:3]))  # fmt: skip
    report.repaired = len(repair)
    plan.prepare(stale)
    version = site.next_version(report.version)
    staged = site.stage(version)
    sizes: dict[str, int] = {}
    try:
        stale_paths = {p.path for p in stale}
        folders: set[str] = set()
        for page in pages:
            folder = page.path.rpartition("/")[0]
            if folder and folder not in folders:
                os.makedirs(staged / folder, exist_ok=True)
                folders.add(folder)
            if page.path not in stale_paths:
                assert prev_dir is not None
                if link_or_copy(prev_dir / page.path, staged / page.path):
                    sizes[page.path] = usable[page.path]
                    continue
                report.repaired += 1  # removed since ``reusable`` looked: rendered after all
            data = page.render()
            (staged / page.path).write_bytes(data)
            sizes[page.path] = len(data)
            report.written.append(page.path)
        if not last and stats.version() != lake_version:
            site.discard(staged)
            return None
        manifest = {
            "format": FORMAT,
            "version": version,
            "lake_version": lake_version,
            "lake": lake,
            "inputs": inputs,
            "dates": live,
            "gone": gone,
            "pages": {p.path: p.key for p in pages},
            "sizes": sizes,  # what ``reusable`` checks the published files against
        }
        (staged / MANIFEST).write_text(json.dumps(manifest, separators=(",", ":")))
        site.publish(staged, version)
    except BaseException:
        site.discard(staged)
        raise
    report.version = version
    report.rendered = len(report.written)
    report.reused = len(pages) - len(report.written)
    report.removed = len(removed)
    report.published = True
    return report


def reusable(folder: Path, manifest: dict[str, Any]) -> dict[str, int]:
    """The pages of a published version that a build may hard-link into the next one, with
    their sizes. Left out, so rendered again: a page missing (removed by hand), not a plain
    file, unreadable to everyone, or of a size other than the one written (cut short or
    overwritten; a manifest from before the sizes: not checked). One ``stat`` per page (a
    few ms for thousands); a page changed in place to the same size is not seen (that
    takes reading every file): ``etl-duck site --full`` renders them all."""
    sizes: dict[str, int] = manifest.get("sizes", {})
    found = {}
    for path in manifest.get("pages", {}):
        try:
            st = os.stat(folder / path)
        except (OSError, ValueError):
            continue
        if (
            stat.S_ISREG(st.st_mode)
            and st.st_mode & 0o444
            and st.st_size == sizes.get(path, st.st_size)
        ):
            found[path] = st.st_size
    return found


def lake_id(stats: Stats) -> str:
    """Which lake the site was built from: a digest of its data dir and the lake's own id
    (keys of another lake are not comparable: a lake deleted and rebuilt in the same dir
    numbers its versions from 1 again), not the path itself (the manifest is published
    with the pages)."""
    stats.serving.refresh()
    path = str(stats.lake.data_dir.absolute()).encode()
    return hashlib.blake2b(path + b"\0" + stats.serving.lake_id.encode(), digest_size=8).hexdigest()


def gone_dates(
    stats: Stats, live: list[str], prev: dict[str, Any], lake_version: int
) -> dict[str, int]:
    """Session dates the published site was built with that the lake no longer holds (an
    admin dismissed every file of an evening), each with the lake version that removed it.

    A removed date changes every window that held it, as a new one does, but only a process
    that saw it go knows it (``Serving.changed_at``): a fresh one reads the dates the lake
    holds now, so its all-time and year keys stayed the same and the site kept the old
    numbers and links to deleted pages. The site's manifest remembers the dates it was built
    from; a date missing now is "changed" at the version that noticed it, and stays so
    (carried from build to build), so later builds in any process derive the same keys."""
    now = set(live)
    gone = {d: int(v) for d, v in prev.get("gone", {}).items() if d not in now}
    for d in prev.get("dates", []):
        if d not in now and d not in gone:
            gone[d] = lake_version
    # what a long-running process saw go (perhaps between two builds) counts the same
    changed = dict(stats.serving.changed_at)  # a copy: a query thread may refresh it
    for d, v in changed.items():
        if d not in now:
            gone[d] = max(v, gone.get(d, 0))
    return dict(sorted(gone.items()))


def _asset_page(path: str, name: str) -> Page:
    data = asset(name)
    return Page(path, page_key("asset", hashlib.sha256(data).hexdigest()), lambda: data)
