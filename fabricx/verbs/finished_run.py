"""Rebuild a finished run's objects from its own saved config, for verbs that work on it.

`fabricx eval` and `fabricx export` never recompose from conf/ (which may have changed since
the run); the run directory's config.yaml is the source. The allowed `_target_` modules are
fabricx's defaults plus what the command allows: a config file inside a run directory cannot
widen them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from fabricx.atomic import remove_stale_temporaries
from fabricx.builders.components import build_datamodule, build_model, build_task
from fabricx.builders.loggers import build_wandb_logger
from fabricx.builders.trainer import build_trainer
from fabricx.config.schema import (
    DEFAULT_TARGET_PREFIXES,
    BenchRunConfig,
    ExportRunConfig,
    StrategyConfig,
    TrainConfig,
)
from fabricx.runs.directory import read_json_object
from fabricx.runs.saved_config import load_saved_config
from fabricx.stages.context import RunContext


def finished_run_prefixes(
    extra_target_prefixes: list[str] | None = None, allow_unsafe_targets: list[str] | None = None
) -> list[str]:
    """What a verb on a finished run trusts: fabricx's defaults, the command's
    `extra_target_prefixes` and `allow_unsafe_targets`, and the working directory's project;
    never the run's own lists."""
    from fabricx.config.project import active_project
    from fabricx.config.trust import TrustedModules

    project = active_project()
    own = list(project.target_prefixes) if project is not None else []
    modules = [*DEFAULT_TARGET_PREFIXES, *(extra_target_prefixes or []), *own]
    return TrustedModules(modules, allow_unsafe_targets or ())


def open_run(
    run_dir: Path,
    out_dir: Path,
    *,
    checkpoint: str = "best",
    extra_target_prefixes: list[str] | None = None,
    allow_unsafe_targets: list[str] | None = None,
    accelerator: str = "auto",
    saved: TrainConfig | None = None,
) -> RunContext:
    """A RunContext over the finished run in `run_dir`, writing results to `out_dir`.

    Args:
        checkpoint: best, last or a path; the stages load it.
        extra_target_prefixes: modules this command allows beyond fabricx's defaults.
        allow_unsafe_targets: this command's opt-ins to unsafe callables.
        accelerator: where to score (the run's own trainer settings are not reused).
        saved: the run's config, when the caller has already loaded or changed it.
    """
    prefixes = finished_run_prefixes(extra_target_prefixes, allow_unsafe_targets)
    saved = saved or load_saved_config(run_dir, prefixes)
    pl.seed_everything(saved.seed, workers=True, verbose=False)
    datamodule = build_datamodule(saved, prefixes)
    task = build_task(saved, build_model(saved, prefixes), prefixes)
    trainer = build_trainer(scoring_config(saved, accelerator), out_dir, prefixes)
    return RunContext(saved, run_dir, out_dir, datamodule, task, trainer, checkpoint=checkpoint)


def merge_previous_record(ctx: RunContext, replaces: tuple[str, ...] = ()) -> None:
    """Start from the run's metrics.json, so a verb that adds results (export, bench) keeps
    the training run's metrics, stages and files in the record it rewrites.

    Args:
        replaces: metric-name prefixes this verb produces anew; earlier values are dropped,
            so a bench at other batch sizes leaves no stale numbers behind.
    """
    previous = ctx.run_dir / "metrics.json"
    if previous.is_file():
        record = json.loads(previous.read_text())
        metrics = record.get("metrics", {})
        ctx.metrics.update({k: v for k, v in metrics.items() if not k.startswith(replaces)})
        ctx.stages.update(record.get("stages", {}))
        ctx.skipped.update(record.get("skipped", {}))
        ctx.artifacts.update({k: Path(v) for k, v in record.get("artifacts", {}).items()})


def scoring_config(saved: TrainConfig, accelerator: str) -> TrainConfig:
    """The run's config, changed to score it once: one device, the whole test split, no
    logger, no checkpointing, and fp32 where the run used fp16 autocast on a GPU now absent."""
    precision = saved.precision
    if precision.name == "16-mixed" and not torch.cuda.is_available():
        precision = replace(precision, name="32-true")  # same weights, scored in fp32
    callbacks = saved.callbacks
    return replace(
        saved,
        trainer={
            **saved.trainer, "accelerator": accelerator, "devices": 1, "num_nodes": 1,
            "fast_dev_run": False, "limit_test_batches": None,
        },
        strategy=StrategyConfig(),
        precision=precision,
        logger={},
        callbacks=replace(
            callbacks,
            checkpoint=replace(callbacks.checkpoint, enabled=False),
            early_stopping=replace(callbacks.early_stopping, enabled=False),
            lr_monitor=False,
            extra={},  # the run's own callbacks were for training
        ),
    )  # fmt: skip


def saved_for_verb(
    cfg: ExportRunConfig | BenchRunConfig, **groups: Any
) -> tuple[Path, list[str], TrainConfig]:
    """The run `cfg.run` names, the modules this command trusts, and the run's saved config
    with `groups` (export=..., bench=...) replaced by the command's own."""
    run_dir = Path(cfg.run).resolve()
    prefixes = finished_run_prefixes(cfg.extra_target_prefixes, cfg.allow_unsafe_targets)
    return run_dir, prefixes, replace(load_saved_config(run_dir, prefixes), **groups)


def open_for_verb(
    cfg: ExportRunConfig | BenchRunConfig,
    run_dir: Path,
    saved: TrainConfig,
    job: str,
    replaces: tuple[str, ...],
) -> RunContext:
    """The finished run, opened for `fabricx export` or `fabricx bench`: its record merged
    (their own earlier results replaced), and a W&B run of their own where it logged to W&B."""
    remove_stale_temporaries(run_dir)  # left by a writer killed mid-write
    ctx = open_run(
        run_dir,
        run_dir,
        checkpoint=cfg.checkpoint,
        extra_target_prefixes=cfg.extra_target_prefixes,
        allow_unsafe_targets=cfg.allow_unsafe_targets,
        accelerator="cpu" if job == "export" else "auto",  # export and ORT verify: CPU
        saved=saved,
    )
    merge_previous_record(ctx, replaces=replaces)
    ctx.verb, ctx.run_record = job, read_record(run_dir / "metrics.json")
    prefixes = finished_run_prefixes(cfg.extra_target_prefixes, cfg.allow_unsafe_targets)
    logger = build_wandb_logger(saved, run_dir, prefixes, job_type=job)
    if logger is not None:  # the run logged to W&B: this command gets a W&B run of its own
        ctx.trainer.loggers = [logger]
    return ctx


def read_record(path: Path) -> dict[str, Any]:
    """The run's metrics.json; {} when it has none (killed) or it cannot be read."""
    return read_json_object(path)
