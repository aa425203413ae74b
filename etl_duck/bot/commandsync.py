"""Sync the slash commands only when they changed: to one guild in development (instant),
globally in production (Discord propagates global commands slowly and rate-limits syncs).

The hash of the command payload last synced per scope is kept in
``data_dir/state/commands.json``; an unchanged tree is not re-sent on every start.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord

if TYPE_CHECKING:
    from etl_duck.bot.client import EtlDuckBot

log = logging.getLogger(__name__)


def state_file(data_dir: Path) -> Path:
    return Path(data_dir) / "state" / "commands.json"


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write(path: Path, data: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def scope(bot: EtlDuckBot) -> discord.Object | None:
    s = bot.settings
    if s.production or s.discord_guild_id is None:
        return None
    return discord.Object(id=s.discord_guild_id)


def digest(bot: EtlDuckBot, guild: discord.Object | None) -> str:
    payload: list[dict[str, Any]] = [
        c.to_dict(bot.tree) for c in bot.tree.get_commands(guild=guild)
    ]
    text = json.dumps(
        sorted(payload, key=lambda c: str(c.get("name"))), sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


async def sync_if_changed(bot: EtlDuckBot, *, force: bool = False) -> bool:
    """Sync when the command tree differs from the last sync to this scope; True if synced."""
    guild = scope(bot)
    if guild is not None:
        bot.tree.copy_global_to(guild=guild)
    elif not bot.settings.production:
        log.warning("no ETL_DUCK_DISCORD_GUILD_ID: syncing globally (slow to appear)")
    key = f"{bot.application_id}:{'global' if guild is None else f'guild:{guild.id}'}"
    path = state_file(bot.settings.data_dir)
    known = await asyncio.to_thread(_read, path)
    now = digest(bot, guild)
    if not force and known.get(key) == now:
        log.info("slash commands unchanged since the last sync (%s); not syncing", key)
        return False
    synced = await bot.tree.sync(guild=guild)
    known[key] = now
    await asyncio.to_thread(_write, path, known)
    log.info("synced %d slash commands (%s)", len(synced), key)
    return True
