"""Records, personal bests and their previous holders are dated by their session, not by the
calendar day of the round's end: a session dated 2025-12-19 that runs past midnight sets
records and personal bests at 00:10–00:54, and another evening is dated 2025-12-20. Every
place that shows the date of one — the CLI's ``records``, ``bests`` and ``highlights`` (and
``--json``), the site's records and player pages, the bot's records, card and post texts —
shows 2025-12-19, and that date opens the session the round was played in (``etl-duck
session DATE``, the bot's /session). Shown as the round's calendar day, 2025-12-20 opened the
other evening."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from etl_duck.bot.embeds import player as player_embeds
from etl_duck.bot.embeds import social as social_embeds
from etl_duck.bot.format import esc
from etl_duck.cli import app
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from etl_duck.site import SiteOptions, build_site, urls
from tests import sitecheck
from tests.conftest import REAL

#: real fixture pairs (round 1, round 2), copied under new timestamps
ESCAPE = ("2025-10-02-220201-te_escape2-round-1.txt", "2025-10-02-220708-te_escape2-round-2.txt")
ADLERNEST = ("2025-10-02-211808-etl_adlernest-round-1.txt",
             "2025-10-02-212249-etl_adlernest-round-2.txt")  # fmt: skip
BREWDOG = ("2025-10-02-224221-et_brewdog-round-1.txt", "2025-10-02-224632-et_brewdog-round-2.txt")
FROSTBITE = ("2025-10-02-225254-etl_frostbite-round-1.txt",
             "2025-10-02-225707-etl_frostbite-round-2.txt")  # fmt: skip

NIGHT = "2025-12-19"  # the session that crosses midnight
NEXT = "2025-12-20"  # its rounds' calendar day after midnight, and another evening's date
SMETARSKI = "1C747DF1"  # his best kills in a round: 9, on et_brewdog at 00:10


def _copy(folder: Path, src: str, stamp: str, tag: str) -> None:
    """``src`` under the name of ``stamp``, its host name tagged (unique bytes per copy)."""
    first, rest = (REAL / src).read_bytes().split(b"\n", 1)
    fields = first.split(b"\\")
    fields[0] += tag.encode()
    (folder / f"{stamp}-{src.split('-', 4)[4]}").write_bytes(b"\\".join(fields) + b"\n" + rest)


def _files(folder: Path) -> Path:
    folder.mkdir()
    pairs: list[tuple[tuple[str, str], str, str]] = [
        # ten evenings of history (a personal best needs 20 rounds of it)
        *((ESCAPE, f"2025-12-{d:02d}-210000", f"2025-12-{d:02d}-210507") for d in range(1, 11)),
        # the night: one map before midnight, two after
        (ADLERNEST, f"{NIGHT}-234000", f"{NIGHT}-234441"),
        (BREWDOG, f"{NEXT}-001000", f"{NEXT}-001411"),
        (FROSTBITE, f"{NEXT}-005000", f"{NEXT}-005413"),
        # the evening of the 20th: the history map again, no record, no best
        (ESCAPE, f"{NEXT}-210000", f"{NEXT}-210507"),
    ]
    for i, (pair, first, second) in enumerate(pairs):
        _copy(folder, pair[0], first, f"r{i}a")
        _copy(folder, pair[1], second, f"r{i}b")
    return folder


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data dir, site) of the scenario, built once."""
    base = tmp_path_factory.mktemp("records-dates")
    data = base / "data"
    ingest_paths(data, [_files(base / "in")])
    build_site(Stats(data, min_rounds=1), base / "site", SiteOptions(title="Test"))
    return data, base / "site"


def cli(data: Path, *args: str) -> str:
    out = CliRunner().invoke(app, ["--data-dir", str(data), *args])
    assert out.exit_code == 0, out.output
    return out.output


def cli_json(data: Path, *args: str) -> Any:
    return json.loads(cli(data, *args, "--json"))


def night_id(data: Path) -> int:
    (sid,) = [s["session_id"] for s in cli_json(data, "sessions") if s["session_date"] == NIGHT]
    return int(sid)


def opens(data: Path, day: str) -> int:
    """The session ``etl-duck session DAY`` opens."""
    return int(cli_json(data, "session", day)["session_id"])


