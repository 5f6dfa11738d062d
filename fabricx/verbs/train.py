"""`fabricx train`: check the config, record the start (or the resume), build, run the stages.

The work lives in fabricx.builders and fabricx.stages; this module only decides the order.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from fabricx import atomic
from fabricx.builders.compile import apply_speed_settings
from fabricx.builders.components import build_datamodule, build_model, build_task
from fabricx.builders.trainer import build_trainer
from fabricx.config.check import check_config, trusted_prefixes
from fabricx.config.schema import STAGES, TrainConfig
from fabricx.config.typed import plain
from fabricx.runs import directory, resume
from fabricx.runs.init_from import init_weights
from fabricx.runs.job import Job
from fabricx.runs.logs import route_lightning_logs
from fabricx.runs.signals import requeued
from fabricx.stages.context import RunContext
from fabricx.stages.sequence import raise_if_skipped, run_stages

log = logging.getLogger(__name__)


def run(cfg: DictConfig, job: Job) -> RunContext | None:
    """One train job in `job.run_dir`, whoever started it (the CLI through Hydra, fabricx.api).

    Returns:
        The run's context; None when it had finished before and there was nothing to do.
    """
    route_lightning_logs()
    prefixes = trusted_prefixes(cfg)
    typed = check_config(cfg, prefixes)
    _log_config_digest(typed)
    if rank_zero_only.rank == 0:  # what a killed writer left: no other rank writes files
        atomic.remove_stale_temporaries(job.run_dir)
    if _finished_before(typed, job):
        return None
    resume_from = resume.checkpoint_to_resume(typed, job.run_dir)  # None: a new run
    _record_start(typed, job, resume_from)
    return train(typed, job, prefixes, resume_from)


def train(
    cfg: TrainConfig, job: Job, prefixes: list[str], resume_from: Path | None = None
) -> RunContext:
    """Build the objects and run the stages `cfg.stages` names; always write metrics.json.

    Args:
        prefixes: the modules `_target_`s may name (fabricx.config.check.trusted_prefixes).
        resume_from: a checkpoint fit continues from, instead of from the start.
    """
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_datamodule(cfg, prefixes)
    # The task takes the model, and the optimizer and scheduler as partials it completes.
    task = build_task(cfg, build_model(cfg, prefixes), prefixes)
    initialised = init_weights(task, cfg, job.run_dir) if cfg.init_from else None
    apply_speed_settings(task, cfg)  # compile, channels_last: in place, same state_dict keys
    trainer = build_trainer(cfg, job.run_dir, prefixes, job, model=task)  # fsdp: task classes
    environment = getattr(trainer.strategy, "cluster_environment", None)
    if environment is not None:  # who starts the ranks: Lightning itself, SLURM, torchrun, ...
        log.info("ranks from %s", type(environment).__name__)
    ctx = RunContext(
        cfg, job.run_dir, job.run_dir, datamodule, task, trainer, resume_from=resume_from
    )
    if initialised:
        ctx.notes["init_from"] = initialised
    run_stages(ctx, plan(cfg))
    raise_if_skipped(ctx)
    return ctx


def plan(cfg: TrainConfig) -> list[str]:
    """The stages to run, in flow order; export and verify drop out with export=none.

    summary and report always run last: they report whatever ran, also for
    `stages=[fit,test]`.
    """
    chosen = [s for s in STAGES if s in cfg.stages and s != "summary"]
    if not cfg.export.targets:
        chosen = [s for s in chosen if s not in ("export", "verify")]
    return [*chosen, "summary", "report"]


def _log_config_digest(typed: TrainConfig) -> None:
    """Each rank logs the digest of the config it runs: equal digests in the job's rank logs
    (train.log, train_ddp_process_N.log) show that every rank of a job ran the same one."""
    digest = hashlib.sha256(json.dumps(plain(typed), sort_keys=True).encode()).hexdigest()
    log.info("rank %d runs config sha256 %s", rank_zero_only.rank, digest[:16])


def _finished_before(typed: TrainConfig, job: Job) -> bool:
    """A resumed run that finished already, and that this command does not train longer."""
    continuing = typed.resume is not None or requeued()
    if not (continuing and resume.finished(job.run_dir)):
        return False
    if not resume.trains_longer(job.run_dir, plain(typed)):
        log.info("resume=%s: %s already finished; nothing to do.", typed.resume, job.run_dir)
        return True
    log.info("resume=%s: %s finished; training it for longer.", typed.resume, job.run_dir)
    return False


def _record_start(typed: TrainConfig, job: Job, resume_from: Path | None) -> None:
    """config.yaml, overrides, command and provenance for a new run; resumes.json for a
    resumed one, after refusing (exit 2) a changed model or data. Rank 0 writes alone."""
    if resume_from is not None:
        saved = resume.saved_config(job.run_dir)
        changed = resume.check_compatible(saved, plain(typed), job.run_dir)
        if rank_zero_only.rank == 0:
            resume.record_resume(job.run_dir, resume_from, job.command, changed, typed.seed)
    elif rank_zero_only.rank == 0:  # DDP child ranks share rank 0's run directory
        directory.record_start(
            job.run_dir,
            plain(typed),
            job.overrides,
            command=job.command,
            seed=typed.seed,
            launched_by=job.launched_by,
        )
    if rank_zero_only.rank == 0:  # `fabricx runs` tells a running run by its process
        directory.record_process(job.run_dir)
