"""A Discord emulator for tests: gateway v10 + REST /api/v10 on 127.0.0.1, enforcing Discord's
documented limits (``rules.RULES``) and rate limits, with fault injection (RECONNECT,
INVALID_SESSION, a dropped socket, 429 storms, 503s, lost responses).

No maintained Discord emulator exists; this one covers what etl-duck's bot uses of the API.
``server.Emulator`` is the world and its record, ``wire.Wire`` runs it on its own thread, and
``wire.BotRun`` starts the real bot against it through ``etl_duck.bot._serve`` with the
test-only settings ``ETL_DUCK_DISCORD_API_BASE`` / ``ETL_DUCK_DISCORD_GATEWAY_URL``.
"""

from .rules import RULES, Rule, Violation
from .server import Emulator, Interaction, Refusal
from .wire import BotRun, Wire, bot_settings

__all__ = ["RULES", "BotRun", "Emulator", "Interaction", "Refusal", "Rule", "Violation",
           "Wire", "bot_settings"]  # fmt: skip
