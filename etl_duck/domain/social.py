"""Duos, lineups and rivals: pure functions over per-map results and endstats versus sums
(the serving rollups ``player_match_results`` and ``player_versus_sessions``).

Definitions (honest, with sample sizes):

* **Teammates** of a player P: for each player T who was ever on P's side of a complete
  map, P's maps *together* (same side) and *apart* (P played, T was not on his side:
  absent or against him), each as won–lost–drawn and a win rate = won / maps. The best
  partner is the highest win rate together over at least ``min_maps`` maps together.
* **Lineups**: a side's exact roster on a map; recurring lineups against each other are
  the (roster, roster) pairs that met on at least ``min_maps`` maps, with their record.
* **Rivals** (endstats): per opponent, kills (P killed him) and deaths (he killed P) over
  the rounds both were in, with the round count; the nemesis kills P most, the easiest
  prey is killed by P most (ties: the better ratio for the winner of the pairing). Each
  round's duels come from P's own block, or from the opponent's where P's is missing (a
  cut or crashed file), so P's and O's views always agree; bots are no rivals. An opponent
  is named as teammates are (:func:`current_names`), not by what the endstats file wrote at
  the last meeting (an old alias, and without the bytes ``et.Q_CleanStr`` drops).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

MIN_MAPS = 3  # a duo or lineup needs this many maps before it has a "record"
MIN_ROUNDS = 3  # a rival needs this many rounds against each other


def _record(frame: pl.DataFrame, prefix: str) -> list[pl.Expr]:
    import polars as pl

    won, lost, drawn = (pl.col("result") == r for r in ("W", "L", "D"))
    return [
        pl.len().alias(f"{prefix}_maps"),
        won.sum().alias(f"{prefix}_won"),
        lost.sum().alias(f"{prefix}_lost"),
        drawn.sum().alias(f"{prefix}_drawn"),
    ]


def current_names(results: pl.DataFrame) -> pl.DataFrame:
    """(guid, name): each player's name on his latest complete map, the name teammates,
    lineups and rivals show. ``results``: rows of ``player_match_results``."""
    import polars as pl

    return results.sort("end_time").group_by("guid").agg(pl.col("name").last())


def teammates(results: pl.DataFrame, guid: str, min_maps: int = MIN_MAPS) -> pl.DataFrame:
    """One row per teammate of ``guid``: maps together and apart with their records and win
    rates (``together_rate``, ``apart_rate``, ``difference``), most maps together first.
    ``results``: rows of ``player_match_results`` (match_id, guid, name, side, result)."""
    import polars as pl

    mine = results.filter(pl.col("guid") == guid).select("match_id", "side", "result")
    if mine.is_empty():
        return pl.DataFrame(
            schema={"guid": pl.String, "name": pl.String, "together_maps": pl.UInt32}
        )
    others = results.filter(pl.col("match_id").is_in(mine["match_id"].implode())).filter(
        pl.col("guid") != guid
    )
    names = current_names(results)
    pairs = others.join(mine, on="match_id", suffix="_me")
    together = (
        pairs.filter(pl.col("side") == pl.col("side_me"))
        .with_columns(pl.col("result_me").alias("result"))
        .group_by("guid")
        .agg(*_record(pairs, "together"))
    )
    total = mine.select(*_record(mine, "all")).row(0, named=True)
    out = together.join(names, on="guid", how="left").with_columns(
        (pl.lit(total["all_maps"]) - pl.col("together_maps")).alias("apart_maps"),
        (pl.lit(total["all_won"]) - pl.col("together_won")).alias("apart_won"),
        (pl.lit(total["all_lost"]) - pl.col("together_lost")).alias("apart_lost"),
        (pl.lit(total["all_drawn"]) - pl.col("together_drawn")).alias("apart_drawn"),
    )

    def rate(p: str) -> pl.Expr:
        return (
            pl.when(pl.col(f"{p}_maps") > 0)
            .then(pl.col(f"{p}_won") / pl.col(f"{p}_maps") * 100)
            .otherwise(None)
        )

    against = (
        pairs.filter(pl.col("side") != pl.col("side_me"))
        .group_by("guid")
        .agg(
            pl.len().alias("against_maps"), (pl.col("result_me") == "W").sum().alias("against_won")
        )
    )
    return (
        out.with_columns(rate("together").alias("together_rate"), rate("apart").alias("apart_rate"))
        .with_columns((pl.col("together_rate") - pl.col("apart_rate")).alias("difference"))
        .join(against, on="guid", how="left")
        .with_columns(pl.col("against_maps").fill_null(0), pl.col("against_won").fill_null(0))
        .with_columns((pl.col("together_maps") >= min_maps).alias("regular"))
        .sort(["together_maps", "together_rate", "guid"], descending=[True, True, False])
    )


def best_partner(mates: pl.DataFrame, min_maps: int = MIN_MAPS) -> dict[str, object] | None:
    """The teammate with the best win rate together over at least ``min_maps`` maps."""
    import polars as pl

    if mates.is_empty() or "together_rate" not in mates.columns:
        return None
    pool = mates.filter(pl.col("together_maps") >= min_maps)
    if pool.is_empty():
        return None
    return pool.sort(
        ["together_rate", "together_maps", "guid"], descending=[True, True, False]
    ).row(0, named=True)


def lineups(results: pl.DataFrame, min_maps: int = MIN_MAPS) -> pl.DataFrame:
    """Recurring rosters against each other: one row per (roster, roster) pair that met on
    at least ``min_maps`` maps, with both rosters (GUIDs and names) and the first roster's
    won–lost–drawn, most maps first."""
    import polars as pl

    if results.is_empty():
        return pl.DataFrame()
    names = current_names(results)
    sides = (
        results.join(names, on="guid", suffix="_now")
        .sort("guid")
        .group_by("match_id", "side")
        .agg(
            pl.col("guid").alias("guids"),
            pl.col("name_now").alias("names"),
            pl.col("result").first(),
            pl.col("end_time").max(),
        )
        .with_columns(pl.col("guids").list.join(",").alias("key"))
    )
    x = sides.filter(pl.col("side") == "X")
    y = sides.filter(pl.col("side") == "Y").select(
        "match_id", pl.col("guids").alias("guids_b"), pl.col("names").alias("names_b"),
        pl.col("key").alias("key_b"),
    )  # fmt: skip
    meet = x.join(y, on="match_id")
    # one orientation per pair: the roster with the smaller key first
    swap = pl.col("key") > pl.col("key_b")
    flip = {"W": "L", "L": "W", "D": "D"}
    meet = meet.select(
        pl.when(swap).then(pl.col("key_b")).otherwise(pl.col("key")).alias("lineup_a"),
        pl.when(swap).then(pl.col("key")).otherwise(pl.col("key_b")).alias("lineup_b"),
        pl.when(swap).then(pl.col("names_b")).otherwise(pl.col("names")).alias("names_a"),
        pl.when(swap).then(pl.col("names")).otherwise(pl.col("names_b")).alias("names_b"),
        pl.when(swap)
        .then(pl.col("result").replace_strict(flip))
        .otherwise(pl.col("result"))
        .alias("result"),
        "end_time",
    )
    return (
        meet.group_by("lineup_a", "lineup_b")
        .agg(
            pl.col("names_a").first(),
            pl.col("names_b").first(),
            pl.len().alias("maps"),
            (pl.col("result") == "W").sum().alias("won_a"),
            (pl.col("result") == "L").sum().alias("won_b"),
            (pl.col("result") == "D").sum().alias("drawn"),
            pl.col("end_time").max().alias("last_met"),
        )
        .filter(pl.col("maps") >= min_maps)
        .sort(["maps", "last_met"], descending=True)
    )


def rivals(versus: pl.DataFrame, guid: str, results: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per opponent of ``guid``: rounds, kills, deaths and K/D against him, by deaths
    (who kills you most first). ``versus``: rows of ``player_versus_sessions``, which holds
    both directions of every pair already merged per round (his own block's row where the
    file has one, else the opponent's row about him, swapped), bots left out: his rows are
    his whole story, and the opponent's rows about him are their mirror. ``results``: rows
    of ``player_match_results``, whose :func:`current_names` name the opponents; the name the
    endstats file wrote at their last meeting only where the GUID has none (no complete
    map), or without ``results``."""
    import polars as pl

    mine = versus.filter(pl.col("guid") == guid)
    if mine.is_empty():
        return pl.DataFrame(
            schema={"guid": pl.String, "name": pl.String, "rounds": pl.Int64,
                    "kills": pl.Int64, "deaths": pl.Int64, "kd": pl.Float64}
        )  # fmt: skip
    both = (
        mine.sort("session_date", "session_id")
        .group_by("opponent_guid")
        .agg(
            pl.col("opponent_name").last(), pl.col("rounds").sum(), pl.col("kills").sum(),
            pl.col("deaths").sum(),
        )
    )  # fmt: skip
    if results is not None and not results.is_empty():
        now = current_names(results).rename({"guid": "opponent_guid", "name": "name_now"})
        both = (
            both.join(now, on="opponent_guid", how="left")
            .with_columns(pl.coalesce("name_now", "opponent_name").alias("opponent_name"))
            .drop("name_now")
        )
    return (
        both.rename({"opponent_guid": "guid", "opponent_name": "name"})
        .with_columns(
            pl.when(pl.col("deaths") > 0)
            .then(pl.col("kills") / pl.col("deaths"))
            .otherwise(pl.col("kills").cast(pl.Float64))
            .alias("kd")
        )
        .sort(["deaths", "kills", "guid"], descending=[True, False, False])
    )


def nemesis_and_prey(
    table: pl.DataFrame, min_rounds: int = MIN_ROUNDS
) -> tuple[dict[str, object] | None, dict[str, object] | None]:
    """(who killed the player most, whom he killed most), among opponents met in at least
    ``min_rounds`` rounds; on a tie the lower K/D (the higher for prey), then the first GUID."""
    import polars as pl

    pool = table.filter(pl.col("rounds") >= min_rounds) if not table.is_empty() else table
    if pool.is_empty():
        return None, None
    # the GUID last: two opponents level on both counts name the same one every run (the
    # table's row order is the query's, not a promise)
    nemesis = pool.sort(["deaths", "kd", "guid"], descending=[True, False, False]).row(
        0, named=True
    )
    prey = pool.sort(["kills", "kd", "guid"], descending=[True, True, False]).row(0, named=True)
    return (nemesis if nemesis["deaths"] else None), (prey if prey["kills"] else None)
