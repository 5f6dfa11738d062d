"""matplotlib, set up once for every fabricx picture: report pages, bench.png, Optuna's plots.

Headless (Agg), and rcParams that keep an inline SVG small: text stays text instead of one
path per glyph, a fixed hash salt so the same figure writes the same bytes. matplotlib is
imported when a figure is drawn, never when this module is (`fabricx runs` draws nothing).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

_RC = {
    "svg.fonttype": "none",  # text as <text>: pages several times smaller, and searchable
    "svg.hashsalt": "fabricx",  # stable ids: the same figure, the same SVG
    "svg.image_inline": True,
    "path.simplify": True,  # long step curves: drop points that draw nothing
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.major.size": 0,  # the grid shows where a tick is: no tick marks to write
    "ytick.major.size": 0,
    "xtick.minor.size": 0,
    "ytick.minor.size": 0,
    "legend.frameon": False,
}

# matplotlib's tab10, named here so one key keeps one colour on every panel of a page.
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip


def pyplot() -> Any:
    """matplotlib.pyplot, headless and with fabricx's rcParams."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to a file or a string
    import matplotlib.pyplot as plt

    plt.rcParams.update(_RC)
    return plt


def plain_log_ticks(axis: Any) -> None:
    """A log axis ticked at 0.1, 0.2, 0.5, 1, 2, ... written as such, not as 2x10^-1:
    plain numbers read at a glance, and no mathtext to lay out."""
    import matplotlib.ticker

    axis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(matplotlib.ticker.NullLocator())


def latency_figure(rows: list[dict[str, Any]], title: str, tight: bool = True) -> Any:
    """Median latency per sample against batch size, one line per runtime (log scales).

    Args:
        rows: bench.json's rows (runtime, batch_size, p50_ms).
        tight: lay the figure out with tight_layout (a drawing pass more, for bench.png);
            False uses fixed margins (report.html, which is written at the end of every run).
    """
    plt = pyplot()
    import matplotlib.ticker

    by_runtime: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in rows:
        by_runtime[row["runtime"]].append((row["batch_size"], row["p50_ms"] / row["batch_size"]))
    fig, ax = plt.subplots(figsize=(7, 4.5) if tight else (6.4, 3.6), dpi=120)
    for i, (runtime, points) in enumerate(by_runtime.items()):
        sizes, per_sample = zip(*sorted(points), strict=True)
        ax.plot(sizes, per_sample, marker="o", ms=4, color=COLORS[i % len(COLORS)], label=runtime)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({row["batch_size"] for row in rows}))
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())  # 1, 8, 64, not 2^n
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel("batch size")
    ax.set_ylabel("median ms per sample")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if tight:
        ax.legend()
        fig.tight_layout()
    else:
        # Fixed margins, not tight_layout (which draws the figure once more to measure it);
        # the legend beside the axes, where it never hides a line.
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        fig.subplots_adjust(left=0.13, right=0.74, bottom=0.14, top=0.91)
    return fig
