"""Posting the bot's own messages (round, map, backlog and session posts) exactly once.

discord.py retries a 429 five times (and a 500/502/504 a few times) and then raises; a lost
answer (the connection dropped after Discord created the message) raises at once. Either way
the post was lost: a 429 storm longer than five tries dropped round posts (found by the Discord
emulator, tests/test_bot_wire_faults.py). :func:`post` tries again with a growing pause, and
every attempt carries the same nonce with ``enforce_nonce``: when an earlier attempt did take
effect, Discord returns that message instead of creating a second one ("checked for uniqueness
in the past few minutes", Create Message), so a retry cannot duplicate a post.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from io import BytesIO
from typing import Any

import aiohttp
import discord

log = logging.getLogger(__name__)

ATTEMPTS = 6  # with discord.py's own 5 tries each: ~1 minute of a rate-limited channel
FIRST_PAUSE_S = 1.0
MAX_PAUSE_S = 30.0
NONCE_MAX = 25  # Discord's limit for a nonce string


def nonce(*about: object) -> str:
    """The same short nonce for the same post (e.g. ``("round", file_name)``)."""
    text = "\x1f".join(str(a) for a in about)
    return hashlib.sha256(text.encode()).hexdigest()[:NONCE_MAX]


def _retry_after(exc: discord.HTTPException) -> float:
    header = getattr(exc.response, "headers", {}).get("Retry-After")
    try:
        return float(header) if header else 0.0
    except ValueError:
        return 0.0


async def post(
    channel: discord.abc.Messageable,
    key: str,
    *,
    embed: discord.Embed,
    png: tuple[str, bytes] | None = None,
) -> discord.Message:
    """Send ``embed`` (and the PNG ``(file name, bytes)``) to ``channel`` once, riding out
    rate limits, server errors and lost answers. ``key`` = :func:`nonce` of what it is about.
    A request Discord refuses (4xx other than 429) is not retried: it would be refused again.
    """
    pause = FIRST_PAUSE_S
    for attempt in range(1, ATTEMPTS + 1):
        buf = BytesIO(png[1]) if png else None
        kwargs: dict[str, Any] = {"embed": embed, "nonce": key}
        if png is not None and buf is not None:
            kwargs["file"] = discord.File(buf, filename=png[0])
        wait = 0.0
        try:
            message: discord.Message = await channel.send(**kwargs)
            return message
        except discord.HTTPException as exc:
            if exc.status != 429 and exc.status < 500:
                raise
            wait = _retry_after(exc)
            problem = f"HTTP {exc.status}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            problem = type(exc).__name__  # the answer was lost: the nonce makes a retry safe
        finally:
            if "file" in kwargs:
                kwargs["file"].close()
            if buf is not None:
                buf.close()
        if attempt == ATTEMPTS:
            break
        wait = min(max(wait, pause), MAX_PAUSE_S)
        log.warning("post %s failed (%s, attempt %d); again in %.1f s", key, problem, attempt, wait)
        await asyncio.sleep(wait)
        pause = min(pause * 2, MAX_PAUSE_S)
    raise RuntimeError(f"post {key} failed {ATTEMPTS} times")
