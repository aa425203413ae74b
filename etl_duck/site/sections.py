"""The sections that come from whole-history answers of :class:`~etl_duck.query.stats.Stats`:
a player's skill rating, personal bests, teammates and rivals; the standing records; the
rating list. Each is turned into plain *view data*: what the page shows, formatted at the
precision it shows it, links included.

The page keys (``pages.py``) hash these views, so a page is rewritten exactly when what it
shows changes. That matters for the rating: a player's σ widens with the time since his
last map, measured to the lake's last map, so its every digit moves with every commit
anyone makes — shown to two decimals it moves for a player about once a week of absence.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime
from typing import Any

from etl_duck.domain import social
from etl_duck.domain.records import ROUND_RECORDS
from etl_duck.query.stats import NoData, PlayerNotFound, Stats
from etl_duck.site import svg

RATING_TOP = 10  # players in the home page's rating list
MATES_SHOWN = 10  # teammates in a player's table (regulars, most maps together first)
RIVALS_SHOWN = 10  # opponents in a player's table (who killed him most first)

#: how each record or personal best is shown: "time" (m:ss) or its decimals
FORMATS: dict[str, str | int] = {
    "fastest_completion": "time",
    "longest_hold": "time",
    "round_kills": 0,
    "round_dpm": 1,
    "round_damage": 0,
    "session_dpm": 1,
    "session_kills": 0,
}
UNITS = {"round_dpm": " DPM", "session_dpm": " DPM", "round_kills": " kills",
         "session_kills": " kills", "round_damage": " damage"}  # fmt: skip
RECORD_ORDER = tuple(ROUND_RECORDS)  # fastest completion, longest hold, kills, DPM

Link = Callable[[Any], str | None]  # an id (GUID, session id) → its page, or None (no page)


def shown(kind: str, value: float | None) -> str:
    """A record's or personal best's value as the page prints it."""
    if value is None:
        return "—"
    how = FORMATS[kind]
    if how == "time":
        seconds = round(value)
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{value:,.{how}f}{UNITS.get(kind, '')}"


def _day(value: date | datetime | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


# --------------------------------------------------------------------------- rating


def rating_view(stats: Stats, guid: str) -> dict[str, Any] | None:
    """A player's rating card (``etl-duck rating NAME``) and its history as a chart; None
    for a player without a rated stopwatch map."""
    try:
        card = stats.player_rating(guid)
    except (NoData, PlayerNotFound):
        return None
    r = card.row
    h = card.history
    points = [
        svg.BandPoint(when, mu, mu - 3 * sigma, mu + 3 * sigma)
        for when, mu, sigma in zip(h["end_time"], h["mu"], h["sigma"], strict=True)
    ]
    return {
        "rating": f"{r['rating']:.1f}",
        "mu": f"{r['mu']:.2f}",
        "sigma": f"{r['sigma']:.2f}",
        "maps": int(r["maps"]),
        "wins": int(r["wins"]),
        "losses": int(r["losses"]),
        "ties": int(r["ties"]),
        "trend": None if r["trend"] is None else f"{r['trend']:+.1f}",
        "rank": card.rank,
        "ranked_players": card.ranked_players,
        "last_played": _day(r["last_played"]),
        "chart": svg.band(
            points,
            title=f"Rating after each of {len(points)} maps",
            mid_name="μ (skill estimate)",
            lo_name="rating (μ − 3σ)",
            band_name="μ ± 3σ",
        ),
    }


def rating_rows(stats: Stats, limit: int, player: Link) -> list[dict[str, Any]]:
    """The rating leaderboard (players with at least ``Stats.RATING_MIN_MAPS`` maps)."""
    board = stats.rating_top(limit)
    return [
        {
            "rank": r["rank"],
            "guid": r["guid"],
            "name": r["name"],
            "link": player(r["guid"]),
            "rating": f"{r['rating']:.1f}",
            "mu": f"{r['mu']:.2f}",
            "sigma": f"{r['sigma']:.2f}",
            "maps": r["maps"],
            "record": f"{r['wins']}-{r['losses']}-{r['ties']}",
            "trend": None if r["trend"] is None else f"{r['trend']:+.1f}",
        }
        for r in board.iter_rows(named=True)
    ]


# --------------------------------------------------------------------------- personal bests


def bests_view(stats: Stats, guid: str, session: Link) -> list[dict[str, Any]]:
    """A player's personal bests (``etl-duck bests NAME``), each with the session it was set in."""
    try:
        _, _, rows = stats.personal_bests(guid)
    except (NoData, PlayerNotFound):
        return []
    return [
        {
            "kind": r["kind"],
            "label": r["label"],
            "value": r["value"],
            "shown": shown(r["kind"], r["value"]),
            "map_name": r["map_name"],
            "day": _day(r["when"]),
            "link": session(r.get("session_id")),
        }
        for r in rows
    ]


# --------------------------------------------------------------------------- teammates, rivals


def _record(r: dict[str, Any], side: str) -> str:
    return f"{r[f'{side}_won']}-{r[f'{side}_lost']}-{r[f'{side}_drawn']}"


