"""Skill rating from stopwatch map results: μ, σ and a conservative rating per player, and
the walk-forward prediction of every map (pure: a function of the map results alone).

The model is openskill's Weng–Lin Bayesian rating (``openskill.models``), a TrueSkill-like
team rating with an open licence and no factor-graph code of our own. The default model's
update runs on plain floats (:mod:`etl_duck.domain.thurstone`, the same bits as openskill's
``rate``, which spends most of its time copying rating objects). Two things are ours:

* **Partial play.** A player who played a share ``w`` of a map enters his team as the
  scaled rating (w·μ, w·σ): the team's strength is Σ w·μ, and un-scaling the update gives
  Δμ ∝ w·σ² and a σ that shrinks with w² (TrueSkill's partial-play rule). openskill's own
  ``weights`` normalise within a team and *divide* a loser's update by the weight, which
  would punish a late joiner most for a lost map, so they are not used.
* **Time.** Before each map a player's σ² grows by τ² (skills drift) plus ``drift²`` per
  day since his last map (a returning player is less certain), never above the prior σ.

Walk-forward: events are ordered by time; a map's *prediction* happens at its start and
uses only the updates of maps that *ended* at or before that instant; its *update* happens
at its end. So adding later files never changes an earlier prediction, and the result does
not depend on the order files were ingested in (only on the map results).

Records are named tuples, not dataclasses: a tuple of plain values is untracked by
Python's cycle collector, so ten years of history (~200k records) do not make every full
collection walk them (measured: a 200 ms pause inside a 10 ms update).

Incremental: :func:`replay` takes the previous :class:`RatingRun` and starts from the last
checkpoint before the first event that differs, so a commit that appends one map costs one
update, and the result is identical (bit for bit) to a full recompute.
"""

from __future__ import annotations

import bisect
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from etl_duck.domain import thurstone

Z = 3.0  # conservative rating = μ − Zσ: the skill we are ~99.9 % sure a player exceeds
DENSE_EVENTS = 4096  # the last ~2 months of maps keep every checkpoint
SPARSE_EVERY = 16  # before that, one checkpoint in 16
CHECKPOINT_EVERY = 64  # events between saved states (a commit replays from the last one)
FLOAT_MODEL = "ThurstoneMostellerFull"  # the model etl_duck.domain.thurstone computes


@dataclass(frozen=True, slots=True)
class RatingConfig:
    """The model and its hyper-parameters (chosen by walk-forward log-loss, DECISIONS.md)."""

    model: str = "ThurstoneMostellerFull"
    mu: float = 25.0
    sigma: float = 6.25
    beta: float = 12.0
    tau: float = 25.0 / 300.0  # per map
    # σ² grows by drift² per day away: a regular back after a year is about as uncertain
    # as after his first dozen maps (σ ≈ 5 of the prior 6.25)
    drift_per_day: float = 0.15

    def new_model(self) -> Any:
        from openskill import models

        cls = getattr(models, self.model)
        # tau=0: the dynamics are applied here (on the unscaled σ), not inside rate()
        return cls(mu=self.mu, sigma=self.sigma, beta=self.beta, tau=0.0)


DEFAULT = RatingConfig()


class MapPlayer(NamedTuple):
    guid: str
    first: bool  # on the team that attacked first
    weight: float  # share of the map's playing time, (0, 1]
    seconds: int  # own seconds played (for DPM)
    damage: int  # damage given over rows with time (DPM numerator)


class MapResult(NamedTuple):
    """One counted stopwatch map: who played for which team, and how it ended."""

    match_id: int
    session_id: int
    session_date: date
    map_name: str
    start_time: datetime
    end_time: datetime
    result: float  # for the team that attacked first: 1 won, 0.5 double fullhold, 0 lost
    #: the players by GUID, as plain tuples (see :func:`roster`): untracked by the collector
    roster: tuple[tuple[str, bool, float, int, int], ...]

    @property
    def players(self) -> tuple[MapPlayer, ...]:
        return tuple(MapPlayer._make(r) for r in self.roster)

    def team(self, first: bool) -> tuple[MapPlayer, ...]:
        return tuple(p for p in self.players if p.first == first)


