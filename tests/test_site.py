"""The static site (`etl-duck site`): every page kind from the real fixtures, numbers checked
against plain DuckDB over the lake's Parquet and against the CLI's ``--json`` (rating,
personal bests, teammates, rivals, records), incremental rebuilds that rewrite exactly the
pages whose content changed (and equal a full build byte for byte, also after evenings are
removed), keys that survive a new process, atomic publishing, the CLI, the commit listener and the bot's links."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from etl_duck.cli import app
from etl_duck.domain.metrics import METRICS
from etl_duck.ingest.run import ingest_paths
from etl_duck.pipeline import Ingestor
from etl_duck.query.stats import Stats
from etl_duck.query.windows import WINDOWS
from etl_duck.site import SiteError, SiteOptions, SiteReport, build_site, pages, publish, urls
from etl_duck.site.updater import SiteUpdater
from tests import sitecheck
from tests.bot_fakes import bot_running, invoke, lake_copy, lake_sql, real_files, run
from tests.sitecheck import versus_file

LAST_DAY = "2025-11-11"
LAST_R2 = "2025-11-11-233911-braundorf_b4-round-2.txt"
VID = "D8423F90"


def last_day_files() -> list[Path]:
    return [f for f in real_files() if f.name.startswith(LAST_DAY)]


def stats_for(data: Path) -> Stats:
    return Stats(data, min_rounds=1)


def opts() -> SiteOptions:
    return SiteOptions(title="Test community")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Stats]:
    """The real fixtures' lake and its site, built once for the read-only tests."""
    base = tmp_path_factory.mktemp("site")
    data = lake_copy(tmp_path_factory, base / "data")
    ingest_paths(data, [versus_file(data, base)])
    stats = stats_for(data)
    build_site(stats, base / "site", opts())
    return data, base / "site", stats


# --------------------------------------------------------------------------- what is built


def test_every_page_kind_is_built_and_every_link_resolves(built: tuple[Path, Path, Stats]) -> None:
    data, site, _ = built
    assert site.is_symlink() and (site / publish.MANIFEST).is_file()
    sessions = lake_sql(
        data, "SELECT DISTINCT session_id, session_date FROM {t} WHERE counted", "rounds"
    )
    players = {g for (g,) in lake_sql(data, "SELECT DISTINCT guid FROM {t} WHERE counted")}
    expected = {"index.html", "sessions/index.html", "players/index.html",
                "leaderboards/index.html", "search.json", "search.js", "assets/site.css",
                "assets/search.js", "assets/favicon.svg", "records.html",
                "leaderboards/rating.html"}  # fmt: skip
    expected |= {urls.session(sid) for sid, _ in sessions}
    expected |= {urls.sessions_year(day.year) for _, day in sessions}
    expected |= {urls.player(g) for g in players}
    expected |= {urls.leaderboard(m, w) for m in METRICS for w in WINDOWS}
    manifest = json.loads((site / publish.MANIFEST).read_text())
    assert set(manifest["pages"]) == expected
    assert all((site / p).stat().st_size > 0 for p in expected)
    # the crawl: every link of every page points at a file of the site
    root = site.resolve()
    for page in sitecheck.all_pages(site):
        for target in sitecheck.local_links(page, root):
            assert target.is_file(), f"{page.relative_to(root)} links to missing {target}"
            assert root in target.parents, f"{page} links outside the site: {target}"
    # no external resource anywhere (CDN, web font)
    for page in sitecheck.all_pages(site):
        assert "http://" not in page.read_text() and "https://" not in page.read_text()
    # nothing published tells where the server keeps its data (`rsync -aL www/ host:`)
    for path in (p for p in root.rglob("*") if p.is_file()):
        assert str(data.absolute()).encode() not in path.read_bytes(), path


def test_a_board_shows_its_own_value_once(built: tuple[Path, Path, Stats]) -> None:
    """The kills board had two Kills columns, the DPM board two DPM and "Rounds played" a
    Rounds column beside it: the extra column that repeats the board's value is left out,
    every other board keeps all of them, and each row has a cell per header."""
    _, site, _ = built
    for metric in METRICS:
        page = (site / urls.leaderboard(metric, "all")).read_text()
        head = re.findall(r"<th[^>]*>([^<]*)</th>", page.split("</thead>")[0])
        assert len(head) == len(set(head)), (metric, head)
        extra = {"Rounds", "Kills", "Deaths", "DPM"} - {METRICS[metric].label}
        if metric == "games":
            extra.discard("Rounds")
        assert extra <= set(head), (metric, head)
        row = page.split("<tbody>")[1].split("</tr>")[0]
        assert row.count("<td") == len(head), (metric, row)


