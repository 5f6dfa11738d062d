"""A sweep worker: pull trials from the shared study until its budget is spent.

Each trial is a `fabricx train` subprocess with the trial's values as overrides, its own run
directory under `<sweep>/trials/`, and a W&B run grouped by the study. The worker keeps the
trial's heartbeat while it runs, and records its end: complete (the objective values read
from its metrics.json), pruned (exit 5), or failed (any other exit, with the error). A
failed trial never stops the worker.

    python -m fabricx.sweep.worker <sweep dir> [worker index]
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.storages.journal import JournalFileOpenLock
from optuna.trial import TrialState

from fabricx import internals
from fabricx.errors import TrialPruned
from fabricx.runs.directory import read_json_object
from fabricx.runs.job import TRIAL_ENV
from fabricx.sweep import study as studies
from fabricx.sweep.plan import SweepPlan
from fabricx.sweep.space import as_overrides, suggest

WAIT = "wait"  # nothing to ask now, but running trials may still fail and be retried
TRIALS_DIR = "trials"
TRIAL_LOG = "trial.log"


def work(sweep_dir: str | Path, worker: int = 0) -> int:
    """Run trials until the budget is spent and no trial is left running; return how many."""
    plan = SweepPlan.read(sweep_dir)
    study = studies.load(plan)
    # Workers (and reruns) with one seed would sample alike: give each its own stream.
    study.sampler = studies.build_sampler(plan, stream=worker * 100_003 + len(study.trials))
    budget_lock = JournalFileOpenLock(str(plan.dir / "budget.lock"))
    ran = 0
    while True:
        trial = next_trial(study, plan, budget_lock)
        if trial is None:
            return ran
        if trial == WAIT:
            time.sleep(plan.heartbeat_s)
            continue
        run_trial(study, trial, plan, worker)
        ran += 1


def budget(plan: SweepPlan) -> int:
    if plan.sampler["name"] == "grid":
        return min(plan.n_trials, studies.grid_size(plan.params))
    return plan.n_trials


def counted(trials: list[optuna.trial.FrozenTrial]) -> int:
    """Trials that use the budget: all but those that lost their worker and were retried."""
    retried = {n for t in trials for n in RetryHeartbeatStaleTrialCallback.retry_history(t) or []}
    return sum(t.number not in retried for t in trials)


def next_trial(study: optuna.Study, plan: SweepPlan, lock: JournalFileOpenLock) -> Any:
    """A new trial, WAIT, or None when the sweep is done; one worker at a time decides.

    The lock makes "count, then ask" atomic across workers, so the budget is never
    overshot; stale trials (no heartbeat for grace_s) are failed and requeued first.
    """
    with _held(lock):
        fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        if any(t.state == TrialState.WAITING for t in trials) or counted(trials) < budget(plan):
            return study.ask()
        if any(t.state == TrialState.RUNNING for t in trials):
            return WAIT
        return None


@contextlib.contextmanager
def _held(lock: JournalFileOpenLock) -> Iterator[None]:
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def run_trial(study: optuna.Study, trial: optuna.Trial, plan: SweepPlan, worker: int) -> None:
    """Run one trial as a `fabricx train` subprocess and tell the study how it ended."""
    started = time.monotonic()
    run_dir = plan.dir / TRIALS_DIR / f"{trial.number:04d}"
    try:
        values = suggest(trial, plan.params)
        run_dir.mkdir(parents=True, exist_ok=True)
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}:{worker}")
        trial.set_user_attr("overrides", as_overrides(values))
        args = trial_arguments(plan, trial.number, values, run_dir)
        env = trial_environment(plan, trial)
        heartbeat = internals.heartbeat_thread(internals.trial_id(trial), trial.storage)
        with heartbeat, open(run_dir / TRIAL_LOG, "w") as log:
            code = subprocess.call(
                [sys.executable, "-m", "fabricx", "train", *args],
                stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent,
            )  # fmt: skip
        state, result, error = outcome(code, run_dir, plan)
    except Exception as err:  # the worker itself stumbled: the trial fails, the worker goes on
        state, result, error = TrialState.FAIL, None, f"{type(err).__name__}: {err}"
    if error:
        trial.set_user_attr("error", error)
    try:
        study.tell(trial, result, state=state)
    except optuna.exceptions.UpdateFinishedTrialError:  # failed as stale meanwhile
        state = TrialState.FAIL
    shown = " ".join(f"{v:.4f}" for v in result) if result is not None else error or ""
    print(
        f"fabricx sweep: worker {worker}: trial {trial.number} {state.name.lower()} "
        f"{shown} ({time.monotonic() - started:.1f} s, {run_dir})",
        flush=True,
    )


def trial_arguments(
    plan: SweepPlan, number: int, values: dict[str, Any], run_dir: Path
) -> list[str]:
    """`fabricx train` arguments of a trial: base config, its values, W&B group and tags."""
    short = {k: f"{v:.4g}" if isinstance(v, float) else v for k, v in values.items()}
    tags = [f"trial-{number}", *(o[:64] for o in as_overrides(short))]  # W&B: 64 chars a tag
    quoted = ",".join("'" + t.replace("'", "") + "'" for t in tags)
    wandb = plan.wandb_logger
    grouping = [f"logger.{wandb}.group={plan.study_name}", f"logger.{wandb}.tags=[{quoted}]"]
    return [
        *plan.train_args,
        *as_overrides(values),
        *(grouping if wandb else []),
        f"hydra.run.dir={run_dir}",
    ]


def trial_environment(plan: SweepPlan, trial: optuna.Trial) -> dict[str, str]:
    """The worker's environment for a trial, without SLURM's task variables.

    A trial is a job of its own inside the worker's allocation: Lightning must start its
    DDP ranks itself rather than read one task from SLURM's variables.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
    env[TRIAL_ENV] = json.dumps(
        {"sweep_dir": plan.sweep_dir, "trial_id": internals.trial_id(trial), "number": trial.number}
    )
    return env


