"""Review 122's findings on the community features, each pinned:

* two teams named after captains of one name were both "Team !Dup": told apart as their
  roster lines tell the captains apart ("Team !Dup (4305)");
* `predictions --json` on a lake without a complete map wrote bare NaN (not JSON) and
  exited 0: it fails as the table does, and no CLI JSON carries NaN / Infinity;
* `rivals` named neither the nemesis nor the easiest prey in its text, and a tie between
  two opponents was settled by the table's row order;
* a contradiction of ≤ 14 players said no split exists but not why, and an unlisted
  keep-apart player was "a player";
* `--min-maps` took 0 and -5, "1 maps", and `lineups` drew an empty table.

Inputs: the real 2025-09-24 evening (te_escape2 ×2, et_brewdog, etl_adlernest, te_escape2
×2) with endstats files written from a made-up duel matrix, one map of it, one round of it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from etl_duck.cli import app
from etl_duck.domain.balance import BalanceError, splits
from etl_duck.domain.social import nemesis_and_prey
from etl_duck.domain.teams import name_teams
from etl_duck.ingest.run import ingest_paths
from etl_duck.query.rating import labels
from tests.conftest import REAL
from tests.test_evening import _evening

EVENING = sorted(p.name for p in REAL.glob("2025-09-2[45]-*.txt"))
ONE_MAP = EVENING[:2]  # te_escape2, round 1 and round 2


def cli(data: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--data-dir", str(data), *args])


def flat(text: str) -> str:
    """Output with the console's line wrapping undone."""
    return " ".join(text.split())


# --------------------------------------------------------------------------- 1. team names


def test_captains_of_one_name_name_two_teams_told_apart_as_in_their_rosters() -> None:
    names = {"4305E986": "!Dup", "9474031B": "!Dup", "AAAA0001": "Rook", "BBBB0002": "Hex"}
    rounds = {"4305E986": 16, "9474031B": 16, "AAAA0001": 4, "BBBB0002": 15}
    got = name_teams([{"4305E986", "AAAA0001"}, {"9474031B", "BBBB0002"}], rounds, names)
    assert got == ("Team !Dup (4305)", "Team !Dup (9474)")
    # the roster lines' own rule, not a second one
    shown = labels([("4305E986", "!Dup"), ("9474031B", "!Dup")])
    assert got == (f"Team {shown['4305E986']}", f"Team {shown['9474031B']}")
    # names that differ in case only read the same: told apart too (as the rosters do)
    names["9474031B"] = "!dup"
    assert name_teams([{"4305E986"}, {"9474031B"}], rounds, names) == (
        "Team !Dup (4305)",
        "Team !dup (9474)",
    )
    # a team reads as its captain does in the roster lines, where every player of one
    # name is told apart — a tagged team's "!Dup" too (review 131)
    names.update({"9474031B": "!Dup", "CCCC0003": "x.a", "DDDD0004": "x.b"})
    assert name_teams([{"4305E986"}, {"9474031B", "CCCC0003", "DDDD0004"}], rounds, names) == (
        "Team !Dup (4305)",
        "x.",
    )
    # a captain "vid" and a "vid" who captains nothing on the other team: "Team vid" did not
    # say which vid (review 131)
    vids = {"D8420001": "vid", "AAAA0001": "x1", "BBBB0001": "boss", "D8420002": "vid"}
    played = {"D8420001": 10, "AAAA0001": 2, "BBBB0001": 10, "D8420002": 1}
    teams = name_teams([{"D8420001", "AAAA0001"}, {"BBBB0001", "D8420002"}], played, vids)
    assert teams == (f"Team {labels(vids.items())['D8420001']}", "Team boss")
    # one captain per team as before
    assert name_teams([{"4305E986"}, {"BBBB0002"}], rounds, names) == ("Team !Dup", "Team Hex")


def test_the_session_score_line_names_two_same_named_captains_apart() -> None:
    """Captains a and w, both called "!Dup" (the night of the reshuffle test, teams kept):
    the score line and the map rows said "Team !Dup" for both sides."""
    from etl_duck.domain.scoring import score_stopwatch

    night = [("abcd", "wxyz", True, False), ("wxyz", "abcd", True, True),
             ("abcd", "wxyz", True, True)]  # fmt: skip
    rounds, sides, players = _evening(night)
    players = players.with_columns(
        pl.when(pl.col("guid").is_in(["a", "w"]))
        .then(pl.lit("!Dup"))
        .otherwise(pl.col("name"))
        .alias("name"),
        pl.when(pl.col("guid").is_in(["a", "w"]))
        .then(pl.col("rounds") + 10)
        .otherwise(pl.col("rounds"))
        .alias("rounds"),
    )
    score = score_stopwatch(rounds, sides, players)
    assert score.teams is not None
    assert {t.name for t in score.teams} == {"Team !Dup (a)", "Team !Dup (w)"}
    (seg,) = score.segments
    assert seg.line() in ("Team !Dup (a) 2–1 Team !Dup (w)",)
    for r in score.maps.iter_rows(named=True):
        assert r["team_a"] != r["team_b"]


