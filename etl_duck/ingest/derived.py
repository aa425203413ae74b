"""What the lake was derived by and under, against this installation and its settings.

Every manifest records the settings that shape the lake (``IngestOptions.fingerprint``):
the admin's settings (session gap, filler maps, time zone), the lake format and the parser
version. An ingest whose own differ re-derives the lake (DECISIONS "The parser version is
one of the lake's settings"); this module says so, once, in the words an admin acts on:

* settings that differ: the ingest goes on (the settings it was given win) and its report
  names each one, old → new: run from another directory (``.env`` is read from the working
  directory), an ingest silently re-derived every partition, and the bot's next fetch
  derived it back;
* a lake derived by an older parser or format: the next ingest reads all of ``raw/`` again
  (``status`` says it is due);
* a lake derived by a NEWER parser or format (an un-restarted bot after an upgrade, a
  downgrade): this code refuses to write (:class:`NewerLake`) — it would re-derive the
  lake with the older code and call that an upgrade. Readers still read it.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from etl_duck.ingest import options as _written
from etl_duck.lake.snapshot import LakeError

if TYPE_CHECKING:
    from etl_duck.ingest.options import IngestOptions
    from etl_duck.lake.snapshot import Lake

#: the fingerprint's admin settings, as an admin writes them (README "Settings")
SETTINGS = {
    "session_gap_minutes": "ETL_DUCK_SESSION_GAP_MINUTES",
    "filler_maps": "ETL_DUCK_FILLER_MAPS",
    "timezone": "ETL_DUCK_TIMEZONE",
}


class NewerLake(LakeError):
    """The lake was derived by a newer etl-duck than this one: nothing is written."""


def lake_options(lake: Lake, *, quiet: bool = False) -> dict[str, Any]:
    """The settings the current snapshot was derived under (empty: no lake, or one from
    before they were recorded). ``quiet``: a damaged manifest reads as none (a rebuild
    repairs it); otherwise its :class:`LakeDamaged` is raised, as every writer's is."""
    if lake.current_dir() is None:
        return {}
    if quiet:
        with contextlib.suppress(LakeError, OSError):
            return dict(lake.manifest().options)
        return {}
    return dict(lake.manifest().options)


def _ours() -> tuple[int, int]:
    """This code's parser version and lake format: what its commits record (read when
    asked, as ``IngestOptions.fingerprint`` reads them)."""
    ours = _written.IngestOptions().fingerprint()
    return int(ours["parser_version"]), int(ours["lake_format"])


def _number(options: dict[str, Any], key: str) -> int | None:
    value = options.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def newer(options: dict[str, Any]) -> str | None:
    """``parser 21 > 20`` (or ``lake format 4 > 3``) when ``options`` come from a newer
    etl-duck than this one; else None."""
    parser, fmt = _number(options, "parser_version"), _number(options, "lake_format")
    our_parser, our_format = _ours()
    if parser is not None and parser > our_parser:
        what = f"parser {parser} > {our_parser}"
    elif fmt is not None and fmt > our_format:
        what = f"lake format {fmt} > {our_format}"
    else:
        return None
    return what


def refuse_newer(lake: Lake, *, quiet: bool = False, rebuild: bool = False) -> None:
    """Raise :class:`NewerLake` when the lake was derived by a newer etl-duck (called under
    the writer lock, before anything is stored). ``rebuild``: the sentence names the way to
    a deliberate downgrade."""
    if what := newer(lake_options(lake, quiet=quiet)):
        downgrade = " (a deliberate downgrade: `etl-duck rebuild --force`)" if rebuild else ""
        raise NewerLake(
            f"the lake was written by a newer etl-duck ({what}): upgrade this installation "
            f"(or run the newer one){downgrade}; nothing written"
        )


def older_parser(options: dict[str, Any]) -> bool:
    """The lake was derived by an older parser (or before versions were recorded): the next
    ingest reads every file again from raw/. False for no lake."""
    if not options:
        return False
    parser = _number(options, "parser_version")
    return parser is None or parser < _ours()[0]


def reread_due(options: dict[str, Any]) -> str | None:
    """Why the next ingest re-derives the whole lake by itself (an upgrade's: an older
    parser or lake format), as a clause; None when it will not."""
    our_parser, our_format = _ours()
    if older_parser(options):
        parser = _number(options, "parser_version")
        was = f"parser {parser}" if parser is not None else "a parser before versions"
        return (
            f"the lake was derived by an older parser ({was}; this etl-duck's is "
            f"{our_parser}): the next ingest (or the bot's next fetch) re-reads all of raw/"
        )
    fmt = _number(options, "lake_format")
    if options and (fmt is None or fmt < our_format):
        return (
            f"the lake was written in an older format ({fmt or 1}; this etl-duck's is "
            f"{our_format}): the next ingest (or the bot's next fetch) re-derives every "
            "partition from raw/"
        )
    return None


def settings_changed(options: dict[str, Any], opts: IngestOptions) -> dict[str, tuple[Any, Any]]:
    """The admin settings ``opts`` would change in a lake derived under ``options``:
    setting name → (the lake's, ``opts``'). Empty for no lake."""
    if not options:
        return {}
    now = opts.fingerprint()
    return {
        label: (options[key], now[key])
        for key, label in SETTINGS.items()
        if key in options and options[key] != now[key]
    }


def shown(value: Any) -> str:
    """A setting's value as an admin writes it (lists as JSON, README "Settings")."""
    return json.dumps(value) if isinstance(value, list | tuple) else str(value)


def changes(changed: dict[str, tuple[Any, Any]]) -> str:
    """``ETL_DUCK_SESSION_GAP_MINUTES 60 → 45, ETL_DUCK_TIMEZONE Europe/Berlin → UTC``."""
    return ", ".join(f"{k} {shown(old)} → {shown(new)}" for k, (old, new) in changed.items())


def rederived_note(changed: dict[str, tuple[Any, Any]]) -> str:
    """The ingest report's line when its commit re-derived the lake under other settings."""
    return (
        f"the lake's settings changed ({changes(changed)}): every partition was derived "
        "again under this run's — set the same ones wherever etl-duck writes to this lake "
        "(the bot, cron; `.env` is read from the working directory), or the next ingest "
        "there derives it back"
    )
