"""Ratings per lake version: the map results from the ``map_players`` serving table, rated by
:mod:`etl_duck.domain.rating`, kept incrementally (a commit re-reads only the session dates
it changed and replays from the last checkpoint before the first map that differs).

:class:`~etl_duck.query.stats.Stats` owns one :class:`RatingBook` and serves its results
through ``Stats.cached`` (keyed on the lake version), like every other answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from etl_duck.domain.forecasts import Calibration, Scoreboard
from etl_duck.domain.rating import (
    DEFAULT,
    MAP_COLUMNS,
    MapResult,
    Point,
    RatingConfig,
    RatingRun,
    maps_from_rows,
    replay,
)
from etl_duck.domain.teams import tell_apart
from etl_duck.sqlfiles import sql

if TYPE_CHECKING:
    import polars as pl

    from etl_duck.domain.balance import Split
    from etl_duck.domain.records import Event
    from etl_duck.query.ratingstore import RatingStore, SavedRating
    from etl_duck.query.serving import Serving

#: a process that brought a saved rating forward by fewer events than this does not save
#: its own (~0.25 s for ten years): the next one replays those few events again instead
SAVE_AFTER_EVENTS = 1024
SAVE_AFTER_DATES = 64  # … or re-read more session dates than this (a rebuild, a resettle)
TREND_MAPS = 10  # a trend is the change of the conservative rating over his last maps
#: a name written ``+name`` in balance / predict is a new player (no history) at the model's
#: starting rating; his key is the prefix and the lower-case name (never a GUID: those are hex)
NEW_PLAYER = "+"


class RatingBook:
    """The latest :class:`RatingRun`, brought to the lake's version on request (from the
    state a short-lived process saved, see :mod:`etl_duck.query.ratingstore`, if any)."""

    def __init__(
        self, serving: Serving, config: RatingConfig = DEFAULT, store: RatingStore | None = None
    ) -> None:
        self.serving = serving
        self.config = config
        self.store = store
        self._lock = threading.Lock()
        self._run: RatingRun | None = None
        self._version = -1
        self._epoch = -1  # the Serving's lake (``Serving.epoch``) the run was made of
        self._by_date: dict[date, list[MapResult]] = {}
        self._key: tuple[Any, ...] = ()  # the state key of the run held
        #: (epoch, version, run) of the run held, as one object (read without the lock)
        self._held: tuple[int, int, RatingRun] | None = None

    def run(self) -> RatingRun:
        # one version for the comparison, the read and the run made of it (a pin is this
        # thread's alone: other threads refresh meanwhile)
        with self.serving.pinned() as (version, _):
            # a recreated lake reuses version numbers, the epoch tells its run from the old
            # one's
            epoch = self.serving.epoch
            held = self._held
            if held is not None and held[:2] == (epoch, version):
                return held[2]
            with self._lock:
                held = self._held
                if held is not None and held[:2] == (epoch, version):
                    return held[2]
                if held is not None and (epoch, version) < held[:2]:
                    # asked for an older version than the book holds (an answer pinned
                    # before a commit another thread's answer has read): replayed for it
                    # from the start, and the book stays where it is
                    _, by_date, _ = self._read(None, {}, fresh=True)
                    return replay([m for d in sorted(by_date) for m in by_date[d]], self.config)
                return self._bring_forward(epoch, version)

    def _bring_forward(self, epoch: int, version: int) -> RatingRun:
        """The run at the pinned ``version`` of ``epoch``, from the one held (or the saved
        one): under the lock, in the pin."""
        from etl_duck.query.ratingstore import SavedRating, date_content, state_key

        manifest = self.serving.manifest()
        key = state_key(self.config, manifest.options, self.serving.files)
        if key != self._key or epoch != self._epoch:
            # other settings, a serving table derived since, or another lake (its dates are
            # not compared with the old one's): replay from the start
            self._run, self._by_date = None, {}
        saved = self.store.load(key) if self.store and self._run is None else None
        content = date_content(manifest) if self.store is not None else {}
        previous, by_date, changed = self._read(saved, content)
        first = previous is None
        run = previous
        if first or changed or run is None:
            every = [m for d in sorted(by_date) for m in by_date[d]]
            run = replay(every, self.config, previous=previous)
            if self.store is not None and (
                saved is None or run.replayed > SAVE_AFTER_EVENTS or len(changed) > SAVE_AFTER_DATES
            ):
                self.store.save(SavedRating(key, content, by_date, run))
        # installed only now: a read or replay that failed leaves the book as it was
        self._run, self._by_date, self._version, self._key = run, by_date, version, key
        self._epoch = epoch
        self._held = (epoch, version, run)  # one assignment: read whole without the lock
        return run

    def _read(
        self, saved: SavedRating | None, now: dict[str, tuple[Any, ...]], fresh: bool = False
    ) -> tuple[RatingRun | None, dict[date, list[MapResult]], list[date]]:
        """(the run to bring forward, the maps by date as the lake has them now, the dates
        read again); ``fresh``: every map, whatever the book holds."""
        previous, kept = (None, {}) if fresh else (self._run, self._by_date)
        if saved is not None:
            # replayed: the events this process computed (none yet)
            previous, kept = replace(saved.run, replayed=0), saved.by_date
            changed = sorted(
                date.fromisoformat(d)
                for d in now.keys() | saved.content.keys()
                if now.get(d) != saved.content.get(d)
            )
        else:
            changed = [] if previous is None else self.serving.changed_since(self._version)
        first = previous is None
        maps: list[MapResult] = []
        if first or changed:
            cur = self.serving.cursor()
            text = sql("rating_map_players")
            years = None if first else {d.year for d in changed}
            with self.serving.reading():
                self.serving.prepare(cur, text, years=years)
                res = cur.execute(text, {"all": first, "dates": changed})
                assert tuple(d[0] for d in res.description) == MAP_COLUMNS
                maps = maps_from_rows(_chunks(res))
        gone = set(changed)
        by_date = {} if first else {d: v for d, v in kept.items() if d not in gone}
        for m in maps:
            by_date.setdefault(m.session_date, []).append(m)
        return previous, by_date, changed


def _chunks(res: Any, size: int = 8192) -> Iterator[tuple[Any, ...]]:
    """Rows a chunk at a time: ten years are 150k rows, which as one list of Python
    tuples would leave ~100 MiB of freed-but-held memory in the process."""
    while rows := res.fetchmany(size):
        yield from rows


@dataclass(frozen=True)
class RatingIndex:
    """Per-player views of one run: history by GUID, and the ranked table."""

    run: RatingRun
    history: dict[str, list[Point]]  # (guid, end time, match id, μ, σ) after each of his maps
    table: pl.DataFrame  # rank, guid, name, rating, mu, sigma, maps, w/l/t, trend, last_played


def index(run: RatingRun, names: dict[str, str]) -> RatingIndex:
    import polars as pl

    history: dict[str, list[Point]] = {}
    # the log's plain tuples, not HistoryPoints: 180k named tuples at 10 years cost ~0.5 s
    # on every lake version, for the few players anyone asks about
    for segment in run.history.segments:
        for p in segment:
            history.setdefault(p[0], []).append(p)
    rows: list[dict[str, Any]] = []
    z = 3.0
    for guid in run.states:
        r = run.rating(guid)
        points = history.get(guid, [])
        # history points only, each right after one of his maps: the current rating's σ
        # also grew with his time away, which is no change of form
        trend = None
        if len(points) > TREND_MAPS:
            last, past = points[-1], points[-TREND_MAPS - 1]
            trend = (last[3] - z * last[4]) - (past[3] - z * past[4])
        rows.append(
            {
                "guid": guid,
                "name": names.get(guid, guid),
                "rating": r.rating,
                "mu": r.mu,
                "sigma": r.sigma,
                "maps": r.maps,
                "wins": r.wins,
                "losses": r.losses,
                "ties": r.ties,
                "trend": trend,
                "last_played": r.last_end,
            }
        )
    schema: dict[str, Any] = {
        "guid": pl.String, "name": pl.String, "rating": pl.Float64, "mu": pl.Float64,
        "sigma": pl.Float64, "maps": pl.Int64, "wins": pl.Int64, "losses": pl.Int64,
        "ties": pl.Int64, "trend": pl.Float64, "last_played": pl.Datetime("us"),
    }  # fmt: skip
    table = pl.DataFrame(rows, schema=schema).sort(
        ["rating", "maps", "guid"], descending=[True, True, False]
    )
    table = table.select(pl.int_range(1, table.height + 1).alias("rank"), pl.all())
    return RatingIndex(run, history, table)


def new_player(text: str) -> tuple[str, str] | None:
    """(key, name) for ``+name`` — a new player with no history — else None."""
    text = text.strip()
    if not text.startswith(NEW_PLAYER) or not text[len(NEW_PLAYER) :].strip():
        return None
    name = text[len(NEW_PLAYER) :].strip()
    return NEW_PLAYER + name.lower(), name


def is_new(key: str) -> bool:
    """Whether a balance / forecast key is a new player's (``+name``), not a GUID."""
    return key.startswith(NEW_PLAYER)


