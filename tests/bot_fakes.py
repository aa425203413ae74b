"""Reusable fakes for bot tests: an Interaction that records what the bot sends, a channel,
a fetcher, and helpers to build a bot over a lake made from the real fixture files.

No network: nothing here talks to Discord; command callbacks are invoked directly
(``cog.command.callback(cog, interaction, ...)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import discord
import duckdb
from discord import app_commands

from etl_duck.bot.client import EtlDuckBot
from etl_duck.botstate import BotState
from etl_duck.ingest.run import ingest_paths
from etl_duck.links import LinkStore
from etl_duck.pipeline import Ingestor
from etl_duck.query.aio import AsyncStats
from etl_duck.query.stats import Stats
from etl_duck.settings import Settings

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# --------------------------------------------------------------------------- discord fakes


@dataclass
class FakeRole:
    id: int


@dataclass
class FakeUser:
    id: int = 1001
    name: str = "tester"
    roles: list[FakeRole] = field(default_factory=list)
    bot: bool = False

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass
class Sent:
    """One message (or edit) as the bot produced it."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    buffers: list[Any] = field(default_factory=list)  # the file objects, to check closing
    view: discord.ui.View | None = None
    ephemeral: bool = False
    kind: str = "message"  # message | followup | edit | edit_original

    @property
    def embed(self) -> discord.Embed:
        assert self.embeds, f"no embed in {self}"
        return self.embeds[0]


def _record(kind: str, **kw: Any) -> Sent:
    embeds = list(kw.get("embeds") or [])
    if kw.get("embed") is not None:
        embeds.append(kw["embed"])
    files = list(kw.get("files") or [])
    if kw.get("file") is not None:
        files.append(kw["file"])
    data: dict[str, bytes] = {}
    for f in files:  # read now, as discord.py would upload now
        f.fp.seek(0)
        data[f.filename] = f.fp.read()
    return Sent(
        content=kw.get("content"),
        embeds=embeds,
        files=data,
        buffers=[f.fp for f in files],
        view=kw.get("view"),
        ephemeral=bool(kw.get("ephemeral", False)),
        kind=kind,
    )


class FakeResponse:
    latency = 0.005  # seconds a defer takes to be acknowledged

    def __init__(self, log: list[Sent]) -> None:
        self._log = log
        self._done = False
        self.deferred = False
        self.deferred_at: float | None = None
        self.choices: list[discord.app_commands.Choice[Any]] | None = None

    def is_done(self) -> bool:
        return self._done

    def _finish(self) -> None:
        assert not self._done, "an interaction can be answered once"
        self._done = True

    async def send_message(self, content: str | None = None, **kw: Any) -> None:
        self._finish()
        self._log.append(_record("message", content=content, **kw))

    async def defer(self, *, ephemeral: bool = False, thinking: bool = False) -> None:
        await asyncio.sleep(self.latency)  # a round trip: is_done() turns True only after it
        self._finish()
        self.deferred = True
        self.deferred_at = asyncio.get_running_loop().time()

    async def edit_message(self, **kw: Any) -> None:
        self._finish()
        self._log.append(_record("edit", **kw))

    async def autocomplete(self, choices: list[discord.app_commands.Choice[Any]]) -> None:
        self._finish()
        self.choices = choices


class FakeFollowup:
    def __init__(self, log: list[Sent]) -> None:
        self._log = log

    async def send(self, content: str | None = None, **kw: Any) -> None:
        self._log.append(_record("followup", content=content, **kw))


class FakeInteraction:
    """Enough of ``discord.Interaction`` for the bot: user, guild, client, response,
    followup and edit_original_response, all recorded in :attr:`sent`."""

    def __init__(self, client: Any, user: FakeUser | None = None) -> None:
        self.client = client
        self.user = user or FakeUser()
        self.guild = None
        self.guild_id = None
        self.command = None
        self.sent: list[Sent] = []
        self.response = FakeResponse(self.sent)
        self.followup = FakeFollowup(self.sent)

    async def edit_original_response(self, **kw: Any) -> None:
        self.sent.append(_record("edit_original", **kw))

    @property
    def last(self) -> Sent:
        assert self.sent, "nothing was sent"
        return self.sent[-1]


