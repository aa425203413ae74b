"""Endstats files (issue 17, STATS_FORMAT.md §10): the parser (awards with units, versus
blocks with and without VS_HEADER, the one real file), and their landing in the lake with
the same atomic rules as round files — in any order, rebuilt identically — and rivals."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_duck.domain.endstats import (
    KNOWN_AWARDS,
    is_endstats_file_name,
    pair_endstats,
    parse_endstats,
    parse_endstats_name,
    split_value,
)
from etl_duck.domain.parse import ParseError, is_stats_file_name
from etl_duck.ingest.run import ingest_paths, rebuild
from etl_duck.lake.snapshot import Lake
from etl_duck.query.stats import Stats
from tests.conftest import SHARED
from tests.lakecheck import content_digest, table_rows

REAL_ENDSTATS = (
    SHARED / "fixtures" / "endstats" / "2026-01-12-224606-te_escape2-round-2-endstats.txt"
)
REAL = SHARED / "fixtures" / "real"
# a real te_escape2 pair whose players are the endstats file's (vid, bronze., carniee, …)
PAIR = ("2025-09-24-233255-te_escape2-round-1.txt", "2025-09-24-233657-te_escape2-round-2.txt")


def the_round_of_the_real_endstats(folder: Path) -> list[Path]:
    """The real te_escape2 pair under the endstats file's time (content made unique, so the
    lake does not take it for the 2025 copy): round 2 ends one second after the endstats."""
    out = []
    for src, stamp in zip(PAIR, ("2026-01-12-223955", "2026-01-12-224607"), strict=True):
        data = (REAL / src).read_bytes().replace(b"only\\te_escape2", b"only2026\\te_escape2", 1)
        path = folder / f"{stamp}-te_escape2-round-{src[-5]}.txt"
        path.write_bytes(data)
        out.append(path)
    return out


def the_real_endstats_and_its_round(folder: Path) -> tuple[Path, Path, Path]:
    """The real endstats file and its round (:func:`the_round_of_the_real_endstats`) in
    ``folder``: (round 1, round 2, endstats)."""
    r1, r2 = the_round_of_the_real_endstats(folder)
    endstats = folder / REAL_ENDSTATS.name
    endstats.write_bytes(REAL_ENDSTATS.read_bytes())
    return r1, r2, endstats


# --------------------------------------------------------------------------- parser


def test_names_and_pairing_window() -> None:
    name = REAL_ENDSTATS.name
    assert is_endstats_file_name(name) and not is_stats_file_name(name)
    es = parse_endstats_name(name)
    assert (es.end_time, es.map_name, es.round_number) == (
        datetime(2026, 1, 12, 22, 46, 6), "te_escape2", 2,
    )  # fmt: skip
    rounds = [
        ("a-round-2.txt", datetime(2026, 1, 12, 22, 46, 7), "te_escape2", 2),
        ("b-round-2.txt", datetime(2026, 1, 12, 22, 46, 5), "te_escape2", 2),  # as near, before
        ("c-round-1.txt", datetime(2026, 1, 12, 22, 46, 6), "te_escape2", 1),  # other round
        ("d-round-2.txt", datetime(2026, 1, 12, 22, 46, 6), "supply", 2),  # other map
    ]
    assert pair_endstats(es, rounds) == "a-round-2.txt"  # written first: the later file wins
    late = [("x", datetime(2026, 1, 12, 22, 47, 7), "te_escape2", 2)]  # 61 s
    assert pair_endstats(es, late) is None
    with pytest.raises(ParseError):
        parse_endstats_name("2026-01-12-224606-te_escape2-round-2.txt")


def test_values_keep_their_units() -> None:
    assert split_value("3214") == (3214.0, None)
    assert split_value("113 seconds") == (113.0, "seconds")
    assert split_value("50.47 percent") == (50.47, "percent")
    assert split_value("12.3 m") == (12.3, "m")
    assert split_value("3 kills in 1.23s") == (3.0, "kills in 1.23s")
    assert split_value("Damage received vs death ratio: 4.32x") == (4.32, "x")
    assert split_value("45.2 percent, 3.21 min") == (45.2, "percent, 3.21 min")
    assert split_value("none") == (None, None)


def test_the_real_file_keeps_awards_and_skips_headerless_blocks() -> None:
    data = REAL_ENDSTATS.read_bytes()
    assert b"\r\n" in data  # copied through a Windows share, as many real files were
    es = parse_endstats(data, REAL_ENDSTATS.name)
    assert not es.partial
    lines = [ln for ln in data.replace(b"\r", b"").decode().split("\n") if ln]
    award_lines = [ln for ln in lines if ln.split("\t")[0] in KNOWN_AWARDS]
    assert len(es.awards) == len(award_lines) == 23
    assert [a.award for a in es.awards].count("Longest killing spree") == 2  # as written
    denied = next(a for a in es.awards if a.award == "Most playtime denied")
    assert (denied.player, denied.value, denied.unit) == ("v_kt_r", 113.0, "seconds")
    # 18 opponent rows without VS_HEADER: nothing attributed, one reason for the file (a
    # note: an older writer's file is not a bad file)
    assert es.versus == [] and es.skipped == []
    assert es.note is not None and "18 opponent rows (lines 24–41)" in es.note
    assert "cannot be attributed" in es.note


VS_FILE = (
    "Most damage given\tvid\t3214\n"
    "Most playtime denied\tv_kt_r\t113 seconds\n"
    "VS_HEADER\tvid\td8423f90aaaabbbbccccddddeeeeffff\n"
    "carniee\t4\t0\n"
    "SuperBoyy\t3\t2\n"
    "VS_HEADER\tcarniee\t0A26D447000000000000000000000000\n"
    "vid\t0\t4\n"
    "bronze.\t2\t3\n"
    "VS_HEADER\tbroken\n"  # a damaged header: its rows are not attributed to anyone
    "vid\t1\t1\n"
)


def test_vs_header_blocks_are_attributed() -> None:
    es = parse_endstats(VS_FILE.encode(), "2026-01-12-224606-te_escape2-round-2-endstats.txt")
    assert [(v.subject_guid, v.opponent, v.kills, v.deaths) for v in es.versus] == [
        ("D8423F90", "carniee", 4, 0),
        ("D8423F90", "SuperBoyy", 3, 2),
        ("0A26D447", "vid", 0, 4),
        ("0A26D447", "bronze.", 2, 3),
    ]
    assert [a.award for a in es.awards] == ["Most damage given", "Most playtime denied"]
    assert [(ln, f) for ln, f, _ in es.skipped] == [(9, "VS_HEADER")]
    assert es.note is not None and es.note.startswith("1 opponent row (line 10) without")


def test_a_vs_header_of_a_player_without_a_guid_has_his_stats_identity() -> None:
    """A client without a GUID: the stats file keys him by his name (parse 17), so his
    versus block does too, instead of skipping it as a damaged header."""
    from etl_duck.domain.parse import guidless_identity, parse_bytes
    from tests.conftest import FIXTURES

    r1 = (FIXTURES / "2026-03-14-213512-supply-round-1.txt").read_bytes().split(b"\n")
    name_raw = r1[1].split(b"\\")[1].decode()
    r1[1] = b"\\".join([b"NO_GUID", *r1[1].split(b"\\")[1:]])
    stats = parse_bytes(b"\n".join(r1), "2026-03-14-213512-supply-round-1.txt")
    for placeholder in ("NO_GUID", "unknown"):
        text = f"VS_HEADER\t{name_raw}\t{placeholder}\nvid\t2\t1\n"
        es = parse_endstats(text.encode(), "2026-01-12-224606-te_escape2-round-2-endstats.txt")
        assert es.skipped == [], es.skipped
        (v,) = es.versus
        assert v.subject_guid == guidless_identity(stats.players[0].name)
        assert v.subject_guid == stats.players[0].guid  # the same player in both files


def test_a_cut_file_keeps_its_complete_lines_and_garbage_is_an_error() -> None:
    cut = VS_FILE.encode()[:-4]  # the writer was still appending
    es = parse_endstats(cut, "2026-01-12-224606-te_escape2-round-2-endstats.txt")
    assert es.partial and len(es.versus) == 4
    with pytest.raises(ParseError, match="no award or versus row"):
        parse_endstats(b"\x00\x01\x02\n", "2026-01-12-224606-te_escape2-round-2-endstats.txt")


names = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="\t"),
                min_size=1, max_size=12).filter(lambda s: s.strip() == s and s != "VS_HEADER")  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    awards=st.lists(
        st.tuples(st.sampled_from(sorted(KNOWN_AWARDS)), names, st.integers(0, 10**6)), max_size=8
    ),
    blocks=st.lists(
        st.tuples(
            names,
            st.integers(0, 2**32 - 1),
            st.lists(st.tuples(names, st.integers(0, 99), st.integers(0, 99)), max_size=6),
        ),
        max_size=5,
    ),
)
def test_round_trip(
    awards: list[tuple[str, str, int]],
    blocks: list[tuple[str, int, list[tuple[str, int, int]]]],
) -> None:
    """What a VS_HEADER writer writes is what the parser reads back."""
    lines = [f"{a}\t{p}\t{v}" for a, p, v in awards]
    for subject, guid, rows in blocks:
        lines.append(f"VS_HEADER\t{subject}\t{guid:032X}")
        lines += [f"{o}\t{k}\t{d}" for o, k, d in rows]
    if not lines:
        return
    es = parse_endstats(
        ("\n".join(lines) + "\n").encode(), "2026-01-12-224606-x-round-1-endstats.txt"
    )
    assert [(a.award, a.player, a.value) for a in es.awards] == [
        (a, p, float(v)) for a, p, v in awards
    ]
    assert [(v.subject, v.subject_guid, v.opponent, v.kills, v.deaths) for v in es.versus] == [
        (s, f"{g:032X}"[:8], o, k, d) for s, g, rows in blocks for o, k, d in rows
    ]
    assert es.skipped == []


# --------------------------------------------------------------------------- the lake


def test_real_endstats_land_with_their_round_in_any_order(tmp_path: Path) -> None:
    incoming = tmp_path / "in"
    incoming.mkdir()
    r1, r2, endstats = the_real_endstats_and_its_round(incoming)
    digests: list[str] = []
    for order in ([r1, r2], [endstats]), ([endstats], [r1, r2]), ([r1, r2, endstats],):
        data = tmp_path / f"data{len(digests)}"
        for batch in order:
            report = ingest_paths(data, batch)
            if endstats in batch:
                assert report.endstats == [endstats.name] and not report.problems
                assert "without a VS_HEADER" in report.endstats_notes[endstats.name]
        digests.append(content_digest(data))
    assert len(set(digests)) == 1  # the same lake whatever came first
    rebuild(data)
    assert content_digest(data) == digests[0]
    awards = table_rows(data, "endstats_awards")
    assert len(awards) == 23 and all(a["counted"] for a in awards)
    # names matched to GUIDs through the round's own stats file
    guid_of = {r["name"]: r["guid"] for r in table_rows(data, "player_rounds")}
    assert {a["name"]: a["guid"] for a in awards} == {
        n: guid_of[n] for n in ("vid", "bronze.", "carniee", "SuperBoyy", "v_kt_r")
    }
    assert {a["file_name"] for a in awards} == {REAL_ENDSTATS.name}
    assert {a["round_id"] for a in awards} == {
        r["round_id"] for r in table_rows(data, "rounds") if r["file_name"] == r2.name
    }
    assert not list((data / "lake" / "endstats_versus").rglob("*.parquet"))  # headerless
    detail = Stats(data, min_rounds=1).round_detail(r2.name)  # what the round post shows
    assert detail is not None and detail.awards is not None and detail.awards.height == 23
    files = {r["file_name"]: r for r in Lake(data).read_state("files").to_pylist()}
    assert files[REAL_ENDSTATS.name]["status"] == "ok"
    assert "without a VS_HEADER" in files[REAL_ENDSTATS.name]["reason"]  # the why, kept
    assert Lake(data).read_state("rejected_lines").num_rows == 0  # nothing wrong with it
    assert report.version >= 1


def test_vs_header_rows_give_rivals(tmp_path: Path) -> None:
    incoming = tmp_path / "in"
    incoming.mkdir()
    r1, r2 = the_round_of_the_real_endstats(incoming)
    data = tmp_path / "data"
    ingest_paths(data, [r1, r2])
    players = {str(r["name"]): str(r["guid"]) for r in table_rows(data, "player_rounds")}
    # one block per player of round 2, as the newer writer makes them: kills against each
    # opponent, chosen here so that every pair is seen from both sides consistently
    r2_rows = [r for r in table_rows(data, "player_rounds") if r["round_number"] == 2]
    assert r2_rows
    sides = {str(r["name"]): r["team"] for r in r2_rows if r["team"] in (1, 2)}
    names = sorted(sides)
    kills = {
        (a, b): (len(a) * 3 + len(b)) % 7 for a in names for b in names if sides[a] != sides[b]
    }
    lines = ["Most damage given\tvid\t3214"]
    for a in names:
        lines.append(f"VS_HEADER\t{a}\t{players[a]}{'0' * 24}")
        lines += [f"{b}\t{kills[a, b]}\t{kills[b, a]}" for b in names if sides[b] != sides[a]]
    (incoming / "2026-01-12-224606-te_escape2-round-2-endstats.txt").write_text(
        "\n".join(lines) + "\n"
    )
    ingest_paths(data, [incoming / "2026-01-12-224606-te_escape2-round-2-endstats.txt"])
    versus = table_rows(data, "endstats_versus")
    assert len(versus) == len(kills)
    assert all(v["opponent_guid"] == players[str(v["opponent_name"])] for v in versus)
    stats = Stats(data, min_rounds=1)
    me = names[0]
    _, _, table = stats.rivals(players[me])
    expected = {players[b]: (kills[me, b], kills[b, me]) for b in names if (me, b) in kills}
    got = {r["guid"]: (r["kills"], r["deaths"]) for r in table.iter_rows(named=True)}
    assert got == expected
    assert all(r["rounds"] == 1 for r in table.iter_rows(named=True))
    nemesis = max(expected.items(), key=lambda kv: (kv[1][1], -kv[1][0]))
    assert table.row(0, named=True)["guid"] == nemesis[0]  # most deaths first
    # nemesis and easiest prey (one round met here: the minimum is lowered to it), and the
    # bot's /rivals embed names them with their counts
    from etl_duck.bot.embeds.social import rivals
    from etl_duck.domain.social import nemesis_and_prey

    worst, easiest = nemesis_and_prey(table, min_rounds=1)
    prey = max(expected.items(), key=lambda kv: (kv[1][0], kv[1][0] / max(kv[1][1], 1)))
    assert worst is not None and worst["guid"] == nemesis[0]
    assert easiest is not None and easiest["guid"] == prey[0]
    assert nemesis_and_prey(table) == (None, None)  # nobody met in 3 rounds yet
    embed = rivals(me, players[me], table.with_columns(rounds=pl.lit(3)))
    text = str(embed.description)
    assert f"killed you {nemesis[1][1]}×" in text and f"you killed him {prey[1][0]}×" in text


def test_round_2_counter_awards_are_labelled_match_totals(tmp_path: Path) -> None:
    """The writer reads damage, deaths, gibs, K/D, accuracy, bullets… from the engine's
    session counters, which in a round 2 hold round 1 too: the round post, next to the
    round's own table, labels them match totals; the Lua's own counts stay the round's."""
    from etl_duck.bot.embeds.posts import MATCH_NOTE, awards_text, round_post
    from etl_duck.domain.endstats import MATCH_IN_ROUND_2, award_scope

    assert MATCH_IN_ROUND_2 <= KNOWN_AWARDS
    incoming = tmp_path / "in"
    incoming.mkdir()
    r1, r2, endstats = the_real_endstats_and_its_round(incoming)
    data = tmp_path / "data"
    ingest_paths(data, [r1, r2, endstats])
    detail = Stats(data, min_rounds=1).round_detail(r2.name)
    assert detail is not None and detail.awards is not None
    assert detail.round["paired_round_id"] is not None
    embed = round_post(detail)
    text = next(str(f.value) for f in embed.fields if f.name == "Awards")
    lines = text.splitlines()
    assert lines[0] == "Most damage given (match): **vid** (3214)"
    assert "Most kills per minute (match): **vid** (1.78)" in lines
    assert "Most light weapon kills: **bronze.** (9)" in lines  # the Lua's own count
    assert lines[-1] == MATCH_NOTE and len(text) <= 1024
    # the vid of the round's table did less damage than that in round 2 alone
    vid = detail.players.filter(pl.col("name") == "vid").row(0, named=True)
    assert vid["damage_given"] < 3214
    # a round 1 (or a round 2 of its own): the awards are the round's, unlabelled
    assert "(match)" not in awards_text(detail.awards) and MATCH_NOTE not in awards_text(
        detail.awards
    )
    assert award_scope("Most damage given", round_two=False) == "round"
    assert award_scope("Most playtime denied", round_two=True) == "round"
    assert award_scope("Most bullets fired", round_two=True) == "match"


