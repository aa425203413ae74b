"""The static site against hostile names and an unfriendly machine: a small lake of real
files whose player names (the 2nd ``\\``-separated field of a player line) and map name
were edited.

* an upgrade that changes only the domain/query code or ``queries/*.sql`` re-renders the
  pages (the code fingerprint covers them, independent of where etl-duck is installed);
* a full or unusable temp folder (Jinja's bytecode cache) does not fail the build;
* direction controls in a name reorder nothing: none reaches a page, the index or a chart,
  and names sit in ``<bdi>``;
* two of a session's top players with the same clean name keep a line each in the chart,
  and every list of names (boards, indexes, session, home, records, search, bar labels)
  tells them apart by the GUID's start; long bar labels cut alike keep their ends;
* a long name without spaces does not widen a phone's page (Chromium, skipped without it);
* a name that cleans to nothing shows the GUID; a lake of only uncounted rounds says so;
  a map name with a space makes a valid HTML id.
"""

from __future__ import annotations

import errno
import json
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2.bccache
import pytest

from etl_duck import sqlfiles
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from etl_duck.site import SiteOptions, build_site, render, urls
from etl_duck.site.build import ASSETS
from tests.bot_fakes import REAL
from tests.machine import within

MAP_R1 = "2025-11-11-212628-etl_adlernest-round-1.txt"
MAP_R2 = "2025-11-11-213348-etl_adlernest-round-2.txt"
EVIL = "\u202eevil\u200b\U0001f600"  # right-to-left override: reverses the text after it
NAMES = {
    "0A26D447": EVIL,  # the evening's MVP (best DPM)
    "7B84BE88": "^1^2",  # colour codes only: cleans to ""
    "1C747DF1": "\u00a0\u200b ",  # NBSP, zero-width space, space
    "EDBB5DA9": "^1.^2olz",  # cleans to ".olz", as 5D989160's own name
    "D8423F90": "A" * 35,  # long, no space
}
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def hostile_files(folder: Path, names: dict[str, str], files: tuple[str, ...],
                  map_name: str | None = None) -> list[Path]:  # fmt: skip
    """Copies of real round files with these players' names (and the map renamed)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in files:
        lines = (REAL / name).read_bytes().split(b"\n")
        head = lines[0]
        if map_name is not None:
            head = head.replace(b"\\etl_adlernest\\", f"\\{map_name}\\".encode())
            name = name.replace("etl_adlernest", map_name)
        new = [head]
        for line in lines[1:]:
            parts = line.split(b"\\")
            if len(parts) > 2 and parts[0].decode() in names:
                parts[1] = names[parts[0].decode()].encode()
            new.append(b"\\".join(parts))
        path = folder / name
        path.write_bytes(b"\n".join(new))
        out.append(path)
    return out


def lake(base: Path, files: list[Path]) -> Stats:
    data = base / "data"
    data.mkdir(parents=True)
    ingest_paths(data, files)
    return Stats(data, min_rounds=1)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Stats, Path]:
    """One complete map (both rounds) of six players, five of them renamed, and its site."""
    base = tmp_path_factory.mktemp("hostile")
    files = hostile_files(base / "in", NAMES, (MAP_R1, MAP_R2), map_name="etl adlernest")
    stats = lake(base, files)
    build_site(stats, base / "site", SiteOptions(title="Hostile"))
    return stats, base / "site"


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """The per-process fingerprint and Jinja environment recomputed, before and after."""
    render._code_fingerprint.cache_clear()
    render.environment.cache_clear()
    yield
    render._code_fingerprint.cache_clear()
    render.environment.cache_clear()


def session_page(site: Path, stats: Stats) -> str:
    return (site / urls.session(stats.last_session().session_id)).read_text()


# --------------------------------------------------------------------------- 1. fingerprint


def test_fingerprint_covers_the_whole_package_and_the_queries_not_the_install_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    t0 = time.perf_counter()
    real = render.code_fingerprint()
    seconds = time.perf_counter() - t0
    assert within(seconds, 1.0, "the fingerprint")  # ~10 ms: once a process
    # the same code installed elsewhere: the same fingerprint (no full re-render)
    package = Path(render.__file__).resolve().parents[1]
    copy = tmp_path / "elsewhere" / "etl_duck"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    queries = tmp_path / "elsewhere" / "queries"
    shutil.copytree(sqlfiles.QUERY_DIR, queries)
    monkeypatch.setattr(render, "_PACKAGE", copy, raising=False)
    monkeypatch.setattr(sqlfiles, "QUERY_DIR", queries)
    render._code_fingerprint.cache_clear()
    assert render.code_fingerprint() == real
    # a release that changes only the domain code (awards, MVP, records…)
    scoring = copy / "domain" / "scoring.py"
    scoring.write_text(scoring.read_text() + "\n# a new award rule\n")
    render._code_fingerprint.cache_clear()
    domain_changed = render.code_fingerprint()
    assert domain_changed != real
    # …or only a query
    sql = sorted(queries.glob("*.sql"))[0]
    sql.write_text(sql.read_text() + "\n-- a fixed metric\n")
    render._code_fingerprint.cache_clear()
    assert render.code_fingerprint() not in (real, domain_changed)


def test_a_release_changing_only_a_query_re_renders_the_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile: tuple[Stats, Path],
    fresh_caches: None,
) -> None:  # fmt: skip
    stats, _ = hostile
    out = tmp_path / "site"
    first = build_site(stats, out, SiteOptions(title="Hostile"))
    assert first.published
    queries = tmp_path / "queries"
    shutil.copytree(sqlfiles.QUERY_DIR, queries)
    sql = queries / "session_players.sql"
    if not sql.is_file():
        sql = sorted(queries.glob("*.sql"))[0]
    sql.write_text(sql.read_text() + "\n-- the upgrade's fix\n")
    monkeypatch.setattr(sqlfiles, "QUERY_DIR", queries)
    render._code_fingerprint.cache_clear()
    again = build_site(stats, out, SiteOptions(title="Hostile"))
    assert again.published, again.summary()  # not "up to date"
    assert again.rendered == again.pages - len(ASSETS)  # every page (assets keyed by bytes)


# --------------------------------------------------------------------------- 2. temp folder


def test_a_full_temp_folder_does_not_fail_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile: tuple[Stats, Path],
    fresh_caches: None,
) -> None:  # fmt: skip
    stats, _ = hostile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    def no_space(self: Any, f: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(jinja2.bccache.Bucket, "write_bytecode", no_space)
    report = build_site(stats, tmp_path / "site", SiteOptions(title="Hostile"))
    assert report.published and report.rendered > 50


def test_an_unusable_temp_folder_builds_without_a_template_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile: tuple[Stats, Path],
    fresh_caches: None,
) -> None:  # fmt: skip
    stats, _ = hostile
    not_a_folder = tmp_path / "tmp"
    not_a_folder.write_text("a file where the temp folder should be")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_folder))
    report = build_site(stats, tmp_path / "site", SiteOptions(title="Hostile"))
    assert report.published and report.rendered > 50
    # a damaged cache file is recompiled, not an error
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(cache))
    render.environment.cache_clear()
    build_site(stats, tmp_path / "site2", SiteOptions(title="Hostile"))
    for f in cache.rglob("__jinja2_*.cache"):
        f.write_bytes(f.read_bytes()[:12])  # Jinja's header, then a cut marshal stream
    render.environment.cache_clear()
    report = build_site(stats, tmp_path / "site3", SiteOptions(title="Hostile"))
    assert report.published and report.rendered > 50


# --------------------------------------------------------------------------- 3. direction


def test_no_direction_control_reaches_a_page_the_index_or_a_chart(
    hostile: tuple[Stats, Path],
) -> None:
    stats, site = hostile
    mvp = stats.last_session().mvp
    assert mvp is not None and mvp["name"] == EVIL  # the lake keeps the name as played
    root = site.resolve()
    files = sorted(p for p in root.rglob("*") if p.suffix in (".html", ".json", ".js"))
    assert len(files) > 50
    for f in files:
        assert not BIDI.search(f.read_text()), f.relative_to(root)
    html = session_page(site, stats)
    shown = EVIL.replace("\u202e", "")
    # the name isolated from the numbers after it (a right-to-left name cannot pull them)
    assert f'MVP: <bdi><a href="../players/0A26D447.html">{shown}</a></bdi> — ' in html
    assert shown in (root / "search.json").read_text()


# --------------------------------------------------------------------------- 4. timeline


def test_two_top_players_with_one_clean_name_keep_a_line_each(hostile: tuple[Stats, Path]) -> None:
    stats, site = hostile
    rep = stats.last_session()
    top = dict(zip(rep.players.head(6)["guid"], rep.players.head(6)["name"], strict=True))
    assert top["EDBB5DA9"] == top["5D989160"] == ".olz"
    html = session_page(site, stats)
    svgs = re.findall(r'<svg class="chart lines".*?</svg>(?:<ul class="legend">.*?</ul>)?', html)
    (timeline,) = [s for s in svgs if "DPM per map" in s]
    dpm = dict(zip(rep.players["guid"], rep.players["dpm"], strict=True))
    for guid in ("EDBB5DA9", "5D989160"):
        label = f".olz ({guid})"
        assert f"</span>{label}</li>" in timeline  # the legend tells them apart
        # …and each one's point shows his own DPM (one map: the map's DPM is the evening's)
        assert f"<title>{label}: etl adlernest: {dpm[guid]:,.1f}</title>" in timeline
    assert timeline.count("<circle") == len(top)


SHARED = ("EDBB5DA9", "5D989160")  # both ".olz" once cleaned


def test_every_list_of_names_tells_two_players_with_one_clean_name_apart(
    hostile: tuple[Stats, Path],
) -> None:
    """Boards, the players index, the session's tables, teams and awards, home, records, the
    bar charts and the search index name each of the two ".olz" with his GUID's start, as
    the timeline does; a name nobody shares stays as it is."""
    stats, site = hostile
    root = site.resolve()
    sid = stats.last_session().session_id
    lists = ["index.html", urls.players(), urls.session(sid), urls.records(),
             *(urls.leaderboard(m, w) for m in ("dpm", "kills") for w in ("all", "session"))]  # fmt: skip
    both = 0
    for rel in lists:
        html = (root / rel).read_text()
        for guid in SHARED:
            named = re.findall(rf'<a href="[^"]*players/{guid}\.html">([^<]*)</a>', html)
            assert set(named) <= {f".olz ({guid})"}, (rel, guid, named)
        both += all(f"players/{g}.html" in html for g in SHARED)
        assert "A" * 35 in html or rel == urls.records()
    assert both >= 5  # the players index, the session, the boards
    for rel in (urls.leaderboard("dpm", "all"), urls.session(sid)):  # the bars' labels
        html = (root / rel).read_text()
        bars = re.search(r'<svg class="chart bars".*?</svg>', html, re.S)
        assert bars is not None
        labels = re.findall(r'<text x="134"[^>]*>(?:<title>[^<]*</title>)?([^<]*)</text>', bars[0])
        assert {f".olz ({g})" for g in SHARED} <= set(labels), (rel, labels)
        assert len(labels) == len(set(labels))
    index = {p["guid"]: p for p in json.loads((root / "search.json").read_text())["players"]}
    assert [index[g]["name"] for g in SHARED] == [f".olz ({g})" for g in SHARED]
    assert index["D8423F90"]["name"] == "A" * 35 and index["5D989160"]["aliases"] == []


def test_long_bar_labels_that_start_alike_stay_apart() -> None:
    """A bar's label is cut to the label column; two that would be cut alike (a clan tag and
    a long name, a long name told apart by its GUID) keep their ends instead, and the whole
    label shows on hover."""
    from etl_duck.site import svg

    def shown(labels: list[str]) -> list[str]:
        chart = svg.bars([svg.Bar(t, 1.0) for t in labels], title="t")
        return re.findall(r'<text x="134"[^>]*>(?:<title>[^<]*</title>)?([^<]*)</text>', chart)

    tagged = ["[TAG]LongPlayerName_one", "[TAG]LongPlayerName_two", "[TAG]Short"]
    guids = [".olz the longest one (5D989160)", ".olz the longest one (5D98AAAA)"]
    for labels in (tagged, guids, tagged + guids):
        short = shown(labels)
        assert len(short) == len(labels) == len(set(short)), short
        assert all(len(s) <= 18 for s in short)
    assert shown(tagged)[2] == "[TAG]Short"
    assert shown(["x" * 30]) == ["x" * 17 + "…"]  # alone: its start
    chart = svg.bars([svg.Bar(t, 1.0) for t in tagged], title="t")
    assert all(f"<title>{t}</title>" in chart for t in tagged[:2])


def test_the_records_name_their_holders_as_players(hostile: tuple[Stats, Path]) -> None:
    """Record rows carry the holder's GUID, so two holders of one name are told apart."""
    from etl_duck.site import sections

    stats, _ = hostile
    view = sections.records_view(stats, lambda g: str(g), lambda s: None)
    every = [*view["all_time"], *(r for m in view["maps"] for r in m["records"])]
    rows = [r for r in every if r["holder_link"] in ("7B84BE88", "0A26D447")]
    holders = {r["holder"] for r in rows}
    assert len(holders) == 2, holders
    same = [{**r, "holder": "twin"} for r in rows]
    told = {r["holder"] for r in render.tell_apart(same)}
    assert told == {"twin (7B84BE88)", "twin (0A26D447)"}


