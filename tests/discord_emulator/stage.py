"""A stage for bot-over-the-wire tests: the emulator on its thread, the real bot started
against it over a data directory, and short synchronous calls to play a Discord user."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .payloads import Message, User
from .server import Emulator, Interaction, Refusal
from .wire import BotRun, Wire, bot_settings

T = TypeVar("T")


@dataclass
class Stage:
    wire: Wire
    data: Path
    settings: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    bot: BotRun | None = None

    @classmethod
    def open(
        cls, data: Path, emu: Emulator | None = None, *, name: str = "", **settings: Any
    ) -> Stage:
        return cls(Wire(emu).start(), data, dict(settings), name)

    @property
    def emu(self) -> Emulator:
        return self.wire.emu

    @contextlib.contextmanager
    def clean(self) -> Iterator[Stage]:
        """The stage for one test, which fails if the emulator refused anything the bot
        sent during it, or saw the bot send something other than it meant."""
        refusals, findings = len(self.refusals()), len(self.findings())
        yield self
        refused = self.refusals()[refusals:]
        assert not refused, "the emulator refused:\n" + "\n".join(str(r) for r in refused)
        found = self.findings()[findings:]
        assert not found, "\n".join(found)

    def fetch_from(self, sftp: Any, **more: Any) -> None:
        """Point the bot's fetch at an SFTP test server's settings (``sftp``), polling
        only at start and on /sync, plus ``more`` settings."""
        self.settings.update(
            min_rounds=1,
            ssh_host=sftp.ssh_host,
            ssh_port=sftp.ssh_port,
            ssh_user=sftp.ssh_user,
            ssh_key_path=sftp.ssh_key_path,
            ssh_known_hosts=sftp.ssh_known_hosts,
            ssh_remote_dir=sftp.ssh_remote_dir,
            connect_timeout_s=5.0,
            poll_interval_s=3600.0,  # only /sync fetches (and the poll at start)
            active_poll_interval_s=3600.0,
            **more,
        )

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        return self.wire.run(coro, timeout)

    # ------------------------------------------------------------------ the bot

    def start_bot(self, timeout: float = 60.0, **overrides: Any) -> BotRun:
        """Start the bot (``etl_duck.bot._serve``) and wait until its gateway session is
        live and its commands are registered; fail at once if it stopped instead."""
        assert self.bot is None or not self.bot.running, "a bot is already running"
        before = self.wire.read(self.emu.session_moves)
        settings = bot_settings(self.emu, self.data, **{**self.settings, **overrides})
        self.bot = BotRun(settings).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run(self.emu.wait_live(0.5, after=before)):
                return self.bot
            if not self.bot.running:
                raise AssertionError(f"the bot stopped while starting: {self.bot.result!r}")
        raise AssertionError("the bot did not connect to the emulator in time")

    def wait_live(self, after: int, timeout: float = 60.0) -> None:
        """Until the bot has identified or resumed more than ``after`` times in all."""
        assert self.run(self.emu.wait_live(timeout, after=after)), "the bot did not come back"

    def stop_bot(self) -> None:
        if self.bot is not None:
            self.bot.stop()

    def close(self) -> None:
        try:
            self.stop_bot()
        finally:
            self.wire.stop()

    # ------------------------------------------------------------------ playing a user

    def user(self, name: str, *, admin: bool = False, fake_admin: bool = False) -> User:
        """A new guild member with the Member role (and the Admin role, or the role that is
        only named "Admin")."""
        emu = self.emu
        roles = [emu.member_role]
        if admin:
            roles.append(emu.admin_role)
        if fake_admin:
            roles.append(emu.fake_admin_role)
        return self.wire.read(lambda: emu.add_user(name, roles=roles))

    def slash(self, name: str, user: User | None = None, /, **options: Any) -> Interaction:
        return self.run(self.emu.slash(name, user, **options))

    def autocomplete(
        self, name: str, option: str, text: str, user: User | None = None, /, **others: Any
    ) -> Interaction:
        return self.run(self.emu.autocomplete(name, option, text, user, **others))

    def click(self, message: Message, label: str, user: User | None = None) -> Interaction:
        return self.run(self.emu.click(message, label, user))

    def refusals(self) -> list[Refusal]:
        return self.wire.read(lambda: list(self.emu.refusals))

    def findings(self) -> list[str]:
        return self.wire.read(lambda: list(self.emu.findings))

    def posts(self) -> list[Message]:
        """The messages the bot posted on its own in the stats channel (not answers)."""
        return self.wire.read(self.emu.channel_messages)
