"""Embeds about the bot and the lake: /status and /cache."""

from __future__ import annotations

from typing import Any

import discord

from etl_duck.bot.format import EMBED_MAX, FIELD_MAX, code, cut, esc, fit_first, num
from etl_duck.domain.sources import label
from etl_duck.query.cache import CacheStats
from etl_duck.query.stats import cut_fix, cut_said, empty_fix, no_round_said

COLOUR = discord.Colour.dark_grey()
#: the field naming a record of the fetch's looks that cannot be used
LOOKS = "Fetch record of looks"
#: the fields naming raw/ against the lake's ledger and an interrupted ingest's traces
RAW = "raw/ against the lake"
LEFTOVERS = "Interrupted ingest"


def status(info: dict[str, Any], bot: dict[str, str], posting: str | None = None) -> discord.Embed:
    """``posting``: the last post the stats channel refused and its fix (None: none since
    the last post that went through)."""
    embed = discord.Embed(title="etl-duck status", colour=COLOUR)
    if info.get("sessions"):
        embed.description = (
            f"Lake version {info['version']} · {num(info['sessions'])} sessions · "
            f"{num(info['counted_rounds'])} counted rounds · {num(info['players'])} players\n"
            f"{info['first_date']} → {info['last_date']}"
        )
    else:
        embed.description = "The lake is empty: no data yet."
    servers = info.get("servers") or []
    if len(servers) > 1:  # one line each, as `etl-duck status` prints: one that stopped shows
        embed.add_field(
            name="Game servers",
            value=fit_first([_server_line(row) for row in servers], FIELD_MAX, "\n"),
            inline=False,
        )
    excluded = info.get("excluded") or {}
    if excluded:
        embed.add_field(
            name="Not counted",
            value=fit_first([f"{esc(k)}: {v}" for k, v in excluded.items()], FIELD_MAX),
            inline=False,
        )
    # every open problem, as `etl-duck status` lists it, each with its fix (the query
    # layer's sentences: the CLI says the same)
    problems = (
        (
            "Quarantined files",
            [f"{code(n)}: {esc(r)}" for n, r in (info.get("quarantined") or {}).items()],
        ),
        (
            "Version conflicts",
            [f"{code(k)}: {esc(r)}" for k, r in (info.get("conflicts") or {}).items()],
        ),
        ("Rejected lines", [esc(line) for line in info.get("rejected") or []]),
        (
            "Partial files (last line cut)",
            [
                f"{code(n)}: counts from the next round of its server on, short of the "
                f"lines after the cut — {esc(cut_fix(n))}"
                for n in info.get("partial") or []
            ],
        ),
        (  # a later round followed: its complete lines count, the rest may be missing
            "Cut files (last line)",
            [f"{code(n)}: {esc(cut_said(n, why))}" for n, why in (info.get("cut") or {}).items()],
        ),
        (
            "Empty files (0 bytes)",
            [f"{code(n)}: nothing counts — {esc(empty_fix(n))}" for n in info.get("empty") or []],
        ),
        (  # recent ones (its round 1 may still be on the server), not accepted by an admin
            "Round 2s without their round 1",
            [
                f"{code(o['file'])}: not counted — {esc(o['fix'])}"
                for o in info.get("orphans") or []
                if o.get("open")
            ],
        ),
        (  # a lost round-2 file or a reset: counted, the admin decides (recent, not accepted)
            "Round 1s replayed without their round 2",
            [
                f"{code(o['file'])}: counted — {esc(o['fix'])}"
                for o in info.get("replayed") or []
                if o.get("open")
            ],
        ),
        (  # the server wrote later rounds: the round's stats file is missing (its awards wait)
            "Endstats without their round (fetch or ingest the round's file)",
            [code(n) for n in info.get("endstats_without_round") or []],
        ),
        # the fetch's record of looks cannot be used (the bot's check: the query core
        # imports no fetch code): `etl-duck status`'s sentence
        (LOOKS, [esc(t) for t in info.get("fetch_looks") or []]),
        # raw/ (the source of truth) and the lake's ledger apart; an interrupted ingest's
        # traces (the cog adds both from the disk: `etl-duck status`'s sentences)
        (RAW, [esc(t) for t in info.get("raw") or []]),
        (LEFTOVERS, [esc(t) for t in info.get("leftovers") or []]),
    )
    shown = [(f"{title} ({len(lines)})", lines) for title, lines in problems if lines]
    # Discord refuses an embed over 6,000 characters in all: the problems share what the
    # rest leaves, each field within its 1,024
    rest = (
        len(embed)
        + (len("⚠️ Posts refused") + min(len(posting), FIELD_MAX) if posting else 0)
        + sum(len(k) + max(1, min(len(v), FIELD_MAX)) for k, v in bot.items())
    )
    budget = EMBED_MAX - rest - sum(len(name) for name, _ in shown)
    for i, (name, lines) in enumerate(shown):
        share = min(FIELD_MAX, budget // (len(shown) - i))
        value = _fit(lines, share)
        budget -= len(value)
        embed.add_field(name=name, value=value, inline=False)
    if posting:
        embed.add_field(name="⚠️ Posts refused", value=cut(posting, FIELD_MAX), inline=False)
    for name, value in bot.items():
        embed.add_field(name=name, value=cut(value, FIELD_MAX) or "—", inline=True)
    return embed


def _server_line(row: dict[str, Any]) -> str:
    """A game server's rounds and when its latest round ended (``Stats.status()``'s
    ``servers`` row; a configured one the lake has no round of: the fix), in `etl-duck
    status`'s words."""
    if not row["rounds"]:  # a configured server the lake has no round of
        return f"{code(label(row['server']))}: {esc(no_round_said(row['server']))}"
    last = row.get("last_round")
    when = "—" if not last else str(last)[:16].replace("T", " ")
    rounds, counted = num(row["rounds"]), num(row["counted_rounds"])
    return f"{code(label(row['server']))}: {rounds} rounds ({counted} counted), last round {when}"


def _fit(lines: list[str], limit: int) -> str:
    """As many whole lines as fit, then how many more (fix them with `etl-duck status`)."""
    out: list[str] = []
    for i, line in enumerate(lines):
        more = f"… and {len(lines) - i} more (`etl-duck status`)"
        if sum(len(x) + 1 for x in out) + len(line) + len(more) + 2 > limit:
            out.append(more)
            break
        out.append(cut(line, limit - len(more) - 2))
    return "\n".join(out)


def cache(stats: CacheStats, version: int, timings: dict[str, list[float]]) -> discord.Embed:
    embed = discord.Embed(title="Query cache", colour=COLOUR)
    embed.add_field(name="Hits", value=num(stats.hits))
    embed.add_field(name="Misses", value=num(stats.misses))
    embed.add_field(name="Shared (single flight)", value=num(stats.shared))
    embed.add_field(name="Hit rate", value=num(stats.hit_rate * 100, 1, " %"))
    embed.add_field(name="Entries", value=f"{stats.size} / {stats.maxsize}")
    embed.add_field(name="Lake version", value=str(version))
    slow = sorted(((name, max(ms)) for name, ms in timings.items() if ms), key=lambda t: -t[1])[:5]
    if slow:
        embed.add_field(
            name="Slowest queries (max ms)",
            value="\n".join(f"{code(n)} {ms:.1f}" for n, ms in slow),
            inline=False,
        )
    return embed
