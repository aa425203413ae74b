"""Several game servers in one lake: same-named files of two servers are two rounds, each
server has its own sessions, boards cover every server or one, and fetching reads each
server's SFTP folder (two real asyncssh servers serving the same file names)."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from etl_duck import snapshot_path
from etl_duck.bot.protocols import FetcherLike
from etl_duck.cli import app
from etl_duck.cli.fetching import run_fetch
from etl_duck.domain.sessions import session_date_of, session_id_of
from etl_duck.domain.sources import (
    check_server_name,
    label,
    qualify,
    session_offset,
    split,
)
from etl_duck.fetch.group import FetcherGroup, GroupReport
from etl_duck.fetch.poller import Fetcher
from etl_duck.fetch.sftp import FetchConnectionError
from etl_duck.ingest.run import ingest_paths
from etl_duck.pipeline import Ingestor
from etl_duck.query.stats import Stats
from etl_duck.settings import Settings
from etl_duck.synth import Truth, generate
from tests.conftest import REAL
from tests.sftp_server import serve_in_thread

SCRIM = "scrim"
runner = CliRunner()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


# --------------------------------------------------------------------------- names


def test_qualified_names_and_session_ids() -> None:
    name = "2025-01-06-210000-supply-round-1.txt"
    assert qualify(name, "") == name  # the main server's names are unchanged
    assert split(qualify(name, SCRIM)) == (name, SCRIM)
    assert check_server_name("main") == "" and check_server_name(SCRIM) == SCRIM
    for bad in ("Scrim", "2025-01-06", "a/b", "", "x" * 33, "..", "é"):
        if bad == "":
            continue  # "" is the main server
        with pytest.raises(ValueError, match="server name"):
            check_server_name(bad)
    assert label("") == "main" and label(SCRIM) == SCRIM
    from datetime import datetime

    start = datetime(2025, 1, 6, 21, 0, 0)
    ids = {session_id_of(start, s) for s in ("", SCRIM, "public", "event")}
    assert len(ids) == 4  # four servers starting the same second: four sessions
    for s in ("", SCRIM, "public"):
        assert session_date_of(session_id_of(start, s)) == date(2025, 1, 6)
    assert session_offset("") == 0 and session_offset(SCRIM) > 0


# --------------------------------------------------------------------------- the lake


def scrim_copy(data: bytes) -> bytes:
    """The file as the scrim server writes it: its own hostname (H0), same name, same play."""
    _, sep, rest = data.partition(b"\\")
    return b"^1scrim^7.server" + sep + rest


def scrim_folder(files: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for p in files.iterdir():
        (out / p.name).write_bytes(scrim_copy(p.read_bytes()))
    return out


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth, Path]:
    """The same season's files written by two servers (the same names!), ingested as the
    main server and as `scrim`: (data dir, the season's truth, the files)."""
    files = tmp_path_factory.mktemp("season")
    truth = generate(files, seed=11, days=21)
    data = tmp_path_factory.mktemp("two-servers") / "data"
    main = ingest_paths(data, [files])
    scrim_files = scrim_folder(files, tmp_path_factory.mktemp("scrim-season"))
    scrim = ingest_paths(data, [scrim_files], server=SCRIM)
    assert not main.problems and not scrim.problems, (main.summary(), scrim.summary())
    assert not scrim.conflicts  # same names, other server: not versions of one file
    return data, truth, files


def _rounds(data: Path) -> list[tuple[str, int]]:
    snap = snapshot_path(data)
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT server, count(*) FROM read_parquet(?, hive_partitioning = true) "
            "GROUP BY server ORDER BY server",
            [str(snap / "rounds" / "**" / "*.parquet")],
        ).fetchall()
    return [(str(s), int(n)) for s, n in rows]


