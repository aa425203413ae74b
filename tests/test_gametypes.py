"""A server that runs a gametype other than stopwatch: every file is labelled ``round-2``
and holds that round alone (STATS_FORMAT.md §1.3; §7 "Non-stopwatch gametype": treat each
file as a standalone round, do not difference)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from etl_duck.domain.counting import round_reasons
from etl_duck.domain.pairing import RowKind, pair_rounds, round_only_all
from etl_duck.domain.parse import RoundFile, parse_bytes
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import Stats
from tests.lakecheck import R1, R2, table_rows

SERVER = b"^1ET^7:^4L ^7Test ^3Server"


def _file(
    end: datetime, map_name: str, *, source: Path = R1, limit: str = "30:00", play_ms: int = 521_460
) -> tuple[str, bytes]:
    """A round of ``map_name`` as a non-stopwatch server writes it: labelled round 2, no
    stopwatch clock (H7 0:00), the counters of that round alone (the supply round 1's)."""
    body = source.read_bytes().split(b"\n", 1)[1]
    header = b"\\".join(
        [SERVER, map_name.encode(), b"legacy3", b"2", b"1", b"2", limit.encode(), b"0:00",
         str(play_ms).encode()]
    )  # fmt: skip
    return f"{end:%Y-%m-%d-%H%M%S}-{map_name}-round-2.txt", header + b"\n" + body


def _round(end: datetime, map_name: str, **kw: object) -> RoundFile:
    name, data = _file(end, map_name, **kw)  # type: ignore[arg-type]
    return parse_bytes(data, name)


T0 = datetime(2026, 3, 14, 21, 0, 0)
MAPS = ("supply", "te_escape2", "etl_adlernest", "et_brewdog")


def test_round2s_whose_counters_fit_the_round_are_standalone_and_counted() -> None:
    rounds = [_round(T0 + timedelta(minutes=12 * i), m) for i, m in enumerate(MAPS)]
    p = pair_rounds(rounds)
    names = {r.file.name for r in rounds}
    assert p.standalone == names and not p.orphans and not p.round1_of
    reasons, _ = round_reasons(rounds, ())
    assert reasons == dict.fromkeys(names)  # every round counts
    rows = round_only_all(rounds)
    for r in rounds:
        got = {row.guid: (row.kind, row.values["kills"], row.values["time_played_s"])
               for row in rows[r.file.name]}  # fmt: skip
        # values as written: nothing subtracted
        assert got == {
            line.guid: (RowKind.STANDALONE, line.values["kills"], line.values["time_played_s"])
            for line in r.players
        }


def test_a_stopwatch_round2_without_its_round1_stays_an_orphan() -> None:
    """Round 2's counters carry round 1 (its players outlive the round): cumulative, never
    counted — also when the round 2 was short, and by its limit when H8 is not written."""
    for play_ms in (472_310, 20_000):
        name, data = _file(T0, "supply", source=R2, limit="8:41", play_ms=play_ms)
        cumulative = parse_bytes(data, name)
        assert pair_rounds([cumulative]).orphans == {name}
        assert round_reasons([cumulative], ())[0] == {name: "orphan_r2"}
    eight = b"\\".join(data.split(b"\n", 1)[0].split(b"\\")[:8]) + b"\n" + data.split(b"\n", 1)[1]
    assert pair_rounds([parse_bytes(eight, name)]).orphans == {name}


def test_a_round_longer_than_its_limit_or_without_play_is_not_standalone() -> None:
    over = _round(T0, "supply", limit="5:00", play_ms=0)  # X22 up to ~8:40 > a 5:00 limit
    assert pair_rounds([over]).orphans == {over.file.name}
    no_limit = _round(T0, "supply", limit="0:00", play_ms=0)
    assert pair_rounds([no_limit]).orphans == {no_limit.file.name}


def test_a_non_stopwatch_evening_lands_in_the_boards_and_the_session(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    truth: dict[str, int] = {}
    for i, m in enumerate(MAPS):
        name, data = _file(T0 + timedelta(minutes=12 * i), m)
        (folder / name).write_bytes(data)
        for line in parse_bytes(data, name).players:
            truth[line.guid] = truth.get(line.guid, 0) + int(line.values["kills"] or 0)
    data_dir = tmp_path / "data"
    report = ingest_paths(data_dir, [folder])
    assert len(report.ingested) == len(MAPS)
    rounds = table_rows(data_dir, "rounds")
    assert {(r["counted"], r["reason"]) for r in rounds} == {(True, None)}
    kinds = {r["row_kind"] for r in table_rows(data_dir, "player_rounds")}
    assert kinds == {"standalone"}
    stats = Stats(data_dir)
    board = stats.leaderboard("kills", min_rounds=1, limit=50)
    assert dict(zip(board["guid"], board["value"], strict=True)) == {
        g: k for g, k in truth.items() if k
    }
    assert stats.status()["excluded"] == {}
    session = stats.last_session()
    assert session.rounds.height == len(MAPS) and session.rounds["counted"].all()
    per_player = dict(zip(session.players["guid"], session.players["kills"], strict=True))
    assert {g: k for g, k in per_player.items() if k} == {g: k for g, k in truth.items() if k}


def test_the_bot_posts_a_standalone_round_once_and_no_map_of_two_rounds(tmp_path: Path) -> None:
    """A standalone round is the whole map: its round post, not a "both rounds" map post."""
    from etl_duck.pipeline import Ingestor
    from tests.bot_fakes import FakeChannel, bot_running, run

    folder = tmp_path / "files"
    folder.mkdir()
    paths = []
    for i, m in enumerate(MAPS[:2]):
        name, data = _file(T0 + timedelta(minutes=12 * i), m)
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    data_dir = tmp_path / "data"
    ingest_paths(data_dir, paths[:1])
    ingestor = Ingestor(data_dir)
    channel = FakeChannel()

    async def main() -> None:
        async with bot_running(data_dir, tmp_path / "links.db", channel, ingestor=ingestor):
            await asyncio.to_thread(ingestor, paths[1:])
            await ingestor.wait_idle()

    run(main())
    titles = [str(m.embed.title) for m in channel.sent if m.embed is not None]
    assert titles.count("te\\_escape2 — round 2") == 1, titles
    assert not [t for t in titles if t.startswith("Map finished")], titles


def test_an_older_writers_round1_cut_early_and_saved_as_round2_stays_out() -> None:
    """The hand-built shutdown file as an older writer saves it (no H8, H7 0:00): its
    players' 1.2 minutes fit a 12:00 limit, and it was counted as a standalone round."""
    from tests.conftest import FIXTURES

    src = FIXTURES / "2026-03-14-230004-etl_sp_delivery-round-2.txt"
    head, body = src.read_bytes().split(b"\n", 1)
    fields = head.split(b"\\")[:8]
    fields[7] = b"0:00"
    older = parse_bytes(b"\\".join(fields) + b"\n" + body, src.name)
    assert older.header is not None and older.header.play_time_ms is None
    assert round_reasons([older], ())[0][src.name] is not None  # not counted
    assert not pair_rounds([older]).standalone
