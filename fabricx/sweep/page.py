"""The sweep's report.html: trials table, the best trial, Optuna's plots, links to each trial.

Written beside best.json at the end of every sweep (fabricx.sweep.report) and by
`fabricx report run=<sweep dir>`. Optuna's own matplotlib plots (history, importances,
parallel coordinate; the Pareto front when multi-objective) are inlined as SVG, so the page
opens from disk with no network, like a run's report.html.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from fabricx.pages.html import cards, esc, figure, fmt, page, section, svg_of, table, write_page
from fabricx.pages.run_page import REPORT_FILE
from fabricx.sweep.plan import SweepPlan

log = logging.getLogger(__name__)


def write_sweep_page(study: optuna.Study, plan: SweepPlan, best: dict[str, Any]) -> Path:
    """report.html in the sweep directory; returns its path."""
    trials = study.get_trials(deepcopy=False)
    counts = best.get("trials") or {}
    names = [o["metric"] for o in plan.objectives]
    top = best.get("best") or {}
    headline = [(f"{state} trials", n) for state, n in counts.items() if n]
    if top:
        headline = [
            (f"best {k} (trial {top['trial']})", v) for k, v in top["values"].items()
        ] + headline
    return write_page(
        plan.dir / REPORT_FILE,
        page(
            f"fabricx sweep {plan.study_name}",
            f"{plan.sweep_dir} · storage {plan.storage}",
            [
                cards(headline),
                _best(best, plan),
                section("Plots", *_plots(study, plan, names)),
                section("Trials", _trials_table(trials, plan, names)),
                section("Resume or extend", f"<pre>{esc(' '.join(plan.command))}</pre>"),
            ],
        ),
    )


def _best(best: dict[str, Any], plan: SweepPlan) -> str:
    rows = best.get("pareto_front") or ([best["best"]] if best.get("best") else [])
    if not rows:
        return section("Best trial", "<p class='note'>No trial completed yet.</p>")
    parts = []
    for row in rows:
        link = _trial_link(row.get("run_dir"), plan)
        values = ", ".join(f"{esc(k)} = {esc(fmt(v))}" for k, v in row["values"].items())
        parts.append(
            f"<p><b>trial {row['trial']}</b>: {values} {link}</p>"
            f"<pre>{esc(' '.join(row.get('overrides') or []))}\n{esc(row['train'])}</pre>"
        )
    title = "Best trial" if best.get("best") else "Pareto front"
    return section(title, *parts)


def _plots(study: optuna.Study, plan: SweepPlan, names: list[str]) -> list[str]:
    from optuna.visualization import matplotlib as plots

    from fabricx.pages.figures import pyplot

    pyplot()  # headless, and SVG text as text
    wanted: dict[str, Callable[[], Any]] = {}
    if plan.single_objective:
        wanted["optimization history"] = lambda: plots.plot_optimization_history(
            study, target_name=names[0]
        )
        wanted["parameter importances"] = lambda: plots.plot_param_importances(study)
        wanted["parallel coordinate"] = lambda: plots.plot_parallel_coordinate(
            study, target_name=names[0]
        )
    else:
        wanted["Pareto front"] = lambda: plots.plot_pareto_front(study, target_names=names)
        for i, name in enumerate(names):
            wanted[f"history of {name}"] = lambda i=i, name=name: plots.plot_optimization_history(
                study, target=lambda t: t.values[i], target_name=name
            )
        wanted[f"parallel coordinate ({names[0]})"] = lambda: plots.plot_parallel_coordinate(
            study, target=lambda t: t.values[0], target_name=names[0]
        )
    out = []
    for title, plot in wanted.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna's "experimental" warnings
                ax = plot()
        except (ValueError, RuntimeError, ZeroDivisionError, TypeError) as err:
            out.append(f"<p class='note'>{esc(title)}: not drawn ({esc(err)})</p>")
            continue
        fig = (ax.flat[0] if hasattr(ax, "flat") else ax).get_figure()
        fig.set_size_inches(7.5, 3.8)
        fig.tight_layout()  # Optuna's axis labels, inside the smaller figure
        out.append(figure(svg_of(fig), title))
    return out


def _trials_table(trials: list[FrozenTrial], plan: SweepPlan, names: list[str]) -> str:
    params = list(dict.fromkeys([*plan.params, *(p for t in trials for p in t.params)]))
    headers = ["trial", "state", *names, "seconds", *params, "report", "error"]
    rows = []
    for t in trials:
        values = list(t.values) if t.values is not None else [None] * len(names)
        duration = t.duration.total_seconds() if t.duration is not None else None
        rows.append(
            [
                t.number, esc(t.state.name.lower()), *(_number(v) for v in values),
                _number(duration), *(esc(_param(t.params.get(p, ""))) for p in params),
                _trial_link(t.user_attrs.get("run_dir"), plan),
                esc(t.user_attrs.get("error", "")),
            ]
        )  # fmt: skip
    return table(headers, rows, raw=True)


def _param(value: Any) -> Any:
    return f"{value:.4g}" if isinstance(value, float) else value


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, (int, float)) else ""


def _trial_link(run_dir: str | None, plan: SweepPlan) -> str:
    """A relative link to the trial's own report.html, so the folder can move as a whole."""
    if not run_dir or not (Path(run_dir) / REPORT_FILE).is_file():
        return ""
    target = os.path.relpath(Path(run_dir) / REPORT_FILE, plan.dir)
    return f"<a href='{esc(target)}'>report</a>"
