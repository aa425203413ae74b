"""Walk-forward forecasts of every map by the rating and by the baselines it must beat.

All run over the same events as :func:`etl_duck.domain.rating.replay`: a map is forecast
at its start from the maps that ended by then, and learned from at its end.

* ``coin``: 0.5 for every map.
* ``base_rate``: the first attackers' walk-forward win rate (a logistic with an intercept
  only): how much of the score is the stopwatch side, not skill.
* ``dpm``: "higher summed career DPM wins": a logistic on Σ career DPM of the first
  attackers − Σ of the second (hundreds of DPM; a player without history counts as the
  pool's mean), intercept and slope refitted walk-forward.
* ``old_bot``: the replaced bot's formula: 0.45 head-to-head + 0.30 form + 0.25 map,
  mapped linearly onto 30–70 % (see :func:`old_bot`).
* ``rating``: openskill's forecast from the ratings, as it is (symmetric in the sides).
* ``rating_cal``: the same, calibrated walk-forward (a logistic on its logit: the intercept
  learns the side advantage, the slope its over/under-confidence). The headline model.
* ``blend``: a logistic on the rating logit and the DPM difference together: the measured
  answer to "does per-round performance add to the rating?".
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from etl_duck.domain.rating import (
    _PREDICT,
    MapResult,
    RatingRun,
    brier,
    log_loss,
)

METHODS = ("coin", "base_rate", "dpm", "old_bot", "rating", "rating_cal", "blend")
LABELS = {
    "coin": "coin flip",
    "base_rate": "first-attacker base rate (walk-forward)",
    "dpm": "higher summed career DPM (logistic, walk-forward)",
    "old_bot": "old bot formula (H2H 0.45, form 0.30, map 0.25 → 30–70 %)",
    "rating": "rating (openskill forecast, raw)",
    "rating_cal": "rating + side calibration (walk-forward logistic)",
    "blend": "rating + career DPM (walk-forward logistic)",
}


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def logit(p: float, eps: float = 1e-6) -> float:
    p = min(1 - eps, max(eps, p))
    return math.log(p / (1 - p))


@dataclass
class Logistic:
    """A logistic regression refitted on everything seen so far (Newton's method, a light
    ridge for stability), refitted when the data grew by 10 % (at least 20 maps): the
    walk-forward fit costs O(n log n) in all, not O(n²)."""

    features: int
    ridge: float = 1.0
    xs: list[tuple[float, ...]] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    coef: list[float] = field(default_factory=list)
    fitted_at: int = 0

    def __post_init__(self) -> None:
        self.coef = [0.0] * (self.features + 1)

    def predict(self, x: Sequence[float]) -> float:
        z = self.coef[0] + sum(c * v for c, v in zip(self.coef[1:], x, strict=True))
        return _sigmoid(z)

    def add(self, x: Sequence[float], y: float) -> None:
        self.xs.append(tuple(x))
        self.ys.append(y)
        n = len(self.ys)
        if n - self.fitted_at >= max(20, n // 10):
            self._fit()
            self.fitted_at = n

    def _fit(self) -> None:
        k = self.features + 1
        coef = list(self.coef)
        for _ in range(5):
            grad = [0.0] * k
            hess = [[0.0] * k for _ in range(k)]
            for x, y in zip(self.xs, self.ys, strict=True):
                row = (1.0, *x)
                p = _sigmoid(sum(c * v for c, v in zip(coef, row, strict=True)))
                w = p * (1 - p)
                for i in range(k):
                    grad[i] += (p - y) * row[i]
                    for j in range(i, k):
                        hess[i][j] += w * row[i] * row[j]
            for i in range(k):
                grad[i] += self.ridge * coef[i] if i else 0.0
                hess[i][i] += self.ridge if i else 1e-9
                for j in range(i):
                    hess[i][j] = hess[j][i]
            step = _solve(hess, grad)
            coef = [c - s for c, s in zip(coef, step, strict=True)]
            if max(abs(s) for s in step) < 1e-9:
                break
        self.coef = coef


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (k ≤ 3 here)."""
    n = len(b)
    m = [[*a[i], b[i]] for i in range(n)]
    for c in range(n):
        piv = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[piv] = m[piv], m[c]
        if abs(m[c][c]) < 1e-15:
            return [0.0] * n
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                for j in range(c, n + 1):
                    m[r][j] -= f * m[c][j]
    return [m[i][n] / m[i][i] for i in range(n)]


