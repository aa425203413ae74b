"""Jinja2 templates shipped in the package (``etl_duck/site/templates``) → page bytes.

Autoescaping is on: player names, map names and aliases are free text from the game.
Links are made relative to the page being rendered (``href``), so the site works from any
folder, any host path and ``file://``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import re
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.bccache import Bucket
from markupsafe import Markup

from etl_duck import sqlfiles
from etl_duck.domain.parse import BIDI_CONTROLS, name_or_guid, without_bidi
from etl_duck.site import urls

log = logging.getLogger(__name__)


def plain(text: str) -> str:
    """``text`` without direction controls (for every string a page or index shows; the
    rule the CLI and the bot use too: ``domain.parse.BIDI_CONTROLS``)."""
    return without_bidi(text)


def display_name(name: Any, guid: Any) -> str:
    """A player's name as pages show it: without direction controls, and his GUID where
    the name shows nothing (``^1^2`` cleans to "", spaces, NBSP, zero-width characters)."""
    return name_or_guid(plain("" if name is None else str(name)), guid)


NAME_FIELDS = ("name", "holder")  # where a row of a page names a player (with his "guid")


def tell_apart(view: Any) -> Any:
    """``view`` (rows of one page: dicts, lists, tuples, nested) with each player name that
    two players share told apart: two GUIDs whose names show the same text (``^1.^7olz`` and
    ``^2.^3olz`` both clean to ".olz"; case aside) show the GUID's start after it,
    ".olz (5D989160)", everywhere on the page — the rule of the session's timeline chart.
    A row names a player where it has a ``guid`` and a ``name`` (or ``holder``) string.
    Returns a copy (cached views are shared between pages); call it once per page, on all
    its lists of names, before drawing charts from them."""
    seen: dict[str, set[str]] = {}

    def collect(v: Any) -> None:
        if isinstance(v, dict):
            guid = v.get("guid")
            for key in NAME_FIELDS:
                if guid is not None and isinstance(v.get(key), str):
                    seen.setdefault(v[key].casefold(), set()).add(str(guid))
            for item in v.values():
                collect(item)
        elif isinstance(v, list | tuple):
            for item in v:
                collect(item)

    def relabel(v: Any) -> Any:
        if isinstance(v, dict):
            out = {k: relabel(item) for k, item in v.items()}
            guid = v.get("guid")
            for key in NAME_FIELDS:
                name = v.get(key)
                if guid is not None and isinstance(name, str) and len(seen[name.casefold()]) > 1:
                    out[key] = f"{name} ({str(guid)[:8]})"
            return out
        if isinstance(v, list):
            return [relabel(item) for item in v]
        if isinstance(v, tuple):
            return tuple(relabel(item) for item in v)
        return v

    collect(view)
    return relabel(view) if any(len(g) > 1 for g in seen.values()) else view


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}`` of every template: direction controls removed from text (markup
    too: a chart's labels), other values left to the template's filters."""
    if isinstance(value, Markup):
        return Markup(plain(str(value))) if BIDI_CONTROLS.search(value) else value
    if isinstance(value, str):
        return plain(value)
    return value


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


_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def anchor(text: Any) -> str:
    """``text`` (a map name: free text) as an HTML id: ASCII letters, digits, ``_.-``;
    a name that needed changing keeps its own id by a short hash of the original."""
    text = str(text)
    safe = _ID_UNSAFE.sub("_", text)
    if safe == text and safe:
        return safe
    return f"{safe}-{hashlib.blake2b(text.encode(), digest_size=3).hexdigest()}"


def code_fingerprint() -> str:
    """A hash of everything a page's content comes from besides the lake and the options:
    the whole ``etl_duck`` package (the site's code, templates and assets, and the domain
    and query code that computes awards, MVPs, metrics, records…) and the SQL files of
    ``queries/``. Part of every page key, so a new release re-renders what it may change;
    paths are hashed relative to their roots, so moving the install changes nothing."""
    return _code_fingerprint()


_HASHED = (".py", ".html", ".css", ".js", ".svg")  # what the package's pages come from


@functools.cache
def _code_fingerprint() -> str:
    # once per process: ~140 files, ~1.4 MB, ~8 ms (the tests bound it)
    digest = hashlib.blake2b(digest_size=12)
    for name, data in _sources(_PACKAGE, _HASHED, "etl_duck"):
        digest.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    for name, data in _sources(Path(sqlfiles.QUERY_DIR), (".sql",), "queries"):
        digest.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


_PACKAGE = Path(__file__).resolve().parent.parent  # etl_duck/


def _sources(root: Path, suffixes: tuple[str, ...], label: str) -> list[tuple[str, bytes]]:
    """``(label/relative path, bytes)`` of the files under ``root`` with these suffixes,
    sorted by path (``__pycache__``, hidden folders and files and anything but a regular file
    left out: an editor's lock link ``.#render.py`` points nowhere)."""
    if not root.is_dir():
        return []
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        rel = Path(folder).relative_to(root)
        for name in files:
            path = Path(folder, name)
            if name.endswith(suffixes) and not name.startswith(".") and path.is_file():
                out.append(((Path(label) / rel / name).as_posix(), path.read_bytes()))
    return sorted(out)


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
        bytecode_cache=_bytecode_cache(),
        finalize=_finalize,
    )
    env.filters.update(
        num=num, duration=duration, day=day, clock=clock, raw=raw, sentence=sentence, anchor=anchor
    )
    env.globals.update(urls=urls)
    return env


class _QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's on-disk cache, but only ever a speed-up: a full or unusable temp folder
    (ENOSPC, read-only, removed, a damaged file) compiles the template instead of failing
    the build."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, TypeError) as e:
            log.debug("template cache not read (%s)", e)
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError as e:
            log.debug("template cache not written (%s)", e)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return _QuietBytecodeCache()
    except (OSError, RuntimeError) as e:  # no usable temp folder: compile every process
        log.debug("no template cache (%s)", e)
        return None


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