# --------------------------------------------------------------------------- waiting for the round


def _award_lines() -> int:
    """The real file's award lines, counted from its text (fixture README: awards first)."""
    text = REAL_ENDSTATS.read_bytes().replace(b"\r", b"").decode()
    return sum(1 for ln in text.split("\n") if ln.split("\t")[0] in KNOWN_AWARDS)


def _later_round(folder: Path, like: Path, stamp: str) -> Path:
    """A round of the same server after the endstats file's (content made unique)."""
    path = folder / f"{stamp}-te_escape2-round-1.txt"
    path.write_bytes(like.read_bytes().replace(b"only2026", b"only2026b", 1))
    return path


def _cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    from etl_duck.cli import run

    code = run([str(a) for a in args])
    out, _ = capsys.readouterr()
    return code, " ".join(out.split())  # rich wraps long lines


def test_an_endstats_file_without_its_round_is_named_until_the_round_lands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The round file of an endstats file has not come: the ingest and `status` name the
    file, first as on its way (no problem: the fetcher may bring it a poll later), then, once
    its server has written a later round, as missing (exit 3); when the round comes its
    awards land, and the lake is the one that got every file at once."""
    incoming = tmp_path / "in"
    incoming.mkdir()
    r1, r2, es = the_real_endstats_and_its_round(incoming)
    later = _later_round(incoming, r1, "2026-01-12-230500")
    data = tmp_path / "data"

    report = ingest_paths(data, [r1, es])  # round 2's file is not there yet
    assert report.endstats_waiting == [es.name] and report.endstats_without_round == []
    assert not report.problems  # it may be on its way
    code, out = _cli(capsys, "--data-dir", data, "status")
    assert code == 0 and "no open problems" in out
    assert f"1 endstats file waits for its round file (awards not counted yet): {es.name}" in out
    code, raw_json = run_json(capsys, data)
    assert code == 0
    assert raw_json["endstats_waiting"] == [es.name]
    assert raw_json["endstats_without_round"] == []

    # the server writes another round: round 2's file should have come before it
    code, out = _cli(capsys, "--data-dir", data, "ingest", later)
    assert code == 3 and f"endstats without their round {es.name}" in out
    code, out = _cli(capsys, "--data-dir", data, "status")
    assert code == 3 and "no open problems" not in out
    assert f"waits for its round file (awards not counted yet): {es.name}" in out
    assert "missing from raw/ (or quarantined, see above): fetch or ingest it" in out
    code, raw_json = run_json(capsys, data)
    assert code == 3
    assert raw_json["endstats_without_round"] == [es.name]
    assert raw_json["endstats_waiting"] == []
    assert not table_rows_or_none(data, "endstats_awards")

    # the round file comes after all: its awards land, and nothing waits any more
    report = ingest_paths(data, [r2])
    assert not report.problems and not report.endstats_waiting
    awards = table_rows(data, "endstats_awards")
    assert len(awards) == _award_lines()
    assert {a["round_id"] for a in awards} == {
        r["round_id"] for r in table_rows(data, "rounds") if r["file_name"] == r2.name
    }
    code, raw_json = run_json(capsys, data)
    assert code == 0
    assert raw_json["endstats_without_round"] == raw_json["endstats_waiting"] == []
    at_once = tmp_path / "at_once"
    ingest_paths(at_once, [r1, r2, es, later])
    assert content_digest(data) == content_digest(at_once)


def run_json(capsys: pytest.CaptureFixture[str], data: Path) -> tuple[int, dict[str, object]]:
    import json

    from etl_duck.cli import run

    code = run(["--data-dir", str(data), "status", "--json"])
    return code, json.loads(capsys.readouterr().out)


def table_rows_or_none(data: Path, table: str) -> list[dict[str, object]]:
    """A table's rows; none at all when the lake has no file of it yet."""
    if not list((data / "lake" / table).rglob("*.parquet")):
        return []
    return table_rows(data, table)


