"""One cog per feature; :data:`COGS` is what the bot loads in ``setup_hook``."""

from __future__ import annotations

from discord.ext import commands

from .admin import AdminCog
from .fetch import FetchCog
from .leaderboard import LeaderboardCog
from .links import LinksCog
from .players import PlayersCog
from .posts import RoundPostsCog
from .rating import RatingCog
from .scoring import ScoringCog
from .sessions import SessionsCog
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
    RatingCog,
    VoiceCog,
    FetchCog,
)

__all__ = ["COGS", "AdminCog", "FetchCog", "LeaderboardCog", "LinksCog", "PlayersCog",
           "RatingCog", "RoundPostsCog", "ScoringCog", "SessionsCog", "StatusCog", "VoiceCog"]  # fmt: skip