def test_same_names_on_two_servers_are_two_rounds(
    two_servers: tuple[Path, Truth, Path],
) -> None:
    data, truth, files = two_servers
    n = len(truth.rounds)
    assert _rounds(data) == [("", n), (SCRIM, n)]
    one = sorted(files.iterdir())[0].name
    assert (data / "raw" / one[:10] / one).is_file()  # the main server's raw path, as before
    assert (data / "raw" / SCRIM / one[:10] / one).is_file()


def test_a_byte_for_byte_copy_from_another_server_is_a_duplicate(tmp_path: Path) -> None:
    """A second server configured on a mirror of the first serves the same bytes: the
    ledger counts content once, whatever the name or server."""
    real = sorted(REAL.glob("*.txt"))[:3]
    data = tmp_path / "data"
    ingest_paths(data, real)
    again = ingest_paths(data, real, server=SCRIM)
    assert sorted(again.duplicates) == sorted(qualify(p.name, SCRIM) for p in real)
    assert _rounds(data) == [("", 3)]


def test_boards_over_every_server_or_one(two_servers: tuple[Path, Truth, Path]) -> None:
    data, truth, _ = two_servers
    expected = {g: t["kills"] for g, t in truth.player_totals().items() if t["kills"]}
    stats = Stats(data, min_rounds=0)
    every = stats.leaderboard("kills", "all", limit=1000, min_rounds=0)
    main = stats.leaderboard("kills", "all", limit=1000, min_rounds=0, server="")
    scrim = stats.leaderboard("kills", "all", limit=1000, min_rounds=0, server=SCRIM)
    assert dict(zip(every["guid"], every["value"], strict=True)) == {
        g: 2 * k for g, k in expected.items()
    }
    for board in (main, scrim):
        assert dict(zip(board["guid"], board["value"], strict=True)) == expected
    guid = str(main["guid"][0])
    card, card_scrim = stats.player(guid), stats.player(guid, SCRIM)
    assert card.totals["kills"] == 2 * expected[guid] == 2 * card_scrim.totals["kills"]
    weapons = stats.weapon_stats(guid, "all", SCRIM)
    assert int(weapons["kills"].sum()) <= card_scrim.totals["kills"]
    assert int(stats.weapon_stats(guid)["kills"].sum()) == 2 * int(weapons["kills"].sum())


def test_each_server_has_its_own_sessions(two_servers: tuple[Path, Truth, Path]) -> None:
    data, _, _ = two_servers
    stats = Stats(data)
    every, main, scrim = stats.sessions(), stats.sessions(server=""), stats.sessions(server=SCRIM)
    assert every.height == main.height + scrim.height and main.height == scrim.height > 0
    assert main["start_time"].to_list() == scrim["start_time"].to_list()
    assert set(main["server"]) == {""} and set(scrim["server"]) == {SCRIM}
    assert not set(main["session_id"]) & set(scrim["session_id"])
    assert [session_date_of(s) for s in scrim["session_id"]] == scrim["session_date"].to_list()
    last = stats.session(None, SCRIM)
    assert last.server == SCRIM and last.session_id == scrim["session_id"][0]
    day = main["session_date"][-1]
    rep_main, rep_scrim = stats.session(day, ""), stats.session(day, SCRIM)
    assert rep_main.server == "" and rep_scrim.server == SCRIM
    assert rep_main.players["kills"].sum() == rep_scrim.players["kills"].sum()
    # a session report reads its own server's rounds only
    assert rep_scrim.rounds.height == rep_main.rounds.height


def test_rebuild_from_raw_gives_the_same_lake(
    two_servers: tuple[Path, Truth, Path], tmp_path: Path
) -> None:
    data, _, _ = two_servers
    copy = tmp_path / "data"
    shutil.copytree(data / "raw", copy / "raw")  # raw/ alone is the source of truth
    report = ingest_paths(copy, [], rebuild=True)
    assert not report.problems
    assert _rounds(copy) == _rounds(data)
    a, b = Stats(data), Stats(copy)
    for server in (None, "", SCRIM):
        assert a.sessions(server=server).equals(b.sessions(server=server))
        assert a.leaderboard("dpm", server=server).equals(b.leaderboard("dpm", server=server))