def test_session_page_numbers_equal_an_independent_count(built: tuple[Path, Path, Stats]) -> None:
    data, site, _ = built
    (sid,) = lake_sql(data, f"SELECT DISTINCT session_id FROM {{t}} WHERE session_date = '{LAST_DAY}'", "rounds")[0]  # fmt: skip
    rows = lake_sql(
        data,
        f"""SELECT guid, count(*), sum(kills), sum(deaths),
                   sum(CASE WHEN time_played_s > 0 THEN damage_given ELSE 0 END) * 60.0
                   / sum(time_played_s)
            FROM {{t}} WHERE counted AND session_id = {sid} GROUP BY guid""",
    )
    page = sitecheck.parse(site / urls.session(sid))
    assert len(rows) == 6
    for guid, rounds, kills, deaths, dpm in rows:
        got = page.values[f"data-guid={guid}"]
        assert (int(got["rounds"]), int(got["kills"]), int(got["deaths"])) == (
            rounds,
            kills,
            deaths,
        )
        assert float(got["dpm"]) == pytest.approx(dpm, rel=1e-12)
        assert page.texts[f"data-guid={guid}"]["dpm"] == f"{dpm:,.1f}"


def test_player_page_and_search_index(built: tuple[Path, Path, Stats]) -> None:
    data, site, _ = built
    ((rounds, kills, deaths, dmg, secs),) = lake_sql(
        data,
        f"""SELECT count(*), sum(kills), sum(deaths),
                   sum(CASE WHEN time_played_s > 0 THEN damage_given ELSE 0 END),
                   sum(time_played_s) FROM {{t}} WHERE counted AND guid = '{VID}'""",
    )
    card = sitecheck.parse(site / urls.player(VID)).values[""]
    assert (int(card["rounds"]), int(card["kills"]), int(card["deaths"])) == (rounds, kills, deaths)
    assert float(card["dpm"]) == pytest.approx(dmg * 60 / secs, rel=1e-12)
    index = json.loads((site / "search.json").read_text())["players"]
    counted = {g for (g,) in lake_sql(data, "SELECT DISTINCT guid FROM {t} WHERE counted")}
    assert {p["guid"] for p in index} == counted
    names = lake_sql(
        data, "SELECT guid, list(DISTINCT name) FROM {t} WHERE NOT is_bot GROUP BY guid"
    )
    entries = {p["guid"]: p for p in index}
    for guid, used in names:
        if guid in entries:
            assert {entries[guid]["name"], *entries[guid]["aliases"]} == set(used)
    js = (site / "search.js").read_text()
    assert js.startswith("window.ETL_DUCK_PLAYERS = ") and json.loads(js[26:-2]) == index


