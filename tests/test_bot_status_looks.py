"""/status names an unusable record of the fetch's looks as `etl-duck status` does."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from etl_duck.bot.embeds.system import LOOKS
from etl_duck.bot.format import esc
from etl_duck.fetch.looks import LOCKED_FIX, Looks, looks_path, trouble
from tests.bot_fakes import FakeInteraction, bot_running, field_value, invoke, run


def _titles(inter: FakeInteraction) -> list[str]:
    """The fields' names, less a problem field's count ("Name (1)" → "Name")."""
    return [str(f.name).rsplit(" (", 1)[0] for f in inter.last.embed.fields]


def _looks(inter: FakeInteraction) -> str:
    return field_value(inter.last.embed, f"{LOOKS} (1)")


def test_status_names_a_damaged_record_of_looks_in_the_cli_s_words(tmp_path: Path) -> None:
    """`etl-duck status` reports a looks file that cannot be read (exit 3); /status said
    nothing of it. It now names it with the same sentence; none or a good one: nothing."""
    data = tmp_path / "data"
    data.mkdir()

    async def status() -> FakeInteraction:
        async with bot_running(data, tmp_path / "links.db") as bot:
            return await invoke(bot, "status")

    assert LOOKS not in _titles(run(status()))  # none yet (a first fetch makes it)
    assert not looks_path(data).parent.exists()  # /status created nothing
    with Looks(data) as store:
        store.put("", {"2026-03-14-213512-supply-round-1.txt": (10, 20)})
    assert LOOKS not in _titles(run(status()))  # a good one
    looks_path(data).write_bytes(b"not a database" * 100)
    for file in looks_path(data).parent.glob("looks.sqlite3-*"):
        file.unlink()
    got = run(status())
    said = _looks(got)
    assert said == esc(trouble(data))  # the one sentence `etl-duck status` prints
    assert esc(str(looks_path(data))) in said and "remove it" in said
    assert "Fetch" in _titles(got)  # the fetch's own line, as before


def test_status_reads_the_looks_off_the_event_loop(tmp_path: Path) -> None:
    """The check opens a file and may wait for a lock (up to 1 s): in a thread, so the
    gateway's heartbeat and every other command go on meanwhile."""
    data = tmp_path / "data"
    with Looks(data) as store:
        store.put("", {"2026-03-14-213512-supply-round-1.txt": (10, 20)})
    holder = sqlite3.connect(looks_path(data), isolation_level=None)
    # exclusive locking mode: even WAL readers wait for it (the check waits its 1 s)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")

    async def main() -> tuple[FakeInteraction, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async with bot_running(data, tmp_path / "links.db") as bot:
            task = asyncio.create_task(ticker())
            await asyncio.sleep(0)
            try:
                inter = await invoke(bot, "status")
            finally:
                task.cancel()
            return inter, ticks

    try:
        inter, ticks = run(main())
    finally:
        holder.close()
    assert "database is locked" in _looks(inter)
    # a held lock is not a broken file: the fix names the lock, not removing the file
    assert esc(LOCKED_FIX) in _looks(inter) and "remove it" not in _looks(inter)
    # a blocked loop ticks once at most in the second the check waits; loosely bounded
    assert ticks >= 10, ticks