def test_cli_server_option(two_servers: tuple[Path, Truth, Path], tmp_path: Path) -> None:
    data, truth, _ = two_servers
    d = str(data)
    code, out = cli("--data-dir", d, "top", "kills", "--server", SCRIM, "--min-rounds", "0",
                    "--limit", "3", "--json")  # fmt: skip
    assert code == 0, out
    board = json.loads(out)
    assert board["server"] == SCRIM
    expected = sorted((t["kills"] for t in truth.player_totals().values()), reverse=True)[:3]
    assert [r["value"] for r in board["rows"]] == expected
    code, out = cli("--data-dir", d, "sessions", "--server", "main", "--json")
    assert code == 0 and {r["server"] for r in json.loads(out)} == {"main"}
    code, out = cli("--data-dir", d, "sessions")
    assert code == 0 and SCRIM in out  # several servers: a server column
    code, out = cli("--data-dir", d, "session", "last", "--server", SCRIM, "--json")
    assert code == 0 and json.loads(out)["server"] == SCRIM
    code, out = cli("--data-dir", d, "top", "kills", "--server", "No Such")
    assert code == 2 and "server name" in out
    target = tmp_path / "scrim.json"
    code, out = cli("--data-dir", d, "export", "player_totals", "--format", "json",
                    "--param", f"server={SCRIM}", "--out", str(target))  # fmt: skip
    assert code == 0, out
    rows = json.loads(target.read_text())
    assert sum(r["kills"] for r in rows) == sum(t["kills"] for t in truth.player_totals().values())


def test_cli_ingest_server(tmp_path: Path) -> None:
    real = sorted(REAL.glob("*.txt"))[:4]
    folder, scrim = tmp_path / "in", tmp_path / "scrim"
    folder.mkdir()
    for p in real:
        shutil.copy(p, folder / p.name)
    scrim_folder(folder, scrim)
    data = str(tmp_path / "data")
    assert cli("--data-dir", data, "ingest", str(folder))[0] == 0
    # a name neither configured nor in the lake: a typo would keep its rounds away for good
    code, out = cli("--data-dir", data, "ingest", str(scrim), "--server", "scrm")
    assert code == 2 and "no game server 'scrm'" in out and "--new-server" in out, out
    assert _rounds(Path(data)) == [("", len(real))]
    assert not (Path(data) / "raw" / "scrm").exists()
    code, out = cli("--data-dir", data, "ingest", str(scrim), "--server", SCRIM, "--new-server")
    assert code == 0, out
    assert _rounds(Path(data)) == [("", len(real)), (SCRIM, len(real))]
    # known now (its raw/ folder): no flag needed
    code, out = cli("--data-dir", data, "ingest", str(scrim), "--server", SCRIM)
    assert code == 0 and "duplicate" in out, out
    # the lake's own servers are named: often the right spelling (review 131)
    code, out = cli("--data-dir", data, "ingest", str(scrim), "--server", "scrm")
    assert code == 2 and f"the lake holds {SCRIM}" in out, out
    code, out = cli("--data-dir", data, "ingest", str(folder), "--server", "Bad Name")
    assert code == 2 and "server name" in out


def test_cli_ingest_takes_a_configured_server_without_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sorted(REAL.glob("*.txt"))[:2]
    folder = tmp_path / "scrim"
    folder.mkdir()
    for p in real:
        shutil.copy(p, folder / p.name)
    monkeypatch.setenv("ETL_DUCK_SERVERS", json.dumps([{"name": SCRIM, "ssh_host": "h"}]))
    data = str(tmp_path / "data")
    code, out = cli("--data-dir", data, "ingest", str(folder), "--server", SCRIM)
    assert code == 0, out
    assert _rounds(Path(data)) == [(SCRIM, len(real))]


