"""Career tables: all-time per player, kept by the commit from the career before the latest
year plus that year's rows. Checked against the generator's truth after a live-like
history (an evening per commit, across a new year, with a late file for an old year and a
rebuild), and the live case's cost: a commit of the latest year rewrites no `prior`."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from etl_duck.ingest.run import ingest_paths
from etl_duck.lake.layout import CAREER_ALL, CAREER_PRIOR, CAREERS
from etl_duck.lake.snapshot import Lake
from etl_duck.query.stats import Stats
from etl_duck.synth import Truth, generate


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    """Four weeks across a new year (2024 → 2025)."""
    files = tmp_path_factory.mktemp("season")
    truth = generate(files, seed=23, start=date(2024, 12, 16), days=28)
    return files, truth


def evenings(files: Path) -> list[list[Path]]:
    by_day: dict[str, list[Path]] = defaultdict(list)
    for p in sorted(files.iterdir()):
        by_day[p.name[:10]].append(p)
    return [by_day[d] for d in sorted(by_day)]


def career(data: Path, table: str) -> list[dict[str, Any]]:
    """The `all` shard of a career table, as rows."""
    lake = Lake(data)
    snap = lake.current_dir()
    assert snap is not None
    shard = lake.manifest(snap).shards[f"serving/{table}"][CAREER_ALL]
    with duckdb.connect() as con:
        res = con.execute("SELECT * FROM read_parquet(?)", [str(snap / shard.file)])
        cols = [d[0] for d in res.description]
        return [dict(zip(cols, r, strict=True)) for r in res.fetchall()]


def check_against_truth(data: Path, truth: Truth) -> None:
    counted = list(truth.counted_rows())
    totals = truth.player_totals()
    rounds: dict[str, int] = defaultdict(int)
    for row in counted:
        rounds[row.guid] += 1
    players = {r["guid"]: r for r in career(data, "career_players")}
    assert set(players) == {g for g in totals if rounds[g]}
    for guid, t in totals.items():
        got = players[guid]
        assert (got["kills"], got["deaths"], got["damage_given"], got["rounds"]) == (
            t["kills"], t["deaths"], t["damage_given"], rounds[guid],
        ), guid  # fmt: skip
    weapons: dict[tuple[str, int], int] = defaultdict(int)
    for row in counted:
        for wid, (_hits, _shots, kills, _deaths, _hs) in row.weapons.items():
            weapons[(row.guid, wid)] += kills
    got_w = {(r["guid"], r["weapon_id"]): r["kills"] for r in career(data, "career_weapons")}
    assert {k: v for k, v in got_w.items() if v} == {k: v for k, v in weapons.items() if v}
    end = {r.file_name: r.end_time for r in truth.rounds}
    newest: dict[str, list[Any]] = defaultdict(list)
    for row in sorted(counted, key=lambda r: end[r.file_name], reverse=True):
        if len(newest[row.guid]) < 5:
            newest[row.guid].append((end[row.file_name], row.values["kills"]))
    tails: dict[str, list[Any]] = defaultdict(list)
    for r in sorted(career(data, "career_tails"), key=lambda r: r["end_time"], reverse=True):
        tails[r["guid"]].append((r["end_time"], r["kills"]))
    assert tails == newest


def test_live_history_across_a_new_year_equals_the_truth(
    season: tuple[Path, Truth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_duck.lake import careers as careers_mod
    from etl_duck.lake import snapshot as snapshot_mod

    files, truth = season
    data = tmp_path / "data"
    nights = evenings(files)
    late = nights[3].pop()  # an old evening's last round arrives weeks late
    priors: list[str] = []
    read: list[str] = []
    real_read = snapshot_mod.read_parquet_file

    def reading(path: Path) -> Any:
        read.append(str(path.relative_to(path.parents[2])))
        return real_read(path)

    def summed_again(*_: object) -> Any:
        raise AssertionError("the earlier years' per-session rows were summed again")

    first_of_2025 = next(n for n in nights if n[0].name.startswith("2025"))
    for night in nights:
        if night is first_of_2025:
            # the new year's first commit: the career before it is the last snapshot's
            # career, not a sum of the earlier years' per-session rows again
            monkeypatch.setattr(snapshot_mod, "read_parquet_file", reading)
            monkeypatch.setattr(careers_mod, "_rows_by_year", summed_again)
        assert ingest_paths(data, night).committed
        monkeypatch.undo()
        if night is first_of_2025:
            assert any(r.startswith("_serving/career_players/all-") for r in read), read
            # no per-session rows are read but 2024's, once, to write them as the one shard
            # "2024" (its shards were the recent ones of the then-latest year)
            sessions = [r for r in read if r.startswith("_serving/player_sessions/")]
            assert sessions and all(r.startswith("_serving/player_sessions/2024") for r in sessions)
        manifest = Lake(data).manifest()
        shards = manifest.shards["serving/career_players"]
        prior = [f"{k}@{p.version}" for k, p in shards.items() if k.startswith(CAREER_PRIOR)]
        assert len(prior) <= 1 and CAREER_ALL in shards  # at most one prior, the career
        priors.extend(prior)
    # the live case: no prior while the lake holds one year (2024), then the new year's
    # written once by its first evening and reused as it is by every later one
    assert len(set(priors)) == 1 and priors[0].startswith(f"{CAREER_PRIOR}2025")
    assert len(priors) == len([n for n in nights if n[0].name.startswith("2025")])
    # the careers built live (the new year's prior taken from the last career) are the
    # ones a rebuild from raw/ gives, before anything recomputes them
    same_careers_as_a_rebuild(data, tmp_path / "before-late")
    assert ingest_paths(data, [late]).committed  # an earlier year changed: prior rebuilt
    check_against_truth(data, truth)
    same_careers_as_a_rebuild(data, tmp_path / "copy")


def same_careers_as_a_rebuild(data: Path, copy: Path) -> None:
    """Every career shard (prior and all) of ``data`` equals a rebuild's from its raw/."""
    shutil.copytree(data / "raw", copy / "raw")
    ingest_paths(copy, [], rebuild=True)
    for table in CAREERS:
        mine, rebuilt = career_shards(data, table), career_shards(copy, table)
        assert set(mine) == set(rebuilt), table
        for key in mine:
            assert sorted(map(repr, mine[key])) == sorted(map(repr, rebuilt[key])), (table, key)


