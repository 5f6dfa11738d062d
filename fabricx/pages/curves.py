"""Training curves from metrics.csv (Lightning's CSV logger: epoch, step, a column per key),
drawn with matplotlib and inlined as SVG: the run page's curves and the comparison's overlay.

Each page draws one figure of curves (a panel per chart), so a page costs one drawing pass:
report.html is written at the end of every run. Margins are fixed (no tight_layout, which
draws once more to measure) and the legend sits below the panels, where it hides no line.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fabricx.atomic import atomic_open
from fabricx.pages.figures import COLORS, plain_log_ticks, pyplot
from fabricx.pages.html import figure, svg_of

Series = dict[str, list[tuple[float, float]]]

# One colour per key on every panel: train blue (its per-step values paler), val orange.
_ROLES = {"_step": ("train, per step", "#9ecae1"), "train": ("train", COLORS[0]),
          "val": ("val", COLORS[1])}  # fmt: skip
_PANEL_IN = (5.0, 2.5)  # one panel's width and height (inches), axes labels included
_MARKERS_UP_TO = 12  # points in a series that still get a marker each
_LEGEND_ROW_IN = 0.22  # the height of one legend row below the panels (inches)


def split_series(rows: list[dict[str, str]], name: str) -> tuple[Series, Series]:
    """`name` (loss, acc, f1, ...) of train and val: (by step, by epoch).

    By step: every value at the step it was logged (train/<name>_step on the steps Lightning
    wrote, the epoch values at their epoch's last step). By epoch: the epoch values.
    """
    keys = (f"train/{name}_step", f"train/{name}", f"val/{name}")  # drawn in this order
    by_step: Series = {key: [] for key in keys}
    by_epoch: Series = {key: [] for key in keys}
    for row in rows:
        step, epoch = number(row.get("step")), number(row.get("epoch"))
        for key in keys:
            value = number(row.get(key))
            if value is None:
                continue
            if step is not None:
                by_step[key].append((step, value))
            if epoch is not None and not key.endswith("_step"):
                by_epoch[key].append((epoch, value))
    return {k: v for k, v in by_step.items() if v}, {k: v for k, v in by_epoch.items() if v}


def curves_html(rows: list[dict[str, str]], names: list[str], png: Path | None = None) -> str:
    """One figure: a row per name (loss, the metric), by step on the left and by epoch on the
    right; "" when metrics.csv has none of them. With `png`, the same figure is also saved
    there (curves.png: for slides, a README, a tracker), written atomically."""
    drawn = [(name, *split_series(rows, name)) for name in names]
    drawn = [(name, by_step, by_epoch) for name, by_step, by_epoch in drawn if by_step or by_epoch]
    if not drawn:
        return ""
    plt = pyplot()
    fig, axes = _panels(plt, len(drawn), 2, legend_rows=1)
    seen: dict[str, Any] = {}
    for (name, by_step, by_epoch), (left, right) in zip(drawn, axes, strict=True):
        for ax, series in ((left, by_step), (right, by_epoch)):
            for key, points in series.items():
                label, color = _role(key)
                style = _style(key, len(points))
                seen[label] = ax.plot(*zip(*sorted(points), strict=True), color=color, **style)[0]
            ax.set_ylabel(name)
        if name == "loss" and _spans_decades(by_step):  # both panels: one scale per row
            for ax in (left, right):
                ax.set_yscale("log")
                plain_log_ticks(ax.yaxis)
        right.xaxis.get_major_locator().set_params(integer=True)  # epochs 0, 1, 2: not 0.5
    axes[-1][0].set_xlabel("step")
    axes[-1][1].set_xlabel("epoch")
    order = [label for label, _ in _ROLES.values() if label in seen]
    _legend_below(fig, [seen[label] for label in order], order, columns=len(order))
    caption = f"{' and '.join(name for name, _, _ in drawn)}: train and val, by step and by epoch"
    if png is not None:
        with atomic_open(png, "wb") as f:
            fig.savefig(f, format="png", dpi=100)
    return figure(svg_of(fig), caption)


def overlay_html(runs: dict[str, list[dict[str, str]]], keys: list[str]) -> str:
    """Several runs in one figure: a panel per key, a line per run (one colour per run on
    every panel), by step; "" when no run logged any of `keys`."""
    panels = []
    for key in keys:
        series = {}
        for label, rows in runs.items():
            points = [(number(r.get("step")), number(r.get(key))) for r in rows]
            kept = [(s, v) for s, v in points if s is not None and v is not None]
            if kept:
                series[label] = kept
        if series:
            panels.append((key, series))
    if not panels:
        return ""
    colors = {label: COLORS[i % len(COLORS)] for i, label in enumerate(runs)}
    columns = min(len(runs), 3)
    plt = pyplot()
    fig, axes = _panels(plt, 1, len(panels), legend_rows=math.ceil(len(runs) / columns))
    seen: dict[str, Any] = {}
    for ax, (key, series) in zip(axes[0], panels, strict=True):
        for label, points in series.items():
            style = _style(key, len(points))
            seen[label] = ax.plot(*zip(*points, strict=True), color=colors[label], **style)[0]
        ax.set_title(key)
        ax.set_xlabel("step")
    labels = [label for label in runs if label in seen]
    _legend_below(fig, [seen[label] for label in labels], labels, columns=columns)
    return figure(svg_of(fig), "every run, by step")


def _panels(plt: Any, rows: int, columns: int, legend_rows: int) -> tuple[Any, Any]:
    """A grid of panels with fixed margins in inches, and room for the legend below."""
    width, height = _PANEL_IN[0] * columns, _PANEL_IN[1] * rows + _LEGEND_ROW_IN * legend_rows
    fig, axes = plt.subplots(rows, columns, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(
        left=0.62 / width, right=1 - 0.12 / width, top=1 - 0.3 / height,
        bottom=(0.42 + _LEGEND_ROW_IN * legend_rows) / height, wspace=0.25, hspace=0.35,
    )  # fmt: skip
    return fig, axes


def _legend_below(fig: Any, handles: list[Any], labels: list[str], columns: int) -> None:
    if handles:
        fig.legend(handles, labels, loc="lower center", ncols=max(columns, 1), fontsize=8,
                   bbox_to_anchor=(0.5, 0.0))  # fmt: skip


def _style(key: str, points: int) -> dict[str, Any]:
    """Per-step values: a thin line. A few epoch values: a marker on each, so one epoch
    reads as a point; more than `_MARKERS_UP_TO`: a line alone (each marker costs bytes)."""
    if key.endswith("_step"):
        return {"lw": 0.8, "alpha": 0.8}
    return {"lw": 1.2, **({"marker": "o", "ms": 3} if points <= _MARKERS_UP_TO else {})}


def _role(key: str) -> tuple[str, str]:
    """The legend label and colour of a metrics.csv key: train/acc_step, train/acc, val/acc."""
    if key.endswith("_step"):
        return _ROLES["_step"]
    return _ROLES["val"] if key.startswith("val/") else _ROLES["train"]


def _spans_decades(series: Series) -> bool:
    values = [v for points in series.values() for _, v in points]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 30


def number(text: Any) -> float | None:
    """A metrics.csv cell as a finite float; None for an empty, unreadable or infinite one."""
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
