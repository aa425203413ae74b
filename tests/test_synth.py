"""The synthetic community generator: exact c0rnp0rn8 format, truth that matches the files,
stopwatch semantics, scale and the awkward cases (STATS_FORMAT.md is the authority).

The line parser here is deliberately independent of ``etl_duck.domain.parse``.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from etl_duck.domain import fields
from etl_duck.domain.counting import RESTART_GAP
from etl_duck.synth import (
    VALUE_NAMES,
    Truth,
    TruthRound,
    clean_name,
    generate,
    write_evening,
)

FNAME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\d{2})(\d{2})(\d{2})-(.+)-round-(\d+)\.txt$")
MSS_RE = re.compile(r"^\d+:[0-5]\d$")
INT_RE = re.compile(r"^-?\d+$")
GUID_RE = re.compile(r"^(?:[0-9A-F]{8}|OMNIBOT0)$")
F1_INDEXES = {8, 21, 22, 23, 24, 25, 26}
# the whole extended tail in one pattern: %0.1f where the writer uses it, %d elsewhere
EXT_RE = re.compile("\t".join(r"-?\d+\.\d" if i in F1_INDEXES else r"-?\d+" for i in range(38)))
SENTINELS = fields.RESET_SENTINELS
CUM = set(fields.CUM_FIELDS)
ROUND = set(fields.ROUND_FIELDS)


# ------------------------------------------------------------------ a small parser


@dataclass
class Line:
    guid: str
    name: str
    p2: int
    team: int
    mask: int
    weapons: dict[int, tuple[int, int, int, int, int]]
    ext: list[str]
    tail: str

    @property
    def key(self) -> str:  # bots share one GUID; tell them apart by name
        return f"{self.guid}:{self.name}" if self.guid == "OMNIBOT0" else self.guid

    def values(self) -> dict[str, int]:
        """File values under the truth's names (times as 0.1-minute units × 6 s)."""
        h = s = k = d = hs = 0
        for gh, gs, gk, gd, ghs in self.weapons.values():
            h, s, k, d, hs = h + gh, s + gs, k + gk, d + gd, hs + ghs
        out = {"kills": k, "deaths": d, "shots": s, "hits": h, "headshot_hits": hs}
        for f in fields.EXTENDED_FIELDS:
            if f.scope in (fields.Scope.CUM, fields.Scope.ROUND):
                x = self.ext[f.index]
                out[f.name] = round(float(x) * 10) * 6 if f.kind is fields.Kind.MINUTES else int(x)
        return out

    def tenths(self, i: int) -> int:
        return round(float(self.ext[i]) * 10)


@dataclass
class File:
    name: str
    header: list[str]
    lines: list[Line]

    @property
    def time(self) -> datetime:
        m = FNAME_RE.match(self.name)
        assert m
        y, mo, d, hh, mm, ss = (int(x) for x in m.groups()[:6])
        return datetime(y, mo, d, hh, mm, ss)


def parse_line(raw: str) -> Line:
    prefix, tail = raw.split("\t", 1)
    parts = prefix.split("\\", 4)
    assert len(parts) == 5, raw
    guid, name, p2, team, wsec = parts
    assert wsec.endswith(" "), "weapon section ends with one space before the TAB"
    nums = [int(x) for x in wsec.split()]
    mask, groups = nums[0], nums[1:]
    ids = [i for i in range(28) if mask >> i & 1]
    assert mask < 1 << 28
    assert len(groups) == 5 * len(ids), raw
    weapons = {
        wid: (
            groups[5 * j],
            groups[5 * j + 1],
            groups[5 * j + 2],
            groups[5 * j + 3],
            groups[5 * j + 4],
        )
        for j, wid in enumerate(ids)
    }
    return Line(guid, name, int(p2), int(team), mask, weapons, tail.split("\t"), tail)


def parse_file(path: Path) -> File:
    data = path.read_bytes()
    assert data.endswith(b"\n") and b"\r" not in data, path.name
    text = data.decode("utf-8")
    head, *rest = text[:-1].split("\n")
    return File(path.name, head.split("\\"), [parse_line(x) for x in rest])


