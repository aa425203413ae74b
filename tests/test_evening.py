"""The evening, told well (issue 16): team names from clan tags, the score per opponent,
the live scoreboard (edited, not re-posted; a backlog is one edit), rich round and map
posts, the digest, /set_teams surviving a rebuild, and no repeats after a restart."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from etl_duck.bot.coalesce import Coalescer
from etl_duck.bot.embeds.scoreboard import score_lines
from etl_duck.botstate import BotState
from etl_duck.domain.teams import MapSides, clan_tag, name_teams, split_segments
from etl_duck.ingest.run import rebuild
from etl_duck.pipeline import Ingestor
from etl_duck.query.stats import Stats
from tests.bot_fakes import (
    FakeChannel,
    FakeRole,
    FakeUser,
    bot_running,
    field_value,
    invoke,
    lake_copy,
    lake_sql,
    real_files,
    run,
    table_rows,
    template_lake,
)

NIGHT = date(2025, 11, 1)
LAST_THREE_MAPS = (  # of the 2025-11-11 session: the scoreboard tests hold them back
    "2025-11-11-231115-etl_frostbite-round-1.txt",
    "2025-11-11-231657-etl_frostbite-round-2.txt",
    "2025-11-11-232245-erdenberg_t2-round-1.txt",
    "2025-11-11-232808-erdenberg_t2-round-2.txt",
    "2025-11-11-233403-braundorf_b4-round-1.txt",
    "2025-11-11-233911-braundorf_b4-round-2.txt",
)
ADMIN = FakeUser(id=7, name="admin", roles=[FakeRole(42)])


def held_files(names: tuple[str, ...]) -> list[Path]:
    return [f for f in real_files() if f.name in names]


# --------------------------------------------------------------------------- names


def test_clan_tags_prefix_suffix_case_and_majority() -> None:
    slomix = ["slomix.carniee", "slomix.SuperBoyy", "slomix.olz", "slomix.endekk"]
    assert clan_tag(slomix) == "slomix."
    assert clan_tag(["///M.Demonslayer", "///M.rAzzdog", "///M.Gekku"]) == "///M."
    # case-insensitive, shown as most of them write it
    assert clan_tag(["ripaZha eLx", "ripaZha zubl1k", "ripazha dAFF", "ripaZha x"]) == "ripaZha"
    assert clan_tag(["vid|TAG", "bronze|tag", "carl|TAG"]) == "|TAG"
    assert clan_tag(["[DC]vid", "[DC]bronze", "[dc] carl", "guest"]) == "[DC]"
    # a tag must be worn by most of the roster, and names alone are no tag
    assert clan_tag(["[DC]vid", "bronze", "carl", "guest"]) is None
    assert clan_tag(["vid", "bronze.", "carniee"]) is None
    assert clan_tag(["carniee", "carl"]) is None  # a shared start without a separator


def test_team_names_fall_back_to_captains_and_never_collide() -> None:
    names = {"a": "vid", "b": "bronze.", "c": "carl", "d": "x.1", "e": "x.2", "f": "x.3"}
    rounds = {"a": 10, "b": 12, "c": 12, "d": 5, "e": 5, "f": 5}
    got = name_teams([{"a", "b", "c"}, {"d", "e", "f"}], rounds, names)
    assert got == ("Team bronze.", "x.")  # most rounds, then alphabetical
    # one clan split in two: both sides by their captains
    names.update(a="x.vid", b="x.bronze", c="x.carl")
    assert name_teams([{"a", "b", "c"}, {"d", "e", "f"}], rounds, names) == (
        "Team x.bronze",
        "Team x.1",
    )
    assert name_teams([{"a"}, {"d"}], rounds, names, ["Mix", None]) == ("Mix", "Team x.1")


def test_segments_split_on_a_new_opponent_not_on_a_substitute() -> None:
    home = frozenset("abcde")
    m_clan, r_clan = frozenset("xyz"), frozenset("pqrst")

    def sides(a: frozenset[str], b: frozenset[str], w: int | None) -> MapSides:
        return MapSides((a, b), w)

    maps = [
        sides(home, m_clan, 0),
        sides(home - {"e"} | {"f"}, m_clan, 1),  # a substitute: same segment
        sides(home, m_clan, 0),
        sides(home, r_clan, 1),  # another clan: a new segment
        sides(home, r_clan, None),
    ]
    label = {m_clan: "M", r_clan: "R"}
    segs = split_segments(
        maps, lambda pair: ("home", label.get(pair[1], "R" if "p" in pair[1] else "M"))
    )
    assert [(s.first, s.last, s.names, s.wins, s.draws) for s in segs] == [
        (0, 2, ("home", "M"), (2, 1), 0),
        (3, 4, ("home", "R"), (0, 1), 1),
    ]
    assert [s.line() for s in segs] == ["home 2–1 M", "R 1–0–1 home"]
    # equal names on both sides of a change: one segment (an admin named them so)
    merged = split_segments(maps, lambda pair: ("home", "Mix"))
    assert [(s.first, s.last, s.wins, s.draws) for s in merged] == [(0, 4, (2, 2), 1)]


def test_a_half_and_half_reshuffle_is_a_new_segment_with_disjoint_rosters() -> None:
    """Two of each team swap sides for the last map: not the same two teams (half of each
    side played for it before used to be enough), and no player on both sides of one
    segment (a segment's rosters were everyone who ever played for a side in it)."""
    home, away = frozenset("abcd"), frozenset("wxyz")
    mixed = (frozenset("abwx"), frozenset("cdyz"))
    maps = [MapSides((home, away), 0), MapSides((home, away), 1), MapSides(mixed, 1)]
    segs = split_segments(maps, lambda pair: ("T" + min(pair[0]), "T" + min(pair[1])))
    assert [(s.first, s.last, s.wins) for s in segs] == [(0, 1, (1, 1)), (2, 2, (0, 1))]
    assert [s.rosters for s in segs] == [(home, away), mixed]
    # one name for both line-ups (an admin's, or the same captains): players who swapped
    # sides keep the reshuffle apart
    same = split_segments(maps, lambda pair: ("home", "away"))
    assert [(s.first, s.last) for s in same] == [(0, 1), (2, 2)]
    for seg in segs + same:
        assert not seg.rosters[0] & seg.rosters[1]


def _evening(
    maps: list[tuple[str, str, bool, bool]],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Rounds, sides and players of a hand-written evening: per map the round-1 attackers,
    the round-1 defenders (one letter a player; they swap sides for round 2), whether
    round 1 and round 2 were completed."""
    rounds: list[dict[str, Any]] = []
    sides: list[dict[str, Any]] = []
    played: Counter[str] = Counter()
    for i, (att, dfn, r1_done, r2_done) in enumerate(maps):
        for number, done in ((1, r1_done), (2, r2_done)):
            rid = 10 * i + number
            rounds.append(
                {"round_id": rid, "match_id": 100 + i, "round_number": number, "counted": True,
                 "defender_side": 1, "attackers_won": done, "time_limit_s": 600.0,
                 "next_time_limit_s": 300.0 if done else None, "duration_s": 300.0}
            )  # fmt: skip
            attackers, defenders = (att, dfn) if number == 1 else (dfn, att)
            for team, who in ((2, attackers), (1, defenders)):
                for g in who:
                    sides.append({"round_id": rid, "guid": g, "team": team})
                    played[g] += 1
    players = pl.DataFrame(
        [{"guid": g, "name": f"P-{g}", "rounds": n} for g, n in sorted(played.items())],
        schema={"guid": pl.String, "name": pl.String, "rounds": pl.Int64},
    )
    return pl.DataFrame(rounds), pl.DataFrame(sides), players


def test_a_reshuffled_map_is_nobodys_points_and_everybody_has_a_team() -> None:
    """Home (abcd) against Away (wxyz) for three maps, Away's sub s on map 3; then a
    reshuffle: abws against cdxy, won by cdxy (two of each team on either side). The
    reshuffle is a segment of its own, worth no points to either team (it went to whichever
    team the vote leaned to); s, one map for each side, is on a team (a tied vote put him
    on neither) — the one he played for last."""
    from etl_duck.domain.scoring import score_stopwatch

    night = [
        ("abcd", "wxyz", True, False),  # Home set a time, Away fell short: Home
        ("wxyz", "abcd", True, True),  # Away set a time, Home beat it: Home
        ("abcd", "wxys", True, True),  # Home set a time, Away beat it: Away
        ("abws", "cdxy", True, True),  # the reshuffle: cdxy beat the clock
    ]
    score = score_stopwatch(*_evening(night))
    assert score.teams is not None
    a, b = score.teams
    home, away = (a, b) if "a" in a.guids else (b, a)
    assert (home.points, away.points) == (4, 2)  # maps 1-3 only
    assert [(s.first, s.last) for s in score.segments] == [(0, 2), (3, 3)]
    assert [s.scored for s in score.segments] == [True, False]
    assert home.guids == frozenset("abcds") and away.guids == frozenset("wxyz")
    last = score.segments[-1]
    assert set(last.rosters) == {frozenset("abws"), frozenset("cdxy")}
    won = last.rosters[last.wins.index(1)]
    assert won == frozenset("cdxy")  # the map's winners, under the name its row shows
    row = score.maps.row(3, named=True)
    assert row["winner"] is not None and row["segment"] == 1
    assert (row["team_a"], row["team_b"])[("A", "B").index(row["winner"])] == last.names[
        last.wins.index(1)
    ]
    for seg in score.segments:  # nobody on both sides of one segment
        assert not seg.rosters[0] & seg.rosters[1]


def test_a_2v2_clan_with_a_different_sub_twice_is_one_opponent() -> None:
    """Y.alpha and Y.bravo against X.charlie and X.delta for seven maps, X.delta replaced by
    eve on map 3 and by frank on map 6. One sub is half a 2v2 side: a strict majority split
    the evening into five segments named `X.` and `Team X.charlie` in turn (the sub's maps
    lost the clan tag), five "Score:" lines for one opponent."""
    from etl_duck.domain.scoring import score_stopwatch

    night = [("ab", "cd", True, False), ("cd", "ab", True, True), ("ab", "ce", True, False),
             ("cd", "ab", True, True), ("ab", "cd", True, False), ("cf", "ab", True, True),
             ("ab", "cd", True, False)]  # fmt: skip
    score = score_stopwatch(*_evening(night))
    assert [(s.first, s.last, s.scored) for s in score.segments] == [(0, 6, True)]
    assert score.teams is not None
    a, b = score.teams
    y, x = (a, b) if "a" in a.guids else (b, a)
    assert (y.points, x.points) == (14, 0)  # Y. won all seven (independent: the night above)
    assert x.guids == frozenset("cdef")


def test_an_admins_teams_score_every_map_even_against_how_they_played() -> None:
    """An admin puts d with a and b (Alpha) and c alone in Beta, while d played with c: the
    admin's teams decide. The maps scored nothing: a silent 0–0 with no note."""
    from etl_duck.domain.scoring import TeamOverride, score_stopwatch

    night = [("ab", "cd", True, False), ("cd", "ab", True, True), ("ab", "cd", True, False)]
    admin = [TeamOverride("Alpha", frozenset("abd")), TeamOverride("Beta", frozenset("c"))]
    score = score_stopwatch(*_evening(night), admin)
    assert score.teams is not None
    points = {t.name: t.points for t in score.teams}
    assert points == {"Alpha": 6, "Beta": 0}  # ab won all three maps: Alpha's
    assert all(s.scored for s in score.segments)


# --------------------------------------------------------------------------- the real night


def independent_split(data: Path) -> Counter[tuple[str, str, str]]:
    """(our clan, their clan, result) per complete map of 2025-11-01, from the Parquet
    files: the clan of a side is its players' name prefix, the winner by the stopwatch rule."""
    rows = lake_sql(
        data,
        """SELECT r.match_id, r.round_number, r.attackers_won, r.defender_side, p.team, p.name
           FROM {t} p JOIN read_parquet('"""
        + str(data)
        + """/lake/rounds/**/*.parquet', hive_partitioning = true) r USING (round_id)
           WHERE r.counted AND p.counted AND r.session_id = (
               SELECT min(session_id) FROM read_parquet('"""
        + str(data)
        + """/lake/rounds/**/*.parquet', hive_partitioning = true)
               WHERE session_date = DATE '2025-11-01')""",
    )
    matches: dict[int, dict[int, dict[str, Any]]] = {}
    for mid, rn, won, dfn, team, name in rows:
        rnd = matches.setdefault(mid, {}).setdefault(rn, {"won": won, "att": set()})
        if team in (1, 2) and team != dfn:
            rnd["att"].add(name.lower().split(".")[0].split(" ")[0])
    out: Counter[tuple[str, str, str]] = Counter()
    for by in matches.values():
        if 1 not in by or 2 not in by:
            continue
        (first,), (second,) = by[1]["att"], by[2]["att"]  # one clan attacks each round
        opponent = first if second == "slomix" else second
        if by[2]["won"]:
            winner = second
        elif by[1]["won"]:
            winner = first
        else:
            winner = "draw"
        result = "draw" if winner == "draw" else ("won" if winner == "slomix" else "lost")
        out[("slomix", opponent, result)] += 1
    return out


def test_the_real_night_splits_per_opponent(tmp_path_factory: pytest.TempPathFactory) -> None:
    data = template_lake(tmp_path_factory)
    truth = independent_split(data)
    assert truth == Counter(
        {("slomix", "///m", "won"): 2, ("slomix", "///m", "lost"): 1,
         ("slomix", "ripazha", "lost"): 3, ("slomix", "ripazha", "draw"): 1}
    )  # fmt: skip
    rep = Stats(data, min_rounds=1).session(NIGHT)
    assert [(s.first, s.last, set(s.names)) for s in rep.segments] == [
        (0, 2, {"///M.", "slomix."}),
        (3, 6, {"ripaZha", "slomix."}),
    ]
    assert [s.line() for s in rep.segments] == ["slomix. 2–1 ///M.", "ripaZha 3–0–1 slomix."]
    assert rep.teams is not None
    assert {t.name for t in rep.teams} == {"slomix.", "///M. / ripaZha"}
    # every complete map carries its segment and the names of both sides
    assert rep.maps["segment"].to_list() == [0, 0, 0, 1, 1, 1, 1]
    assert set(rep.maps["team_a"].to_list() + rep.maps["team_b"].to_list()) == {
        "slomix.", "///M.", "ripaZha"
    }  # fmt: skip


# --------------------------------------------------------------------------- coalescing


def test_coalescer_folds_a_burst_into_one_run() -> None:
    """Requests in one tick join the pending run; requests within the interval after a run
    become exactly one more run, which sees the latest state (a frozen clock: the interval
    never passes by itself, so a loaded machine cannot change the count)."""

    async def main() -> list[tuple[str, int]]:
        runs: list[tuple[str, int]] = []
        seen = {"v": 0}

        async def work(key: str) -> None:
            runs.append((key, seen["v"]))

        c: Coalescer[str] = Coalescer(work, min_interval=0.05, clock=lambda: 0.0)
        c.request("s1")
        for v in range(1, 10):  # the same tick: they join the first run
            seen["v"] = v
            c.request("s1")
        while not runs:
            await asyncio.sleep(0.001)
        for v in range(10, 20):  # a burst right after it: one more run
            seen["v"] = v
            c.request("s1")
        c.request("s2")  # another session: its own run at once
        await c.flush()
        return runs

    runs = run(main())
    assert runs == [("s1", 9), ("s2", 19), ("s1", 19)]


# --------------------------------------------------------------------------- through the bot


def scoreboard_messages(channel: FakeChannel) -> list[int]:
    return [
        mid
        for mid, m in channel.messages.items()
        if str(m.sent.embed.title).startswith("Scoreboard")
    ]


def test_live_scoreboard_is_edited_and_a_backlog_is_one_edit(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_THREE_MAPS)
    files = held_files(LAST_THREE_MAPS)
    ingestor = Ingestor(data)
    channel = FakeChannel()

    async def main() -> tuple[int, int]:
        async with bot_running(data, tmp_path / "links.db", channel, ingestor=ingestor) as bot:
            cog: Any = bot.get_cog("Round posts")
            await asyncio.to_thread(ingestor, files[:1])  # frostbite round 1: live
            await ingestor.wait_idle()
            await cog.scoreboards.flush()
            after_first = len(channel.edits)
            await asyncio.to_thread(ingestor, files[1:])  # five rounds at once: a backlog
            await ingestor.wait_idle()
            await cog.scoreboards.flush()
            return after_first, len(channel.edits)

    after_first, after_backlog = run(main())
    (board_id,) = scoreboard_messages(channel)  # one scoreboard message, never re-posted
    first = channel.messages[board_id].sent.embed
    assert "etl\\_frostbite" in str(first.description) and "to beat **3:37**" in str(
        first.description
    )
    assert after_first == 0 and after_backlog == 1  # the backlog: exactly one edit
    edited = channel.edits[-1]
    assert edited[0] == board_id
    text = str(edited[1].embed.description)
    assert text.count("\n`") == 10 and "braundorf\\_b4" in text  # all ten maps
    assert "…" not in text.split("braundorf")[1]  # the last map is complete
    titles = channel.titles()
    assert titles.count("5 rounds ingested") == 1  # the backlog itself: one line
    # a field per team, named as the session report names them, and the MVP so far
    rep = Stats(data).last_session()
    assert rep.teams is not None and rep.mvp is not None
    fields = {f.name: str(f.value) for f in edited[1].embed.fields}
    several_opponents = len(score_lines(rep)) > 1
    for team in rep.teams:
        (name,) = [n for n in fields if str(n).startswith(team.name)]
        assert all(p.split("^")[0][:4] in fields[name] for p in team.players), (name, team)
        # a points total only when one opponent was played all evening
        assert ("pts" in str(name)) == (not several_opponents), name
    assert str(rep.mvp["name"]) in fields["MVP so far"].replace("\\", "")


def test_round_and_map_posts_tell_the_stopwatch(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    held = LAST_THREE_MAPS[2:4]  # erdenberg: round 2 was held (its duration is unknown)
    data = lake_copy(tmp_path_factory, tmp_path / "data", held)
    ingestor = Ingestor(data)
    channel = FakeChannel()

    async def main() -> None:
        async with bot_running(data, tmp_path / "links.db", channel, ingestor=ingestor):
            await asyncio.to_thread(ingestor, held_files(held))
            await ingestor.wait_idle()

    run(main())
    posts = {str(m.embed.title): m.embed for m in channel.sent}
    r1, r2 = posts["erdenberg\\_t2 — round 1"], posts["erdenberg\\_t2 — round 2"]
    assert "completed the objective in **4:43**" in str(r1.description)
    assert "held: the clock of **4:43** stands" in str(r2.description)  # not "Duration —"
    for embed, number in ((r1, 1), (r2, 2)):
        blocks = [f for f in embed.fields if str(f.name).endswith(("— attack", "— defence"))]
        assert len(blocks) == 2
        shown = {row[0]: row for b in blocks for row in table_rows(str(b.value), 6)}
        expected = lake_sql(
            data,
            f"""SELECT p.name, p.kills, p.deaths, p.gibs, p.revives_given FROM {{t}} p
                JOIN read_parquet('{data}/lake/rounds/**/*.parquet', hive_partitioning = true) r
                USING (round_id) WHERE r.file_name = '{held[number - 1]}' AND p.counted""",
        )
        assert {n[:12] if len(n) <= 12 else n[:11] + "…" for n, *_ in expected} == set(shown)
        for name, k, d, g, rev in expected:
            row = shown[name if len(name) <= 12 else name[:11] + "…"]
            assert row[1] == f"{k}/{d}/{g}" and row[6] == str(rev)
        assert "played" in field_value(embed, "Time played · dead · denied, multikills")
    m = posts["Map finished: erdenberg\\_t2"]
    desc = str(m.description)
    assert "clock held" in desc and "set the clock: **4:43**" in desc and "held, the clock" in desc
    assert "DPM" in field_value(m, "Map MVP")


def test_restart_posts_nothing_twice_and_keeps_editing_the_scoreboard(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    held = LAST_THREE_MAPS[4:]
    data = lake_copy(tmp_path_factory, tmp_path / "data", held)
    ingestor = Ingestor(data)
    channel = FakeChannel()
    first, second = held_files(held)

    async def one_bot(files: list[Path], replay: Any = None) -> Any:
        async with bot_running(data, tmp_path / "links.db", channel, ingestor=ingestor) as bot:
            cog: Any = bot.get_cog("Round posts")
            if replay is not None:  # the same commit seen again (a listener replayed it)
                await cog.on_commit(replay)
            report = await asyncio.to_thread(ingestor, files) if files else None
            await ingestor.wait_idle()
            await cog.scoreboards.flush()
            return report

    report = run(one_bot([first]))
    sent_before = channel.titles()
    run(one_bot([], replay=report))  # a restarted bot sees the same commit: nothing new
    assert channel.titles() == sent_before
    run(one_bot([second]))  # the next round after the restart
    titles = channel.titles()
    assert [t for t in titles if t.startswith("Scoreboard")] == ["Scoreboard — Tue 2025-11-11"]
    assert titles.count("braundorf\\_b4 — round 1") == 1
    assert titles.count("braundorf\\_b4 — round 2") == 1
    (board_id,) = scoreboard_messages(channel)
    assert [mid for mid, _ in channel.edits] == [board_id]  # edited by the second bot
    # a rebuild lists every file as new: still nothing is posted again
    n = len(channel.sent)
    report = rebuild(data)
    run(one_bot([], replay=report))
    assert len(channel.sent) == n


def test_set_teams_is_admin_only_and_survives_a_rebuild(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = lake_copy(tmp_path_factory, tmp_path / "data")
    state_at = tmp_path / "state.sqlite3"
    guests = "///M.Demonslayer, ///M.rAzzdog, ///M.Gekku, ripaZha eLx, ripaZha zubl1k"

    async def main() -> tuple[Any, Any]:
        async with bot_running(
            data, tmp_path / "links.db", state_at=state_at, admin_role_ids=[42]
        ) as bot:
            denied = await invoke(bot, "set_teams", team1="Mix", players1=guests, date="2025-11-01")
            done = await invoke(
                bot, "set_teams", FakeInteraction_for(bot), team1="Guests", players1=guests,
                team2="slomix", players2="slomix.carniee", date="2025-11-01",
            )  # fmt: skip
            return denied, done

    denied, done = run(main())
    assert denied.last.ephemeral and "Only admins" in str(denied.last.content)
    names = [str(f.name) for f in done.last.embed.fields]
    assert names[0].startswith("Guests —") and names[1].startswith("slomix —")
    rebuild(data)  # the lake is recreated from raw/: the correction is not lake data
    with BotState(state_at) as state:
        rep = Stats(data, min_rounds=1, teams=state).session(NIGHT)
    assert rep.overridden and rep.teams is not None
    assert [t.name for t in rep.teams] == ["Guests", "slomix"]
    # one name for both opponents: one segment, the whole evening's maps in it
    assert [s.line() for s in rep.segments] == ["Guests 4–2–1 slomix"]
    guests_guids = rep.teams[0].guids
    assert {rep.players.filter(rep.players["guid"] == g)["name"][0] for g in guests_guids} >= {
        "///M.Gekku", "ripaZha eLx"
    }  # fmt: skip


def FakeInteraction_for(bot: Any) -> Any:
    from tests.bot_fakes import FakeInteraction

    return FakeInteraction(bot, ADMIN)


def test_digest_scores_per_opponent_and_compares_with_each_players_average(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = template_lake(tmp_path_factory)

    async def main() -> Any:
        async with bot_running(data, tmp_path / "links.db") as bot:
            return await invoke(bot, "digest", date="2025-11-01")

    inter = run(main())
    embed = inter.last.embed
    assert str(embed.title) == "Session digest — Sat 2025-11-01"
    assert field_value(embed, "Score").splitlines() == [
        "**slomix. 2–1 ///M.** (maps 1–3)",
        "**ripaZha 3–0–1 slomix.** (maps 4–7)",
    ]
    assert "ripaZha eLx" in field_value(embed, "MVP")
    assert inter.last.files["session_overview.png"].startswith(b"\x89PNG")
    lines = field_value(embed, "Tonight vs your average").splitlines()
    # an independent count for one regular: kills tonight − his kills per minute played
    # before × tonight's minutes, from the Parquet files (per round, it read short rounds
    # as a bad night)
    rows = lake_sql(
        data,
        """SELECT guid, arg_max(name, end_time) FILTER (WHERE tonight),
                  count(*) FILTER (WHERE tonight), sum(kills) FILTER (WHERE tonight),
                  count(*) FILTER (WHERE end_time < '2025-11-01'),
                  sum(kills) FILTER (WHERE end_time < '2025-11-01'),
                  sum(time_played_s) FILTER (WHERE tonight),
                  sum(time_played_s) FILTER (WHERE end_time < '2025-11-01')
           FROM (SELECT *, end_time BETWEEN '2025-11-01 12:00' AND '2025-11-02 12:00' AS tonight
                 FROM {t} WHERE counted)
           GROUP BY guid""",
    )
    carniee = next(r for r in rows if r[1] == "slomix.carniee")
    _, name, rounds, kills, h_rounds, h_kills, secs, h_secs = carniee
    assert h_rounds > 0 and h_secs > 0 and secs > 0
    diff = round(kills - h_kills / h_secs * secs)
    assert diff != round(kills - h_kills / h_rounds * rounds)  # the two rules differ here
    shown = f"+{diff}" if diff > 0 else (f"−{-diff}" if diff < 0 else "±0")
    assert any(ln.startswith(f"**{name}**: {shown} kills") for ln in lines)
    newcomers = [r[1] for r in rows if r[2] and not r[4]]
    assert newcomers and all(
        any(ln == f"**{n}**: first night with us" for ln in lines) for n in newcomers[:3]
    )


@settings(max_examples=200, deadline=None)
@example(lines=["x" * 101] * 20, limit=1024)  # ten lines: 1,019 + "… 10 earlier" = 1,032
@given(
    lines=st.lists(st.text(st.characters(exclude_characters="\n"), max_size=300), max_size=40),
    limit=st.sampled_from([1024, 4000]),
)
def test_a_fitted_field_is_within_discords_limit_and_keeps_the_newest_lines(
    lines: list[str], limit: int
) -> None:
    """The "… N earlier" line counts too: a digest field one character over is refused
    by Discord, and the whole digest with it (ten 99-character lines came to 1,012)."""
    from etl_duck.bot.format import fit_last as _fit

    out = _fit(lines, limit)
    assert len(out) <= limit
    head = out.partition("\n")[0]
    dropped = next((d for d in range(1, len(lines) + 1) if out.startswith(f"… {d} earlier\n")), 0)
    assert out == (f"… {dropped} earlier\n" if dropped else "") + "\n".join(lines[dropped:])
    if dropped:  # only as many dropped as needed
        fewer = dropped - 1
        before = (f"… {fewer} earlier\n" if fewer else "") + "\n".join(lines[fewer:])
        assert len(before) > limit, head