def test_a_second_servers_endstats_file_lands_when_its_round_comes_later(
    tmp_path: Path,
) -> None:
    """Another game server's names end in `#server`: its endstats file, stored before its
    round, must be read when the round comes (it was not: only a rebuild found it)."""
    incoming = tmp_path / "in"
    incoming.mkdir()
    r1, r2, es = the_real_endstats_and_its_round(incoming)
    data = tmp_path / "data"
    first = ingest_paths(data, [es], server="scrim")
    ingest_paths(data, [r1, r2], server="scrim")
    awards = table_rows_or_none(data, "endstats_awards")
    assert len(awards) == _award_lines()
    assert {a["file_name"] for a in awards} == {f"{es.name}#scrim"}
    assert first.endstats_waiting == [f"{es.name}#scrim"]  # named while it waited
    assert Stats(data, min_rounds=1).status()["endstats_waiting"] == []
    live = content_digest(data)
    rebuild(data)
    assert content_digest(data) == live  # the live lake is the rebuilt one


def test_a_dismissed_endstats_file_leaves_the_lake_as_in_a_rebuild(tmp_path: Path) -> None:
    """`resolve NAME --dismiss` of an endstats file takes its rows out at once (a rebuild
    never reads it), is no file waiting for its round, and `--keep` brings them back."""
    from etl_duck.ingest.run import resolve
    from etl_duck.lake.rawstore import RawStore

    incoming = tmp_path / "in"
    incoming.mkdir()
    r1, r2, es = the_real_endstats_and_its_round(incoming)
    data = tmp_path / "data"
    ingest_paths(data, [r1, r2, es])
    assert len(table_rows(data, "endstats_awards")) == _award_lines()
    resolve(data, es.name, dismiss=True)
    assert table_rows_or_none(data, "endstats_awards") == []
    status = Stats(data, min_rounds=1).status()
    assert status["dismissed"] == [es.name] and status["endstats_waiting"] == []
    live = content_digest(data)
    rebuild(data)
    assert content_digest(data) == live
    version = RawStore(data).versions(es.name)[0].id
    resolve(data, es.name, keep=version)
    assert len(table_rows(data, "endstats_awards")) == _award_lines()


