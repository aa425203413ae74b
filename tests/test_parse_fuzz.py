"""Fuzz: mutants of real files either parse into rows the lake can store, or raise
ParseError — never anything else, and never a value that fails at Parquet encode time.

Size: ``--fuzz-mutants N``; 400 by default, 100,000 with ``--runslow``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from etl_duck.domain.endstats import parse_endstats
from etl_duck.domain.parse import INTERNAL_ERROR, ParseError, parse_bytes, parse_head
from etl_duck.domain.sessions import group_sessions
from etl_duck.ingest.build import build_partition, round_time
from etl_duck.ingest.options import IngestOptions
from etl_duck.lake.schemas import SCHEMAS
from tests.conftest import REAL, SHARED

#: values a broken or hostile writer could put in any numeric field
EXTREMES = [
    b"99999999999", b"-2147483649", b"2147483648", b"2147483647", b"300", b"-1", b"-0",
    b"1" * 400, b"9" * 5000, b"1" * 400 + b".5", b"1e400", b"nan", b"inf", b"-inf", b"0x10",
    "٣".encode(), b"1.5", b"+5", b"1_000", b"", b" ", b"32768", b"65536", b"-32769",
    b"0.05", b"99999999.9", b"-0.1", b"12:00", b"999999:00", b"1" * 30 + b":00",
]  # fmt: skip
SEPARATORS = [b"\\", b"\t", b" ", b"\n"]


def _files() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(REAL.glob("*.txt"))]


def _sessions(files: list[tuple[str, bytes]]) -> dict[str, list[str]]:
    """Each real file's session (its neighbours are built with the mutant: pairing runs)."""
    times = {n: round_time(h.file, h.header) for n, d in files if (h := parse_head(d, n))}
    out: dict[str, list[str]] = {}
    for s in group_sessions(times.values(), 60):
        for n in s.rounds:
            out[n] = list(s.rounds)
    return out


