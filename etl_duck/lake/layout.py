"""The names of what a snapshot holds, importable without PyArrow (the query side opens a
lake and answers from DuckDB alone: a cold start does not pay for PyArrow).

Partitioned tables (``<table>/session_date=…/``), serving rollups (``_serving/<name>/``,
per-session rows in year shards, see :mod:`etl_duck.lake.rollups`) and career tables
(``_serving/career_*/``, all-time per player, see :mod:`etl_duck.lake.careers`).

A serving table's year is one shard (key ``YYYY``) or two: ``YYYY`` holds the dates before
a cutoff and ``YYYY-MM-DD`` the cutoff date and after, the latest sessions, so a live
commit rewrites a few weeks of rows instead of the whole year (:mod:`etl_duck.lake.rollups`).
"""

from __future__ import annotations

TABLES = ("rounds", "player_rounds", "weapon_rounds", "endstats_awards", "endstats_versus")

#: serving table → the query that builds its rows from `player_rounds` / `weapon_rounds`
ROLLUPS: dict[str, str] = {
    "player_sessions": "rollup_player_sessions",
    "player_weapon_sessions": "rollup_player_weapons",
    "player_map_sessions": "rollup_player_maps",
    "player_name_sessions": "rollup_player_names",
    "player_round_tails": "rollup_player_round_tails",
    "player_match_results": "rollup_player_match_results",
    "player_map_bests": "rollup_player_map_bests",
    "player_versus_sessions": "rollup_player_versus",
    "map_players": "rollup_map_players",  # stopwatch map results by player: the rating input
}
SERVING_TABLES: tuple[str, ...] = ("rounds", *ROLLUPS)

#: career table → (the per-session serving table it sums, its query)
CAREERS: dict[str, tuple[str, str]] = {
    "career_players": ("player_sessions", "rollup_career_players"),
    "career_weapons": ("player_weapon_sessions", "rollup_career_weapons"),
    "career_maps": ("player_map_sessions", "rollup_career_maps"),
    "career_names": ("player_name_sessions", "rollup_career_names"),
    "career_tails": ("player_round_tails", "rollup_career_tails"),
}
CAREER_ALL = "all"  # the shard holding the career
CAREER_PRIOR = "prior-"  # + YYYY: the career of the years before YYYY


def shard_year(key: str) -> str | None:
    """The year whose rows a serving shard holds: its key (``2025``, or ``2025-12-01`` for
    the rows from that date on); None for a career shard (``all``, ``prior-YYYY``)."""
    return key[:4] if key[:4].isdigit() else None
