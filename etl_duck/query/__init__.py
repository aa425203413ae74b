"""The query API: DuckDB SQL from ``queries/*.sql`` over the lake, results as Polars frames.

``stats`` (:class:`Stats`, everything a user can ask), ``serving`` (the compact serving
tables in memory), ``windows``, ``players`` (career-card lookups), ``cache`` (the one
version-keyed LRU) and ``aio`` (the typed async facade for the bot). Imports no discord,
asyncssh or matplotlib; heavy libraries load on first use.
"""

from etl_duck.query.stats import NoData, PlayerAmbiguous, PlayerNotFound, SessionReport, Stats
from etl_duck.query.windows import ALL_FROM, ALL_TO, Window

__all__ = [
    "ALL_FROM",
    "ALL_TO",
    "NoData",
    "PlayerAmbiguous",
    "PlayerNotFound",
    "SessionReport",
    "Stats",
    "Window",
]
