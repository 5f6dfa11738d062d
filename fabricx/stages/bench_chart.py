"""PNG charts for the run directory (matplotlib, headless)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from fabricx.atomic import atomic_open


def latency_chart(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Median latency per sample against batch size, one line per runtime (log scales)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to the file
    import matplotlib.pyplot as plt
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
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
    return path
