"""`fabricx sweep`: write the plan, open (or resume) the study, run the workers, report.

Hydra runs this as the sweep verb's job, with the sweep directory as its run directory, so
`--cfg job`, `--info` and the job log (sweep.log) work as for every verb.
"""

from __future__ import annotations

import dataclasses
import logging

from omegaconf import DictConfig

from fabricx.builders.loggers import wandb_logger_name
from fabricx.config.check import check_config, trusted_prefixes
from fabricx.config.schema import SweepRunConfig
from fabricx.errors import FabricxError
from fabricx.runs.job import Job
from fabricx.sweep import report, submit
from fabricx.sweep import study as studies
from fabricx.sweep.plan import SweepPlan, trial_base_args

log = logging.getLogger(__name__)


def run(cfg: DictConfig, job: Job) -> None:
    """Run (or resume) the study in `job.run_dir`, the sweep directory, then report it."""
    prefixes = trusted_prefixes(cfg)
    typed: SweepRunConfig = check_config(cfg, prefixes)
    plan = make_plan(typed, job, _trial_arguments(typed, job), wandb_logger_name(typed, prefixes))
    _open_study(plan)
    if typed.sweep.report_only:
        problems: list[str] = []
    else:
        problems = _run_workers(plan, typed)
        if typed.sweep.launcher == "slurm" and not typed.sweep.wait:
            print(f"fabricx sweep: the report comes with: {' '.join(plan.command)} "
                  "sweep.report_only=true")  # fmt: skip
            return
    summary = report.write_report(studies.load(plan), plan)
    _raise_if_unfinished(plan, summary, problems)


def _trial_arguments(typed: SweepRunConfig, job: Job) -> list[str]:
    """What every trial's `fabricx train` gets before its own values: the sweep's flags and
    overrides, less what belongs to the sweep itself."""
    flags = ["--config-dir", job.config_dir] if job.config_dir else []
    return [*flags, *trial_base_args(job.overrides, typed.stages)]


def _open_study(plan: SweepPlan) -> None:
    """Create the study, or check that this command resumes it unchanged (exit 2 if not);
    write the plan the workers read; enqueue the asked-for trials once."""
    study = studies.load(plan)
    studies.check_resumable(study, plan)
    plan.write()
    for values in plan.enqueue:  # once: a resume finds them in the study already
        study.enqueue_trial(values, skip_if_exists=True)
    done = report.counts(study.get_trials(deepcopy=False))
    if any(done.values()):
        log.info("study %s resumes: %s", plan.study_name, report.counts_line(done))


def _run_workers(plan: SweepPlan, typed: SweepRunConfig) -> list[str]:
    """Run the workers here or on SLURM until the study has its trials; their problems."""
    sweep = typed.sweep
    log.info(
        "study %s: %d trials, %d %s workers, storage %s",
        plan.study_name, plan.n_trials, sweep.workers, sweep.launcher, plan.storage,
    )  # fmt: skip
    if sweep.launcher == "local":
        return submit.run_local(plan, sweep.workers)
    return submit.run_slurm(plan, sweep.workers, dataclasses.asdict(sweep.slurm), sweep.wait)


def _raise_if_unfinished(plan: SweepPlan, summary: dict, problems: list[str]) -> None:
    resume = f"Rerun `{' '.join(plan.command)}` to resume the study."
    if problems:
        raise FabricxError(f"{'; '.join(problems)}. {resume}")
    if summary.get("best") is None and not summary.get("pareto_front"):
        raise FabricxError(
            f"no trial of study {plan.study_name} completed; trials.csv in {plan.dir} has "
            "each trial's error."
        )


def make_plan(
    typed: SweepRunConfig, job: Job, train_args: list[str], wandb_logger: str | None
) -> SweepPlan:
    sweep = typed.sweep
    return SweepPlan(
        study_name=sweep.study_name,
        sweep_dir=str(job.run_dir),
        storage=studies.storage_spec(sweep.storage, job.run_dir),
        n_trials=sweep.n_trials,
        workers=sweep.workers,
        objectives=[dataclasses.asdict(o) for o in sweep.objectives],
        params={name: dataclasses.asdict(p) for name, p in sweep.params.items()},
        enqueue=[dict(values) for values in sweep.enqueue],
        sampler=dataclasses.asdict(sweep.sampler),
        pruner=dataclasses.asdict(sweep.pruner),
        heartbeat_s=sweep.heartbeat_s,
        grace_s=sweep.grace_s,
        max_retries=sweep.max_retries,
        train_args=train_args,
        command=job.command,
        wandb_logger=wandb_logger,
    )
