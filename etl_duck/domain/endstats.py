"""The endstats file (STATS_FORMAT.md §10): the server's ``endstats.lua`` writes one per
round, ``YYYY-MM-DD-HHMMSS-<map>-round-<N>-endstats.txt``, a second or two before the
round's stats file. Pure parsing; matching names to GUIDs happens at build time, against
the round's own stats file.

The writer appends TAB-separated rows with colour codes stripped (``et.Q_CleanStr``):

* awards, first: ``award<TAB>player<TAB>value`` — ~50 award names; the same award may
  appear twice; values are numbers or a number with words (``113 seconds``,
  ``50.47 percent``, ``12.3 m``, ``3 kills in 1.23s``, ``Damage received vs death ratio:
  4.32x``);
* then one block per player: newer writers start it with ``VS_HEADER<TAB>clean
  name<TAB>cl_guid`` (32 hex digits; an omni-bot's is ``OMNIBOT0…``: the GUID rule is the
  stats files' P0 rule, 1–32 letters or digits), followed by ``opponent<TAB>kills<TAB>deaths`` rows (kills: the
  block's player killed that opponent; deaths: the opponent killed him). Older writers
  wrote the rows without the header: whose block it is cannot be known, so those rows are
  skipped (with one reason per file) and the awards are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from etl_duck.domain.parse import (
    COLOUR_CODE,
    GUIDLESS_P0,
    INTERNAL_ERROR,
    ParseError,
    decode_line,
    guidless_identity,
    parse_file_name,
)
from etl_duck.domain.parse import _guid_ok as guid_ok  # one GUID rule with the stats files
from etl_duck.domain.sources import SEPARATOR, server_of
from etl_duck.domain.sources import split as split_qualified

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

ENDSTATS_NAME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})-(\d{2})(\d{2})(\d{2})-(.+)-round-(\d+)-endstats\.txt$"
)
VS_HEADER = "VS_HEADER"
PAIR_WINDOW_S = 60  # an endstats file belongs to the round file of its map and round ±60 s

#: the award names the writer knows (endstats.lua `topshot_names` and the accuracy awards)
KNOWN_AWARDS = frozenset(
    {
        "Most damage given", "Most damage received", "Most team damage given",
        "Most team damage received", "Most teamkills", "Most selfkills", "Most deaths",
        "Most kills per minute", "Quickest multikill w/ light weapons",
        "Farthest riflenade kill", "Most light weapon kills", "Most pistol kills",
        "Most rifle kills", "Most riflenade kills", "Most sniper kills", "Most knife kills",
        "Most air support kills", "Most mine kills", "Most grenade kills", "Most panzer kills",
        "Most mortar kills", "Most panzer deaths", "Mortarmagnet", "Most multikills",
        "Most MG42 kills", "Most MG42 deaths", "Most revives", "Most revived",
        "Best K/D ratio", "Most dynamites planted", "Most dynamites defused",
        "Most doublekills", "Longest killing spree", "Longest death spree",
        "Most objectives stolen", "Most objectives returned", "Most corpse gibs",
        "Most kill assists", "Most killsteals", "Most headshot kills",
        "Most damage per minute", "Tank/Meatshield (Refuses to die)",
        "Most useful kills (>Half respawn time left)", "Full respawn king",
        "Least time dead (What spawn?)", "Most playtime denied", "Most useless kills",
        "Highest light weapons accuracy", "Highest headshot accuracy", "Most headshots",
        "Most bullets fired",
    }
)  # fmt: skip

#: awards the writer reads from the engine's session counters (``sess.damage_given``,
#: ``damage_received``, ``team_damage``, ``team_received``, ``team_kills``, ``self_kills``,
#: ``deaths``, ``kills``, ``gibs``, ``time_axis``/``time_allies`` and ``aWeaponStats``:
#: STATS_FORMAT.md §3.5 "CUM"), which carry round 1 over the map_restart. In a stopwatch
#: round 2 their values are the match's (rounds 1 + 2), not the round's: the writer's own
#: comment says as much of its damage per minute. Every other award is a count of the Lua
#: itself, reset at every map load: the round's.
MATCH_IN_ROUND_2 = frozenset(
    {
        "Most damage given", "Most damage received", "Most team damage given",
        "Most team damage received", "Most teamkills", "Most selfkills", "Most deaths",
        "Most kills per minute", "Best K/D ratio", "Most corpse gibs",
        "Most damage per minute", "Tank/Meatshield (Refuses to die)",
        "Highest light weapons accuracy", "Highest headshot accuracy", "Most headshots",
        "Most bullets fired",
    }
)  # fmt: skip


def award_scope(award: str, round_two: bool) -> str:
    """What an award's value covers: ``"match"`` (rounds 1 + 2) for a counter award of a
    round 2 whose round 1 the engine's counters carry (``round_two``: a paired round 2),
    else ``"round"``."""
    return "match" if round_two and award in MATCH_IN_ROUND_2 else "round"


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
MAX_VALUE = 1e9  # as the stats parser: no real award comes near


@dataclass(frozen=True)
class EndstatsName:
    name: str
    end_time: datetime  # the writer's own os.date: ~1-2 s before the round file's
    map_name: str
    round_number: int


@dataclass(frozen=True)
class Award:
    line: int
    award: str
    player: str  # clean name as written
    value: float | None  # the first number of the value text
    unit: str | None  # what follows it (`seconds`, `percent`, `m`, `kills in 1.23s`, …)
    text: str  # the value as written


@dataclass(frozen=True)
class Versus:
    line: int
    subject: str  # the VS_HEADER's clean name
    subject_guid: str  # first 8 characters of its GUID, upper-case (the stats files' form)
    opponent: str
    kills: int  # the subject killed the opponent
    deaths: int  # the opponent killed the subject


@dataclass
class Endstats:
    file: EndstatsName
    awards: list[Award] = field(default_factory=list)
    versus: list[Versus] = field(default_factory=list)
    #: every VS_HEADER read: (line number, clean name as written, GUID's first 8, upper)
    headers: list[tuple[int, str, str]] = field(default_factory=list)
    #: bad lines, with why: (line number, field, reason)
    skipped: list[tuple[int, str, str]] = field(default_factory=list)
    #: why some rows say nothing, for an older writer's file (not a problem of the file):
    #: opponent rows without a VS_HEADER cannot be attributed to a player
    note: str | None = None
    partial: bool = False  # the last line was cut (written while fetched)


def is_endstats_file_name(name: str) -> bool:
    return ENDSTATS_NAME.match(split_qualified(name)[0]) is not None


def parse_endstats_name(name: str) -> EndstatsName:
    m = ENDSTATS_NAME.match(split_qualified(name)[0])
    if m is None:
        raise ParseError(
            name, None, "file name", "not YYYY-MM-DD-HHMMSS-<map>-round-N-endstats.txt"
        )
    y, mo, d, h, mi, s, map_name, rn = m.groups()
    try:
        end = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except ValueError as exc:
        raise ParseError(name, None, "file name", f"bad timestamp: {exc}") from None
    if not 2000 <= end.year <= 2999 or rn not in ("1", "2"):
        raise ParseError(name, None, "file name", "year 2000-2999 and round 1 or 2 expected")
    return EndstatsName(name, end, map_name, int(rn))


def split_value(text: str) -> tuple[float | None, str | None]:
    """`113 seconds` → (113.0, "seconds"); `3 kills in 1.23s` → (3.0, "kills in 1.23s");
    `Damage received vs death ratio: 4.32x` → (4.32, "x"); no number → (None, None)."""
    m = _NUMBER.search(text)
    if m is None:
        return None, None
    value = float(m.group())
    if abs(value) > MAX_VALUE:
        return None, None
    unit = text[m.end() :].strip()
    return value, unit or None


def name_key(clean: str) -> str:
    """How an endstats name and a stats-file name are matched: the writer passes every field
    through ``et.Q_CleanStr``, which drops colour codes *and every byte outside 0x20–0x7E*
    (``^pv\xc3\xafd`` is written ``vd`` while the stats file keeps ``vïd``). So the key of a
    clean name (colour codes already removed, by the same rule) keeps its printable ASCII
    only, stripped and lower-case; applied to a name the writer cleaned it changes nothing
    but case and outer spaces."""
    return "".join(c for c in clean if " " <= c <= "~").strip().lower()


def _decode(raw: bytes) -> str:
    return decode_line(raw, b"\t")  # as the stats file reads the same name


def _int(text: str) -> int | None:
    # ASCII digits only, and few of them: str.isdigit() admits "²" and int() refuses
    # 4,300 digits or more; either must be "not a number", never an exception
    t = text.strip()
    if not _COUNT.fullmatch(t):
        return None
    v = int(t)
    return v if v <= 100_000 else None


_COUNT = re.compile(r"[0-9]{1,7}")


def parse_endstats(data: bytes, name: str) -> Endstats:
    """Every award and attributable versus row of one endstats file. Raises
    :class:`ParseError` only for a bad name or a file without one usable line; no other
    exception leaves it (fuzzed with the round files: ``tests/test_parse_fuzz.py``)."""
    try:
        return _parse_endstats(data, name)
    except ParseError:
        raise
    except Exception as exc:  # a parser bug must still quarantine one file, not stop a batch
        raise ParseError(name, None, "file", f"{INTERNAL_ERROR}: {exc!r}") from exc


def _parse_endstats(data: bytes, name: str) -> Endstats:
    out = Endstats(parse_endstats_name(name))
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:  # no final LF: the writer (or the copy) was cut mid-line
        lines.pop()
        out.partial = True
    subject: tuple[str, str] | None = None
    orphans: list[int] = []  # opponent rows without a VS_HEADER (older writers)
    for no, raw in enumerate(lines, start=1):
        text = _decode(raw.rstrip(b"\r"))
        if not text.strip():
            continue
        parts = text.split("\t")
        if parts[0] == VS_HEADER:
            guid = parts[2].strip() if len(parts) == 3 else ""
            if len(parts) == 3 and guid.upper() in GUIDLESS_P0:
                # a client without a GUID: the identity the stats file gives him (his name's)
                identity = guidless_identity(COLOUR_CODE.sub("", parts[1]))
            elif len(parts) != 3 or not guid_ok(guid):
                out.skipped.append((no, "VS_HEADER", "expected VS_HEADER<TAB>name<TAB>GUID"))
                subject = None
                continue
            else:
                identity = guid[:8].upper()
            subject = (parts[1].strip(), identity)
            out.headers.append((no, *subject))
            continue
        if len(parts) != 3:
            out.skipped.append((no, "line", f"expected 3 TAB-separated fields, found {len(parts)}"))
            continue
        first, second, third = parts
        kills, deaths = _int(second), _int(third)
        numbers = kills is not None and deaths is not None
        if subject is not None and numbers:  # in a block: an opponent may be "Mortarmagnet"
            assert kills is not None and deaths is not None
            out.versus.append(Versus(no, subject[0], subject[1], first.strip(), kills, deaths))
        elif first in KNOWN_AWARDS or not numbers:
            value, unit = split_value(third)
            out.awards.append(Award(no, first.strip(), second.strip(), value, unit, third.strip()))
        else:
            orphans.append(no)
    if orphans:
        span = f"lines {orphans[0]}–{orphans[-1]}" if len(orphans) > 1 else f"line {orphans[0]}"
        rows = "opponent rows" if len(orphans) > 1 else "opponent row"
        out.note = (
            f"{len(orphans)} {rows} ({span}) without a VS_HEADER (an older endstats writer): "
            "they cannot be attributed to a player and are skipped; the awards are kept"
        )
    if lines and not (out.awards or out.versus or out.headers or orphans):
        raise ParseError(name, None, "file", "no award or versus row in an endstats file")
    return out


def pair_endstats(es: EndstatsName, rounds: list[tuple[str, datetime, str, int]]) -> str | None:
    """The round file an endstats file belongs to: same map and round number, nearest end
    time within ±:data:`PAIR_WINDOW_S` (the endstats file is written first, so a round
    ending after it wins a tie). ``rounds``: (file name, end time, map, round number)."""
    best: tuple[float, int, str] | None = None
    server = server_of(es.name)
    for file_name, end, map_name, number in rounds:
        if map_name != es.map_name or number != es.round_number:
            continue
        if server_of(file_name) != server:
            continue  # another server's round of the same map and time
        delta = (end - es.end_time).total_seconds()
        if abs(delta) > PAIR_WINDOW_S:
            continue
        key = (abs(delta), 0 if delta >= 0 else 1, file_name)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


ENDSTATS_SUFFIX = "-endstats.txt"  # how an endstats file's own name ends


def stored_endstats(ledger: pa.Table) -> pa.ChunkedArray:
    """The endstats files a ledger (the lake's ``files`` state table) holds that count:
    stored, neither quarantined nor set aside by an admin (``resolve --dismiss``). Those
    of every game server: another server's names end in ``#server`` (domain.sources), and
    a suffix test for ``-endstats.txt`` alone missed them, so such a file that came before
    its round was never read when the round came (only a rebuild found it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = ledger["file_name"]
    if not ledger.num_rows:
        return names
    endstats = pc.or_(  # two substring tests: cheaper than a regex over the whole ledger
        pc.ends_with(names, ENDSTATS_SUFFIX),
        pc.match_substring(names, f"{ENDSTATS_SUFFIX}{SEPARATOR}"),
    )
    # a dismissed file stays out of every build, as in a rebuild (which never reads it)
    set_aside = pa.array(["quarantined", "dismissed"], pa.string())
    counts = pc.invert(pc.is_in(ledger["status"], value_set=set_aside))
    return names.filter(pc.and_(endstats, counts))


def waiting_for_round(endstats: Iterable[str], rounds: pa.Table) -> dict[str, bool]:
    """The endstats files among ``endstats`` that :func:`pair_endstats` pairs with no round
    of ``rounds`` (``file_name`` and ``end_time`` columns: the lake's round index), so they
    add no rows yet, each → whether it is *overdue*: a round of its server ending more than
    :data:`PAIR_WINDOW_S` after it is among ``rounds``. The writer writes the round's stats
    file a second or two after the endstats file, so once its server has written a later
    round that stats file should have come (it is missing, or was never written); before
    that it may simply be on its way (the fetcher can bring the endstats file first).

    One :func:`pair_endstats` per file over the rounds near it (found in Arrow by minute):
    an ingest's few files cost a few ms and no Polars import (~0.3 s); a rebuild's every
    file ~12 µs each. ``status`` asks it of a whole ledger:
    :func:`waiting_for_round_vectorised`."""
    import bisect

    import pyarrow as pa
    import pyarrow.compute as pc

    files = sorted({parse_endstats_name(n) for n in endstats}, key=lambda e: e.name)
    if not files:
        return {}
    near: list[tuple[str, datetime, str, int]] = []
    if rounds.num_rows:
        # an endstats file at t pairs with rounds ending in [t − 60, t + 60]: in its minute
        # or the ones either side (names are wall-clock times: counted like the column's)
        minutes = {int((e.end_time - _EPOCH).total_seconds()) // 60 for e in files}
        around = pa.array(sorted({m + d for m in minutes for d in (-1, 0, 1)}), pa.int64())
        ends = pc.cast(rounds["end_time"], pa.int64())  # seconds since the epoch
        hit = rounds.filter(pc.is_in(pc.divide(ends, 60), value_set=around))
        for name, end in zip(
            hit["file_name"].to_pylist(), hit["end_time"].to_pylist(), strict=True
        ):
            f = parse_file_name(name)
            near.append((str(name), end, f.map_name, f.round_number))
        near.sort(key=lambda r: r[1])
    times = [r[1] for r in near]
    window = timedelta(seconds=PAIR_WINDOW_S)
    waiting = []
    for es in files:
        lo = bisect.bisect_left(times, es.end_time - window)
        hi = bisect.bisect_right(times, es.end_time + window)
        if pair_endstats(es, near[lo:hi]) is None:
            waiting.append(es)
    latest = _latest_ends(rounds, {server_of(e.name) for e in waiting})
    return {
        e.name: (last := latest.get(server_of(e.name))) is not None
        and (last - e.end_time).total_seconds() > PAIR_WINDOW_S
        for e in waiting
    }


def _latest_ends(rounds: pa.Table, servers: set[str]) -> dict[str, datetime]:
    """The latest round end of each of ``servers`` in ``rounds`` (the round index)."""
    import pyarrow.compute as pc

    out: dict[str, datetime] = {}
    if not rounds.num_rows:
        return out
    names = rounds["file_name"]
    for server in servers:
        mine = (
            pc.ends_with(names, f"{SEPARATOR}{server}")
            if server
            else pc.invert(pc.match_substring(names, SEPARATOR))
        )
        last = pc.max(rounds["end_time"].filter(mine)).as_py()
        if last is not None:
            out[server] = last
    return out


def waiting_for_round_vectorised(stored: pa.ChunkedArray, rounds: pa.Table) -> dict[str, bool]:
    """:func:`waiting_for_round` of a ledger's every endstats file (``stored``: from
    :func:`stored_endstats`): what ``status`` shows. Vectorised (Polars, which ``status``
    has loaded anyway): ~32k files of a 10-year lake in a few tens of ms, where one
    :func:`pair_endstats` per file took ~0.4 s. The same rule (same server, map and round
    number, end times within ±:data:`PAIR_WINDOW_S`) as an as-of join on the end time by
    (server, ``<map>-round-<N>``); the names are valid ones (the ledger's), so slices of
    them read them (``tests/test_endstats.py`` checks the two against each other)."""
    import polars as pl

    if not len(stored):
        return {}
    # the names stay in Arrow (32k Python strings cost more than the join); a name given
    # twice is one key of the answer
    names = pl.Series("name", stored, pl.String)
    es = _name_parts(names.to_frame(), ENDSTATS_SUFFIX)
    es = (
        es.with_columns(
            t=pl.col("own")
            .str.slice(0, _STAMP_LEN - 1)
            .str.strptime(pl.Datetime("ms"), "%Y-%m-%d-%H%M%S", strict=False)
            .dt.epoch("s")
        )
        .drop_nulls("t")
        .sort("t")
    )  # (a valid name always has its time)
    table = pl.from_arrow(rounds.select(["file_name", "end_time"]))
    assert isinstance(table, pl.DataFrame)
    table = table.select(name="file_name", t=pl.col("end_time").dt.epoch("s"))
    # an endstats file at t pairs with rounds ending in [t − 60, t + 60], in its minute or
    # the ones either side: only those rounds' names are read (a live commit's few files
    # do not read the history's)
    minutes = (es["t"] // 60).unique()
    around = pl.concat([minutes - 1, minutes, minutes + 1]).unique()
    rs = _name_parts(table.filter((pl.col("t") // 60).is_in(around.implode())), ".txt")
    if rs["key"].str.contains("-round-0", literal=True).any():
        # a round file may write its number "01" (parse_file_name reads an int)
        rs = rs.with_columns(key=pl.col("key").str.replace(r"-round-0([12])$", "-round-$1"))
    rs = rs.select("server", "key", "t", round_t="t").sort("t")
    joined = es.join_asof(
        rs,
        on="t",
        by=["server", "key"],
        strategy="nearest",
        tolerance=PAIR_WINDOW_S,
        check_sortedness=False,  # both sorted by t, so within every (server, key) too
    )
    waiting = joined.filter(pl.col("round_t").is_null()).sort("name")
    out: dict[str, bool] = {}
    latest: dict[str, int | None] = {}
    for name, server, t in waiting.select("name", "server", "t").iter_rows():
        if server not in latest:  # the last round of each server with a waiting file
            mine = (
                pl.col("name").str.ends_with(f"{SEPARATOR}{server}")
                if server
                else ~pl.col("name").str.contains(SEPARATOR, literal=True)
            )
            last = table.filter(mine)["t"].max()
            latest[server] = last if isinstance(last, int) else None
        last = latest[server]
        out[name] = last is not None and last > t + PAIR_WINDOW_S
    return out


_STAMP_LEN = len("YYYY-MM-DD-HHMMSS-")  # a file name's time and its dash
_EPOCH = datetime(1970, 1, 1)


def _name_parts(df: pl.DataFrame, suffix: str) -> pl.DataFrame:
    """``df`` (a ``name`` column: valid round or endstats names, qualified with a server or
    not) with ``own`` (the file's own name), ``server`` ("" for the main one) and ``key``
    (``<map>-round-<N>``: the own name less its time and ``suffix``)."""
    import polars as pl

    if df["name"].str.contains(SEPARATOR, literal=True).any():
        split = pl.col("name").str.split_exact(SEPARATOR, 1)
        df = df.with_columns(
            own=split.struct.field("field_0"),
            server=split.struct.field("field_1").fill_null(""),
        )
    else:  # one game server (the usual lake): no name to split
        df = df.with_columns(own=pl.col("name"), server=pl.lit("", pl.String))
    return df.with_columns(key=pl.col("own").str.head(-len(suffix)).str.slice(_STAMP_LEN))
