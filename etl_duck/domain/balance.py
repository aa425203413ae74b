"""Balanced teams: every split of the players into two teams of equal size (±1), best first
by the predicted win probability closest to 50 %.

Up to :data:`EXHAUSTIVE_MAX` players every split is scored (14 players: C(13, 6) = 1,716
splits); beyond that a deterministic local search (a snake draft by μ, then the best
single swap while one helps) returns good splits without the guarantee.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

EXHAUSTIVE_MAX = 14
Player = tuple[str, float, float]  # (GUID, μ, σ)
WinProbability = Callable[[Sequence[tuple[float, float]], Sequence[tuple[float, float]]], float]


@dataclass(frozen=True)
class Split:
    team_a: tuple[str, ...]  # GUIDs, sorted
    team_b: tuple[str, ...]
    p_a: float  # P(team A wins)
    mu_a: float  # Σ μ
    mu_b: float
    rating_a: float  # Σ conservative rating (μ − 3σ)
    rating_b: float

    @property
    def fairness(self) -> float:
        """Distance of the forecast from a coin flip (0 is perfectly fair)."""
        return abs(self.p_a - 0.5)


class BalanceError(ValueError):
    """The request cannot be met (too few players, contradicting constraints)."""


def _key(s: Split) -> tuple[float, float, tuple[str, ...]]:
    return (round(s.fairness, 12), round(abs(s.mu_a - s.mu_b), 9), s.team_a)


def _make(players: Sequence[Player], in_a: Sequence[bool], p_win: WinProbability) -> Split:
    a = [p for p, x in zip(players, in_a, strict=True) if x]
    b = [p for p, x in zip(players, in_a, strict=True) if not x]
    return Split(
        team_a=tuple(sorted(p[0] for p in a)),
        team_b=tuple(sorted(p[0] for p in b)),
        p_a=p_win([(p[1], p[2]) for p in a], [(p[1], p[2]) for p in b]),
        mu_a=sum(p[1] for p in a),
        mu_b=sum(p[1] for p in b),
        rating_a=sum(p[1] - 3 * p[2] for p in a),
        rating_b=sum(p[1] - 3 * p[2] for p in b),
    )


def _allowed(
    team_a: set[str],
    everyone: set[str],
    apart: Iterable[tuple[str, str]],
    together: Iterable[tuple[str, str]],
    avoid: tuple[frozenset[str], frozenset[str]] | None,
) -> bool:
    for x, y in apart:
        if (x in team_a) == (y in team_a):
            return False
    for x, y in together:
        if (x in team_a) != (y in team_a):
            return False
    if avoid is not None:
        pa, pb = (avoid[0] & everyone), (avoid[1] & everyone)
        if pa and pb and len(pa) + len(pb) >= 4:
            team_b = everyone - team_a
            if (pa <= team_a and pb <= team_b) or (pa <= team_b and pb <= team_a):
                return False  # the previous split again (for those who were there)
    return True


def splits(
    players: Sequence[Player],
    p_win: WinProbability,
    *,
    apart: Sequence[tuple[str, str]] = (),
    together: Sequence[tuple[str, str]] = (),
    avoid: tuple[frozenset[str], frozenset[str]] | None = None,
    limit: int | None = 10,
) -> list[Split]:
    """The allowed splits, best first (``limit`` of them; None: all)."""
    guids = [p[0] for p in players]
    if len(set(guids)) != len(guids):
        raise BalanceError("a player is listed twice")
    if len(players) < 2:
        raise BalanceError("balancing needs at least two players")
    known = set(guids)
    for x, y in (*apart, *together):
        if x not in known or y not in known:
            raise BalanceError("a keep-apart / keep-together player is not in the list")
        if x == y:
            raise BalanceError("a player cannot be kept apart from (or with) himself")
    ordered = sorted(players, key=lambda p: p[0])
    n = len(ordered)
    if n > EXHAUSTIVE_MAX:
        found = _local_search(ordered, p_win, apart, together, avoid)
        return found if limit is None else found[:limit]
    k = n // 2
    out: list[Split] = []
    # an even split is counted once: team A holds the first player
    pool = range(1, n) if n % 2 == 0 else range(n)
    size = k - 1 if n % 2 == 0 else k
    for combo in combinations(pool, size):
        members = set(combo) | ({0} if n % 2 == 0 else set())
        team_a = {ordered[i][0] for i in members}
        if not _allowed(team_a, known, apart, together, avoid):
            continue
        out.append(_make(ordered, [i in members for i in range(n)], p_win))
    if not out:
        raise BalanceError("no split satisfies the keep-apart / keep-together / avoid options")
    out.sort(key=_key)
    return out if limit is None else out[:limit]


def _local_search(
    ordered: Sequence[Player],
    p_win: WinProbability,
    apart: Sequence[tuple[str, str]],
    together: Sequence[tuple[str, str]],
    avoid: tuple[frozenset[str], frozenset[str]] | None,
) -> list[Split]:
    n = len(ordered)
    known = {p[0] for p in ordered}
    by_mu = sorted(range(n), key=lambda i: (-ordered[i][1], ordered[i][0]))
    in_a = [False] * n
    for j, i in enumerate(by_mu):
        in_a[i] = (j + 1) // 2 % 2 == 0  # snake draft: A B B A A B B …
    seen: dict[tuple[bool, ...], Split] = {}

    def score(flags: list[bool]) -> Split | None:
        key = tuple(flags)
        if key not in seen:
            team_a = {ordered[i][0] for i in range(n) if flags[i]}
            if not _allowed(team_a, known, apart, together, avoid):
                return None
            seen[key] = _make(ordered, flags, p_win)
        return seen[key]

    best = score(in_a)
    while True:
        improved = False
        for i in range(n):
            for j in range(n):
                if in_a[i] and not in_a[j]:
                    trial = list(in_a)
                    trial[i], trial[j] = False, True
                    s = score(trial)
                    if s is not None and (best is None or _key(s) < _key(best)):
                        best, in_a, improved = s, trial, True
        if not improved:
            break
    if best is None:
        raise BalanceError("no split satisfies the keep-apart / keep-together / avoid options")
    return sorted(seen.values(), key=_key)
