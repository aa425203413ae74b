"""Balanced teams: every split of the players into two teams of equal size (±1), best first
by the predicted win probability closest to 50 %.

Up to :data:`EXHAUSTIVE_MAX` players every split is scored (14 players: C(13, 6) = 1,716
splits); beyond that a deterministic local search returns good splits without the
guarantee: the players move in units that keep the keep-apart / keep-together options by
construction (a greedy draft of the units, then the best flip of a few units while one
helps), and whether any allowed split exists is decided exactly, not by the search.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
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


class NotListed(BalanceError):
    """A keep-apart / keep-together pair names ``player`` (his key: a GUID or ``+name``),
    who is not among the players to split. ``who`` and ``option``: how the caller shows
    him and the option (``vid (D8423F90)``, ``--apart``); by default his key and the
    option's name."""

    def __init__(
        self, player: str, together: bool, who: str | None = None, option: str | None = None
    ) -> None:
        self.player, self.together = player, together
        kind = "keep-together" if together else "keep-apart"
        super().__init__(
            f"{who or player} is in a {kind} pair but not among the players to split: add him "
            f"to the players or drop him from {option or f'the {kind} pairs'}"
        )


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
    for together_pair, (x, y) in [(False, p) for p in apart] + [(True, p) for p in together]:
        for who in (x, y):
            if who not in known:  # named, with the fix (the message named neither)
                raise NotListed(who, together_pair)
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
        # why, as the search of more players says it: a pair kept both together and apart,
        # an odd ring of keep-apart pairs (raised by the units); else sizes or the avoid
        _units(ordered, apart, together)
        raise BalanceError("no split satisfies the keep-apart / keep-together / avoid options")
    out.sort(key=_key)
    return out if limit is None else out[:limit]


