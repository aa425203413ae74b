"""One cog per feature; :data:`COGS` is what the bot loads in ``setup_hook``."""

from __future__ import annotations

from discord.ext import commands

from .admin import AdminCog
from .fetch import FetchCog
from .leaderboard import LeaderboardCog
from .links import LinksCog
from .players import PlayersCog
from .posts import RoundPostsCog
from .scoring import ScoringCog
from .sessions import SessionsCog
from .site import SiteCog
from .status import StatusCog
from .voice import VoiceCog

COGS: tuple[type[commands.Cog], ...] = (
    SessionsCog,
    LeaderboardCog,
    PlayersCog,
    ScoringCog,
    LinksCog,
    StatusCog,
    AdminCog,
    RoundPostsCog,
    VoiceCog,
    FetchCog,
    SiteCog,
)

__all__ = ["COGS", "AdminCog", "FetchCog", "LeaderboardCog", "LinksCog", "PlayersCog",
           "RoundPostsCog", "ScoringCog", "SessionsCog", "SiteCog", "StatusCog", "VoiceCog"]  # fmt: skip
