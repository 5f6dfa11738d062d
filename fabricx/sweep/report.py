"""The sweep's results, in its directory: best.json, trials.csv and the study's plots.

    best.json         best trial (or the Pareto front): values, params, run dir, the command
                      that trains it in full (fabricx train from_sweep=<sweep dir>)
    trials.csv        every trial: state, values, duration, params, error, retry, run dir
    history.png  importances.png  intermediate.png   (pareto.png when multi-objective)
    report.html       the page: trials, the best trial, Optuna's plots, each trial's report
                      (fabricx.sweep.page)

Written at the end of every sweep and by `fabricx sweep ... sweep.report_only=true`.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.table import Table

from fabricx.atomic import atomic_open
from fabricx.runs import directory as runs
from fabricx.sweep.plan import SweepPlan

log = logging.getLogger(__name__)


def write_report(study: optuna.Study, plan: SweepPlan, console: Console | None = None) -> dict:
    """Write best.json, trials.csv and the plots; print the summary; return best.json's data."""
    trials = study.get_trials(deepcopy=False)
    write_trials_csv(trials, plan, plan.dir / "trials.csv")
    best = best_summary(study, plan)
    best["plots"] = write_plots(study, plan)
    try:  # the page is a view of the study: never the sweep's failure
        from fabricx.sweep.page import write_sweep_page

        best["report"] = str(write_sweep_page(study, plan, best))
    except Exception as err:
        best["report"] = f"not written: {type(err).__name__}: {err}"
        log.warning("the sweep's report.html was not written: %s: %s", type(err).__name__, err)
    runs.write_json(plan.dir / "best.json", best)
    _print(best, console or Console())
    return best


def counts(trials: list[FrozenTrial]) -> dict[str, int]:
    states = [t.state.name.lower() for t in trials]
    return {s.name.lower(): states.count(s.name.lower()) for s in TrialState}


def best_summary(study: optuna.Study, plan: SweepPlan) -> dict[str, Any]:
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    by_state = counts(trials)
    summary: dict[str, Any] = {
        "study": plan.study_name,
        "storage": plan.storage,
        "objectives": plan.objectives,
        "trials": by_state,
        "pruned_fraction": by_state["pruned"] / len(trials) if trials else 0.0,
        "resume": " ".join(plan.command),
    }
    if not done:
        summary["best"] = None
        return summary
    front = study.best_trials  # the best trial, or the Pareto front when multi-objective
    rows = [_trial_summary(t, plan) for t in sorted(front, key=lambda t: t.number)]
    if plan.single_objective:
        summary["best"] = rows[0]
    else:
        summary["pareto_front"] = rows
    return summary


def _trial_summary(trial: FrozenTrial, plan: SweepPlan) -> dict[str, Any]:
    command = f"fabricx train from_sweep={plan.sweep_dir}"
    if not plan.single_objective:
        command += f" sweep_trial={trial.number}"
    return {
        "trial": trial.number,
        "values": dict(zip([o["metric"] for o in plan.objectives], trial.values, strict=True)),
        "params": trial.params,
        "overrides": trial.user_attrs.get("overrides", []),
        "run_dir": trial.user_attrs.get("run_dir"),
        "train": command,
    }


def write_trials_csv(trials: list[FrozenTrial], plan: SweepPlan, path: Path) -> Path:
    """One row per trial, in trial order; a lost worker's trial says which trial retried it."""
    params = list(dict.fromkeys([*plan.params, *(p for t in trials for p in t.params)]))
    metrics = [o["metric"] for o in plan.objectives]
    retried_by = {
        RetryHeartbeatStaleTrialCallback.retry_history(t)[-1]: t.number
        for t in trials
        if RetryHeartbeatStaleTrialCallback.retry_history(t)
    }
    header = ["number", "state", *metrics, "duration_s", "epochs_reported", "start", "end"]
    header += [*params, "retry_of", "retried_by", "error", "worker", "run_dir"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for t in trials:
        values = list(t.values) if t.values is not None else [None] * len(metrics)
        duration = t.duration.total_seconds() if t.duration is not None else None
        error = t.user_attrs.get("error", "")
        if t.number in retried_by and not error:
            error = "worker lost (no heartbeat within sweep.grace_s)"
        retry_of = RetryHeartbeatStaleTrialCallback.retried_trial_number(t)
        writer.writerow(
            [
                t.number, t.state.name.lower(), *values, duration, len(t.intermediate_values),
                t.datetime_start, t.datetime_complete, *(t.params.get(p, "") for p in params),
                retry_of, retried_by.get(t.number), error, t.user_attrs.get("worker", ""),
                t.user_attrs.get("run_dir", ""),
            ]
        )  # fmt: skip
    with atomic_open(path) as f:
        f.write(buffer.getvalue())
    return path


def write_plots(study: optuna.Study, plan: SweepPlan) -> dict[str, str]:
    """Optuna's matplotlib plots as PNG; a plot that needs more trials says why it is absent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    names = [o["metric"] for o in plan.objectives]
    wanted: dict[str, Any] = {}
    if plan.single_objective:
        wanted["history.png"] = lambda: plots.plot_optimization_history(study, target_name=names[0])
        wanted["intermediate.png"] = lambda: plots.plot_intermediate_values(study)
        wanted["importances.png"] = lambda: plots.plot_param_importances(study)
    else:
        wanted["pareto.png"] = lambda: plots.plot_pareto_front(study, target_names=names)
        for i, name in enumerate(names):
            file = f"history_{i}.png"
            wanted[file] = lambda i=i, name=name: plots.plot_optimization_history(
                study, target=lambda t: t.values[i], target_name=name
            )
            wanted[f"importances_{i}.png"] = lambda i=i, name=name: plots.plot_param_importances(
                study, target=lambda t: t.values[i], target_name=name
            )
    written = {}
    for file, plot in wanted.items():
        try:
            ax = plot()
        except (ValueError, RuntimeError, ZeroDivisionError) as err:  # e.g. too few trials
            written[file] = f"not drawn: {err}"
            continue
        figure = (ax.flat[0] if hasattr(ax, "flat") else ax).get_figure()
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        path = plan.dir / file
        with atomic_open(path, "wb") as f:
            figure.savefig(f, format="png", dpi=110)
        plt.close(figure)
        written[file] = str(path)
    return written


def _print(best: dict[str, Any], console: Console) -> None:
    table = Table(title=f"sweep {best['study']}: {counts_line(best['trials'])}")
    table.add_column("trial", justify="right")
    for objective in best["objectives"]:
        table.add_column(objective["metric"], justify="right")
    table.add_column("params")
    rows = best.get("pareto_front") or ([best["best"]] if best.get("best") else [])
    for row in rows:
        values = [_fmt(v) for v in row["values"].values()]
        table.add_row(str(row["trial"]), *values, " ".join(row["overrides"]))
    console.print(table)
    if rows:
        console.print(f"train it in full: {rows[0]['train']}", soft_wrap=True)


def counts_line(trials: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in trials.items() if n)


def _fmt(value: float) -> str:
    return "nan" if value is None or math.isnan(value) else f"{value:.4f}"
