"""Endstats names and GUIDs against the stats files (STATS_FORMAT.md §3.3, §3.4, §10):

* an omni-bot's block (``VS_HEADER`` with its ``OMNIBOT0…`` cl_guid) is the writer's normal
  output, not bad input: no rejected line, no open problem, and still no bot among rivals;
* the writer passes every field through ``et.Q_CleanStr``, which drops every byte outside
  0x20–0x7E (``^pv\\xc3\\xafd`` is written ``vd``; the stats file keeps ``vïd``): names are
  matched through the file's own VS_HEADER lines, then through the round's names reduced the
  same way; two players whose reduced names collide get no GUID, never a wrong one;
* rivals name an opponent by his current name (as teammates do), not by what the endstats
  file wrote at their last meeting.

Inputs: the real te_escape2 pair (ten players) under the real endstats file's time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from etl_duck.cli import app
from etl_duck.domain.endstats import name_key, parse_endstats
from etl_duck.domain.parse import GUIDLESS_P0, _guid_ok, guidless_identity
from etl_duck.domain.social import rivals
from etl_duck.ingest.run import ingest_paths
from etl_duck.lake.snapshot import Lake
from etl_duck.query.stats import Stats
from tests.conftest import REAL
from tests.lakecheck import table_rows

PAIR = ("2025-09-24-233255-te_escape2-round-1.txt", "2025-09-24-233657-te_escape2-round-2.txt")
ENDSTATS = "2026-01-12-224606-te_escape2-round-2-endstats.txt"
VID, CARNIEE, SUPERBOYY, SMETARSKI = "D8423F90", "0A26D447", "EDBB5DA9", "1C747DF1"
TAIL = "0" * 24  # a VS_HEADER carries the whole 32-character cl_guid


def real_pair(
    folder: Path,
    subs: tuple[tuple[bytes, bytes], ...] = (),
    stamps: tuple[str, str] = ("2026-01-12-223955", "2026-01-12-224607"),
    tag: bytes = b"only2026",
) -> list[Path]:
    """The real pair under new times (round 2 one second after :data:`ENDSTATS`), its
    content made unique by ``tag``, with byte substitutions (renames)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for src, stamp in zip(PAIR, stamps, strict=True):
        data = (REAL / src).read_bytes().replace(b"only\\te_escape2", tag + b"\\te_escape2", 1)
        for a, b in subs:
            assert a in data
            data = data.replace(a, b)
        path = folder / f"{stamp}-te_escape2-round-{src[-5]}.txt"
        path.write_bytes(data)
        out.append(path)
    return out