class FakeMessage:
    """A message the bot sent to a :class:`FakeChannel`; its edits are recorded there."""

    def __init__(self, channel: FakeChannel, message_id: int, sent: Sent) -> None:
        self.channel = channel
        self.id = message_id
        self.sent = sent

    async def edit(self, **kw: Any) -> FakeMessage:
        if self.id in self.channel.deleted:
            raise discord.NotFound(_FakeHTTPResponse(404), "Unknown Message")
        record = _record("edit", **kw)
        self.channel.edits.append((self.id, record))
        return self


class _FakeHTTPResponse:
    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = "Not Found"


class FakeChannel:
    """A text channel: ``sent`` holds new messages in order, ``edits`` (message id, what the
    edit carried) every edit; ``messages`` maps ids to the messages."""

    def __init__(self, channel_id: int = 555) -> None:
        self.id = channel_id
        self.sent: list[Sent] = []
        self.edits: list[tuple[int, Sent]] = []
        self.messages: dict[int, FakeMessage] = {}
        self.deleted: set[int] = set()

    async def send(self, content: str | None = None, **kw: Any) -> FakeMessage:
        record = _record("message", content=content, **kw)
        self.sent.append(record)
        msg = FakeMessage(self, 9000 + len(self.sent), record)
        self.messages[msg.id] = msg
        return msg

    def get_partial_message(self, message_id: int) -> FakeMessage:
        return self.messages.get(message_id) or FakeMessage(self, message_id, Sent())

    def titles(self) -> list[str]:
        return [str(m.embed.title) for m in self.sent if m.embeds]


class FakeFetchReport:
    def __init__(self, downloaded: Iterable[str] = ()) -> None:
        self.downloaded = list(downloaded)

    def summary(self) -> str:
        return f"{len(self.downloaded)} downloaded (0 B) in 0.01 s"


class FakeFetcher:
    """Same methods as ``etl_duck.fetch.Fetcher``; ``on_poll`` runs inside ``poll_once``."""

    def __init__(self, on_poll: Callable[[], list[str]] | None = None) -> None:
        self.on_poll = on_poll
        self.polls = 0
        self.watching = False
        self.active_seen: list[bool] = []
        self.closed = False
        self.last_download: float | None = None

    async def poll_once(self) -> FakeFetchReport:
        self.polls += 1
        names = await asyncio.to_thread(self.on_poll) if self.on_poll else []
        return FakeFetchReport(names)

    async def watch(
        self,
        stop: asyncio.Event,
        active: Callable[[], bool] | None = None,
        *,
        on_report: Callable[[FakeFetchReport], object] | None = None,
        on_trouble: Callable[[str, str | None], object] | None = None,
    ) -> None:
        self.watching = True
        try:
            while not stop.is_set():
                report = await self.poll_once()
                if on_report is not None:
                    on_report(report)
                self.active_seen.append(bool(active and active()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.02)
        finally:
            self.watching = False

    async def check(self) -> str:
        return "fake@server:gamestats: 3 stats files, 0 not yet fetched"

    async def close(self) -> None:
        self.closed = True


# --------------------------------------------------------------------------- lake + bot


def real_files() -> list[Path]:
    return sorted(p for p in REAL.iterdir() if p.is_file())


def make_lake(data_dir: Path, files: Iterable[Path] | None = None) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    ingest_paths(data_dir, list(files) if files is not None else [REAL])
    return data_dir


def copy_lake(src: Path, dst: Path) -> Path:
    """A private copy of a prepared data dir (symlinks kept: the lake link is relative)."""
    shutil.copytree(src, dst, symlinks=True)
    return dst


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "min_rounds": 1, "scoreboard_interval_s": 0.05}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_bot(
    data_dir: Path,
    *,
    fetcher: Any = None,
    ingestor: Ingestor | None = None,
    clock: Callable[[], float] | None = None,
    links_at: Path | None = None,
    state_at: Path | None = None,
    **overrides: Any,
) -> EtlDuckBot:
    """A bot over ``data_dir`` (not logged in); start it with :func:`started`.
    ``links_at`` / ``state_at``: where the link store and the bot state live (default:
    beside ``links_at``, else under ``data_dir``)."""
    settings = settings_for(data_dir, **overrides)
    if state_at is None and links_at is not None:
        state_at = links_at.with_name(links_at.stem + "-state.sqlite3")
    state = BotState(state_at) if state_at else BotState.in_data_dir(data_dir)
    stats = Stats(data_dir, min_rounds=settings.min_rounds, teams=state)
    extra: dict[str, Any] = {} if clock is None else {"clock": clock}
    links = LinkStore(links_at) if links_at else LinkStore.in_data_dir(data_dir)
    return EtlDuckBot(
        settings,
        AsyncStats(stats),
        links,
        state=state,
        fetcher=fetcher,
        ingestor=ingestor,
        sync_commands=False,
        **extra,
    )