def roster(players: Iterable[MapPlayer]) -> tuple[tuple[str, bool, float, int, int], ...]:
    """Players as plain tuples, by GUID (a MapResult's ``roster``)."""
    return tuple(sorted((tuple(p) for p in players), key=lambda r: r[0]))  # type: ignore[misc]


class PlayerRating(NamedTuple):
    guid: str
    mu: float
    sigma: float
    maps: int
    wins: int
    losses: int
    ties: int
    last_end: datetime

    @property
    def rating(self) -> float:
        return self.mu - Z * self.sigma


class Prediction(NamedTuple):
    """The pre-map forecast of one map (walk-forward) next to what happened."""

    match_id: int
    session_date: date
    map_name: str
    start_time: datetime
    end_time: datetime
    p_first: float  # P(the team that attacked first wins)
    result: float
    first_mu: float  # summed μ of each team at the start
    second_mu: float
    first_players: int
    second_players: int
    unrated: int  # players without a rated map before this one


class HistoryPoint(NamedTuple):
    guid: str
    end_time: datetime
    match_id: int
    mu: float
    sigma: float


# an event: (time, order, match_id, kind, map). Updates sort before predictions at the same
# instant ("ended before it started" includes ending exactly then); ties broken by match id
_UPDATE, _PREDICT = 0, 1
Event = tuple[datetime, int, int, MapResult]


Point = tuple[str, datetime, int, float, float]  # (guid, end time, match id, μ, σ)


@dataclass(frozen=True)
class HistoryLog:
    """Every player's (μ, σ) after each of his maps, as plain tuples (untracked by the
    collector: ~150k records at 10 years), in segments that end at the checkpoints, so a
    replay from a checkpoint keeps the earlier segments as they are instead of copying."""

    segments: tuple[tuple[Point, ...], ...] = ()

    def __len__(self) -> int:
        return sum(len(s) for s in self.segments)

    def points(self, guid: str | None = None) -> list[HistoryPoint]:
        return [
            HistoryPoint(*p) for seg in self.segments for p in seg if guid is None or p[0] == guid
        ]


class _History:
    """The log while a replay appends to it: closed segments plus the open one."""

    def __init__(self, log: HistoryLog | None = None, segments: int = 0) -> None:
        self.closed: list[tuple[Point, ...]] = list(log.segments[:segments]) if log else []
        self.open: list[Point] = []

    def cut(self) -> int:
        """Close the open segment (at a checkpoint); the number of closed segments."""
        self.closed.append(tuple(self.open))
        self.open = []
        return len(self.closed)

    def append(self, guid: str, end: datetime, match_id: int, mu: float, sigma: float) -> None:
        self.open.append((guid, end, match_id, mu, sigma))

    def freeze(self) -> HistoryLog:
        return HistoryLog((*self.closed, tuple(self.open)))


@dataclass(frozen=True)
class Checkpoint:
    index: int  # events applied
    states: dict[str, PlayerRating]
    predictions: int
    history: int  # closed history segments


@dataclass(frozen=True)
class RatingRun:
    """The ratings after every map, each map's prediction, and the rating history."""

    config: RatingConfig
    events: tuple[Event, ...]
    states: dict[str, PlayerRating]
    predictions: tuple[Prediction, ...]
    history: HistoryLog
    checkpoints: tuple[Checkpoint, ...]
    replayed: int = 0  # events computed by the replay that made this run (diagnostics)
    last_time: datetime | None = None  # the end of the last map ("now" for σ widening)

    @property
    def maps(self) -> int:
        return len(self.predictions)

    def rating(self, guid: str, at: datetime | None = None) -> PlayerRating:
        """A player's rating now (σ widened for the time since his last map), or a new
        player's prior."""
        state = self.states.get(guid)
        when = at or self.last_time
        if state is None:
            return PlayerRating(guid, self.config.mu, self.config.sigma, 0, 0, 0, 0,
                                when or datetime.min)  # fmt: skip
        sigma = _widened(state, when, self.config, per_map=False)
        return PlayerRating(guid, state.mu, sigma, state.maps, state.wins, state.losses,
                            state.ties, state.last_end)  # fmt: skip

    def player_history(self, guid: str) -> list[HistoryPoint]:
        return self.history.points(guid)


