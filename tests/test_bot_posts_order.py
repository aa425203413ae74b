"""Round posts whatever order the files come in, and whatever a round has to tell.

A round 2 fetched before its round 1 does not count yet (an orphan): it is not settled as
"nothing to post" for good, but waits, and is posted with its map once its round 1 lands —
exactly once, across re-commits and restarts. A round post's records field holds whole
lines up to Discord's 1,024 characters and "… N more"; only the announcements it shows are
claimed: the rest are the digest's to tell."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl_duck.bot.cogs.posts import MAP, ROUND
from etl_duck.bot.cogs.social import ANNOUNCED
from etl_duck.bot.format import esc
from etl_duck.domain.records import Event
from etl_duck.pipeline import Ingestor
from tests.bot_fakes import REAL, FakeChannel, bot_running, field_value, lake_copy, run

LAST_TWO_MAPS = (  # as tests/test_social.py: one template lake for both
    "2025-11-11-232245-erdenberg_t2-round-1.txt",
    "2025-11-11-232808-erdenberg_t2-round-2.txt",
    "2025-11-11-233403-braundorf_b4-round-1.txt",
    "2025-11-11-233911-braundorf_b4-round-2.txt",
)
ERDENBERG, (BRAUNDORF_R1, BRAUNDORF_R2) = LAST_TWO_MAPS[:2], LAST_TWO_MAPS[2:]
WAITING = "waiting"  # the bot state's rounds that may come to count (posts.WAITING)
FIELD_MAX = 1024  # Discord's limit for a field's value


def posted(channel: FakeChannel) -> list[str]:
    return [t for t in channel.titles() if not t.startswith("Scoreboard")]


# --------------------------------------------------------------------------- round 2 first


def test_a_round_2_in_before_its_round_1_is_posted_with_its_map_once_round_1_lands(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """erdenberg's two rounds, then braundorf's round 2 alone (an orphan: no post yet, and
    no mark that would keep it from ever being posted), a restart while it waits, then its
    round 1: round 1, round 2 and "Map finished" are posted once each. The same files again,
    and another restart, post nothing more."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_TWO_MAPS)
    ingestor = Ingestor(data)
    channel = FakeChannel()
    links = tmp_path / "links.db"

    async def commit(names: tuple[str, ...], restart: bool = False) -> dict[str, Any]:
        async with bot_running(data, links, channel, ingestor=ingestor) as bot:
            if restart:
                await bot.get_cog("Round posts").on_ready()  # type: ignore[union-attr]
            if names:
                await asyncio.to_thread(ingestor, [REAL / n for n in names])
                await ingestor.wait_idle()
            st = bot.state
            return {
                "round": [st.message(ROUND, n) for n in (BRAUNDORF_R1, BRAUNDORF_R2)],
                "waiting": st.keys(WAITING),
                "maps": st.count(MAP),
            }

    run(commit(ERDENBERG))
    assert posted(channel) == [
        "erdenberg\\_t2 — round 1",
        "erdenberg\\_t2 — round 2",
        "Map finished: erdenberg\\_t2",
    ]
    marks = run(commit((BRAUNDORF_R2,)))
    assert len(posted(channel)) == 3  # round 2 without its round 1: no post yet …
    assert marks == {"round": [None, None], "waiting": [BRAUNDORF_R2], "maps": 1}  # … it waits
    marks = run(commit((), restart=True))  # a restart meanwhile: still waiting, nothing sent
    assert len(posted(channel)) == 3
    assert marks["waiting"] == [BRAUNDORF_R2]
    marks = run(commit((BRAUNDORF_R1,)))
    assert posted(channel)[3:] == [
        "braundorf\\_b4 — round 1",
        "braundorf\\_b4 — round 2",
        "Map finished: braundorf\\_b4",
    ]
    assert all(m is not None and m[1] > 0 for m in marks["round"]), marks  # posted, settled
    assert marks["waiting"] == [] and marks["maps"] == 2
    r2 = next(m for m in channel.sent if m.embed.title == "braundorf\\_b4 — round 2")
    assert "stands" in str(r2.embed.description)  # a round 2's result: the clock held
    run(commit(LAST_TWO_MAPS[2:]))  # the same files again (a re-fetch): nothing new
    run(commit((), restart=True))  # and a restart: nothing sent again
    run(commit((BRAUNDORF_R2, BRAUNDORF_R1), restart=True))
    titles = posted(channel)
    assert len(titles) == 6 and len(set(titles)) == 6, titles