def cli_json(data: Path, *args: str) -> Any:
    out = CliRunner().invoke(app, ["--data-dir", str(data), *args, "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def test_player_page_rating_bests_teammates_and_rivals_equal_the_cli(
    built: tuple[Path, Path, Stats],
) -> None:
    data, site, _ = built
    html = (site / urls.player(VID)).read_text()
    page = sitecheck.parse(site / urls.player(VID))
    shown, values = page.texts[""], page.values[""]

    # the rating card: as `etl-duck rating` prints it (μ, σ to 2 decimals, rating and trend
    # to 1), counts and rank exactly; the chart has a point per rated map
    rating = cli_json(data, "rating", VID)
    assert shown["rating-rating"] == f"{rating['rating']:.1f}"
    assert shown["rating-mu"] == f"{rating['mu']:.2f}"
    assert shown["rating-sigma"] == f"{rating['sigma']:.2f}"
    assert shown["rating-trend"] == f"{rating['trend']:+.1f}"
    for stat in ("maps", "wins", "losses", "ties", "rank", "ranked_players"):
        assert int(values[f"rating-{stat}"]) == rating[stat], stat
    assert rating["rank"] and rating["maps"] >= rating["min_maps"]
    assert f"Rating after each of {len(rating['history'])} maps" in html

    # personal bests: every one, to the last bit, with its map and the session it was set in
    bests = cli_json(data, "bests", VID)["bests"]
    assert {k.removeprefix("data-best=") for k in page.values if k.startswith("data-best=")} == {
        b["kind"] for b in bests
    }
    for b in bests:
        row = page.values[f"data-best={b['kind']}"]
        assert float(row["value"]) == b["value"]
        # the session's date, not the round's calendar day (the 2025-09-24 evening runs past
        # midnight): the date of the page it links
        assert row.get("map", "") == (b["map_name"] or "") and row["day"] == b["session_date"]
        assert f'href="../sessions/{b["session_id"]}.html">{b["session_date"]}</a>' in html

    # teammates: the regulars (most maps together first), win rates together and apart
    mates = cli_json(data, "teammates", VID)
    regulars = [g for g, r in mates["rows"].items() if r["regular"]]
    on_page = {k.removeprefix("data-mate="): v for k, v in page.values.items()
               if k.startswith("data-mate=")}  # fmt: skip
    assert set(on_page) == set(regulars[:10]) and len(on_page) == 4
    for guid, row in on_page.items():
        want = mates["rows"][guid]
        for stat in ("together_maps", "apart_maps"):
            assert int(row[stat]) == want[stat]
        for stat in ("together_rate", "apart_rate"):
            assert float(row[stat]) == want[stat]
    assert f'Best partner: <a href="../players/{mates["best_partner"]}.html">' in html

    # rivals (the endstats file of the last round): per opponent, nemesis and prey
    rivals = cli_json(data, "rivals", VID)
    on_page = {k.removeprefix("data-rival="): v for k, v in page.values.items()
               if k.startswith("data-rival=")}  # fmt: skip
    assert set(on_page) == set(rivals["rows"]) and len(on_page) == 3
    for guid, row in on_page.items():
        want = rivals["rows"][guid]
        assert (int(row["rounds"]), int(row["kills"]), int(row["deaths"])) == (
            want["rounds"], want["kills"], want["deaths"]
        )  # fmt: skip
        assert float(row["kd"]) == want["kd"]
    # one round each: nobody reaches the minimum of rounds for a nemesis
    assert rivals["nemesis"] is None and "Nemesis" not in html


def test_home_records_and_rating_pages_equal_the_cli(built: tuple[Path, Path, Stats]) -> None:
    data, site, _ = built
    records = cli_json(data, "records")
    page = sitecheck.parse(site / urls.records())
    html = (site / urls.records()).read_text()
    on_page = {k.removeprefix("data-record="): v["value"] for k, v in page.values.items()
               if k.startswith("data-record=")}  # fmt: skip
    assert len(records) > 10 and len(on_page) == len(records)
    for r in records:
        assert float(on_page[f"{r['scope']}/{r['kind']}"]) == r["value"]
        assert f'href="sessions/{r["session_id"]}.html">{r["session_date"]}</a>' in html
        if r["guid"] is not None:
            assert f'href="players/{r["guid"]}.html">{r["holder"]}</a>' in html
    home = sitecheck.parse(site / urls.home())
    all_time = [r for r in records if r["scope"] == "all"]
    assert {f"{r['scope']}/{r['kind']}" for r in all_time} == {
        k.removeprefix("data-record=") for k in home.values if k.startswith("data-record=")
    }

    # the rating list (at least 10 maps): the home page's top, the rating page's everyone
    top = cli_json(data, "rating", "top", "--limit", "1000")
    listed = sitecheck.parse(site / urls.rating())
    for where, rows in ((home, top["rows"][:10]), (listed, top["rows"])):
        guids = [k.removeprefix("data-guid=") for k in where.texts if k.startswith("data-guid=")]
        assert guids == [r["guid"] for r in rows] and rows
        for r in rows:
            got = where.texts[f"data-guid={r['guid']}"]
            assert (got["rating"], got["sigma"], got["maps"]) == (
                f"{r['rating']:.1f}", f"{r['sigma']:.2f}", f"{r['maps']:,}"
            )  # fmt: skip
    assert all(r["maps"] >= top["min_maps"] for r in top["rows"])


# --------------------------------------------------------------------------- incremental


class Reader:
    """A reader of the published site in another thread, as a web server: it resolves the
    link once per request and reads that version's files; records anything missing."""

    def __init__(self, site: Path) -> None:
        self.site, self.seen, self.problems = site, set[str](), list[str]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            folder = self.site.resolve()
            self.seen.add(folder.name)
            listed = json.loads((folder / publish.MANIFEST).read_text())["pages"]
            self.problems.extend(p for p in listed if not (folder / p).is_file())
            time.sleep(0.005)  # leave the builder the GIL most of the time

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def player_pages(site: Path) -> dict[str, bytes]:
    root = site.resolve()
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in (root / "players").glob("*.html")
        if p.name != "index.html"
    }


