"""`fabricx runs compare A B ...`: config and metric differences, aligned, and curves overlaid.

The config difference is every key of config.yaml (flattened, `optim.lr`) whose value is not
the same in every run; the metric difference is every metric of metrics.json, one column per
run (and B - A for two runs). The curves (train loss by step, val loss and the val metric)
of every run go into one picture, in a self-contained page like report.html. The verb
prints the same differences as tables on the console (fabricx.verbs.runs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fabricx.errors import ConfigError
from fabricx.pages.curves import overlay_html
from fabricx.pages.html import esc, page, section, table, write_page
from fabricx.pages.run_page import read_metrics_csv

_MISSING = "(absent)"


@dataclass
class Comparison:
    labels: list[str]  # a short name per run: the run directory's name
    run_dirs: list[Path]
    config: list[tuple[str, list[Any]]] = field(default_factory=list)  # differing keys only
    metrics: list[tuple[str, list[Any]]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    metric_name: str | None = None

    def delta_header(self) -> list[str]:
        """["B - A"] for two runs: the column of differences; [] for more."""
        return [f"{self.labels[1]} - {self.labels[0]}"] if len(self.labels) == 2 else []

    def delta(self, values: list[Any]) -> list[Any]:
        """[B - A] of one row for two runs ("" where not both numbers); [] for more."""
        if len(self.labels) != 2:
            return []
        a, b = values
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
            return [float(b - a)]
        return [""]


def compare_runs(run_dirs: list[Path]) -> Comparison:
    """Read each run's config.yaml and metrics.json; what differs, aligned by key.

    Raises:
        ConfigError: a path is not a run directory, or its config.yaml cannot be read.
    """
    configs, records = [], []
    for run_dir in run_dirs:
        if not (run_dir / "config.yaml").is_file():
            raise ConfigError(
                f"{run_dir}: not a run directory (no config.yaml); `fabricx runs` lists them."
            )
        try:
            configs.append(flatten(yaml.safe_load((run_dir / "config.yaml").read_text()) or {}))
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(
                f"{run_dir / 'config.yaml'}: cannot be read ({type(err).__name__}); leave that "
                "run out of the comparison, or write its config again from overrides.yaml."
            ) from err
        try:
            records.append(json.loads((run_dir / "metrics.json").read_text()))
        except (OSError, ValueError):
            records.append({})
    labels = _labels(run_dirs)
    comparison = Comparison(labels, list(run_dirs))
    for key in sorted({k for c in configs for k in c}):
        values = [c.get(key, _MISSING) for c in configs]
        if any(v != values[0] for v in values):
            comparison.config.append((key, values))
    metrics = [r.get("metrics") or {} for r in records]
    for key in sorted({k for m in metrics for k in m}):
        comparison.metrics.append((key, [m.get(key) for m in metrics]))
    comparison.statuses = [str(r.get("status") or "no record") for r in records]
    comparison.metric_name = next(
        ((r.get("metric") or {}).get("name") for r in records if r.get("metric")), None
    )
    return comparison


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"optim": {"lr": 0.1}} -> {"optim.lr": 0.1}; lists stay values."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def _labels(run_dirs: list[Path]) -> list[str]:
    names = [d.name for d in run_dirs]
    if len(set(names)) == len(names):
        return names
    return [f"{d.parent.name}/{d.name}" for d in run_dirs]


def as_float(value: Any) -> Any:
    """A number as a float (shown with 4 decimals like the others); anything else as it is."""
    return (
        float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    )


def build_compare_page(comparison: Comparison) -> str:
    runs = {
        label: read_metrics_csv(d)
        for label, d in zip(comparison.labels, comparison.run_dirs, strict=True)
    }
    short = (comparison.metric_name or "").split("/", 1)[-1]
    wanted = [
        "train/loss_step",
        "val/loss",
        *([f"val/{short}"] if short and short != "loss" else []),
    ]
    present = [k for k in wanted if any(k in row for rows in runs.values() for row in rows)]
    curves = overlay_html(runs, present)
    config_rows = [[k, *(esc(v) for v in values)] for k, values in comparison.config]
    metric_rows = [
        [k, *(as_float(v) for v in values), *comparison.delta(values)]
        for k, values in comparison.metrics
    ]
    highlight = {i for i, (k, _) in enumerate(comparison.metrics) if k == comparison.metric_name}
    links = " ".join(
        f"<a href='{esc((d / 'report.html').resolve().as_uri())}'>{esc(label)}</a>"
        for label, d in zip(comparison.labels, comparison.run_dirs, strict=True)
        if (d / "report.html").is_file()
    )
    return page(
        f"fabricx runs compare: {len(comparison.labels)} runs",
        " · ".join(str(d) for d in comparison.run_dirs),
        [
            section("Curves", curves),
            section(
                "Metrics",
                table(
                    ["metric", *comparison.labels, *comparison.delta_header()],
                    metric_rows,
                    highlight,
                ),
            ),
            section(
                "Config: what differs",
                table(["key", *comparison.labels], config_rows, raw=True)
                if config_rows
                else "<p class='note'>The configs are the same.</p>",
            ),
            section("Each run's report", f"<p>{links}</p>" if links else ""),
        ],
    )


def write_compare_page(comparison: Comparison, path: Path) -> Path:
    return write_page(path, build_compare_page(comparison))