def test_a_cut_round_1_that_its_round_2_makes_final_is_posted_before_it(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """erdenberg's round 1 fetched cut (still being written): no post, it waits. Its round 2
    lands and the writer has moved on: the cut is final and round 1 counts — round 1, round 2
    and the map are posted, once. The whole round 1 arriving after that posts nothing more."""
    r1, r2 = ERDENBERG
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_TWO_MAPS)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    content = (REAL / r1).read_bytes()
    (incoming / r1).write_bytes(content[: len(content) * 2 // 3])
    ingestor = Ingestor(data)
    channel = FakeChannel()

    async def main() -> list[list[str]]:
        async with bot_running(data, tmp_path / "links.db", channel, ingestor=ingestor):
            seen = []
            for path in (incoming / r1, REAL / r2, REAL / r1):
                await asyncio.to_thread(ingestor, [path])
                await ingestor.wait_idle()
                seen.append(posted(channel))
            return seen

    cut, final, whole = run(main())
    assert cut == []
    assert (
        final
        == whole
        == [
            "erdenberg\\_t2 — round 1",
            "erdenberg\\_t2 — round 2",
            "Map finished: erdenberg\\_t2",
        ]
    )


# --------------------------------------------------------------------------- records field

WHEN = datetime(2025, 11, 11, 23, 39, 11)
EARLIER = datetime(2025, 10, 1, 22, 0, 0)


def many_events(sid: int, file_name: str) -> list[Event]:
    """A round that set a personal best for everyone, and a session of milestones: far
    more than a field holds (each line ~95 characters)."""
    pbs = [
        Event(f"pb|round_damage|G{i}|{file_name}", "round_damage", "personal", sid, file_name,
              WHEN, f"player_number_{i:02d}", f"G{i}", 3000.0 + i, 2500.0, None, EARLIER,
              "old.txt")
        for i in range(12)
    ]  # fmt: skip
    milestones = [
        Event(f"milestone|kills|1000|G{i}|{sid}", "kills", "milestone", sid, None, WHEN,
              f"player_number_{i:02d}", f"G{i}", 1000.0, None, None, None)
        for i in range(12)
    ]  # fmt: skip
    return pbs + milestones


def test_a_full_records_field_shows_whole_lines_and_claims_only_what_it_shows(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """24 announcements for one round post: its records field stays within 1,024 characters,
    shows whole lines (no "**" left open), ends with "… N more", and only the shown ones are
    claimed; the session's digest tells the others (and not the shown ones again)."""
    data = lake_copy(tmp_path_factory, tmp_path / "data", LAST_TWO_MAPS)
    ingestor = Ingestor(data)
    channel = FakeChannel()

    async def main() -> tuple[list[Event], set[str], tuple[list[str], list[str]]]:
        async with bot_running(data, tmp_path / "links.db", channel, ingestor=ingestor) as bot:
            events: list[Event] = []

            async def session_events(sid: int) -> list[Event]:
                events[:] = many_events(sid, BRAUNDORF_R1)
                return list(events)

            bot.stats.session_events = session_events  # type: ignore[method-assign]
            await asyncio.to_thread(ingestor, [REAL / BRAUNDORF_R1])
            await ingestor.wait_idle()
            claimed = set(bot.state.keys(ANNOUNCED))
            records: Any = bot.get_cog("Records")
            rep = await bot.stats.last_session()
            digest = await records.session_highlights(rep, announce=True)  # the posted digest's
            return events, claimed, digest

    events, claimed, (digest_records, digest_milestones) = run(main())
    post = next(m for m in channel.sent if m.embed.title == "braundorf\\_b4 — round 1")
    value = field_value(post.embed, "Records")
    texts = [e.text(esc) for e in events]
    assert len("\n".join(texts)) > FIELD_MAX  # the case: more than a field holds
    assert len(value) <= FIELD_MAX
    *lines, more = value.splitlines()
    assert lines == texts[: len(lines)]  # whole lines, the first ones, none cut
    assert value.count("**") % 2 == 0
    assert more == f"… {len(texts) - len(lines)} more"
    shown = {e.key for e in events[: len(lines)]}
    assert claimed == shown  # every claimed one is in the post; the rest are not claimed
    told = [t for t in digest_records + digest_milestones if not t.startswith("…")]
    assert sorted(told) == sorted(texts[len(lines) :])  # the digest tells exactly the rest


@given(
    notes=st.lists(
        st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1),
        max_size=40,
    )
)
def test_fitted_notes_are_the_first_whole_lines_within_the_limit(notes: list[str]) -> None:
    from etl_duck.bot.embeds.posts import fit_notes

    text, shown = fit_notes(notes)
    assert len(text) <= FIELD_MAX
    if shown == len(notes):
        assert text == "\n".join(notes)
        return
    dropped = len(notes) - shown
    assert text == "\n".join([*notes[:shown], f"… {dropped} more"])
    # as many as fit: one more would not, with the digest's "… N earlier" (``_fit``)
    tag = f"… {dropped - 1} earlier\n" if dropped > 1 else ""
    assert len(tag + "\n".join(notes[: shown + 1])) > FIELD_MAX
