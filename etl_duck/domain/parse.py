"""Parse one c0rnp0rn round stats file into typed records (STATS_FORMAT.md §1–§4, §7).

Pure functions over bytes: no I/O besides :func:`read_round_file`, no lake, no pairing.
Every rejected line becomes a :class:`ParseError` naming the file, line and field; a file
only fails as a whole when its name or header cannot be read.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from etl_duck.domain.fields import DERIVED_TOTALS, FIELD_BY_NAME, LAYOUTS, WEAPONS, Kind
from etl_duck.domain.sources import split as split_qualified

#: The round file name the Lua writes (§1.1), as users should read it in messages.
FILE_NAME_PATTERN = "YYYY-MM-DD-HHMMSS-<map>-round-<N>.txt"
#: Strict file-name rule (§1.1): anchored, so `-endstats.txt` and `_ws.txt` siblings fail it.
FILE_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\d{2})(\d{2})(\d{2})-(.+)-round-(\d+)\.txt$")
#: ET's colour escape: `^` followed by any character other than `^` (§3.4).
COLOUR_CODE = re.compile(r"\^[^^]")
_MSS = re.compile(r"^(\d+)(?:\.(\d+))?(?::(\d{2}))?$")
#: an integer field's text: digits, or a whole number written with a decimal point
#: ("1234.0"): §3.5 says parse every field as a number, not assume ints lack ".0"
_INT = re.compile(r"^[+-]?\d+(?:\.0*)?$")
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")

#: stored with every round and in the lake's settings: a new version re-derives the lake
PARSER_VERSION = 22
#: an omni-bot's P0: the engine (g_etbot_interface.cpp, AddBot) sets its cl_guid to
#: "OMNIBOT" + its two-digit client slot, of which the Lua writes the first 8 characters:
#: OMNIBOT0 for slots 0-9, OMNIBOT1…OMNIBOT6 above (§3.3)
BOT_GUID_PREFIX = "OMNIBOT"
#: P0 of a client without a GUID (§3.3): the Lua writes upper(sub(cl_guid, 1, 8)) — empty
#: where the client sent none, or the placeholder a mod put there (WolfAdmin's "NO_GUID",
#: "unknown"). Never an identity: the line's is :func:`guidless_identity`
GUIDLESS_P0 = frozenset({"", "NO_GUID", "UNKNOWN"})
#: the GUID of a player without one: this prefix + 10 hex digits of a hash of his clean name
#: (letters and digits like any GUID; 16 characters, where the Lua writes 8: a writer's own
#: P0 that starts so, "NOGUID12", is a GUID like any other)
GUIDLESS_PREFIX = "NOGUID"
_GUIDLESS_HEX = 10
#: the layout of the current writers (§3.6); a line with more fields is a newer writer's:
#: its first 38 are read, the rest ignored (layouts grow by appending)
LONGEST_LAYOUT = max(LAYOUTS)
#: the most extended fields a line may have (the lake's ``layout`` column is an int8)
MAX_EXTENDED_FIELDS = 127

# Value ranges (issue: one out-of-range number once stopped every ingest at Parquet encode
# time). Every number is checked here against its lake column AND the game, so a value the
# lake cannot store is a ParseError naming file, line and field like any other bad value.
INT32_MAX = 2**31 - 1
INT16_MAX = 2**15 - 1
#: no round, and no round's cumulative counter, lasts a week (bounds every time field, so a
#: derived start time can never leave the calendar)
MAX_ROUND_SECONDS = 7 * 24 * 3600
#: H8 is read from trap_Milliseconds: the engine's count of milliseconds since the server
#: process started, a 32-bit int that wraps after ~24.8 days of uptime (§2, §7.1)
MS_COUNTER_SPAN = 2**32
#: how far past its time limit (H6) a measured play time (H8) may run: H8 is wall-clock
#: time, the limit level time (a lagging server); the fixtures run at most 0.2 s past it
H8_PAST_LIMIT_S = 3600
MAX_RATIO = 1e9  # X8/X23/X24/X26: percentages and ratios; inflated writers reach ~300
#: the Lua keeps one line per client GUID seen during the map, warmup included, and a
#: player who left keeps his (§3.1): a busy public server's churn can pass its 64 slots
#: (review 133: 130 lines quarantined a whole round). This bounds a garbage file only.
MAX_PLAYER_LINES = 4096
#: the Lua's os.date() on a real server: ET (2003) to far beyond any history we will hold
YEARS = (2000, 2999)
_MAX_DIGITS = 12  # longer digit strings are out of every range (and int() refuses > 4,300)
#: fields that may be negative in the game (XP: ET takes skill points away for team kills)
SIGNED_FIELDS = frozenset({"xp"})


class ParseError(ValueError):
    """A file or line that cannot be read; says where (file, 1-based line, field) and why."""

    def __init__(self, file: str, line: int | None, field: str | None, reason: str) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, reason
        where = file + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {field + ': ' if field else ''}{reason}")


class FileStatus(StrEnum):
    OK = "ok"
    PARTIAL = "partial"  # last line cut (no trailing LF): complete lines kept, re-fetch later
    EMPTY = "empty"  # 0 bytes: probably mid-write, retry later
    INTERRUPTED = "interrupted"  # shutdown save path (§7.1): label unreliable, never paired


@dataclass(frozen=True, slots=True)
class FileName:
    """What the file name says: the round's END time (server-local, naive), map, round.
    ``name`` is the lake's (qualified) name; ``server`` its server (``""``: the main one,
    see :mod:`etl_duck.domain.sources`)."""

    name: str
    end_time: datetime
    map_name: str
    round_number: int
    server: str = ""


@dataclass(frozen=True, slots=True)
class Header:
    """Header line, H0…H8, with times in seconds."""

    server_name: str
    map_name: str
    config: str
    round_number: int
    defender_side: int  # 1 Axis, 2 Allies
    winner_side: int  # 0 none, 1 Axis, 2 Allies
    time_limit_s: int  # H6
    next_time_limit_s: int  # H7 (the stopwatch clock; see §2 for meaning)
    play_time_ms: int | None  # H8 (c0rnp0rn8 only)
    field_count: int  # 8 or 9

    @property
    def attackers_won(self) -> bool:
        """The attackers completed the objective: H5 names the other side (§2; H5 = 0 is
        "no winner", which is nobody's completion)."""
        return self.winner_side in (1, 2) and self.winner_side != self.defender_side

    @property
    def measured_play_ms(self) -> int | None:
        """H8 where it is this round's play time (§2): above 0 and no longer than a round
        can be (a week; its limit H6 + ``H8_PAST_LIMIT_S`` where one is set). None for
        older writers, for 0 (nothing measured) and for the shutdown path."""
        ms = self.play_time_ms
        if ms is None or ms <= 0:
            return None
        cap_s = MAX_ROUND_SECONDS
        if self.time_limit_s > 0:
            cap_s = min(cap_s, self.time_limit_s + H8_PAST_LIMIT_S)
        return ms if ms <= cap_s * 1000 else None

    @property
    def shutdown_path(self) -> bool:
        """The header alone says the round was cut (§7.1); only c0rnp0rn8's H8 can say so.

        H8 = roundEnd − roundStart − pauses, with roundEnd 0 on the shutdown path and
        roundStart the server's uptime in ms on a 32-bit counter. So any H8 < 0 is that
        path, whatever its size (a server up more than a week wrote more than a week). Once
        the counter has wrapped (uptime 24.8–49.7 days) roundStart is negative and the path
        writes a positive H8: one longer than any round (``measured_play_ms`` None) is that
        path too — a complete round's end − start is its length (a wrap within it reads
        ≈ −2^32: negative, so also taken for the shutdown path; the round's length is
        H8 + 2^32, not recovered).

        An older writer's R2 clock artefact (H7 > H6) is no proof: complete R2s carry it
        whenever the engine reset the cvar (§2). The pairing decides: such a round 2 that
        continues its round 1 is one, any other is interrupted (``pairing.pair_rounds``)."""
        ms = self.play_time_ms
        return ms is not None and (ms < 0 or (ms > 0 and self.measured_play_ms is None))

    @property
    def time_limit_artefact(self) -> bool:
        """R2 H7 > H6 is the writer's nextTimeLimit fallback garbage (§2)."""
        return self.round_number == 2 and self.next_time_limit_s > self.time_limit_s


@dataclass(slots=True)
class PlayerLine:
    """One player line, values exactly as written (round 2: cumulative where the spec says)."""

    line_no: int
    guid: str
    name_raw: str
    name: str
    rounds_counter: int  # P2, the engine's sess.rounds (used to detect reconnects, §5.6)
    team: int  # P3: 1 Axis, 2 Allies, 3 spectator
    weapon_mask: int
    layout: int  # extended-field count: 33, 36, 37 or 38
    is_bot: bool
    #: (hits, shots, kills, deaths, headshots) by weapon id, ascending.
    weapons: dict[int, tuple[int, int, int, int, int]]
    #: every extended field by name (None when this layout does not write it), plus the
    #: totals derived from the weapon groups (kills, deaths, shots, hits, headshot_hits).
    values: dict[str, int | float | None]


@dataclass(slots=True)
class RoundFile:
    """A parsed stats file."""

    file: FileName
    sha256: str
    size: int
    status: FileStatus
    header: Header | None  # None only for an EMPTY file
    players: list[PlayerLine] = field(default_factory=list)
    rejected: list[ParseError] = field(default_factory=list)
    #: (GUID, clean name) of each rejected line — and of a partial file's cut last line —
    #: where readable (the name "" where not): a round 2 must not take that player's
    #: cumulative line for a round-only one because his round-1 line is missing
    rejected_players: tuple[tuple[str, str], ...] = ()
    #: the round was a game: players with time on both sides (:func:`two_sided`, read from
    #: every line of the file, rejected ones too)
    two_sided: bool = True
    #: what the file does that is no problem of its lines, told once (a newer writer's
    #: longer lines, read by their known fields); None: nothing
    note: str | None = None

    @property
    def layout(self) -> int | None:
        layouts = {p.layout for p in self.players}
        return layouts.pop() if len(layouts) == 1 else (max(layouts) if layouts else None)

    @property
    def duration_s(self) -> float | None:
        """Round play time, best source first (§2); None when the file cannot tell."""
        return self.duration()

    def duration(self, *, paired: bool = False) -> float | None:
        """Round play time (§2); ``paired``: the pairing found this round 2's round 1 (see
        :func:`header_duration`)."""
        if self.header is None or self.status is FileStatus.INTERRUPTED:
            return None
        return header_duration(self.header, paired=paired)


def header_duration(h: Header, *, paired: bool = False) -> float | None:
    """Round play time from the header (§2): H8 → R1 clock → R2 clock → unknown.

    A held round (H5 = H4) ran its whole limit, H6: round 1 its map's limit, round 2 the
    time round 1 set (§2 H6, §5.8) — the same rule for both (exact but for a surrender,
    which the file cannot show). An older writer's round 2 with the clock artefact (H7 > H6)
    may be a round 1 cut and saved as round 2 (§7.1): its H6 is its duration only once the
    pairing found its round 1 (``paired``); the header alone cannot tell."""
    if h.play_time_ms is not None:
        if (measured := h.measured_play_ms) is not None:
            return measured / 1000
        if h.play_time_ms != 0:
            return None  # the shutdown path (H8 < 0, or past any round): it never ended
        # 0 measures nothing (the writer saw no playing frame): the clocks may still tell
    if h.winner_side == 0:
        return None  # no winner: the stopwatch clock says nothing about this round
    # a clock of 0:00 is the engine's reset cvar, not a duration
    clock = h.next_time_limit_s if h.round_number == 1 and h.attackers_won else h.time_limit_s
    if h.round_number == 1:
        return float(clock) if clock > 0 else None
    if h.attackers_won:
        # beat the clock: its time (never an R2 H7 of 0:00 or past H6, §2)
        return float(h.next_time_limit_s) if 0 < h.next_time_limit_s < clock else None
    if h.time_limit_artefact and not paired:
        return None
    return float(clock) if clock > 0 else None  # held: the whole clock round 1 set


def clean_name(raw: str) -> str:
    """Remove ET colour codes by ET's rule: `^` + any character but `^` (`^$Blue^7Jay` → `BlueJay`)."""
    return COLOUR_CODE.sub("", raw)


#: letters that render as nothing (fillers, blank Braille, a grapheme joiner, variation
#: selectors): the usual "invisible names" besides spaces and format characters
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u180b\u180c\u180d\u180e\u180f") | {
    chr(c) for c in range(0xFE00, 0xFE10)
}