# the sections of a player's page that show other players' data: the rating (rank, and σ
# widening with everyone's maps) and the teammates (their current names)
OTHERS = re.compile(rb'<section[^>]* id="(rating|teammates)".*?</section>', re.S)


def check_players_written(
    report: SiteReport, before: dict[str, bytes], site: Path, played: set[str]
) -> set[str]:
    """The player pages a build wrote are exactly those whose content changed: all of those
    of the players whose sessions changed, and others only where a section that shows
    other players' data changed. Returns the pages written for other players."""
    after = player_pages(site)
    changed = {p for p, html in after.items() if before.get(p) != html}
    written = {p for p in report.written if p in after}
    assert written == changed
    assert {urls.player(g) for g in played} <= written
    others = written - {urls.player(g) for g in played}
    for page in others:
        assert OTHERS.sub(b"", before[page]) == OTHERS.sub(b"", after[page]), page
    return others


def test_a_commit_rewrites_exactly_the_pages_whose_data_changed(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = last_day_files()
    data = lake_copy(tmp_path_factory, tmp_path / "data", tuple(f.name for f in later))
    site = tmp_path / "site"
    first = build_site(stats_for(data), site, opts())
    assert first.published and first.rendered == first.pages
    before = json.loads((site / publish.MANIFEST).read_text())["pages"]
    sessions_before = lake_sql(data, "SELECT max(session_id) FROM {t}", "rounds")[0][0]
    monkeypatch.setattr(publish, "KEEP", 100)  # the reader below may hold any old version
    reader = Reader(site).__enter__()

    # a new evening arrives (all but its last round), read by a new process
    players_before = player_pages(site)
    ingest_paths(data, [f for f in later if f.name != LAST_R2])
    second = build_site(stats_for(data), site, opts())
    new_sid = lake_sql(data, "SELECT max(session_id) FROM {t}", "rounds")[0][0]
    tonight = {g for (g,) in lake_sql(data, f"SELECT DISTINCT guid FROM {{t}} WHERE session_date = '{LAST_DAY}' AND NOT is_bot")}  # fmt: skip
    # home, indexes, search, records and the rating list depend on the whole history
    everything = {"index.html", "sessions/index.html", "players/index.html", "search.json",
                  "search.js", "sessions/2025.html", "records.html", urls.rating()}  # fmt: skip
    boards = {urls.leaderboard(m, w) for m in METRICS for w in WINDOWS}
    assert {p for p in second.written if p not in players_before} == (
        everything | boards | {urls.session(new_sid), urls.session(sessions_before)}
        | {"leaderboards/index.html"}  # its windows moved to the new week and month
    )  # fmt: skip
    # six players played: the others whose page changed show a new rank or a wider σ
    # (a month went by), never anything of their own
    others = check_players_written(second, players_before, site, tonight)
    assert others and all(urls.player(g) not in others for g in tonight)

    # the evening's last round: the previous session's page and the index of windows stay
    players_before = player_pages(site)
    ingest_paths(data, [d for d in real_files() if d.name == LAST_R2])
    third = build_site(stats_for(data), site, opts())
    assert {p for p in third.written if p not in players_before} == (
        everything | boards | {urls.session(new_sid)}
    )
    check_players_written(third, players_before, site, tonight)

    # the newer endstats writer's file for that round: rivals for its six players
    players_before = player_pages(site)
    ingest_paths(data, [versus_file(data, tmp_path)])
    fourth = build_site(stats_for(data), site, opts())
    assert {p for p in fourth.written if p not in players_before} == (
        everything | boards | {urls.session(new_sid)}
    )
    assert check_players_written(fourth, players_before, site, tonight) == set()
    assert all(b'id="rivals"' in (site / urls.player(g)).read_bytes() for g in tonight)
    reader.__exit__()
    assert reader.problems == [] and len(reader.seen) >= 2  # whole versions, old and new
    written = set(second.written) | set(third.written) | set(fourth.written)
    unchanged = set(before) - written
    assert unchanged and all(urls.player(g) not in unchanged for g in tonight)
    # unchanged pages are hard links to the previous version's files, not copies
    old = (site.parent / f".{site.name}.versions" / "v00000002").resolve()
    page = urls.session(sessions_before)
    assert (site / page).stat().st_ino == (old / page).stat().st_ino

    # nothing stale anywhere: the incremental site equals a full build byte for byte
    assert_as_full_build(data, site, tmp_path / "full")


def assert_as_full_build(data: Path, site: Path, full: Path) -> None:
    """The site at ``site`` equals a full build of the lake (in a new process) byte for byte."""
    build_site(stats_for(data), full, opts(), full=True)
    inc_files = {p.relative_to(site.resolve()) for p in site.resolve().rglob("*") if p.is_file()}
    full_files = {p.relative_to(full.resolve()) for p in full.resolve().rglob("*") if p.is_file()}
    assert inc_files == full_files
    for rel in inc_files - {Path(publish.MANIFEST)}:
        assert (site / rel).read_bytes() == (full / rel).read_bytes(), rel


def test_a_removed_evening_leaves_no_stale_page_in_a_new_process(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """An admin dismisses every file of two evenings (`resolve --dismiss`): the dates vanish
    from the lake, and a fresh process (`etl-duck site`) knows nothing of what was there. The
    site remembers the dates it was built from, so the all-time pages (boards, indexes,
    search, records) and the year page change with the removal, as after a new evening."""
    from etl_duck.ingest.run import resolve

    data = lake_copy(tmp_path_factory, tmp_path / "data", (LAST_R2,))
    site = tmp_path / "site"
    build_site(stats_for(data), site, opts())
    removed = ("2024-04-16", "2024-05-19")
    dates = ", ".join(f"'{d}'" for d in removed)
    sids = {s for (s,) in lake_sql(data, f"SELECT DISTINCT session_id FROM {{t}} WHERE session_date IN ({dates})", "rounds")}  # fmt: skip
    assert len(sids) == 2
    for f in real_files():
        if f.name.startswith(removed):
            resolve(data, f.name, dismiss=True)
    assert not lake_sql(data, f"SELECT * FROM {{t}} WHERE session_date IN ({dates})", "rounds")
    again = build_site(stats_for(data), site, opts())
    assert again.published
    written = set(again.written)
    assert {"index.html", "players/index.html", "search.json", "records.html",
            "sessions/index.html", "sessions/2024.html"} <= written  # fmt: skip
    assert {urls.leaderboard(m, "all") for m in METRICS} <= written
    root = site.resolve()
    assert not any((root / urls.session(s)).exists() for s in sids)
    for page in sitecheck.all_pages(site):
        for target in sitecheck.local_links(page, root):
            assert target.is_file(), f"{page.relative_to(root)} links to missing {target}"
    assert_as_full_build(data, site, tmp_path / "full")
    # a later process derives the keys the site holds (the removal is remembered)...
    manifest = json.loads((site / publish.MANIFEST).read_text())
    assert set(manifest["gone"]) == set(removed)
    plan = pages.Plan(stats_for(data), opts(), manifest["gone"])
    assert {p.path: p.key for p in plan.pages()} == {
        path: key for path, key in manifest["pages"].items() if not path.startswith("assets/")
    }
    # ...and after the next evening the site is still a full build's
    ingest_paths(data, [f for f in real_files() if f.name == LAST_R2])
    later = build_site(stats_for(data), site, opts())
    assert later.published and "sessions/2024.html" not in later.written
    assert_as_full_build(data, site, tmp_path / "full2")


def test_keys_survive_a_new_process_and_an_unchanged_lake_publishes_nothing(
    built: tuple[Path, Path, Stats],
) -> None:
    data, site, _ = built
    version = os.readlink(site)
    # a fresh Stats (a new process's view) computes the keys the published site holds...
    published = json.loads((site / publish.MANIFEST).read_text())["pages"]
    plan = pages.Plan(stats_for(data), opts())
    assert {p.path: p.key for p in plan.pages()} == {
        path: key for path, key in published.items() if not path.startswith("assets/")
    }
    # ...so with the same lake version and inputs the build need not compute them at all
    again = build_site(stats_for(data), site, opts())
    assert not again.published and again.rendered == 0 and os.readlink(site) == version
    changed = build_site(stats_for(data), site, SiteOptions(title="Another name"))
    assert changed.published and changed.rendered == changed.pages - 3  # all but the assets
    assert "Another name" in (site / "index.html").read_text()


def test_a_lake_rebuilt_in_the_same_data_dir_is_another_lake(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """A lake deleted and rebuilt in the same data dir numbers its versions from 1 again:
    the site's keys of the old lake were taken as comparable once the new one's version
    caught up (the site named its lake by the data dir's path), so pages kept old numbers.
    The site's lake is the lake's own id: the next build is a full one, equal to `--full`."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", (LAST_R2,))
    site = tmp_path / "site"
    build_site(stats_for(data), site, opts())
    old_version = stats_for(data).version()
    shutil.rmtree(data)  # the new lake: half the files, in commits enough to catch up
    files = sorted(real_files())[: len(real_files()) // 2]
    for i in range(old_version + 1):
        ingest_paths(data, files[i :: old_version + 1])
    assert stats_for(data).version() >= old_version
    report = build_site(stats_for(data), site, opts())
    assert report.published and report.rendered == report.pages  # a full build
    full = tmp_path / "full"
    build_site(stats_for(data), full, opts(), full=True)
    pages_of = {p.relative_to(site): p.read_bytes() for p in site.rglob("*.html") if p.is_file()}
    assert pages_of == {
        p.relative_to(full): p.read_bytes() for p in full.rglob("*.html") if p.is_file()
    }


# --------------------------------------------------------------------------- publishing


def test_a_failed_build_leaves_the_published_site_whole(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = lake_copy(tmp_path_factory, tmp_path / "data", (LAST_R2,))
    site = tmp_path / "site"
    build_site(stats_for(data), site, opts())
    published = os.readlink(site)
    ingest_paths(data, [f for f in real_files() if f.name == LAST_R2])

    def broken(self: Any, guid: str) -> bytes:
        raise RuntimeError("template bug")

    monkeypatch.setattr(pages.Plan, "_player", broken)
    with pytest.raises(RuntimeError, match="template bug"):
        build_site(stats_for(data), site, opts())
    assert os.readlink(site) == published
    assert not list(site.parent.glob(f".{site.name}.versions/*.tmp"))
    monkeypatch.undo()
    assert build_site(stats_for(data), site, opts()).published
    # a build killed while it staged (no `finally` ran) leaves its folder; the next run
    # clears it even when it has nothing to publish
    killed = site.parent / f".{site.name}.versions" / "v00000009.tmp"
    (killed / "players").mkdir(parents=True)
    (killed / "players" / "index.html").write_text("half")
    assert not build_site(stats_for(data), site, opts()).published
    assert not killed.exists()


def test_a_site_built_by_an_older_format_is_not_replaced_in_place(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """The first build after an upgrade cannot read the published manifest (an older
    format): it numbered its version v1 again and deleted the published v1 folder, under
    the readers in it, before the link moved. It takes the next free number instead."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", (LAST_R2,))
    site = tmp_path / "site"
    build_site(stats_for(data), site, opts())
    published = site.resolve()
    manifest = published / publish.MANIFEST
    older = {**json.loads(manifest.read_text()), "format": publish.FORMAT - 1}
    manifest.write_text(json.dumps(older))
    inode = published.stat().st_ino
    ingest_paths(data, [f for f in real_files() if f.name == LAST_R2])
    report = build_site(stats_for(data), site, opts())
    assert report.published and report.version == 2
    assert site.resolve() != published and published.stat().st_ino == inode


def test_out_must_be_a_site_or_empty(tmp_path: Path, built: tuple[Path, Path, Stats]) -> None:
    data, _, stats = built
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(SiteError, match="folder with files in it"):
        build_site(stats, busy, opts())
    assert (busy / "notes.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert build_site(stats, empty, opts()).published and empty.is_symlink()
    code = CliRunner().invoke(app, ["--data-dir", str(data), "site", "--out", str(busy)])
    assert code.exit_code == 2 and "folder with files in it" in code.output
    nothing = tmp_path / "no-data"
    code = CliRunner().invoke(app, ["--data-dir", str(nothing), "site", "--out", str(empty)])
    assert code.exit_code == 1 and "no lake at" in code.output


def test_cli_site_json(tmp_path: Path, built: tuple[Path, Path, Stats]) -> None:
    data, _, _ = built
    out = tmp_path / "www"
    args = ["--data-dir", str(data), "site", "--out", str(out), "--json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["published"] and report["rendered"] == report["pages"] > 100
    second = json.loads(CliRunner().invoke(app, args).output)
    assert not second["published"] and second["rendered"] == 0


# --------------------------------------------------------------------------- after commits


def test_the_commit_listener_rebuilds_after_each_commit(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    later = last_day_files()
    data = lake_copy(tmp_path_factory, tmp_path / "data", tuple(f.name for f in later))
    site = tmp_path / "site"
    updater = SiteUpdater(stats_for(data), site, opts())
    ingestor = Ingestor(data)

    async def main() -> None:
        ingestor.subscribe(asyncio.get_running_loop(), updater.on_commit)
        await updater.on_commit()
        for f in later[:3]:  # three commits while builds run: folded, never lost
            await asyncio.to_thread(ingestor, [f])
        await ingestor.wait_idle()
        while updater._running:  # the folded follow-up build
            await asyncio.sleep(0.01)

    run(main())
    assert updater.error is None and 2 <= updater.builds <= 4
    manifest = json.loads((site / publish.MANIFEST).read_text())
    assert manifest["lake_version"] == Stats(data).version()
    sid = lake_sql(data, "SELECT max(session_id) FROM {t}", "rounds")[0][0]
    assert (site / urls.session(sid)).is_file()


def test_bot_embeds_link_to_their_pages(tmp_path: Path, built: tuple[Path, Path, Stats]) -> None:
    from discord import app_commands

    from tests.bot_fakes import FakeInteraction

    data, site, _ = built
    base = "https://stats.example.org/et/"

    async def rating(bot: Any, name: str, **kw: Any) -> Any:
        group = bot.tree.get_command("rating")
        assert isinstance(group, app_commands.Group)
        cmd = group.get_command(name)
        assert isinstance(cmd, app_commands.Command)
        inter = FakeInteraction(bot)
        await cmd.callback(cmd.binding, inter, **kw)  # type: ignore[arg-type]
        return inter.sent[-1].embeds[0]

    async def main() -> dict[str, Any]:
        async with bot_running(data, tmp_path / "links.db", site_url=base) as bot:
            calls: tuple[tuple[str, dict[str, Any]], ...] = (
                ("stats", {"player": "vid"}),
                ("leaderboard", {"stat": "dpm", "window": "month"}),
                ("last_session", {}), ("records", {}),
                ("teammates", {"player": "vid"}), ("rivals", {"player": "vid"}),
            )  # fmt: skip
            sent = {name: (await invoke(bot, name, **kw)).sent[-1].embeds[0] for name, kw in calls}
            sent["rating player"] = await rating(bot, "player", player="vid")
            sent["rating top"] = await rating(bot, "top")
            return sent

    embeds = run(main())
    sid = lake_sql(data, "SELECT max(session_id) FROM {t}", "rounds")[0][0]
    assert {name: e.url for name, e in embeds.items()} == {
        "stats": base + urls.player(VID),
        "leaderboard": base + urls.leaderboard("dpm", "month"),
        "last_session": base + urls.session(sid),
        "records": base + urls.records(),
        "teammates": base + urls.player(VID),
        "rivals": base + urls.player(VID),
        "rating player": base + urls.player(VID),
        "rating top": base + urls.rating(),
    }
    for e in embeds.values():
        assert (site / e.url.removeprefix(base)).is_file()


def test_session_page_names_each_maps_winner_as_the_score_card_does(
    built: tuple[Path, Path, Stats],
) -> None:
    """The maps table says which team won a map by the team's name on the score card (it
    said "Team A" beside a card that says "Team endekk")."""
    _, site, stats = built
    rep = stats.last_session()
    assert rep.teams is not None
    names = {t.name for t in rep.teams}
    text = (site / urls.session(rep.session_id)).read_text()
    won = re.findall(
        r'<td class="text"><bdi>([^<]+)</bdi>: (?:beat the clock|clock held)</td>', text
    )
    assert won and set(won) <= names, (won, names)
    assert "Team A:" not in text and "Team B:" not in text


def test_a_session_against_two_opponents_tells_the_score_per_opponent_as_the_bot_does(
    built: tuple[Path, Path, Stats],
) -> None:
    """2025-11-01: slomix. played ///M. for three maps, then ripaZha for four. The digest
    and /session_score tell the score per opponent; the session page showed one total over
    both opponents ("///M. / ripaZha 9 – 5 slomix."). It now shows the same lines (the
    per-opponent truth is test_evening's, from the players' clan tags)."""
    from datetime import date

    from etl_duck.bot.embeds.scoreboard import score_lines

    _, site, stats = built
    rep = stats.session(date(2025, 11, 1))
    text = (site / urls.session(rep.session_id)).read_text()
    card = re.findall(
        r'<p class="score"><bdi>([^<]+)</bdi> <span class="muted">\(([^)]+)\)</span></p>', text
    )
    assert card == [("slomix. 2–1 ///M.", "maps 1–3"), ("ripaZha 3–0–1 slomix.", "maps 4–7")]
    assert [f"**{line}** ({where})" for line, where in card] == score_lines(rep)
    assert '<p class="score"><bdi>///M. / ripaZha</bdi> <strong>' not in text


def test_an_admins_team_correction_and_todays_date_move_the_page_keys(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two things a page shows that no commit changes: an admin's team correction (the
    session page and home show the score card) and a window's "(latest data)" label, which
    depends on today. Each moves the keys of exactly the pages that show it."""
    import dataclasses
    from datetime import date, timedelta

    from etl_duck.botstate import BotState
    from etl_duck.domain.scoring import TeamOverride

    data = lake_copy(tmp_path_factory, tmp_path / "data")
    state = BotState.in_data_dir(data)
    stats = Stats(data, min_rounds=1, teams=state)
    site = tmp_path / "site"
    build_site(stats, site, opts())
    rep = stats.last_session()
    assert rep.teams is not None
    a, b = rep.teams
    state.set_teams(rep.session_id, [TeamOverride("Renamed", frozenset(a.guids)),
                                     TeamOverride("Others", frozenset(b.guids))])  # fmt: skip
    report = build_site(stats, site, opts())
    assert set(report.written) == {urls.session(rep.session_id), urls.home()}
    assert "Renamed" in (site / urls.session(rep.session_id)).read_text()
    assert "Renamed" in (site / urls.home()).read_text()
    # days pass with no session: whether a relative window holds today changes its label
    real = Stats.resolve_window

    def later(self: Stats, window: str = "all", as_of: Any = None, server: Any = None) -> Any:
        w = real(self, window, as_of, server)
        flip = w.name in ("week", "month")  # the label's "(latest data)" comes or goes
        return dataclasses.replace(w, latest_data=not w.latest_data) if flip else w

    shutil.copy(site / urls.leaderboard("kills", "week"), tmp_path / "kills-week-before.html")
    monkeypatch.setattr(Stats, "resolve_window", later)
    # the server's today (the page key's date) two weeks on
    monkeypatch.setattr(Stats, "today", lambda self: date.today() + timedelta(days=14))
    report = build_site(stats, site, opts())
    moved = {urls.leaderboard(m, w) for m in METRICS for w in ("week", "month")}
    assert moved | {urls.leaderboards(), urls.home()} == set(report.written) - {"search.js"}
    before = "(latest data)" in (tmp_path / "kills-week-before.html").read_text()
    assert before != ("(latest data)" in (site / urls.leaderboard("kills", "week")).read_text())
