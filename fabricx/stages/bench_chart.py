"""PNG charts for the run directory (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fabricx.atomic import atomic_open
from fabricx.pages.figures import latency_figure


def latency_chart(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Median latency per sample against batch size, one line per runtime (log scales)."""
    import matplotlib.pyplot as plt

    fig = latency_figure(rows, title)
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
    return path