def outcome(
    code: int, run_dir: Path, plan: SweepPlan
) -> tuple[TrialState, list[float] | None, str | None]:
    """(state, objective values, error) of a finished trial process."""
    record = read_json_object(run_dir / "metrics.json")
    if code == TrialPruned.exit_code:
        return TrialState.PRUNED, None, None
    if code != 0:
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        return TrialState.FAIL, None, f"{how}: {record.get('error') or _last_error(run_dir)}"
    metrics = record.get("metrics", {})
    missing = [o["metric"] for o in plan.objectives if o["metric"] not in metrics]
    if missing:
        return (
            TrialState.FAIL,
            None,
            f"objective {', '.join(missing)} not in metrics.json (it has {sorted(metrics)}); "
            "check sweep.objectives and the trial's stages.",
        )
    return TrialState.COMPLETE, [float(metrics[o["metric"]]) for o in plan.objectives], None


def _last_error(run_dir: Path) -> str:
    """The trial's own explanation: its `fabricx:` line, or the last line of its log."""
    try:
        lines = [line.strip() for line in (run_dir / TRIAL_LOG).read_text().splitlines()]
    except OSError:
        return "no log"
    lines = [line for line in lines if line]
    explained = [line for line in lines if line.startswith("fabricx:")]
    return (explained or lines or ["no output"])[-1][:500]


def _die_with_parent() -> None:
    """In the trial process: end with the worker (Linux), so a killed worker leaves no
    trial behind to report to a trial the study has failed and retried."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def main(argv: list[str]) -> int:
    try:
        work(argv[0], int(argv[1]) if len(argv) > 1 else 0)
    except KeyboardInterrupt:  # Ctrl-C: the running trial stays "running" until its
        return 130  # heartbeat goes stale; rerunning the sweep then retries it
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
