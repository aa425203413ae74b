"""`etl-duck set-teams` and /set_teams refuse two teams that cannot stand, by one rule
(:func:`etl_duck.domain.scoring.override_clash`):

* a player on both teams — by name on both, or by name on one and GUID on the other: the
  score would silently keep him on the first team; one sentence names him ("vid", "vid
  (D842)" where two of the session's players share the name) and nothing is stored;
* one name for both teams (once trimmed, in any case): the score would read "Foo 8 – 12 Foo";
* a blank team name (spaces) is "named automatically" in both, as the bot's option says,
  not a team called "  ".

On a lake of the real fixtures: vid (D8423F90), endekk and carniee played its last session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from etl_duck.botstate import BotState
from etl_duck.cli import run as cli_run
from etl_duck.domain.scoring import OverrideClash, TeamOverride, override_clash
from tests.bot_fakes import (
    FakeInteraction,
    FakeUser,
    bot_running,
    invoke,
    lake_copy,
    run,
    template_lake,
)

VID = "D8423F90"
ADMIN = 1001


# --------------------------------------------------------------------------- the rule


def test_the_rule_compares_guids_and_trimmed_names_in_any_case() -> None:
    def clash(a: tuple[str | None, set[str]], b: tuple[str | None, set[str]]) -> Any:
        return override_clash([TeamOverride(a[0], frozenset(a[1])),
                               TeamOverride(b[0], frozenset(b[1]))])  # fmt: skip

    assert clash(("A", {"G1", "G2"}), ("B", {"G2", "G3"})) == OverrideClash(players=("G2",))
    assert clash(("Foo", {"G1"}), (" foo ", {"G2"})) == OverrideClash(name="foo")
    assert clash(("Foo", {"G1"}), ("Bar", {"G2"})) is None
    assert clash((None, {"G1"}), ("  ", {"G2"})) is None  # two automatic names: fine
    assert override_clash([TeamOverride("Foo", frozenset({"G1"}))]) is None


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> Iterator[Any]:
    data = lake_copy(tmp_path_factory, tmp_path / "data")  # set-teams writes data/state

    def call(*args: str) -> tuple[int, str, str]:
        code = cli_run(["--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    call.data = data  # type: ignore[attr-defined]
    yield call


def stored(at: Path) -> dict[int, Any]:
    """Every correction of the state file ``at``: session id → its teams."""
    if not at.exists():
        return {}
    with BotState(at) as state:
        return {sid: state.teams_for(sid) for sid in state.session_keys()}


@pytest.mark.parametrize("second", ["vid", VID, "d842"])  # by name, GUID, GUID prefix
def test_cli_refuses_a_player_on_both_teams(cli: Any, second: str) -> None:
    code, out, err = cli("set-teams", "last", "--team1", "Foo", "--players1", "vid,endekk",
                         "--team2", "Bar", "--players2", f"{second},carniee")  # fmt: skip
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and out == "" and len(lines) == 1, (code, out, err)
    assert "vid is on both teams" in lines[0] and "--players1 or --players2" in lines[0]
    assert not stored(cli.data / "state" / "bot.sqlite3")  # nothing was stored


def test_cli_refuses_one_name_for_both_teams(cli: Any) -> None:
    code, out, err = cli("set-teams", "last", "--team1", "Foo", "--players1", "vid",
                         "--team2", "  FOO ", "--players2", "carniee")  # fmt: skip
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and out == "" and len(lines) == 1, (code, out, err)
    assert "both teams are named 'FOO'" in lines[0] and "--team2" in lines[0]
    assert not stored(cli.data / "state" / "bot.sqlite3")


def test_cli_a_blank_team_name_is_automatic_as_in_the_bot(cli: Any) -> None:
    code, out, err = cli("set-teams", "last", "--team1", "  ", "--players1", "vid,endekk",
                         "--team2", "Bar", "--players2", "carniee")  # fmt: skip
    assert code == 0 and "(auto) (2 anchored) vs Bar (1 anchored)" in " ".join(out.split()), err
    ((_sid, teams),) = stored(cli.data / "state" / "bot.sqlite3").items()
    assert [t.name for t in teams] == [None, "Bar"]  # not "  "
    code, out, _ = cli("session", "last")
    score = next(ln for ln in out.splitlines() if ln.startswith("Score:"))
    assert "Bar" in score and "  –" not in score and " 8 – 12 Bar" in score, score


def test_two_players_of_one_name_are_told_apart() -> None:
    """The refusal names him as the session's answers do: "vid (D842)", not a bare "vid"
    where another vid played too."""
    from etl_duck.bot.cogs.scoring import _clash_text as bot_text
    from etl_duck.cli.social import _clash_text as cli_text

    players = pl.DataFrame({"guid": [VID, "5D989160", "7B84BE88"],
                            "name": ["vid", "vid", "endekk"]})  # fmt: skip
    clash = OverrideClash(players=(VID,))
    assert cli_text(clash, players).startswith("vid (D842) is on both teams:")
    assert bot_text(clash, players).startswith("vid (D842) is on both teams:")


# --------------------------------------------------------------------------- bot


def test_bot_refuses_a_player_by_name_and_guid_and_one_name_twice(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    lake = template_lake(tmp_path_factory)  # read only: the correction is bot state
    state_at = tmp_path / "state.sqlite3"

    async def main() -> list[Any]:
        async with bot_running(
            lake, tmp_path / "links.db", state_at=state_at, admin_user_ids=[ADMIN]
        ) as bot:
            out = []
            for kw in (
                {"team1": "Foo", "players1": "vid, endekk", "team2": "Bar",
                 "players2": f"{VID}, carniee"},
                {"team1": "Foo", "players1": "vid", "team2": " foo ", "players2": "carniee"},
            ):  # fmt: skip
                admin = FakeInteraction(bot, FakeUser(id=ADMIN))
                out.append((await invoke(bot, "set_teams", admin, **kw)).last)
            return out

    both, same = run(main())
    # D2 first: the old bot stored "Foo" vs " foo " (it refused D1 already, worded otherwise)
    assert same.ephemeral and str(same.content).startswith("Both teams are named foo:"), same
    assert both.ephemeral and str(both.content).startswith("vid is on both teams:"), both
    assert "players1 or players2" in str(both.content)
    assert not stored(state_at)