def shows_something(name: str) -> bool:
    """Whether a clean name shows anything: ``^1^2`` cleans to "", and spaces, NBSP,
    zero-width characters or fillers (U+3164…) alone show nothing (a page, a team name or a
    post shows the GUID instead)."""
    return any(
        not (c.isspace() or c in _BLANK or unicodedata.category(c) in ("Cf", "Cc", "Zs", "Mn"))
        for c in name
    )


#: Unicode's explicit direction controls (embeddings, overrides, isolates, marks): one in a
#: player's name would reorder the text shown after it ("MVP: <RLO>evil — 293.1 DPM" shows
#: the numbers reversed) on a page, in a terminal or in Discord. Names are free text from
#: the game; nothing shown needs these. Display only: stored names keep them.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def without_bidi(text: str) -> str:
    """``text`` without direction controls (:data:`BIDI_CONTROLS`), for showing it."""
    return BIDI_CONTROLS.sub("", text)


def name_or_guid(name: object, guid: object) -> str:
    """The name to show for a player (a page, a post, a chart): his GUID where his name
    shows nothing (:func:`shows_something`); a row without a GUID (a team's) keeps it."""
    text = "" if name is None else str(name)
    return text if guid is None or shows_something(text) else str(guid)


def is_bot_name(clean: str) -> bool:
    return clean.lstrip().upper().startswith("[BOT]")


