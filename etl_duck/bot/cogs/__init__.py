"""One cog per feature; :data:`COGS` is what the bot loads in ``setup_hook``."""

from __future__ import annotations

from discord.ext import commands

from .admin import AdminCog
from .digest import DigestCog
from .fetch import FetchCog
from .leaderboard import LeaderboardCog
from .links import LinksCog
from .players import PlayersCog
from .posts import RoundPostsCog
from .rating import RatingCog
from .scoring import ScoringCog
from .sessions import SessionsCog
from .site import SiteCog
from .social import RecordsCog, SocialCog
from .status import StatusCog
from .voice import VoiceCog

COGS: tuple[type[commands.Cog], ...] = (
    SessionsCog,
    LeaderboardCog,
    PlayersCog,
    ScoringCog,
    LinksCog,
    SocialCog,
    RecordsCog,
    StatusCog,
    AdminCog,
    RoundPostsCog,
    DigestCog,
    RatingCog,
    VoiceCog,
    FetchCog,
    SiteCog,
)

__all__ = ["COGS", "AdminCog", "DigestCog", "FetchCog", "LeaderboardCog", "LinksCog", "PlayersCog",
           "RatingCog", "RecordsCog", "RoundPostsCog", "ScoringCog", "SessionsCog", "SiteCog",
           "SocialCog", "StatusCog", "VoiceCog"]  # fmt: skip
