"""Hypothesis: any mutation of a valid file parses to the same values or raises ParseError."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_duck.domain.parse import (
    ParseError,
    PlayerLine,
    RoundFile,
    _parse_player_line_checked,
    _parse_player_line_fast,
    parse_bytes,
)
from tests.conftest import REAL
from tests.lakecheck import R1, R2

FILES = [(R1.name, R1.read_bytes()), (R2.name, R2.read_bytes())]


def _values(r: RoundFile) -> list[object]:
    return [(p.guid, p.name_raw, p.team, p.weapons, p.values) for p in r.players]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes, bytes]:
    name, data = draw(st.sampled_from(FILES))
    kind = draw(
        st.sampled_from(["truncate", "drop_field", "dup_field", "garble", "bytes", "splice"])
    )
    lines = data.split(b"\n")
    i = draw(st.integers(0, len(lines) - 2))
    if kind == "truncate":
        return name, data, data[: draw(st.integers(0, len(data)))]
    if kind in ("drop_field", "dup_field"):
        sep = draw(st.sampled_from([b"\t", b" ", b"\\"]))
        parts = lines[i].split(sep)
        j = draw(st.integers(0, len(parts) - 1))
        parts = parts[:j] + parts[j + 1 :] if kind == "drop_field" else parts[: j + 1] + parts[j:]
        lines[i] = sep.join(parts)
    elif kind == "garble":
        line = bytearray(lines[i])
        if line:
            j = draw(st.integers(0, len(line) - 1))
            line[j] = draw(st.sampled_from(list(b"x-.9 \t\\e+_\x00\xff")))
        lines[i] = bytes(line)
    elif kind == "bytes":
        lines[i] = lines[i] + draw(st.binary(max_size=20))
    else:
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    return name, data, b"\n".join(lines)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_parse_identically_or_raise_parse_error(case: tuple[str, bytes, bytes]) -> None:
    name, original, data = case
    try:
        got = parse_bytes(data, name, strict=True)
    except ParseError as exc:
        assert exc.file == name and str(exc).startswith(name)
        return
    if data == original:
        assert _values(got) == _values(parse_bytes(original, name))
        return
    # a mutation that still parses strictly must still be a well-formed round: every line
    # holds the format's invariants (it may differ from the original, e.g. '12' → '13')
    for p in got.players:
        assert set(p.weapons) == {i for i in range(28) if p.weapon_mask >> i & 1}
        assert p.values["kills"] == sum(g[2] for g in p.weapons.values())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_parser(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_bytes(data, R1.name)


#: player lines of every layout (33, 36, 37, 38) from the real files, and the fixtures'
LINES = sorted(
    {
        line
        for path in [R1, R2, *sorted(REAL.glob("*.txt"))[::6]]
        for line in path.read_bytes().decode("utf-8", "replace").split("\n")[1:]
        if line.strip()
    }
)


@st.composite
def player_lines(draw: st.DrawFn) -> str:
    """A real line, maybe under another P0 (a placeholder, a bot's, garbage), maybe with
    fields appended (a newer writer) or one field changed."""
    line = draw(st.sampled_from(LINES)).rstrip("\r")
    guid, _, rest = line.partition("\\")
    p0 = st.sampled_from(["NO_GUID", "UNKNOWN", "unknown", "", " ", "OMNIBOT1", "NO GUID"])
    guid = draw(st.one_of(st.just(guid), p0, st.text(max_size=10)))
    line = guid + "\\" + rest
    field = st.one_of(
        st.sampled_from(["0", "1.5", "-1", "x", "", "99999999999", "1_0", "٣", "0.0"]),
        st.text(alphabet=st.characters(exclude_characters="\t\n\r"), max_size=8),
    )
    extra = draw(st.lists(field, max_size=95))
    if extra:
        line += "\t" + "\t".join(extra)
    if draw(st.booleans()):
        parts = line.split("\t")
        i = draw(st.integers(1, len(parts) - 1))
        parts[i] = draw(field)
        line = "\t".join(parts)
    return line


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(player_lines(), st.sampled_from([8, 9, 10]))
def test_the_fast_path_reads_what_the_checked_path_reads(line: str, header_fields: int) -> None:
    """The fast path either declines a line (the checked path then accepts it or names the
    field) or reads exactly what the checked path reads: the same GUID (a placeholder's
    made from the name), bot flag, layout and values."""
    try:
        checked: PlayerLine | None = _parse_player_line_checked(line, "f", 2, header_fields)
    except ParseError:
        checked = None
    try:
        fast = _parse_player_line_fast(line, 2, header_fields)
    except (ValueError, IndexError, KeyError, ArithmeticError):
        return  # declined: parse_player_line falls back to the checked path
    assert fast == checked