# --------------------------------------------------------------------------- 5. phone width


def test_a_long_name_does_not_widen_a_phones_page(hostile: tuple[Stats, Path]) -> None:
    from tests.test_site_browser import CHROMIUM, FLAGS, _why_not

    why = _why_not()
    if why:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    stats, site = hostile
    root = site.resolve()
    pages = [urls.player("D8423F90"), urls.session(stats.last_session().session_id),
             "index.html", "records.html", urls.players()]  # fmt: skip
    wide = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 800})
            for rel in pages:
                page.goto((root / rel).as_uri())
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > 376:
                    wide[rel] = width
        finally:
            browser.close()
    assert not wide, f"wider than a 375 px phone: {wide}"


# --------------------------------------------------------------------------- 6. blank names


def test_a_name_that_shows_nothing_shows_the_guid(hostile: tuple[Stats, Path]) -> None:
    stats, site = hostile
    html = session_page(site, stats)
    assert not re.search(r"<a [^>]*>\s*</a>", html)  # no empty link
    for guid in ("7B84BE88", "1C747DF1"):
        page = (site / urls.player(guid)).read_text()
        assert f"<title>{guid} · Hostile</title>" in page
        assert f"<h1><bdi>{guid}</bdi></h1>" in page
        assert f'<a href="../players/{guid}.html">{guid}</a>' in html
    players = (site / urls.players()).read_text()
    assert not re.search(r"<a [^>]*>\s*</a>", players)
    assert '"name": "7B84BE88"' in (site / "search.json").read_text()