def career_shards(data: Path, table: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every shard of a career table (``prior-YYYY``, ``all``), as rows."""
    lake = Lake(data)
    snap = lake.current_dir()
    assert snap is not None
    with duckdb.connect() as con:
        return {
            key: con.execute("SELECT * FROM read_parquet(?)", [str(snap / p.file)]).fetchall()
            for key, p in lake.manifest(snap).shards[f"serving/{table}"].items()
        }


def test_cards_and_boards_read_the_careers(season: tuple[Path, Truth], tmp_path: Path) -> None:
    files, truth = season
    data = tmp_path / "data"
    ingest_paths(data, [files])
    check_against_truth(data, truth)
    stats = Stats(data, min_rounds=0)
    board = stats.leaderboard("kills", limit=3)
    expected = sorted((t["kills"] for t in truth.player_totals().values()), reverse=True)[:3]
    assert board["value"].to_list() == expected
    guid = str(board["guid"][0])
    card = stats.player(guid)
    assert card.totals["kills"] == truth.player_totals()[guid]["kills"]
    weapon_kills = sum(
        w[2] for row in truth.counted_rows() if row.guid == guid for w in row.weapons.values()
    )
    assert int(card.weapons["kills"].sum()) == weapon_kills
    assert card.last_rounds.height == 5
    assert card.last_rounds["end_time"].is_sorted(descending=True)
    assert card.name in card.aliases["name"].to_list()
    assert stats.weapon_stats(guid).equals(card.weapons)
    # a lake written before careers existed is read by summing its per-session rows
    for table in CAREERS:
        assert stats.serving.files[table].keys() >= {CAREER_ALL}
    view = stats.serving._view  # private: what the views read, as an old snapshot's
    stats.serving._view = dataclasses.replace(
        view, files={k: v for k, v in view.files.items() if k not in CAREERS}
    )
    stats.cache.clear()
    stats._all_time.clear()  # private: the per-version frame, built again
    stats.serving._local.views = {}
    assert stats.leaderboard("kills", limit=3)["value"].to_list() == expected
    assert stats.player(guid).totals["kills"] == card.totals["kills"]


def test_the_card_in_one_query_equals_its_four_parts(
    season: tuple[Path, Truth], tmp_path: Path
) -> None:
    """``career_card.sql`` returns a card's weapons, maps, last rounds and aliases in one
    round trip: each frame equals its own query's (rows, order, dtypes), for every player,
    and a GUID with no rows gives empty frames of the same shape."""
    files, truth = season
    data = tmp_path / "data"
    ingest_paths(data, [files])
    stats = Stats(data)
    singles = {"weapons": "career_weapons", "maps": "career_maps",
               "last_rounds": "career_last_rounds", "aliases": "career_player_aliases"}  # fmt: skip
    guids = sorted(truth.player_totals())
    assert len(guids) > 10
    for guid in [*guids, "FFFFFFFF"]:
        parts = stats.run_parts("career_card", guid=guid, limit=Stats.LAST_ROUNDS)
        assert set(parts) == set(singles)
        for part, query in singles.items():
            alone = stats.run(query, guid=guid, limit=Stats.LAST_ROUNDS)
            assert parts[part].schema == alone.schema, (guid, part)
            assert parts[part].equals(alone), (guid, part)
        assert parts["weapons"].is_empty() == (guid == "FFFFFFFF")
    card = stats.player(guids[0])
    assert card.weapons.equals(stats.run("career_weapons", guid=guids[0]))
    empty = Stats(tmp_path / "no-lake-yet")  # the empty tables' shapes: the same dtypes too
    for part, frame in empty.run_parts("career_card", guid="X", limit=1).items():
        assert frame.schema == empty.run(singles[part], guid="X", limit=1).schema, part


def test_a_maps_kd_without_deaths_is_its_kills_as_on_the_boards(tmp_path: Path) -> None:
    """K/D has one rule (the metric registry: kills when there are no deaths): the card's
    maps, `map_stats` and a one-server card follow it (they showed nothing instead).

    The real files' only map without deaths was a player alone on the server (0 kills):
    no game, so it no longer counts. A hand-written 1v1 gives one, with kills: player
    A1 kills B2 three times with the MP40 (mask 16) and is never killed."""
    from etl_duck.query.stats import NoData
    from tests.conftest import REAL

    def line(guid: str, team: int, group: str, damage: int) -> str:
        ext = ["0"] * 38
        ext[0], ext[20], ext[22] = str(damage), "20", "10.0"
        for i in (8, 21, 23, 24, 25, 26):
            ext[i] = "0.0"
        return f"{guid}\\P{guid[:2]}\\0\\{team}\\16 {group} \t" + "\t".join(ext) + "\n"

    duel = tmp_path / "duel" / "2024-09-25-210000-supply-round-1.txt"
    duel.parent.mkdir()
    duel.write_text(
        "srv\\supply\\legacy3\\1\\1\\2\\12:00\\10:00\n"
        + line("A1000000", 2, "10 20 3 0 2", 450)  # hits shots kills deaths headshots
        + line("B2000000", 1, "5 20 0 3 0", 100)
    )
    data = tmp_path / "data"
    ingest_paths(data, [REAL, duel])
    stats = Stats(data)
    no_deaths = [r for r in career(data, "career_maps") if r["deaths"] == 0]
    assert [(r["guid"], r["kills"]) for r in no_deaths] == [("A1000000", 3)]
    checked = 0
    for row in no_deaths:
        guid = str(row["guid"])
        tables = [stats.map_stats(guid), stats.player(guid).maps]
        with contextlib.suppress(NoData):  # a one-server card needs a counted round there
            tables.append(stats.player(guid, server="main").maps)
        for maps in tables:
            (kd,) = maps.filter(maps["map_name"] == row["map_name"])["kd"].to_list()
            assert kd == float(row["kills"]), (guid, row["map_name"], kd)
            checked += 1
    for maps in (stats.map_stats(str(r["guid"])) for r in career(data, "career_maps")[:20]):
        for r in maps.iter_rows(named=True):
            want = r["kills"] / r["deaths"] if r["deaths"] else float(r["kills"])
            assert r["kd"] == pytest.approx(want)
    assert checked >= 2