# --------------------------------------------------------------------------- the replay


def events_of(maps: Iterable[MapResult]) -> tuple[Event, ...]:
    out: list[Event] = []
    for m in maps:
        out.append((m.start_time, _PREDICT, m.match_id, m))
        out.append((m.end_time, _UPDATE, m.match_id, m))
    # (time, kind, match id) is unique, so the map itself is never compared; the maps come
    # nearly in order, which timsort turns into a linear pass
    out.sort()
    return tuple(out)


def replay(
    maps: Iterable[MapResult],
    config: RatingConfig = DEFAULT,
    previous: RatingRun | None = None,
) -> RatingRun:
    """Rate every map in time order (full recompute, or from ``previous``'s last checkpoint
    before the first event that differs: the same result either way)."""
    maps = list(maps)
    events = _events(maps, previous)
    start = 0
    states: dict[str, PlayerRating] = {}
    predictions: list[Prediction] = []
    history = _History()
    checkpoints: list[Checkpoint] = []
    if previous is not None and previous.config == config:
        same = _common_prefix(previous.events, events)
        usable = [c for c in previous.checkpoints if c.index <= same]
        if usable:
            cp = usable[-1]
            start = cp.index
            states = dict(cp.states)
            predictions = list(previous.predictions[: cp.predictions])
            history = _History(previous.history, cp.history)
            checkpoints = list(usable)
    # the default model is computed on plain floats (etl_duck.domain.thurstone, the same
    # bits as openskill's); openskill's objects only for the others the benchmark compares
    model = None if config.model == FLOAT_MODEL else config.new_model()
    for i in range(start, len(events)):
        if i % CHECKPOINT_EVERY == 0 and (not checkpoints or checkpoints[-1].index < i):
            checkpoints.append(Checkpoint(i, dict(states), len(predictions), history.cut()))
            _thin(checkpoints)
        _when, kind, _, m = events[i]
        if kind == _PREDICT:
            predictions.append(_predict(model, config, states, m))
        else:
            _update(model, config, states, m, history)
    last_time = next((e[0] for e in reversed(events) if e[1] == _UPDATE), None)
    return RatingRun(
        config=config,
        events=events,
        states=states,
        predictions=tuple(predictions),
        history=history.freeze(),
        checkpoints=tuple(checkpoints),
        replayed=len(events) - start,
        last_time=last_time,
    )


def _events(maps: list[MapResult], previous: RatingRun | None) -> tuple[Event, ...]:
    """The events of ``maps``, reusing ``previous``'s for the maps it already had (the same
    objects): a commit creates events only for its own maps."""
    if previous is None:
        return events_of(maps)
    now = {id(m) for m in maps}
    kept = [e for e in previous.events if id(e[3]) in now]
    had = {id(e[3]) for e in kept}
    out = kept + list(events_of([m for m in maps if id(m) not in had]))
    out.sort()  # two sorted runs: a merge
    return tuple(out)


def _thin(checkpoints: list[Checkpoint]) -> None:
    """Keep every checkpoint of the last :data:`DENSE_EVENTS` events, one in
    :data:`SPARSE_EVERY` before (a file that late is rare; a state copy is ~20 KiB)."""
    last = checkpoints[-1].index
    keep = [
        c
        for c in checkpoints
        if c.index >= last - DENSE_EVENTS or c.index % (CHECKPOINT_EVERY * SPARSE_EVERY) == 0
    ]
    if len(keep) != len(checkpoints):
        checkpoints[:] = keep