def test_a_cut_endstats_file_is_open_until_whole_or_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An endstats file whose last line is cut: its complete rows count at once, and the
    ingest and `status` name it with its fix (exit 3) until the whole file arrives or an
    admin accepts the cut version. It was "cut (final) … never written", no problem, exit 0."""
    incoming = tmp_path / "in"
    incoming.mkdir()
    r1, r2, es = the_real_endstats_and_its_round(incoming)
    whole = es.read_bytes()
    es.write_bytes(whole[: whole.rindex(b"\n", 0, len(whole) - 1) + 5])
    data = tmp_path / "data"
    report = ingest_paths(data, [r1, r2, es])
    assert report.cut == [es.name] and report.problems
    assert table_rows(data, "endstats_awards")  # what is there counts
    code, out = _cli(capsys, "--data-dir", data, "status")
    assert code == 3
    assert f"cut (last line) {es.name} — the last line is cut: its complete rows count" in out
    assert f"`etl-duck resolve {es.name} --accept` if the server's own file is cut" in out
    assert ingest_paths(data, [es]).cut == [es.name]  # sent again: that problem again
    assert _cli(capsys, "--data-dir", data, "resolve", es.name, "--accept")[0] == 0
    code, out = _cli(capsys, "--data-dir", data, "status")
    assert code == 0 and f"cut (accepted by an admin) {es.name}" in out
    again = ingest_paths(data, [es])
    assert again.duplicates == [es.name] and not again.problems


_MAPS = ("supply", "te_escape2", "x-round-1")  # a map whose name holds "-round-N" too
_T0 = datetime(2026, 3, 14, 21, 0, 0)


@settings(max_examples=150, deadline=None)
@given(
    rounds=st.lists(
        st.tuples(
            st.integers(0, 400), st.sampled_from(_MAPS), st.sampled_from(("1", "2", "01", "02")),
            st.sampled_from(("", "scrim")),
        ),
        max_size=12,
    ),
    files=st.lists(
        st.tuples(
            st.integers(0, 400), st.sampled_from(_MAPS), st.sampled_from((1, 2)),
            st.sampled_from(("", "scrim")),
        ),
        min_size=1,
        max_size=8,
    ),
)  # fmt: skip
def test_waiting_for_round_is_the_builds_pairing(
    rounds: list[tuple[int, str, str, str]], files: list[tuple[int, str, int, str]]
) -> None:
    """Which endstats files no round pairs with — the ingest's answer (rounds found by
    minute, then `pair_endstats`) and `status`'s (a vectorised join) — must be what the
    build's pairing (`pair_endstats` over every round) says, and a file is overdue when a
    round of its server ends more than the pairing window after it."""
    from datetime import timedelta

    import pyarrow as pa

    from etl_duck.domain.endstats import waiting_for_round, waiting_for_round_vectorised
    from etl_duck.domain.parse import parse_file_name
    from etl_duck.domain.sources import qualify, server_of

    def name(offset: int, rest: str, server: str) -> str:
        return qualify(f"{_T0 + timedelta(seconds=offset):%Y-%m-%d-%H%M%S}-{rest}", server)

    round_names = {name(s, f"{m}-round-{n}.txt", srv) for s, m, n, srv in rounds}
    candidates = []
    for rn in sorted(round_names):
        f = parse_file_name(rn)
        candidates.append((rn, f.end_time, f.map_name, f.round_number))
    index = pa.table(
        {
            "file_name": pa.array([c[0] for c in candidates], pa.string()),
            "end_time": pa.array([c[1] for c in candidates], pa.timestamp("s")),
        }
    )
    es_names = sorted({name(s, f"{m}-round-{n}-endstats.txt", srv) for s, m, n, srv in files})
    truth = {}
    for n in es_names:
        es = parse_endstats_name(n)
        if pair_endstats(es, candidates) is None:
            truth[n] = any(
                server_of(rn) == server_of(n) and (end - es.end_time).total_seconds() > 60
                for rn, end, _, _ in candidates
            )
    assert waiting_for_round(es_names, index) == truth  # an ingest's
    assert waiting_for_round_vectorised(pa.chunked_array([es_names], pa.string()), index) == truth


def test_a_backfills_report_keeps_the_last_word_on_a_waiting_file() -> None:
    """A backfill commits a year at a time: a file still waiting at the end of one year and
    missing after the next is reported once, as missing."""
    from etl_duck.ingest.options import IngestReport

    a = IngestReport(endstats_waiting=["x-endstats.txt", "y-endstats.txt"])
    b = IngestReport(endstats_without_round=["x-endstats.txt"])
    merged = a.merge(b)
    assert merged.endstats_waiting == ["y-endstats.txt"]
    assert merged.endstats_without_round == ["x-endstats.txt"] and merged.problems
