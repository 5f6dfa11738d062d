"""`fabricx eval run=<dir>`: re-score a finished run with its own saved config and checkpoint.

Nothing is recomposed from conf/ (which may have changed since the run); the run directory's
config.yaml is the source. Results go to <run>/eval/<timestamp>/ and never touch the run's
own files. The allowed `_target_` modules are fabricx's defaults plus what this command
allows: a config file inside a run directory cannot widen them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig

from fabricx.build.components import build_datamodule, build_model, build_task
from fabricx.build.trainer import build_trainer
from fabricx.config.saved import load_saved_config
from fabricx.config.schema import DEFAULT_TARGET_PREFIXES, EvalConfig, StrategyConfig, TrainConfig
from fabricx.config.typed import to_typed
from fabricx.logs import route_lightning_logs
from fabricx.runner import run_stages
from fabricx.stages.context import RunContext


def eval_job(cfg: DictConfig) -> None:
    """Hydra's task function for `fabricx eval`; the CLI has checked the run already."""
    from hydra.core.hydra_config import HydraConfig

    route_lightning_logs()
    eval_cfg: EvalConfig = to_typed(cfg)
    run_dir = Path(eval_cfg.run).resolve()
    saved = load_saved_config(run_dir)
    prefixes = [*DEFAULT_TARGET_PREFIXES, *eval_cfg.extra_target_prefixes]
    pl.seed_everything(saved.seed, workers=True, verbose=False)
    datamodule = build_datamodule(saved, prefixes)
    task = build_task(saved, build_model(saved, prefixes), prefixes)
    out_dir = Path(HydraConfig.get().runtime.output_dir).resolve()
    trainer = build_trainer(scoring_config(saved, eval_cfg.accelerator), out_dir)
    ctx = RunContext(
        saved, run_dir, out_dir, datamodule, task, trainer, checkpoint=eval_cfg.checkpoint
    )
    has_onnx = (run_dir / "export" / "model.onnx").is_file()
    run_stages(ctx, ["test", *(["verify"] if eval_cfg.verify_onnx and has_onnx else []), "summary"])


def scoring_config(saved: TrainConfig, accelerator: str) -> TrainConfig:
    """The run's config, changed to score it once: one device, the whole test split, no
    logger, no checkpointing, and fp32 where the run used fp16 autocast on a GPU now absent."""
    precision = saved.precision
    if precision.name == "16-mixed" and not torch.cuda.is_available():
        precision = replace(precision, name="32-true")  # same weights, scored in fp32
    callbacks = saved.callbacks
    return replace(
        saved,
        trainer=replace(
            saved.trainer, accelerator=accelerator, devices=1, num_nodes=1, fast_dev_run=0,
            limit_test_batches=None,
        ),
        strategy=StrategyConfig(),
        precision=precision,
        logger=replace(saved.logger, backend="none"),
        callbacks=replace(
            callbacks,
            checkpoint=replace(callbacks.checkpoint, enabled=False),
            early_stopping=replace(callbacks.early_stopping, enabled=False),
            lr_monitor=False,
        ),
    )  # fmt: skip
