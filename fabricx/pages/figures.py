"""The plots of the report pages, drawn with matplotlib (headless Agg) from plain rows.

Each function returns a matplotlib Figure; fabricx.pages.html.svg_of turns it into inline
SVG, and bench.png saves the latency one as PNG. matplotlib is imported when a plot is drawn,
never when the module is.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

# SVG text stays text (not one path per glyph): pages several times smaller, and searchable.
_RC = {"svg.fonttype": "none", "svg.hashsalt": "fabricx", "font.size": 9, "axes.grid": True,
       "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False}  # fmt: skip


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to a file or a string
    import matplotlib.pyplot as plt

    plt.rcParams.update(_RC)
    return plt


def curves_figure(rows: list[dict[str, str]], name: str) -> Any | None:
    """`name` (loss, acc, f1, ...) for train and val: by step on the left, by epoch on the right.

    Args:
        rows: metrics.csv's rows (Lightning's CSV logger: epoch, step, one column per key).

    Returns:
        None when metrics.csv has no value of `name` at all.
    """
    by_step: dict[str, list[tuple[float, float]]] = defaultdict(list)
    by_epoch: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        step, epoch = _number(row.get("step")), _number(row.get("epoch"))
        for split in ("train", "val"):
            for key in (f"{split}/{name}_step", f"{split}/{name}"):
                value = _number(row.get(key))
                if value is None:
                    continue
                if step is not None:
                    by_step[key].append((step, value))
                if epoch is not None and not key.endswith("_step"):
                    by_epoch[key].append((epoch, value))
    if not by_step and not by_epoch:
        return None
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.1))
    for key, points in sorted(by_step.items()):
        style = {"lw": 0.8, "alpha": 0.7} if key.endswith("_step") else {"marker": "o", "ms": 3}
        left.plot(*zip(*points, strict=True), label=key, **style)
    for key, points in sorted(by_epoch.items()):
        right.plot(*zip(*points, strict=True), marker="o", ms=3, label=key)
    left.set_xlabel("step")
    right.set_xlabel("epoch")
    right.xaxis.get_major_locator().set_params(integer=True)  # epochs 0, 1, 2: not 0.2
    for ax in (left, right):
        ax.set_ylabel(name)
        if ax.lines:
            ax.legend(fontsize=8)
    if name == "loss" and _spans_decades(by_step):
        left.set_yscale("log")
    # Fixed margins, not tight_layout: that lays the figure out by drawing it once more.
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.15, top=0.97, wspace=0.22)
    return fig


def overlay_figure(runs: dict[str, list[dict[str, str]]], keys: list[str]) -> Any:
    """Several runs' curves in one picture: one panel per key, one line per run, by step."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for label, rows in runs.items():
            points = [
                (_number(r.get("step")), _number(r.get(key)))
                for r in rows
                if _number(r.get(key)) is not None and _number(r.get("step")) is not None
            ]
            if points:
                style = {"lw": 0.8} if len(points) > 30 else {"marker": "o", "ms": 3}
                ax.plot(*zip(*points, strict=True), label=label, **style)
        ax.set_title(key)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.15, top=0.9, wspace=0.25)
    return fig


def latency_figure(rows: list[dict[str, Any]], title: str, tight: bool = True) -> Any:
    """Median latency per sample against batch size, one line per runtime (log scales).

    Args:
        tight: lay the figure out with tight_layout (a drawing pass more, for bench.png);
            False uses fixed margins (report.html, which runs at the end of every run).
    """
    plt = pyplot()
    import matplotlib.ticker

    by_runtime: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in rows:
        by_runtime[row["runtime"]].append((row["batch_size"], row["p50_ms"] / row["batch_size"]))
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for runtime, points in by_runtime.items():
        sizes, per_sample = zip(*sorted(points), strict=True)
        ax.plot(sizes, per_sample, marker="o", label=runtime)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({row["batch_size"] for row in rows}))
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())  # 1, 8, 64, not 2^n
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("median latency per sample (ms)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if tight:
        fig.tight_layout()
    else:
        fig.subplots_adjust(left=0.12, right=0.97, bottom=0.14, top=0.92)
    return fig


def _spans_decades(series: dict[str, list[tuple[float, float]]]) -> bool:
    values = [v for points in series.values() for _, v in points]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 30


def _number(text: Any) -> float | None:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
