"""The "Which player?" menu and paged answers past their first response, over Discord's wire
protocol (tests/discord_emulator) with the real bot on the real lake:

* a pick whose answer is slow is acknowledged within Discord's 3 s (deferred, then edited);
* a second ambiguous name gets its own menu, and a retry that reads its players through
  ``respond.picked()`` answers that menu with both picks;
* a failure after a pick is private, and leaves the public question as it was;
* pages, and a menu, that expire are disabled, also when the user paged for longer than the
  command's token lives, and also for pages reached through a menu.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import discord
import pytest

from etl_duck.bot import respond
from etl_duck.bot.embeds import player as player_embeds
from etl_duck.bot.respond import PlayerChooser, Reply
from etl_duck.query.stats import PlayerAmbiguous, Stats
from tests.bot_fakes import FakeInteraction, FakeUser, lake_copy, run
from tests.discord_emulator.payloads import EPHEMERAL, Message
from tests.discord_emulator.server import COMPONENT, Interaction
from tests.discord_emulator.stage import Stage
from tests.machine import within
from tests.waiting import wait_until

PAGE_TIMEOUT_S = 2.0  # the stage's pages expire after this (180 s in production)


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    data = lake_copy(tmp_path_factory, tmp_path_factory.mktemp("choosers") / "data")
    st = Stage.open(data, name="real", min_rounds=1, page_timeout_s=PAGE_TIMEOUT_S)
    try:
        st.start_bot()
        yield st
    finally:
        st.close()


@pytest.fixture
def st(stage: Stage) -> Iterator[Stage]:
    """The module's stage, clean: nothing refused or misread during the test."""
    with stage.clean():
        yield stage


def seen(st: Stage, message: Message) -> Message:
    """The message as the user sees it now (a copy: the bot edits it in place)."""
    return st.wire.read(lambda: copy.deepcopy(message))


def menu_of(message: Message) -> dict[str, Any]:
    menus = [c for c in message.buttons() if c.get("type") == 3]
    assert menus, f"no menu on the message (has {message.buttons()})"
    return menus[0]


def options(message: Message) -> list[str]:
    return [str(o["value"]) for o in menu_of(message)["options"]]


def pick(st: Stage, message: Message, guid: str, wait: float = 60.0) -> Interaction:
    """Choose ``guid`` in the message's menu, as its owner."""
    menu = menu_of(seen(st, message))
    assert not menu.get("disabled"), "the menu is disabled"
    data = {"custom_id": menu["custom_id"], "component_type": 3, "values": [guid]}

    async def go() -> Interaction:
        inter = await st.emu._start(COMPONENT, st.emu.owner, data, message)
        return await st.emu._wait(inter, wait)

    return st.run(go())


def asked(st: Stage, name: str, **options: Any) -> Message:
    """Run ``/name``: its answer must be the public "Which player?" menu."""
    inter = st.slash(name, **options)
    assert inter.answered, f"/{inter.describe()} was not answered"
    reply = inter.reply
    assert not reply.ephemeral and reply.embeds[0]["title"] == "Which player?", reply.text()
    return reply


def expired(st: Stage, message: Message) -> bool:
    return bool(menu_of(seen(st, message)).get("disabled"))


def arrows(st: Stage, message: Message) -> list[bool]:
    """Whether each of the message's page arrows is disabled."""
    buttons = seen(st, message).buttons()
    return [bool(b.get("disabled")) for b in buttons if b.get("label") in ("◀", "▶")]


# --------------------------------------------------------------------------- a slow pick