# --------------------------------------------------------------------------- settings


def test_servers_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ETL_DUCK_SSH_HOST", "game.example.org")
    monkeypatch.setenv("ETL_DUCK_SSH_USER", "etl")
    monkeypatch.setenv("ETL_DUCK_SSH_KEY_PASSPHRASE", "hunter2")
    monkeypatch.setenv(
        "ETL_DUCK_SERVERS",
        json.dumps([{"name": SCRIM, "ssh_host": "scrim.example.org", "ssh_port": 2222}]),
    )
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    main, scrim = s.sources()
    assert (main.server_name, main.ssh_host) == ("", "game.example.org")
    assert (scrim.server_name, scrim.ssh_host, scrim.ssh_port) == (SCRIM, "scrim.example.org", 2222)
    assert scrim.ssh_user == "etl" and scrim.ssh_remote_dir == main.ssh_remote_dir  # inherited
    assert "hunter2" not in repr(scrim)  # secrets stay secret in every copy
    for bad in (
        [{"name": SCRIM, "ssh_host": "a"}, {"name": SCRIM, "ssh_host": "b"}],
        [{"name": "main", "ssh_host": "a"}],
        [{"name": "Bad Name", "ssh_host": "a"}],
        [{"name": "x", "ssh_host": "a", "ssh_hots": "typo"}],
    ):
        monkeypatch.setenv("ETL_DUCK_SERVERS", json.dumps(bad))
        with pytest.raises(ValidationError):
            Settings(_env_file=None)  # type: ignore[call-arg]


# --------------------------------------------------------------------------- fetch


def _source(server: Any) -> dict[str, Any]:
    return {
        "name": SCRIM,
        "ssh_host": "127.0.0.1",
        "ssh_port": server.port,
        "ssh_key_path": str(server.client_key_path),
        "ssh_known_hosts": str(server.known_hosts),
        "ssh_remote_dir": server.remote_dir,
    }


def test_fetch_two_servers_with_the_same_file_names(tmp_path: Path) -> None:
    real = sorted(REAL.glob("*.txt"))[:6]
    old = 3600.0
    with (
        serve_in_thread(tmp_path / "main") as a,
        serve_in_thread(tmp_path / "scrim") as b,
    ):
        for p in real[:3]:
            a.write(p.name, p.read_bytes(), age_s=old)
            b.write(p.name, scrim_copy(p.read_bytes()), age_s=old)
        data = tmp_path / "data"
        settings = a.settings(data, servers=[_source(b)])
        assert run_fetch(settings) == 0
        assert _rounds(data) == [("", 3), (SCRIM, 3)]

        # the bot's and `watch`'s fetcher: one group polling both servers at once
        for p in real[3:]:
            a.write(p.name, p.read_bytes(), age_s=old)
        b.write(real[5].name, scrim_copy(real[5].read_bytes()), age_s=old)
        ingestor = Ingestor.from_settings(settings)
        sources = settings.sources()
        group = FetcherGroup([Fetcher(s, ingestor.for_server(s.server_name)) for s in sources])
        as_bot_sees_it: FetcherLike = group  # the bot's protocol (checked by mypy)

        async def poll() -> list[str]:
            async with group:
                report = await as_bot_sees_it.poll_once()
                assert "main:" in report.summary() and f"{SCRIM}:" in report.summary()
                again = await group.poll_once()  # nothing new on either server
                assert again.downloaded == []
                return report.downloaded

        downloaded = asyncio.run(poll())
        assert sorted(downloaded) == sorted(
            [p.name for p in real[3:]] + [qualify(real[5].name, SCRIM)]
        )
        assert group.last_download is not None
        assert _rounds(data) == [("", 6), (SCRIM, 4)]


