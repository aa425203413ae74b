"""Where discord.py connects: Discord itself, or (tests only) a Discord emulator.

discord.py has no per-client setting for its endpoints: every REST request is built on the
class attribute ``discord.http.Route.BASE`` and the gateway connection starts from
``DiscordWebSocket.DEFAULT_GATEWAY`` (it is also where discord.py goes back to after an
invalidated session). :func:`discord_endpoints` points both at the URLs from the test-only
settings for the life of the bot and restores them afterwards; with the settings unset (as in
production) it changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import discord
import yarl
from discord.gateway import DiscordWebSocket

log = logging.getLogger(__name__)


@contextlib.contextmanager
def discord_endpoints(api_base: str | None, gateway_url: str | None) -> Iterator[None]:
    """Use ``api_base`` / ``gateway_url`` instead of Discord's while the block runs."""
    if api_base is None and gateway_url is None:
        yield
        return
    old_base, old_gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    log.warning(
        "talking to a Discord emulator (test-only settings): REST %s, gateway %s",
        api_base or old_base,
        gateway_url or old_gateway,
    )
    if api_base is not None:
        discord.http.Route.BASE = api_base.rstrip("/")
    if gateway_url is not None:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
