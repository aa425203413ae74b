"""Team names from clan tags, and the per-opponent split of a session's score.

Pure functions over player names and GUID sets (no polars): the scoring module feeds them
the rosters it finds per map.

* A **clan tag** is a prefix or suffix shared by most of a roster, ending at a separator
  (`slomix.carniee`, `ripaZha eLx`, `[DC]x`, `name|TAG`), compared case-insensitively and
  shown in the roster's most common spelling. Without one, a team is named after its
  captain (the member with the most rounds).
* An evening can change opponents: on 2025-11-01 `slomix.` played `///M.` for three maps,
  then `ripaZha` for four, and both opponents were one "Team A" to the session scoring.
  Line-ups also get reshuffled (two of each team swap sides for the last map).
  :func:`split_segments` keeps a map in the current segment only when each of its sides
  is, by a clear majority (more than :data:`SAME_SIDE` of its players), that side's players
  of the segment so far, and when it counts toward the session teams' points as the
  segment's maps do (the scoring module says which: both sides mostly the session's two
  teams); otherwise the map starts a new segment. It names each segment's sides and
  merges neighbours whose names agree (unless players swapped sides between them where
  nobody vouched for the teams) — so the score is told per opponent, a reshuffled map is
  a segment worth no points, and no map is credited to a team most of whose players
  played on the other side.
* A player belongs to one side of a segment (and of the session): the side he played most
  rounds for, on a tie the side he played his latest round for (:class:`Lineup`). Every
  player who played is on exactly one side.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

from etl_duck.domain.parse import GUIDLESS_PREFIX, is_guidless, shows_something

#: characters that end (or start) a clan tag
SEPARATORS = frozenset(" .|-_:/\\[](){}<>*~=#!'\"`+^@$%&,;")
MAX_TAG = 12  # characters; longer shared prefixes are names, not tags
MIN_SHARE = 0.6  # a tag must be worn by this share of the roster (and by two players)
#: a map continues a segment only if MORE than this share of each of its sides are that
#: side's players in the segment: a half-and-half reshuffle is not the same two teams
SAME_SIDE = 0.5
#: what a segment whose sides are not the session's two teams says (its maps give no points)
RESHUFFLED = "teams reshuffled: no points"


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


def tell_apart(people: Iterable[tuple[str, str]]) -> dict[str, str]:
    """GUID → the name to show: players who share a name (any case) with the GUID's first
    characters, as few as tell them apart but at least four (``vid (D842)``, ``vid (ABCD)``);
    a GUID-less player (:func:`~etl_duck.domain.parse.is_guidless`: his GUID is made from his
    name) who shares one ``vid (no GUID)``, the derived GUID's first characters after it only
    where two GUID-less players share the name (``vid (no GUID 97D6)``: they differ in case).
    The one rule for every answer that lists players (the roster lines, the boards) and for
    teams named after their captains, so a team reads as its captain does in its roster."""
    people = list(dict(people).items())
    by_name: dict[str, list[str]] = {}
    for guid, name in people:
        by_name.setdefault(name.lower(), []).append(guid)
    out: dict[str, str] = {}
    for guid, name in people:
        same = by_name[name.lower()]
        if len(same) == 1:
            out[guid] = name
            continue
        guidless = is_guidless(guid)
        kin = [g[len(GUIDLESS_PREFIX) :] if guidless else g for g in same
               if is_guidless(g) == guidless]  # fmt: skip
        mark = "no GUID" if guidless else ""
        if len(kin) > 1 or not guidless:
            width = next(
                (n for n in range(4, 9) if len({g[:n] for g in kin}) == len(kin)),
                max(len(g) for g in kin),
            )
            own = guid[len(GUIDLESS_PREFIX) :] if guidless else guid
            mark = f"{mark} {own[:width]}".strip()
        out[guid] = f"{name} ({mark})"
    return out


def _captain_of(guids: Iterable[str], rounds: Mapping[str, int], names: Mapping[str, str]) -> str:
    """The GUID of the member with the most rounds (then the first name alphabetically);
    "?" for nobody."""
    members = sorted(guids, key=lambda g: (-rounds.get(g, 0), names.get(g, g).lower()))
    return members[0] if members else "?"


def _shown(guid: str, names: Mapping[str, str]) -> str:
    """A captain's name where it shows something, else his GUID ("Team " named nobody)."""
    name = names.get(guid, "")
    return name if shows_something(name) else guid


def captain(guids: Iterable[str], rounds: Mapping[str, int], names: Mapping[str, str]) -> str:
    """The member with the most rounds (then the first name alphabetically), by a name that
    shows something, else his GUID ("Team " named nobody)."""
    return _shown(_captain_of(guids, rounds, names), names)


