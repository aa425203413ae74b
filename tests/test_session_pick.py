"""Two sessions on one date (a break longer than the session gap splits an evening): each is
opened by its id — `etl-duck session ID`, the bot's /session and the other commands whose
`date` option names a session — the date alone opens the later and names the earlier, the
bot's autocomplete offers both, and an id the lake does not know is a clear error.

The evening: real fixture files copied under new names, one map at 20:00 and one at 21:30
(a gap of 85 minutes, over the 60 of the default setting)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from etl_duck.bot import autocomplete as ac
from etl_duck.cli import run as cli_run
from etl_duck.ingest.run import ingest_paths
from tests.bot_fakes import FakeInteraction, bot_running, invoke, lake_sql, run
from tests.conftest import REAL

DAY = "2025-12-19"
#: (real fixture file, the name's new time): session "early" then, after the break, "late"
EARLY = (
    ("2025-10-02-211808-etl_adlernest-round-1.txt", "2025-12-19-200000"),
    ("2025-10-02-212249-etl_adlernest-round-2.txt", "2025-12-19-200441"),
)
LATE = (
    ("2025-10-02-224221-et_brewdog-round-1.txt", "2025-12-19-213000"),
    ("2025-10-02-224632-et_brewdog-round-2.txt", "2025-12-19-213411"),
)


def renamed(real: str, stamp: str) -> str:
    return stamp + real[len("YYYY-MM-DD-HHMMSS") :]


def copy_under(src: Path, dst: Path, tag: str) -> None:
    """``src`` as ``dst``, its host name (the header's first field) tagged so the copy's
    bytes are its own, not a second version of the fixture."""
    first, rest = src.read_bytes().split(b"\n", 1)
    fields = first.split(b"\\")
    fields[0] += tag.encode()
    dst.write_bytes(b"\\".join(fields) + b"\n" + rest)


@pytest.fixture(scope="module")
def evening(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("two-sessions")
    src = base / "in"
    src.mkdir()
    for i, (real, stamp) in enumerate(EARLY + LATE):
        copy_under(REAL / real, src / renamed(real, stamp), f"pick{i}")
    data = base / "data"
    ingest_paths(data, [src])
    return data


def session_of(data: Path, files: tuple[tuple[str, str], ...]) -> int:
    """The session id the lake gave these files (they must share one)."""
    names = [renamed(real, stamp) for real, stamp in files]
    listed = ", ".join(f"'{n}'" for n in names)
    rows = lake_sql(
        data, f"SELECT DISTINCT session_id FROM {{t}} WHERE file_name IN ({listed})", "rounds"
    )
    assert len(rows) == 1, rows
    return int(rows[0][0])


def kills_of(data: Path, sid: int) -> dict[str, int]:
    """Counted kills per GUID of one session, from the Parquet files."""
    rows = lake_sql(
        data,
        f"SELECT guid, sum(kills) FROM {{t}} WHERE counted AND session_id = {sid} GROUP BY guid",
    )
    return {str(g): int(k) for g, k in rows}


@pytest.fixture(scope="module")
def ids(evening: Path) -> tuple[int, int]:
    early, late = session_of(evening, EARLY), session_of(evening, LATE)
    assert early != late and str(early).startswith("20251219") and str(late) > str(early)
    return early, late


def stamp_time(stamp: str) -> str:
    return datetime.strptime(stamp, "%Y-%m-%d-%H%M%S").isoformat()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], evening: Path) -> Iterator[Any]:
    def call(*args: str) -> tuple[int, str, str]:
        code = cli_run(["--data-dir", str(evening), *args])
        out, err = capsys.readouterr()
        return code, out, err

    yield call


# --------------------------------------------------------------------------- CLI


def test_each_session_opens_by_its_id(cli: Any, evening: Path, ids: tuple[int, int]) -> None:
    maps = ("etl_adlernest", "et_brewdog")
    for sid, files, map_name in zip(ids, (EARLY, LATE), maps, strict=True):
        code, out, err = cli("session", str(sid), "--json")
        assert code == 0, err
        assert err == ""  # an id names one session: nothing to point at
        rep = json.loads(out)
        assert rep["session_id"] == str(sid) and rep["session_date"] == DAY  # JSON ids are text
        # the rounds it holds are the two files placed in it: one map, both halves
        assert rep["maps_played"] == 1
        (played,) = rep["maps"]
        assert (played["map_name"], played["rounds"]) == (map_name, 2)
        assert played["first_end"] == stamp_time(files[0][1])
        assert rep["end_time"] == stamp_time(files[1][1])
        got = {p["guid"]: p["kills"] for p in rep["players"]}
        assert got == kills_of(evening, sid) and sum(got.values()) == played["kills"] > 0


def test_the_date_opens_the_later_and_names_the_earlier(cli: Any, ids: tuple[int, int]) -> None:
    early, late = ids
    code, out, err = cli("session", DAY, "--json")
    assert code == 0, err
    assert json.loads(out)["session_id"] == str(late)  # the last to start, as before
    note = " ".join(err.split())
    assert "holds 2 sessions" in note and f"etl-duck session {early}" in note, err
    assert "19:56" in note  # its start (the first round's start, 20:00 less its length)
    code, out, err = cli("session", DAY)  # the table too
    assert code == 0 and f"etl-duck session {early}" in " ".join(err.split())
    assert "21:26" in out.splitlines()[0]


def test_the_sessions_table_shows_the_ids(cli: Any, ids: tuple[int, int]) -> None:
    code, out, _ = cli("sessions")
    assert code == 0
    assert all(str(sid) in out for sid in ids), out
    code, out, _ = cli("sessions", "--json")
    assert [r["session_id"] for r in json.loads(out)] == [str(ids[1]), str(ids[0])]


@pytest.mark.parametrize(
    "wrong", ["20251219195607", "20251218200000", "99999999999999", "100020251219195606"]
)
def test_an_unknown_id_is_a_usage_error(cli: Any, wrong: str) -> None:
    code, out, err = cli("session", wrong)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and out == "" and "Traceback" not in err
    assert len(lines) == 1 and f"No session {wrong}" in lines[0], err
    assert "etl-duck sessions" in lines[0]  # where the ids are


def test_highlights_and_set_teams_take_an_id_too(
    cli: Any, evening: Path, ids: tuple[int, int], tmp_path: Path
) -> None:
    """`highlights` and `set-teams` named a session by its date only: the earlier of two
    sessions on a date could not be reached."""
    from etl_duck.query.stats import Stats

    stats = Stats(evening)
    for sid in ids:
        code, out, err = cli("highlights", str(sid), "--json")
        assert code == 0, err
        want = [e.key for e in stats.session_events(sid)]
        assert [e["key"] for e in json.loads(out)] == want
    code, _, err = cli("highlights", "20251219195607")
    assert code == 2 and "No session 20251219195607" in err and "etl-duck sessions" in err
    code, _, err = cli("highlights", "2025121")
    assert code == 2 and "not a session date or id" in err
    for sid in ids:  # the session it names is the one of the id, not the date's last
        code, out, err = cli("set-teams", str(sid), "--clear")
        assert code == 0 and f"session {sid}" in out, err


def test_an_id_with_its_server_and_a_malformed_one(cli: Any, ids: tuple[int, int]) -> None:
    code, out, err = cli("session", str(ids[0]), "--server", "main", "--json")
    assert code == 0 and json.loads(out)["session_id"] == str(ids[0]), err
    code, _, err = cli("session", "2025121")  # neither a date nor an id
    assert code == 2 and "not a session date or id" in err


# --------------------------------------------------------------------------- bot


def test_the_bot_offers_and_opens_both(evening: Path, ids: tuple[int, int], tmp_path: Path) -> None:
    early, late = ids

    async def main() -> dict[str, Any]:
        async with bot_running(evening, tmp_path / "links.db") as bot:
            inter = FakeInteraction(bot)
            return {
                "all": await ac.session_dates(inter, ""),  # type: ignore[arg-type]
                "day": await ac.session_dates(inter, DAY),  # type: ignore[arg-type]
                "id": await ac.session_dates(inter, str(early)[:12]),  # type: ignore[arg-type]
                "early": await invoke(bot, "session", date=str(early)),
                "by_date": await invoke(bot, "session", date=DAY),
                "score": await invoke(bot, "session_score", date=str(early)),
                "teams_by_date": await invoke(bot, "teams", date=DAY),
                "wrong": await invoke(bot, "session", date="20251219195607"),
                "bad": await invoke(bot, "session", date="2025121"),
            }

    got = run(main())
    # one choice per session (not one per date): the date and start time, the id sent
    assert [(c.name.split(" · ")[0], c.value) for c in got["all"]] == [
        (f"{DAY} 21:26", str(late)),
        (f"{DAY} 19:56", str(early)),
    ]
    assert [c.value for c in got["day"]] == [str(late), str(early)]
    assert [c.value for c in got["id"]] == [str(early)]
    # /session with the earlier id answers with that session, and only it
    msg = got["early"].last
    assert not msg.ephemeral
    embed = msg.embed
    assert DAY in str(embed.title) and embed.footer.text == f"session {early}"
    assert "1 maps · 2 rounds" in str(embed.description), embed.description
    assert got["score"].last.embed.footer.text == f"session {early}"
    # the date alone: the later, and a footer line naming the earlier and how to open it
    for name in ("by_date", "teams_by_date"):
        footer = str(got[name].last.embed.footer.text)
        lines = footer.splitlines()
        assert lines[0] == f"session {late}", footer
        assert len(lines) == 2 and "holds 2 sessions" in lines[1], footer
        assert f"19:56 (date:{early})" in lines[1], footer
    # a wrong id, a malformed one: the usual ephemeral message
    wrong = got["wrong"].last
    assert wrong.ephemeral and str(wrong.content).startswith("No session 20251219195607"), wrong
    bad = got["bad"].last
    assert bad.ephemeral and "is not a session date or id" in str(bad.content), bad


def test_every_session_option_takes_an_id(evening: Path, tmp_path: Path) -> None:
    """Discord enforces an option's max_length before the bot sees it: each command whose
    ``date`` names a session takes the longest id (another server's: 18 digits) and offers
    the sessions as it is typed."""

    async def main() -> dict[str, tuple[Any, Any]]:
        async with bot_running(evening, tmp_path / "links.db") as bot:
            out = {}
            for cmd in bot.tree.walk_commands():
                for param in getattr(cmd, "parameters", []):
                    if param.name == "date":
                        out[cmd.name] = (param.max_value, param.autocomplete)
            return out

    got = run(main())
    assert set(got) >= {"session", "digest", "session_score", "teams", "awards", "set_teams"}
    for name, (longest, offered) in got.items():
        assert longest is not None and longest >= 18, name
        assert offered is not None, name
