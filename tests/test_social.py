"""Duos, rivals, records and milestones, and who is who (issue 17): teammate win rates
against an independent count on synthetic truth, records and milestones announced exactly
once across a rebuild and a restart, the chooser on near-tied names, /link with proof,
uniqueness and the admin override, and the CLI with --json."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from etl_duck.bot.respond import PlayerChooser
from etl_duck.cli import app
from etl_duck.domain import records as rec
from etl_duck.ingest.run import rebuild
from etl_duck.pipeline import Ingestor
from etl_duck.query.stats import PlayerAmbiguous, Stats
from etl_duck.synth import Truth
from tests.bot_fakes import (
    REAL,
    FakeChannel,
    FakeInteraction,
    FakeUser,
    bot_running,
    field_value,
    invoke,
    lake_copy,
    run,
    template_lake,
)

LAST_TWO_MAPS = (
    "2025-11-11-232245-erdenberg_t2-round-1.txt",
    "2025-11-11-232808-erdenberg_t2-round-2.txt",
    "2025-11-11-233403-braundorf_b4-round-1.txt",
    "2025-11-11-233911-braundorf_b4-round-2.txt",
)
VID = "D8423F90"


# --------------------------------------------------------------------------- teammates


def truth_results(truth: Truth) -> list[dict[str, str]]:
    """Per player and complete map: side and result, straight from the generator's truth
    (round 1 + round 2 of a map back to back in an evening, both normal)."""
    rows = truth.rows_by_file()
    out: list[dict[str, str]] = []
    by_session: dict[int, list[Any]] = defaultdict(list)
    for r in truth.rounds:
        by_session[r.session_index].append(r)
    for rounds in by_session.values():
        rounds.sort(key=lambda r: r.end_time)
        for r1, r2 in itertools.pairwise(rounds):
            if not (r1.kind == r2.kind == "normal" and r1.map_name == r2.map_name
                    and (r1.round_number, r2.round_number) == (1, 2)):  # fmt: skip
                continue
            sides: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for rnd, defender in ((r1, r1.defender_side), (r2, r2.defender_side)):
                for p in rows[rnd.file_name]:
                    if p.is_bot or p.team not in (1, 2):
                        continue
                    attacking = p.team != defender
                    # the round-1 attackers (X) defend round 2
                    x = attacking if rnd is r1 else not attacking
                    sides[p.guid][0 if x else 1] += 1
            if r2.winner_side != r2.defender_side:
                winner = "Y"
            elif r1.winner_side != r1.defender_side:
                winner = "X"
            else:
                winner = "D"
            for guid, (x, y) in sides.items():
                if x == y:
                    continue
                side = "X" if x > y else "Y"
                result = "D" if winner == "D" else ("W" if winner == side else "L")
                out.append({"match": r1.file_name, "guid": guid, "side": side, "result": result})
    return out


def test_teammate_win_rates_match_an_independent_count(
    synthetic_lake: tuple[Path, Truth],
) -> None:
    data, truth = synthetic_lake
    results = truth_results(truth)
    maps_of: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in results:
        maps_of[r["match"]].append(r)
    stats = Stats(data, min_rounds=1)
    regulars = Counter(r["guid"] for r in results).most_common(3)
    checked = 0
    for guid, _ in regulars:
        together: dict[str, Counter[str]] = defaultdict(Counter)
        mine = [r for r in results if r["guid"] == guid]
        overall = Counter(r["result"] for r in mine)
        for r in mine:
            for other in maps_of[r["match"]]:
                if other["guid"] != guid and other["side"] == r["side"]:
                    together[other["guid"]][r["result"]] += 1
        _, _, mates = stats.teammates(guid, min_maps=1)
        got = {m["guid"]: m for m in mates.iter_rows(named=True)}
        assert set(got) == set(together)
        for mate, c in together.items():
            g = got[mate]
            assert (g["together_won"], g["together_lost"], g["together_drawn"]) == (
                c["W"], c["L"], c["D"]
            )  # fmt: skip
            n = sum(c.values())
            assert g["together_maps"] == n
            assert g["together_rate"] == pytest.approx(100 * c["W"] / n)
            apart = len(mine) - n
            assert g["apart_maps"] == apart
            if apart:
                assert g["apart_rate"] == pytest.approx(100 * (overall["W"] - c["W"]) / apart)
            checked += 1
    assert checked > 10


def test_lineups_count_exact_rosters(synthetic_lake: tuple[Path, Truth]) -> None:
    data, truth = synthetic_lake
    meetings: Counter[tuple[str, str]] = Counter()
    maps_of: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"X": set(), "Y": set()})
    for r in truth_results(truth):
        maps_of[r["match"]][r["side"]].add(r["guid"])
    for sides in maps_of.values():
        a, b = sorted((",".join(sorted(sides["X"])), ",".join(sorted(sides["Y"]))))
        meetings[a, b] += 1
    table = Stats(data, min_rounds=1).lineups(min_maps=2)
    got = {(r["lineup_a"], r["lineup_b"]): r["maps"] for r in table.iter_rows(named=True)}
    assert got == {k: n for k, n in meetings.items() if n >= 2}
    assert all(
        r["won_a"] + r["won_b"] + r["drawn"] == r["maps"] for r in table.iter_rows(named=True)
    )


# --------------------------------------------------------------------------- records (pure)


def test_records_need_something_to_beat_and_ties_do_not_break() -> None:
    def rnd(file: str, mp: str, t: float, won: bool = True, n: int = 1) -> dict[str, Any]:
        return {"session_id": 1, "session_date": None, "round_id": hash(file), "match_id": 1,
                "file_name": file, "map_name": mp, "round_number": n, "end_time": None,
                "duration_s": t, "time_limit_s": 600, "next_time_limit_s": int(t),
                "attackers_won": won, "counted": True}  # fmt: skip

    from datetime import datetime, timedelta

    rows = [rnd("a", "supply", 400), rnd("b", "supply", 380), rnd("c", "supply", 380),
            rnd("d", "supply", 500), rnd("e", "frostbite", 100), rnd("f", "supply", 390, won=False)]  # fmt: skip
    for i, r in enumerate(rows):
        r["end_time"] = datetime(2025, 1, 1, 20) + timedelta(minutes=10 * i)
    rounds = pl.DataFrame(rows)
    events = rec.round_record_events(rounds, pl.DataFrame())
    got = [(e.kind, e.scope, e.file_name, e.value, e.previous) for e in events]
    assert got == [
        ("fastest_completion", "supply", "b", 380.0, 400.0),  # c ties 380: no record
        ("longest_hold", "supply", "d", 500.0, 400.0),  # f was held: no completion time
    ]  # frostbite's only round beat nothing
    assert len({e.key for e in events}) == len(events)


def _round_bests(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` in the running order, one per round (end, file): its largest value, of equal
    ones the first by GUID. A round is one contender: its players do not break records of
    each other (review 84), they played it at once."""
    rounds: dict[tuple[Any, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        rounds[(r["end_time"], r["file_name"])].append(r)
    out = []
    for key in sorted(rounds):
        top = max(r["value"] for r in rounds[key])
        out.append(min((r for r in rounds[key] if r["value"] == top), key=lambda r: r["guid"]))
    return out


def _all_rows_events(rounds: pl.DataFrame, bests: pl.DataFrame) -> list[rec.Event]:
    """The record events with every round read in order (what round_record_events did before
    it skipped rows that set no running best), each round's best against the earlier
    rounds only: the reference for the property below."""
    events: list[rec.Event] = []
    done = rec.completion_times(rounds).sort("end_time", "file_name")
    for map_name, part in done.group_by("map_name", maintain_order=True):
        rows = [{**r, "value": r["completion_s"], "holder": ""} for r in part.iter_rows(named=True)]
        for kind in ("fastest_completion", "longest_hold"):
            events += rec._running(rows, rec.ROUND_RECORDS[kind][2], str(map_name[0]), kind)
    for kind, column in (("round_kills", "best_kills"), ("round_dpm", "best_dpm")):
        frame = bests.select(
            "session_id", "guid", pl.col("name").alias("holder"), "map_name",
            pl.col(column).alias("value"), pl.col(f"{column}_file").alias("file_name"),
            pl.col(f"{column}_end").alias("end_time"),
        ).filter(pl.col("value").is_not_null())  # fmt: skip
        rows = _round_bests(frame.to_dicts())
        events += rec._running(rows, True, "all", kind)
        for name in sorted({r["map_name"] for r in rows}):
            events += rec._running([r for r in rows if r["map_name"] == name], True, name, kind)
    # in the order the rows were read (end, file, player), then by key: not by key alone,
    # where "X.txt#scrim|…" sorts before "X.txt|…" (review 47)
    return sorted(events, key=lambda e: (e.end_time, e.file_name or "", e.guid or "", e.key))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["supply", "frostbite"]),
            st.integers(0, 4),  # kills: many ties
            st.sampled_from([None, 150.0, 150.0, 210.5, 90.0]),  # DPM (None: a short round)
            st.sampled_from([300, 300, 420, 180]),  # completion seconds: ties too
            st.booleans(),  # completed or held
            st.booleans(),  # a player of the row before's round (several players a round)
        ),
        max_size=25,
    )
)
def test_record_events_equal_reading_every_round(
    rows: list[tuple[str, int, float | None, int, bool, bool]],
) -> None:
    from datetime import datetime, timedelta

    start = datetime(2025, 1, 1, 20)
    # the round of each player row: its own, or the row before's (one map, one file, one
    # end); a GUID may come twice in one round (two lines of one file can share it)
    of = [0] * len(rows)
    for i, row in enumerate(rows):
        of[i] = of[i - 1] if i and row[5] else i
    bests = pl.DataFrame(
        [{"session_id": 1, "guid": f"G{i % 3}", "name": f"p{i % 3}", "map_name": rows[of[i]][0],
          "best_kills": k, "best_kills_file": f"f{of[i]:02d}",
          "best_kills_end": start + timedelta(minutes=of[i] // 2),  # pairs end together
          "best_dpm": d, "best_dpm_file": f"f{of[i]:02d}",
          "best_dpm_end": start + timedelta(minutes=of[i] // 2)}
         for i, (_, k, d, _, _, _) in enumerate(rows)],
        schema={"session_id": pl.Int64, "guid": pl.String, "name": pl.String,
                "map_name": pl.String, "best_kills": pl.Int64, "best_kills_file": pl.String,
                "best_kills_end": pl.Datetime("us"), "best_dpm": pl.Float64,
                "best_dpm_file": pl.String, "best_dpm_end": pl.Datetime("us")},
    )  # fmt: skip
    rounds = pl.DataFrame(
        [{"session_id": 1, "session_date": None, "round_id": i, "match_id": i,
          "file_name": f"f{i:02d}", "map_name": m, "round_number": 1 + i % 2,
          "end_time": start + timedelta(minutes=i // 2), "duration_s": t,
          "time_limit_s": 600, "next_time_limit_s": t, "attackers_won": won, "counted": True}
         for i, (m, _, _, t, won, _) in enumerate(rows)],
        schema={"session_id": pl.Int64, "session_date": pl.Date, "round_id": pl.Int64,
                "match_id": pl.Int64, "file_name": pl.String, "map_name": pl.String,
                "round_number": pl.Int64, "end_time": pl.Datetime("us"),
                "duration_s": pl.Int64, "time_limit_s": pl.Int64,
                "next_time_limit_s": pl.Int64, "attackers_won": pl.Boolean,
                "counted": pl.Boolean},
    )  # fmt: skip
    assert rec.round_record_events(rounds, bests) == _all_rows_events(rounds, bests)
    # the same rounds as the rollup writes them (parser version 18): a row per player and
    # map with every round — each round still breaks a record of its own (review 71, F6:
    # the row's best round alone lost the others)
    assert rec.round_record_events(rounds, _grouped(bests)) == _all_rows_events(rounds, bests)
    # the standing records (the site, /records) follow the same rule: the largest value,
    # held by the first round that reached it, of its players the first by GUID
    want: dict[tuple[str, str], tuple[float, str, str]] = {}
    for kind, column in (("round_kills", "best_kills"), ("round_dpm", "best_dpm")):
        rows_of = [r for r in bests.to_dicts() if r[column] is not None]
        for scope in ("all", "supply", "frostbite"):
            mine = [r for r in rows_of if scope in ("all", r["map_name"])]
            if mine:
                top = max(r[column] for r in mine)
                first = min((r for r in mine if r[column] == top),
                            key=lambda r: (r[f"{column}_end"], r[f"{column}_file"], r["guid"]))  # fmt: skip
                want[(scope, kind)] = (top, first["guid"], first[f"{column}_file"])
    for layout in (bests, _grouped(bests)):
        events = rec.round_record_events(rounds, layout)
        got = {(r["scope"], r["kind"]): (r["value"], r["guid"], r["file_name"])
               for r in rec.current_records(events, rounds, layout)
               if r["kind"] in ("round_kills", "round_dpm")}  # fmt: skip
        assert got == want


def _grouped(rounds: pl.DataFrame) -> pl.DataFrame:
    """One-round ``player_map_bests`` rows of the layout before parser version 18 (one
    session) grouped as the rollup groups them since: a row per (player, map) with
    ``each_round``."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rounds.sort("best_kills_end", "best_kills_file").iter_rows(named=True):
        row = rows.setdefault((r["guid"], r["map_name"]), {
            "session_id": r["session_id"], "guid": r["guid"], "name": r["name"],
            "map_name": r["map_name"], "each_round": []})  # fmt: skip
        row["each_round"].append({"end": r["best_kills_end"], "file": r["best_kills_file"],
                                  "kills": r["best_kills"], "dpm": r["best_dpm"],
                                  "damage": 0})  # fmt: skip
    each = pl.List(pl.Struct({"end": pl.Datetime("us"), "file": pl.String, "kills": pl.Int64,
                              "dpm": pl.Float64, "damage": pl.Int64}))  # fmt: skip
    schema = {c: rounds.schema[c] for c in ("session_id", "guid", "name", "map_name")}
    return pl.DataFrame(list(rows.values()), schema={**schema, "each_round": each})


def test_a_players_bests_from_his_own_rows_equal_the_social_index(
    synthetic_lake: tuple[Path, Truth],
) -> None:
    """/player reads one player's rows (no index over everyone's history): the same bests
    as filtering the social index, for every player, with the session of each best."""
    stats = Stats(synthetic_lake[0], min_rounds=1)
    idx = stats.social()
    guids = idx.bests["guid"].unique().sort().to_list()
    assert len(guids) > 10
    kinds = set()
    for guid in guids:
        _, _, mine = stats.personal_bests(guid)
        assert mine == rec.personal_bests(idx.bests, idx.sessions, guid), guid
        kinds |= {b["kind"] for b in mine}
    assert kinds >= {"round_kills", "round_dpm", "round_damage", "session_kills"}


def test_milestones_are_crossed_once_in_the_right_session() -> None:
    from datetime import date, datetime

    sessions = pl.DataFrame(
        {"session_id": [1, 2, 3, 1], "session_date": [date(2025, 1, d) for d in (1, 2, 3, 1)],
         "guid": ["A", "A", "A", "B"], "name": ["a", "a", "a", "b"],
         "last_end": [datetime(2025, 1, d, 23) for d in (1, 2, 3, 1)],
         "kills": [450, 100, 990, 1200], "rounds": [60, 30, 20, 99], "revives": [None, 5, 5, 0]}
    )  # fmt: skip
    got = {(e.guid, e.kind, int(e.value)): e.session_id for e in rec.milestone_events(sessions)}
    assert got == {
        ("A", "kills", 500): 2, ("A", "kills", 1000): 3,  # 450 → 550 → 1,540
        ("B", "kills", 500): 1, ("B", "kills", 1000): 1,  # both in one session
        ("A", "rounds", 100): 3,  # three sessions: no sessions milestone yet
    }  # fmt: skip


# --------------------------------------------------------------------------- announced once


def announced_texts(channel: FakeChannel) -> list[str]:
    out: list[str] = []
    for m in channel.sent:
        for e in m.embeds:
            for f in e.fields:
                if f.name in ("Records", "Records broken", "Milestones"):
                    out += [ln for ln in str(f.value).splitlines() if not ln.startswith("…")]
    return out


def test_records_and_milestones_are_announced_exactly_once(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_TWO_MAPS)
    files = {f.name: f for f in REAL.iterdir()}
    erdenberg, braundorf = ([files[n] for n in LAST_TWO_MAPS[:2]],
                            [files[n] for n in LAST_TWO_MAPS[2:]])  # fmt: skip
    ingestor = Ingestor(data)
    channel = FakeChannel()
    links, state = tmp_path / "links.db", tmp_path / "state.sqlite3"

    async def session(files: list[Path], replay: Any = None, digest: bool = False) -> Any:
        async with bot_running(data, links, channel, ingestor=ingestor, state_at=state) as bot:
            posts: Any = bot.get_cog("Round posts")
            if replay is not None:
                await posts.on_commit(replay)
            report = await asyncio.to_thread(ingestor, files) if files else None
            await ingestor.wait_idle()
            if digest:
                rep = await bot.stats.last_session()
                cog: Any = bot.get_cog("Digest")
                await cog.post_digest(rep)
            return report

    run(session(erdenberg))  # live rounds: their records in the round posts
    report = rebuild(data)  # the lake is recreated: the same events, the same keys
    run(session(braundorf, replay=report))  # a restarted bot: the replay posts nothing
    run(session([], digest=True))  # the evening ends: the digest tells what is left
    run(session([], replay=report, digest=True))  # another restart: nothing at all
    told = announced_texts(channel)
    stats = Stats(data, min_rounds=1)
    events = stats.session_events(stats.session_id_for(None)[0])
    assert len(events) >= 5 and any(e.scope == "milestone" for e in events)
    assert Counter(told) == Counter(e.text() for e in events)  # each exactly once
    digests = [m for m in channel.sent if str(m.embed.title).startswith("Session digest")]
    assert len(digests) == 1
    in_rounds = [ln for m in channel.sent if "round" in str(m.embed.title)
                 for f in m.embeds[0].fields if f.name == "Records"
                 for ln in str(f.value).splitlines()]  # fmt: skip
    assert in_rounds  # the live rounds told theirs themselves
    assert f"… and {sum(1 for t in in_rounds if not t.startswith('🎯'))} announced" in field_value(
        digests[0].embed, "Records broken"
    )


# --------------------------------------------------------------------------- who is who


def test_near_tied_names_ask_with_a_chooser(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    data = template_lake(tmp_path_factory)
    with pytest.raises(PlayerAmbiguous) as info:
        Stats(data, min_rounds=1).resolve_player("slomix")
    assert len(info.value.candidates) == 5
    me, other = FakeUser(id=11), FakeUser(id=12)

    async def main() -> tuple[FakeInteraction, FakeInteraction, bool]:
        async with bot_running(data, tmp_path / "links.db") as bot:
            asked = await invoke(bot, "stats", FakeInteraction(bot, me), player="slomix")
            view = asked.last.view
            assert isinstance(view, PlayerChooser)
            allowed = await view.interaction_check(FakeInteraction(bot, other))  # type: ignore[arg-type]
            view.menu._values = ["7B84BE88"]  # endekk
            picked = FakeInteraction(bot, me)
            await view.menu.callback(picked)  # type: ignore[arg-type]
            return asked, picked, allowed

    asked, picked, allowed = run(main())
    assert not asked.last.ephemeral and str(asked.last.embed.title) == "Which player?"
    view = asked.last.view
    assert isinstance(view, PlayerChooser)
    assert sorted(o.value for o in view.menu.options) == sorted(
        ["0A26D447", "5D989160", "7B84BE88", "C74FB315", "EDBB5DA9"]
    )
    assert not allowed  # only the one who asked picks
    assert picked.last.kind == "edit" and "7B84BE88" in str(picked.last.embed.description)
    assert str(picked.last.embed.title) == "endekk"  # his card, in the same message


def test_link_needs_a_proof_and_is_unique_unless_an_admin_says_so(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = lake_copy(tmp_path_factory, tmp_path / "data")
    me, rival, admin = FakeUser(id=21), FakeUser(id=22, name="rival"), FakeUser(id=99)
    src = REAL / "2025-11-11-233403-braundorf_b4-round-1.txt"

    async def main() -> dict[str, FakeInteraction]:
        out = {}
        async with bot_running(data, tmp_path / "links.db", admin_user_ids=[99]) as bot:
            out["claim"] = await invoke(bot, "link", FakeInteraction(bot, me), player="vid")
            code = re.search(r"\*\*(\d{4})\*\*", str(out["claim"].last.content))
            assert code is not None
            out["early"] = await invoke(bot, "link", FakeInteraction(bot, me))
            # he plays a round as vid<code>: the stats file shows it under his GUID
            renamed = tmp_path / "2025-11-12-210000-braundorf_b4-round-1.txt"
            renamed.write_bytes(src.read_bytes().replace(
                b"D8423F90\\^pvid\\", b"D8423F90\\^pvid" + code.group(1).encode() + b"\\"))  # fmt: skip
            await asyncio.to_thread(Ingestor(data), [renamed])
            out["proof"] = await invoke(bot, "link", FakeInteraction(bot, me))
            out["taken"] = await invoke(bot, "link", FakeInteraction(bot, rival), player=VID)
            out["admin_no"] = await invoke(bot, "admin_link", FakeInteraction(bot, admin),
                                           member=rival, player=VID)  # fmt: skip
            out["admin_yes"] = await invoke(bot, "admin_link", FakeInteraction(bot, admin),
                                            member=rival, player=VID, shared=True)  # fmt: skip
            out["not_admin"] = await invoke(bot, "admin_link", FakeInteraction(bot, rival),
                                            member=rival, player=VID)  # fmt: skip
            named = FakeInteraction(bot, me)
            cmd: Any = bot.tree.get_command("display_name")  # its option is called "name"
            await cmd.callback(cmd.binding, named, name="Vidster")
            out["named"] = named
            out["card"] = await invoke(bot, "stats", FakeInteraction(bot, me))
            out["users"] = bot.links.users_for(VID)  # type: ignore[assignment]
        return out

    out = run(main())
    assert "put" in str(out["claim"].last.content) and out["claim"].last.ephemeral
    assert str(out["early"].last.content).startswith("Not proven yet")
    assert "Linked you to `D8423F90`" in str(out["proof"].last.content)
    assert "linked to another Discord account" in str(out["taken"].last.content)
    assert "set shared" in str(out["admin_no"].last.content)
    assert "Linked rival" in str(out["admin_yes"].last.content)
    assert "Only admins" in str(out["not_admin"].last.content)
    assert out["users"] == [21, 22]  # type: ignore[comparison-overlap]
    assert str(out["card"].last.embed.title).startswith("Vidster (")
    fields = [f.name for f in out["card"].last.embed.fields]
    assert "Personal bests" in fields and "Recent form" in fields


# --------------------------------------------------------------------------- bot + CLI


def test_social_questions_from_the_bot_and_the_cli(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = template_lake(tmp_path_factory)
    stats = Stats(data, min_rounds=1)
    _, _, mates = stats.teammates(VID)

    async def main() -> list[FakeInteraction]:
        async with bot_running(data, tmp_path / "links.db") as bot:
            return [
                await invoke(bot, "teammates", player="vid"),
                await invoke(bot, "records", map="supply"),
                await invoke(bot, "lineups"),
                await invoke(bot, "rivals", player="vid"),
            ]

    mates_i, records_i, lineups_i, rivals_i = run(main())
    best = (
        mates.filter(pl.col("together_maps") >= 3)
        .sort(["together_rate", "together_maps"], descending=True)
        .row(0, named=True)
    )
    assert f"Best partner: **{best['name']}**" in str(mates_i.last.embed.description)
    supply = field_value(records_i.last.embed, "supply")
    assert "fastest completion: **8:22**" in supply and "longest defence before it fell" in supply
    top = stats.lineups().row(0, named=True)
    assert f"**{top['won_a']}–{top['won_b']}" in str(lineups_i.last.embed.description)
    assert f"in {top['maps']} maps" in str(lineups_i.last.embed.description)
    assert "VS_HEADER" in str(rivals_i.last.embed.description)  # old files: nothing to say

    cli = CliRunner()
    result = cli.invoke(app, ["--data-dir", str(data), "teammates", "vid", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["guid"] == VID and set(out["rows"]) == set(mates["guid"].to_list())
    assert out["rows"][best["guid"]]["together_maps"] == best["together_maps"]
    result = cli.invoke(app, ["--data-dir", str(data), "records", "supply", "--json"])
    assert {r["kind"] for r in json.loads(result.output)} >= {"fastest_completion", "round_kills"}
    result = cli.invoke(app, ["--data-dir", str(data), "teammates", "slomix"])
    assert result.exit_code == 2 and "matches 5 players" in result.output  # usage: pick one
    result = cli.invoke(app, ["--data-dir", str(data), "highlights", "2025-11-11", "--json"])
    keys = [e["key"] for e in json.loads(result.output)]
    assert keys and len(keys) == len(set(keys))
