"""Build the datamodule, the model and the task from their config groups."""

from __future__ import annotations

import dataclasses
from typing import Any

import lightning.pytorch as pl
from torch import nn

from fabricx.config.instantiate import safe_instantiate
from fabricx.config.schema import TrainConfig
from fabricx.config.typed import plain


def build_datamodule(cfg: TrainConfig, prefixes: list[str] | None = None) -> pl.LightningDataModule:
    return safe_instantiate(cfg.data, prefixes or cfg.target_prefixes, "data")


def build_model(cfg: TrainConfig, prefixes: list[str] | None = None) -> nn.Module:
    return safe_instantiate(cfg.model, prefixes or cfg.target_prefixes, "model")


def build_task(cfg: TrainConfig, model: nn.Module, prefixes: list[str] | None = None) -> Any:
    """The LightningModule around `model`; the optimizer is a partial the task calls later,
    since it needs the model's parameters."""
    prefixes = prefixes or cfg.target_prefixes
    optimizer = safe_instantiate(cfg.optim, prefixes, "optim")
    # monitor and mode choose the best checkpoint; the callbacks read them, not the task.
    task_fields = {
        k: v for k, v in dataclasses.asdict(cfg.task).items() if k not in ("monitor", "mode")
    }
    return safe_instantiate(
        task_fields,
        prefixes,
        "task",
        model=model,
        optimizer=optimizer,
        scheduler=dataclasses.asdict(cfg.scheduler),
        run_config=plain(cfg),
    )
