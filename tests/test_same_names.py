"""Two players of one name on one answer are told apart everywhere a list names them (as
the rating board and the site do): the CLI's leaderboard, session and records, the bot's
leaderboard, session, digest and post embeds — "vid (D842)" next to "vid (5D98)", and a
GUID-less client (P0 NO_GUID: his GUID is made from his name) "vid (no GUID)". The JSON
keeps the stored name and the GUID."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from etl_duck.cli import app
from tests.conftest import REAL

FILES = ("2025-09-24-233255-te_escape2-round-1.txt", "2025-09-24-233657-te_escape2-round-2.txt")
REAL_VID = "D8423F90"  # vid, as he is
NAMESAKE = "5D989160"  # .olz renamed "vid"
GUIDLESS = "2B5938F5"  # plays without a GUID (P0 NO_GUID) as "Vid"
SHOWN = {"vid (D842)", "vid (5D98)", "Vid (no GUID)"}


def rewrite(src: Path, dst: Path) -> None:
    """The round with NAMESAKE renamed vid and GUIDLESS's GUID a placeholder, named Vid."""
    lines = src.read_bytes().split(b"\n")
    for i, line in enumerate(lines[1:], 1):
        parts = line.split(b"\\")
        if len(parts) >= 5 and parts[0].decode() == NAMESAKE:
            parts[1] = b"vid"
        elif len(parts) >= 5 and parts[0].decode() == GUIDLESS:
            parts[0], parts[1] = b"NO_GUID", b"Vid"
        lines[i] = b"\\".join(parts)
    dst.write_bytes(b"\n".join(lines))


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from etl_duck.ingest.run import ingest_paths

    files = tmp_path_factory.mktemp("same-names-files")
    for name in FILES:
        rewrite(REAL / name, files / name)
    data = tmp_path_factory.mktemp("same-names") / "data"
    ingest_paths(data, [files])
    return data


def cli(lake: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--data-dir", str(lake), *args])
    assert result.exit_code == 0, result.output
    return result.output


def shown_vids(text: str) -> set[str]:
    import re

    return set(re.findall(r"[vV]id \((?:no GUID|[0-9A-F]{4,8})\)", text))


def test_labels_tell_a_guidless_player_apart_in_words() -> None:
    from etl_duck.domain.parse import guidless_identity
    from etl_duck.query.rating import labels

    nog = guidless_identity("vid")
    assert labels([(REAL_VID, "vid"), (nog, "vid")]) == {
        REAL_VID: "vid (D842)",
        nog: "vid (no GUID)",
    }
    assert labels([(nog, "vid"), ("ABCD1234", "x")]) == {nog: "vid", "ABCD1234": "x"}
    # two GUID-less of one name (any case): the made GUIDs' starts after the words
    two = labels([("NOGUID97D6ECB49C", "vid"), ("NOGUID1234ABCD00", "Vid")])
    assert two == {
        "NOGUID97D6ECB49C": "vid (no GUID 97D6)",
        "NOGUID1234ABCD00": "Vid (no GUID 1234)",
    }


def test_cli_top_session_and_records_tell_namesakes_apart(lake: Path) -> None:
    top = cli(lake, "top", "kills", "--min-rounds", "0", "--limit", "20")
    assert shown_vids(top) == SHOWN, top
    session = cli(lake, "session", "last")
    assert shown_vids(session) == SHOWN, session
    # the JSON keeps the stored name and the GUID
    rows = json.loads(cli(lake, "top", "kills", "--min-rounds", "0", "--limit", "20", "--json"))
    vids = {(r["guid"][:4], r["name"]) for r in rows["rows"] if r["name"].lower() == "vid"}
    assert vids == {("D842", "vid"), ("5D98", "vid"), ("NOGU", "Vid")}


def test_bot_embeds_tell_namesakes_apart(lake: Path) -> None:
    from etl_duck.bot.embeds import board, posts, session
    from etl_duck.bot.embeds import scoreboard as live
    from etl_duck.domain.metrics import resolve_metric
    from etl_duck.query.stats import Stats

    def text(*embeds: object) -> str:
        return json.dumps([e.to_dict() for e in embeds], ensure_ascii=False)  # type: ignore[attr-defined]

    stats = Stats(lake)
    w = stats.resolve_window("all")
    top = stats.leaderboard("kills", w, 20, 0)
    assert (
        shown_vids(text(*board.leaderboard_pages(top, resolve_metric("kills"), "all", 0))) == SHOWN
    )
    rep = stats.last_session()
    assert shown_vids(text(session.top(rep))) == SHOWN
    assert shown_vids(text(session.teams(rep))) == SHOWN
    assert shown_vids(text(live.scoreboard(rep))) == SHOWN
    vs = stats.session_vs_average(rep.session_id, rep.session_date)
    assert shown_vids(text(live.digest(rep, [], vs))) == SHOWN
    detail = stats.round_detail(FILES[0])
    assert detail is not None
    post = text(posts.round_post(detail))  # 12-wide names: a cut name keeps its mark
    assert {"vid (D842)", "vid (5D98)"} <= shown_vids(post), post
    assert "V… (no GUID)" in post, post
    players = stats.match_players(detail.session_date, detail.round["match_id"])
    assert shown_vids(text(posts.map_post("te_escape2", players, None))) == SHOWN


def record_rows() -> list[dict[str, object]]:
    from datetime import datetime

    from etl_duck.domain.parse import guidless_identity

    when = datetime(2025, 10, 2, 23, 23, 39)
    row = {"kind": "round_dpm", "label": "best round DPM", "when": when, "session_id": 1,
           "session_date": when.date(), "file_name": "f.txt"}  # fmt: skip
    return [
        {**row, "scope": "all", "value": 422.4, "holder": "vid", "guid": REAL_VID},
        {
            **row,
            "scope": "erdenberg_t2",
            "value": 323.5,
            "holder": "vid",
            "guid": guidless_identity("vid"),
        },
        {
            **row,
            "scope": "supply",
            "kind": "fastest_completion",
            "label": "fastest completion",
            "value": 502.0,
            "holder": "endekk, vid",
            "guid": None,
        },
    ]


def test_records_tell_namesake_holders_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    import etl_duck.cli.social as cli_social
    from etl_duck.bot.embeds import social

    class Fake:
        def records(self, map_name: str | None = None) -> list[dict[str, object]]:
            return record_rows()

    monkeypatch.setattr(cli_social, "open_stats", lambda *a, **k: Fake())
    result = CliRunner().invoke(app, ["records"])
    assert result.exit_code == 0, result.output
    assert shown_vids(result.output) == {"vid (D842)", "vid (no GUID)"}, result.output
    assert "endekk, vid " in result.output  # a team's names as they are
    pages = social.records(record_rows(), None)
    shown = json.dumps([p.to_dict() for p in pages])
    assert shown_vids(shown) == {"vid (D842)", "vid (no GUID)"}, shown
    assert "endekk, vid (" in shown  # the team's line: "— endekk, vid (2025-10-02)"
