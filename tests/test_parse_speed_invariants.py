"""The parser's shortcuts read what the plain rules read (no timings here: speed is measured,
in benchmarks, not tested).

* the fast path looks small numbers up instead of int()/float(): a text in its tables is
  its own value's canonical text, inside every range the fast path checks, and a line reads
  the same with the tables empty;
* a weapon mask's ids come from four 7-bit slices: the same ids as testing each bit;
* a file decodes in one call when it is UTF-8: the same lines as decoding each line;
* ``two_sided`` stops at the first line that times the second side: the same answer as
  reading every line;
* the fast path reads P2/P3 and tenths as the checked path does: text it refuses is refused
  (no int() of '1_0', ' 1' or non-ASCII digits), "-0.0" is 0.0 (parser version 21).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_duck.domain import parse
from etl_duck.domain.fields import WEAPONS
from etl_duck.domain.parse import (
    INT32_MAX,
    MAX_RATIO,
    MAX_ROUND_SECONDS,
    decode_line,
    parse_bytes,
    two_sided,
)
from tests.conftest import REAL
from tests.lakecheck import R1, R2


def _filled() -> None:
    parse_bytes(R1.read_bytes(), R1.name)  # the first line read fills the tables


def test_every_looked_up_int_is_its_own_text_and_in_range() -> None:
    _filled()
    assert len(parse._SMALL_INTS) == parse._LOOKED_UP
    for text, value in parse._SMALL_INTS.items():
        assert type(value) is int and text == str(value) and int(text) == value
        assert 0 <= value <= INT32_MAX


def test_every_looked_up_tenth_is_its_own_text_and_in_range() -> None:
    _filled()
    assert len(parse._SMALL_TENTHS) == parse._LOOKED_UP
    for text, value in parse._SMALL_TENTHS.items():
        assert type(value) is float and text == f"{value:.1f}" and float(text) == value
        assert parse._TENTHS_LIST.fullmatch(text)  # what the fast path checks otherwise
        # a tenths field's range, and a minutes field's
        assert 0 <= value <= MAX_RATIO and value * 60 <= MAX_ROUND_SECONDS


def _files() -> Iterator[tuple[str, bytes]]:
    for path in [R1, R2, *sorted(REAL.glob("*.txt"))[::4]]:
        yield path.name, path.read_bytes()


def test_a_line_reads_the_same_without_the_look_up_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tables are a shortcut only: int()/float() read every text they lack."""
    files = list(_files())
    _filled()
    with_tables = [repr(parse_bytes(data, name)) for name, data in files]
    # filled ones that hold nothing: every number goes by int()/float() and its range check
    monkeypatch.setattr(parse, "_SMALL_INTS", {})
    monkeypatch.setattr(parse, "_SMALL_TENTHS", {"": 0.0})
    without = [repr(parse_bytes(data, name)) for name, data in files]
    assert without == with_tables
    assert any("dpm_written" in r for r in with_tables)  # the files did have player lines


def test_mask_ids_are_the_bits_set() -> None:
    rng = random.Random(7)
    masks = [*range(1 << 14), *(1 << i for i in range(len(WEAPONS)))]
    masks += [rng.getrandbits(len(WEAPONS)) for _ in range(20_000)]
    masks.append((1 << len(WEAPONS)) - 1)
    for mask in masks:
        assert parse._mask_ids(mask) == tuple(i for i in range(len(WEAPONS)) if mask >> i & 1)


@pytest.mark.parametrize(
    "lines",
    [
        # cp1252 name, UTF-8 name cut mid-character, CRLF, a lone CR, a BOM
        [b"\xef\xbb\xbfsrv\\m", b"A\\Dr\xe9\\0\\1", b"B\\\xd0\x9f\xd1\x91\xd1\\0\\2\r", b""],
        [b"srv\\m\r", b"A\\\xd0\x9f\xd1\x91\\0\\1\r", b"B\\x\rx\\0\\2", b"C\\\xe2\x82"],
        [b"srv\\m", b"A\\plain\\0\\1", b""],
        [b"\xef\xbb\xbfsrv\\m\r", b"A\\\xd0\x9f\xd1\x91\\0\\1\r", b"B\\x\rx\\0\\2\r\r", b""],
    ],
)
def test_whole_file_decoding_gives_each_lines_decoding(lines: list[bytes]) -> None:
    data = b"\n".join(lines)
    got, complete, cut = parse._split_lines(data, "f.txt", strict=False)
    raw = data.removeprefix(parse.BOM).split(b"\n")
    expected = [decode_line(r, b"\\").rstrip("\r") for r in raw[:-1]]
    assert (got, complete, cut) == (expected, data.endswith(b"\n"), decode_line(raw[-1], b"\\"))