def _tokens(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every run between separators."""
    spans, start = [], 0
    for i, b in enumerate(data):
        if bytes([b]) in SEPARATORS:
            if i > start:
                spans.append((start, i))
            start = i + 1
    return spans


def mutate(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        kind = rng.random()
        spans = _tokens(data)
        if kind < 0.55 and spans:  # one field becomes an extreme value
            a, b = rng.choice(spans)
            data = data[:a] + rng.choice(EXTREMES) + data[b:]
        elif kind < 0.65 and spans:  # a field grows digits
            a, b = rng.choice(spans)
            data = data[:b] + b"9" * rng.randint(1, 40) + data[b:]
        elif kind < 0.75 and data:  # a byte changes
            i = rng.randrange(len(data))
            data = data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
        elif kind < 0.82 and data:  # a separator appears or goes
            i = rng.randrange(len(data))
            if rng.random() < 0.5:
                data = data[:i] + rng.choice(SEPARATORS) + data[i:]
            else:
                data = data[:i] + data[i + 1 :]
        elif kind < 0.9:  # lines duplicated (many times) or swapped
            lines = data.split(b"\n")
            i = rng.randrange(len(lines))
            lines[i:i] = [lines[i]] * rng.choice((1, 2, 200))
            data = b"\n".join(lines)
        else:  # cut anywhere
            data = data[: rng.randrange(len(data) + 1)]
    return data


def run_fuzz(n: int, seed: int, check: Callable[[str, bytes], None]) -> None:
    rng = random.Random(seed)
    files = _files()
    for _ in range(n):
        name, data = rng.choice(files)
        check(name, mutate(rng, data))


@pytest.fixture(scope="module")
def mutants(request: pytest.FixtureRequest) -> int:
    n = int(request.config.getoption("--fuzz-mutants"))
    if n:
        return n
    return 100_000 if request.config.getoption("--runslow") else 400


def test_mutants_of_real_files_parse_and_store_or_raise_parse_error(mutants: int) -> None:
    files = dict(_files())
    sessions = _sessions(list(files.items()))
    opts = IngestOptions()
    outcomes = {"parsed": 0, "rejected file": 0, "rejected lines": 0}

    def check(name: str, data: bytes) -> None:
        try:
            head = parse_head(data, name) if data else None
            rf = parse_bytes(data, name)
        except ParseError as exc:
            assert INTERNAL_ERROR not in exc.reason, exc  # a parser bug, not bad input
            assert exc.file == name
            outcomes["rejected file"] += 1
            return
        except Exception as exc:  # pragma: no cover - what the test is for
            raise AssertionError(f"{type(exc).__name__} escaped the parser: {exc}") from exc
        outcomes["parsed"] += 1
        outcomes["rejected lines"] += bool(rf.rejected)
        if head is None:
            return
        # the mutant in its real session: pairing, differencing and the lake schemas
        names = sessions[name]
        parsed = {n: rf if n == name else parse_bytes(files[n], n) for n in names}
        times = [round_time(r.file, r.header) for r in parsed.values() if r.header]
        for table, rows in build_partition(group_sessions(times), parsed, opts).items():
            rows.cast(SCHEMAS[table])  # raises if a value does not fit its column

    run_fuzz(mutants, seed=12, check=check)
    # the mutator must exercise all three outcomes, or it tests nothing
    assert all(v > mutants // 50 for v in outcomes.values()), outcomes


def test_mutants_of_endstats_files_parse_or_raise_parse_error(mutants: int) -> None:
    """Endstats files (a parser of their own) too: a mutant parses into values their
    columns hold, or raises ParseError — a 5,000-digit count used to raise ValueError,
    which stopped every later ingest."""
    files = [(p.name, p.read_bytes()) for p in sorted((SHARED / "fixtures" / "endstats").glob("*.txt"))]  # fmt: skip
    assert files
    rng = random.Random(13)
    outcomes = {"parsed": 0, "rejected file": 0}
    for _ in range(mutants * 2):  # an endstats file parses in microseconds
        name, data = rng.choice(files)
        mutant = mutate(rng, data)
        try:
            es = parse_endstats(mutant, name)
        except ParseError as exc:
            assert INTERNAL_ERROR not in exc.reason, exc  # a parser bug, not bad input
            outcomes["rejected file"] += 1
            continue
        except Exception as exc:  # pragma: no cover - what the test is for
            raise AssertionError(f"{type(exc).__name__} escaped the parser: {exc}") from exc
        outcomes["parsed"] += 1
        for v in es.versus:
            assert 0 <= v.kills <= 2**31 - 1 and 0 <= v.deaths <= 2**31 - 1, v
        for a in es.awards:
            assert a.value is None or math.isfinite(a.value), a
    assert outcomes["parsed"] > mutants, outcomes  # most mutants still parse


@pytest.mark.parametrize(
    ("field_index", "value", "field"),
    [
        (1, b"99999999999", "X0 damage_given"),
        (1, b"-2147483649", "X0 damage_given"),
        (1, b"1" * 400, "X0 damage_given"),
        (23, b"1" * 400 + b".5", "X22 time_played_s"),
        (9, b"1" * 400 + b".0", "X8 time_alive_pct"),
        (23, b"-1.0", "X22 time_played_s"),
    ],
)
def test_out_of_range_values_are_line_errors_naming_the_field(
    field_index: int, value: bytes, field: str
) -> None:
    path = REAL / "2025-09-25-000238-et_brewdog-round-1.txt"
    lines = path.read_bytes().split(b"\n")
    parts = lines[1].split(b"\t")
    parts[field_index] = value
    lines[1] = b"\t".join(parts)
    rf = parse_bytes(b"\n".join(lines), path.name)
    assert len(rf.players) == len(lines) - 3  # header, the bad line, the final empty split
    (err,) = rf.rejected
    assert (err.file, err.line, err.field) == (path.name, 2, field)
    assert "out of range" in err.reason


def test_team_and_weapon_values_out_of_range_name_their_field() -> None:
    path = REAL / "2025-09-25-000238-et_brewdog-round-1.txt"
    lines = path.read_bytes().split(b"\n")
    prefix, _, tail = lines[1].partition(b"\t")
    p = prefix.split(b"\\")
    team = b"\\".join([*p[:3], b"300", p[4]]) + b"\t" + tail
    weapons = p[4].split(b" ")
    weapons[1] = b"4294967296"
    weapon = b"\\".join([*p[:4], b" ".join(weapons)]) + b"\t" + tail
    for line, field in ((team, "P3 team"), (weapon, "weapon")):
        rf = parse_bytes(b"\n".join([lines[0], line, b""]), path.name)
        (err,) = rf.rejected
        assert err.field is not None and err.field.startswith(field), err
        assert "out of range" in err.reason


@pytest.mark.parametrize(
    ("header_field", "value", "field"),
    [(4, b"300", "H4 defender"), (5, b"7", "H5 winner"), (6, b"99999999999:00", "H6 time limit"),
     (8, b"99999999999999", "H8 play time")],
)  # fmt: skip
def test_out_of_range_header_values_fail_the_file(
    header_field: int, value: bytes, field: str
) -> None:
    path = Path(REAL / "2025-09-25-000238-et_brewdog-round-1.txt")
    lines = path.read_bytes().split(b"\n")
    h = lines[0].split(b"\\")
    if header_field == 8 and len(h) == 8:
        h.append(b"0")
    h[header_field] = value
    lines[0] = b"\\".join(h)
    with pytest.raises(ParseError) as info:
        parse_bytes(b"\n".join(lines), path.name)
    assert info.value.field == field and info.value.line == 1