def labels(people: Iterable[tuple[str, str]], new: str = "new") -> dict[str, str]:
    """GUID → the name to show in one answer: a new player's name marked ``(new)`` (or
    ``new``'s words); players who share a name told apart by
    :func:`~etl_duck.domain.teams.tell_apart` (``vid (D842)``, ``vid (no GUID)``) — the
    rule that also tells apart two teams named after captains of one name."""
    people = list(dict(people).items())
    known = tell_apart((g, name) for g, name in people if not is_new(g))
    return {g: f"{name} ({new})" if is_new(g) else known[g] for g, name in people}


def people_of(*frames: Any) -> list[tuple[str, str]]:
    """(GUID, name) of the players of one answer given as tables (polars frames) or rows
    (dicts) with a ``guid`` and a ``name`` (a row without a GUID, a team's, is left out)."""
    people: list[tuple[str, str]] = []
    for frame in frames:
        rows = frame.iter_rows(named=True) if hasattr(frame, "iter_rows") else frame
        for r in rows:
            if r is not None and r.get("guid") is not None and r.get("name") is not None:
                people.append((str(r["guid"]), str(r["name"])))
    return people


def frame_labels(*frames: Any, new: str = "new") -> dict[str, str]:
    """:func:`labels` of the players of one answer (:func:`people_of`)."""
    return labels(people_of(*frames), new)