def clan_tags(rosters: Sequence[Iterable[str]], names: Mapping[str, str]) -> list[str | None]:
    """Each roster's clan tag (None without one) — none at all if two collide (one clan
    split in two)."""
    tags = [clan_tag(names.get(g, g) for g in r) for r in rosters]
    if len({t.lower() for t in tags if t}) < sum(1 for t in tags if t):
        return [None] * len(tags)
    return tags


def name_teams(
    rosters: Sequence[Iterable[str]],
    rounds: Mapping[str, int],
    names: Mapping[str, str],
    fixed: Sequence[str | None] = (),
) -> tuple[str, ...]:
    """A name per roster: ``fixed`` (an admin's) where given, else the clan tag, else
    "Team <captain>". Two rosters never get the same name: if the tags collide (one clan
    split in two), both fall back to their captains; captains who share a name are told
    apart as the roster lines tell them (:func:`tell_apart`: "Team !Dup (4305)")."""
    sets = [frozenset(r) for r in rosters]
    tags = clan_tags(sets, names)
    given = [fixed[i] if i < len(fixed) else None for i in range(len(sets))]
    captains = {
        i: _captain_of(s, rounds, names) for i, s in enumerate(sets) if not (given[i] or tags[i])
    }
    # every player of the rosters is compared, as the roster lines compare them: a team
    # reads as its captain does there ("Team vid (D842)" beside a "vid (D843)" of the other
    # team; review 131)
    shown = tell_apart((g, _shown(g, names)) for r in sets for g in sorted(r))
    return tuple(given[i] or tags[i] or f"Team {shown[captains[i]]}" for i in range(len(sets)))


# --------------------------------------------------------------------------- segments


def mostly(group: Set[str], team: Set[str], other: Set[str] = frozenset()) -> bool:
    """Whether ``group`` is ``team``'s: at least :data:`SAME_SIDE` of it in ``team`` and more
    of it in ``team`` than in ``other`` (an empty group says nothing against it). A
    substitute is nobody's, so one sub in a 2v2 keeps the side (a strict majority split a
    clan's evening into a segment per sub), while a half-and-half swap is nobody's side."""
    if not group:
        return True
    own = len(group & team)
    return own >= SAME_SIDE * len(group) and own > len(group & other)


@dataclass(frozen=True)
class Segment:
    """Consecutive maps against one opponent: maps ``first``..``last`` (0-based, play
    order, complete maps only), the two sides' names and rosters (session teams A and B;
    each player on the one side he played most for in the segment), map wins and drawn
    maps (double full holds). ``scored``: whether its maps count toward the session teams'
    points — each map's sides are, by a clear majority, the session's two teams; a
    reshuffled line-up's maps count for neither (:func:`split_segments`)."""

    first: int
    last: int
    names: tuple[str, str]
    rosters: tuple[frozenset[str], frozenset[str]]
    wins: tuple[int, int]
    draws: int
    scored: bool = True

    @property
    def maps(self) -> int:
        return self.last - self.first + 1

    @property
    def span(self) -> str:
        """`maps 4–7`, or `map 9` for one map (1-based)."""
        if self.first == self.last:
            return f"map {self.first + 1}"
        return f"maps {self.first + 1}–{self.last + 1}"

    @property
    def where(self) -> str:
        """The span, and why its maps give the session's teams no points if they do not:
        `maps 2–8`, `map 9, teams reshuffled: no points`."""
        return self.span if self.scored else f"{self.span}, {RESHUFFLED}"

    def line(self) -> str:
        """`slomix. 2–1 ///M.`, leader first, maps won–lost(–drawn): `ripaZha 3–0–1 slomix.`"""
        (a, b), (wa, wb) = self.names, self.wins
        if wb > wa:
            a, b, wa, wb = b, a, wb, wa
        draws = f"–{self.draws}" if self.draws else ""
        return f"{a} {wa}–{wb}{draws} {b}"


@dataclass(frozen=True)
class MapSides:
    """One map as the splitter sees it: both sides' rosters (session team A, B; a player
    who changed sides between its rounds is in neither), the winner (0 = A, 1 = B,
    None = draw) and both sides of each of its rounds in play order (``()``: the rosters,
    as one round)."""

    rosters: tuple[frozenset[str], frozenset[str]]
    winner: int | None
    rounds: tuple[tuple[frozenset[str], frozenset[str]], ...] = ()

    def lineups(self) -> tuple[tuple[frozenset[str], frozenset[str]], ...]:
        return self.rounds or (self.rosters,)