# --------------------------------------------------------------------------- 2. JSON


def strict_json(text: str) -> Any:
    def refuse(word: str) -> None:
        raise ValueError(f"{word} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_print_json_writes_non_finite_numbers_as_null(capsys: pytest.CaptureFixture[str]) -> None:
    from etl_duck.cli.app import print_json

    print_json({"brier": math.nan, "rows": [{"x": math.inf, "y": -math.inf}], "ok": (1.5, 2)})
    assert strict_json(capsys.readouterr().out) == {
        "brier": None, "rows": [{"x": None, "y": None}], "ok": [1.5, 2]
    }  # fmt: skip


@pytest.fixture(scope="module")
def one_round(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("one_round") / "data"
    ingest_paths(data, [REAL / EVENING[0]])
    return data


def test_predictions_json_without_a_complete_map_fails_as_the_table_does(
    one_round: Path,
) -> None:
    text = cli(one_round, "predictions")
    js = cli(one_round, "predictions", "--json")
    assert text.exit_code == js.exit_code == 1
    assert "no counted stopwatch map in the lake yet" in js.stderr
    assert js.stderr == text.stderr and js.stdout == "" == text.stdout


# --------------------------------------------------------------------------- 3. rivals


def test_nemesis_and_prey_ties_go_to_the_first_guid() -> None:
    row = {"name": "x", "rounds": 5, "kills": 4, "deaths": 6, "kd": 4 / 6}
    for order in (["BBBB0002", "AAAA0001"], ["AAAA0001", "BBBB0002"]):
        table = pl.DataFrame([{"guid": g, **row} for g in order])
        nemesis, prey = nemesis_and_prey(table)
        assert nemesis is not None and nemesis["guid"] == "AAAA0001", order
        assert prey is not None and prey["guid"] == "AAAA0001", order


def duel(a: str, b: str) -> int:
    """Kills of ``a`` on ``b`` in one round: made up, different per direction."""
    return (int(a, 16) + 2 * int(b, 16)) % 5


def write_endstats(folder: Path, names: list[str]) -> None:
    """An endstats file per round (one second before it), a VS_HEADER block per player on
    team 1 or 2 listing every opponent with :func:`duel`'s kills both ways."""
    for file in names:
        stamp, _, rest = file[:17], file[17], file[18:]
        text = (REAL / file).read_text(encoding="latin-1").split("\n")[1:]
        players = []
        for line in text:
            if line:
                guid, name, fields = line.split("\\", 2)
                team = fields.split("\\")[1]
                if team in ("1", "2"):
                    players.append((guid, re.sub(r"\^.", "", name), team))
        body = [f"Most damage given\t{players[0][1]}\t1234"]
        for g, n, team in players:
            body.append(f"VS_HEADER\t{n}\t{g}{'0' * 24}")
            body += [f"{n2}\t{duel(g, g2)}\t{duel(g2, g)}" for g2, n2, t2 in players if t2 != team]
        when = datetime.strptime(stamp, "%Y-%m-%d-%H%M%S") - timedelta(seconds=1)
        out = f"{when:%Y-%m-%d-%H%M%S}-{rest.removesuffix('.txt')}-endstats.txt"
        (folder / out).write_text("\n".join(body) + "\n")


@pytest.fixture(scope="module")
def evening(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("evening")
    incoming = base / "in"
    incoming.mkdir()
    for name in EVENING:
        (incoming / name).write_bytes((REAL / name).read_bytes())
    write_endstats(incoming, EVENING)
    ingest_paths(base / "data", sorted(incoming.iterdir()))
    return base / "data"


VID = "D8423F90"


def test_rivals_text_names_the_nemesis_and_the_easiest_prey(evening: Path) -> None:
    js = cli(evening, "rivals", VID, "--json")
    assert js.exit_code == 0, js.output
    answer = json.loads(js.stdout)
    assert answer["nemesis"] is not None and answer["easiest_prey"] is not None
    rows = answer["rows"]
    nem, prey = rows[answer["nemesis"]], rows[answer["easiest_prey"]]
    text = cli(evening, "rivals", VID)
    assert text.exit_code == 0, text.output
    out = flat(text.stdout)
    me = answer["name"]
    assert (
        f"nemesis: {nem['name']} killed {me} {nem['deaths']}× in {nem['rounds']} rounds "
        f"({me} killed {nem['name']} {nem['kills']}×)"
    ) in out, out
    assert (
        f"easiest prey: {prey['name']}, killed by {me} {prey['kills']}× in {prey['rounds']} "
        f"rounds ({prey['name']} killed {me} {prey['deaths']}×)"
    ) in out, out


# --------------------------------------------------------------------------- 4. balance


def _p_win(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> float:
    return 0.5 + 0.01 * (sum(m for m, _ in a) - sum(m for m, _ in b))


PLAYERS = [(g, float(i), 1.0) for i, g in enumerate("abcdefgh")]


@pytest.mark.parametrize("count", [8, 16])
def test_a_contradiction_says_why_however_many_players(count: int) -> None:
    players = [(f"p{i:02d}", float(i), 1.0) for i in range(count)]
    with pytest.raises(BalanceError, match="kept both together and apart"):
        splits(players, _p_win, apart=[("p00", "p01")], together=[("p00", "p01")])
    ring = [("p00", "p01"), ("p01", "p02"), ("p02", "p00")]
    with pytest.raises(BalanceError, match="odd ring"):
        splits(players, _p_win, apart=ring)


def test_an_unlisted_pair_member_is_named_with_the_fix() -> None:
    with pytest.raises(BalanceError) as apart:
        splits(PLAYERS, _p_win, apart=[("a", "zz")])
    assert str(apart.value) == (
        "zz is in a keep-apart pair but not among the players to split: add him to the "
        "players or drop him from the keep-apart pairs"
    )
    with pytest.raises(BalanceError, match=r"^yy is in a keep-together pair.*keep-together pairs$"):
        splits(PLAYERS, _p_win, together=[("yy", "b")])


def test_balance_cli_names_the_unlisted_player_and_its_option(evening: Path) -> None:
    js = cli(evening, "rating", "top", "--min-maps", "1", "--json")
    assert js.exit_code == 0, js.output
    board = json.loads(js.stdout)["rows"]
    listed, outside = [r["guid"] for r in board[:4]], board[4]
    res = cli(evening, "balance", *listed, "--apart", f"{listed[0]},{outside['guid']}")
    assert res.exit_code == 2, res.output
    assert flat(res.stderr) == (
        f"error: {outside['name']} ({outside['guid']}) is in a keep-apart pair but not among "
        "the players to split: add him to the players or drop him from --apart"
    )
    res = cli(evening, "balance", *listed, "--apart", f"{listed[0]},{listed[1]}",
              "--together", f"{listed[0]},{listed[1]}")  # fmt: skip
    assert res.exit_code == 2 and "kept both together and apart" in res.stderr, res.output


# --------------------------------------------------------------------------- 5. options


@pytest.fixture(scope="module")
def one_map(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("one_map") / "data"
    ingest_paths(data, [REAL / n for n in ONE_MAP])
    return data


@pytest.mark.parametrize(
    "args", [["rating", "--min-maps", "-5", "--json"], ["rating", "top", "--min-maps", "-1"],
             ["lineups", "--min-maps", "0"], ["lineups", "--min-maps", "-1", "--json"]],
)  # fmt: skip
def test_min_maps_out_of_range_is_a_usage_error(one_map: Path, args: list[str]) -> None:
    """No count of maps is negative; a lineup is met at least once (the rating's 0 stays:
    every rated player, what scripts and tests ask for)."""
    res = cli(one_map, *args)
    assert res.exit_code == 2 and "--min-maps" in res.stderr, res.output
    assert res.stdout == ""
    if args[0] == "rating":
        assert cli(one_map, "rating", "--min-maps", "0", "--json").exit_code == 0


def test_one_map_is_one_map_and_no_lineup_is_one_sentence(one_map: Path) -> None:
    res = cli(one_map, "rating", VID)
    assert res.exit_code == 0, res.output
    assert "· 1 map (" in flat(res.stdout) and "1 maps" not in res.stdout
    res = cli(one_map, "lineups")
    assert res.exit_code == 0 and res.stdout == "no lineup with at least 3 maps yet\n", res.output
    res = cli(one_map, "lineups", "--min-maps", "1", "--window", "week")
    assert res.exit_code == 0 and "vs lineup" in res.stdout  # one map met once: a table
