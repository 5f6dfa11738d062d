"""`fabricx sweep`: write the plan, open (or resume) the study, run the workers, report.

Hydra runs this as the sweep verb's job, with the sweep directory as its run directory, so
`--cfg job`, `--info` and the job log (sweep.log) work as for every verb.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

from omegaconf import DictConfig

from fabricx.build.loggers import wandb_logger_name
from fabricx.config.check import check_config, trusted_prefixes
from fabricx.config.schema import SweepRunConfig
from fabricx.errors import FabricxError
from fabricx.sweep import launch, report
from fabricx.sweep import study as studies
from fabricx.sweep.plan import SweepPlan, trial_base_args

log = logging.getLogger(__name__)


def sweep_job(cfg: DictConfig) -> None:
    """Hydra's task function for `fabricx sweep`."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.hydra_config import HydraConfig

    prefixes = trusted_prefixes(cfg)
    typed: SweepRunConfig = check_config(cfg, prefixes)
    hydra_cfg = HydraConfig.get()
    sweep_dir = Path(hydra_cfg.runtime.output_dir).resolve()
    config_dir = get_args_parser().parse_args(sys.argv[1:]).config_dir
    flags = ["--config-dir", str(Path(config_dir).resolve())] if config_dir else []
    train_args = [*flags, *trial_base_args(list(hydra_cfg.overrides.task), typed.stages)]
    plan = make_plan(typed, sweep_dir, train_args, wandb_logger_name(typed, prefixes))
    study = studies.load(plan)
    studies.check_resumable(study, plan)  # exit 2 when this command changes the study
    plan.write()
    for values in plan.enqueue:  # once: a resume finds them in the study already
        study.enqueue_trial(values, skip_if_exists=True)
    done = report.counts(study.get_trials(deepcopy=False))
    if any(done.values()):
        log.info("study %s resumes: %s", plan.study_name, report.counts_line(done))
    problems: list[str] = []
    sweep = typed.sweep
    if not sweep.report_only:
        log.info(
            "study %s: %d trials, %d %s workers, storage %s",
            plan.study_name, plan.n_trials, sweep.workers, sweep.launcher, plan.storage,
        )  # fmt: skip
        if sweep.launcher == "local":
            problems = launch.run_local(plan, sweep.workers)
        else:
            slurm = dataclasses.asdict(sweep.slurm)
            problems = launch.run_slurm(plan, sweep.workers, slurm, sweep.wait)
            if not sweep.wait:
                print(f"fabricx sweep: the report comes with: {' '.join(plan.command)} "
                      "sweep.report_only=true")  # fmt: skip
                return
    summary = report.write_report(studies.load(plan), plan)
    resume = f"Rerun `{' '.join(plan.command)}` to resume the study."
    if problems:
        raise FabricxError(f"{'; '.join(problems)}. {resume}")
    if summary.get("best") is None and not summary.get("pareto_front"):
        raise FabricxError(
            f"no trial of study {plan.study_name} completed; trials.csv in {plan.dir} has "
            "each trial's error."
        )


def make_plan(
    typed: SweepRunConfig, sweep_dir: Path, train_args: list[str], wandb_logger: str | None
) -> SweepPlan:
    sweep = typed.sweep
    return SweepPlan(
        study_name=sweep.study_name,
        sweep_dir=str(sweep_dir),
        storage=studies.storage_spec(sweep.storage, sweep_dir),
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
        command=["fabricx", "sweep", *sys.argv[1:]],
        wandb_logger=wandb_logger,
    )