async def started(bot: EtlDuckBot, channel: FakeChannel | None = None) -> EtlDuckBot:
    await bot.load_cogs()
    if channel is not None:

        async def stats_channel() -> FakeChannel:
            return channel

        bot.stats_channel = stats_channel  # type: ignore[method-assign,assignment]
    return bot


# --------------------------------------------------------------------------- expected values


def lake_sql(data_dir: Path, query: str, table: str = "player_rounds") -> list[tuple[Any, ...]]:
    """Plain DuckDB over the lake's Parquet (as a notebook would): ``{t}`` is the table."""
    src = f"read_parquet('{data_dir}/lake/{table}/**/*.parquet', hive_partitioning = true)"
    con = duckdb.connect()
    try:
        return con.sql(query.format(t=src)).fetchall()
    finally:
        con.close()


def last_session_id(data_dir: Path) -> int:
    return int(lake_sql(data_dir, "SELECT max(session_id) FROM {t}", "rounds")[0][0])


def field_value(embed: discord.Embed, name: str) -> str:
    for f in embed.fields:
        if f.name == name:
            return str(f.value)
    raise AssertionError(f"no field {name!r} in {[f.name for f in embed.fields]}")


def table_rows(text: str, right_cols: int) -> list[list[str]]:
    """Rows of a code-block table made by ``etl_duck.bot.format.table`` (header dropped):
    the first cell (a name, may contain spaces) and the ``right_cols`` cells after it."""
    lines = [ln for ln in text.strip().strip("`").strip().splitlines() if ln.strip()]
    rows = []
    for ln in lines[1:]:
        tokens = ln.split()
        rows.append([" ".join(tokens[:-right_cols]), *tokens[-right_cols:]])
    return rows


_TEMPLATES: dict[tuple[str, ...], Path] = {}


def template_lake(factory: Any, without: tuple[str, ...] = ()) -> Path:
    """The real fixture files (less ``without``) ingested once per test run. Read-only:
    copy it with :func:`copy_lake` (or use :func:`lake_copy`) to change anything."""
    if without not in _TEMPLATES:
        files = [f for f in real_files() if f.name not in without]
        _TEMPLATES[without] = make_lake(Path(factory.mktemp("real-lake")) / "data", files)
    return _TEMPLATES[without]


def lake_copy(factory: Any, dst: Path, without: tuple[str, ...] = ()) -> Path:
    """A private, writable lake of the real files less ``without``."""
    return copy_lake(template_lake(factory, without), dst)


# --------------------------------------------------------------------------- running a bot


@contextlib.asynccontextmanager
async def bot_running(
    data_dir: Path, links_at: Path, channel: FakeChannel | None = None, **kw: Any
) -> AsyncIterator[EtlDuckBot]:
    bot = make_bot(data_dir, links_at=links_at, **kw)
    await started(bot, channel)
    try:
        yield bot
    finally:
        await bot.close()
        bot.links.close()
        bot.state.close()


def ingest_under_a_bot(
    data_dir: Path, links_at: Path, channel: FakeChannel, files: Iterable[Path]
) -> None:
    """A bot runs while its ingestor commits ``files`` (what the fetcher hands it after a
    download) and until the commit's listeners are done: the posts are in ``channel``."""
    ingestor = Ingestor(data_dir)

    async def main() -> None:
        async with bot_running(data_dir, links_at, channel, ingestor=ingestor):
            await asyncio.to_thread(ingestor, list(files))
            await ingestor.wait_idle()

    run(main())


async def invoke(
    bot: EtlDuckBot, name: str, interaction: FakeInteraction | None = None, **kwargs: Any
) -> FakeInteraction:
    """Call the registered slash command ``name`` the way discord.py would, minus the wire."""
    cmd = bot.tree.get_command(name)
    assert isinstance(cmd, app_commands.Command), f"no slash command {name}"
    inter = interaction or FakeInteraction(bot)
    await cmd.callback(cmd.binding, inter, **kwargs)  # type: ignore[arg-type]
    return inter


if TYPE_CHECKING:  # mypy checks the fakes against the protocols the bot relies on
    from etl_duck.bot.protocols import FetcherLike

    _fetcher_fits: FetcherLike = FakeFetcher()
