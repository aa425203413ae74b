"""PNG charts for the bot and the demo: matplotlib's Agg canvas on explicit figures.

No pyplot: its global figure registry is not thread-safe, and these functions run in
worker threads (``asyncio.to_thread``). Each call builds its own ``Figure`` and Agg
canvas, renders to bytes and drops both, so nothing leaks between calls or threads.
Pure functions of their inputs; no discord import (the demo uses them too).
"""

from __future__ import annotations

import math
from io import BytesIO
from typing import TYPE_CHECKING, Any

import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from etl_duck.query.stats import SessionReport

BACKGROUND = "#2b2d31"  # Discord's dark theme, so charts do not glare in the client
FOREGROUND = "#dbdee1"
GRID = "#4e5058"
PALETTE = (
    "#5865f2", "#57f287", "#fee75c", "#eb459e", "#ed4245", "#3ba55d",
    "#faa61a", "#00b0f4", "#b9bbbe", "#9b59b6", "#1abc9c", "#e67e22",
)  # fmt: skip
DPI = 100


def _figure(width: float, height: float, **margins: float) -> Figure:
    # fixed margins rather than a layout engine: "constrained" triples the render time,
    # and Agg holds the GIL while it draws (see the bot's loop-latency test)
    fig = Figure(figsize=(width, height), dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas
    fig.subplots_adjust(**{"left": 0.08, "right": 0.97, "top": 0.9, "bottom": 0.12, **margins})
    return fig


def _style(ax: Axes, title: str = "") -> None:
    ax.set_facecolor(BACKGROUND)
    ax.tick_params(colors=FOREGROUND)
    for spine in ax.spines.values():
        spine.set_color(GRID)
    ax.grid(color=GRID, linewidth=0.5, alpha=0.7)
    ax.set_axisbelow(True)
    if title:
        ax.set_title(title, color=FOREGROUND)
    ax.xaxis.label.set_color(FOREGROUND)
    ax.yaxis.label.set_color(FOREGROUND)


def _png(fig: Figure) -> bytes:
    with BytesIO() as buf:
        fig.savefig(buf, format="png", facecolor=fig.get_facecolor())
        return buf.getvalue()


def _empty(fig: Figure, text: str) -> bytes:
    ax = fig.add_subplot()
    _style(ax)
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", color=FOREGROUND, fontsize=14)
    return _png(fig)


def _num(value: Any) -> float:
    return 0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else value


def session_overview_png(report: SessionReport) -> bytes:
    """Kills and deaths (grouped bars) and DPM per player, players by DPM."""
    players = report.players
    fig = _figure(10, 7, bottom=0.17, hspace=0.25)
    fig.suptitle(f"Session {report.session_date.isoformat()}", color=FOREGROUND, fontsize=15)
    if players.is_empty():
        return _empty(fig, "no counted rounds")
    rows = players.sort(["dpm", "kills"], descending=True, nulls_last=True).to_dicts()
    names = [str(r["name"]) for r in rows]
    x = list(range(len(rows)))
    top, bottom = fig.subplots(2, 1, sharex=True)
    width = 0.4
    kills = [_num(r["kills"]) for r in rows]
    deaths = [_num(r["deaths"]) for r in rows]
    top.bar([i - width / 2 for i in x], kills, width, label="kills", color=PALETTE[1])
    top.bar([i + width / 2 for i in x], deaths, width, label="deaths", color=PALETTE[4])
    _style(top, "Kills / deaths")
    top.set_ylim(0, max([*kills, *deaths, 1]) * 1.3)  # headroom for the legend
    top.legend(loc="upper left", ncols=2, facecolor=BACKGROUND, edgecolor=GRID,
               labelcolor=FOREGROUND)  # fmt: skip
    dpm = [_num(r["dpm"]) for r in rows]
    bars = bottom.bar(x, dpm, 0.6, color=PALETTE[0])
    bottom.bar_label(bars, fmt="%.0f", color=FOREGROUND, fontsize=8)
    bottom.set_ylim(0, max([*dpm, 1]) * 1.12)
    _style(bottom, "DPM (Σdamage·60 / Σseconds played)")
    bottom.set_xticks(x, names, rotation=30, ha="right")
    return _png(fig)


def dpm_timeline_png(report: SessionReport) -> bytes:
    """Each player's DPM per map of the session, in play order."""
    tl = report.dpm_timeline
    fig = _figure(11, 6, right=0.8, bottom=0.22)
    if tl.is_empty():
        return _empty(fig, "no counted rounds")
    matches = (
        tl.group_by("match_id")
        .agg(pl.col("first_end").min(), pl.col("map_name").first())
        .sort("first_end")
    )
    order = {m: i for i, m in enumerate(matches["match_id"].to_list())}
    labels = [f"{i + 1}. {name}" for i, name in enumerate(matches["map_name"].to_list())]
    ax = fig.add_subplot()
    _style(ax, f"DPM per map — session {report.session_date.isoformat()}")
    # players in the session's order (best DPM first), so the legend reads like the table
    ranking = report.players["guid"].to_list() if not report.players.is_empty() else []
    guids = ranking + sorted(set(tl["guid"].to_list()) - set(ranking))
    for n, guid in enumerate(guids):
        mine = tl.filter(pl.col("guid") == guid)
        if mine.is_empty():
            continue
        pts = sorted(
            (order[m], _num(d)) for m, d in zip(mine["match_id"], mine["dpm"], strict=True)
        )
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            marker="o",
            linewidth=1.6,
            color=PALETTE[n % len(PALETTE)],
            label=str(mine["name"][-1]),
        )
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylabel("DPM")
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        facecolor=BACKGROUND,
        edgecolor=GRID,
        labelcolor=FOREGROUND,
    )
    return _png(fig)