def _units(
    ordered: Sequence[Player], apart: Sequence[tuple[str, str]], together: Sequence[tuple[str, str]]
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """The players (indices into ``ordered``) in units that move as one: each keep-together
    group (pairs joined transitively) is one block, and blocks chained by keep-apart pairs
    form one unit of two sides, one for each team (a 2-colouring). Raises when the options
    contradict each other: a pair kept together (through a chain) and apart, or an odd cycle
    of keep-apart pairs (three players who must all be on different teams)."""
    index = {p[0]: i for i, p in enumerate(ordered)}
    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for x, y in together:
        rx, ry = root(index[x]), root(index[y])
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    edges: dict[int, set[int]] = {}
    for x, y in apart:
        rx, ry = root(index[x]), root(index[y])
        if rx == ry:
            raise BalanceError(
                "no split satisfies the keep-apart / keep-together / avoid options: "
                "two players are kept both together and apart"
            )
        edges.setdefault(rx, set()).add(ry)
        edges.setdefault(ry, set()).add(rx)
    blocks: dict[int, list[int]] = {}
    for i in range(len(ordered)):
        blocks.setdefault(root(i), []).append(i)
    colour: dict[int, int] = {}
    out: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for first in sorted(blocks):  # a block's root is its first player
        if first in colour:
            continue
        colour[first] = 0
        sides: tuple[list[int], list[int]] = ([], [])
        queue = [first]
        while queue:
            b = queue.pop()
            sides[colour[b]].extend(blocks[b])
            for other in sorted(edges.get(b, ())):
                if other not in colour:
                    colour[other] = 1 - colour[b]
                    queue.append(other)
                elif colour[other] == colour[b]:
                    raise BalanceError(
                        "no split satisfies the keep-apart / keep-together / avoid options: "
                        "keep-apart pairs in an odd ring cannot all be met by two teams"
                    )
        out.append((tuple(sorted(sides[0])), tuple(sorted(sides[1]))))
    return out


#: the most units of several players whose every orientation is a start of the search
UNIT_STARTS_MAX = 6


def _unit_starts(
    multi: Sequence[int],
    players_in: Sequence[int],
    mu: Sequence[float],
    size: Sequence[tuple[int, int]],
    targets: set[int],
    allowed: Callable[[Sequence[int]], bool],
    score: Callable[[Sequence[int]], Split],
    count: int,
    keep: int = 2,
) -> list[list[int]]:
    """The best few starts among every orientation of the units of several players (the
    moves flip such a unit with two others at most, so two keep-together groups never
    changed their relative side: 16 players with two triples were offered P(A) 0.61 where
    0.50 existed), each completed by drafting the single players to the side whose μ total
    is lower, as many to team A as its size needs."""
    if not multi or len(multi) > UNIT_STARTS_MAX:
        return []
    singles = sorted(
        (u for u in range(count) if players_in[u] == 1), key=lambda u: (-abs(mu[u]), u)
    )
    found: list[tuple[tuple[float, float, tuple[str, ...]], list[int]]] = []
    for bits in range(1 << len(multi)):
        orientation = [0] * count
        on_a, gap = 0, 0.0
        for j, u in enumerate(multi):
            o = (bits >> j) & 1
            orientation[u] = o
            on_a += size[u][o]
            gap += mu[u] if o == 0 else -mu[u]
        for target in sorted(targets):
            need = target - on_a  # single players still to put on team A
            if not 0 <= need <= len(singles):
                continue
            trial, g, left = list(orientation), gap, need
            for k, u in enumerate(singles):
                rest = len(singles) - k
                # μ of a single player's own side: orientation 0 puts him on A
                a_side = 0 if size[u][0] == 1 else 1
                to_a = left == rest or (left > 0 and g <= 0)
                trial[u] = a_side if to_a else 1 - a_side
                g += abs(mu[u]) if to_a else -abs(mu[u])
                left -= to_a
            if allowed(trial):
                found.append((_key(score(trial)), trial))
    found.sort(key=lambda kt: kt[0])
    return [t for _, t in found[:keep]]


def _local_search(
    ordered: Sequence[Player],
    p_win: WinProbability,
    apart: Sequence[tuple[str, str]],
    together: Sequence[tuple[str, str]],
    avoid: tuple[frozenset[str], frozenset[str]] | None,
) -> list[Split]:
    """Good allowed splits of more than :data:`EXHAUSTIVE_MAX` players, without the
    guarantee of the best. The players move in units (:func:`_units`) that respect
    keep-apart and keep-together by construction; whether some orientation of the units
    gives teams of the right sizes that are not the avoided split is decided exactly (a
    dynamic programme over sizes), so "no split" is a proof, never a heuristic's failure.
    The first split is a greedy draft of the units (largest first, each to the side that
    keeps the μ totals closest) that the programme keeps completable, then the best flip of
    one or two units, or of a unit of several players with two others, while one helps; the
    snake draft by μ is a second start where it is allowed."""
    n = len(ordered)
    known = {p[0] for p in ordered}
    units = _units(ordered, apart, together)
    targets = {n // 2, n - n // 2}  # players on team A
    # the avoided split (for those present): which orientations of a unit would repeat it,
    # with pa on team A and pb on team B (match_a) or the other way round (match_b)
    active = False
    pa: frozenset[str] = frozenset()
    pb: frozenset[str] = frozenset()
    if avoid is not None:
        pa, pb = avoid[0] & known, avoid[1] & known
        active = bool(pa and pb and len(pa) + len(pb) >= 4)

    def repeats(side_a: Iterable[int], side_b: Iterable[int]) -> bool:
        """True when these players sit as in the avoided split (pa on A, pb on B)."""
        a = {ordered[i][0] for i in side_a}
        b = {ordered[i][0] for i in side_b}
        return not (a & pb) and not (b & pa)

    size: list[tuple[int, int]] = []  # players on team A, per orientation (0: sides[0] on A)
    match_a: list[tuple[bool, bool]] = []
    match_b: list[tuple[bool, bool]] = []
    for s0, s1 in units:
        size.append((len(s0), len(s1)))
        match_a.append((repeats(s0, s1), repeats(s1, s0)))
        match_b.append((repeats(s1, s0), repeats(s0, s1)))
    mu = [sum(ordered[i][1] for i in s0) - sum(ordered[i][1] for i in s1) for s0, s1 in units]
    weight = [sum(ordered[i][1] for i in (*s0, *s1)) for s0, s1 in units]
    players_in = [len(s0) + len(s1) for s0, s1 in units]
    order = sorted(range(len(units)), key=lambda u: (-players_in[u], -weight[u], u))
    State = tuple[int, bool, bool]  # players on A so far, still the avoided split (A/B way)

    def step(state: State, u: int, o: int) -> State:
        return (state[0] + size[u][o], state[1] and match_a[u][o], state[2] and match_b[u][o])

    # good[k]: the states from which the units order[k:] can still finish an allowed split
    good: list[set[State]] = [set() for _ in range(len(order) + 1)]
    good[-1] = {(t, False, False) for t in targets}
    every = [(s, x, y) for s in range(n + 1) for x in (False, True) for y in (False, True)]
    for k in range(len(order) - 1, -1, -1):
        u = order[k]
        good[k] = {
            st for st in every if step(st, u, 0) in good[k + 1] or step(st, u, 1) in good[k + 1]
        }
    state: State = (0, active, active)
    if state not in good[0]:
        raise BalanceError("no split satisfies the keep-apart / keep-together / avoid options")
    orient = [0] * len(units)
    gap = 0.0  # Σμ(A) − Σμ(B) so far
    for k, u in enumerate(order):
        options = [o for o in (0, 1) if step(state, u, o) in good[k + 1]]
        o = min(options, key=lambda o: (abs(gap + (mu[u] if o == 0 else -mu[u])), o))
        orient[u], state = o, step(state, u, o)
        gap += mu[u] if o == 0 else -mu[u]

    def flags_of(orientation: Sequence[int]) -> list[bool]:
        flags = [False] * n
        for (s0, s1), o in zip(units, orientation, strict=True):
            for i in s0 if o == 0 else s1:
                flags[i] = True
        return flags

    def allowed(orientation: Sequence[int]) -> bool:
        if sum(size[u][o] for u, o in enumerate(orientation)) not in targets:
            return False
        if not active:
            return True
        again_a = all(match_a[u][o] for u, o in enumerate(orientation))
        return not again_a and not all(match_b[u][o] for u, o in enumerate(orientation))

    seen: dict[tuple[bool, ...], Split] = {}

    def score(orientation: Sequence[int]) -> Split:
        flags = flags_of(orientation)
        # one labelling per split, as the exhaustive search: A holds the first player of an
        # even split, A is the smaller team of an odd one
        if (n % 2 == 0 and not flags[0]) or (n % 2 == 1 and sum(flags) != n // 2):
            flags = [not f for f in flags]
        key = tuple(flags)
        if key not in seen:
            seen[key] = _make(ordered, flags, p_win)
        return seen[key]

    multi = [u for u in range(len(units)) if players_in[u] > 1]

    def moves() -> Iterator[tuple[int, ...]]:
        """The units to flip: one, two (a swap of two players is two flips), or a unit of
        several players with two others (a pair for two single players, …)."""
        for u in range(len(units)):
            yield (u,)
            for v in range(u + 1, len(units)):
                yield (u, v)
        for u in multi:
            yield from (
                (u, *vw) for vw in combinations([v for v in range(len(units)) if v != u], 2)
            )

    def descend(orientation: list[int]) -> None:
        best = score(orientation)
        while True:
            now = sum(size[u][o] for u, o in enumerate(orientation))
            delta = [size[u][1 - o] - size[u][o] for u, o in enumerate(orientation)]
            found: tuple[Split, list[int]] | None = None
            for move in moves():
                if now + sum(delta[u] for u in move) not in targets:
                    continue
                trial = list(orientation)
                for u in move:
                    trial[u] ^= 1
                if not allowed(trial):
                    continue
                s = score(trial)
                if _key(s) < _key(best) and (found is None or _key(s) < _key(found[0])):
                    found = (s, trial)
            if found is None:
                return
            best, orientation = found

    descend(orient)
    for start in _unit_starts(multi, players_in, mu, size, targets, allowed, score, len(units)):
        descend(start)
    by_mu = sorted(range(n), key=lambda i: (-ordered[i][1], ordered[i][0]))
    snake = [False] * n
    for j, i in enumerate(by_mu):
        snake[i] = (j + 1) // 2 % 2 == 0  # snake draft: A B B A A B B …
    if _allowed({ordered[i][0] for i in range(n) if snake[i]}, known, apart, together, avoid):
        # allowed: every unit sits one way or the other round
        descend([0 if snake[s0[0]] else 1 for s0, _ in units])
    return sorted(seen.values(), key=_key)
