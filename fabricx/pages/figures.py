"""matplotlib, where fabricx still draws with it: bench.png, and Optuna's plots on the sweep's
page. The run pages' own charts are written as SVG directly (fabricx.pages.svg): they are
drawn at the end of every run. matplotlib is imported when a figure is drawn, never when
this module is.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

# SVG text stays text (not one path per glyph): pages several times smaller, and searchable.
_RC = {"svg.fonttype": "none", "svg.hashsalt": "fabricx"}


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to a file or a string
    import matplotlib.pyplot as plt

    plt.rcParams.update(_RC)
    return plt


def latency_figure(rows: list[dict[str, Any]], title: str) -> Any:
    """Median latency per sample against batch size, one line per runtime (log scales)."""
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
    fig.tight_layout()
    return fig