class Lineup:
    """Who played for which side over some maps: each player's rounds per side and the
    side of his latest round. He belongs to the side he played most rounds for; on a tie,
    to the side he played his latest round for (where he ended up) — so every player who
    played is on exactly one side."""

    def __init__(self, maps: Iterable[MapSides] = ()) -> None:
        self._rounds: dict[str, list[int]] = {}
        self._last: dict[str, int] = {}
        self._members: tuple[frozenset[str], frozenset[str]] | None = None
        self.maps = 0
        for m in maps:
            self.add(m)

    def add(self, m: MapSides) -> None:
        for sides in m.lineups():
            for s in (0, 1):
                for g in sides[s]:
                    self._rounds.setdefault(g, [0, 0])[s] += 1
                    self._last[g] = s
        self.maps += 1
        self._members = None

    def side(self, guid: str) -> int | None:
        n = self._rounds.get(guid)
        if n is None:
            return None
        return self._last[guid] if n[0] == n[1] else (0 if n[0] > n[1] else 1)

    def members(self) -> tuple[frozenset[str], frozenset[str]]:
        if self._members is None:
            side = {g: self.side(g) for g in self._rounds}
            self._members = (
                frozenset(g for g, s in side.items() if s == 0),
                frozenset(g for g, s in side.items() if s == 1),
            )
        return self._members

    def lean(self, group: Iterable[str]) -> int:
        """Rounds ``group`` played for side A minus rounds for side B."""
        return sum(self._rounds.get(g, [0, 0])[0] - self._rounds.get(g, [0, 0])[1] for g in group)

    def fits(self, rosters: tuple[frozenset[str], frozenset[str]]) -> bool:
        """Whether a map with these sides continues the line-up: each side is, by a clear
        majority, this line-up's players of that side (anything fits an empty line-up)."""
        if not self.maps:
            return True
        members = self.members()
        a, b = members
        return mostly(rosters[0], a, b) and mostly(rosters[1], b, a)


def _reshuffled(before: tuple[frozenset[str], frozenset[str]], after: Sequence[MapSides]) -> bool:
    """Whether at least half of one side of a map in ``after`` played for the other side in
    ``before`` (players swapped sides, not substitutes arriving)."""
    return any(
        m.rosters[s] and 2 * len(m.rosters[s] & before[1 - s]) >= len(m.rosters[s])
        for m in after
        for s in (0, 1)
    )


def split_segments(
    maps: Sequence[MapSides],
    name: Callable[[tuple[frozenset[str], frozenset[str]]], tuple[str, str]],
    scored: Callable[[MapSides], bool] | None = None,
) -> list[Segment]:
    """Segments of consecutive maps with the same two line-ups (:meth:`Lineup.fits`);
    ``name(rosters)`` names both sides of one segment (together, so that they never get
    the same name). ``scored(map)``: whether a map counts toward the session teams' points
    (default: all do); a segment holds maps of one kind, so its score line and the points
    agree. Neighbours of one kind with the same names merge (the same clans after a wave of
    substitutes, or an admin's names) — unless players swapped sides between them and
    ``scored`` did not vouch for their maps being the session's two teams."""
    kinds = [True if scored is None else scored(m) for m in maps]
    bounds: list[tuple[int, int]] = []
    current = Lineup()
    start = 0
    for i, m in enumerate(maps):
        if not current.fits(m.rosters) or kinds[i] != kinds[start]:
            bounds.append((start, i - 1))
            start, current = i, Lineup()
        current.add(m)
    if maps:
        bounds.append((start, len(maps) - 1))
    segments: list[Segment] = []
    for lo, hi in bounds:
        part = maps[lo : hi + 1]
        rosters = Lineup(part).members()
        names = name(rosters)
        wins = (sum(m.winner == 0 for m in part), sum(m.winner == 1 for m in part))
        draws = sum(m.winner is None for m in part)
        prev = segments[-1] if segments else None
        # the session's two teams by name (each map checked by ``scored``), or the same
        # opponents by name where nobody swapped sides: one segment, each player on his
        # side of it all
        if (
            prev is not None
            and prev.names == names
            and prev.scored == kinds[lo]
            and ((scored is not None and kinds[lo]) or not _reshuffled(prev.rosters, part))
        ):
            segments[-1] = Segment(
                prev.first,
                hi,
                names,
                Lineup(maps[prev.first : hi + 1]).members(),
                (prev.wins[0] + wins[0], prev.wins[1] + wins[1]),
                prev.draws + draws,
                kinds[lo],
            )
        else:
            segments.append(Segment(lo, hi, names, rosters, wins, draws, kinds[lo]))
    return segments
