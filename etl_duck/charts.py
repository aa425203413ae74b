"""PNG charts for the bot and the demo: matplotlib's Agg canvas on explicit figures.

No pyplot: its global figure registry is not thread-safe, and these functions run in
worker threads (``asyncio.to_thread``). Each call builds its own ``Figure`` and Agg
canvas, renders to bytes and drops both, so nothing leaks between calls or threads.
Pure functions of their inputs; no discord import (the demo uses them too).

Text is drawn as written: a player named ``$$`` or ``$x^2$`` is not mathtext (the first
raised, the second drew x²). See :func:`_literal_text`.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from io import BytesIO
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import polars as pl

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from etl_duck.query.stats import SessionReport

BACKGROUND = "#2b2d31"  # Discord's dark theme, so charts do not glare in the client
FOREGROUND = "#dbdee1"
GRID = "#4e5058"
PALETTE = (
    "#5865f2", "#57f287", "#fee75c", "#eb459e", "#ed4245", "#3ba55d",
    "#faa61a", "#00b0f4", "#b9bbbe", "#9b59b6", "#1abc9c", "#e67e22",
)  # fmt: skip
DPI = 100

P = ParamSpec("P")
R = TypeVar("R")
_DRAWING = threading.RLock()


def _literal_text(chart: Callable[P, R]) -> Callable[P, R]:
    """``chart`` with every text it draws taken literally (``text.parse_math`` off): names,
    map and team names, titles, tick labels, legends, bar labels. A ``Text`` reads the
    setting when it is made, and tick labels are made as late as the render, so the whole
    chart, built and rendered, runs in the context: one rule for every text, where escaping
    ``$`` would have to be remembered at each call (and ``get_text()`` would say ``\\$``).
    The context sets matplotlib's global rcParams and restores them on leaving; the lock
    keeps two threads' charts from restoring each other's (Agg holds the GIL while it
    draws: charts in threads did not run side by side anyway)."""

    @functools.wraps(chart)
    def literal(*args: P.args, **kwargs: P.kwargs) -> R:
        import matplotlib as mpl

        with _DRAWING, mpl.rc_context({"text.parse_math": False}):
            return chart(*args, **kwargs)

    return literal


def _figure(width: float, height: float, **margins: float) -> Figure:
    # matplotlib (~50 MiB) loads with the first chart: a bot that only answers does without
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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
        # a fixed title position: matplotlib's automatic one measures every tick label of
        # the axes (about half of a four-panel chart's render time)
        ax.set_title(title, color=FOREGROUND, y=1.0, pad=6)
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


def _names(*frames: pl.DataFrame) -> dict[str, str]:
    """GUID → the name a chart shows, as the bot's embeds and the site show it: his GUID
    where his name shows nothing (``^1^2``), two players of one name told apart
    (``vid (D842)``) — a bar or a panel of each must say who it is."""
    from etl_duck.domain.parse import name_or_guid
    from etl_duck.query.rating import labels

    people: dict[str, str] = {}
    for frame in frames:
        if "guid" in frame.columns and "name" in frame.columns:
            for guid, name in frame.select("guid", "name").iter_rows():
                people[str(guid)] = name_or_guid(name, guid)
    return labels(people.items())


def _name(named: dict[str, str], row: dict[str, Any]) -> str:
    return named.get(str(row.get("guid")), str(row["name"]))


TEAM_COLOURS = ("#5865f2", "#faa61a")  # blurple and amber: apart for colour-blind eyes too
NO_TEAM = "#b9bbbe"


def _team_of(report: SessionReport) -> tuple[dict[str, int], tuple[str, str] | None]:
    """GUID → team index (0/1) and the team names, when the session has teams."""
    if report.teams is None:
        return {}, None
    a, b = report.teams
    return {**{g: 0 for g in a.guids}, **{g: 1 for g in b.guids}}, (a.name, b.name)


def _per(value: Any, seconds: Any, scale: float = 60.0) -> float:
    secs = _num(seconds)
    return _num(value) * scale / secs if secs > 0 else 0.0


def _label_bars(ax: Axes, bars: Any, fmt: str) -> None:
    ax.bar_label(bars, fmt=fmt, color=FOREGROUND, fontsize=7, padding=1)


@_literal_text
def session_overview_png(report: SessionReport) -> bytes:
    """Four panels per player, bars in team colours with value labels, players grouped by
    team and ordered by DPM; counts are normalised by the player's own time played (a
    player who joined for two maps is not a bar of zeros), and each label says how many
    rounds he played: DPM; kills and deaths per minute; support (revives given and
    received per 10 minutes); survival (the average life: time played per death).
    (Time dead is not used: writers before c0rnp0rn8 inflate it, STATS_FORMAT.md §3.6.)"""
    players = report.players
    fig = _figure(12, 8.5, left=0.06, right=0.98, top=0.9, bottom=0.16, hspace=0.3, wspace=0.12)
    fig.suptitle(f"Session {report.session_date.isoformat()}", color=FOREGROUND, fontsize=15)
    if players.is_empty():
        return _empty(fig, "no counted rounds")
    team, names = _team_of(report)
    rows = sorted(players.to_dicts(), key=lambda r: (team.get(str(r["guid"]), 2), -_num(r["dpm"])))
    named = _names(players)
    labels = [f"{_name(named, r)} ({r['rounds']} rnd)" for r in rows]
    colours = [TEAM_COLOURS[team[str(r["guid"])]] if str(r["guid"]) in team else NO_TEAM
               for r in rows]  # fmt: skip
    x = list(range(len(rows)))
    (dpm_ax, kd_ax), (sup_ax, surv_ax) = fig.subplots(2, 2, sharex=True)
    dpm = [_num(r["dpm"]) for r in rows]
    _label_bars(dpm_ax, dpm_ax.bar(x, dpm, 0.7, color=colours), "%.0f")
    dpm_ax.set_ylim(0, max([*dpm, 1]) * 1.15)
    _style(dpm_ax, "DPM  (Σdamage·60 / Σseconds played)")
    w = 0.38
    kpm = [_per(r["kills"], r["time_played_s"]) for r in rows]
    dpm_d = [_per(r["deaths"], r["time_played_s"]) for r in rows]
    _label_bars(kd_ax, kd_ax.bar([i - w / 2 for i in x], kpm, w, color=colours), "%.2f")
    _label_bars(kd_ax, kd_ax.bar([i + w / 2 for i in x], dpm_d, w, color=colours, alpha=0.45,
                                 hatch="//", edgecolor=BACKGROUND), "%.2f")  # fmt: skip
    kd_ax.set_ylim(0, max([*kpm, *dpm_d, 0.1]) * 1.2)
    _style(kd_ax, "Kills (solid) and deaths (hatched) per minute")
    rev = [_per(r["revives"], r["time_played_s"], 600) for r in rows]
    revd = [_per(r.get("times_revived"), r["time_played_s"], 600) for r in rows]
    _label_bars(sup_ax, sup_ax.bar([i - w / 2 for i in x], rev, w, color=colours), "%.1f")
    _label_bars(sup_ax, sup_ax.bar([i + w / 2 for i in x], revd, w, color=colours, alpha=0.45,
                                   hatch="//", edgecolor=BACKGROUND), "%.1f")  # fmt: skip
    sup_ax.set_ylim(0, max([*rev, *revd, 0.1]) * 1.2)
    _style(sup_ax, "Support: revives given (solid) / received (hatched) per 10 min")
    life = [_num(r["time_played_s"]) / (_num(r["deaths"]) + 1) for r in rows]
    _label_bars(surv_ax, surv_ax.bar(x, life, 0.7, color=colours), "%.0f s")
    surv_ax.set_ylim(0, max([*life, 1]) * 1.2)
    _style(surv_ax, "Survival: average life, seconds played per death")
    for ax in (sup_ax, surv_ax):
        ax.set_xticks(x, labels, rotation=40, ha="right", fontsize=8)
    if names is not None:
        from matplotlib.patches import Patch

        handles = [Patch(color=c, label=n) for c, n in zip(TEAM_COLOURS, names, strict=True)]
        fig.legend(handles=handles, loc="upper right", ncols=2, facecolor=BACKGROUND,
                   edgecolor=GRID, labelcolor=FOREGROUND)  # fmt: skip
    return _png(fig)


@_literal_text
def dpm_timeline_png(report: SessionReport) -> bytes:
    """Each player's DPM per map of the session, one small panel per player (13 lines on
    one axis are unreadable): his line in his team's colour over the session's per-map
    median in grey, panels in the order of the session table (best DPM first)."""
    tl = report.dpm_timeline
    if tl.is_empty():
        return _empty(_figure(11, 6), "no counted rounds")
    matches = (
        # in the order played: the report's (across a clock change, not the names' order)
        tl.group_by("match_id", maintain_order=True).agg(
            pl.col("first_end").min(), pl.col("map_name").first()
        )
    )
    order = {m: i for i, m in enumerate(matches["match_id"].to_list())}
    maps = matches["map_name"].to_list()
    ranking = report.players["guid"].to_list() if not report.players.is_empty() else []
    named = _names(tl.group_by("guid", maintain_order=True).last())
    guids = [g for g in ranking if g in set(tl["guid"].to_list())]
    guids += sorted(set(tl["guid"].to_list()) - set(guids))
    cols = 4 if len(guids) > 6 else 3 if len(guids) > 2 else len(guids)
    nrows = math.ceil(len(guids) / cols)
    height = 1.9 * nrows + 1.6
    fig = _figure(12, height, left=0.06, right=0.98, top=1 - 0.75 / height,
                  bottom=0.75 / height, hspace=0.55, wspace=0.15)  # fmt: skip
    fig.suptitle(
        f"DPM per map — session {report.session_date.isoformat()} · grey: the session's median"
        f"\nmaps: {', '.join(f'{i + 1} {m}' for i, m in enumerate(maps))}",
        color=FOREGROUND, fontsize=10, wrap=True,
    )  # fmt: skip
    median = tl.group_by("match_id").agg(pl.col("dpm").median()).to_dicts()
    med = sorted((order[r["match_id"]], _num(r["dpm"])) for r in median)
    team, _ = _team_of(report)
    top = max(_num(v) for v in tl["dpm"].to_list()) * 1.1 or 1.0
    axes = fig.subplots(nrows, cols, sharex=True, sharey=True, squeeze=False)
    from matplotlib.ticker import MaxNLocator

    axes[0][0].yaxis.set_major_locator(MaxNLocator(3))  # shared: few ticks, each costs
    totals = {str(r["guid"]): r for r in report.players.iter_rows(named=True)}
    for n, ax in enumerate(a for row in axes for a in row):
        if n >= len(guids):
            ax.set_visible(False)
            continue
        guid = guids[n]
        mine = tl.filter(pl.col("guid") == guid)
        pts = sorted(
            (order[m], _num(d)) for m, d in zip(mine["match_id"], mine["dpm"], strict=True)
        )
        colour = TEAM_COLOURS[team[guid]] if guid in team else PALETTE[n % len(PALETTE)]
        ax.plot([p[0] for p in med], [p[1] for p in med], color=GRID, linewidth=1.2)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=3.5,
                linewidth=1.8, color=colour)  # fmt: skip
        total = totals.get(guid)
        title = named.get(str(guid), str(mine["name"][-1]))
        if total is not None and total.get("dpm") is not None:
            title += f" — {total['dpm']:.0f}"
        _style(ax)
        ax.set_title(title, color=FOREGROUND, fontsize=9, y=1.0, pad=4)
        ax.set_ylim(0, top)
        ax.set_xticks(range(len(maps)), [str(i + 1) for i in range(len(maps))], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.tick_params(axis="x", labelbottom=True)  # map numbers under every panel
    return _png(fig)


@_literal_text
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
    named = _names(rows)
    for i, row in enumerate(rows.to_dicts()):
        values = [_num(row[m]) / mx for m, mx in zip(metrics, maxima, strict=True)]
        colour = PALETTE[i % len(PALETTE)]
        ax.plot([*angles, angles[0]], [*values, values[0]], color=colour, linewidth=2,
                label=_name(named, row))  # fmt: skip
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


def value_axis(values: list[float]) -> tuple[float, float]:
    """An axis that shows the differences: from a little below the smallest value (not
    from zero, where 294 and 336 DPM look alike) to a little above the largest."""
    lo, hi = min(values), max(values)
    span = hi - lo or abs(hi) * 0.1 or 1.0
    start = lo - span * 0.6
    if lo >= 0 and start < lo * 0.25:
        start = 0.0  # the values differ by a lot already: zero is honest and readable
    return max(start, 0.0) if lo >= 0 else start, hi + span * 0.3


@_literal_text
def leaderboard_png(board: pl.DataFrame, label: str) -> bytes:
    """A leaderboard (output of ``Stats.leaderboard``), best on top, as bars on an axis
    that starts near the smallest value (said in the axis label) with the exact value at
    each bar's end, so close values are told apart."""
    height = max(3.0, 0.45 * board.height + 1.7)
    fig = _figure(9, height, left=0.22, right=0.93, top=1 - 0.6 / height, bottom=0.75 / height)
    if board.is_empty():
        return _empty(fig, "nobody on this board yet")
    named = _names(board)
    names = [_name(named, r) for r in board.to_dicts()][::-1]
    values = [_num(v) for v in board["value"].to_list()][::-1]
    ax = fig.add_subplot()
    _style(ax, label)
    lo, hi = value_axis(values)
    bars = ax.barh(range(len(names)), [v - lo for v in values], left=lo, color=PALETTE[0])
    integral = all(float(v).is_integer() for v in values)
    ax.bar_label(bars, labels=[f"{v:,.0f}" if integral else f"{v:,.1f}" for v in values],
                 color=FOREGROUND, fontsize=8, padding=3)  # fmt: skip
    ax.set_xlim(lo, hi)
    ax.set_yticks(range(len(names)), names)
    if lo > 0:
        ax.set_xlabel(f"axis starts at {lo:,.0f}, not 0", fontsize=8)
    return _png(fig)


@_literal_text
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


@_literal_text
def warm_up() -> None:
    """Render a tiny chart once: the first render loads fonts and caches (≈0.1 s holding
    the GIL), which a process should pay at start-up, not during its first command."""
    fig = _figure(2, 1)
    ax = fig.add_subplot()
    _style(ax, "warm-up")
    ax.bar([0, 1], [1, 2], label="x")
    ax.legend()
    _png(fig)