def _mate(r: dict[str, Any], player: Link) -> dict[str, Any]:
    return {
        "guid": r["guid"],
        "name": r["name"],
        "link": player(r["guid"]),
        "together_maps": r["together_maps"],
        "together_record": _record(r, "together"),
        "together_rate": r["together_rate"],
        "together_shown": _pct(r["together_rate"]),
        "apart_maps": r["apart_maps"],
        "apart_record": _record(r, "apart"),
        "apart_rate": r["apart_rate"],
        "apart_shown": _pct(r["apart_rate"]),
        "difference": None if r["difference"] is None else f"{r['difference']:+.0f}",
    }


def teammates_view(stats: Stats, guid: str, player: Link) -> dict[str, Any] | None:
    """Win rate on maps together vs apart (``etl-duck teammates NAME``): the best partner
    and the regulars; None before the player's first complete map."""
    import polars as pl

    try:
        _, _, mates = stats.teammates(guid)
    except (NoData, PlayerNotFound):
        return None
    if mates.is_empty():
        return None
    best = social.best_partner(mates)
    regular = mates.filter(pl.col("regular"))
    rows = [_mate(r, player) for r in regular.head(MATES_SHOWN).iter_rows(named=True)]
    return {
        "best": None if best is None else _mate(best, player),
        "rows": rows,
        "others": mates.height - len(rows),
        "min_maps": social.MIN_MAPS,
    }


def _rival(r: dict[str, Any] | None, player: Link) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "guid": r["guid"],
        "name": r["name"],
        "link": player(r["guid"]),
        "rounds": r["rounds"],
        "kills": r["kills"],
        "deaths": r["deaths"],
        "kd": r["kd"],
    }


def rivals_view(stats: Stats, guid: str, player: Link) -> dict[str, Any] | None:
    """Nemesis, easiest prey and K/D per opponent (``etl-duck rivals NAME``); None when no
    endstats file attributed a duel to the player."""
    try:
        _, _, table = stats.rivals(guid)
    except (NoData, PlayerNotFound):
        return None
    if table.is_empty():
        return None
    nemesis, prey = social.nemesis_and_prey(table)
    return {
        "nemesis": _rival(nemesis, player),
        "prey": _rival(prey, player),
        "rows": [_rival(r, player) for r in table.head(RIVALS_SHOWN).iter_rows(named=True)],
        "others": max(0, table.height - RIVALS_SHOWN),
        "min_rounds": social.MIN_ROUNDS,
    }


def others_digest(stats: Stats, pages: Collection[str]) -> dict[str, list[Any]]:
    """Per player, what his teammates and rivals sections show that is *not* his own data:
    each regular teammate's current name (his latest, set by whatever he played last) and
    whether he has a page, and which opponents have no page (their names come from the
    player's own rounds). Everything else in those sections changes only on the player's
    own session dates, which his page key already holds."""
    import polars as pl

    idx = stats.social()
    out: dict[str, list[Any]] = {}
    results = idx.results
    if not results.is_empty():
        sides = results.select("match_id", "side", "guid")
        names = results.sort("end_time").group_by("guid").agg(pl.col("name").last())
        regulars = (
            sides.join(sides, on=["match_id", "side"], suffix="_mate")
            .filter(pl.col("guid") != pl.col("guid_mate"))
            .group_by("guid", "guid_mate")
            .len()
            .filter(pl.col("len") >= social.MIN_MAPS)
            .join(names.rename({"guid": "guid_mate"}), on="guid_mate", how="left")
            .sort("guid", "guid_mate")
        )
        for guid, mate, name in regulars.select("guid", "guid_mate", "name").iter_rows():
            out.setdefault(str(guid), []).append((mate, name, mate in pages))
    versus = idx.versus
    if not versus.is_empty():
        pairs = pl.concat(
            [
                versus.select("guid", pl.col("opponent_guid").alias("opponent")),
                versus.select(pl.col("opponent_guid").alias("guid"), pl.col("guid").alias("opponent")),
            ]
        ).unique()
        lonely = pairs.filter(~pl.col("opponent").is_in(list(pages))).sort("guid", "opponent")
        for guid, opponent in lonely.iter_rows():
            out.setdefault(str(guid), []).append(("no page", opponent))
    return out


# --------------------------------------------------------------------------- records


def _standing(r: dict[str, Any], player: Link, session: Link) -> dict[str, Any]:
    return {
        "kind": r["kind"],
        "label": r["label"],
        "scope": r["scope"],
        "value": r["value"],
        "shown": shown(r["kind"], r["value"]),
        "holder": r["holder"],
        "holder_link": player(r["guid"]) if r.get("guid") else None,
        "day": _day(r["when"]),
        "link": session(r.get("session_id")),
    }


def records_view(stats: Stats, player: Link, session: Link) -> dict[str, Any]:
    """The standing records (``etl-duck records``): all-time, and per map in map order."""
    rows = [_standing(r, player, session) for r in stats.records()]
    order = {k: i for i, k in enumerate(RECORD_ORDER)}
    by_map: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["scope"] != "all":
            by_map.setdefault(r["scope"], []).append(r)
    maps = [
        {"map_name": m, "records": sorted(rs, key=lambda r: order.get(r["kind"], 99))}
        for m, rs in sorted(by_map.items(), key=lambda kv: kv[0].lower())
    ]
    return {
        "all_time": sorted((r for r in rows if r["scope"] == "all"),
                           key=lambda r: order.get(r["kind"], 99)),
        "maps": maps,
    }  # fmt: skip

