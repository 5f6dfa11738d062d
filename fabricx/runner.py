"""Sequence one run: build the objects, run the chosen stages, close the records.

The work lives in fabricx.build and fabricx.stages; this module only decides the order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from fabricx import atomic, resume, runs, tracking
from fabricx.build.components import build_datamodule, build_model, build_task
from fabricx.build.trainer import build_trainer
from fabricx.config.check import check_config, trusted_prefixes
from fabricx.config.schema import STAGES, TrainConfig
from fabricx.config.typed import plain
from fabricx.errors import TargetsSkipped, TrialPruned
from fabricx.hydra_main import job_arguments
from fabricx.logs import route_lightning_logs
from fabricx.preemption import Preempted, as_interrupted, requeued
from fabricx.stages import bench, export, fit, summary, test, verify
from fabricx.stages.context import RunContext
from fabricx.weights import init_weights

log = logging.getLogger(__name__)

STAGE_RUNNERS = {
    "fit": fit.run,
    "test": test.run,
    "export": export.run,
    "verify": verify.run,
    "bench": bench.run,
}
# Stages that write files and need no collective: under DDP, rank 0 runs them alone.
RANK_ZERO_STAGES = ("export", "verify", "bench")


def plan(cfg: TrainConfig) -> list[str]:
    """The stages to run, in flow order; export and verify drop out with export=none.

    summary always runs last: it reports whatever ran, also for `stages=[fit,test]`.
    """
    chosen = [s for s in STAGES if s in cfg.stages and s != "summary"]
    if not cfg.export.targets:
        chosen = [s for s in chosen if s not in ("export", "verify")]
    return [*chosen, "summary"]


def run(
    cfg: TrainConfig,
    run_dir: Path,
    prefixes: list[str],
    group: str | None = None,
    resume_from: Path | None = None,
) -> RunContext:
    """Train, test, export and verify as `cfg.stages` says; always write metrics.json.

    Args:
        prefixes: the modules `_target_`s may name (fabricx.config.check.trusted_prefixes).
        group: the multirun this job belongs to.
        resume_from: a checkpoint fit continues from, instead of from the start.
    """
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_datamodule(cfg, prefixes)
    # The task takes the model, and the optimizer and scheduler as partials it completes.
    task = build_task(cfg, build_model(cfg, prefixes), prefixes)
    initialised = init_weights(task, cfg, run_dir) if cfg.init_from else None
    trainer = build_trainer(cfg, run_dir, prefixes, group, model=task)  # fsdp: task classes
    environment = getattr(trainer.strategy, "cluster_environment", None)
    if environment is not None:  # who starts the ranks: Lightning itself, SLURM, torchrun, ...
        log.info("ranks from %s", type(environment).__name__)
    ctx = RunContext(cfg, run_dir, run_dir, datamodule, task, trainer, resume_from=resume_from)
    if initialised:
        ctx.notes["init_from"] = initialised
    run_stages(ctx, plan(cfg))
    raise_if_skipped(ctx)
    return ctx


def raise_if_skipped(ctx: RunContext) -> None:
    """Exit status 3 when a requested target was skipped (the reasons were already shown)."""
    if ctx.skipped:
        raise TargetsSkipped(f"{', '.join(ctx.skipped)} (see above); every other stage passed.")


def run_stages(ctx: RunContext, stages: list[str]) -> None:
    """Run `stages` in order; whatever happens, write the record and close W&B."""
    status = "failed"
    rank_zero = ctx.trainer is None or ctx.trainer.is_global_zero
    current = None
    try:
        for name in stages:
            if name in RANK_ZERO_STAGES and not rank_zero:
                continue
            if name in STAGE_RUNNERS:
                current = name
                ctx.stages[name] = "failed"  # until it returns
                STAGE_RUNNERS[name](ctx)
                ctx.stages[name] = "ok"
        status = "ok"
    except Preempted:
        status = "preempted"  # the checkpoint is saved; the job is requeued and resumes
        raise
    except TrialPruned:
        status = "pruned"  # a sweep's pruner stopped it: the study records it as pruned
        raise
    except BaseException as err:
        stop = as_interrupted(err)
        if stop is None:
            ctx.error = f"{type(err).__name__}: {err}"  # metrics.json says why, not only where
            raise
        # SIGTERM or SIGINT: "terminated" or "interrupted", where, and the checkpoint saved.
        status = stop.status
        ctx.interrupted = stop.record(current)
        if current is not None:
            ctx.stages[current] = "interrupted"
        if stop is err:
            raise
        raise stop from err  # the signal's exception, turned into another on its way
    finally:
        if rank_zero:
            _write_record(ctx, status)
            if "summary" in stages:
                summary.run(ctx)
        tracking.close_tracker(ctx, status)


def _write_record(ctx: RunContext, status: str) -> None:
    if (ctx.out_dir / "metrics.csv").is_file():
        ctx.artifacts["metrics_csv"] = ctx.out_dir / "metrics.csv"
    ctx.artifacts["metrics_json"] = runs.write_json(
        ctx.out_dir / "metrics.json", ctx.record(status)
    )


def train_job(cfg: DictConfig) -> None:
    """Hydra's task function for `fabricx train`: one job, one run directory."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    job_overrides = list(hydra_cfg.overrides.task)
    start(
        cfg,
        Path(hydra_cfg.runtime.output_dir),
        job_overrides,
        command=["fabricx", "train", *job_arguments(job_overrides, multirun)],
        group=Path(hydra_cfg.sweep.dir).name if multirun else None,
        launched_by=["fabricx", "train", *sys.argv[1:]] if multirun else None,
    )