def compare_radar_png(rows: pl.DataFrame, metrics: list[str]) -> bytes:
    """Players (rows of ``Stats.compare``) on one radar; each axis scaled to its maximum."""
    fig = _figure(7, 7, left=0.12, right=0.88, top=0.88, bottom=0.16)
    if rows.is_empty() or not metrics:
        return _empty(fig, "nothing to compare")
    from etl_duck.domain.metrics import METRICS

    n = len(metrics)
    angles = [2 * math.pi * i / n for i in range(n)]
    maxima = [max((_num(v) for v in rows[m].to_list()), default=0.0) or 1.0 for m in metrics]
    ax = fig.add_subplot(projection="polar")
    _style(ax)
    for i, row in enumerate(rows.to_dicts()):
        values = [_num(row[m]) / mx for m, mx in zip(metrics, maxima, strict=True)]
        colour = PALETTE[i % len(PALETTE)]
        ax.plot([*angles, angles[0]], [*values, values[0]], color=colour, linewidth=2,
                label=str(row["name"]))  # fmt: skip
        ax.fill([*angles, angles[0]], [*values, values[0]], color=colour, alpha=0.25)
    labels = []
    for m in metrics:
        metric = METRICS.get(m)
        label = metric.label if metric else m
        best = rows[m].to_list()
        shown = " / ".join(metric.format(v) if metric else f"{_num(v):.1f}" for v in best)
        labels.append(f"{label}\n{shown}")
    ax.set_xticks(angles, labels, color=FOREGROUND, fontsize=9)
    ax.tick_params(axis="x", pad=14)  # labels clear of the outer ring
    ax.set_ylim(0, 1.05)
    ax.set_yticklabels([])
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.15), ncols=2, facecolor=BACKGROUND,
              edgecolor=GRID, labelcolor=FOREGROUND)  # fmt: skip
    return _png(fig)


def leaderboard_png(board: pl.DataFrame, label: str) -> bytes:
    """Horizontal bars of a leaderboard (output of ``Stats.leaderboard``), best on top."""
    height = max(3.0, 0.45 * board.height + 1.5)
    fig = _figure(9, height, left=0.22, right=0.93, top=1 - 0.6 / height, bottom=0.4 / height)
    if board.is_empty():
        return _empty(fig, "nobody on this board yet")
    names = [str(n) for n in board["name"].to_list()][::-1]
    values = [_num(v) for v in board["value"].to_list()][::-1]
    ax = fig.add_subplot()
    _style(ax, label)
    bars = ax.barh(range(len(names)), values, color=PALETTE[0])
    integral = all(float(v).is_integer() for v in values)
    ax.bar_label(bars, fmt="%d" if integral else "%.1f", color=FOREGROUND, fontsize=8, padding=3)
    ax.set_yticks(range(len(names)), names)
    return _png(fig)


def rating_history_png(history: pl.DataFrame, name: str) -> bytes:
    """A player's μ after each rated map with the ±σ band and the conservative rating
    (μ − 3σ): the output of ``Stats.player_rating(...).history``."""
    fig = _figure(9, 4, left=0.08, right=0.97, top=0.9, bottom=0.14)
    if history.is_empty():
        return _empty(fig, "no rated map yet")
    x = list(range(1, history.height + 1))
    mu = [float(v) for v in history["mu"].to_list()]
    sigma = [float(v) for v in history["sigma"].to_list()]
    ax = fig.add_subplot()
    _style(ax, f"{name}: skill rating over {history.height} maps")
    ax.fill_between(x, [m - s for m, s in zip(mu, sigma, strict=True)],
                    [m + s for m, s in zip(mu, sigma, strict=True)],
                    color=PALETTE[0], alpha=0.25, label="μ ± σ")  # fmt: skip
    ax.plot(x, mu, color=PALETTE[0], linewidth=1.5, label="μ")
    ax.plot(x, [m - 3 * s for m, s in zip(mu, sigma, strict=True)], color=PALETTE[2],
            linewidth=1.2, label="rating (μ − 3σ)")  # fmt: skip
    ax.set_xlabel("rated maps")
    legend = ax.legend(loc="lower right", facecolor=BACKGROUND, edgecolor=GRID, fontsize=8)
    for text in legend.get_texts():
        text.set_color(FOREGROUND)
    return _png(fig)


def warm_up() -> None:
    """Render a tiny chart once: the first render loads fonts and caches (≈0.1 s holding
    the GIL), which a process should pay at start-up, not during its first command."""
    fig = _figure(2, 1)
    ax = fig.add_subplot()
    _style(ax, "warm-up")
    ax.bar([0, 1], [1, 2], label="x")
    ax.legend()
    _png(fig)