def mss(s: str) -> int:
    m, sec = s.split(":")
    return int(m) * 60 + int(sec)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth, dict[str, File]]:
    """Half a year of community history, written and parsed back."""
    out = tmp_path_factory.mktemp("synth")
    truth = generate(out, seed=11, start=date(2025, 9, 1), days=150)
    files = {p.name: parse_file(p) for p in sorted(out.iterdir())}
    return out, truth, files


def pairs(
    truth: Truth, kinds: tuple[str, ...] = ("normal",)
) -> list[tuple[TruthRound, TruthRound]]:
    """(R1, R2) of every match: the latest earlier R1 of the same map, as the original pairs."""
    out = []
    last_r1: dict[str, TruthRound] = {}
    for r in truth.rounds:
        if r.round_number == 1 and r.kind in ("normal", "bot_majority"):
            last_r1[r.map_name] = r
        elif r.round_number == 2 and r.kind in kinds:
            r1 = last_r1.pop(r.map_name, None)
            if r1 is not None and r.end_time - r1.end_time < timedelta(minutes=45):
                out.append((r1, r))
    return out


# ------------------------------------------------------------------ determinism


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    ta = generate(a, seed=5, days=10)
    tb = generate(b, seed=5, days=10)
    generate(c, seed=6, days=10)
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in names)
    assert ta == tb
    other = {p.name: p.read_bytes() for p in c.iterdir()}
    assert {n: (a / n).read_bytes() for n in names} != other
    # write=False: the same truth without files
    assert generate(tmp_path / "none", seed=5, days=10, write=False) == ta
    assert not (tmp_path / "none").exists()


def test_shorter_history_is_a_prefix(tmp_path: Path) -> None:
    short = generate(tmp_path, seed=9, days=14, write=False)
    long = generate(tmp_path, seed=9, days=35, write=False)
    assert long.rounds[: len(short.rounds)] == short.rounds
    assert long.player_rounds[: len(short.player_rounds)] == short.player_rounds


# ------------------------------------------------------------------ format