def start(
    cfg: DictConfig,
    run_dir: Path,
    overrides: list[str],
    command: list[str],
    group: str | None = None,
    launched_by: list[str] | None = None,
) -> RunContext | None:
    """One train job in `run_dir`, whoever started it (the CLI through Hydra, fabricx.api):
    check the config, record the start (or the resume), run the stages.

    Returns:
        The run's context; None when it had finished before and there was nothing to do.
    """
    route_lightning_logs()
    prefixes = trusted_prefixes(cfg)
    typed = check_config(cfg, prefixes)
    # Each rank logs the digest of the config it runs: equal digests in the job's rank logs
    # (train.log, train_ddp_process_N.log) show that every rank of a job ran the same one.
    digest = hashlib.sha256(json.dumps(plain(typed), sort_keys=True).encode()).hexdigest()
    log.info("rank %d runs config sha256 %s", rank_zero_only.rank, digest[:16])
    continuing = typed.resume is not None or requeued()
    if rank_zero_only.rank == 0:  # what a killed writer left: no other rank writes files
        atomic.remove_stale_temporaries(run_dir)
    if continuing and resume.finished(run_dir):
        if not resume.trains_longer(run_dir, plain(typed)):
            log.info("resume=%s: %s already finished; nothing to do.", typed.resume, run_dir)
            return None
        log.info("resume=%s: %s finished; training it for longer.", typed.resume, run_dir)
    resume_from = resume.checkpoint_to_resume(typed, run_dir)  # None: a new run
    if resume_from is not None:
        # The run keeps its first config.yaml; refuse (exit 2) a changed model or data.
        changed = resume.check_compatible(resume.saved_config(run_dir), plain(typed), run_dir)
        if rank_zero_only.rank == 0:
            resume.record_resume(run_dir, resume_from, command, changed, typed.seed)
    elif rank_zero_only.rank == 0:  # DDP child ranks share rank 0's run directory
        runs.record_start(
            run_dir,
            plain(typed),
            overrides,
            command=command,
            seed=typed.seed,
            launched_by=launched_by,
        )
    return run(typed, run_dir, prefixes, group=group, resume_from=resume_from)
