"""Two stats scripts loaded at once (STATS_FORMAT.md §7): every round is written twice,
seconds apart, in two layouts. The newer layout's files are paired and counted; the older
script's copies are kept, flagged ``second_writer`` and never counted."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from etl_duck.domain.counting import round_reasons
from etl_duck.domain.pairing import RowKind, pair_rounds, round_only_all
from etl_duck.domain.parse import RoundFile, parse_bytes
from etl_duck.ingest.run import ingest_paths
from tests.lakecheck import R1, R2, renamed_pair, table_rows


def _older_copy(src: Path, seconds: int = 2) -> tuple[str, bytes]:
    """The round as an older script writes it beside c0rnp0rn8: an 8-field header (no H8)
    and 37-field lines (no X37), its file saved ``seconds`` later."""
    lines = src.read_bytes().split(b"\n")
    head = b"\\".join(lines[0].split(b"\\")[:8])
    body = [b"\t".join(line.split(b"\t")[:-1]) if line else line for line in lines[1:]]
    end = datetime.strptime(src.name[:17], "%Y-%m-%d-%H%M%S") + timedelta(seconds=seconds)
    return f"{end:%Y-%m-%d-%H%M%S}{src.name[17:]}", b"\n".join([head, *body])


def _parsed(src: Path) -> RoundFile:
    return parse_bytes(src.read_bytes(), src.name)


def _older(src: Path, seconds: int = 2) -> RoundFile:
    name, data = _older_copy(src, seconds)
    return parse_bytes(data, name)


def test_the_older_scripts_copies_are_set_aside_and_the_newer_pair() -> None:
    new1, new2, old1, old2 = _parsed(R1), _parsed(R2), _older(R1), _older(R2)
    assert (old1.layout, old1.header and old1.header.field_count) == (37, 8)
    p = pair_rounds([old2, new1, old1, new2])
    assert p.second_writer == {old1.file.name, old2.file.name}
    assert p.round1_of == {new2.file.name: new1.file.name} and not p.orphans
    reasons, _ = round_reasons([new1, new2, old1, old2], ())
    assert reasons == {new1.file.name: None, new2.file.name: None,
                       old1.file.name: "second_writer", old2.file.name: "second_writer"}  # fmt: skip
    rows = round_only_all([new1, new2, old1, old2])
    assert {r.kind for r in rows[old2.file.name]} == {RowKind.SECOND_WRITER}
    alone = round_only_all([new1, new2])
    assert [r.values for r in rows[new2.file.name]] == [r.values for r in alone[new2.file.name]]


def test_the_newer_script_wins_whichever_file_is_saved_first() -> None:
    new1, old1 = _parsed(R1), _older(R1, seconds=-3)
    assert pair_rounds([new1, old1]).second_writer == {old1.file.name}


def test_one_layout_or_a_minute_apart_is_not_two_writers() -> None:
    """The same layout twice is not a second script; a round of the map a minute later
    is another round (a restart), not a copy."""
    new1 = _parsed(R1)
    name, _ = _older_copy(R1, seconds=2)
    same_layout = parse_bytes(R1.read_bytes(), name)
    assert not pair_rounds([new1, same_layout]).second_writer
    assert not pair_rounds([new1, _older(R1, seconds=61)]).second_writer


@pytest.mark.parametrize("order", ["together", "older first", "older later"])
def test_a_lake_fed_by_two_scripts_counts_each_round_once(tmp_path: Path, order: str) -> None:
    files = tmp_path / "files"
    files.mkdir()
    newer = [files / R1.name, files / R2.name]
    for src, dst in zip((R1, R2), newer, strict=True):
        dst.write_bytes(src.read_bytes())
    older = []
    for src in (R1, R2):
        name, data = _older_copy(src)
        (files / name).write_bytes(data)
        older.append(files / name)
    single = tmp_path / "single"
    ingest_paths(single, newer)
    lake_dir = tmp_path / "data"
    batches = {"together": [newer + older], "older first": [older, newer],
               "older later": [newer, older]}[order]  # fmt: skip
    for batch in batches:
        ingest_paths(lake_dir, batch)
    rounds = {r["file_name"]: (r["counted"], r["reason"]) for r in table_rows(lake_dir, "rounds")}
    assert rounds == {
        **{p.name: (True, None) for p in newer},
        **{p.name: (False, "second_writer") for p in older},
    }

    def counted(d: Path) -> list[tuple[object, ...]]:
        rows = table_rows(d, "player_rounds", "counted")
        return sorted((r["round_id"], r["guid"], r["kills"], r["damage_given"], r["revives_given"])
                      for r in rows)  # fmt: skip

    assert counted(lake_dir) == counted(single)
    if order == "together":  # the operator is told, with the fix
        from typer.testing import CliRunner

        from etl_duck.cli import app

        out = CliRunner().invoke(app, ["--data-dir", str(lake_dir), "status"])
        assert out.exit_code == 0, out.output
        said = " ".join(out.output.split())
        assert "two stats scripts 2 round files are a second, older script's copies" in said
        assert "load one stats script in the game server's Lua config" in said


def test_the_older_scripts_copy_does_not_make_a_cut_file_final(tmp_path: Path) -> None:
    """A cut file counts once a LATER round exists (the writer has moved on); the second
    script's copy of the same round, seconds after it, is no later round — it made the cut
    final at once, 5 of 6 players counted for good."""
    files = tmp_path / "files"
    files.mkdir()
    full = R2.read_bytes()
    (files / R1.name).write_bytes(R1.read_bytes())
    cut = files / R2.name
    cut.write_bytes(full[: full.rindex(b"\n", 0, len(full) - 1) + 20])  # inside the last line
    name, data = _older_copy(R2)
    (files / name).write_bytes(data)
    lake_dir = tmp_path / "data"
    ingest_paths(lake_dir, [files])
    rounds = {r["file_name"]: (r["counted"], r["reason"]) for r in table_rows(lake_dir, "rounds")}
    assert rounds[R2.name] == (False, "partial") and rounds[name] == (False, "second_writer")
    later, _ = renamed_pair(tmp_path, "2026-03-14-222000", "2026-03-14-223000", "next")
    ingest_paths(lake_dir, [later])  # the next map: the cut is final now
    rounds = {r["file_name"]: (r["counted"], r["reason"]) for r in table_rows(lake_dir, "rounds")}
    assert rounds[R2.name] == (True, None)
