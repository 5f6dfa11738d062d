"""Training curves from metrics.csv (Lightning's CSV logger: epoch, step, a column per key),
as SVG line charts (fabricx.pages.svg)."""

from __future__ import annotations

import math
from typing import Any

from fabricx.pages.html import figure
from fabricx.pages.svg import COLORS, line_chart

Series = dict[str, list[tuple[float, float]]]


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
        for split in ("train", "val"):
            for key in (f"{split}/{name}", f"{split}/{name}_step"):
                value = number(row.get(key))
                if value is None:
                    continue
                if step is not None:
                    by_step[key].append((step, value))
                if epoch is not None and not key.endswith("_step"):
                    by_epoch[key].append((epoch, value))
    return {k: v for k, v in by_step.items() if v}, {k: v for k, v in by_epoch.items() if v}


def curves_html(rows: list[dict[str, str]], name: str) -> str:
    """Two charts side by side, by step and by epoch; "" when metrics.csv has no `name`."""
    by_step, by_epoch = split_series(rows, name)
    if not by_step and not by_epoch:
        return ""
    log_loss = name == "loss" and _spans_decades(by_step)
    # One colour per key on both charts: train blue (its step values paler), val orange.
    colors = {f"train/{name}": COLORS[0], f"train/{name}_step": "#9ecae1", f"val/{name}": COLORS[1]}
    charts = [
        line_chart(by_step, x_label="step", y_label=name, y_log=log_loss, colors=colors),
        line_chart(
            by_epoch, x_label="epoch", y_label=name, x_ticks=_epoch_ticks(by_epoch), colors=colors
        ),
    ]
    return figure("".join(charts), f"{name}: train and val, by step and by epoch")


def overlay_html(runs: dict[str, list[dict[str, str]]], keys: list[str]) -> str:
    """One chart per key, one line per run, by step: several runs in one picture."""
    charts = []
    for key in keys:
        series = {}
        for label, rows in runs.items():
            points = [(number(r.get("step")), number(r.get(key))) for r in rows]
            kept = [(s, v) for s, v in points if s is not None and v is not None]
            if kept:
                series[label] = kept
        if series:
            charts.append(line_chart(series, title=key, x_label="step", y_label=key))
    return figure("".join(charts), "every run, by step") if charts else ""


def _epoch_ticks(by_epoch: Series) -> list[float] | None:
    """Whole epochs: 0, 1, 2 (or every few when there are many), never 0.5."""
    epochs = sorted({e for points in by_epoch.values() for e, _ in points})
    if not epochs:
        return None
    every = max(1, math.ceil((epochs[-1] - epochs[0] + 1) / 8))
    return [e for e in range(int(epochs[0]), int(epochs[-1]) + 1) if e % every == 0]


def _spans_decades(series: Series) -> bool:
    values = [v for points in series.values() for _, v in points]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 30


def number(text: Any) -> float | None:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
