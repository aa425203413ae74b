"""Inline SVG charts for the static site: plain markup, no JavaScript, no image files.

Hand-written rather than matplotlib: a session page needs two charts and the full site has
~2,000 pages; matplotlib's SVG backend takes ~50 ms a chart, these take microseconds, and
they inherit the page's colours (``currentColor`` and CSS classes) in light and dark mode.
Every text is escaped and stripped of direction controls (player names are free text).
Charts scale with their box (``viewBox``), so they stay readable on a phone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

from etl_duck.site.render import plain

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)  # fmt: skip (Tableau 10: distinguishable, colour-blind aware)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    href: str | None = None


def _fmt(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


LABEL_CHARS = 18  # a bar's label is cut to this many characters (the label column's width)


def short_labels(labels: Sequence[str], chars: int = LABEL_CHARS) -> list[str]:
    """Labels cut to ``chars``: the start and "…"; where two different labels would be cut
    alike (long clan-tagged names, a name told apart by its GUID's start), their start and
    end around the "…", which keeps what tells them apart (the end, the GUID)."""

    def cut(text: str) -> str:
        return text if len(text) <= chars else text[: chars - 1] + "…"

    def ends(text: str) -> str:
        if len(text) <= chars:
            return text
        tail = (chars - 1) * 3 // 5
        return text[: chars - 1 - tail] + "…" + text[-tail:]

    first = [cut(t) for t in labels]
    owners: dict[str, set[str]] = {}
    for text, short in zip(labels, first, strict=True):
        owners.setdefault(short, set()).add(text)
    return [
        ends(text) if len(owners[short]) > 1 else short
        for text, short in zip(labels, first, strict=True)
    ]


def bars(items: Sequence[Bar], *, title: str, decimals: int = 1, unit: str = "") -> Markup:
    """Horizontal bars, one per item, labelled with name and value (largest first as given)."""
    shown = [b for b in items if b.value is not None]
    if not shown:
        return Markup("")
    width, label_w, row = 420, 140, 24
    top = max(float(b.value or 0.0) for b in shown) or 1.0
    height = row * len(shown) + 8
    out = [
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
    ]
    span = width - label_w - 70
    names = short_labels([plain(b.label) for b in shown])
    for i, b in enumerate(shown):
        value = float(b.value or 0.0)
        y = 4 + i * row
        w = max(1.0, span * value / top)
        text, name = plain(b.label), names[i]
        hover = f"<title>{escape(text)}</title>" if name != text else ""
        label = (
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{hover}{escape(name)}</text>'
        )
        if b.href:
            label = f'<a href="{escape(b.href)}">{label}</a>'
        out.append(label)
        out.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{PALETTE[i % len(PALETTE)]}" rx="2"/>'
        )
        out.append(
            f'<text x="{label_w + w + 5:.1f}" y="{y + 16}" class="value">'
            f"{escape(_fmt(value, decimals) + unit)}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))


def line(
    values: Sequence[float | None],
    *,
    title: str,
    labels: Sequence[str] | None = None,
    decimals: int = 1,
) -> Markup:
    """One series over time (e.g. DPM per session), with its mean as a dashed line."""
    series = [v for v in values if v is not None]
    if not series:
        return Markup("")
    return lines({"": values}, title=title, labels=labels, decimals=decimals, mean=True)


def lines(
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    labels: Sequence[str] | None = None,
    decimals: int = 1,
    mean: bool = False,
) -> Markup:
    """Several series over the same x steps (e.g. each player's DPM per map), with a legend.
    Missing values (``None``) break a line instead of dropping to zero."""
    points = [v for vs in series.values() for v in vs if v is not None]
    if not points:
        return Markup("")
    n = max(len(vs) for vs in series.values())
    width, height, left, right, top, bottom = 480, 220, 44, 10, 12, 28
    lo, hi = min(0.0, min(points)), max(points)
    hi = hi if hi > lo else lo + 1.0
    pw, ph = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph * (1 - (v - lo) / (hi - lo))

    out = [
        f'<svg class="chart lines" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}"/>',
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" class="tick">'
        f"{escape(_fmt(hi, 0))}</text>",
        f'<text x="{left - 4}" y="{top + ph}" text-anchor="end" class="tick">'
        f"{escape(_fmt(lo, 0))}</text>",
    ]
    if labels:
        out.append(
            f'<text x="{left}" y="{height - 8}" class="tick">{escape(labels[0])}</text>'
            f'<text x="{left + pw}" y="{height - 8}" text-anchor="end" class="tick">'
            f"{escape(labels[-1])}</text>"
        )
    if mean and points:
        avg = sum(points) / len(points)
        out.append(
            f'<line class="mean" x1="{left}" y1="{y(avg):.1f}" x2="{left + pw}" '
            f'y2="{y(avg):.1f}"><title>mean {escape(_fmt(avg, decimals))}</title></line>'
        )
    names = [plain(name) for name in series]
    for k, (name, vs) in enumerate(zip(names, series.values(), strict=True)):
        colour = PALETTE[k % len(PALETTE)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(vs):
            if v is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
        for run in runs:
            if len(run) > 1:
                out.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                    f'points="{" ".join(run)}"/>'
                )
        for i, v in enumerate(vs):
            if v is None:
                continue
            tip = (f"{name}: " if name else "") + (
                f"{labels[i]}: " if labels and i < len(labels) else ""
            )
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(tip + _fmt(v, decimals))}</title></circle>"
            )
    out.append("</svg>")
    legend = ""
    named = [name for name in names if name]
    if named:
        legend = '<ul class="legend">' + "".join(
            f'<li><span class="swatch" style="background:{PALETTE[k % len(PALETTE)]}"></span>'
            f"{escape(name)}</li>"
            for k, name in enumerate(named)
        )
        legend += "</ul>"
    return Markup("".join(out) + legend)


@dataclass(frozen=True)
class BandPoint:
    """One step of a series with its uncertainty: the estimate and the band around it."""

    when: datetime
    mid: float
    lo: float
    hi: float


MAX_BAND_POINTS = 240  # a chart is ~480 px wide: more points than this draw nothing new


def _thin(points: Sequence[BandPoint], most: int) -> list[BandPoint]:
    """At most ``most`` points, evenly spaced by position, always keeping the first and
    the last (the current value)."""
    n = len(points)
    if n <= most:
        return list(points)
    keep = sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})
    return [points[i] for i in keep]


def band(
    points: Sequence[BandPoint],
    *,
    title: str,
    mid_name: str,
    lo_name: str,
    band_name: str,
    decimals: int = 1,
) -> Markup:
    """A series of steps (e.g. a rating after each map) with a shaded band for its
    uncertainty and the band's lower edge drawn as its own line (μ, μ ± 3σ and the
    conservative rating μ − 3σ). x is the step, not the date: an evening's maps would
    otherwise stand on one vertical line; years are marked where they begin."""
    shown = _thin(points, MAX_BAND_POINTS)
    if not shown:
        return Markup("")
    width, height, left, right, top, bottom = 480, 220, 44, 10, 12, 28
    pw, ph = width - left - right, height - top - bottom
    lo_v = min(p.lo for p in shown)
    hi_v = max(p.hi for p in shown)
    hi_v = hi_v if hi_v > lo_v else lo_v + 1.0
    n = len(shown)

    def x(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph * (1 - (v - lo_v) / (hi_v - lo_v))

    def path(values: Sequence[tuple[int, float]]) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in values)

    upper = [(i, p.hi) for i, p in enumerate(shown)]
    lower = [(i, p.lo) for i, p in enumerate(shown)]
    last = shown[-1]
    out = [
        f'<svg class="chart band" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}"/>',
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" class="tick">'
        f"{escape(_fmt(hi_v, 0))}</text>",
        f'<text x="{left - 4}" y="{top + ph}" text-anchor="end" class="tick">'
        f"{escape(_fmt(lo_v, 0))}</text>",
        f'<text x="{left}" y="{height - 8}" class="tick">{shown[0].when:%Y-%m-%d}</text>',
        f'<text x="{left + pw}" y="{height - 8}" text-anchor="end" class="tick">'
        f"{last.when:%Y-%m-%d}</text>",
    ]
    years = [i for i in range(1, n) if shown[i].when.year != shown[i - 1].when.year]
    if len(years) <= 12:  # more would crowd the axis
        for i in years:
            px = x(i)
            out.append(
                f'<line class="grid" x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + ph}"/>'
            )
            if left + 70 < px < left + pw - 70:  # clear of the first and last dates
                out.append(
                    f'<text x="{px:.1f}" y="{height - 8}" text-anchor="middle" class="tick">'
                    f"{shown[i].when.year}</text>"
                )
    if len(shown) > 1:
        out.append(
            f'<polygon class="band" points="{path(upper)} {path(lower[::-1])}">'
            f"<title>{escape(band_name)}</title></polygon>"
        )
        out.append(
            f'<polyline fill="none" stroke="{PALETTE[0]}" stroke-width="2" '
            f'points="{path([(i, p.mid) for i, p in enumerate(shown)])}"/>'
        )
        out.append(
            f'<polyline fill="none" stroke="{PALETTE[1]}" stroke-width="2" points="{path(lower)}"/>'
        )
    for value, colour, name in ((last.mid, PALETTE[0], mid_name), (last.lo, PALETTE[1], lo_name)):
        out.append(
            f'<circle cx="{x(n - 1):.1f}" cy="{y(value):.1f}" r="3.5" fill="{colour}">'
            f"<title>{escape(f'{name}: {_fmt(value, decimals)} ({last.when:%Y-%m-%d})')}</title>"
            "</circle>"
        )
    out.append("</svg>")
    legend = (
        '<ul class="legend">'
        f'<li><span class="swatch" style="background:{PALETTE[0]}"></span>{escape(mid_name)}</li>'
        f'<li><span class="swatch" style="background:{PALETTE[1]}"></span>{escape(lo_name)}</li>'
        f'<li><span class="swatch band"></span>{escape(band_name)}</li></ul>'
    )
    return Markup("".join(out) + legend)