def _two_sided_every_line(data: bytes) -> bool:
    """The rule as the docstring states it, reading every line (no early stop)."""
    timed: set[int] = set()
    listed: set[int] = set()
    unreadable = False
    for raw in data.split(b"\n")[1:]:
        line = raw.rstrip(b"\r")
        if not line.strip():
            continue
        prefix, _, tail = line.partition(b"\t")
        try:
            team = int(prefix.split(b"\\")[3])
        except (IndexError, ValueError):
            unreadable = True
            continue
        if team in (1, 2):
            listed.add(team)
            try:
                played = float(tail.split(b"\t")[22]) > 0
            except (IndexError, ValueError):
                played = True
            if played:
                timed.add(team)
    return unreadable or len(timed or listed) == 2


def _line(team: bytes, minutes: bytes) -> bytes:
    ext = [b"0"] * 38
    ext[22] = minutes
    return b"G\\n\\0\\" + team + b"\\0\t" + b"\t".join(ext)


def test_two_sided_stopping_early_answers_as_reading_every_line() -> None:
    rng = random.Random(11)
    pool = [
        _line(team, minutes)
        for team in (b"1", b"2", b"3", b"0")
        for minutes in (b"0.0", b"1.5", b"x")
    ]
    pool += [b"", b"  \r", b"garbage", b"G\\n\\0", _line(b"1", b"0.0")[:20]]
    cases = [data for _, data in _files()]
    for _ in range(3000):
        body = [rng.choice(pool) for _ in range(rng.randint(0, 6))]
        cases.append(b"h\\m\n" + b"\n".join(body) + rng.choice([b"\n", b""]))
    answers = set()
    for data in cases:
        answers.add(two_sided(data))
        assert two_sided(data) == _two_sided_every_line(data), data
    assert answers == {True, False}


def test_the_parse_benchmark_runs_a_revisions_parser_beside_the_package() -> None:
    """benchmarks/bench_parse.py (the speed figure in DECISIONS): a revision's parser loads
    as a module of its own and reads the same bytes, refusals included, as this checkout's
    does where the file is the same."""
    import subprocess

    from benchmarks.bench_parse import parse_all, parser_at

    root = Path(__file__).resolve().parent.parent
    same = subprocess.run(
        ["git", "diff", "--quiet", "HEAD", "--", "etl_duck/domain/parse.py"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if same.returncode != 0:
        pytest.skip("not a git checkout, or parse.py edited since HEAD")
    head = parser_at("HEAD")
    assert head is not parse and head.parse_bytes is not parse.parse_bytes
    blobs = [(p.read_bytes(), p.name) for p in sorted(REAL.glob("*.txt"))[:12]]
    blobs.append((b"not a stats file", "2025-01-01-200000-goldrush-round-1.txt"))
    _, theirs = parse_all(head, blobs)
    spent, ours = parse_all(parse, blobs)
    assert spent > 0 and theirs == ours
    assert all(r.startswith("RoundFile(") for r in ours[:12])
    assert ours[12].startswith("ParseError(")


def _r1_line() -> str:
    return R1.read_text().split("\n")[1]


def _with_prefix_field(field: int, text: str) -> str:
    parts = _r1_line().split("\\", 4)
    parts[field] = text
    return "\\".join(parts)


@pytest.mark.parametrize(
    ("field", "text", "label"),
    [
        (3, "\u0663", "P3 team"),  # an Arabic-Indic 3: int() reads it as 3
        (2, "1_0", "P2 rounds"),
        (2, " 1", "P2 rounds"),
        (2, "\u0661\u0660", "P2 rounds"),
    ],
)
def test_p2_p3_text_the_checked_path_refuses_is_refused_by_the_fast_path_too(
    field: int, text: str, label: str
) -> None:
    """A line's fate must not depend on whether the rest of it qualifies for the fast path
    (from a review: the fast path's bare int() read these as team 3 / 10 / 1 rounds)."""
    line = _with_prefix_field(field, text)
    with pytest.raises(parse.ParseError):
        parse._parse_player_line_checked(line, "f", 2, 9)
    with pytest.raises(parse.ParseError) as raised:
        parse.parse_player_line(line, "f", 2, 9)
    assert raised.value.field == label


@pytest.mark.parametrize(("field", "text"), [(2, "+1"), (2, "01"), (2, "12345"), (3, "+2")])
def test_p2_p3_text_the_checked_path_reads_is_read_alike(field: int, text: str) -> None:
    line = _with_prefix_field(field, text)
    assert repr(parse.parse_player_line(line, "f", 2, 9)) == repr(
        parse._parse_player_line_checked(line, "f", 2, 9)
    )


@pytest.mark.parametrize("text", ["-0.0", "-00.0"])
@pytest.mark.parametrize("index", [9, 26])  # X8 time_alive_pct (tenths), X25 (minutes)
def test_negative_zero_tenths_read_alike(index: int, text: str) -> None:
    """float("-0.0") is -0.0; the checked path reads 0 tenths, 0.0."""
    ext = _r1_line().split("\t")
    ext[index] = text
    line = "\t".join(ext)
    checked = parse._parse_player_line_checked(line, "f", 2, 9)
    assert repr(parse.parse_player_line(line, "f", 2, 9)) == repr(checked)
    try:
        fast = parse._parse_player_line_fast(line, 2, 9)
    except ValueError:
        return  # left to the checked path
    assert repr(fast) == repr(checked)