def test_map_names_make_valid_ids(hostile: tuple[Stats, Path]) -> None:
    _, site = hostile
    html = (site / urls.records()).read_text()
    ids = re.findall(r'id="([^"]*)"', html)
    assert any(i.startswith("map-etl") for i in ids)
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", i) for i in ids), ids
    assert len(ids) == len(set(ids))


def test_a_lake_of_only_uncounted_rounds_says_so(tmp_path: Path) -> None:
    stats = lake(tmp_path, hostile_files(tmp_path / "in", {}, (MAP_R2,)))  # a lone round 2
    build_site(stats, tmp_path / "site", SiteOptions(title="Hostile"))
    home = (tmp_path / "site" / "index.html").read_text()
    assert "after the first ingest" not in home
    assert "no round counts yet" in home
    empty = tmp_path / "empty"
    stats = Stats(empty, min_rounds=1)
    build_site(stats, tmp_path / "site2", SiteOptions(title="Hostile"))
    assert "after the first ingest" in (tmp_path / "site2" / "index.html").read_text()


def test_a_team_named_after_a_blank_captain_is_named_by_his_guid() -> None:
    """With the captain's name blank a team was "Team " (and both "Team " when every name
    was blank): the GUID stands in, as it does on his pages."""
    from etl_duck.domain.teams import name_teams

    names = {"a": "^1^2".replace("^1", "").replace("^2", ""), "b": "\u00a0\u200b ", "c": "x"}
    rounds = {"a": 9, "b": 8, "c": 1}
    assert name_teams([{"a", "c"}, {"b"}], rounds, names) == ("Team a", "Team b")