def test_the_scenario_sets_records_and_a_best_after_midnight(lake: tuple[Path, Path]) -> None:
    data, _ = lake
    sid = night_id(data)
    assert opens(data, NEXT) != sid  # the 20th is another evening
    after = [r for r in cli_json(data, "records") if r["when"].startswith(NEXT)]
    assert after and {r["session_id"] for r in after} == {str(sid)}  # JSON ids are text
    (best,) = [b for b in cli_json(data, "bests", SMETARSKI)["bests"] if b["kind"] == "round_kills"]
    assert best["when"].startswith(NEXT) and best["session_id"] == str(sid)
    events = cli_json(data, "highlights", NIGHT)
    assert any(e["scope"] == "personal" and NEXT in e["file_name"] for e in events)
    assert any(e["scope"] == "etl_frostbite" and NEXT in e["file_name"] for e in events)


def test_cli_records_and_bests_show_the_session_date(lake: tuple[Path, Path]) -> None:
    data, _ = lake
    sid = night_id(data)
    # nothing was set in the evening of the 20th: no record or best shows its date
    assert NEXT not in cli(data, "records") and NIGHT in cli(data, "records")
    assert NEXT not in cli(data, "records", "et_brewdog")
    assert NEXT not in cli(data, "bests", SMETARSKI) and NIGHT in cli(data, "bests", SMETARSKI)
    records = cli_json(data, "records")
    for r in records:  # the date shown opens the record's session
        assert opens(data, r["session_date"]) == int(r["session_id"]), r
    assert {r["session_date"] for r in records if r["session_id"] == str(sid)} == {NIGHT}
    for b in cli_json(data, "bests", SMETARSKI)["bests"]:
        assert opens(data, b["session_date"]) == int(b["session_id"]), b
        assert "when" in b and "map_name" in b  # the fields before stay


def test_highlights_date_the_previous_holder_by_his_session(lake: tuple[Path, Path]) -> None:
    data, _ = lake
    shown = cli(data, "highlights", NIGHT)
    # frostbite's completion at 00:54 beat the one at 00:50: "was 4:27 by …, 2025-12-19"
    assert NEXT not in shown and f", {NIGHT})" in shown.replace("\n", " ")
    events = cli_json(data, "highlights", NIGHT)
    assert {e["session_date"] for e in events} == {NIGHT}
    (record,) = [e for e in events if e["scope"] == "etl_frostbite"]
    assert record["previous_date"] == NIGHT and f", {NIGHT})" in record["text"]
    assert {"key", "kind", "holder", "value", "previous", "file_name", "text"} <= set(record)


def test_site_records_and_bests_link_the_session_under_its_date(lake: tuple[Path, Path]) -> None:
    data, site = lake
    sid = night_id(data)
    html = (site / urls.records()).read_text()
    assert NEXT not in html
    for r in cli_json(data, "records"):
        day = r["session_date"]
        assert f'href="sessions/{r["session_id"]}.html">{day}</a>' in html, r
        # the linked page is the session of that date
        assert f"Session {day}" in (site / urls.session(r["session_id"])).read_text()
    assert f'href="sessions/{sid}.html">{NIGHT}</a>' in html
    page = sitecheck.parse(site / urls.player(SMETARSKI))
    assert page.values["data-best=round_kills"]["day"] == NIGHT
    player_html = (site / urls.player(SMETARSKI)).read_text()
    assert f'href="../sessions/{sid}.html">{NIGHT}</a>' in player_html


def test_bot_embeds_show_the_session_date(lake: tuple[Path, Path]) -> None:
    data, _ = lake
    stats = Stats(data, min_rounds=1)
    sid = night_id(data)
    # /records
    rows = stats.records()
    texts = [str(f.value) for e in social_embeds.records(rows, None) for f in e.fields]
    assert NEXT not in "\n".join(texts) and f"({NIGHT})" in "\n".join(texts)
    for r in rows:  # /session with the date shown opens the record's session (as the bot's)
        assert stats.session_id_for(r["session_date"])[0] == r["session_id"], r
    # /stats: the card's personal bests
    _, _, bests = stats.personal_bests(SMETARSKI)
    text = player_embeds.bests_text(bests)
    assert NEXT not in text and f"({esc('et_brewdog')}, {NIGHT})" in text
    # the round posts and the digest: what the night set
    events = stats.session_events(sid)
    said = [e.text(esc) for e in events]
    assert NEXT not in "\n".join(said)
    (record,) = [e for e in events if e.scope == "etl_frostbite"]
    assert record.previous_date == date.fromisoformat(NIGHT)
    assert record.previous_session_id == sid and f", {NIGHT})" in record.text(esc)
    assert {e.session_date for e in events} == {date.fromisoformat(NIGHT)}
    assert all(stats.session_id_for(e.session_date)[0] == sid for e in events)
