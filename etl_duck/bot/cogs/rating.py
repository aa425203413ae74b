"""/rating player, /rating top, /balance, /predict, and the voice-channel forecast: when the
players split into the two team channels, post the forecast for the teams as they stand;
after the map, post whether it came true (the bot keeps its own Brier score)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from etl_duck import charts
from etl_duck.bot import autocomplete as ac
from etl_duck.bot.deliver import nonce, post
from etl_duck.bot.embeds import rating as embeds
from etl_duck.bot.format import cell, code, esc, labels
from etl_duck.bot.options import PairsText, PlayersText, PlayerText
from etl_duck.bot.respond import Reply, UserError, before_chart, respond, suggested
from etl_duck.domain.balance import BalanceError
from etl_duck.domain.forecasts import played_by
from etl_duck.forecaststore import ForecastStore, forecasts_path
from etl_duck.ingest.options import IngestReport
from etl_duck.query.rating import NEW_PLAYER
from etl_duck.query.stats import NoData, PlayerAmbiguous, PlayerNotFound

from ._common import chart_png, ensure_data, linked

if TYPE_CHECKING:  # the bot imports the cogs: import its type for annotations only
    from etl_duck.bot.client import EtlDuckBot

log = logging.getLogger(__name__)
CHART_PNG = "rating.png"
TOP_LIMIT = 20

#: how much of a name that matches nobody is quoted back
NAME_INPUT_SHOWN = 64


def split_names(text: str | None) -> list[str]:
    """Players typed in one option: comma-separated (names may hold spaces), else words."""
    if not text or not text.strip():
        return []
    parts = text.split(",") if "," in text else text.split()
    return [p.strip() for p in parts if p.strip()]


def _pairs(text: str | None, option: str) -> list[tuple[str, str]]:
    """`a+b; c+d` → [(a, b), (c, d)]."""
    out = []
    for chunk in (text or "").split(";"):
        if not chunk.strip():
            continue
        a, sep, b = chunk.partition("+")
        if not sep or not a.strip() or not b.strip():
            raise UserError(f"`{option}` takes pairs like `vid+olz` (several: `a+b; c+d`).")
        out.append((a.strip(), b.strip()))
    return out


class RatingCog(commands.Cog, name="Rating"):
    rating = app_commands.Group(name="rating", description="Skill rating from map results")

    def __init__(self, bot: EtlDuckBot) -> None:
        self.bot = bot
        self.store = ForecastStore(forecasts_path(bot.links.path.parent))
        self._pending: asyncio.Task[Any] | None = None
        self._lock = asyncio.Lock()  # one forecast post / resolution at a time

    async def cog_load(self) -> None:
        if self.bot.ingestor is not None:
            self.bot.ingestor.subscribe(asyncio.get_running_loop(), self.on_commit)
        # the first replay of a long history takes seconds: do it now, not in a command
        self.bot.spawn(self._warm(), "rating-warm")

    async def _warm(self) -> None:
        with contextlib.suppress(NoData):
            await self.bot.stats.ratings()

    async def cog_unload(self) -> None:
        if self.bot.ingestor is not None:
            self.bot.ingestor.unsubscribe(self.on_commit)
        if self._pending is not None:
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pending
        self.store.close()

    # ------------------------------------------------------------------ commands

    async def player_reply(self, user_id: int, player: str | None) -> Reply:
        await ensure_data(self.bot)
        text = player
        if not text:
            text = await asyncio.to_thread(self.bot.links.guid_for, user_id)
            if text is None:
                raise UserError("Give a player, or `/link` your GUID to see your own rating.")
        card = await self.bot.stats.player_rating(text)
        brier, scored = await asyncio.to_thread(self.store.brier)
        files: list[tuple[str, bytes]] = []
        if not card.history.is_empty():
            await before_chart()
            # keyed on the history drawn: the card was read before the version is
            png = await chart_png(self.bot, charts.rating_history_png, card.history, card.name)
            files.append((CHART_PNG, png))
        embed = embeds.player_rating(card, brier, scored, CHART_PNG if files else None)
        return Reply(embeds=linked([embed], self.bot.site.player(card.guid)), files=files)

    async def top_reply(self, min_maps: int | None) -> Reply:
        await ensure_data(self.bot)
        board = await self.bot.stats.rating_top(TOP_LIMIT, min_maps)
        need = self.bot.stats.stats.RATING_MIN_MAPS if min_maps is None else min_maps
        brier, scored = await asyncio.to_thread(self.store.brier)
        return Reply(
            embeds=linked([embeds.top(board, need, brier, scored)], self.bot.site.rating())
        )

    @rating.command(name="player", description="A player's skill rating: μ, σ, rank, trend")
    @app_commands.describe(player="Name or GUID (default: your linked player)")
    @app_commands.autocomplete(player=ac.players)
    async def rating_player(
        self, interaction: discord.Interaction[Any], player: PlayerText | None = None
    ) -> None:
        await respond(interaction, self.player_reply(interaction.user.id, player))

    @rating.command(name="top", description="Skill rating leaderboard (conservative μ − 3σ)")
    @app_commands.describe(min_maps="Minimum rated maps (default 10)")
    async def rating_top(
        self, interaction: discord.Interaction[Any], min_maps: int | None = None
    ) -> None:
        await respond(interaction, self.top_reply(min_maps))

    async def balance_reply(
        self,
        user: Any,
        players: str | None,
        apart: str | None,
        together: str | None,
        avoid_previous: bool,
    ) -> Reply:
        await ensure_data(self.bot)
        names = split_names(players)
        unlinked: list[str] = []  # the keys of voice members without a GUID
        if not names:
            names, unlinked = await self._voice_players(user)
        try:
            res = await self.bot.stats.balance(
                names,
                apart=_pairs(apart, "apart"),
                together=_pairs(together, "together"),
                avoid_previous=avoid_previous,
            )
        except PlayerAmbiguous:
            raise
        except PlayerNotFound as exc:  # with how to add a new player (+name)
            # the typed text cut: quoted twice, a long one made a message over Discord's
            # 2,000 characters and the answer was refused
            typed = cell(exc.text.strip(), NAME_INPUT_SHOWN)
            # two suggested players of one name told apart ("vid (D842), vid (5D98)")
            shown = suggested(exc)
            hint = f" Did you mean: {', '.join(shown)}?" if shown else ""
            raise UserError(
                f"No player matches {code(typed)}.{esc(hint)} For a new player with no maps "
                f"yet, write {code('+' + typed)}."
            ) from None
        except (BalanceError, ValueError) as exc:
            raise UserError(str(exc)) from None
        return Reply(embeds=[embeds.balance(res, unlinked=unlinked)])

    @app_commands.command(name="balance", description="Balanced teams, fairest forecast first")
    @app_commands.describe(
        players="Names or GUIDs, comma-separated; +name: a new player (default: your voice "
        "channel)",
        apart="Keep pairs apart: a+b (several: a+b; c+d)",
        together="Keep pairs together: a+b",
        avoid_previous="Do not repeat the last session's split",
    )
    async def balance(
        self,
        interaction: discord.Interaction[Any],
        players: PlayersText | None = None,
        apart: PairsText | None = None,
        together: PairsText | None = None,
        avoid_previous: bool = False,
    ) -> None:
        await respond(
            interaction,
            self.balance_reply(interaction.user, players, apart, together, avoid_previous),
        )

    async def predict_reply(self) -> Reply:
        await ensure_data(self.bot)
        teams = await self._team_channels()
        if teams is None:
            raise UserError(
                "No teams to forecast: the two team voice channels are not set "
                "(ETL_DUCK_TEAM_CHANNEL_IDS) or hold no linked players."
            )
        fc = await self.bot.stats.forecast(list(teams[0]), list(teams[1]))
        return Reply(embeds=[embeds.forecast(fc, "Forecast for the teams in voice")])

    @app_commands.command(
        name="predict", description="Forecast for the teams in the voice channels"
    )
    async def predict(self, interaction: discord.Interaction[Any]) -> None:
        await respond(interaction, self.predict_reply())

    # ------------------------------------------------------------------ voice

    def _linked(self, channel: Any) -> list[str]:
        """GUIDs of the linked humans in a voice channel (gateway cache, no request)."""
        return self._voice_people(channel)[0]

    def _voice_people(self, channel: Any) -> tuple[list[str], list[tuple[int, str]]]:
        """(GUIDs of the linked humans, (user id, display name) of the unlinked ones) in a
        voice channel, from the gateway cache (no request); bots are nobody."""
        guild = getattr(channel, "guild", None)
        out: list[str] = []
        unlinked: list[tuple[int, str]] = []
        for uid in sorted(getattr(channel, "voice_states", None) or {}):
            member = guild.get_member(uid) if guild is not None else None
            if getattr(member, "bot", False):
                continue
            guid = self.bot.links.guid_for(uid)
            if guid is None:
                name = getattr(member, "display_name", None) or f"member {uid}"
                unlinked.append((uid, str(name)))
            elif guid not in out:
                out.append(guid)
        return out, unlinked

    async def _voice_players(self, user: Any) -> tuple[list[str], list[str]]:
        """(the players in the user's voice channel as balance takes them, the keys of the
        unlinked ones): a member who has not linked his GUID plays as a new player
        (``+name``, the starting rating) — named in the answer, with how to link."""
        channel = getattr(getattr(user, "voice", None), "channel", None)
        if channel is None:  # no member object: look for the user in the channels we know
            ids = [*self.bot.settings.voice_channel_ids, *self.bot.settings.team_channel_ids]
            for cid in ids:
                ch = self.bot.get_channel(cid)
                if user.id in (getattr(ch, "voice_states", None) or {}):
                    channel = ch
                    break
        if channel is None:
            raise UserError("Name the players, or join a voice channel with them.")
        guids, unlinked = await asyncio.to_thread(self._voice_people, channel)
        if len(guids) + len(unlinked) < 2:
            raise UserError("Fewer than two players in your voice channel; name the players.")
        names, keys = list(guids), []
        taken: set[str] = set()
        for _, name in unlinked:
            shown, n = name, 1
            while shown.lower() in taken:  # two newcomers of one name: still two players
                n += 1
                shown = f"{name} {n}"
            taken.add(shown.lower())
            names.append(NEW_PLAYER + shown)
            keys.append(NEW_PLAYER + shown.lower())
        return names, keys

    async def _team_channels(self) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        ids = self.bot.settings.team_channel_ids
        if len(ids) != 2:
            return None
        a = await asyncio.to_thread(self._linked, self.bot.get_channel(ids[0]))
        b = await asyncio.to_thread(self._linked, self.bot.get_channel(ids[1]))
        need = self.bot.settings.forecast_min_players
        if len(a) < need or len(b) < need:
            return None
        return tuple(sorted(a)), tuple(sorted(b))

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        ids = set(self.bot.settings.team_channel_ids)
        old = before.channel.id if before.channel else None
        new = after.channel.id if after.channel else None
        if old == new or (old not in ids and new not in ids):
            return
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()  # teams still moving: wait for them to settle again
        self._pending = self.bot.spawn(self._post_after_settling(), "forecast-post")

    async def _post_after_settling(self) -> None:
        await asyncio.sleep(self.bot.settings.forecast_settle_s)
        await self.post_forecast()

    async def post_forecast(self) -> bool:
        """Post the forecast for the teams in the team channels, unless it was just posted."""
        async with self._lock:
            teams = await self._team_channels()
            if teams is None:
                return False
            last = await asyncio.to_thread(self.store.last)
            if last is not None and last.status == "open" and (last.team_a, last.team_b) == teams:
                return False  # the same split is already up
            channel = await self.bot.stats_channel()
            if channel is None:
                return False
            try:
                fc = await self.bot.stats.forecast(list(teams[0]), list(teams[1]))
                run = await self.bot.stats.ratings()
            except NoData:
                return False
            after = run.last_time.isoformat() if run.last_time else None
            await asyncio.to_thread(self.store.add, teams[0], teams[1], fc.p_a, after)
            key = nonce("forecast", *sorted(teams[0]), "vs", *sorted(teams[1]), after)
            await post(channel, key, embed=embeds.forecast(fc, "Teams are set — forecast"))
            return True

    # ------------------------------------------------------------------ after a map

    async def on_commit(self, report: IngestReport) -> None:
        try:
            await self._warm()  # one incremental update per commit (~30 ms at 10 years)
            await self.resolve_forecasts()
        except Exception:
            log.exception("resolving forecasts failed (lake version %s)", report.version)

    async def resolve_forecasts(self) -> int:
        """Check open forecasts against the maps that arrived; post each verdict."""
        from datetime import datetime

        async with self._lock:
            pending = await asyncio.to_thread(self.store.open)
            if not pending:
                return 0
            try:
                run = await self.bot.stats.ratings()
            except NoData:
                return 0
            maps = list({e[2]: e[3] for e in run.events}.values())  # each map once
            done = 0
            for f in pending:
                after = datetime.fromisoformat(f.after_end) if f.after_end else None
                hit = played_by(maps, f.team_a, f.team_b, after)
                if hit is None:
                    continue
                m, outcome = hit
                if not await asyncio.to_thread(self.store.resolve, f.id, m.match_id, outcome):
                    continue
                done += 1
                brier, scored = await asyncio.to_thread(self.store.brier)
                channel = await self.bot.stats_channel()
                if channel is not None:
                    people = [await self.bot.stats.resolve_player(g) for g in f.team_a + f.team_b]
                    named = labels(people)
                    names_a = [named[g] for g in f.team_a]
                    names_b = [named[g] for g in f.team_b]
                    embed = embeds.came_true(
                        f.p_a, outcome, m.map_name, names_a, names_b, brier, scored
                    )
                    await post(channel, nonce("came_true", f.id), embed=embed)
            return done