def is_bot_guid(guid: str) -> bool:
    """An omni-bot's GUID (``BOT_GUID_PREFIX``): ``OMNIBOT0`` … ``OMNIBOT6``, each shared by
    the bots of ten client slots (their names tell them apart)."""
    return guid.upper().startswith(BOT_GUID_PREFIX)


def is_guidless(guid: str) -> bool:
    """A GUID :func:`guidless_identity` made: the line's P0 was a placeholder."""
    tail = guid[len(GUIDLESS_PREFIX) :]
    return (
        guid.startswith(GUIDLESS_PREFIX)
        and len(tail) == _GUIDLESS_HEX
        and all(c in "0123456789ABCDEF" for c in tail)
    )


def guidless_identity(clean: str) -> str:
    """The GUID of a player whose P0 is a placeholder (``GUIDLESS_P0``): derived from his
    clean name, so two GUID-less players are two players (a placeholder kept as the GUID
    made every GUID-less player in history one), the same name the same one."""
    digest = hashlib.blake2b(clean.encode("utf-8", "surrogatepass"), digest_size=_GUIDLESS_HEX // 2)
    return GUIDLESS_PREFIX + digest.hexdigest().upper()


def parse_file_name(name: str) -> FileName:
    """Read date, time, map and round from a stats file name (qualified with its server or
    not); ParseError if it is not one."""
    base, server = split_qualified(name)
    m = FILE_NAME.match(base)
    if m is None:
        raise ParseError(name, None, "file name", "not a round stats file name")
    y, mo, d, hh, mi, ss, map_name, rnd = m.groups()
    if not YEARS[0] <= int(y) <= YEARS[1]:
        raise ParseError(
            name, None, "file name", f"year {y} outside {YEARS[0]}–{YEARS[1]} (not a real round)"
        )
    if len(rnd) > 2:
        raise ParseError(name, None, "file name", f"round number {rnd} out of range")
    try:
        end = datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss))
    except ValueError as exc:
        raise ParseError(name, None, "file name", f"invalid date/time: {exc}") from None
    return FileName(name, end, map_name, int(rnd), server)


def is_stats_file_name(name: str) -> bool:
    return FILE_NAME.match(split_qualified(name)[0]) is not None


def parse_mss(text: str) -> int:
    """`M:SS` (minutes unbounded) or decimal minutes (`20.00`) → whole seconds."""
    m = _MSS.match(text.strip())
    if m is None:
        raise ValueError(f"not M:SS: {text!r}")
    minutes, frac, secs = m.groups()
    if len(minutes) > 6 or (frac is not None and len(frac) > _MAX_DIGITS):
        raise ValueError(f"out of range: {text.strip()[:20]!r}")
    if secs is not None:
        if frac is not None:
            raise ValueError(f"not M:SS: {text!r}")
        if int(secs) >= 60:
            raise ValueError(f"seconds >= 60 in {text!r}")
        total = int(minutes) * 60 + int(secs)
    else:
        total = round(float(f"{minutes}.{frac or 0}") * 60)
    if total > MAX_ROUND_SECONDS:
        raise ValueError(f"out of range: {text.strip()!r} is longer than a week")
    return total


def _decode(raw: bytes) -> str:
    # the engine writes raw bytes; names are never re-encoded (§1.4); a line's fields end
    # at a backslash (a name at the one after it)
    return decode_line(raw, b"\\")