def _common_prefix(old: Sequence[Event], new: Sequence[Event]) -> int:
    n = min(len(old), len(new))
    i, step = 0, 1024
    # whole slices first: tuple comparison runs in C and finds the maps identical by id
    while i + step <= n and old[i : i + step] == new[i : i + step]:
        i += step
    while i < n:
        a, b = old[i], new[i]
        if not (a[0] == b[0] and a[1] == b[1] and a[2] == b[2] and (a[3] is b[3] or a[3] == b[3])):
            break
        i += 1
    return i


def _widened(
    state: PlayerRating, when: datetime | None, config: RatingConfig, per_map: bool
) -> float:
    """σ before a map at ``when``: + τ² per map, + drift² per day away, at most the prior."""
    var = state.sigma * state.sigma
    if per_map:
        var += config.tau * config.tau
    if when is not None and when > state.last_end:
        days = (when - state.last_end).total_seconds() / 86400.0
        var += config.drift_per_day * config.drift_per_day * days
    return min(math.sqrt(var), config.sigma)


def _prior(config: RatingConfig, guid: str, when: datetime) -> PlayerRating:
    return PlayerRating(guid, config.mu, config.sigma, 0, 0, 0, 0, when)


def _predict(
    model: Any, config: RatingConfig, states: dict[str, PlayerRating], m: MapResult
) -> Prediction:
    # the two-team forecast of openskill's ``predict_win``, computed directly (the same
    # formula, checked in tests/test_rating.py): building rating objects per forecast was
    # half the cost of a full replay
    teams: list[list[tuple[float, float]]] = [[], []]
    mus = [0.0, 0.0]
    unrated = 0
    for guid, first, *_ in m.roster:
        s = states.get(guid)
        if s is None:
            unrated += 1
            mu, sigma = config.mu, config.sigma
        else:
            mu, sigma = s.mu, _widened(s, m.start_time, config, per_map=True)
        t = 0 if first else 1
        teams[t].append((mu, sigma))
        mus[t] += mu
    p_first = win_probability(teams[0], teams[1], config.beta) if teams[0] and teams[1] else 0.5
    return Prediction(
        match_id=m.match_id,
        session_date=m.session_date,
        map_name=m.map_name,
        start_time=m.start_time,
        end_time=m.end_time,
        p_first=float(p_first),
        result=m.result,
        first_mu=mus[0],
        second_mu=mus[1],
        first_players=len(teams[0]),
        second_players=len(teams[1]),
        unrated=unrated,
    )


def _update(
    model: Any,
    config: RatingConfig,
    states: dict[str, PlayerRating],
    m: MapResult,
    history: _History,
) -> None:
    sides: tuple[list[tuple[str, float, PlayerRating, float]], ...] = ([], [])
    for guid, first, weight, *_ in m.roster:
        s = states.get(guid) or _prior(config, guid, m.start_time)
        sides[0 if first else 1].append(
            (guid, weight, s, _widened(s, m.start_time, config, per_map=True))
        )
    if not sides[0] or not sides[1]:
        return  # a one-sided map says nothing about skill
    teams = [[(w * s.mu, w * sigma) for _, w, s, sigma in side] for side in sides]
    rated: Sequence[list[tuple[float, float]]]
    if model is None:
        rated = thurstone.rate(teams[0], teams[1], m.result, config.beta)
    else:
        ranks = [0.0, 0.0] if m.result == 0.5 else ([0.0, 1.0] if m.result > 0.5 else [1.0, 0.0])
        objs = [[model.rating(mu=mu, sigma=sigma) for mu, sigma in t] for t in teams]
        rated = [[(r.mu, r.sigma) for r in t] for t in model.rate(objs, ranks=ranks)]
    outcome = (m.result, 1.0 - m.result)
    for t in (0, 1):
        won = outcome[t] == 1.0
        lost = outcome[t] == 0.0
        for (guid, w, s, _), (mu, sigma) in zip(sides[t], rated[t], strict=True):
            new = PlayerRating(
                guid=guid,
                mu=mu / w,
                sigma=sigma / w,
                maps=s.maps + 1,
                wins=s.wins + won,
                losses=s.losses + lost,
                ties=s.ties + (not won and not lost),
                last_end=m.end_time,
            )
            states[guid] = new
            history.append(guid, m.end_time, m.match_id, new.mu, new.sigma)


