"""/leaderboard (pages, chart, bad input), /status and the autocomplete callbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from etl_duck.bot import autocomplete as ac
from etl_duck.bot.format import cell, esc
from etl_duck.bot.paginate import Paginator
from etl_duck.domain.metrics import METRICS
from tests.bot_fakes import (
    FakeInteraction,
    FakeUser,
    bot_running,
    field_value,
    invoke,
    lake_sql,
    run,
    table_rows,
    template_lake,
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_lake(tmp_path_factory)


def kills_board(lake: Path) -> list[tuple[str, int, int]]:
    """(name, kills, rounds) of every counted player, as the kills board ranks them."""
    rows = lake_sql(
        lake,
        """SELECT arg_max(name, end_time), sum(kills) k, count(*) r, guid FROM {t}
           WHERE counted GROUP BY guid ORDER BY k DESC, r DESC, guid""",
    )
    return [(n, int(k), int(r)) for n, k, r, _ in rows]


def test_leaderboard_pages(lake: Path, tmp_path: Path) -> None:
    want = kills_board(lake)
    user = FakeUser(id=31)

    async def main() -> tuple[FakeInteraction, list[list[list[str]]], Paginator]:
        async with bot_running(lake, tmp_path / "links.db", page_timeout_s=90.0) as bot:
            inter = await invoke(bot, "leaderboard", FakeInteraction(bot, user), stat="kills")
            view = inter.last.view
            assert isinstance(view, Paginator)
            pages = [table_rows(str(inter.last.embed.description), 2)]
            while not view.next_page.disabled:
                click = FakeInteraction(bot, user)
                await view.next_page.callback(click)  # type: ignore[arg-type]
                pages.append(table_rows(str(click.last.embed.description), 2))
            return inter, pages, view

    inter, pages, view = run(main())
    assert inter.last.embed.title == "Kills — all time"
    assert view.timeout == 90.0
    assert len(pages) == -(-len(want) // 10) and all(len(p) <= 10 for p in pages)
    got = [r for page in pages for r in page]
    # rank · player · value · rounds; the name column is left-aligned after the rank
    assert [r[0].split(maxsplit=1)[1] for r in got] == [cell(n) for n, _, _ in want]
    assert [int(r[0].split()[0]) for r in got] == list(range(1, len(want) + 1))
    assert [int(r[1].replace(",", "")) for r in got] == [k for _, k, _ in want]
    assert [int(r[2]) for r in got] == [r for _, _, r in want]


def test_leaderboard_window_chart_and_bad_input(lake: Path, tmp_path: Path) -> None:
    sid = lake_sql(lake, "SELECT max(session_id) FROM {t}", "rounds")[0][0]
    dpm = lake_sql(
        lake,
        f"""SELECT arg_max(name, end_time),
                   sum(CASE WHEN time_played_s > 0 THEN damage_given ELSE 0 END) * 60.0
                   / sum(time_played_s) AS d
            FROM {{t}} WHERE counted AND session_id = {sid} GROUP BY guid ORDER BY d DESC""",
    )

    async def main() -> list[FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return [
                await invoke(bot, "leaderboard", stat="dpm", window="session", chart=True),
                await invoke(bot, "leaderboard", stat="damage"),  # an alias
                await invoke(bot, "leaderboard", stat="elo"),
                await invoke(bot, "leaderboard", stat="kills", window="fortnight"),
                await invoke(bot, "leaderboard", stat="kills", window="2025-11-01..2025-10-01"),
            ]

    session, alias, bad_stat, bad_window, backwards = run(main())
    assert session.response.deferred
    msg = session.last
    assert msg.files["leaderboard.png"].startswith(b"\x89PNG")
    assert msg.embed.image.url == "attachment://leaderboard.png"
    rows = table_rows(str(msg.embed.description), 2)
    assert [r[1] for r in rows] == [f"{d:,.1f}" for _, d in dpm]
    assert msg.view is None  # six players: one page
    assert alias.last.embed.title == "DPM — all time"
    assert bad_stat.last.ephemeral and "choose one of" in str(bad_stat.last.content)
    assert bad_window.last.ephemeral and "unknown window" in str(bad_window.last.content)
    assert backwards.last.ephemeral and "ends before it starts" in str(backwards.last.content)


def test_status(lake: Path, tmp_path: Path) -> None:
    sessions, counted = lake_sql(
        lake,
        # a session is one with a counted round (as /sessions and /session list them)
        "SELECT count(DISTINCT session_id) FILTER (WHERE counted), count(*) FILTER (WHERE counted) FROM {t}",
        "rounds",
    )[0]

    async def main() -> FakeInteraction:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return await invoke(bot, "status")

    embed = run(main()).last.embed
    assert f"{sessions} sessions · {counted} counted rounds" in str(embed.description)
    assert field_value(embed, "Fetch") == "SSH not configured"
    assert field_value(embed, "Linked users") == "0"


def test_autocomplete(lake: Path, tmp_path: Path) -> None:
    most_active = lake_sql(
        lake, "SELECT guid, count(*) c FROM {t} WHERE counted GROUP BY guid ORDER BY c DESC, guid"
    )
    # one choice per session (a date can hold two), newest first; the choice sends its id
    dates = [
        str(sid)
        for (sid,) in lake_sql(
            lake,
            "SELECT session_id FROM {t} WHERE session_date >= '2025-11-01' GROUP BY session_id "
            "HAVING bool_or(counted) ORDER BY min(start_time) DESC, session_id DESC",
            "rounds",
        )
    ]
    months = [
        m
        for (m,) in lake_sql(
            lake,
            "SELECT DISTINCT strftime(session_date, '%Y-%m') m FROM {t} WHERE counted ORDER BY m DESC",
            "rounds",
        )
    ]

    async def main() -> dict[str, list[tuple[str, str]]]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            inter = FakeInteraction(bot)

            def pairs(choices: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
                return [(c.name, c.value) for c in choices]

            return {
                "vi": pairs(await ac.players(inter, "vi")),  # type: ignore[arg-type]
                "blank": pairs(await ac.players(inter, "")),  # type: ignore[arg-type]
                "dp": pairs(await ac.metrics(inter, "dp")),  # type: ignore[arg-type]
                "all_metrics": pairs(await ac.metrics(inter, "")),  # type: ignore[arg-type]
                "windows": pairs(await ac.windows(inter, "")),  # type: ignore[arg-type]
                "range": pairs(await ac.windows(inter, "2025-01-01..")),  # type: ignore[arg-type]
                "dates": pairs(await ac.session_dates(inter, "2025-11")),  # type: ignore[arg-type]
                "months": pairs(await ac.months(inter, "")),  # type: ignore[arg-type]
            }

    got = run(main())
    assert got["vi"][0] == ("vid (D8423F90)", "D8423F90")  # shows the name, sends the GUID
    assert [v for _, v in got["blank"]] == [g for g, _ in most_active][:25]
    assert ("dpm" in [v for _, v in got["dp"]]) and all("dp" in v for _, v in got["dp"])
    assert [v for _, v in got["all_metrics"]] == list(METRICS)[:25]
    assert [v for _, v in got["windows"]] == ["all", "season", "month", "week", "session"]
    assert got["range"][-1][1] == "2025-01-01.."
    assert [v for _, v in got["dates"]] == dates
    assert [v for _, v in got["months"]] == months
    assert all(len(n) <= 100 for choices in got.values() for n, _ in choices)


def test_status_lists_every_open_problem(tmp_path: Path) -> None:
    """/status shows what `etl-duck status` shows: quarantined files, version conflicts and
    rejected lines, each with its reason (fixing them is an admin's job)."""
    from etl_duck.ingest.run import ingest_paths
    from tests.conftest import FIXTURES

    data = tmp_path / "data"
    src = tmp_path / "src"
    src.mkdir()
    r1 = FIXTURES / "2026-03-14-213512-supply-round-1.txt"
    lines = r1.read_bytes().split(b"\n")
    bad_line = lines[:]
    bad_line[2] = bad_line[2].replace(b"\t", b"\t99999999999\t", 1)  # one field too many
    (src / r1.name).write_bytes(b"\n".join(bad_line))
    bad = src / "2026-03-14-230000-supply-round-1.txt"
    bad.write_bytes(b"not a header\n")
    ingest_paths(data, [src])
    shorter = tmp_path / "later"
    shorter.mkdir()
    (shorter / r1.name).write_bytes(b"\n".join(bad_line[:3]) + b"\n")  # shrank: a conflict
    ingest_paths(data, [shorter])

    async def main() -> FakeInteraction:
        async with bot_running(data, tmp_path / "links.db") as bot:
            return await invoke(bot, "status")

    embed = run(main()).last.embed
    assert bad.name in field_value(embed, "Quarantined files (1)")
    conflicts = field_value(embed, "Version conflicts (1)")
    assert r1.name in conflicts and "etl-duck resolve" in conflicts
    # the inserted field shifted the rest: X0 reads 99999999999, out of range
    assert f"{r1.name}:3: X0 damage" in field_value(embed, "Rejected lines (1)")


def test_status_names_an_endstats_file_whose_round_is_missing(tmp_path: Path) -> None:
    """An endstats file whose server wrote later rounds but whose round never came (its
    awards wait): `etl-duck status` names it (exit 3), /status named nothing."""
    from etl_duck.ingest.run import ingest_paths
    from tests.test_endstats import _later_round, the_real_endstats_and_its_round

    incoming = tmp_path / "in"
    incoming.mkdir()
    r1, _, es = the_real_endstats_and_its_round(incoming)  # round 2 is never ingested
    later = _later_round(incoming, r1, "2026-01-12-230500")
    data = tmp_path / "data"
    ingest_paths(data, [r1, es, later])

    async def main() -> FakeInteraction:
        async with bot_running(data, tmp_path / "links.db") as bot:
            return await invoke(bot, "status")

    embed = run(main()).last.embed
    got = field_value(embed, "Endstats without their round (fetch or ingest the round's file) (1)")
    assert es.name in got


def test_status_names_cut_and_empty_files_and_round2s_without_their_round1(
    tmp_path: Path,
) -> None:
    """A cut copy (later rounds followed), an empty file and a recent round 2 without its
    round 1 are open problems in `etl-duck status` (exit 3): /status named none of them. Each
    is named with its fix; one an admin accepts is no longer listed."""
    from etl_duck.cli import run as cli
    from etl_duck.ingest.run import ingest_paths
    from tests.conftest import FIXTURES, REAL

    files = tmp_path / "files"
    files.mkdir()
    for name in ("2025-11-11-212628-etl_adlernest-round-1.txt",
                 "2025-11-11-213348-etl_adlernest-round-2.txt",
                 "2025-11-11-214627-supply-round-1.txt",
                 "2025-11-11-215843-supply-round-2.txt"):  # fmt: skip
        (files / name).write_bytes((REAL / name).read_bytes())
    cut = files / "2025-11-11-213348-etl_adlernest-round-2.txt"
    cut.write_bytes(cut.read_bytes()[:700])  # copied short: 2 of its 6 players
    empty = files / "2026-03-14-221702-te_escape2-round-1.txt"
    empty.write_bytes(b"")
    orphan = FIXTURES / "2026-03-14-214449-supply-round-2.txt"  # its round 1 never came
    (files / orphan.name).write_bytes(orphan.read_bytes())
    data = tmp_path / "data"
    report = ingest_paths(data, [files])
    assert report.cut == [cut.name] and report.empty == [empty.name]

    async def main() -> FakeInteraction:
        async with bot_running(data, tmp_path / "links.db") as bot:
            return await invoke(bot, "status")

    embed = run(main()).last.embed
    said = field_value(embed, "Cut files (last line) (1)")
    assert cut.name in said and "the players after the cut are missing" in said
    assert "again from the server's gamestats folder" in said and "--accept" in said
    said = field_value(embed, "Empty files (0 bytes) (1)")
    assert empty.name in said and "--dismiss" in said
    said = field_value(embed, "Round 2s without their round 1 (1)")
    assert orphan.name in said and "round 1 of supply" in said and "never written" in said
    # the admin accepted the orphan (its round 1 was never written): no longer a problem
    assert cli(["--data-dir", str(data), "resolve", orphan.name, "--accept"]) == 0
    names = [f.name for f in run(main()).last.embed.fields]
    assert not any(str(n).startswith("Round 2s without") for n in names)
    assert "Cut files (last line) (1)" in names and "Empty files (0 bytes) (1)" in names


def test_status_embed_stays_within_discords_limits_however_many_problems() -> None:
    """Every kind of open problem, 60 of each: each field within 1,024 characters, the
    whole embed within Discord's 6,000 (it refuses a larger one), every kind still named
    with how many there are."""
    from datetime import datetime

    from etl_duck.bot.embeds import system
    from etl_duck.query.stats import orphan_fix, replayed_fix

    names = [f"2026-03-{1 + i % 28:02d}-21{i:04d}-etl_adlernest-round-1.txt" for i in range(60)]
    start = datetime(2026, 3, 14, 21, 44)
    info = {
        "version": 9, "sessions": 3, "counted_rounds": 40, "players": 12,
        "first_date": "2026-03-01", "last_date": "2026-03-14",
        "excluded": {"orphan_r2": 60},
        "quarantined": {n: f"{n}:1: header: not a header" for n in names},
        "conflicts": {f"{n}@2": "shorter than the counted version" for n in names},
        "rejected": [f"{n}:3: X0 damage: out of range" for n in names],
        "partial": names,
        "cut": dict.fromkeys(names),
        "empty": names,
        "orphans": [
            {"file": n, "map": "supply", "open": True, "fix": orphan_fix(n, "supply", start)}
            for n in names
        ],
        "replayed": [
            {"file": n, "map": "supply", "open": True, "fix": replayed_fix(n, "supply", start)}
            for n in names
        ],
        "endstats_without_round": names,
    }  # fmt: skip
    bot = {"Fetch": "watching; " + "x" * 2000, "Voice": "idle", "Cache": "1 %", "Gateway": "—"}
    embed = system.status(info, bot, posting="refused: " + "y" * 2000)
    assert len(embed) <= 6000
    assert all(len(str(f.value)) <= 1024 and f.value for f in embed.fields)
    titles = [str(f.name) for f in embed.fields]
    for kind in ("Quarantined files", "Version conflicts", "Rejected lines",
                 "Partial files (last line cut)", "Cut files (last line)",
                 "Empty files (0 bytes)", "Round 2s without their round 1",
                 "Round 1s replayed without their round 2",
                 "Endstats without their round (fetch or ingest the round's file)"):  # fmt: skip
        (title,) = [t for t in titles if t.startswith(kind)]
        assert title.endswith("(60)")
        assert "more (`etl-duck status`)" in field_value(embed, title)


def test_status_names_each_game_server_when_there_are_several() -> None:
    """/status as `etl-duck status`: with several servers a line each (rounds, counted,
    when the latest ended) — one that stopped sending shows by its date; one server: no
    such field."""
    from etl_duck.bot.embeds import system

    info: dict[str, object] = {
        "version": 3, "sessions": 2, "counted_rounds": 5, "players": 4,
        "first_date": "2026-03-01", "last_date": "2026-03-14",
        "servers": [
            {"server": "", "rounds": 4, "counted_rounds": 4, "last_round": "2026-03-14T21:35:12"},
            {"server": "scrim", "rounds": 1, "counted_rounds": 1, "last_round": "2026-03-01T22:44:49"},
        ],
    }  # fmt: skip
    fields = {str(f.name): str(f.value) for f in system.status(info, {}).fields}
    assert fields["Game servers"].splitlines() == [
        "`main`: 4 rounds (4 counted), last round 2026-03-14 21:35",
        "`scrim`: 1 rounds (1 counted), last round 2026-03-01 22:44",
    ]
    info["servers"] = info["servers"][:1]  # type: ignore[index]
    assert "Game servers" not in {str(f.name) for f in system.status(info, {}).fields}


def test_status_names_a_configured_game_server_without_rounds(lake: Path, tmp_path: Path) -> None:
    """A second server fetched from a wrong folder has no round: /status listed servers with
    rounds only, so it never showed. Now it is listed as `etl-duck status` lists it, with
    the fix; with the main server alone configured there is still no such field."""
    from etl_duck.query.stats import no_round_said

    main_rounds = lake_sql(lake, "SELECT count(*), max(end_time) FROM {t}", "rounds")
    ((rounds, last),) = main_rounds
    cup = [{"name": "cup", "ssh_remote_dir": "cup/stats"}]

    async def main(**settings: Any) -> FakeInteraction:
        async with bot_running(lake, tmp_path / "links.db", **settings) as bot:
            return await invoke(bot, "status")

    embed = run(main(ssh_host="game.example.org", servers=cup)).last.embed
    lines = field_value(embed, "Game servers").splitlines()
    assert lines[0].startswith(f"`main`: {rounds} rounds"), lines
    assert lines[0].endswith(f"last round {last:%Y-%m-%d %H:%M}"), lines
    assert lines[1:] == [f"`cup`: {esc(no_round_said('cup'))}"]
    assert "no round in the lake yet" in lines[1] and "etl-duck fetch" in lines[1]
    alone = run(main(ssh_host="game.example.org")).last.embed
    assert "Game servers" not in {str(f.name) for f in alone.fields}