def test_one_server_down_leaves_the_others_poll_in_the_group_report(tmp_path: Path) -> None:
    """The bot's /sync polls every server at once: one that cannot be reached raised its
    error and the reply showed nothing of what the other server fetched (it was ingested)."""
    real = sorted(REAL.glob("*.txt"))[:2]
    with serve_in_thread(tmp_path / "main") as a, serve_in_thread(tmp_path / "scrim") as b:
        for p in real:
            b.write(p.name, scrim_copy(p.read_bytes()), age_s=3600.0)
        data = tmp_path / "data"
        settings = a.settings(data, servers=[_source(b)])
        sources = settings.sources()
        down = sources[0].model_copy(update={"ssh_port": _free_port()})  # main: nobody there
        ingestor = Ingestor.from_settings(settings)
        group = FetcherGroup(
            [Fetcher(s, ingestor.for_server(s.server_name)) for s in (down, sources[1])]
        )

        async def poll() -> GroupReport:
            async with group:
                return await group.poll_once()

        report = asyncio.run(poll())
        assert sorted(report.downloaded) == sorted(qualify(p.name, SCRIM) for p in real)
        assert not report.ok and "main: not reached: " in report.summary()
        assert f"{SCRIM}: 2 downloaded" in report.summary()
        # every server down: the error itself, as with one server
        only_down = FetcherGroup([Fetcher(down, ingestor.for_server(""))])
        with pytest.raises(FetchConnectionError):
            asyncio.run(only_down.poll_once())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def two_server_site(
    two_servers: tuple[Path, Truth, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """``etl-duck site`` of the two-server lake (read-only: the tests only look)."""
    data, _, _ = two_servers
    site = tmp_path_factory.mktemp("two-server-site") / "www"
    code, out = cli("--data-dir", str(data), "site", "--out", str(site))
    assert code == 0, out
    return site


def test_site_names_the_server_of_each_session(two_server_site: Path) -> None:
    """Both servers played the same evening: the session lists get a server column and a
    scrim session's page says so (before, two identical rows and headings)."""
    import re

    site = two_server_site
    listing = (site / "sessions" / "index.html").read_text()
    assert "<th>Server</th>" in listing
    cells = re.findall(r'<td data-stat="server">([^<]*)</td>', listing)
    assert set(cells) == {"main", SCRIM}, cells
    pages = [p for p in (site / "sessions").glob("*.html") if p.stem.isdigit() and len(p.stem) > 4]
    headings = [re.search(r"<h1>(.*?)</h1>", p.read_text(), re.S) for p in pages]
    labelled = [h.group(1) for h in headings if h and f"on {SCRIM}" in h.group(1)]
    plain = [h.group(1) for h in headings if h and "<span" not in h.group(1)]
    assert labelled and plain and len(labelled) == len(plain), (len(labelled), len(plain))


def test_site_has_each_servers_leaderboards_and_sessions(
    two_servers: tuple[Path, Truth, Path], two_server_site: Path
) -> None:
    """Several servers: each gets its home, session lists and leaderboards under
    servers/<name>/ (main for the first), equal to the CLI's ``--server`` answers, linked
    from the community's home; every link of the site resolves."""
    import re

    from etl_duck.site import publish, urls
    from tests import sitecheck

    data, _, _ = two_servers
    site = two_server_site
    pages = set(json.loads((site / publish.MANIFEST).read_text())["pages"])
    home = (site / "index.html").read_text()
    for server, name in (("", "main"), (SCRIM, SCRIM)):
        scope = urls.Scope(server)
        assert scope.prefix == f"servers/{name}/"
        assert {urls.home(scope), urls.sessions(scope), urls.leaderboards(scope),
                urls.leaderboard("kills", "all", scope)} <= pages  # fmt: skip
        assert urls.leaderboard("kills", "session", scope) not in pages  # the community's
        assert f'href="{urls.home(scope)}"' in home
        code, out = cli("--data-dir", str(data), "top", "kills", "--server", name,
                        "--min-rounds", "10", "--limit", "50", "--json")  # fmt: skip
        assert code == 0, out
        cli_rows = [(r["guid"], r["value"]) for r in json.loads(out)["rows"]]
        board = (site / urls.leaderboard("kills", "all", scope)).read_text()
        page_rows = re.findall(
            r'<tr data-guid="([^"]+)">.*?data-stat="value" data-value="([^"]+)"', board, re.S
        )
        assert [(g, int(float(v))) for g, v in page_rows] == cli_rows and cli_rows
        code, out = cli("--data-dir", str(data), "sessions", "--server", name, "--json")
        listed = {r["session_id"] for r in json.loads(out)}
        year_pages = [site / p for p in pages if p.startswith(f"{scope.prefix}sessions/2")]
        linked = {  # the link's digits are the JSON's text: both exact
            m
            for p in year_pages
            for m in re.findall(r'href="(?:\.\./)*sessions/(\d+)\.html"', p.read_text())
        }
        assert linked == listed and listed  # each server's session list: its sessions, linked once
    root = site.resolve()
    for page in sitecheck.all_pages(site):
        for target in sitecheck.local_links(page, root):
            assert target.is_file(), f"{page.relative_to(root)} links to missing {target}"


def test_bot_commands_take_a_server(two_servers: tuple[Path, Truth, Path], tmp_path: Path) -> None:
    """/leaderboard, /stats, /last_session, /session and /sessions take ``server``: the
    answers equal the CLI's ``--server`` ones, the titles name the server, autocomplete
    offers the lake's servers and an unknown one is the user's error naming them."""
    from etl_duck.bot import autocomplete as ac
    from tests.bot_fakes import FakeInteraction, bot_running, invoke, run, table_rows

    data, _, _ = two_servers
    code, out = cli("--data-dir", str(data), "top", "kills", "--server", SCRIM, "--limit", "10",
                    "--json")  # fmt: skip
    want = [(r["name"], r["value"]) for r in json.loads(out)["rows"]]
    assert code == 0, out
    code, out = cli("--data-dir", str(data), "player", want[0][0], "--server", SCRIM, "--json")
    assert code == 0, out
    card_kills = json.loads(out)["kills"]
    code, out = cli("--data-dir", str(data), "sessions", "--server", "main", "--json")
    assert code == 0, out
    main_sessions = json.loads(out)
    code, out = cli("--data-dir", str(data), "session", "last", "--server", "main", "--json")
    assert code == 0, out
    main_last = json.loads(out)["session_date"]

    async def main() -> dict[str, Any]:
        async with bot_running(data, tmp_path / "links.db") as bot:
            i = FakeInteraction(bot)
            return {
                "choices": [c.value for c in await ac.servers(i, "")],  # type: ignore[arg-type]
                "board": await invoke(bot, "leaderboard", stat="kills", server=SCRIM),
                "every": await invoke(bot, "leaderboard", stat="kills"),
                "card": await invoke(bot, "stats", player=want[0][0], server=SCRIM),
                "last": await invoke(bot, "last_session", server="main"),
                "list": await invoke(bot, "sessions", server="main"),
                "unknown": await invoke(bot, "leaderboard", stat="kills", server="public"),
                "bad": await invoke(bot, "sessions", server="Not A Name"),
            }

    got = run(main())
    assert got["choices"] == ["main", SCRIM]
    board = got["board"].last.embed
    assert board.title == f"Kills — all time · server {SCRIM}"
    rows = table_rows(str(board.description), 2)
    assert [int(r[1].replace(",", "")) for r in rows] == [v for _, v in want]
    every = table_rows(str(got["every"].last.embed.description), 2)
    assert int(every[0][1].replace(",", "")) > want[0][1]  # both servers' kills together
    card = got["card"].last.embed
    assert card.title is not None and card.title.endswith(f"· server {SCRIM}")
    kills = next(f.value for f in card.fields if f.name == "Kills")
    assert int(kills.replace(",", "")) == card_kills
    assert main_last in str(got["last"].last.embed.title)
    listing = got["list"].last.embed
    assert listing.title == "Sessions · server main"
    assert str(listing.description).count("\n") >= min(len(main_sessions), 10) - 1
    for key in ("unknown", "bad"):
        assert got[key].last.ephemeral  # the user's mistake, told to him alone
    assert "public" in str(got["unknown"].last.content) and f"main, {SCRIM}" in str(
        got["unknown"].last.content
    )
    assert "server name" in str(got["bad"].last.content)


def test_bot_links_point_at_a_servers_pages() -> None:
    from etl_duck.site.urls import SiteLinks

    links = SiteLinks("https://stats.example.org/et")
    base = "https://stats.example.org/et/servers"
    assert links.leaderboard("kills", "all", SCRIM) == f"{base}/{SCRIM}/leaderboards/kills-all.html"
    assert links.leaderboard("kills", "all", "") == f"{base}/main/leaderboards/kills-all.html"
    assert links.leaderboard("kills", "session", SCRIM) is None  # no such page for one server
    assert links.server(SCRIM) == f"{base}/{SCRIM}/index.html"
    assert SiteLinks(None).server(SCRIM) is None


# ------------------------------------------------- two servers that played different games


@pytest.fixture(scope="module")
def distinct_servers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Main: three weeks from 2025-01-06. Scrim: other players, 2024-12-20 → 12-31, so
    its last session, weeks and months are not the community's."""
    main_files = tmp_path_factory.mktemp("main-season")
    generate(main_files, seed=11, days=21)
    scrim_files = tmp_path_factory.mktemp("scrim-season")
    generate(scrim_files, seed=5, start=date(2024, 12, 20), days=12)
    data = tmp_path_factory.mktemp("distinct") / "data"
    assert not ingest_paths(data, [main_files]).problems
    assert not ingest_paths(data, [scrim_files], server=SCRIM).problems
    return data


def _cli_json(data: Path, *args: str) -> Any:
    code, out = cli("--data-dir", str(data), *args, "--json")
    assert code == 0, out
    return json.loads(out)


def test_each_servers_site_pages_show_that_servers_games(
    distinct_servers: Path, tmp_path: Path
) -> None:
    import re

    from etl_duck.site import urls

    data = distinct_servers
    site = tmp_path / "www"
    code, out = cli("--data-dir", str(data), "site", "--out", str(site))
    assert code == 0, out
    boards = {}
    for server, name in (("", "main"), (SCRIM, SCRIM)):
        scope = urls.Scope(server)
        want = _cli_json(data, "top", "kills", "--server", name, "--limit", "50")["rows"]
        page = (site / urls.leaderboard("kills", "all", scope)).read_text()
        rows = re.findall(r'<tr data-guid="([^"]+)">', page)
        assert rows == [r["guid"] for r in want] and rows
        boards[name] = set(rows)
        # "this week" counts from the server's own last session: a board, not an empty page
        week = _cli_json(data, "top", "kills", "--server", name, "--window", "week")
        page = (site / urls.leaderboard("kills", "week", scope)).read_text()
        assert re.findall(r'<tr data-guid="([^"]+)">', page)[:10] == [
            r["guid"] for r in week["rows"]
        ]
        assert week["rows"], name
        listed = {s["session_id"] for s in _cli_json(data, "sessions", "--server", name)}
        linked = {
            m
            for p in (site / scope.prefix / "sessions").glob("2*.html")
            for m in re.findall(r'href="(?:\.\./)*sessions/(\d+)\.html"', p.read_text())
        }
        assert linked == listed
    assert not boards["main"] & boards[SCRIM]  # other players: nothing borrowed


def test_bot_answers_for_one_server_are_that_servers(
    distinct_servers: Path, tmp_path: Path
) -> None:
    from tests.bot_fakes import bot_running, invoke, run, table_rows

    data = distinct_servers
    base = "https://stats.example.org/et/"
    last_scrim = _cli_json(data, "session", "last", "--server", SCRIM)
    board = _cli_json(data, "top", "kills", "--server", SCRIM, "--window", "session")

    async def main() -> dict[str, Any]:
        async with bot_running(data, tmp_path / "links.db", site_url=base) as bot:
            return {
                "board": await invoke(
                    bot, "leaderboard", stat="kills", window="session", server=SCRIM
                ),
                "last": await invoke(bot, "last_session", server=SCRIM),
                "none": await invoke(bot, "session", date="2024-12-31", server="main"),
                "list": await invoke(bot, "sessions", server=SCRIM),
                "card": await invoke(bot, "stats", player=board["rows"][0]["guid"], server=SCRIM),
            }

    got = run(main())
    embed = got["board"].last.embed
    assert f"session of {last_scrim['session_date']}" in str(embed.title)
    rows = table_rows(str(embed.description), 2)
    assert [int(r[1].replace(",", "")) for r in rows] == [r["value"] for r in board["rows"]][:10]
    assert embed.url is None  # the site has no page for one server's last session
    title = str(got["last"].last.embed.title)
    assert last_scrim["session_date"][:4] in title and f"server {SCRIM}" in title
    none = got["none"].last
    assert none.ephemeral and "on server main" in str(none.content or none.embeds[0].description)
    assert got["list"].last.embed.url == f"{base}servers/{SCRIM}/sessions/index.html"
    fields = {f.name for f in got["card"].last.embed.fields}
    assert "Personal bests (every server)" in fields


def test_a_one_server_lake_links_the_community_pages(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.bot_fakes import bot_running, invoke, run, template_lake

    base = "https://stats.example.org/et/"
    data = template_lake(tmp_path_factory)

    async def main() -> Any:
        async with bot_running(data, tmp_path / "links.db", site_url=base) as bot:
            return (
                await invoke(bot, "leaderboard", stat="kills", server="main"),
                await invoke(bot, "sessions", server="main"),
            )

    board, listing = run(main())
    assert board.last.embed.url == f"{base}leaderboards/kills-all.html"
    assert listing.last.embed.url == f"{base}sessions/index.html"


def test_the_query_api_counts_a_servers_windows_from_its_own_sessions(
    distinct_servers: Path,
) -> None:
    from etl_duck.query.stats import Stats

    stats = Stats(distinct_servers, min_rounds=1)
    week = stats.resolve_window("week", server=SCRIM)
    assert week.date_from <= date(2024, 12, 31) <= week.date_to  # scrim's last evening
    by_name = stats.leaderboard("kills", "week", server=SCRIM)
    assert not by_name.is_empty()
    assert by_name.equals(stats.leaderboard("kills", week, server=SCRIM))
    guid = str(by_name["guid"][0])
    assert stats.weapon_stats(guid, "week", SCRIM).equals(stats.weapon_stats(guid, week, SCRIM))
    assert not stats.weapon_stats(guid, "week", SCRIM).is_empty()
    # a date given: no server lookup (even for a server with no sessions)
    given = stats.resolve_window("week", as_of=date(2025, 1, 10), server="public")
    assert given.date_from == date(2025, 1, 6)


def test_cli_names_the_servers_when_one_is_unknown(two_servers: tuple[Path, Truth, Path]) -> None:
    data, _, _ = two_servers
    for args in (("top", "kills"), ("top", "kills", "--window", "week"), ("sessions",),
                 ("session", "last"), ("player", "Elm")):  # fmt: skip
        code, out = cli("--data-dir", str(data), *args, "--server", "public")
        assert code == 2, (args, out)
        assert "no game server 'public'" in out and f"main, {SCRIM}" in out, out
