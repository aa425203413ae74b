"""Text helpers for embeds: escaping, numbers, durations and monospace tables."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import discord

from etl_duck.domain.parse import name_or_guid, without_bidi
from etl_duck.query import rating as query_rating

# Discord's limits for an embed (a message over any of them is refused whole: 400)
# https://discord.com/developers/docs/resources/message#embed-object-embed-limits
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25  # fields in one embed
FIELD_NAME_MAX = 256
FIELD_MAX = 1024  # one field's value
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBED_MAX = 6000  # all of it: title, description, field names and values, footer, author
NAME_WIDTH = 16  # names are cut to this in tables so columns stay aligned on phones


def esc(text: Any) -> str:
    """A player-chosen name, safe in embed markdown (names may contain * _ ` | …) and
    without direction controls (a right-to-left override in a name reversed the rest of
    its line: the numbers after it)."""
    return discord.utils.escape_markdown(without_bidi(str(text)))


def code(text: Any) -> str:
    """Inline code for a file name or a typed value: shown literally (Markdown is off inside,
    so it must not be escaped: a backslash would show), a backtick would end it early."""
    return "`" + (str(text).replace("`", "'").replace("\n", " ") or " ") + "`"


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: whole when it fits, else cut with "…" at the
    end — never after half an escape (:func:`esc`'s ``\\*``: a lone backslash left at the
    cut would escape the "…", or show)."""
    if len(text) <= limit:
        return text
    if limit < 1:
        return ""
    head = text[: limit - 1]
    if (len(head) - len(head.rstrip("\\"))) % 2:  # an odd run: the last escapes what was cut
        head = head[:-1]
    return head + "…"


def fit_first(items: Sequence[str], limit: int, sep: str = ", ") -> str:
    """As many whole ``items`` as fit in ``limit`` characters, in order, then "… and N more"
    (counted in ``limit``): a list (a roster, a session's maps) is cut between two items,
    never inside one (an escape or a name cut in half) — but the first, cut (:func:`cut`),
    when it alone is over."""
    for n in range(len(items), 0, -1):
        more = len(items) - n
        text = sep.join(items[:n]) + (f"{sep}… and {more} more" if more else "")
        if len(text) <= limit:
            return text
    return cut(sep.join(items), limit)


def fit_last(lines: Sequence[str], limit: int, noun: str = "") -> str:
    """Lines joined, the oldest dropped first when they do not fit — with the "… N
    earlier" line that says so (``noun``: "… N earlier maps") counted in ``limit``
    (Discord refuses the whole message when one field is over)."""
    shown = list(lines)

    def text() -> str:
        dropped = len(lines) - len(shown)
        return (f"… {dropped} earlier{noun}\n" if dropped else "") + "\n".join(shown)

    while shown and len(text()) > limit:
        shown.pop(0)
    return cut(text(), limit)


def room(embed: discord.Embed, *more: str) -> int:
    """Characters ``embed`` may still take under :data:`EMBED_MAX` once ``more`` (texts
    still to add: a field's name and value, a footer) are in."""
    return EMBED_MAX - len(embed) - sum(len(t) for t in more)


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """The last guard of an embed that grows with an evening: every part within Discord's
    limit and the whole within :data:`EMBED_MAX`, cut (:func:`cut`) where over. The
    builders shorten what matters least first (older maps, a table's last rows) so that
    this finds nothing to do; when it does, the description goes first, then the fields
    from the last."""
    if embed.title and len(embed.title) > TITLE_MAX:
        embed.title = cut(embed.title, TITLE_MAX)
    if embed.description and len(embed.description) > DESCRIPTION_MAX:
        embed.description = cut(embed.description, DESCRIPTION_MAX)
    if embed.footer.text and len(embed.footer.text) > FOOTER_MAX:
        embed.set_footer(text=cut(embed.footer.text, FOOTER_MAX), icon_url=embed.footer.icon_url)
    if embed.author.name and len(embed.author.name) > AUTHOR_MAX:
        embed.set_author(
            name=cut(embed.author.name, AUTHOR_MAX), url=embed.author.url,
            icon_url=embed.author.icon_url,
        )  # fmt: skip
    while len(embed.fields) > FIELDS_MAX:
        embed.remove_field(-1)
    for i, f in enumerate(embed.fields):
        name, value = str(f.name or ""), str(f.value or "")
        if len(name) > FIELD_NAME_MAX or len(value) > FIELD_MAX or not name or not value:
            embed.set_field_at(
                i, name=cut(name, FIELD_NAME_MAX) or "—", value=cut(value, FIELD_MAX) or "—",
                inline=bool(f.inline),
            )  # fmt: skip
    over = len(embed) - EMBED_MAX
    if over > 0 and embed.description:
        keep = max(0, len(embed.description) - over)
        embed.description = cut(embed.description, keep) or None
        over = len(embed) - EMBED_MAX
    for i in range(len(embed.fields) - 1, -1, -1):
        if over <= 0:
            break
        f = embed.fields[i]
        value = str(f.value)
        if len(value) - over >= 2:  # a shorter value still says something
            embed.set_field_at(
                i, name=str(f.name), value=cut(value, len(value) - over), inline=bool(f.inline)
            )
        else:
            embed.remove_field(i)
        over = len(embed) - EMBED_MAX
    return embed


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
