"""/last_session, /session, /sessions, /session_score, /teams, /awards against the real
fixture lake; expected values come from plain DuckDB over the lake's Parquet files."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_duck.bot.format import cell
from etl_duck.bot.paginate import Paginator
from tests.bot_fakes import (
    FakeInteraction,
    FakeUser,
    bot_running,
    field_value,
    invoke,
    lake_sql,
    last_session_id,
    run,
    table_rows,
    template_lake,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_lake(tmp_path_factory)


def session_players(lake: Path, sid: int) -> list[tuple[str, str, int, int, float]]:
    """(guid, name, kills, deaths, dpm) per player of a session, best DPM first."""
    rows = lake_sql(
        lake,
        f"""SELECT guid, arg_max(name, end_time), sum(kills), sum(deaths),
                   sum(CASE WHEN time_played_s > 0 THEN damage_given ELSE 0 END) * 60.0
                   / sum(time_played_s) AS dpm, count(*) AS rounds
            FROM {{t}} WHERE counted AND session_id = {sid}
            GROUP BY guid ORDER BY dpm DESC, sum(kills) DESC""",
    )
    return [(g, n, int(k), int(d), float(dpm)) for g, n, k, d, dpm, _ in rows]


def session_counts(lake: Path, sid: int) -> tuple[int, int]:
    """(counted rounds, maps played = counted matches) of a session."""
    rounds, matches = lake_sql(
        lake,
        f"SELECT count(*), count(DISTINCT match_id) FROM {{t}} WHERE counted AND session_id = {sid}",
        "rounds",
    )[0]
    return int(rounds), int(matches)


def test_last_session_summary(lake: Path, tmp_path: Path) -> None:
    sid = last_session_id(lake)
    players = session_players(lake, sid)
    rounds, matches = session_counts(lake, sid)

    async def main() -> FakeInteraction:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return await invoke(bot, "last_session")

    inter = run(main())
    assert not inter.response.deferred  # no chart: answered directly
    msg = inter.last
    assert msg.kind == "message" and not msg.ephemeral
    embed = msg.embed
    assert "2025-11-11" in str(embed.title)
    assert f"{matches} maps · {rounds} rounds · {len(players)} players" in str(embed.description)
    assert (rounds, matches, len(players)) == (20, 10, 6)
    # MVP: best DPM among those who played at least half the rounds (all 6 here)
    _, mvp_name, mvp_kills, _, mvp_dpm = players[0]
    assert field_value(embed, "MVP") == f"**{mvp_name}** — {mvp_dpm:,.1f} DPM, {mvp_kills} kills"
    top = table_rows(field_value(embed, "Top players by DPM"), 4)
    assert [r[0] for r in top] == [cell(p[1]) for p in players[:5]]
    assert [int(r[1]) for r in top] == [p[2] for p in players[:5]]
    assert [r[4] for r in top] == [f"{p[4]:,.1f}" for p in players[:5]]
    # the stopwatch score hands out 2 points per complete map
    score = field_value(embed, "Score")
    points = [int(x) for x in score.split("**")[1::2]]
    assert sum(points) == 2 * matches


def test_last_session_views(lake: Path, tmp_path: Path) -> None:
    sid = last_session_id(lake)
    players = session_players(lake, sid)
    weapons = lake_sql(
        lake,
        f"""SELECT weapon, sum(kills) AS k FROM {{t}} WHERE counted AND session_id = {sid}
            GROUP BY weapon HAVING sum(kills) > 0 OR sum(shots) > 0
            ORDER BY k DESC, sum(shots) DESC""",
        "weapon_rounds",
    )
    maps = lake_sql(
        lake,
        f"""SELECT map_name FROM {{t}} WHERE counted AND session_id = {sid} AND round_number = 1
            ORDER BY end_time""",
        "rounds",
    )

    async def main() -> dict[str, FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return {
                v: await invoke(bot, "last_session", view=v) for v in ("top", "maps", "weapons")
            }

    got = run(main())
    top = table_rows(str(got["top"].last.embed.description), 6)
    assert {r[0]: (int(r[2]), int(r[3])) for r in top} == {
        cell(p[1], 14): (p[2], p[3]) for p in players
    }
    map_rows = table_rows(str(got["maps"].last.embed.description), 3)
    assert [r[0].split()[0] for r in map_rows] == [m[0] for m in maps]
    weapon_rows = table_rows(str(got["weapons"].last.embed.description), 4)
    assert [(r[0], int(r[1])) for r in weapon_rows] == [(w, int(k)) for w, k in weapons]


def test_last_session_graphs_are_deferred_pngs(lake: Path, tmp_path: Path) -> None:
    async def main() -> FakeInteraction:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return await invoke(bot, "last_session", view="graphs")

    inter = run(main())
    assert inter.response.deferred  # a chart: acknowledged first, sent as a follow-up
    msg = inter.last
    assert msg.kind == "followup"
    assert set(msg.files) == {"session_overview.png", "dpm_timeline.png"}
    assert all(data.startswith(PNG) and len(data) > 5000 for data in msg.files.values())
    assert [e.image.url for e in msg.embeds] == [
        "attachment://session_overview.png",
        "attachment://dpm_timeline.png",
    ]
    assert all(b.closed for b in msg.buffers)  # buffers closed after sending


def test_session_by_date_and_bad_dates(lake: Path, tmp_path: Path) -> None:
    (sid,) = lake_sql(
        lake, "SELECT session_id FROM {t} WHERE session_date = DATE '2025-10-02' LIMIT 1", "rounds"
    )[0]
    rounds, matches = session_counts(lake, int(sid))

    async def main() -> list[FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return [
                await invoke(bot, "session", date="2025-10-02"),
                await invoke(bot, "session", date="02.10.2025"),
                await invoke(bot, "session", date="2025-10-03"),
            ]

    ok, bad, none = run(main())
    assert f"{matches} maps · {rounds} rounds" in str(ok.last.embed.description)
    assert bad.last.ephemeral and "YYYY-MM-DD" in str(bad.last.content)
    # its own words: "No data yet: No session on …" read as if the lake were empty
    assert none.last.ephemeral and str(none.last.content) == "No session on 2025-10-03."


def test_sessions_paginated(lake: Path, tmp_path: Path) -> None:
    dates = [
        str(d)
        for (d,) in lake_sql(
            lake,
            "SELECT session_date FROM {t} GROUP BY session_id, session_date "
            "HAVING bool_or(counted) ORDER BY session_id DESC",
            "rounds",
        )
    ]
    user = FakeUser(id=77)

    async def main() -> tuple[FakeInteraction, list[list[str]], FakeInteraction, FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db", page_timeout_s=42.0) as bot:
            inter = await invoke(bot, "sessions", FakeInteraction(bot, user))
            view = inter.last.view
            assert isinstance(view, Paginator)
            assert view.timeout == 42.0
            assert view.prev_page.disabled and not view.next_page.disabled
            seen = [[r[0] for r in table_rows(str(view.current.description), 5)]]
            clicks = []
            for _ in range(len(view.pages) - 1):
                click = FakeInteraction(bot, user)
                await view.next_page.callback(click)  # type: ignore[arg-type]
                clicks.append(click)
                edited = click.last
                assert edited.kind == "edit" and edited.view is view
                seen.append([r[0] for r in table_rows(str(edited.embed.description), 5)])
            assert view.next_page.disabled and not view.prev_page.disabled
            back = FakeInteraction(bot, user)
            await view.prev_page.callback(back)
            # someone else cannot turn the pages
            stranger = FakeInteraction(bot, FakeUser(id=78))
            allowed = await view.interaction_check(stranger)
            assert not allowed and stranger.last.ephemeral
            await view.on_timeout()
            month = await invoke(bot, "sessions", month="2025-11")
            return inter, seen, back, month

    _, seen, back, month = run(main())
    assert [d for page in seen for d in page] == dates
    assert len(seen) == -(-len(dates) // 10)
    turned = back.sent[0]  # the page turn; then the timeout's edit, through its token
    assert turned.embed.footer.text and turned.embed.footer.text.startswith(
        f"page {len(seen) - 1}/"
    )
    # on timeout the buttons are disabled through the latest turn's interaction (the
    # command's token may have expired: the timeout restarts at each turn)
    expired = back.last
    assert expired.kind == "edit_original" and expired.view is not None
    assert all(getattr(c, "disabled", False) for c in expired.view.children)
    assert month.last.view is None  # two sessions: one page, no buttons
    assert [r[0] for r in table_rows(str(month.last.embed.description), 5)] == [
        d for d in dates if d.startswith("2025-11")
    ]


def test_sessions_bad_month(lake: Path, tmp_path: Path) -> None:
    async def main() -> FakeInteraction:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return await invoke(bot, "sessions", month="November")

    inter = run(main())
    assert inter.last.ephemeral and "YYYY-MM" in str(inter.last.content)


def test_session_score_teams_awards(lake: Path, tmp_path: Path) -> None:
    sid = last_session_id(lake)
    players = session_players(lake, sid)
    # stopwatch outcome per map straight from the rounds' attackers_won flags
    flags = lake_sql(
        lake,
        f"""SELECT match_id, bool_or(attackers_won) FILTER (WHERE round_number = 1),
                   bool_or(attackers_won) FILTER (WHERE round_number = 2), min(end_time)
            FROM {{t}} WHERE counted AND session_id = {sid}
            GROUP BY match_id ORDER BY min(end_time)""",
        "rounds",
    )
    expected = [
        "beat the clock" if r2 else "clock held" if r1 else "double fullhold"
        for _, r1, r2, _ in flags
    ]
    most_kills = max(players, key=lambda p: p[2])
    revives = lake_sql(
        lake,
        f"""SELECT arg_max(name, end_time), sum(revives_given) AS r FROM {{t}}
            WHERE counted AND session_id = {sid} GROUP BY guid ORDER BY r DESC LIMIT 1""",
    )[0]

    async def main() -> list[FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return [
                await invoke(bot, "session_score"),
                await invoke(bot, "teams", date="2025-11-11"),
                await invoke(bot, "awards"),
            ]

    score, teams, awards = run(main())
    lines = field_value(score.last.embed, "Maps").splitlines()
    assert [next(o for o in ("beat the clock", "clock held", "double fullhold") if o in ln)
            for ln in lines] == expected  # fmt: skip
    assert "**" in str(score.last.embed.description)

    team_fields = teams.last.embed.fields
    assert len(team_fields) == 2
    rosters = [table_rows(str(f.value), 2) for f in team_fields]
    names = [r[0] for roster in rosters for r in roster]
    assert sorted(names) == sorted(cell(p[1]) for p in players)  # everyone, on one team
    kills = {cell(p[1]): p[2] for p in players}
    assert all(int(r[1]) == kills[r[0]] for roster in rosters for r in roster)

    embed = awards.last.embed
    assert field_value(embed, "Frag master") == f"**{most_kills[1]}** — {most_kills[2]:,} kills"
    assert field_value(embed, "Damage dealer").startswith(
        f"**{players[0][1]}** — {players[0][4]:,.1f}"
    )
    assert field_value(embed, "Field medic") == f"**{revives[0]}** — {int(revives[1]):,} revives"


def test_team_names_in_the_teams_answer_are_escaped(lake: Path) -> None:
    """A team named after its players (or by an admin) with Markdown in it: the /teams
    field name showed it raw."""
    import dataclasses

    from etl_duck.bot.embeds import session as session_embeds
    from etl_duck.query.stats import Stats

    rep = Stats(lake).last_session()
    assert rep.teams is not None
    a, b = rep.teams
    rep = dataclasses.replace(rep, teams=(dataclasses.replace(a, name="||x_*`y"), b))
    embed = session_embeds.teams(rep)
    assert embed.fields[0].name is not None and embed.fields[0].name.startswith(r"\|\|x\_\*\`y")


def test_rate_awards_need_the_mvps_sample_and_count_awards_do_not() -> None:
    """A guest's four hot rounds of a twelve-round evening won Damage dealer, Survivor and
    Sharpshooter over the evening's MVP. Rate awards (DPM, K/D, accuracy) now ask what the
    MVP asks — half the session's rounds; count awards (kills, revives…) stay open: a
    count is earned by playing."""
    import polars as pl

    from etl_duck.domain.scoring import pick_mvp, session_awards

    cols = ("guid", "name", "rounds", "dpm", "kills", "kd", "accuracy", "shots",
            "headshot_kills", "revives", "gibs", "objectives", "grenade_kills",
            "multikills")  # fmt: skip
    lines = [  # the players' session totals, by hand
        ("C1", "carl", 12, 300.0, 100, 1.20, 35.0, 900, 20, 10, 30, 2, 5, 8),
        ("D2", "dora", 12, 280.0, 90, 1.30, 40.0, 800, 15, 25, 20, 1, 3, 6),
        ("H3", "half", 6, 250.0, 45, 1.00, 50.0, 400, 9, 5, 10, 0, 1, 2),  # exactly half
        ("G4", "guest", 4, 390.0, 40, 1.90, 45.0, 300, 12, 30, 12, 0, 2, 4),
    ]  # fmt: skip
    players = pl.DataFrame([dict(zip(cols, r, strict=True)) for r in lines])
    mvp = pick_mvp(players, 12)
    assert mvp is not None and mvp["name"] == "carl"
    for rounds in (None, 12):  # without the count: the most rounds anybody played (12)
        won = session_awards(players) if rounds is None else session_awards(players, rounds)
        by = {a.title: (a.name, a.shown) for a in won}
        assert by["Damage dealer"] == ("carl", "300.0 DPM")  # the MVP, not the guest
        assert by["Survivor"] == ("dora", "1.30 K/D")
        assert by["Sharpshooter"] == ("half", "50.0 % accuracy")  # half the rounds will do
        assert by["Frag master"] == ("carl", "100 kills")
        assert by["Field medic"] == ("guest", "30 revives")  # a count: open to all
    # twenty counted rounds, nobody played them all: half of the twenty, as for the MVP
    winners = {a.title: a.name for a in session_awards(players, 20)}
    assert winners["Sharpshooter"] == "dora"
