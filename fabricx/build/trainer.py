"""The Lightning Trainer: precision, strategy, callbacks, loggers, atomic checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from fabricx.build.callbacks import build_callbacks
from fabricx.build.checkpoint_io import AtomicCheckpointIO
from fabricx.build.hardware import check_hardware
from fabricx.build.loggers import build_loggers
from fabricx.config.schema import StrategyConfig, TrainConfig


def build_strategy(cfg: StrategyConfig) -> Any:
    if cfg.name == "auto":
        return "auto"
    from datetime import timedelta

    from lightning.pytorch.strategies import DDPStrategy

    return DDPStrategy(
        find_unused_parameters=cfg.find_unused_parameters,
        static_graph=cfg.static_graph,
        gradient_as_bucket_view=cfg.gradient_as_bucket_view,
        process_group_backend=cfg.process_group_backend,
        timeout=timedelta(seconds=cfg.timeout_s),
    )


def build_trainer(cfg: TrainConfig, run_dir: Path, group: str | None = None) -> pl.Trainer:
    check_hardware(cfg)
    torch.set_float32_matmul_precision(cfg.precision.matmul_precision)
    loggers = build_loggers(cfg, run_dir, group)
    t = cfg.trainer
    limits = {
        key: value
        for key, value in (
            ("limit_train_batches", t.limit_train_batches),
            ("limit_val_batches", t.limit_val_batches),
            ("limit_test_batches", t.limit_test_batches),
        )
        if value is not None
    }
    return pl.Trainer(
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=build_strategy(cfg.strategy),
        precision=cfg.precision.name,
        max_epochs=t.max_epochs,
        max_steps=t.max_steps,
        check_val_every_n_epoch=t.check_val_every_n_epoch,
        log_every_n_steps=t.log_every_n_steps,
        gradient_clip_val=t.gradient_clip_val,
        accumulate_grad_batches=t.accumulate_grad_batches,
        deterministic=t.deterministic,
        fast_dev_run=t.fast_dev_run or False,
        num_sanity_val_steps=t.num_sanity_val_steps,
        callbacks=build_callbacks(cfg.callbacks, run_dir, has_logger=bool(loggers)),
        logger=loggers or False,
        enable_checkpointing=cfg.callbacks.checkpoint.enabled,
        enable_progress_bar=cfg.callbacks.progress_bar != "none",
        enable_model_summary=False,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=str(run_dir),
        **limits,
    )
