"""Slots for what other work adds to :class:`~etl_duck.query.stats.Stats` later.

SLOT (issue 15, rating): a player's page shows the rating with its uncertainty once
``Stats.rating(guid)`` exists. SLOT (issue 17, records and personal bests): the home page
and ``records.html`` show ``Stats.records()``, a player's page ``Stats.personal_bests(guid)``.

Nothing here invents those numbers: while Stats lacks the method, the slot is empty and the
page simply has no such section (and no link to it). When the method arrives, its result
is rendered generically — a mapping as a list of name/value pairs, a frame as a table —
until a dedicated template section replaces it. ``depends_on_all`` says whether a slot's
content depends on the whole history (a rating does: every map moves everyone's), so the
page keys include the all-time version only when they must.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from etl_duck.query.stats import NoData, Stats


@dataclass(frozen=True)
class Slot:
    method: str  # the Stats method that fills it
    title: str
    depends_on_all: bool


RATING = Slot("rating", "Rating", depends_on_all=True)
PERSONAL_BESTS = Slot("personal_bests", "Personal bests", depends_on_all=False)
RECORDS = Slot("records", "Records", depends_on_all=True)


def available(stats: Stats, slot: Slot) -> bool:
    return callable(getattr(stats, slot.method, None))


def fill(stats: Stats, slot: Slot, *args: Any) -> dict[str, Any] | None:
    """The slot's content as ``{"title", "pairs" | "columns"+"rows"}``, or None (no method
    yet, or no data for this player)."""
    method: Callable[..., Any] | None = getattr(stats, slot.method, None)
    if not callable(method):
        return None
    try:
        value = method(*args)
    except (NoData, LookupError):
        return None
    return _generic(slot.title, value)


def _generic(title: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return {"title": title, "pairs": list(value.items())}
    columns = getattr(value, "columns", None)
    if columns is not None and hasattr(value, "rows"):
        if value.is_empty():
            return None
        return {"title": title, "columns": list(columns), "rows": value.rows()}
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None:
        return {"title": title, "pairs": [(k, getattr(value, k)) for k in fields]}
    return {"title": title, "pairs": [("value", value)]}
