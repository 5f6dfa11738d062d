"""Line charts written as SVG text: the curves and the latency chart of report.html.

A run's page is written at the end of every run, so its charts must cost next to nothing:
matplotlib took 0.07 s a figure to draw (0.2-0.3 s a page) plus 0.4 s to import in a run
that had not loaded it, where these take about a millisecond each and import nothing. They
draw what the pages need and no more: lines with markers, linear or log axes, ticks at
round numbers, a legend. The sweep's page keeps Optuna's own (matplotlib) plots.

Example::

    svg = line_chart({"val/loss": [(0, 1.0), (1, 0.5)]}, x_label="epoch", y_label="loss")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

# matplotlib's tab10: the colours users know from every other plot.
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 14, 26, 42  # margins (px) around the plotting area

Points = Sequence[tuple[float, float]]


def line_chart(
    series: dict[str, Points],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    x_log: bool = False,
    y_log: bool = False,
    x_ticks: Sequence[float] | None = None,
    colors: dict[str, str] | None = None,
    width: int = 440,
    height: int = 270,
) -> str:
    """One chart: a line per series, in the order given.

    Args:
        series: label -> (x, y) points; points that a log axis cannot show (<= 0) are dropped.
        x_log, y_log: logarithmic axes (base 10 ticks; `x_ticks` to name them yourself).
        x_ticks: where the x ticks go (e.g. the batch sizes), instead of round numbers.
        colors: a colour per label, so one key has one colour on every chart of a page;
            the others take COLORS in turn.

    Returns:
        The `<svg>` element; "" when no series has a point to draw.
    """
    kept = {
        label: [(x, y) for x, y in points if (x > 0 or not x_log) and (y > 0 or not y_log)]
        for label, points in series.items()
    }
    kept = {label: sorted(points) for label, points in kept.items() if points}
    if not kept:
        return ""
    xs = [x for points in kept.values() for x, _ in points]
    ys = [y for points in kept.values() for _, y in points]
    x_axis = _Axis(min(xs), max(xs), x_log, _LEFT, width - _RIGHT, x_ticks)
    y_axis = _Axis(min(ys), max(ys), y_log, height - _BOTTOM, _TOP)
    out = [
        "",  # the <svg> element, once the legend's height is known
        f"<title>{escape(title or y_label)}</title>",
        f"<rect x='{_LEFT}' y='{_TOP}' width='{width - _LEFT - _RIGHT}' "
        f"height='{height - _TOP - _BOTTOM}' fill='#fff' stroke='#999' stroke-width='0.8'/>",
    ]
    for value, label in x_axis.ticks():
        at = x_axis.pixel(value)
        out.append(f"<line x1='{at:.1f}' y1='{_TOP}' x2='{at:.1f}' "
                   f"y2='{height - _BOTTOM}' stroke='#e5e7eb'/>")  # fmt: skip
        out.append(f"<text x='{at:.1f}' y='{height - _BOTTOM + 14}' "
                   f"text-anchor='middle'>{escape(label)}</text>")  # fmt: skip
    for value, label in y_axis.ticks():
        at = y_axis.pixel(value)
        out.append(f"<line x1='{_LEFT}' y1='{at:.1f}' x2='{width - _RIGHT}' y2='{at:.1f}' "
                   "stroke='#e5e7eb'/>")  # fmt: skip
        out.append(f"<text x='{_LEFT - 5}' y='{at + 4:.1f}' text-anchor='end'>"
                   f"{escape(label)}</text>")  # fmt: skip
    palette = {
        label: (colors or {}).get(label, COLORS[i % len(COLORS)]) for i, label in enumerate(kept)
    }
    for label, points in kept.items():
        color = palette[label]
        coords = " ".join(f"{x_axis.pixel(x):.1f},{y_axis.pixel(y):.1f}" for x, y in points)
        thin = len(points) > 60  # dense step values: a line, no markers
        stroke = "stroke-width='1' stroke-opacity='0.75'" if thin else "stroke-width='1.6'"
        out.append(f"<polyline points='{coords}' fill='none' stroke='{color}' {stroke}/>")
        if not thin:
            out.extend(
                f"<circle cx='{x_axis.pixel(x):.1f}' cy='{y_axis.pixel(y):.1f}' r='2.4' "
                f"fill='{color}'/>"
                for x, y in points
            )
    legend, legend_h = _legend(palette, width, height)
    out.extend(legend)
    if title:
        out.append(f"<text x='{(_LEFT + width - _RIGHT) / 2:.0f}' y='16' text-anchor='middle' "
                   f"font-size='12'>{escape(title)}</text>")  # fmt: skip
    out.append(f"<text x='{(_LEFT + width - _RIGHT) / 2:.0f}' y='{height - 8}' "
               f"text-anchor='middle'>{escape(x_label)}</text>")  # fmt: skip
    out.append(f"<text transform='translate(13 {(height - _BOTTOM + _TOP) / 2:.0f}) rotate(-90)' "
               f"text-anchor='middle'>{escape(y_label)}</text>")  # fmt: skip
    out.append("</svg>")
    total = height + legend_h
    out[0] = (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {total}' "
        f"width='{width}' height='{total}' font-family='sans-serif' font-size='11' role='img'>"
    )
    return "".join(out)


def _legend(palette: dict[str, str], width: int, top: int) -> tuple[list[str], int]:
    """Below the chart, in rows that wrap at its width, so it never hides a line; the
    elements and the height they take."""
    out, x, y = [], float(_LEFT), top + 12
    for label, color in palette.items():
        item_w = 30 + 6.2 * len(label)
        if x + item_w > width - _RIGHT and x > _LEFT:
            x, y = float(_LEFT), y + 15
        out.append(f"<line x1='{x:.1f}' y1='{y - 4}' x2='{x + 16:.1f}' y2='{y - 4}' "
                   f"stroke='{color}' stroke-width='2.5'/>")  # fmt: skip
        out.append(f"<text x='{x + 20:.1f}' y='{y}'>{escape(label)}</text>")
        x += item_w
    return out, y - top + 6


class _Axis:
    """Data values to pixels along one axis, and where its ticks go."""

    def __init__(
        self,
        low: float,
        high: float,
        log: bool,
        start_px: float,
        end_px: float,
        fixed: Sequence[float] | None = None,
    ) -> None:
        self.log, self.fixed = log, fixed
        lo, hi = (math.log10(low), math.log10(high)) if log else (low, high)
        if hi == lo:  # one value: a band around it
            pad = abs(lo) * 0.1 or 1.0
            lo, hi = lo - pad, hi + pad
        pad = (hi - lo) * 0.04
        self.lo, self.hi = lo - pad, hi + pad
        self.start_px, self.end_px = start_px, end_px

    def pixel(self, value: float) -> float:
        v = math.log10(value) if self.log else value
        return self.start_px + (v - self.lo) / (self.hi - self.lo) * (self.end_px - self.start_px)

    def ticks(self) -> list[tuple[float, str]]:
        if self.fixed is not None:
            return [(v, f"{v:g}") for v in self.fixed]
        if self.log:
            decades = range(math.ceil(self.lo), math.floor(self.hi) + 1)
            if len(decades) >= 2:
                return [(10.0**k, f"{10.0**k:g}") for k in decades]
            low, high = 10**self.lo, 10**self.hi  # under two decades: round numbers
            return [(v, f"{v:g}") for v in nice_ticks(low, high) if v > 0]
        return [(v, f"{v:g}") for v in nice_ticks(self.lo, self.hi)]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values (1, 2 or 5 times a power of ten apart) within [low, high]."""
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks
