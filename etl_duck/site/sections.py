"""The sections that come from whole-history answers of :class:`~etl_duck.query.stats.Stats`:
a player's skill rating, personal bests, teammates and rivals; the standing records; the
rating list. Each is turned into plain *view data*: what the page shows, formatted at the
precision it shows it, links included.

Page keys (``pages.py``) hold the rating cards as shown, so a page is rewritten exactly when
what it shows changes. That matters: a player's σ widens with the time since his last map,
measured to the lake's last map, so its full value moves with every map anyone plays. At
the two decimals shown it moves after a few days away, not with every commit.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime
from typing import Any

from markupsafe import Markup

from etl_duck.domain import social
from etl_duck.domain.records import ROUND_RECORDS
from etl_duck.query.stats import NoData, PlayerNotFound, Stats
from etl_duck.site import svg
from etl_duck.site.render import display_name

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
RECORD_ORDER = tuple(ROUND_RECORDS)  # completion, defence, kills, DPM

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


EVERYONE = 1_000_000_000  # a rating list's "limit" that lists every player


def rating_cards(stats: Stats) -> dict[str, dict[str, Any]]:
    """Every rated player's rating card as the page shows it — the numbers of ``etl-duck
    rating NAME`` to the decimals it prints them — from the rating tables in one pass (not
    a card per player: the keys need every player's after every commit). The chart of the
    card's history is drawn only for pages being rendered (:func:`rating_chart`)."""
    everyone = stats.rating_top(EVERYONE, min_maps=0)
    ranked = stats.rating_top(EVERYONE)  # the leaderboard's minimum of maps: the rank
    rank = dict(zip(ranked["guid"], ranked["rank"], strict=True))
    return {
        str(r["guid"]): {
            "rating": f"{r['rating']:.1f}",
            "mu": f"{r['mu']:.2f}",
            "sigma": f"{r['sigma']:.2f}",
            "maps": int(r["maps"]),
            "wins": int(r["wins"]),
            "losses": int(r["losses"]),
            "ties": int(r["ties"]),
            "trend": None if r["trend"] is None else f"{r['trend']:+.1f}",
            "rank": rank.get(r["guid"]),
            "ranked_players": ranked.height,
            "last_played": _day(r["last_played"]),
        }
        for r in everyone.iter_rows(named=True)
    }


def rating_chart(stats: Stats, guid: str) -> Markup:
    """The player's μ, μ ± 3σ and rating μ − 3σ after each of his rated maps."""
    try:
        h = stats.player_rating(guid).history
    except (NoData, PlayerNotFound):
        return Markup("")
    points = [
        svg.BandPoint(when, mu, mu - 3 * sigma, mu + 3 * sigma)
        for when, mu, sigma in zip(
            h["end_time"].to_list(), h["mu"].to_list(), h["sigma"].to_list(), strict=True
        )
    ]
    return svg.band(
        points,
        title=f"Rating after each of {len(points)} maps",
        mid_name="μ (skill estimate)",
        lo_name="rating (μ − 3σ)",
        band_name="μ ± 3σ",
    )


def rating_rows(stats: Stats, limit: int, player: Link) -> list[dict[str, Any]]:
    """The rating leaderboard (players with at least ``Stats.RATING_MIN_MAPS`` maps)."""
    board = stats.rating_top(limit)
    return [
        {
            "rank": r["rank"],
            "guid": r["guid"],
            "name": display_name(r["name"], r["guid"]),
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
            # the session's date (a round after midnight is the evening before's): the date
            # of the page the link opens, not the round's calendar day
            "day": _day(r.get("session_date")),
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
        "name": display_name(r["name"], r["guid"]),
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
        "name": display_name(r["name"], r["guid"]),
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
    """Per player, what his teammates and rivals sections show that is *not* his own data
    (everything else there changes only on his own session dates, which his page key holds):

    * the current name of each regular teammate (his latest, set by whatever he played
      last). Only teammates who ever played under two names or more are listed: a name
      used in every row a player has can only change through rows that also change the
      dates of everyone who played with him;
    * which teammates and opponents have no page (no counted round), so are not linked;
    * the current name of each opponent who played under two names or more, and which
      opponents have no complete map (rivals are named as teammates are, else by the
      endstats name of their rounds with the player: when such an opponent plays his first
      complete map, the entry goes and his name on the page changes)."""
    import polars as pl

    idx = stats.social()
    out: dict[str, list[Any]] = {}
    results = idx.results
    names: pl.DataFrame | None = None
    if not results.is_empty():
        # the teammates' names exactly as Stats.teammates takes them
        names = (
            results.sort("end_time")
            .group_by("guid")
            .agg(pl.col("name").last(), pl.col("name").n_unique().alias("names"))
        )
        watched = names.filter((pl.col("names") > 1) | ~pl.col("guid").is_in(list(pages)))
        if not watched.is_empty():
            sides = results.lazy().select("match_id", "side", "guid")
            mates = sides.filter(pl.col("guid").is_in(watched["guid"].implode()))
            # lazy: the pairs (~400k at 10 years) are counted, never held (-60 MiB RSS)
            regulars = (
                sides.join(mates, on=["match_id", "side"], suffix="_mate")
                .filter(pl.col("guid") != pl.col("guid_mate"))
                .group_by("guid", "guid_mate")
                .len()
                .filter(pl.col("len") >= social.MIN_MAPS)
                .join(watched.lazy().rename({"guid": "guid_mate"}), on="guid_mate")
                .sort("guid", "guid_mate")
                .collect()
            )
            for guid, mate, name in regulars.select("guid", "guid_mate", "name").iter_rows():
                out.setdefault(str(guid), []).append((mate, name, mate in pages))
    versus = idx.versus
    if not versus.is_empty():
        pairs = pl.concat(
            [
                versus.select("guid", pl.col("opponent_guid").alias("opponent")),
                versus.select(
                    pl.col("opponent_guid").alias("guid"), pl.col("guid").alias("opponent")
                ),
            ]
        ).unique()
        lonely = pairs.filter(~pl.col("opponent").is_in(list(pages))).sort("guid", "opponent")
        for guid, opponent in lonely.iter_rows():
            out.setdefault(str(guid), []).append(("no page", opponent))
        # rivals' names (Stats.rivals): the opponent's current name, which his own rounds
        # move, where he ever had two; "no map" where he has none (the endstats name shows)
        known = (
            names
            if names is not None
            else pl.DataFrame(schema={"guid": pl.String, "name": pl.String, "names": pl.UInt32})
        )
        named = (
            pairs.join(known.rename({"guid": "opponent"}), on="opponent", how="left")
            .filter(pl.col("names").is_null() | (pl.col("names") > 1))
            .sort("guid", "opponent")
        )
        for guid, opponent, name in named.select("guid", "opponent", "name").iter_rows():
            entry = ("no map", opponent) if name is None else ("rival", opponent, name)
            out.setdefault(str(guid), []).append(entry)
    return out


# --------------------------------------------------------------------------- records


def _standing(r: dict[str, Any], player: Link, session: Link) -> dict[str, Any]:
    return {
        "kind": r["kind"],
        "label": r["label"],
        "scope": r["scope"],
        "value": r["value"],
        "shown": shown(r["kind"], r["value"]),
        # a player (his name, or his GUID where it shows nothing) or a side's line-up
        "holder": display_name(r["holder"], r.get("guid")) if r.get("holder") is not None else None,
        "guid": r.get("guid"),  # a side's line-up has none (render.tell_apart: a player's)
        "holder_link": player(r["guid"]) if r.get("guid") else None,
        "day": _day(r.get("session_date")),  # the linked session's date, as bests_view
        "link": session(r.get("session_id")),
    }


def records_view(stats: Stats, player: Link, session: Link) -> dict[str, Any]:
    """The standing records (``etl-duck records``): all-time, and per map in map order."""
    rows = [_standing(r, player, session) for r in stats.records()]
    order = {k: i for i, k in enumerate(RECORD_ORDER)}

    def by_kind(r: dict[str, Any]) -> int:
        return order.get(r["kind"], len(order))

    by_map: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["scope"] != "all":
            by_map.setdefault(r["scope"], []).append(r)
    return {
        "all_time": sorted((r for r in rows if r["scope"] == "all"), key=by_kind),
        "maps": [
            {"map_name": name, "records": sorted(records, key=by_kind)}
            for name, records in sorted(by_map.items(), key=lambda kv: kv[0].lower())
        ],
    }