@dataclass(frozen=True)
class Calibration:
    """P(first attackers win) = σ(a + b·logit q) for the raw rating forecast q."""

    a: float = 0.0
    b: float = 1.0

    def first(self, q: float) -> float:
        return _sigmoid(self.a + self.b * logit(q))

    def either_side(self, q: float) -> float:
        """P(team A wins) when nobody knows yet who attacks first (a balance, a voice
        split): the mean of A attacking first and A attacking second."""
        return 0.5 * (self.first(q) + 1.0 - self.first(1.0 - q))


@dataclass(frozen=True)
class ForecastRow:
    match_id: int
    p: dict[str, float]  # method → P(first attackers win)
    result: float


@dataclass(frozen=True)
class Scoreboard:
    rows: tuple[ForecastRow, ...]
    calibration: Calibration  # the rating calibration after the last map

    def score(self, method: str, skip: int = 0) -> tuple[float, float, int]:
        """(Brier, log-loss, maps) of one method, after the first ``skip`` maps."""
        pairs = [(r.p[method], r.result) for r in self.rows[skip:]]
        return brier(pairs), log_loss(pairs), len(pairs)


# --------------------------------------------------------------------------- the old bot


@dataclass
class _OldBotState:
    pair: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # (a, b) → [pts, n]
    form: dict[str, deque[float]] = field(default_factory=dict)  # last 10 results
    on_map: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # → [pts, n]


