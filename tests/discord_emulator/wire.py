"""Threads for the two sides of the wire, so each has its own event loop as in production:

* :class:`Wire`: the emulator (and anything else "remote", such as the SFTP game server) on a
  background loop; the test thread drives it with :meth:`Wire.run` / :meth:`Wire.read`.
* :class:`BotRun`: etl-duck's bot started the way ``etl-duck bot`` starts it
  (``etl_duck.bot._serve``: settings → Stats, Ingestor, Fetcher, LinkStore → EtlDuckBot →
  login, setup_hook with command sync → gateway), stopped the way Ctrl-C stops it (the main
  task is cancelled and everything closes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from etl_duck.settings import Settings

from .server import Emulator

log = logging.getLogger(__name__)
T = TypeVar("T")


class Wire:
    def __init__(self, emu: Emulator | None = None) -> None:
        self.emu = emu or Emulator()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="discord-emulator", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> Wire:
        self._thread.start()
        self.run(self.emu.start())
        return self

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        """Run ``coro`` on the emulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def read(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Call ``fn`` on the emulator's loop (a consistent look at its state)."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

        self.loop.call_soon_threadsafe(call)
        return fut.result(timeout)

    def stop(self) -> None:
        if not self.loop.is_running():
            return
        try:
            self.run(self.emu.stop(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


def bot_settings(emu: Emulator, data_dir: Path, **overrides: Any) -> Settings:
    """The settings an operator would write, pointed at the emulator (test-only settings)."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "discord_token": emu.token,
        "discord_guild_id": emu.guild_id,
        "stats_channel_id": emu.stats_channel.id,
        "voice_channel_ids": [c.id for c in emu.voice_channels],
        "admin_role_ids": [emu.admin_role.id],
        "discord_api_base": emu.api_base,
        "discord_gateway_url": emu.gateway_url,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class BotRun:
    """The bot on its own thread and loop, through ``etl_duck.bot._serve``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[Any] | None = None
        self.result: int | BaseException | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, name="etl-duck-bot", daemon=True)

    def _main(self) -> None:
        from etl_duck.bot import _serve

        async def main() -> int:
            self.loop = asyncio.get_running_loop()
            self.task = asyncio.current_task()
            self._started.set()
            return await _serve(self.settings)

        try:
            self.result = asyncio.run(main())
        except BaseException as exc:  # CancelledError on stop: the normal way out
            self.result = exc
        finally:
            self._started.set()

    def start(self) -> BotRun:
        self._thread.start()
        self._started.wait(30)
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 60.0) -> None:
        """Like Ctrl-C: cancel the main task; ``_serve`` closes the bot and the link store."""
        loop, task = self.loop, self.task
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("the bot did not stop within the timeout")