def test_a_slow_answer_after_a_pick_is_acknowledged_in_time(
    st: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = asked(st, "stats", player="slomix")
    guid = options(question)[0]
    slow = Stats.personal_bests

    def slower(self: Stats, *args: Any, **kwargs: Any) -> Any:
        time.sleep(3.5)  # e.g. the first query after a big commit: past Discord's 3 s
        return slow(self, *args, **kwargs)

    monkeypatch.setattr(Stats, "personal_bests", slower)
    inter = pick(st, question, guid)
    assert inter.ack_s is not None and within(inter.ack_s, 3.0, "the pick's ack"), "not in 3 s"
    assert inter.response_type == 6  # a deferred update: the message stays until edited
    card = seen(st, question)
    assert card.embeds[0]["title"] != "Which player?" and guid in card.embeds[0]["description"]
    assert not card.components, "the answer still shows the menu"


# --------------------------------------------------------------------------- two ambiguous names


def test_a_second_ambiguous_name_gets_its_own_menu(st: Stage) -> None:
    question = asked(st, "compare", player1="slomix", player2="ripaZha")
    assert "slomix" in question.embeds[0]["description"]
    first = options(question)
    inter = pick(st, question, first[0])
    assert inter.answered and inter.ack_s is not None and within(inter.ack_s, 3.0, "the ack")
    now = seen(st, question)  # the same public message asks about the other name
    assert not now.ephemeral and now.embeds[0]["title"] == "Which player?", now.text()
    assert "ripaZha" in now.embeds[0]["description"]
    second = options(now)
    assert second and not set(second) & set(first)
    assert not inter.followups, "the pick answered in another message"


def test_compare_answers_with_both_picks(st: Stage) -> None:
    question = asked(st, "compare", player1="slomix", player2="ripaZha")
    first = options(question)[0]
    pick(st, question, first)
    second = options(seen(st, question))[0]
    inter = pick(st, question, second)
    assert inter.answered and inter.ack_s is not None and within(inter.ack_s, 3.0, "the ack")
    answer = seen(st, question)
    assert " vs " in answer.embeds[0]["title"] and not answer.components  # two players
    assert [a.filename for a in answer.attachments] == ["compare.png"]


def test_the_second_menu_keeps_the_first_pick() -> None:
    """A command naming two players reads both through ``picked()``: after two menus it
    answers with both picks (its retry's arguments carry only the latest one)."""
    ambiguous = {
        "ann": [("AAAA0001", "ann one"), ("AAAA0002", "ann two")],
        "bob": [("BBBB0001", "bob one"), ("BBBB0002", "bob two")],
    }
    calls: list[tuple[str, str]] = []

    async def answer(a: str, b: str) -> Reply:
        for text in (a, b):
            if text in ambiguous:
                raise PlayerAmbiguous(text, ambiguous[text])
        return Reply(content=f"{a} vs {b}")

    def retry(text: str, guid: str) -> Any:
        calls.append((text, guid))
        return answer(respond.picked("ann"), respond.picked("bob"))

    me = FakeUser(id=31)

    async def choose(view: discord.ui.View | None, guid: str) -> FakeInteraction:
        assert isinstance(view, PlayerChooser)
        view.menu._values = [guid]  # what discord.py reads the user's choice into
        inter = FakeInteraction(None, me)
        await view.menu.callback(inter)  # type: ignore[arg-type]
        return inter

    async def main() -> tuple[FakeInteraction, FakeInteraction]:
        view = respond.chooser_reply(PlayerAmbiguous("ann", ambiguous["ann"]), retry, me.id).view
        first = await choose(view, "AAAA0002")
        second = await choose(first.last.view, "BBBB0001")
        return first, second

    first, second = run(main())
    asking = first.last
    assert asking.kind == "edit" and not asking.ephemeral
    assert str(asking.embed.title) == "Which player?" and "bob" in str(asking.embed.description)
    assert second.last.kind == "edit" and second.last.content == "AAAA0002 vs BBBB0001"
    assert second.last.view is None  # the answer, no menu left
    assert calls == [("ann", "AAAA0002"), ("bob", "BBBB0001")]


# --------------------------------------------------------------------------- a failed pick


def test_a_failure_after_a_pick_is_private(st: Stage) -> None:
    same = options(asked(st, "stats", player="slomix"))[0]  # one of the players it may mean
    question = asked(st, "compare", player1="slomix", player2=same)
    before = seen(st, question)
    inter = pick(st, question, same)  # … the player named second: "the same player"
    assert inter.answered and inter.response_type == 4
    note = seen(st, inter.reply)  # a new message: the pick's own
    assert note.flags & EPHEMERAL and "same player" in note.content
    after = seen(st, question)  # the public question as it was, still usable
    assert after.text() == before.text() and after.components == before.components
    assert not menu_of(after).get("disabled")


# --------------------------------------------------------------------------- expiry


def test_pages_expire_after_paging_longer_than_the_commands_token(st: Stage) -> None:
    command = st.slash("leaderboard", stat="kills")
    pages = command.reply
    assert arrows(st, pages) == [True, False]
    # the user has paged for 15 minutes less a second (each turn restarts the timeout): the
    # command's token dies a second from now, the pages PAGE_TIMEOUT_S after this turn
    st.wire.read(lambda: setattr(command, "created", command.created - (15 * 60 - 1.0)))
    turned = st.click(pages, "▶")
    assert turned.answered and turned.response_type == 7
    wait_until("the arrows to be disabled", lambda: all(arrows(st, pages)))


def test_pages_reached_through_a_menu_expire(st: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(player_embeds, "MAPS_PER_PAGE", 3)  # real players have 9 maps: 3 pages
    question = asked(st, "map_stats", player="slomix")
    pick(st, question, options(question)[0])
    assert arrows(st, question) == [True, False], seen(st, question).buttons()
    wait_until("the arrows to be disabled", lambda: all(arrows(st, question)))


def test_an_unused_menu_expires(st: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(respond, "CHOOSER_TIMEOUT_S", 1.5, raising=False)
    question = asked(st, "stats", player="slomix")
    wait_until("the menu to be disabled", lambda: expired(st, question))


def test_a_menu_answered_later_still_expires_through_its_pick(
    st: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second menu of /compare is shown through the first pick's token: it expires too."""
    monkeypatch.setattr(respond, "CHOOSER_TIMEOUT_S", 1.5, raising=False)
    question = asked(st, "compare", player1="slomix", player2="ripaZha")
    pick(st, question, options(question)[0])
    assert "ripaZha" in seen(st, question).embeds[0]["description"]
    wait_until("the menu to be disabled", lambda: expired(st, question))
