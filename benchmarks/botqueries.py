"""The questions the bot answers, as calls on the public query API (``Stats``).

One catalogue for every kind of timing in :mod:`benchmarks.bench_flat` (cache hit, LRU
miss, nothing warm in a fresh process, first request after a commit), so each kind times
the same call. Each query also has a small summary of its answer, so a run can show that
every figure came from a real answer (rows returned, top of a board) and the tests can
check answers against the generator's truth.

This module imports nothing heavy: the fresh-process timings import it first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl_duck.query.stats import Stats

#: the bot's /leaderboard asks for five pages of ten (etl_duck/bot/cogs/leaderboard.py)
BOARD_LIMIT = 50

#: every metric of the registry (``Stats.metrics()``), listed here so that this module
#: imports nothing; :func:`check_metrics` compares it with the registry
METRICS = (
    "kills", "kd", "dpm", "accuracy", "headshot_rate", "games", "revives", "gibs",
    "objectives", "efficiency", "teamwork", "multikills", "grenade_kills",
)  # fmt: skip


@dataclass(frozen=True)
class Context:
    """Who the player questions ask about: a busy player whose name is his alone."""

    name: str
    guid: str


@dataclass(frozen=True)
class Query:
    key: str
    label: str
    call: Callable[[Stats, Context], Any]
    headline: bool  # timed with the full number of fresh processes


def _board(metric: str, window: str = "all") -> Callable[[Stats, Context], Any]:
    def call(stats: Stats, ctx: Context) -> Any:
        return stats.leaderboard(metric, window, BOARD_LIMIT)

    return call


def _card(stats: Stats, ctx: Context) -> Any:
    return stats.player(ctx.name)


def _card_as_bot(stats: Stats, ctx: Context) -> Any:
    """/player: the card, then the player's personal bests (etl_duck/bot/cogs/players.py)."""
    card = stats.player(ctx.name)
    return card, stats.personal_bests(card.guid)


def _weapons(stats: Stats, ctx: Context) -> Any:
    return stats.weapon_stats(ctx.name)


def _session_summary(stats: Stats, ctx: Context) -> Any:
    """The last session's per-player summary (the /session players table; the session
    board's rows)."""
    return stats.player_totals(stats.resolve_window("session"))


def _last_session(stats: Stats, ctx: Context) -> Any:
    return stats.last_session()


def _sessions(stats: Stats, ctx: Context) -> Any:
    return stats.sessions()


QUERIES: tuple[Query, ...] = (
    Query("lb_kills", "All-time leaderboard: kills", _board("kills"), True),
    Query("lb_dpm", "All-time leaderboard: DPM", _board("dpm"), True),
    Query("lb_month", "Month leaderboard: kills", _board("kills", "month"), True),
    Query("card", "Player card (`Stats.player`)", _card, True),
    Query("weapons", "Weapon totals of a player", _weapons, True),
    Query("session_summary", "Last session per-player summary", _session_summary, True),
    Query("last_session", "Last session report (/last_session)", _last_session, True),
    Query("sessions", "Session list (/sessions)", _sessions, True),
    *(
        Query(f"lb_{m}", f"All-time leaderboard: {m}", _board(m), False)
        for m in METRICS
        if m not in ("kills", "dpm")
    ),
    Query("card_bot", "Player card as /player shows it (+ personal bests)", _card_as_bot, False),
)
BY_KEY = {q.key: q for q in QUERIES}


def summarize(result: Any) -> dict[str, Any]:
    """Rows returned and a glimpse of the answer (top of a board, a card's totals)."""
    if isinstance(result, tuple) and len(result) == 2 and hasattr(result[0], "totals"):
        card, bests = result
        with_bests = summarize(card)
        with_bests["personal_bests"] = len(bests[2]) if isinstance(bests, tuple) else None
        return with_bests
    if hasattr(result, "totals") and hasattr(result, "guid"):  # PlayerCard
        t = result.totals
        return {
            "rows": 1,
            "guid": result.guid,
            "rounds": int(t["rounds"]),
            "kills": int(t["kills"]),
            "weapons": int(result.weapons.height),
        }
    if hasattr(result, "players") and hasattr(result, "session_id"):  # SessionReport
        return {
            "rows": int(result.players.height),
            "session_id": int(result.session_id),
            "rounds": int(result.rounds.height),
        }
    if hasattr(result, "height"):  # a Polars frame
        out: dict[str, Any] = {"rows": int(result.height)}
        if result.height and {"guid", "value"} <= set(result.columns):
            out["top"] = [
                [str(g), float(v)] for g, v in result.select("guid", "value").head(10).rows()
            ]
        if "kills" in result.columns and result.height:
            out["kills"] = int(result["kills"].sum())
        return out
    return {"rows": None, "type": type(result).__name__}


def pick_player(stats: Stats) -> Context:
    """The player with the most counted rounds whose current name finds him alone."""
    from etl_duck.query.stats import PlayerNotFound

    board = stats.leaderboard("games", "all", 20, min_rounds=0)
    for guid, name in board.select("guid", "name").rows():
        try:
            found, _ = stats.resolve_player(str(name))
        except PlayerNotFound:
            continue
        if found == guid:
            return Context(str(name), str(guid))
    guid = str(board["guid"][0])
    return Context(guid, guid)  # a GUID always resolves


def check_metrics(stats_metrics: dict[str, Any]) -> list[str]:
    """Metrics of the registry this catalogue misses (it must time every leaderboard)."""
    return sorted(set(stats_metrics) - set(METRICS))