# --------------------------------------------------------------------------- forecasts


def win_probability(
    team_a: Sequence[tuple[float, float]], team_b: Sequence[tuple[float, float]], beta: float
) -> float:
    """P(team A beats team B) from (μ, σ) pairs: Φ((ΣμA − ΣμB) / √(2β² + ΣσA² + ΣσB²)), the
    two-team forecast of openskill's models (``predict_win``), without building objects."""
    mu = sum(m for m, _ in team_a) - sum(m for m, _ in team_b)
    var = 2 * beta * beta + sum(s * s for _, s in team_a) + sum(s * s for _, s in team_b)
    return 0.5 * (1.0 + math.erf(mu / math.sqrt(2.0 * var)))


def brier(predictions: Iterable[tuple[float, float]]) -> float:
    """Mean (p − outcome)² over (p, outcome) pairs; a tie is outcome 0.5."""
    pairs = list(predictions)
    return sum((p - o) ** 2 for p, o in pairs) / len(pairs) if pairs else float("nan")


def log_loss(predictions: Iterable[tuple[float, float]], eps: float = 1e-12) -> float:
    """Mean −[o·ln p + (1 − o)·ln(1 − p)] (a tie counts half a win, half a loss)."""
    pairs = list(predictions)
    if not pairs:
        return float("nan")
    total = 0.0
    for p, o in pairs:
        p = min(1 - eps, max(eps, p))
        total -= o * math.log(p) + (1 - o) * math.log(1 - p)
    return total / len(pairs)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    if len(a) != len(b) or len(a) < 2:
        return float("nan")
    ra, rb = _ranks(a), _ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    return cov / math.sqrt(va * vb) if va and vb else float("nan")


def _ranks(xs: Sequence[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


# --------------------------------------------------------------------------- from rows


MAP_COLUMNS = (
    "match_id", "session_id", "session_date", "map_name", "start_time", "end_time", "guid",
    "first_attack", "seconds", "map_seconds", "result_first", "dpm_damage", "time_played_s",
)  # fmt: skip


def maps_from_rows(rows: Iterable[Sequence[Any]]) -> list[MapResult]:
    """MapResults from ``map_players`` serving rows in :data:`MAP_COLUMNS` order
    (``queries/rating_map_players.sql``), ordered by start time then match id."""
    heads: dict[int, Sequence[Any]] = {}
    players: dict[int, list[tuple[str, bool, float, int, int]]] = {}
    for r in rows:
        mid = r[0]
        if mid not in heads:  # only what a MapResult keeps: rows are many, maps are few
            heads[mid] = (r[1], r[2], r[3], r[4], r[5], r[10])
            players[mid] = []
        share = r[8] / r[9] if r[9] else 1.0
        players[mid].append(  # one GUID string per player, not one per row
            (sys.intern(str(r[6])), bool(r[7]), min(1.0, max(share, 1e-3)), int(r[12]), int(r[11]))
        )
    out = [
        MapResult(
            int(mid),
            int(h[0]),
            h[1],
            str(h[2]),
            h[3],
            h[4],
            float(h[5]),
            tuple(sorted(players[mid])),
        )
        for mid, h in heads.items()
    ]
    out.sort(key=lambda m: (m.start_time, m.match_id))
    return out


def at_or_before(points: Sequence[HistoryPoint], when: datetime) -> HistoryPoint | None:
    """The last history point at or before ``when`` (points in time order)."""
    i = bisect.bisect_right([p.end_time for p in points], when)
    return points[i - 1] if i else None
