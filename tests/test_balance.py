"""Balanced teams: the exhaustive search finds exactly the splits a brute force over every
assignment finds, best first; keep-apart, keep-together and avoid-previous hold."""

from __future__ import annotations

import itertools
import random

import pytest

from etl_duck.domain.balance import EXHAUSTIVE_MAX, BalanceError, Player, Split, splits
from etl_duck.domain.rating import DEFAULT, win_probability


def p_win(a: object, b: object) -> float:
    return win_probability(a, b, DEFAULT.beta)  # type: ignore[arg-type]


def players(n: int, seed: int) -> list[Player]:
    rng = random.Random(seed)
    return [(f"G{i:02d}", rng.uniform(15, 40), rng.uniform(1, 6)) for i in range(n)]


def brute_force(ps: list[Player]) -> dict[frozenset[frozenset[str]], float]:
    """Every assignment of every player to A or B, sizes equal ±1, as unordered splits."""
    out: dict[frozenset[frozenset[str]], float] = {}
    for bits in itertools.product((0, 1), repeat=len(ps)):
        a = [p for p, x in zip(ps, bits, strict=True) if x]
        b = [p for p, x in zip(ps, bits, strict=True) if not x]
        if abs(len(a) - len(b)) > 1 or not a or not b:
            continue
        key = frozenset({frozenset(p[0] for p in a), frozenset(p[0] for p in b)})
        out[key] = abs(p_win([(p[1], p[2]) for p in a], [(p[1], p[2]) for p in b]) - 0.5)
    return out


def as_key(s: Split) -> frozenset[frozenset[str]]:
    return frozenset({frozenset(s.team_a), frozenset(s.team_b)})


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
def test_exhaustive_equals_brute_force(n: int) -> None:
    ps = players(n, seed=n)
    got = splits(ps, p_win, limit=None)
    want = brute_force(ps)
    assert len(got) == len(want)  # every split once, none missing
    assert {as_key(s) for s in got} == set(want)
    assert got[0].fairness == pytest.approx(min(want.values()), abs=1e-12)
    assert [s.fairness for s in got] == sorted(s.fairness for s in got)  # best first
    for s in got:
        assert abs(len(s.team_a) - len(s.team_b)) <= 1
        assert s.mu_a == pytest.approx(sum(p[1] for p in ps if p[0] in s.team_a))


def test_fourteen_players_is_1716_splits() -> None:
    got = splits(players(EXHAUSTIVE_MAX, seed=14), p_win, limit=None)
    assert len(got) == 1716
    assert len({as_key(s) for s in got}) == 1716


def test_keep_apart_together_and_avoid_previous() -> None:
    ps = players(8, seed=3)
    every = brute_force(ps)
    apart, together = [("G00", "G01")], [("G02", "G03")]
    got = splits(ps, p_win, apart=apart, together=together, limit=None)
    allowed = {
        k: v
        for k, v in every.items()
        if not any({"G00", "G01"} <= t for t in k) and any({"G02", "G03"} <= t for t in k)
    }
    assert {as_key(s) for s in got} == set(allowed)
    assert got[0].fairness == pytest.approx(min(allowed.values()), abs=1e-12)
    # the previous evening's split (for those present) is never offered again
    prev = (frozenset({"G00", "G02", "G04", "G06", "X"}), frozenset({"G01", "G03", "G05", "G07"}))
    again = splits(ps, p_win, avoid=prev, limit=None)
    repeated = frozenset({frozenset({"G00", "G02", "G04", "G06"}),
                          frozenset({"G01", "G03", "G05", "G07"})})  # fmt: skip
    assert repeated not in {as_key(s) for s in again}
    assert len(again) == len(every) - 1


def test_bad_requests() -> None:
    ps = players(4, seed=1)
    with pytest.raises(BalanceError):
        splits(ps[:1], p_win)
    with pytest.raises(BalanceError):
        splits([*ps, ps[0]], p_win)
    with pytest.raises(BalanceError):
        splits(ps, p_win, apart=[("G00", "nobody")])
    with pytest.raises(BalanceError):  # together and apart at once: nothing left
        splits(ps, p_win, apart=[("G00", "G01")], together=[("G00", "G01")])


def test_more_than_fourteen_uses_a_local_search() -> None:
    ps = players(18, seed=18)
    got = splits(ps, p_win, limit=5)
    assert got and all(abs(len(s.team_a) - len(s.team_b)) <= 1 for s in got)
    assert got[0].fairness < 0.05  # 18 players of similar skill: a near coin flip exists
    assert len(set(got[0].team_a) | set(got[0].team_b)) == 18
