"""Team names from clan tags, and the per-opponent split of a session's score.

Pure functions over player names and GUID sets (no polars): the scoring module feeds them
the rosters it finds per map.

* A **clan tag** is a prefix or suffix shared by most of a roster, ending at a separator
  (`slomix.carniee`, `ripaZha eLx`, `[DC]x`, `name|TAG`), compared case-insensitively and
  shown in the roster's most common spelling. Without one, a team is named after its
  captain (the member with the most rounds).
* An evening can change opponents: on 2025-11-01 `slomix.` played `///M.` for three maps,
  then `ripaZha` for four, and both opponents were one "Team A" to the session scoring.
  :func:`split_segments` starts a new segment when at least half of one side's roster on a
  map never played for that side in the current segment, names each segment's sides, and
  merges neighbours whose names agree — so the score is told per opponent.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from etl_duck.domain.parse import shows_something

#: characters that end (or start) a clan tag
SEPARATORS = frozenset(" .|-_:/\\[](){}<>*~=#!'\"`+^@$%&,;")
MAX_TAG = 12  # characters; longer shared prefixes are names, not tags
MIN_SHARE = 0.6  # a tag must be worn by this share of the roster (and by two players)
SAME_SIDE = 0.5  # a map's roster continues a segment if this share of it played in it


def _has_alnum(text: str) -> bool:
    return any(c.isalnum() for c in text)


def _candidates(name: str) -> set[str]:
    """Prefix and suffix tags a name could carry, lower-cased and stripped (``p:`` / ``s:``
    keep prefixes and suffixes apart)."""
    out: set[str] = set()
    n = len(name)
    for i in range(2, min(n - 1, MAX_TAG) + 1):
        pre, rest = name[:i], name[i:]
        if (pre[-1] in SEPARATORS or rest[0] in SEPARATORS) and _has_alnum(pre):
            out.add("p:" + pre.strip().lower())
        suf, head = name[n - i :], name[: n - i]
        if (suf[0] in SEPARATORS or head[-1] in SEPARATORS) and _has_alnum(suf):
            out.add("s:" + suf.strip().lower())
    return {c for c in out if len(c) > 3}  # "p:" + at least two characters


def clan_tag(names: Iterable[str]) -> str | None:
    """The tag most of ``names`` share (as most of them write it), or None."""
    distinct = [n for n in dict.fromkeys(str(x) for x in names) if n.strip()]
    if len(distinct) < 2:
        return None
    counts: Counter[str] = Counter()
    for name in distinct:
        counts.update(_candidates(name))
    need = max(2, math.ceil(MIN_SHARE * len(distinct)))
    shared = [(c, k) for k, c in counts.items() if c >= need]
    if not shared:
        return None
    _, key = max(shared, key=lambda ck: (ck[0], len(ck[1]), ck[1]))
    kind, tag = key[:2], key[2:]
    spellings: Counter[str] = Counter()
    for name in distinct:
        part = name[: len(tag) + 2] if kind == "p:" else name[-(len(tag) + 2) :]
        part = part.strip()
        found = part.lower().find(tag) if kind == "p:" else part.lower().rfind(tag)
        if found >= 0:
            spellings[part[found : found + len(tag)]] += 1
    return spellings.most_common(1)[0][0] if spellings else tag


def captain(guids: Iterable[str], rounds: Mapping[str, int], names: Mapping[str, str]) -> str:
    """The member with the most rounds (then the first name alphabetically), by a name that
    shows something, else his GUID ("Team " named nobody)."""
    members = sorted(guids, key=lambda g: (-rounds.get(g, 0), names.get(g, g).lower()))
    if not members:
        return "?"
    name = names.get(members[0], "")
    return name if shows_something(name) else members[0]


def name_teams(
    rosters: Sequence[Iterable[str]],
    rounds: Mapping[str, int],
    names: Mapping[str, str],
    fixed: Sequence[str | None] = (),
) -> tuple[str, ...]:
    """A name per roster: ``fixed`` (an admin's) where given, else the clan tag, else
    "Team <captain>". Two rosters never get the same name: if the tags collide (one clan
    split in two), both fall back to their captains."""
    sets = [frozenset(r) for r in rosters]
    tags = [clan_tag(names.get(g, g) for g in s) for s in sets]
    if len({t.lower() for t in tags if t}) < sum(1 for t in tags if t):
        tags = [None] * len(tags)
    out = []
    for i, s in enumerate(sets):
        given = fixed[i] if i < len(fixed) else None
        out.append(given or tags[i] or f"Team {captain(s, rounds, names)}")
    return tuple(out)


# --------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class Segment:
    """Consecutive maps against one opponent: maps ``first``..``last`` (0-based, play
    order, complete maps only), the two sides' names and rosters (session teams A and B),
    map wins and drawn maps (double full holds)."""

    first: int
    last: int
    names: tuple[str, str]
    rosters: tuple[frozenset[str], frozenset[str]]
    wins: tuple[int, int]
    draws: int

    @property
    def maps(self) -> int:
        return self.last - self.first + 1

    def line(self) -> str:
        """`slomix. 2–1 ///M.`, leader first, maps won–lost(–drawn): `ripaZha 3–0–1 slomix.`"""
        (a, b), (wa, wb) = self.names, self.wins
        if wb > wa:
            a, b, wa, wb = b, a, wb, wa
        draws = f"–{self.draws}" if self.draws else ""
        return f"{a} {wa}–{wb}{draws} {b}"


@dataclass(frozen=True)
class MapSides:
    """One complete map as the splitter sees it: both sides' rosters and the winner
    (0 = session team A, 1 = B, None = draw)."""

    rosters: tuple[frozenset[str], frozenset[str]]
    winner: int | None


def split_segments(
    maps: Sequence[MapSides],
    name: Callable[[tuple[frozenset[str], frozenset[str]]], tuple[str, str]],
) -> list[Segment]:
    """Segments of consecutive maps with the same opponents; ``name(rosters)`` names both
    sides of one segment (together, so that they never get the same name)."""
    bounds: list[tuple[int, int]] = []
    union: list[set[str]] = [set(), set()]
    start = 0
    for i, m in enumerate(maps):
        if i > start and any(
            m.rosters[s] and len(m.rosters[s] & union[s]) < SAME_SIDE * len(m.rosters[s])
            for s in (0, 1)
        ):
            bounds.append((start, i - 1))
            start, union = i, [set(), set()]
        for s in (0, 1):
            union[s] |= m.rosters[s]
    if maps:
        bounds.append((start, len(maps) - 1))
    segments: list[Segment] = []
    for lo, hi in bounds:
        part = maps[lo : hi + 1]
        rosters = (
            frozenset().union(*(m.rosters[0] for m in part)),
            frozenset().union(*(m.rosters[1] for m in part)),
        )
        names = name(rosters)
        wins = (sum(m.winner == 0 for m in part), sum(m.winner == 1 for m in part))
        draws = sum(m.winner is None for m in part)
        prev = segments[-1] if segments else None
        if prev is not None and prev.names == names:  # same opponents by name: one segment
            segments[-1] = Segment(
                prev.first,
                hi,
                names,
                (prev.rosters[0] | rosters[0], prev.rosters[1] | rosters[1]),
                (prev.wins[0] + wins[0], prev.wins[1] + wins[1]),
                prev.draws + draws,
            )
        else:
            segments.append(Segment(lo, hi, names, rosters, wins, draws))
    return segments