def decode_line(raw: bytes, separator: bytes) -> str:
    """A line of a stats or endstats file as text (§1.4): UTF-8; else UTF-8 still when each
    of its ``separator``-separated fields is UTF-8 but for a character cut at the end of a
    field that holds UTF-8 characters (the engine cuts a name to its byte limit
    mid-character: a Cyrillic name read as cp1252 was mojibake, ``ÐŸÑ‘Ñ‚Ñ€â``), the cut
    bytes dropped; else cp1252, else latin-1.
    Never errors='ignore' (it silently changes names). Both parsers use it, so a name
    reads the same in both files."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    fields: list[str] = []
    for part in raw.split(separator):
        try:
            fields.append(part.decode("utf-8"))
        except UnicodeDecodeError as exc:
            cut, before = part[exc.start :], part[: exc.start]
            # a cut needs UTF-8 before it: "Dr\xe9" (cp1252 "Dré") also ends like one
            utf8 = any(b >= 0x80 for b in before)
            if exc.reason != "unexpected end of data" or len(cut) > 3 or not utf8:
                break
            fields.append(before.decode("utf-8"))
    else:
        return separator.decode().join(fields)
    for enc in ("cp1252", "latin-1"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def _int(
    text: str,
    file: str,
    line: int | None,
    name: str,
    lo: int = 0,
    hi: int = INT32_MAX,
) -> int:
    """An integer field within [lo, hi] (its lake column and the game's own range)."""
    if _INT.match(text) is None or not text.isascii():
        raise ParseError(file, line, name, f"not an integer: {text[:40]!r}")
    whole = text.partition(".")[0]  # "1234.0" reads as 1234 (_INT: only zeros follow)
    if len(whole.lstrip("+-").lstrip("0")) > _MAX_DIGITS:
        raise ParseError(file, line, name, f"out of range: {text[:20]}… ({len(whole)} digits)")
    value = int(whole)
    if not lo <= value <= hi:
        raise ParseError(file, line, name, f"out of range: {value} (allowed {lo}…{hi})")
    return value


def _tenths(text: str, file: str, line: int, name: str) -> int:
    """A `%0.1f` value as an exact count of tenths (so 0.1-minute times become exact seconds)."""
    t = text.strip()
    if _NUM.match(t) is None:
        raise ParseError(file, line, name, f"not a number: {text!r}")
    neg = t.startswith("-")
    t = t.lstrip("+-")
    whole, _, frac = t.partition(".")
    if len(whole.lstrip("0")) > _MAX_DIGITS or not t.isascii():
        raise ParseError(file, line, name, f"out of range: {text.strip()[:20]!r}")
    frac = (frac + "00")[:2]
    tenths = int(whole or "0") * 10 + int(frac[0]) + (1 if int(frac[1]) >= 5 else 0)
    return -tenths if neg else tenths


#: a fractional H8 above this is milliseconds, at most this is seconds (§2: a planned
#: variant wrote seconds; c0rnp0rn8 writes whole milliseconds, maybe with ".0")
H8_SECONDS_UP_TO = 10_000


def _play_time_ms(h8: str, file: str) -> int:
    """H8 in milliseconds. c0rnp0rn8 writes whole milliseconds (a trailing ``.0`` allowed);
    a fractional value is an unknown writer's, read by the original's rule (§2).

    Its range is what the writer's end − start − pauses of readings of the engine's 32-bit
    millisecond counter can reach (±2^33), not a round's length: on the shutdown path H8 is
    minus the server's uptime (§7.1). What it says is ``Header.measured_play_ms`` /
    ``Header.shutdown_path``'s to read; only a value no writer writes fails the file."""
    limit_ms = 2 * MS_COUNTER_SPAN
    whole, dot, frac = h8.partition(".")
    if not dot or frac.strip("0") == "":
        return _int(whole, file, 1, "H8 play time", -limit_ms, limit_ms)
    _tenths(h8, file, 1, "H8 play time")  # a plain decimal number of bounded length
    value = float(h8)
    ms = round(value if abs(value) > H8_SECONDS_UP_TO else value * 1000)
    if not -limit_ms <= ms <= limit_ms:
        raise ParseError(file, 1, "H8 play time", f"out of range: {h8} (allowed ±{limit_ms} ms)")
    return ms


def parse_header(text: str, file: str) -> Header:
    parts = text.split("\\")
    # §9: at least 8. A newer writer's extra fields are ignored (H0-H8 keep their meaning:
    # the header, like the lines, has grown by appending), so its rounds still land.
    if len(parts) < 8:
        raise ParseError(
            file,
            1,
            "header",
            f"expected at least 8 fields (c0rnp0rn8 writes 9), found {len(parts)}",
        )
    names = ("H3 round", "H4 defender", "H5 winner")
    rnd, dfd, win = (_int(parts[i].strip(), file, 1, names[i - 3], -9, 99) for i in (3, 4, 5))
    if rnd not in (1, 2):
        raise ParseError(file, 1, "H3 round", f"round must be 1 or 2, found {rnd}")
    if dfd not in (1, 2):
        raise ParseError(
            file, 1, "H4 defender", f"side must be 1 (Axis) or 2 (Allies), found {dfd}"
        )
    if win not in (0, 1, 2):
        raise ParseError(file, 1, "H5 winner", f"side must be 0, 1 or 2, found {win}")
    limits: list[int] = []
    for i, label in ((6, "H6 time limit"), (7, "H7 next time limit")):
        try:
            limits.append(parse_mss(parts[i]))
        except ValueError as exc:
            raise ParseError(file, 1, label, str(exc)) from None
    play_ms: int | None = None
    if len(parts) >= 9:
        play_ms = _play_time_ms(parts[8].strip(), file)
    return Header(
        server_name=parts[0],
        map_name=parts[1],
        config=parts[2],
        round_number=rnd,
        defender_side=dfd,
        winner_side=win,
        time_limit_s=limits[0],
        next_time_limit_s=limits[1],
        play_time_ms=play_ms,
        field_count=len(parts),
    )


def _plan(names: tuple[str, ...], kind: Kind) -> tuple[tuple[str, ...], tuple[int, ...]]:
    picked = [(n, i) for i, n in enumerate(names) if FIELD_BY_NAME[n].kind is kind]
    return tuple(n for n, _ in picked), tuple(i for _, i in picked)


#: Per layout: names and positions of its int, tenths and minutes fields (hot path).
_PLANS: dict[int, tuple[Any, ...]] = {
    n: (*_plan(names, Kind.INT), *_plan(names, Kind.TENTHS), *_plan(names, Kind.MINUTES))
    for n, names in LAYOUTS.items()
}
#: the fast path's reading of tenths that are not looked up: none negative ("-0.0" too, which
#: float() keeps as -0.0 where the checked path reads 0.0: the checked path reads all)
_TENTHS_LIST = re.compile(r"\d+\.\d(?: \d+\.\d)*")
_EMPTY_VALUES: dict[str, int | float | None] = dict.fromkeys(FIELD_BY_NAME)
#: Nearly every number of a line is small: the fast path looks it up (a third of the cost
#: of int() or float() of a fresh string). A text found here is written as its own value
#: would be, so it reads as int()/float() would read it, and passes every range check:
#: "0" … "9999" (≤ INT32_MAX), "0.0" … "999.9" (≤ MAX_RATIO; minutes: under a week).
#: Filled at the first line read, not at import (most commands read none); any text not
#: (yet) here is read by int()/float(), so what a line reads never depends on them.
_LOOKED_UP = 10_000
_SMALL_INTS: dict[str, int] = {}
_SMALL_TENTHS: dict[str, float] = {}


def _fill_look_ups() -> None:
    _SMALL_INTS.update(zip(map(str, range(_LOOKED_UP)), range(_LOOKED_UP), strict=True))
    texts = [f"{n // 10}.{n % 10}" for n in range(_LOOKED_UP)]
    _SMALL_TENTHS.update(zip(texts, map(float, texts), strict=True))


def _looked_up(texts: tuple[str, ...] | list[str], table: dict[str, Any]) -> tuple[Any, ...] | None:
    """Each text's value in ``table`` (one C call), or None where one is not there. Two
    texts or more (an itemgetter of one returns its value, not a 1-tuple)."""
    if len(texts) < 2:
        return None
    try:
        return itemgetter(*texts)(table)  # type: ignore[no-any-return]
    except KeyError:
        return None


def _naturals(texts: tuple[str, ...] | list[str]) -> tuple[int, ...]:
    """int() of each text; ValueError (the checked path's to name) where one is no number
    from 0 to INT32_MAX."""
    if (small := _looked_up(texts, _SMALL_INTS)) is not None:
        return small
    values = tuple(map(int, texts))
    if values and (min(values) < 0 or max(values) > INT32_MAX):
        raise ValueError("slow path")
    return values


def _slice_ids(low: int) -> tuple[tuple[int, ...], ...]:
    """The weapon ids low … low+6 that each 7-bit value sets, ascending, by its value."""
    ids: list[tuple[int, ...]] = [()]
    for wid in range(low, low + 7):
        ids += [(*t, wid) for t in ids]  # bit wid-low set: the values from 2**(wid-low) on
    return tuple(ids)


#: the weapon ids each 7-bit slice of a mask (P4) sets: four look-ups read a whole mask,
#: where testing its 28 bits one by one cost several times that
_MASK_SLICES = tuple(_slice_ids(low) for low in range(0, len(WEAPONS), 7))


@lru_cache(maxsize=8192)
def _mask_ids(mask: int) -> tuple[int, ...]:
    """The weapon ids a mask sets, ascending (any bits past the 28 are the caller's to
    refuse)."""
    a, b, c, d = _MASK_SLICES  # 28 weapons (§4.1)
    return a[mask & 127] + b[mask >> 7 & 127] + c[mask >> 14 & 127] + d[mask >> 21 & 127]


def parse_player_line(text: str, file: str, line_no: int, header_fields: int) -> PlayerLine:
    """Split one player line (§3.2); ParseError names the offending field.

    The fast path converts with plain ``int`` after one ASCII check (a backfill parses
    ~400k lines); anything unusual falls through to the checked path, which either accepts
    it or raises the precise ParseError.
    """
    try:
        return _parse_player_line_fast(text, line_no, header_fields)
    except (ValueError, IndexError, KeyError, ArithmeticError):
        return _parse_player_line_checked(text, file, line_no, header_fields)


def _parse_player_line_fast(text: str, line_no: int, header_fields: int) -> PlayerLine:
    prefix, tab, tail = text.partition("\t")
    parts = prefix.split("\\", 4)
    if not tab or len(parts) != 5 or "\\" in parts[4]:
        raise ValueError("slow path")
    # int() also takes '1_000' and non-ASCII digits: those go to the checked path
    if not (parts[4].isascii() and tail.isascii()) or "_" in parts[4] or "_" in tail:
        raise ValueError("slow path")
    guid, name_raw, p2, p3, weapon_text = parts
    if len(parts[2]) > 5 or len(parts[3]) > 1 or len(weapon_text) > 4096 or not _p0_ok(guid):
        raise ValueError("slow path")
    if not _SMALL_TENTHS:  # the first line read
        _fill_look_ups()
    tokens = weapon_text.split()
    mask = int(tokens[0])
    ids = _mask_ids(mask)
    if mask < 0 or mask >= 1 << len(WEAPONS) or len(tokens) != 1 + 5 * len(ids):
        raise ValueError("slow path")
    counts = _naturals(tokens[1:])  # out of range: the checked path names the field
    # each set mask bit's five values in turn: zip takes them five at a time, in order
    group = iter(counts)
    weapons = dict(zip(ids, zip(group, group, group, group, group, strict=True), strict=True))
    hits, shots, kills = sum(counts[0::5]), sum(counts[1::5]), sum(counts[2::5])
    deaths, hs = sum(counts[3::5]), sum(counts[4::5])
    if max(hits, shots, kills, deaths, hs) > INT32_MAX:
        raise ValueError("slow path")
    ext = tail.split("\t")
    if len(tail) > 4096:
        raise ValueError("slow path")
    plan = _FAST_PLANS[len(ext)]  # KeyError: an unknown layout, which the checked path names
    if header_fields >= 9 and len(ext) < 38:
        raise ValueError("slow path")
    # small numbers are looked up, in range; any other is read and checked, one comparison
    # per kind: anything out of range (or a negative XP, which the game allows) goes to the
    # checked path, which accepts it or names the field
    ints = _naturals(plan.ints(ext))
    decimals = plan.decimals(ext)
    floats = _looked_up(decimals, _SMALL_TENTHS)
    if floats is None:
        if _TENTHS_LIST.fullmatch(" ".join(decimals)) is None:
            raise ValueError("slow path")
        floats = tuple(map(float, decimals))
        if (  # none negative: _TENTHS_LIST
            max(floats[: plan.tenths]) > MAX_RATIO
            or max(floats[plan.tenths :]) * 60 > MAX_ROUND_SECONDS
        ):
            raise ValueError("slow path")
    tenths, mins = floats[: plan.tenths], floats[plan.tenths :]
    values = dict(_EMPTY_VALUES)
    seconds = [round(m * 10) * 6 for m in mins]
    values.update(zip(plan.names, [*ints, *tenths, *seconds], strict=True))
    values["kills"], values["deaths"], values["shots"] = kills, deaths, shots
    values["hits"], values["headshot_hits"] = hits, hs
    if len(ext) < 38:
        values["bullets_fired"] = shots  # old writers' X20 is inflated (§3.6)
    # P2/P3 looked up ("0"…"9999": no int() of '1_0', ' 1' or '١٠', which the checked path
    # refuses); any other text (KeyError) is the checked path's to read or name
    rounds_counter, team = _SMALL_INTS[p2], _SMALL_INTS[p3]
    if team > 3:
        raise ValueError("slow path")
    return _player_line(
        line_no, guid, name_raw, rounds_counter, team, mask, len(ext), weapons, values
    )


def _guid_ok(guid: str) -> bool:
    """A GUID as the writer can write it: the first 8 hex characters of ``cl_guid`` (§3.3),
    or up to 32 letters and digits; never empty, never other bytes."""
    g = guid.strip()
    return 0 < len(g) <= 32 and g.isascii() and g.isalnum()


def _placeholder(guid: str) -> bool:
    """P0 of a client without a GUID (``GUIDLESS_P0``)."""
    return guid.strip().upper() in GUIDLESS_P0


def _p0_ok(guid: str) -> bool:
    """P0 as the writer can write it: a GUID (:func:`_guid_ok`) or a placeholder."""
    return _guid_ok(guid) or _placeholder(guid)


def _known_layout(count: int) -> int:
    """The layout a line of ``count`` extended fields is read by: its own where known, the
    longest known for more fields, up to ``MAX_EXTENDED_FIELDS`` (§3.6: layouts grow by
    appending, so a newer writer's first 38 fields are the 38 known); KeyError otherwise."""
    if count in LAYOUTS:
        return count
    if LONGEST_LAYOUT < count <= MAX_EXTENDED_FIELDS:
        return LONGEST_LAYOUT
    raise KeyError(count)


class _FastPlan(NamedTuple):
    """How the fast path reads a line of one layout (built once per layout)."""

    #: the int fields' texts, in ``names`` order (one C call per line)
    ints: Callable[[list[str]], tuple[str, ...]]
    #: the tenths fields' texts, then the minutes fields'
    decimals: Callable[[list[str]], tuple[str, ...]]
    tenths: int  # how many of ``decimals`` are tenths
    names: tuple[str, ...]  # ints, tenths, then minutes


def _picker(idx: tuple[int, ...]) -> Callable[[list[str]], tuple[str, ...]]:
    pick = itemgetter(*idx)
    return pick if len(idx) > 1 else lambda ext: (pick(ext),)


def _fast_plan(layout: int) -> _FastPlan:
    int_names, int_idx, tenth_names, tenth_idx, minute_names, minute_idx = _PLANS[layout]
    return _FastPlan(
        _picker(int_idx),
        _picker(tenth_idx + minute_idx),
        len(tenth_idx),
        int_names + tenth_names + minute_names,
    )


#: The fast path's plan per extended-field count it reads: a known layout's, or the
#: longest's for a newer writer's longer lines (:func:`_known_layout`); a count missing
#: here is an unknown layout
_LAYOUT_PLANS = {layout: _fast_plan(layout) for layout in LAYOUTS}
_FAST_PLANS: dict[int, _FastPlan] = {
    count: _LAYOUT_PLANS[_known_layout(count)]
    for count in (*LAYOUTS, *range(LONGEST_LAYOUT + 1, MAX_EXTENDED_FIELDS + 1))
}


def _player_line(
    line_no: int,
    guid: str,
    name_raw: str,
    rounds_counter: int,
    team: int,
    mask: int,
    layout: int,
    weapons: dict[int, tuple[int, int, int, int, int]],
    values: dict[str, int | float | None],
) -> PlayerLine:
    """The parsed line, identity derived once: upper-case GUID (a placeholder's:
    :func:`guidless_identity`), ET-clean name, bot flag."""
    name = COLOUR_CODE.sub("", name_raw) if "^" in name_raw else name_raw  # most have none
    g8 = guid.strip().upper()
    if g8 in GUIDLESS_P0:
        g8 = guidless_identity(name)
    return PlayerLine(
        line_no=line_no,
        guid=g8,
        name_raw=name_raw,
        name=name,
        rounds_counter=rounds_counter,
        team=team,
        weapon_mask=mask,
        layout=layout,
        is_bot=is_bot_guid(g8) or is_bot_name(name),
        weapons=weapons,
        values=values,
    )


def _parse_player_line_checked(
    text: str, file: str, line_no: int, header_fields: int
) -> PlayerLine:
    prefix, tab, tail = text.partition("\t")
    if not tab:
        raise ParseError(file, line_no, "extended fields", "no TAB-separated extended fields")
    parts = prefix.split("\\", 4)
    if len(parts) != 5:
        raise ParseError(file, line_no, "prefix", f"expected 5 `\\` fields, found {len(parts)}")
    guid, name_raw, p2, p3, weapon_text = parts
    if "\\" in weapon_text:
        raise ParseError(file, line_no, "prefix", "too many `\\` fields")
    if not _p0_ok(guid):
        # the player's identity: stray bytes there made a phantom player
        raise ParseError(
            file,
            line_no,
            "P0 GUID",
            f"not 1–32 letters or digits, nor a placeholder (NO_GUID, UNKNOWN): {guid!r}",
        )
    rounds_counter = _int(p2, file, line_no, "P2 rounds", 0, INT16_MAX)
    # 0 free (non-team game types), 1 Axis, 2 Allies, 3 spectator
    team = _int(p3, file, line_no, "P3 team", 0, 3)
    tokens = weapon_text.split()
    if not tokens:
        raise ParseError(file, line_no, "P4 weapon mask", "missing")
    mask = _int(tokens[0], file, line_no, "P4 weapon mask")
    if mask < 0 or mask >= 1 << len(WEAPONS):
        raise ParseError(file, line_no, "P4 weapon mask", f"out of range: {mask}")
    ids = [i for i in range(len(WEAPONS)) if mask >> i & 1]
    if len(tokens) - 1 != 5 * len(ids):
        raise ParseError(
            file,
            line_no,
            "P4 weapon groups",
            f"mask has {len(ids)} weapons → {5 * len(ids)} values expected, found {len(tokens) - 1}",
        )
    weapons: dict[int, tuple[int, int, int, int, int]] = {}
    totals = [0, 0, 0, 0, 0]
    for n, wid in enumerate(ids):
        vals = tuple(
            _int(tokens[1 + 5 * n + k], file, line_no, f"weapon {WEAPONS[wid]} {stat}")
            for k, stat in enumerate(("hits", "shots", "kills", "deaths", "headshots"))
        )
        weapons[wid] = (vals[0], vals[1], vals[2], vals[3], vals[4])
        for k in range(5):
            totals[k] += vals[k]
    for total, stat in zip(totals, DERIVED_TOTALS, strict=True):
        if total > INT32_MAX:
            raise ParseError(
                file, line_no, "P4 weapon groups", f"{stat} add up to {total}, out of range"
            )
    ext = tail.split("\t")
    try:
        names = LAYOUTS[_known_layout(len(ext))]
    except KeyError:
        raise ParseError(
            file,
            line_no,
            "extended fields",
            f"unknown layout: {len(ext)} fields (33/36/37/38 known; a newer writer's "
            f"39–{MAX_EXTENDED_FIELDS} are read by their first 38)",
        ) from None
    if header_fields >= 9 and len(ext) < 38:
        raise ParseError(
            file,
            line_no,
            "extended fields",
            f"c0rnp0rn8 header but {len(ext)} fields (38 expected)",
        )
    values: dict[str, int | float | None] = dict.fromkeys(FIELD_BY_NAME)
    # a newer writer's fields past the known ones are ignored, unread (§3.6)
    for name, text_value in zip(names, ext[: len(names)], strict=True):
        spec = FIELD_BY_NAME[name]
        label = f"X{names.index(name)} {name}"
        if spec.kind is Kind.INT:
            lo = -INT32_MAX - 1 if name in SIGNED_FIELDS else 0
            values[name] = _int(text_value.strip(), file, line_no, label, lo)
            continue
        tenths = _tenths(text_value, file, line_no, label)
        hi = MAX_ROUND_SECONDS * 10 // 60 if spec.kind is Kind.MINUTES else MAX_RATIO * 10
        if not 0 <= tenths <= hi:
            raise ParseError(
                file, line_no, label, f"out of range: {text_value.strip()} (allowed 0…{hi / 10:g})"
            )
        values[name] = tenths * 6 if spec.kind is Kind.MINUTES else tenths / 10
    hits, shots, kills, deaths, hs = totals
    values.update(kills=kills, deaths=deaths, shots=shots, hits=hits, headshot_hits=hs)
    if len(ext) < 38:
        # 33/36/37 writers accumulate X20 at every snapshot (§3.6): Σ shots is the truth.
        values["bullets_fired"] = shots
    return _player_line(
        line_no, guid, name_raw, rounds_counter, team, mask, len(ext), weapons, values
    )


def _interrupted(header: Header) -> bool:
    """The shutdown save path (§7.1), as far as one file tells: c0rnp0rn8's H8.

    An older writer's file alone cannot tell. Its R2 clock artefact (H7 > H6) is written in
    complete round 2s too, and players' time played (X22) past H6 is no sign of a round 2
    saved as round 1: X22 counts paused time (the engine adds level time while paused), so
    a held round 1 paused a minute has it. The pairing decides both, from the rounds around
    the file (``pairing.pair_rounds``)."""
    return header.shutdown_path


@dataclass(frozen=True, slots=True)
class RoundHead:
    """What the name and the first line say, enough to place a round in time."""

    file: FileName
    header: Header
    partial: bool
    #: the round was a game (:func:`two_sided`): not a header-only file (a map that timed
    #: out with nobody playing, one per map on an idle server; §7 "Header only"), nor one
    #: with players on one side only. Only games link rounds into a session
    players: bool = True


#: a UTF-8 byte order mark: no writer writes one (§1.4), a Windows editor or tool that
#: passed the file on may; it would open the server's name
BOM = b"\xef\xbb\xbf"


def _split_lines(data: bytes, name: str, strict: bool) -> tuple[list[str], bool, str]:
    """The complete lines (the first without a BOM), whether the file ends with its LF, and
    the cut last line."""
    complete = data.endswith(b"\n")
    body = data.removeprefix(BOM)
    try:
        # a UTF-8 file (nearly all) decodes in one call, to the lines each line's own
        # decoding gives: an LF byte is never part of a UTF-8 character
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        lines, crlf = [_decode(r) for r in body.split(b"\n")], True
    else:
        lines, crlf = text.split("\n"), "\r" in text
    cut = lines.pop()  # after a final LF: empty; else the cut last line, never half-stored
    if not complete:
        if strict:
            raise ParseError(name, len(lines) + 1, "line", "file cut mid-line (partial)")
        if not lines:
            raise ParseError(name, 1, "header", "file cut inside the header line")
    return [line.rstrip("\r") for line in lines] if crlf else lines, complete, cut


def _without_trailing_blanks(lines: list[str], cut: str) -> list[str]:
    """The player lines without the blank (or CR-only, or whitespace) lines after the last
    one: an editor or a Windows tool that passed the file on appended them, which is no
    line of the writer's to reject (§1.4). A blank line before a player line (the cut last
    line of a partial file too) stays, rejected: something is wrong inside the file."""
    if cut.strip():
        return lines
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


def _check_header(header: Header, file: FileName) -> None:
    if header.round_number != file.round_number:
        raise ParseError(
            file.name,
            1,
            "H3 round",
            f"header says round {header.round_number}, name says {file.round_number}",
        )
    if header.map_name != file.map_name:
        raise ParseError(
            file.name, 1, "H1 map", f"header says {header.map_name!r}, name says {file.map_name!r}"
        )


def parse_head(data: bytes, name: str) -> RoundHead:
    """Name + header only (cheap); raises ParseError exactly when :func:`parse_bytes` would
    fail the whole file. Empty data is a ParseError here (check emptiness first)."""
    try:
        return _parse_head(data, name)
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(name, None, "file", f"{INTERNAL_ERROR}: {exc!r}") from exc


def _parse_head(data: bytes, name: str) -> RoundHead:
    file = parse_file_name(name)
    if not data:
        raise ParseError(name, None, "file", "empty")
    first, nl, _ = data.removeprefix(BOM).partition(b"\n")
    if not nl:
        raise ParseError(name, 1, "header", "file cut inside the header line")
    header = parse_header(_decode(first).rstrip("\r"), name)
    _check_header(header, file)
    return RoundHead(file, header, not data.endswith(b"\n"), players=two_sided(data))


def has_player_lines(data: bytes) -> bool:
    """Whether a file holds more than its first line (a round's player lines, or anything
    else to read): a header-only file is a map that timed out with nobody playing."""
    _, _, rest = data.partition(b"\n")
    return bool(rest.strip())


#: the sides a game has players on: 1 Axis, 2 Allies (P3; 3 is spectator)
SIDES = (1, 2)
_X22 = 22  # time played, minutes (X0…X26 are the same in every layout, §3.6)


def two_sided(data: bytes) -> bool:
    """Whether the round was a game: players on both sides, each with time played (X22 >
    0), read from every line after the header (the lines the parser rejects too, and a cut
    last line). One side alone — a player waiting on an empty server, a team with nobody
    to play — or none (header only, spectators only) is no game.

    A player with no time on his side (X22 0.0: under 3 s on a team) does not make that
    side played, unless no line of the file has time at all (X22 0.0 everywhere, a writer
    fault reported once, §6.2): then the sides listed tell. A line whose side cannot be
    read proves nothing either way: the round is taken for a game (what is unsure counts)."""
    timed: set[int] = set()
    listed: set[int] = set()
    for raw in data.split(b"\n")[1:]:
        line = raw.rstrip(b"\r")
        if not line or line.isspace():
            continue
        prefix, _, tail = line.partition(b"\t")
        parts = prefix.split(b"\\", 4)
        try:
            team = int(parts[3])
        except (IndexError, ValueError):
            return True
        if team not in SIDES:
            continue
        listed.add(team)
        fields = tail.split(b"\t", _X22 + 1)  # X22 and the rest unsplit
        try:
            minutes: float | None = float(fields[_X22])
        except (IndexError, ValueError):
            minutes = None  # cut or garbled: its time unknown, not known to be none
        if minutes is None or minutes > 0:
            timed.add(team)
            if len(timed) == len(SIDES):
                return True  # both sides timed: no later line can make it no game
    return len(timed or listed) == len(SIDES)


def parse_bytes(data: bytes, name: str, *, strict: bool = False) -> RoundFile:
    """Parse a whole file's bytes.

    Lenient (default): raises ParseError only for a bad name or header; bad player lines
    are collected in ``rejected`` and a cut last line makes the file ``partial``.
    ``strict=True`` raises the first problem instead, so nothing incomplete passes.
    No other exception leaves this function (fuzzed: ``tests/test_parse_fuzz.py``).
    """
    try:
        return _parse_bytes(data, name, strict)
    except ParseError:
        raise
    except Exception as exc:  # a parser bug must still quarantine one file, not stop a batch
        raise ParseError(name, None, "file", f"{INTERNAL_ERROR}: {exc!r}") from exc


#: the reason prefix of a ParseError that stands for a parser bug (the fuzz test counts them)
INTERNAL_ERROR = "internal parser error"


def _parse_bytes(data: bytes, name: str, strict: bool) -> RoundFile:
    file = parse_file_name(name)
    sha = hashlib.sha256(data).hexdigest()
    if not data:
        return RoundFile(file, sha, 0, FileStatus.EMPTY, None)
    lines, complete, cut = _split_lines(data, name, strict)
    header = parse_header(lines[0], name)
    _check_header(header, file)
    lines = [lines[0], *_without_trailing_blanks(lines[1:], cut)]
    if len(lines) - 1 > MAX_PLAYER_LINES:
        raise ParseError(
            name,
            MAX_PLAYER_LINES + 2,
            "player lines",
            f"{len(lines) - 1} player lines; more than {MAX_PLAYER_LINES} is no round a "
            "server wrote (one line per player of the map)",
        )
    players: list[PlayerLine] = []
    rejected: list[ParseError] = []
    rejected_players: list[tuple[str, str]] = []
    for no, text in enumerate(lines[1:], start=2):
        try:
            if not text or text.isspace():
                raise ParseError(name, no, "line", "blank line")
            players.append(parse_player_line(text, name, no, header.field_count))
        except ParseError as err:
            if strict:
                raise
            rejected.append(err)
            if who := _readable_player(text):
                rejected_players.append(who)
    for mixed, player in _other_layouts(players, name):
        if strict:
            raise mixed
        players.remove(player)
        rejected.append(mixed)
        rejected_players.append((player.guid, player.name))
    rejected.sort(key=lambda e: e.line or 0)
    if not complete and (who := _readable_player(cut)):
        rejected_players.append(who)  # the cut line's player has no complete line here
    if not complete:
        status = FileStatus.PARTIAL
    elif _interrupted(header):
        status = FileStatus.INTERRUPTED
    else:
        status = FileStatus.OK
    parsed = RoundFile(
        file,
        sha,
        len(data),
        status,
        header,
        players,
        rejected,
        tuple(rejected_players),
        two_sided(data),
        _newer_layout_note(players),
    )
    if (given := timeless_round_time(parsed)) is not None:
        said = (
            f"no player on a side has time played (X22 0.0 on every line, a writer fault): "
            f"each is given the round's length, {given} s, for his DPM and time played"
        )
        parsed.note = f"{parsed.note}; {said}" if parsed.note else said
    return parsed


def timeless_round_time(r: RoundFile) -> int | None:
    """The time played each player on a side is given in a round 1 whose lines all say
    0.0 minutes (X22 0.0 on every line of both sides: a writer fault reported in round 1s of
    Nov 2025, STATS_FORMAT §6.2 "keep the fallback, but log it"): the round's length from
    its header, at most its limit (H6). Without it their damage counted for no DPM, and
    the round 2 after it took both rounds' time for its own (its X22 less 0), halving
    every DPM of the map. None for any other round, or when the header cannot tell."""
    h = r.header
    if h is None or r.file.round_number != 1 or r.status is FileStatus.INTERRUPTED:
        return None
    sided = [p for p in r.players if p.team in (1, 2)]
    if not sided or any(p.values.get("time_played_s") for p in sided):
        return None
    length = r.duration_s
    if length is None or length <= 0:
        return None
    return int(min(length, h.time_limit_s) if h.time_limit_s > 0 else length)


def _newer_layout_note(players: list[PlayerLine]) -> str | None:
    """The file's note when its lines are longer than the longest known layout (§3.6: a
    newer writer appended fields): their known fields were read, the rest ignored. Once
    per file, not a rejection."""
    longer = [p for p in players if p.layout > LONGEST_LAYOUT]
    if not longer:
        return None
    counts = "/".join(str(n) for n in sorted({p.layout for p in longer}))
    lines = "line has" if len(longer) == 1 else "lines have"
    return (
        f"{len(longer)} player {lines} {counts} extended fields, more than the "
        f"{LONGEST_LAYOUT} known (a newer writer's): the {LONGEST_LAYOUT} known were read, "
        "the rest ignored"
    )


def _readable_player(text: str) -> tuple[str, str] | None:
    """(GUID, clean P1) of a line that failed to parse, so his round-2 line is known to lack
    its round 1. A P0 with stray bytes (rejected for it) still names him: its first 8 ASCII
    letters and digits — the writer's GUID is 8 characters (§3.3). A placeholder P0 names
    him by his name (:func:`guidless_identity`), where it can be read."""
    guid, backslash, rest = text.partition("\t")[0].partition("\\")
    guid = guid.strip().upper()
    if backslash and guid in GUIDLESS_P0:
        name, backslash, _ = rest.partition("\\")
        return (guidless_identity(clean := clean_name(name)), clean) if backslash else None
    if not _guid_ok(guid):
        guid = "".join(c for c in guid if c.isascii() and c.isalnum())[:8]
    if not (backslash and guid):
        return None
    name, backslash, _ = rest.partition("\\")
    return guid, clean_name(name) if backslash else ""


def _other_layouts(players: list[PlayerLine], name: str) -> list[tuple[ParseError, PlayerLine]]:
    """Lines whose extended-field count differs from the file's (§3.6: one writer writes
    one layout; a line that lost or gained a field would be read with its fields shifted).
    The file's layout is its most common one, on a tie a known one (a line that gained a
    field more likely did than a newer writer wrote it), then the newer."""
    counts = Counter(p.layout for p in players)
    if len(counts) < 2:
        return []
    layout = max(counts, key=lambda n: (counts[n], n in LAYOUTS, n))
    return [
        (
            ParseError(
                name,
                p.line_no,
                "extended fields",
                f"{p.layout} fields where the file's other lines have {layout}",
            ),
            p,
        )
        for p in players
        if p.layout != layout
    ]


def read_round_file(path: Path) -> RoundFile:
    return parse_bytes(path.read_bytes(), path.name)


__all__ = [
    "FILE_NAME",
    "FileName",
    "FileStatus",
    "Header",
    "ParseError",
    "PlayerLine",
    "RoundFile",
    "clean_name",
    "is_stats_file_name",
    "parse_bytes",
    "parse_file_name",
    "parse_header",
    "parse_player_line",
    "read_round_file",
]
