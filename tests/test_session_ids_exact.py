"""Another game server's session ids are 18 digits (its code × 10^14 + the start time), past
2^53: a JSON number of that size comes back rounded from JavaScript's JSON.parse or jq 1.6,
and `etl-duck session <the rounded id>` found no session. Every JSON etl-duck writes holds
session ids as strings (README "JSON ids"); the site's links and the bot's autocomplete
carry the exact digits. ``json.loads(text, parse_int=float)`` reads numbers as JavaScript
does.

Also: `etl-duck player X --server S` listed the player's names with their rounds on every
server; its aliases are now the server's, as the rest of that card."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from etl_duck.cli import app
from etl_duck.ingest.run import ingest_paths
from tests.bot_fakes import FakeInteraction, bot_running, invoke, lake_sql, run
from tests.conftest import REAL

SCRIM = "scrim"
runner = CliRunner()


def js_loads(text: str) -> Any:
    """JSON read as JavaScript reads it: every number a double."""
    return json.loads(text, parse_int=float)


def cli(data: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["--data-dir", str(data), *args])
    return res.exit_code, res.output


def cli_json(data: Path, *args: str) -> str:
    code, out = cli(data, *args, "--json")
    assert code == 0, out
    return out


def numbers_a_double_changes(obj: Any, path: str = "") -> list[str]:
    """Where ``obj`` (read exactly) holds a whole number a double would round."""
    if isinstance(obj, dict):
        return [b for k, v in obj.items() for b in numbers_a_double_changes(v, f"{path}.{k}")]
    if isinstance(obj, list):
        return [b for v in obj for b in numbers_a_double_changes(v, f"{path}[]")]
    return [path] if type(obj) is int and int(float(obj)) != obj else []


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real files as the main server, and the same files written by a second server
    (its own host name: other bytes, same names, same players)."""
    scrim = tmp_path_factory.mktemp("scrim-files")
    for p in REAL.iterdir():
        if p.suffix == ".txt":
            _, sep, rest = p.read_bytes().partition(b"\\")
            (scrim / p.name).write_bytes(b"^1scrim^7.server" + sep + rest)
    data = tmp_path_factory.mktemp("exact-ids") / "data"
    ingest_paths(data, [REAL])  # the real files hold a few problems of their own, kept
    ingest_paths(data, [scrim], server=SCRIM)
    return data


def scrim_ids(data: Path) -> set[int]:
    """The scrim server's sessions with a counted round (those listed and with a page)."""
    query = "SELECT DISTINCT session_id FROM {t} WHERE server = 'scrim' AND counted"
    rows = lake_sql(data, query, "rounds")
    ids = {int(r[0]) for r in rows}
    assert ids and all(i > 2**53 for i in ids)  # the case this file is about
    return ids


# --------------------------------------------------------------------------- CLI


def test_a_listed_id_read_as_javascript_reads_it_opens_its_session(two_servers: Path) -> None:
    listed = js_loads(cli_json(two_servers, "sessions", "--server", SCRIM))
    assert {s["session_id"] for s in listed} == {str(i) for i in scrim_ids(two_servers)}
    for s in listed:
        sid = s["session_id"]
        assert isinstance(sid, str), s  # a number here is rounded by the reader
        got = js_loads(cli_json(two_servers, "session", str(sid)))
        assert got["session_id"] == sid and got["server"] == SCRIM


@pytest.mark.parametrize(
    "command",
    [
        ["sessions"],
        ["session"],
        ["records"],
        ["highlights"],
        ["player", "D8423F90", "--server", SCRIM],
        ["bests", "D8423F90"],
        ["top", "kills", "--window", "session", "--server", SCRIM],
    ],
)
def test_no_cli_json_holds_a_number_javascript_rounds(
    two_servers: Path, command: list[str]
) -> None:
    out = cli_json(two_servers, *command)
    assert numbers_a_double_changes(json.loads(out)) == [], command


def test_the_json_export_holds_exact_session_ids(two_servers: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    code, said = cli(
        two_servers, "export", "session_list", "--format", "json", "--out", str(out),
        "--param", f"server={SCRIM}",
    )  # fmt: skip
    assert code == 0, said
    rows = js_loads(out.read_text())
    assert {r["session_id"] for r in rows} == {str(i) for i in scrim_ids(two_servers)}
    for query in ("session_rounds", "social_sessions"):
        code, said = cli(two_servers, "export", query, "--format", "json", "--out", str(out))
        assert code == 0, said
        assert numbers_a_double_changes(json.loads(out.read_text())) == [], query


# --------------------------------------------------------------------------- site


def test_the_sites_links_and_data_carry_exact_session_ids(
    two_servers: Path, tmp_path: Path
) -> None:
    site = tmp_path / "www"
    code, out = cli(two_servers, "site", "--out", str(site))
    assert code == 0, out
    for data_file in ("search.json", "search.js"):
        text = (site / data_file).read_text()
        body = (
            text[text.index("=") + 1 :].rstrip().rstrip(";") if data_file.endswith("js") else text
        )
        assert numbers_a_double_changes(json.loads(body)) == [], data_file
    linked = {
        int(m)
        for page in site.rglob("*.html")
        for m in re.findall(r'href="(?:\.\./)*(?:[a-z-]+/)*sessions/(\d+)\.html"', page.read_text())
    }
    wanted = scrim_ids(two_servers)
    assert wanted <= linked  # every scrim session linked by its exact id …
    for sid in wanted:  # … and its page is there
        assert any(site.rglob(f"sessions/{sid}.html")), sid


# --------------------------------------------------------------------------- bot


def test_the_bots_session_choices_carry_exact_ids(two_servers: Path, tmp_path: Path) -> None:
    from etl_duck.bot import autocomplete as ac

    wanted = max(scrim_ids(two_servers))

    async def main() -> tuple[list[Any], FakeInteraction]:
        async with bot_running(two_servers, tmp_path / "links.db") as bot:
            inter = FakeInteraction(bot)
            choices = await ac.session_dates(inter, str(wanted))  # type: ignore[arg-type]
            # Discord sends the chosen value back as the option: what /session gets
            sent = js_loads(json.dumps(choices[0].to_dict()))["value"]
            return choices, await invoke(bot, "session", date=sent)

    choices, answer = run(main())
    assert [c.value for c in choices] == [str(wanted)]
    assert str(answer.last.embed.footer.text).startswith(f"session {wanted}"), answer.last


# --------------------------------------------------------------------------- aliases


def test_a_servers_card_lists_the_names_played_there(two_servers: Path) -> None:
    """The same files on two servers: each name's rounds on one server are half its
    rounds on every server, and the counts are that server's rows (all rows but bots,
    the rule of the card over every server)."""
    guid = "D8423F90"
    every = json.loads(cli_json(two_servers, "player", guid))["aliases"]
    rows = lake_sql(
        two_servers,
        f"SELECT server, name, count(*) FROM {{t}} WHERE guid = '{guid}' AND NOT is_bot "
        "GROUP BY ALL",
    )
    assert {(a["name"], a["rounds"]) for a in every} == {
        (n, sum(c for _, m, c in rows if m == n)) for _, n, _ in rows
    }
    for server, shown in (("main", ""), (SCRIM, SCRIM)):
        card = json.loads(cli_json(two_servers, "player", guid, "--server", server))
        got = {(a["name"], a["rounds"]) for a in card["aliases"]}
        assert got == {(n, c) for s, n, c in rows if s == shown}, server
        assert got == {(a["name"], a["rounds"] // 2) for a in every}, server