def label_of(named: dict[str, str], row: dict[str, Any], key: str = "name") -> str:
    """The name to show for ``row`` (a dict with ``guid`` and ``key``) from :func:`labels`'
    ``named``; the row's own ``key`` where its GUID is not there (a team's names)."""
    guid = row.get("guid")
    return named.get(str(guid), str(row[key])) if guid is not None else str(row[key])


def events_told_apart(events: Iterable[Event]) -> list[Event]:
    """``events`` (records, personal bests, milestones of one answer) with each player
    holder and previous holder shown as :func:`labels` shows him among the others of his
    name in the answer ("by vid (5D98) (was … by vid (D842))", not "by vid (was … by vid)");
    a team's names as they are."""
    events = list(events)
    people = [(e.guid, e.holder) for e in events if e.guid is not None]
    people += [
        (e.previous_guid, e.previous_holder)
        for e in events
        if e.previous_guid is not None and e.previous_holder is not None
    ]

    def shown(guid: str, name: str) -> str:
        # each (GUID, name) told apart from the answer's other players of that name: a
        # player renamed between two of its events keeps each event's own name
        same = [(g, n) for g, n in people if g != guid and n.lower() == name.lower()]
        return labels([*same, (guid, name)])[guid]

    return [
        replace(
            e,
            holder=e.holder if e.guid is None else shown(e.guid, e.holder),
            previous_holder=(
                e.previous_holder
                if e.previous_guid is None or e.previous_holder is None
                else shown(e.previous_guid, e.previous_holder)
            ),
        )
        for e in events
    ]


def roster_labels(
    named: dict[str, str], guids: Iterable[str], names: Iterable[str]
) -> tuple[str, ...]:
    """A team's players as :func:`labels` shows them (sorted, as a team's ``players``); its
    own ``names`` where one of ``guids`` is not in ``named``."""
    guids = list(guids)
    if all(g in named for g in guids):
        return tuple(sorted(named[g] for g in guids))
    return tuple(names)


@dataclass(frozen=True)
class PlayerRatingCard:
    guid: str
    name: str
    row: dict[str, Any]  # the player's row of the rating table (rank among everyone rated)
    rank: int | None  # rank among players with at least the leaderboard's minimum of maps
    ranked_players: int
    min_maps: int
    history: pl.DataFrame  # end_time, match_id, mu, sigma, rating