def test_every_file_has_the_exact_c0rnp0rn8_shape(
    history: tuple[Path, Truth, dict[str, File]],
) -> None:
    _, truth, files = history
    names = [r.file_name for r in truth.rounds]
    assert len(set(names)) == len(names) == len(files)
    assert set(files) == set(names)
    for f in files.values():
        m = FNAME_RE.match(f.name)
        assert m, f.name
        h = f.header
        assert len(h) == 9, f.name
        assert h[1] == m.group(7)
        assert h[3] == m.group(8) and h[3] in ("1", "2")
        assert h[4] in ("1", "2") and h[5] in ("0", "1", "2")
        assert MSS_RE.match(h[6]) and MSS_RE.match(h[7]), h
        assert INT_RE.match(h[8])
        assert "\\" not in h[0] and "^" in h[0]
        for ln in f.lines:
            assert GUID_RE.match(ln.guid)
            assert len(ln.name.encode()) <= 35 and "\\" not in ln.name
            assert ln.team in (1, 2, 3) and ln.p2 in (0, 1, 2)
            assert len(ln.ext) == 38
            assert EXT_RE.fullmatch(ln.tail), (f.name, ln.tail)
            assert ln.ext[21] == "0.0"
            assert ln.mask != 0, "lines are only written for players who did something"
            for h_, s, k, d, hs in ln.weapons.values():
                assert h_ or s or k or d, "a mask bit means a non-zero group"
                assert hs <= h_
            v = ln.values()
            assert v["bullets_fired"] == v["shots"]
            k, d = v["kills"], v["deaths"]
            kd = (20 * k + d) // (2 * d) if d else 10 * (k + 1)
            assert ln.tenths(26) == kd
            t, dead = ln.tenths(22), ln.tenths(25)
            assert ln.tenths(24) == ((2000 * dead + t) // (2 * t) if t > 20 else 0)
            dr = v["damage_received"]
            if dr > 1000 and (dr > 390 * d if d else dr + 1 > 390):
                assert float(ln.ext[23]) >= 3.0
            else:
                assert ln.ext[23] == "0.0"


def test_headers_follow_the_stopwatch_rules(history: tuple[Path, Truth, dict[str, File]]) -> None:
    _, truth, files = history
    for r in truth.rounds:
        h = files[r.file_name].header
        h4, h5, h6, h7, h8 = int(h[4]), int(h[5]), mss(h[6]), mss(h[7]), int(h[8])
        assert (h4, h5) == (r.defender_side, r.winner_side)
        assert r.players == len(files[r.file_name].lines)
        if r.kind == "interrupted":
            assert r.round_number == 2 and h8 < 0 and h7 > h6, "shutdown path: §7.1"
            continue
        assert h8 == round(r.duration_s * 1000) and h8 > 0
        if h5 != h4:  # attackers completed: H7 = elapsed, floored to seconds
            assert h7 == h8 // 1000 < h6
        else:  # held or surrendered
            assert h7 == h6
            assert h8 // 1000 <= h6
    for r1, r2 in pairs(truth, ("normal", "bot_majority", "orphan_r2")):
        h1, h2 = files[r1.file_name].header, files[r2.file_name].header
        assert h2[6] == h1[7], "R2's H6 is the clock R1 set"
        assert h1[4] == h2[4]
        gap = (r2.end_time - r1.end_time).total_seconds() - r2.duration_s
        assert 30 <= gap <= 65 + 240, "R2 file ≈ R1 file + R2 duration + ~45 s (+ a pause)"


def test_truth_rows_match_the_lines(history: tuple[Path, Truth, dict[str, File]]) -> None:
    _, truth, files = history
    rows = truth.rows_by_file()
    for name, f in files.items():
        got = Counter((ln.guid, ln.name, ln.team) for ln in f.lines)
        want = Counter((r.guid, r.name_raw, r.team) for r in rows[name])
        assert got == want, name
        for r in rows[name]:
            assert r.name == clean_name(r.name_raw) == re.sub(r"\^[^^]", "", r.name_raw)
            assert r.is_bot == (r.guid == "OMNIBOT0") == r.name.startswith("[BOT]")
            assert set(r.values) == set(VALUE_NAMES)
            v = r.values
            assert v["time_played_s"] % 6 == 0 and v["time_dead_s"] % 6 == 0
            assert v["kills"] == sum(w[2] for w in r.weapons.values())
            assert v["deaths"] == sum(w[3] for w in r.weapons.values())
            assert v["shots"] == v["bullets_fired"] == sum(w[1] for w in r.weapons.values())
            assert all(any(w[:4]) for w in r.weapons.values())


def test_round1_files_are_the_truth(history: tuple[Path, Truth, dict[str, File]]) -> None:
    _, truth, files = history
    rows = truth.rows_by_file()
    checked = 0
    for r in truth.rounds:
        if r.round_number != 1:
            continue
        by_key = {(x.guid, x.name_raw): x for x in rows[r.file_name]}
        for ln in files[r.file_name].lines:
            t = by_key[(ln.guid, ln.name)]
            assert ln.values() == t.values
            assert ln.weapons == t.weapons
            # X8: alive % of team time, unrounded then printed with %0.1f
            tt, dead = ln.tenths(22), ln.tenths(25)
            assert ln.ext[8] == f"{100.0 * (tt - dead) / tt:0.1f}"
            checked += 1
    assert checked > 1000


def test_round2_cumulative_and_round_fields(history: tuple[Path, Truth, dict[str, File]]) -> None:
    """R2 file CUM = R1 file + truth round-only; ROUND fields = truth; resets are raw."""
    _, truth, files = history
    rows = truth.rows_by_file()
    n_pairs = n_players = 0
    for r1, r2 in pairs(truth, ("normal", "bot_majority")):
        n_pairs += 1
        f1 = {ln.key: ln for ln in files[r1.file_name].lines}
        truth2 = {(f"{x.guid}:{x.name_raw}" if x.is_bot else x.guid): x for x in rows[r2.file_name]}
        for ln in files[r2.file_name].lines:
            t = truth2[ln.key]
            v2 = ln.values()
            base = f1.get(ln.key)
            if t.reset or base is None:  # reconnect or joined in R2: raw values are round-only
                assert ln.p2 == 0
                assert v2 == t.values
                assert ln.weapons == t.weapons
                continue
            n_players += 1
            assert ln.p2 == base.p2 + 1, "a player who stayed connected: P2 grows"
            v1 = base.values()
            for name in VALUE_NAMES:
                if name in CUM:
                    assert v2[name] == v1[name] + t.values[name], (r2.file_name, ln.guid, name)
                else:
                    assert v2[name] == t.values[name], (r2.file_name, ln.guid, name)
            for wid in set(ln.weapons) | set(base.weapons) | set(t.weapons):
                g2 = ln.weapons.get(wid, (0, 0, 0, 0, 0))
                g1 = base.weapons.get(wid, (0, 0, 0, 0, 0))
                gt = t.weapons.get(wid, (0, 0, 0, 0, 0))
                assert g2 == tuple(a + b for a, b in zip(g1, gt, strict=True))
            if ln.team != 3:
                assert ln.team == 3 - base.team, "stopwatch: players swap sides"
    assert n_pairs > 500 and n_players > 3000


def test_kills_of_one_side_are_deaths_of_the_other(
    history: tuple[Path, Truth, dict[str, File]],
) -> None:
    _, truth, files = history
    for r in truth.rounds:
        if r.round_number != 1 or r.kind != "normal":
            continue
        kills: dict[int, Counter[int]] = {1: Counter(), 2: Counter()}
        deaths: dict[int, Counter[int]] = {1: Counter(), 2: Counter()}
        for ln in files[r.file_name].lines:
            for wid, (_h, _s, k, d, _hs) in ln.weapons.items():
                kills[ln.team][wid] += k
                deaths[ln.team][wid] += d
        assert +kills[1] == +deaths[2] and +kills[2] == +deaths[1], r.file_name


def test_values_are_plausible(history: tuple[Path, Truth, dict[str, File]]) -> None:
    _, truth, _ = history
    dpm, kd, acc = [], [], []
    for row in truth.counted_rows():
        v = row.values
        if v["time_played_s"] >= 300:
            dpm.append(v["damage_given"] * 60 / v["time_played_s"])
            kd.append(v["kills"] / max(1, v["deaths"]))
            acc.append(v["hits"] / max(1, v["shots"]))
    assert 180 <= statistics.median(dpm) <= 320
    assert 0.8 <= statistics.median(kd) <= 1.3
    assert 0.2 <= statistics.median(acc) <= 0.45
    careers = [
        v["damage_given"] * 60 / v["time_played_s"]
        for v in truth.player_totals().values()
        if v["time_played_s"] > 3 * 3600
    ]
    assert len(careers) >= 30
    assert min(careers) > 100 and max(careers) < 500


# ------------------------------------------------------------------ sessions and scale


def test_sessions_follow_the_60_minute_rule(history: tuple[Path, Truth, dict[str, File]]) -> None:
    _, truth, files = history
    times = [files[r.file_name].time for r in truth.rounds]
    assert times == sorted(times)
    assert [r.end_time for r in truth.rounds] == times
    for prev, cur, t0, t1 in zip(truth.rounds, truth.rounds[1:], times, times[1:], strict=False):
        new = (t1 - t0) > timedelta(minutes=60)
        assert cur.session_index == prev.session_index + (1 if new else 0)
        if not new:
            assert t1 - t0 < timedelta(minutes=55)


def test_one_evening(tmp_path: Path) -> None:
    truth = write_evening(tmp_path, seed=3, day=date(2025, 3, 1))
    assert {r.session_index for r in truth.rounds} == {0}
    maps = [r for r in truth.rounds if r.round_number == 2 and r.kind != "interrupted"]
    assert 6 <= len(maps) <= 10
    assert len(list(tmp_path.iterdir())) == len(truth.rounds)
    assert truth.rounds[0].end_time.date() == date(2025, 3, 1)
    players = {r.guid for r in truth.player_rounds if not r.is_bot}
    assert 6 <= len(players) <= 13


def test_a_year_has_realistic_volume(tmp_path: Path) -> None:
    truth = generate(tmp_path, seed=7, start=date(2024, 1, 1), days=365, write=False)
    evenings = truth.rounds[-1].session_index + 1
    assert 150 <= evenings <= 210
    assert 3000 <= len(truth.rounds) <= 4000
    per_file = len(truth.player_rounds) / len(truth.rounds)
    assert 7 <= per_file <= 11
    guids = {r.guid for r in truth.player_rounds if not r.is_bot}
    assert 40 <= len(guids) <= 150


# ------------------------------------------------------------------ special cases


def test_the_awkward_cases_occur(history: tuple[Path, Truth, dict[str, File]]) -> None:
    _, truth, files = history
    kinds = Counter(r.kind for r in truth.rounds)
    for k in ("normal", "orphan_r2", "interrupted", "restart", "bot_majority"):
        assert kinds[k] > 0, k
    rows = truth.rows_by_file()

    late = leavers = spect = 0
    for r1, r2 in pairs(truth):
        g1 = {x.guid for x in rows[r1.file_name] if not x.is_bot}
        g2 = {x.guid for x in rows[r2.file_name] if not x.is_bot}
        late += len(g2 - g1)
        leavers += len(g1 - g2)
        for x in rows[r2.file_name]:
            if x.team == 3:
                spect += 1
                assert not any(x.values.values()) and not x.weapons
    assert late > 20 and leavers > 20 and spect > 3

    # reconnects: both the visible drop and the case only P2 reveals
    dropped = hidden = 0
    for r1, r2 in pairs(truth):
        f1 = {ln.guid: ln for ln in files[r1.file_name].lines}
        for x in rows[r2.file_name]:
            if not x.reset:
                continue
            ln1 = f1[x.guid]
            v1 = ln1.values()
            if any(x.values[s] < v1[s] for s in SENTINELS):
                dropped += 1
            else:
                hidden += 1
    assert dropped > 0 and hidden > 0

    bots = [x for x in truth.player_rounds if x.is_bot]
    assert bots and all(x.guid == "OMNIBOT0" and x.name.startswith("[BOT]") for x in bots)
    assert any(x.name_raw.startswith("^o[BOT]") for x in bots)
    for r in truth.rounds:
        if r.kind == "bot_majority":
            nb = sum(x.is_bot for x in rows[r.file_name])
            assert nb > len(rows[r.file_name]) - nb
    assert any(x.is_bot for r in truth.rounds if r.kind == "normal" for x in rows[r.file_name]), (
        "the odd omni-bot in a normal round"
    )

    # a restarted round 1 is followed by another round 1 of the same map that STARTS within
    # the restart gap (its end may be much later: replays of long maps included)
    order = truth.rounds
    for i, r in enumerate(order):
        if r.kind == "restart":
            nxt = next(x for x in order[i + 1 :] if x.map_name == r.map_name)
            assert nxt.round_number == 1 and nxt.kind == "normal"
            # start as the counting rule derives it (end − play time − 3 s; a pause inside
            # the replay only makes it later)
            start = nxt.end_time - timedelta(seconds=nxt.duration_s + 3)
            assert start - r.end_time <= RESTART_GAP
        if r.kind == "orphan_r2":
            assert r.round_number == 2
            before = [
                x for x in order[:i]
                if x.map_name == r.map_name and x.round_number == 1
                and r.end_time - x.end_time < timedelta(minutes=45)
            ]  # fmt: skip
            assert not before, "its round 1 file was never written"

    # evenings past midnight, renames, odd colour codes
    dates: dict[int, set[date]] = defaultdict(set)
    for r in truth.rounds:
        dates[r.session_index].add(r.end_time.date())
    assert any(len(d) > 1 for d in dates.values())
    names: dict[str, set[str]] = defaultdict(set)
    for x in truth.player_rounds:
        if not x.is_bot:
            names[x.guid].add(x.name_raw)
    assert any(len(n) > 1 for n in names.values()), "someone renamed"
    raw = {n for ns in names.values() for n in ns}
    assert any(re.search(r"\^[^0-9A-Za-z^]", n) for n in raw), "codes like ^$ ^/ ^."


def test_player_totals_sum_counted_rows(history: tuple[Path, Truth, dict[str, File]]) -> None:
    _, truth, _ = history
    totals = truth.player_totals()
    kinds = truth.round_by_file()
    manual: dict[str, Counter[str]] = defaultdict(Counter)
    for x in truth.player_rounds:
        if kinds[x.file_name].kind == "normal" and not x.is_bot and x.team != 3:
            manual[x.guid].update(x.values)
    assert set(totals) == set(manual)
    for g, tot in totals.items():
        assert {k: v for k, v in tot.items() if v} == +manual[g]
    everything = truth.player_totals(counted_only=False)
    assert "OMNIBOT0" in everything and "OMNIBOT0" not in totals
