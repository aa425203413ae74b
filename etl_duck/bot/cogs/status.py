"""/status: the lake, the fetch loop, the voice session, the cache."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from etl_duck.bot.embeds import system
from etl_duck.bot.respond import Reply, respond
from etl_duck.fetch.looks import trouble
from etl_duck.query.stats import with_configured

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    if s < 2 * 3600:
        return f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s // 3600} h"
    return f"{s // 86400} d"


def _when(at: datetime, now: datetime | None = None) -> str:
    """A past local time with its date and age: a bare time of day read as today's even
    when the last good poll was days ago."""
    age = ((now or datetime.now()) - at).total_seconds()
    return f"{at:%Y-%m-%d %H:%M:%S} ({_ago(age)} ago)"


def bot_lines(bot: EtlDuckBot) -> dict[str, str]:
    """Short status lines about the bot's own moving parts (nothing secret)."""
    fs = bot.fetch_state
    if not fs.configured:
        fetch = "SSH not configured"
    else:
        fetch = "watching" if fs.running else "stopped"
        if fs.last_poll:
            fetch += f"; last poll {_when(fs.last_poll)}: {fs.last_summary or '—'}"
        if fs.error:
            # running: a failed poll, retried (until the next good one); stopped: fatal
            fetch += f"; {'trouble' if fs.running else 'error'}: {fs.error}"
    t = bot.tracker
    if not bot.settings.voice_channel_ids:
        voice = "no voice channels configured"
    elif t.active:
        voice = f"session on ({t.players} in voice, peak {t.peak})"
    else:
        voice = f"idle ({t.players} in voice; starts at {t.start_players})"
    cache = bot.cache.stats()
    latency = bot.latency
    return {
        "Fetch": fetch,
        "Voice": voice,
        "Cache": f"{cache.hit_rate * 100:.0f} % hits, {cache.size} entries",
        "Gateway": "—"
        if math.isnan(latency) or math.isinf(latency)
        else f"{latency * 1000:.0f} ms",
    }


class StatusCog(commands.Cog, name="Status"):
    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot

    async def status_reply(self) -> Reply:
        info: dict[str, Any] = await self.bot.stats.status()
        # the configured game servers the lake has no round of yet, as `etl-duck status`
        # lists them (a copy: the answer is cached)
        configured = [src.server_name for src in self.bot.settings.sources()]
        info = {**info, "servers": with_configured(info.get("servers") or [], configured)}
        lines = bot_lines(self.bot)
        # an open problem of `etl-duck status` too, in its words (a file read: off the loop)
        if looks := await asyncio.to_thread(trouble, self.bot.settings.data_dir):
            info = {**info, "fetch_looks": [looks]}
        # an interrupted ingest's leftovers and raw/ against the ledger, as `etl-duck status`
        # says them (a listing of raw/: ~0.25 s at 10 years, off the loop)
        disk = await self.bot.stats.disk_problems()
        info = {**info, "leftovers": disk["leftovers"], "raw": disk["raw"]}
        lines["Linked users"] = str(await asyncio.to_thread(self.bot.links.count))
        posts: Any = self.bot.get_cog("Round posts")
        posting = await posts.status_line() if posts is not None else None
        return Reply(embeds=[system.status(info, lines, posting)])

    @app_commands.command(name="status", description="Lake, fetch, voice session and cache status")
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        await respond(interaction, self.status_reply())
