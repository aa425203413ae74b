"""Jinja2 templates shipped in the package (``etl_duck/site/templates``) → page bytes.

Autoescaping is on: player names, map names and aliases are free text from the game.
Links are made relative to the page being rendered (``href``), so the site works from any
folder, any host path and ``file://``.
"""

from __future__ import annotations

import functools
import hashlib
import math
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any

import jinja2

from etl_duck.site import urls


def num(value: Any, decimals: int = 0, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{decimals}f}{unit}"


def duration(value: timedelta | float | int | None) -> str:
    """`2 h 19 min` for long spans, `6:51` (m:ss) for rounds."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60}:{seconds % 60:02d}"


def day(value: date | datetime | None) -> str:
    return "—" if value is None else value.strftime("%a %Y-%m-%d")


def clock(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%H:%M")


def raw(value: Any) -> str:
    """A number as the page's machine-readable ``data-value`` (full precision, '' for none)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def sentence(text: str) -> str:
    """First letter upper case, the rest as written (Jinja's ``capitalize`` lowers "DPM")."""
    return text[:1].upper() + text[1:]


def code_fingerprint() -> str:
    """A hash of the site's code, templates and assets: part of every page key, so a new
    release re-renders what it changed the look or content of."""
    return _code_fingerprint()


@functools.cache
def _code_fingerprint() -> str:
    digest = hashlib.blake2b(digest_size=12)
    root = resources.files("etl_duck.site")
    stack = [root]
    files = []
    while stack:
        folder = stack.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                if entry.name != "__pycache__":
                    stack.append(entry)
            elif entry.name.endswith((".py", ".html", ".css", ".js", ".svg")):
                files.append(entry)
    for entry in sorted(files, key=lambda e: str(e)):
        digest.update(str(entry).encode())
        digest.update(entry.read_bytes())
    return digest.hexdigest()


@functools.cache
def environment() -> jinja2.Environment:
    """One Jinja environment per process: templates are compiled once (~30 ms each), not
    once per build."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("etl_duck.site", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails the build
        trim_blocks=True,
        lstrip_blocks=True,
        # compiled templates cached on disk (the per-user temp folder Jinja manages): a
        # fresh `etl-duck site` process skips ~0.2 s of compiling
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
    )
    env.filters.update(num=num, duration=duration, day=day, clock=clock, raw=raw, sentence=sentence)
    env.globals.update(urls=urls)
    return env


class Renderer:
    """Renders pages for one site (its title and sections go to every template as ``site``)."""

    def __init__(self, site: dict[str, Any]) -> None:
        self.env = environment()
        self.site = site

    def render(self, template: str, path: str, context: dict[str, Any]) -> bytes:
        page = self.env.get_template(template)
        href = functools.partial(urls.relative, path)
        return page.render(context, href=href, page_path=path, site=self.site).encode()


def asset(name: str) -> bytes:
    """A static file shipped in the package (``etl_duck/site/static``)."""
    return resources.files("etl_duck.site").joinpath("static", name).read_bytes()