def test_no_alias_that_shows_nothing_and_the_winner_isolated(
    hostile: tuple[Stats, Path],
) -> None:
    stats, site = hostile
    index = json.loads((site / "search.json").read_text())
    (blank,) = [p for p in index["players"] if p["guid"] == "1C747DF1"]
    assert blank["aliases"] == []  # its own invisible name was listed as an alias
    page = (site / urls.player("1C747DF1")).read_text()
    assert "<bdi></bdi>" not in page
    html = session_page(site, stats)
    assert re.search(r"<td class=\"text\"><bdi>[^<]+</bdi>: ", html), "winner not isolated"


def test_the_fingerprint_skips_hidden_files_and_dangling_links(tmp_path: Path) -> None:
    """An editor's lock link (``.#render.py``, pointing nowhere) failed every build."""
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / ".#a.py").symlink_to(tmp_path / "gone")
    (tmp_path / "b.py").symlink_to(tmp_path / "gone-too")
    assert [name for name, _ in render._sources(tmp_path, (".py",), "p")] == ["p/a.py"]


@pytest.mark.parametrize("blank", ["\u3164", "\u2800", "\u115f\u1160", "\ufe0f", "\u00a0\u200b "])
def test_fillers_are_names_that_show_nothing(blank: str) -> None:
    """U+3164 (a common "invisible name"), blank Braille and the like rendered as nothing:
    a team was "Team ㅤ" and a page's title blank."""
    from etl_duck.domain.parse import shows_something
    from etl_duck.domain.teams import name_teams

    assert not shows_something(blank) and shows_something(f"{blank}a")
    assert (
        name_teams([["AAAA1111"], ["BBBB2222"]], {}, {"AAAA1111": blank, "BBBB2222": "x"})[0]
        == "Team AAAA1111"
    )
    assert render.display_name(blank, "AAAA1111") == "AAAA1111"
