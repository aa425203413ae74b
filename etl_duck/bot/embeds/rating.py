"""Embeds of the skill rating: a player's rating, the leaderboard, balanced teams and the
bot's voice-channel forecasts."""

from __future__ import annotations

from collections.abc import Sequence

import discord
import polars as pl

from etl_duck.bot.format import cell_of, esc, fit_table, labels, player_name
from etl_duck.domain.balance import Split
from etl_duck.query.rating import Balance, PlayerRatingCard, TeamForecast

COLOUR = discord.Colour.teal()
HOW = (
    "Learned from stopwatch map results (win 2 – loss 0, double fullhold 1–1), weighted by "
    "each player's share of the map. μ is the skill estimate, σ its uncertainty (it grows "
    "while a player is away); the rating is μ − 3σ."
)


def _signed(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1f}"


def brier_line(brier: float | None, n: int) -> str:
    if not n or brier is None:
        return "Bot forecasts: none scored yet"
    return f"Bot forecasts: {n} scored · Brier {brier:.3f} (coin flip 0.250)"


def player_rating(
    card: PlayerRatingCard, brier: float | None, scored: int, chart: str | None
) -> discord.Embed:
    r = card.row
    rank = (
        f"#{card.rank} of {card.ranked_players}"
        if card.rank
        else f"unranked (fewer than {card.min_maps} maps)"
    )
    embed = discord.Embed(
        title=f"{esc(player_name(card.name, card.guid))} — skill rating",
        description=f"`{card.guid}` · {rank}",
        colour=COLOUR,
    )
    embed.add_field(name="Rating", value=f"{r['rating']:.1f}")
    embed.add_field(name="μ", value=f"{r['mu']:.2f}")
    embed.add_field(name="σ", value=f"{r['sigma']:.2f}")
    embed.add_field(name="Maps", value=f"{r['maps']} ({r['wins']}-{r['losses']}-{r['ties']})")
    embed.add_field(name="Trend (his last 10 maps)", value=_signed(r["trend"]))
    if chart:
        embed.set_image(url=f"attachment://{chart}")
    embed.set_footer(text=brier_line(brier, scored))
    return embed


def top(board: pl.DataFrame, min_maps: int, brier: float | None, scored: int) -> discord.Embed:
    named = labels(zip(board["guid"], board["name"], strict=True))
    rows = [
        [str(r["rank"]), cell_of(named, r), f"{r['rating']:.1f}", f"{r['sigma']:.1f}",
         str(r["maps"]), _signed(r["trend"])]
        for r in board.iter_rows(named=True)
    ]  # fmt: skip
    embed = discord.Embed(title="Skill rating — top players", colour=COLOUR)
    embed.description = (
        fit_table(
            ["#", "player", "rating", "σ", "maps", "trend"],
            rows,
            limit=4000,
            right=[True, False, True, True, True, True],
        )
        if rows
        else f"Nobody has {min_maps}+ rated maps yet."
    )
    embed.add_field(name="How it is computed", value=HOW, inline=False)
    embed.set_footer(
        text=f"minimum {min_maps} maps · trend: over each player's last 10 maps · "
        f"{brier_line(brier, scored)}"
    )
    return embed


def _team(names: list[str]) -> str:
    return "\n".join(esc(n) for n in names) or "—"


def balance(res: Balance, shown: int = 3, unlinked: Sequence[str] = ()) -> discord.Embed:
    """``unlinked``: the keys (``+name``) of voice members without a linked GUID, balanced
    as new players: named in the answer, with what to do about it."""
    embed = discord.Embed(title=f"Balanced teams for {len(res.players)} players", colour=COLOUR)
    named = labels(res.players.items())
    for key in unlinked:
        named[key] = f"{res.players[key]} (new, not linked)"
    if unlinked:
        who = ", ".join(esc(res.players[k]) for k in unlinked)
        embed.description = (
            f"Not linked: {who} — balanced as new players at the starting rating. Their own "
            "rating counts once they run `/link` (or name the players instead)."
        )
    for i, s in enumerate(res.splits[:shown], 1):
        embed.add_field(
            name=f"#{i} · P(A wins) {s.p_a:.0%}",
            value=_split_text(res, s, named),
            inline=False,
        )
    note = "the last session's split is excluded · " if res.avoided else ""
    embed.set_footer(
        text=f"{note}the {min(shown, len(res.splits))} most even of {len(res.splits)} best splits"
    )
    return embed


def _split_text(res: Balance, s: Split, named: dict[str, str]) -> str:
    def shown(g: str) -> str:  # a name that shows nothing: the GUID (labels())
        return esc(named[g])

    a = ", ".join(shown(g) for g in s.team_a)
    b = ", ".join(shown(g) for g in s.team_b)
    return f"**A** ({s.rating_a:.0f}): {a}\n**B** ({s.rating_b:.0f}): {b}"


def forecast(fc: TeamForecast, title: str = "Forecast") -> discord.Embed:
    embed = discord.Embed(title=title, colour=COLOUR)
    named = labels([*fc.team_a, *fc.team_b])
    embed.add_field(name=f"Team A · {fc.p_a:.0%}", value=_team([named[g] for g, _ in fc.team_a]))
    embed.add_field(
        name=f"Team B · {1 - fc.p_a:.0%}", value=_team([named[g] for g, _ in fc.team_b])
    )
    embed.set_footer(
        text=f"Σ rating A {fc.rating_a:.0f} · B {fc.rating_b:.0f} · sides not known yet"
    )
    return embed


def came_true(
    p_a: float, outcome: float, map_name: str, names_a: list[str], names_b: list[str],
    brier: float | None, scored: int,
) -> discord.Embed:  # fmt: skip
    favourite = "A" if p_a >= 0.5 else "B"
    if outcome == 0.5:
        verdict = "A draw (double fullhold): half right."
    else:
        winner = "A" if outcome == 1.0 else "B"
        right = winner == favourite
        verdict = (
            f"Team {winner} won — the forecast {'came true' if right else 'did not come true'}."
        )
    embed = discord.Embed(title=f"Forecast check: {map_name}", description=verdict, colour=COLOUR)
    embed.add_field(name=f"Team A · {p_a:.0%}", value=_team(names_a))
    embed.add_field(name=f"Team B · {1 - p_a:.0%}", value=_team(names_b))
    embed.set_footer(text=brier_line(brier, scored))
    return embed
