"""Weng–Lin's Thurstone–Mosteller full-pairing update (JMLR 12, 2011, Algorithm 3) for two
teams, on plain (μ, σ) floats.

It gives the same numbers as ``openskill.models.ThurstoneMostellerFull.rate`` with the
settings :mod:`etl_duck.domain.rating` uses (no weights, margin, balance or sigma limit, τ
applied by the caller), bit for bit: the same formulas in the same order of operations,
checked against openskill in ``tests/test_rating.py``. openskill's ``rate`` deep-copies its
rating objects and draws a ``uuid4`` for each one; those were ~60 % of a full replay
(1.7 s of ten years' 15.6k maps), and a fresh process (the site, the CLI) pays a full
replay on its first rating question.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

# openskill's defaults, which etl-duck's ratings were tuned with
KAPPA = 0.0001  # floor of the σ shrink factor
EPSILON = 0.1  # the draw margin's half-width before scaling by c

_EPS = sys.float_info.epsilon
_SQRT2 = math.sqrt(2.0)
_SQRT_TAU = math.sqrt(math.tau)


# statistics.NormalDist()'s cdf and pdf (what openskill calls) with μ = 0 and σ = 1 folded
# in: x − 0.0, x / (1.0 · √2) and a variance of 1.0 are exact, so the bits are the same
# (the openskill test checks), without importing `statistics` (~10 ms for every process
# that imports the query API)
def _cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


def _pdf(x: float) -> float:
    return math.exp(x * x / -2.0) / _SQRT_TAU


Player = tuple[float, float]  # (μ, σ) as it enters the team (already scaled and widened)


def _v(x: float, t: float) -> float:
    xt = x - t
    denominator = _cdf(xt)
    return -xt if denominator < _EPS else _pdf(xt) / denominator


def _w(x: float, t: float) -> float:
    xt = x - t
    if _cdf(xt) < _EPS:
        return 1 if x < 0 else 0
    return _v(x, t) * (_v(x, t) + xt)


def _vt(x: float, t: float) -> float:
    xx = abs(x)
    b = _cdf(t - xx) - _cdf(-t - xx)
    if b < 1e-5:
        return -x - t if x < 0 else -x + t
    a = _pdf(-t - xx) - _pdf(t - xx)
    return (-a if x < 0 else a) / b


def _wt(x: float, t: float) -> float:
    xx = abs(x)
    b = _cdf(t - xx) - _cdf(-t - xx)
    if b < _EPS:
        return 1.0
    return ((t - xx) * _pdf(t - xx) + (t + xx) * _pdf(-t - xx)) / b + _vt(x, t) * _vt(x, t)


def _team(players: Sequence[Player]) -> tuple[float, float]:
    """Σμ and Σσ², summed best conservative rating first (openskill's order: the same
    rounding)."""
    mu = 0.0
    var = 0.0
    for m, s in sorted(players, key=lambda p: p[0] - 3.0 * p[1], reverse=True):
        mu += m
        var += s**2
    return mu, var


def rate(
    first: Sequence[Player], second: Sequence[Player], result: float, beta: float
) -> tuple[list[Player], list[Player]]:
    """The two teams' players after a map that the first team won (``result`` 1), tied
    (0.5) or lost (0)."""
    # σ as openskill's rate() leaves it with τ = 0: √(σ² + 0)
    teams = [[(m, math.sqrt(s * s + 0.0)) for m, s in t] for t in (first, second)]
    won = 0 if result == 0.5 else (1 if result > 0.5 else -1)  # for the first team
    sums = [_team(teams[0]), _team(teams[1])]
    out: list[list[Player]] = []
    for i, sign in ((0, won), (1, -won)):
        mu_i, var_i = sums[i]
        mu_q, var_q = sums[1 - i]
        c = math.sqrt(var_i + var_q + (2 * beta**2))
        delta_mu = (mu_i - mu_q) / c
        ss = var_i / c
        gamma = math.sqrt(var_i) / c
        t = EPSILON / c
        if sign > 0:
            omega = ss * _v(delta_mu, t)
            delta = gamma * ss / c * _w(delta_mu, t)
        elif sign < 0:
            omega = -ss * _v(-delta_mu, t)
            delta = gamma * ss / c * _w(-delta_mu, t)
        else:
            omega = ss * _vt(delta_mu, t)
            delta = gamma * ss / c * _wt(delta_mu, t)
        team: list[Player] = []
        for m, s in teams[i]:
            share = s**2 / var_i
            team.append((m + share * omega, s * math.sqrt(max(1 - share * delta, KAPPA))))
        out.append(team)
    return out[0], out[1]