def cli(data: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--data-dir", str(data), *args])


def rivals_json(data: Path, player: str) -> dict[str, Any]:
    out = cli(data, "rivals", player, "--json")
    assert out.exit_code == 0, out.output
    rows: dict[str, Any] = json.loads(out.output)["rows"]
    return rows


# --------------------------------------------------------------------------- bots


@pytest.mark.parametrize(
    "guid",
    ["OMNIBOT0", "OMNIBOT0" + TAIL, f"{VID}{TAIL}", VID.lower(), "ABC", "x" * 32,
     "", "NO_GUID", "x" * 33, "OMNI-BOT", "ABC DEF", "D8423F9\u00e9"],
)  # fmt: skip
def test_a_vs_header_guid_follows_the_stats_files_rule(guid: str) -> None:
    """One rule for a player's GUID in both files: 1–32 ASCII letters or digits, or a
    client without one (empty, NO_GUID): keyed by his name, as the stats file keys him."""
    es = parse_endstats(f"VS_HEADER\tsomeone\t{guid}\nvid\t1\t2\n".encode(), ENDSTATS)
    if guid.strip().upper() in GUIDLESS_P0:
        assert es.skipped == [] and es.note is None
        assert [(v.subject_guid, v.opponent) for v in es.versus] == [
            (guidless_identity("someone"), "vid")
        ]
    elif _guid_ok(guid):
        assert es.skipped == [] and es.note is None
        assert [(v.subject_guid, v.opponent) for v in es.versus] == [(guid[:8].upper(), "vid")]
    else:
        assert [f for _, f, _ in es.skipped] == ["VS_HEADER"] and es.versus == []


def test_bot_blocks_are_no_bad_input_and_bots_are_no_rivals(tmp_path: Path) -> None:
    incoming = tmp_path / "in"
    _, r2 = real_pair(incoming)
    # two omni-bots join round 2 (every bot's P0 is OMNIBOT0), cloned from vid's line
    lines = r2.read_bytes().split(b"\n")
    vid = next(ln for ln in lines if ln.startswith(VID.encode()))
    for name in (b"^o[BOT]^7Snake", b"^o[BOT]^7Fox"):
        lines.insert(2, vid.replace(VID.encode() + b"\\^pvid", b"OMNIBOT0\\" + name))
    r2.write_bytes(b"\n".join(lines))
    endstats = incoming / ENDSTATS
    endstats.write_text(
        "Most damage given\tvid\t3214\n"
        f"VS_HEADER\tvid\t{VID}{TAIL}\n[BOT]Snake\t3\t1\ncarniee\t4\t1\n"
        f"VS_HEADER\tcarniee\t{CARNIEE}{TAIL}\nvid\t1\t4\n"
        f"VS_HEADER\t[BOT]Snake\tOMNIBOT0{TAIL}\nvid\t1\t3\n"
        "VS_HEADER\t[BOT]Fox\tOMNIBOT0\nvid\t0\t0\n"
    )
    es = parse_endstats(endstats.read_bytes(), endstats.name)
    assert es.skipped == [] and es.note is None
    assert [g for _, _, g in es.headers] == [VID, CARNIEE, "OMNIBOT0", "OMNIBOT0"]

    data = tmp_path / "data"
    out = cli(data, "ingest", str(incoming))
    assert out.exit_code == 0, out.output
    assert "rejected" not in out.output and "VS_HEADER" not in out.output
    assert Lake(data).read_state("rejected_lines").num_rows == 0
    files = {r["file_name"]: r for r in Lake(data).read_state("files").to_pylist()}
    assert files[ENDSTATS]["status"] == "ok" and not files[ENDSTATS]["reason"]
    status = cli(data, "status")
    assert status.exit_code == 0, status.output
    assert "no open problems" in status.output and "resolve" not in status.output

    # the bots' blocks are stored (they are data), the award is vid's
    versus = table_rows(data, "endstats_versus")
    assert {(v["name"], v["guid"]) for v in versus} == {
        ("vid", VID), ("carniee", CARNIEE), ("[BOT]Snake", "OMNIBOT0"), ("[BOT]Fox", "OMNIBOT0"),
    }  # fmt: skip
    assert [a["guid"] for a in table_rows(data, "endstats_awards")] == [VID]
    # … and no bot is anyone's rival: vid's are carniee only, with both blocks agreeing
    assert {g: (r["kills"], r["deaths"]) for g, r in rivals_json(data, VID).items()} == {
        CARNIEE: (4, 1)
    }
    social = Stats(data, min_rounds=1).social().versus
    assert not set(social["guid"]) & {"OMNIBOT0"}
    assert not set(social["opponent_guid"]) & {"OMNIBOT0"}
    assert not any("BOT" in str(n) for n in [*social["name"], *social["opponent_name"]])


# --------------------------------------------------------------------------- non-ASCII names

#: vid plays as `vïd` (UTF-8), carniee as `carniée` (a cp1252 byte): the stats files keep
#: them, endstats.lua's Q_CleanStr writes `vd` and `carnie`
NON_ASCII = (
    (b"D8423F90\\^pvid", b"D8423F90\\^pv\xc3\xafd"),
    (b"0A26D447\\^7c^aa^7rniee", b"0A26D447\\^7c^aa^7rni\xe9e"),
)


def test_q_cleanstr_names_find_their_guids_through_the_vs_headers(tmp_path: Path) -> None:
    incoming = tmp_path / "in"
    r1, r2 = real_pair(incoming, NON_ASCII)
    endstats = incoming / ENDSTATS
    endstats.write_text(
        "Most damage given\tvd\t3214\n"
        "Most deaths\tcarnie\t14\n"
        f"VS_HEADER\tvd\t{VID}{TAIL}\ncarnie\t4\t1\n"
        f"VS_HEADER\tcarnie\t{CARNIEE}{TAIL}\nvd\t1\t4\n"
    )
    data = tmp_path / "data"
    report = ingest_paths(data, [r1, r2, endstats])
    assert not report.problems
    names = {r["guid"]: r["name"] for r in table_rows(data, "player_rounds")}
    assert (names[VID], names[CARNIEE]) == ("vïd", "carniée")  # the stats files keep them
    assert {(a["name"], a["guid"]) for a in table_rows(data, "endstats_awards")} == {
        ("vd", VID), ("carnie", CARNIEE),
    }  # fmt: skip
    assert {
        (v["guid"], v["opponent_name"], v["opponent_guid"], v["kills"], v["deaths"])
        for v in table_rows(data, "endstats_versus")
    } == {(VID, "carnie", CARNIEE, 4, 1), (CARNIEE, "vd", VID, 1, 4)}
    # rivals under the names every other command shows
    assert {g: (r["name"], r["kills"], r["deaths"]) for g, r in rivals_json(data, VID).items()} == {
        CARNIEE: ("carniée", 4, 1)
    }
    assert {g: (r["name"], r["kills"]) for g, r in rivals_json(data, CARNIEE).items()} == {
        VID: ("vïd", 1)
    }


def test_a_missing_block_of_a_non_ascii_name_comes_from_the_opponents(tmp_path: Path) -> None:
    """vid's own block was never written (the file ends before it): carniee's block tells
    his duel, through the round's names reduced as Q_CleanStr reduces them."""
    incoming = tmp_path / "in"
    r1, r2 = real_pair(incoming, NON_ASCII[:1])
    endstats = incoming / ENDSTATS
    endstats.write_text(
        "Most damage given\tvd\t3214\n"
        f"VS_HEADER\tcarniee\t{CARNIEE}{TAIL}\nvd\t1\t4\nSuperBoyy\t2\t0\n"
    )
    data = tmp_path / "data"
    ingest_paths(data, [r1, r2, endstats])
    assert [a["guid"] for a in table_rows(data, "endstats_awards")] == [VID]
    assert {(r["kills"], r["deaths"]) for r in rivals_json(data, VID).values()} == {(4, 1)}
    assert set(rivals_json(data, VID)) == {CARNIEE}
    assert {g: (r["name"], r["kills"], r["deaths"]) for g, r in rivals_json(data, CARNIEE).items()} == {
        VID: ("vïd", 1, 4), SUPERBOYY: ("SuperBoyy", 2, 0)
    }  # fmt: skip


def test_names_that_reduce_alike_get_no_guid(tmp_path: Path) -> None:
    """vid as `vïd` and qmr as `vöd`: both are `vd` in the endstats file. Neither the award
    nor a duel against `vd` may be given to one of them, not even the one whose VS_HEADER
    says `vd` (the other has no block here: it could be his)."""
    incoming = tmp_path / "in"
    r1, r2 = real_pair(incoming, (*NON_ASCII[:1], (b"652EB4A6\\^3qmr", b"652EB4A6\\v\xc3\xb6d")))
    endstats = incoming / ENDSTATS
    endstats.write_text(
        "Most damage given\tvd\t3214\n"
        f"VS_HEADER\tvd\t{VID}{TAIL}\ncarniee\t4\t1\n"
        f"VS_HEADER\tcarniee\t{CARNIEE}{TAIL}\nvd\t1\t4\n"
    )
    data = tmp_path / "data"
    ingest_paths(data, [r1, r2, endstats])
    assert [a["guid"] for a in table_rows(data, "endstats_awards")] == [None]
    assert {(v["guid"], v["opponent_guid"]) for v in table_rows(data, "endstats_versus")} == {
        (VID, CARNIEE), (CARNIEE, None),
    }  # fmt: skip


def test_name_key_is_q_cleanstr_on_a_clean_name() -> None:
    assert name_key("vïd") == "vd"
    assert name_key(" Carni\u00e9e ") == "carnie"
    assert name_key("[BOT]Snake") == "[bot]snake"
    assert name_key("a\tb\x7fc") == "abc"  # control bytes go too
    assert name_key("\u3164") == ""  # a name of nothing but non-ASCII: empty, as written


# --------------------------------------------------------------------------- rival names


def test_rivals_show_an_opponent_under_his_current_name(tmp_path: Path) -> None:
    """carniee meets vid (endstats blocks) on 2026-01-12, then plays a complete map as
    `Karnie` a week later without an endstats file: vid's rivals say Karnie, as teammates,
    `player` and the site do."""
    from etl_duck.site import sections

    incoming = tmp_path / "in"
    r1, r2 = real_pair(incoming)
    endstats = incoming / ENDSTATS
    endstats.write_text(
        f"VS_HEADER\tvid\t{VID}{TAIL}\ncarniee\t4\t1\n"
        f"VS_HEADER\tcarniee\t{CARNIEE}{TAIL}\nvid\t1\t4\n"
    )
    later = real_pair(
        tmp_path / "later",
        ((b"0A26D447\\^7c^aa^7rniee", b"0A26D447\\^1Karnie"),),
        ("2026-01-19-223955", "2026-01-19-224607"),
        b"only2026b",
    )
    data = tmp_path / "data"
    ingest_paths(data, [r1, r2, endstats])
    assert rivals_json(data, VID)[CARNIEE]["name"] == "carniee"
    before = sections.others_digest(Stats(data, min_rounds=1), {VID, CARNIEE})
    ingest_paths(data, later)
    assert rivals_json(data, VID)[CARNIEE]["name"] == "Karnie"
    out = cli(data, "player", CARNIEE, "--json")
    assert out.exit_code == 0 and json.loads(out.output)["name"] == "Karnie"
    out = cli(data, "teammates", SMETARSKI, "--json", "--min-maps", "1")  # carniee's side
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["rows"][CARNIEE]["name"] == "Karnie"
    # the site's section, and the page key: vid's own data did not change, the name did
    stats = Stats(data, min_rounds=1)
    view = sections.rivals_view(stats, VID, lambda g: f"/p/{g}")
    assert view is not None and [(r["guid"], r["name"]) for r in view["rows"]] == [
        (CARNIEE, "Karnie")
    ]
    after = sections.others_digest(stats, {VID, CARNIEE})
    assert after.get(VID) != before.get(VID)
    assert ("rival", CARNIEE, "Karnie") in after[VID]


def test_an_opponent_without_a_complete_map_keeps_the_endstats_name() -> None:
    versus = pl.DataFrame(
        {"session_id": [1, 1], "session_date": [None, None], "guid": ["A", "A"],
         "opponent_guid": ["B", "C"], "opponent_name": ["bee", "sea"], "rounds": [1, 1],
         "kills": [2, 1], "deaths": [1, 0]},
        schema_overrides={"session_date": pl.Date},
    )  # fmt: skip
    results = pl.DataFrame(
        {"guid": ["B", "B", "A"], "name": ["Bee1", "Bee2", "Ay"], "end_time": [1, 2, 1]}
    )
    table = rivals(versus, "A", results)
    assert dict(zip(table["guid"], table["name"], strict=True)) == {"B": "Bee2", "C": "sea"}
    assert dict(zip(*rivals(versus, "A")[["guid", "name"]], strict=True)) == {
        "B": "bee", "C": "sea",
    }  # fmt: skip


def test_a_name_a_rejected_line_shares_gets_no_guid() -> None:
    """The round has ``vïd`` (a valid line) and ``vd`` (a line rejected: team 9); an older
    endstats file (no VS_HEADER) gives an award to ``vd``. Both reduce to ``vd`` as the
    writer writes names: the award's player is unknown (NULL), never vïd's GUID."""
    from etl_duck.domain.parse import parse_bytes
    from etl_duck.ingest.endstats import _name_index
    from tests.lakecheck import R1

    lines = R1.read_bytes().splitlines(keepends=True)
    valid = lines[1].replace(b"E0A4B2C8\\^7Dr. ^2Fun\\", "11111111\\^pv\u00efd\\".encode())
    refused = lines[2].replace(b"B7E21D04\\^$Blue^7Jay\\0\\1\\", b"22222222\\vd\\0\\9\\")
    rf = parse_bytes(lines[0] + valid + refused, "2026-03-14-213512-supply-round-1.txt")
    assert [p.guid for p in rf.players] == ["11111111"]
    assert ("22222222", "vd") in rf.rejected_players
    es = parse_endstats(b"Most deaths\tvd\t12\n", "2026-03-14-213511-supply-round-1-endstats.txt")
    assert _name_index(es, rf).get(name_key("vd"), "absent") is None
