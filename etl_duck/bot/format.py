"""Text helpers for embeds: escaping, numbers, durations and monospace tables."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import discord

from etl_duck.domain.parse import name_or_guid
from etl_duck.query import rating as query_rating

FIELD_MAX = 1024  # Discord's limit for one embed field value
DESCRIPTION_MAX = 4096
NAME_WIDTH = 16  # names are cut to this in tables so columns stay aligned on phones


def esc(text: Any) -> str:
    """A player-chosen name, safe in embed markdown (names may contain * _ ` | …)."""
    return discord.utils.escape_markdown(str(text))


def code(text: Any) -> str:
    """Inline code for a file name or a typed value: shown literally (Markdown is off inside,
    so it must not be escaped: a backslash would show), a backtick would end it early."""
    return "`" + (str(text).replace("`", "'").replace("\n", " ") or " ") + "`"


def cell(text: Any, width: int = NAME_WIDTH) -> str:
    """A name for a code-block table: no backticks (they would close the block), cut."""
    s = str(text).replace("`", "'").replace("\n", " ")
    return s if len(s) <= width else s[: width - 1] + "…"


def player_name(name: Any, guid: Any = None) -> str:
    """The name the bot shows for a player: his GUID where his name shows nothing (``^1^2``
    cleans to "", spaces, zero-width characters: :func:`~etl_duck.domain.parse.shows_something`),
    as the site, team names and balance already do: an empty card title, a blank table row
    or a ``****`` award line tells nobody who it was. A row without a GUID (a team's) keeps
    its name."""
    return name_or_guid(name, guid)


def labels(people: Iterable[tuple[str, str]], new: str = "new") -> dict[str, str]:
    """:func:`~etl_duck.query.rating.labels` (two of one name told apart, ``vid (D842)``) of
    the names the bot shows (:func:`player_name`): two blank names are two GUIDs, not
    ``" (1C74)"``. A new player's key (``+name``) keeps his typed name."""
    return query_rating.labels(
        ((g, n if query_rating.is_new(g) else player_name(n, g)) for g, n in people), new
    )


def frame_labels(*frames: Any, new: str = "new") -> dict[str, str]:
    """:func:`labels` of the players of tables (polars frames) or rows (dicts) with a
    ``guid`` and a ``name`` (:func:`~etl_duck.query.rating.people_of`)."""
    return labels(query_rating.people_of(*frames), new)


def label_of(named: dict[str, str], row: dict[str, Any], key: str = "name") -> str:
    """The name to show for ``row`` (a dict with ``guid`` and ``key``): ``named``'s label of
    his GUID (:func:`labels`), else his own (a team's names as they are); his GUID where his
    name shows nothing, whoever made ``named``."""
    guid = row.get("guid")
    name = player_name(row[key], guid)
    if guid is None or name == str(guid):
        return name
    return named.get(str(guid), name)


def cell_of(named: dict[str, str], row: dict[str, Any], width: int = NAME_WIDTH) -> str:
    """:func:`cell` of the row's player as ``named`` shows him (``vid (D842)``: two of one
    name told apart); a cut name keeps its tell-apart mark (``SmetarskiP… (D842)``); his
    GUID where his name shows nothing (:func:`player_name`)."""
    guid = row.get("guid")
    name = player_name(row["name"], guid)
    shown = label_of(named, row)
    mark = shown[len(name) :] if shown.startswith(name) else ""
    if len(shown) <= width or not mark or len(mark) + 2 > width:
        return cell(shown, width)
    return cell(name, width - len(mark)) + cell(mark, len(mark))


def num(value: Any, decimals: int = 0, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{decimals}f}{unit}"


def duration(value: timedelta | float | int | None, compact: bool = False) -> str:
    """`2 h 19 min` (compact: `2h19`) for long spans, `6:51` (m:ss) for rounds."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        h, m = seconds // 3600, seconds % 3600 // 60
        return f"{h}h{m:02d}" if compact else f"{h} h {m:02d} min"
    return f"{seconds // 60}:{seconds % 60:02d}"


def day(value: date | datetime) -> str:
    return value.strftime("%a %Y-%m-%d")


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool] | None = None
) -> str:
    """A monospace table in a code block (first column left-aligned, numbers right)."""
    right = right or [i > 0 for i in range(len(headers))]
    text = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in text]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return " ".join(
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ).rstrip()

    return "```\n" + "\n".join([line(headers), *(line(r) for r in text)]) + "\n```"


def fit_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    limit: int = FIELD_MAX,
    right: Sequence[bool] | None = None,
) -> str:
    """:func:`table` with as many rows as fit in ``limit`` characters (a '…' row if cut)."""
    for n in range(len(rows), -1, -1):
        shown = list(rows[:n])
        if n < len(rows):
            shown.append(["…"] + [""] * (len(headers) - 1))
        text = table(headers, shown, right)
        if len(text) <= limit:
            return text
    return "…"