@dataclass(frozen=True)
class Predictions:
    """Walk-forward forecasts of every counted map and their scores."""

    maps: pl.DataFrame  # one row per map: teams, every method's P(first attackers win), result
    scores: pl.DataFrame  # method, label, brier, log_loss, maps
    board: Scoreboard
    calibration: Calibration


@dataclass(frozen=True)
class TeamForecast:
    team_a: list[tuple[str, str]]  # (guid, name)
    team_b: list[tuple[str, str]]
    p_a: float  # P(team A wins), sides not yet known
    mu_a: float
    mu_b: float
    rating_a: float
    rating_b: float
    as_of: datetime | None  # the last rated map


@dataclass(frozen=True)
class Balance:
    players: dict[str, str]  # guid → name
    splits: list[Split]
    avoided: tuple[frozenset[str], frozenset[str]] | None  # the previous split, if avoided
    as_of: datetime | None


def predictions(run: RatingRun, names: dict[str, str]) -> Predictions:
    import polars as pl

    from etl_duck.domain.forecasts import LABELS, METHODS, walk_forward

    board = walk_forward(run)
    maps = {e[2]: e[3] for e in run.events}
    rows: list[dict[str, Any]] = []
    for pred, fc in zip(run.predictions, board.rows, strict=True):
        m = maps[pred.match_id]
        rows.append(
            {
                "match_id": pred.match_id,
                "session_date": pred.session_date,
                "map_name": pred.map_name,
                "start_time": pred.start_time,
                "first_team": [names.get(p.guid, p.guid) for p in m.team(True)],
                "second_team": [names.get(p.guid, p.guid) for p in m.team(False)],
                "first_guids": [p.guid for p in m.team(True)],
                "second_guids": [p.guid for p in m.team(False)],
                "p_first": fc.p["rating_cal"],
                **{f"p_{k}": fc.p[k] for k in METHODS if k != "rating_cal"},
                "result": pred.result,
                "unrated": pred.unrated,
            }
        )
    frame = pl.DataFrame(rows) if rows else pl.DataFrame()
    scores = pl.DataFrame(
        [
            {"method": k, "label": LABELS[k], **dict(zip(("brier", "log_loss", "maps"),
                                                       board.score(k), strict=True))}
            for k in METHODS
        ]
    )  # fmt: skip
    return Predictions(frame, scores, board, board.calibration)


def _strength(run: RatingRun, people: list[tuple[str, str]]) -> list[tuple[float, float]]:
    out = []
    for guid, _ in people:
        r = run.rating(guid)
        out.append((r.mu, r.sigma))
    return out


def forecast(
    run: RatingRun,
    cal: Calibration,
    team_a: list[tuple[str, str]],
    team_b: list[tuple[str, str]],
) -> TeamForecast:
    from etl_duck.domain.rating import win_probability

    a, b = _strength(run, team_a), _strength(run, team_b)
    q = win_probability(a, b, run.config.beta)
    return TeamForecast(
        team_a=team_a,
        team_b=team_b,
        p_a=cal.either_side(q),
        mu_a=sum(m for m, _ in a),
        mu_b=sum(m for m, _ in b),
        rating_a=sum(m - 3 * s for m, s in a),
        rating_b=sum(m - 3 * s for m, s in b),
        as_of=run.last_time,
    )


def balance(
    run: RatingRun,
    cal: Calibration,
    people: list[tuple[str, str]],
    *,
    apart: list[tuple[str, str]],
    together: list[tuple[str, str]],
    avoid: tuple[frozenset[str], frozenset[str]] | None,
    limit: int,
) -> Balance:
    from etl_duck.domain.balance import splits
    from etl_duck.domain.rating import win_probability

    beta = run.config.beta
    players = [(g, r.mu, r.sigma) for g, _ in people if (r := run.rating(g))]

    def p_win(a: Any, b: Any) -> float:
        return cal.either_side(win_probability(a, b, beta))

    found = splits(players, p_win, apart=apart, together=together, avoid=avoid, limit=limit)
    return Balance(dict(people), found, avoid, run.last_time)