def old_bot(
    state: _OldBotState, first: Sequence[str], second: Sequence[str], map_name: str
) -> float:
    """The replaced bot's prediction, as its documentation describes it: head-to-head
    (share of points the first team's players took off the second team's players in
    earlier maps, pooled over pairs), form (mean share of points in each player's last 10
    maps), map (mean share of points on this map); 0.45/0.30/0.25, mapped onto 30–70 %.
    A component without history is 0.5."""
    pts = n = 0.0
    for a in first:
        for b in second:
            rec = state.pair.get((a, b))
            if rec is not None:
                pts += rec[0]
                n += rec[1]
    h2h = pts / n if n else 0.5

    def mean_share(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.5

    def ratio(x: float, y: float) -> float:
        return x / (x + y) if x + y > 0 else 0.5

    def form_of(team: Sequence[str]) -> float:
        return mean_share([sum(f) / len(f) for g in team if (f := state.form.get(g))])

    def map_of(team: Sequence[str]) -> float:
        return mean_share([r[0] / r[1] for g in team if (r := state.on_map.get((g, map_name)))])

    form = ratio(form_of(first), form_of(second))
    on_map = ratio(map_of(first), map_of(second))
    score = 0.45 * h2h + 0.30 * form + 0.25 * on_map
    return 0.30 + 0.40 * score


def _old_bot_learn(state: _OldBotState, m: MapResult) -> None:
    first = [p.guid for p in m.players if p.first]
    second = [p.guid for p in m.players if not p.first]
    for team, pts in ((first, m.result), (second, 1.0 - m.result)):
        for g in team:
            state.form.setdefault(g, deque(maxlen=10)).append(pts)
            rec = state.on_map.setdefault((g, m.map_name), [0.0, 0.0])
            rec[0] += pts
            rec[1] += 1
    for a in first:
        for b in second:
            ab = state.pair.setdefault((a, b), [0.0, 0.0])
            ab[0] += m.result
            ab[1] += 1
            ba = state.pair.setdefault((b, a), [0.0, 0.0])
            ba[0] += 1.0 - m.result
            ba[1] += 1


# --------------------------------------------------------------------------- the run


def walk_forward(run: RatingRun) -> Scoreboard:
    """Every method's forecast of every map in ``run`` (same events, same order)."""
    rating_p = {p.match_id: p.p_first for p in run.predictions}
    career: dict[str, list[int]] = {}  # guid → [damage, seconds] of maps ended so far
    pool = [0, 0]  # all players' damage and seconds: a newcomer's DPM
    base = Logistic(0)
    dpm_fit = Logistic(1)
    cal = Logistic(1, ridge=0.1)
    blend = Logistic(2, ridge=0.1)
    old = _OldBotState()
    pending: dict[int, tuple[float, float]] = {}  # match → (rating logit, DPM feature)
    rows: list[ForecastRow] = []
    for _, kind, match_id, m in run.events:
        if kind == _PREDICT:
            mean = pool[0] * 60 / pool[1] if pool[1] else 0.0
            sums = [0.0, 0.0]  # Σ career DPM of the first / second attackers
            for p in m.players:
                c = career.get(p.guid)
                sums[0 if p.first else 1] += c[0] * 60 / c[1] if c and c[1] else mean
            x_dpm = (sums[0] - sums[1]) / 100.0
            q = rating_p[match_id]
            x_rat = logit(q)
            pending[match_id] = (x_rat, x_dpm)
            first = [p.guid for p in m.players if p.first]
            second = [p.guid for p in m.players if not p.first]
            rows.append(
                ForecastRow(
                    match_id,
                    {
                        "coin": 0.5,
                        "base_rate": base.predict(()),
                        "dpm": dpm_fit.predict((x_dpm,)),
                        "old_bot": old_bot(old, first, second, m.map_name),
                        "rating": q,
                        "rating_cal": cal.predict((x_rat,)),
                        "blend": blend.predict((x_rat, x_dpm)),
                    },
                    m.result,
                )
            )
        else:
            x_rat, x_dpm = pending.pop(match_id)
            base.add((), m.result)
            dpm_fit.add((x_dpm,), m.result)
            cal.add((x_rat,), m.result)
            blend.add((x_rat, x_dpm), m.result)
            _old_bot_learn(old, m)
            for p in m.players:
                c = career.setdefault(p.guid, [0, 0])
                c[0] += p.damage
                c[1] += p.seconds
                pool[0] += p.damage
                pool[1] += p.seconds
    if cal.fitted_at < len(cal.ys) and cal.ys:
        cal._fit()  # the calibration used from now on sees every map
    a, b = (cal.coef[0], cal.coef[1]) if cal.ys else (0.0, 1.0)
    return Scoreboard(tuple(rows), Calibration(a, b))


def calibrate(run: RatingRun, last: int = 2000) -> Calibration:
    """The rating forecast's calibration from the last ``last`` maps (one logistic fit on
    their walk-forward forecasts): what balance and voice forecasts use."""
    fit = Logistic(1, ridge=0.1)
    tail = run.predictions[-last:]
    if len(tail) < 20:
        return Calibration()
    fit.xs = [(logit(p.p_first),) for p in tail]
    fit.ys = [p.result for p in tail]
    fit._fit()
    return Calibration(fit.coef[0], fit.coef[1])


def played_by(
    maps: Sequence[MapResult], team_a: Sequence[str], team_b: Sequence[str], after: object
) -> tuple[MapResult, float] | None:
    """The first map (by start) ending after ``after`` (a datetime, or None: any) that the
    two posted teams played, and team A's result in it (1 won, 0.5 tie, 0 lost).

    Teams match when at least 60 % of the posted players sit on the same sides of the map
    (a straggler or a substitute does not hide the map), and more than the other way round.
    """
    a, b = set(team_a), set(team_b)
    need = 0.6 * (len(a) + len(b))
    for m in sorted(maps, key=lambda x: (x.start_time, x.match_id)):
        if after is not None and m.end_time <= after:  # type: ignore[operator]
            continue
        first = {p.guid for p in m.players if p.first}
        second = {p.guid for p in m.players if not p.first}
        straight = len(a & first) + len(b & second)
        crossed = len(a & second) + len(b & first)
        if max(straight, crossed) >= need and straight != crossed:
            return m, (m.result if straight > crossed else 1.0 - m.result)
    return None
