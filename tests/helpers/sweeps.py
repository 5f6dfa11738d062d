"""A finished sweep without training: a real Optuna study on a journal file, its trials
added with their values, intermediate values and run directories (synthetic ones), and the
plan beside it, as `fabricx sweep` leaves them. For the sweep's page and `fabricx report`."""

from __future__ import annotations

import random
from pathlib import Path

import optuna
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from benchmarks.synthetic import write_run_dirs
from fabricx.pages.run_page import write_run_report
from fabricx.sweep import study as studies
from fabricx.sweep.plan import SweepPlan

PARAMS = {
    "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "step": None, "log": True},
    "data.batch_size": {"type": "int", "low": 32, "high": 128, "step": 32, "log": False},
}


def finished_sweep(root: Path, n_trials: int = 8) -> tuple[optuna.Study, SweepPlan]:
    sweep_dir = root / "runs" / "digits_mlp" / "sweeps" / "digits_mlp"
    sweep_dir.mkdir(parents=True)
    plan = SweepPlan(
        study_name="digits_mlp", sweep_dir=str(sweep_dir),
        storage=str(sweep_dir / "study.journal"), n_trials=n_trials, workers=1,
        objectives=[{"metric": "val/acc", "direction": "maximize"}], params=PARAMS, enqueue=[],
        sampler={"name": "random", "seed": 0, "n_startup_trials": 2},
        pruner={"name": "median", "n_startup_trials": 0, "n_warmup_steps": 0},
        heartbeat_s=1, grace_s=2, max_retries=1, train_args=["recipe=digits_mlp"],
        command=["fabricx", "sweep", "recipe=digits_mlp", f"sweep.n_trials={n_trials}"],
    )  # fmt: skip
    plan.write()
    study = studies.load(plan)
    run_dirs = write_run_dirs(root / "trials", n_trials, epochs=3)
    rng = random.Random(0)
    distributions = {
        "optim.lr": FloatDistribution(1e-4, 1e-1, log=True),
        "data.batch_size": IntDistribution(32, 128, step=32),
    }
    for number, run_dir in enumerate(run_dirs):
        write_run_report(run_dir)
        lr, batch = 10 ** rng.uniform(-4, -1), rng.choice([32, 64, 96, 128])
        value = 0.99 - abs(lr - 0.01) * 3 - batch / 2000
        state = TrialState.PRUNED if number % 4 == 3 else TrialState.COMPLETE
        study.add_trial(
            create_trial(
                state=state,
                value=value if state == TrialState.COMPLETE else None,
                params={"optim.lr": lr, "data.batch_size": batch},
                distributions=distributions,
                intermediate_values={0: value - 0.1, 1: value - 0.02},
                user_attrs={"run_dir": str(run_dir), "overrides": [f"optim.lr={lr}"]},
            )
        )
    return study, plan
