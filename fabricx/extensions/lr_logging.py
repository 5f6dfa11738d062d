"""The learning rate in the step's own log call, not in one of its own."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import LearningRateMonitor

from fabricx import internals
from fabricx.tasks.epoch_metrics import writes_step_values


class StepLearningRateMonitor(LearningRateMonitor):
    """LearningRateMonitor (same names: `lr-AdamW`, `lr-AdamW/pg2`, ...) whose values are
    logged through the module, so they reach the loggers with the step's other values.

    Lightning's writes them with a logger call of its own on every logging step: with W&B a
    second `wandb.log` of about 2 ms per logging step (benchmarks/), a fifth of a tiny
    model's average step at `log_every_n_steps=10`.
    """

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any, **kwargs: Any
    ) -> None:
        if self.logging_interval == "epoch" or not writes_step_values(trainer):
            return
        interval = "step" if self.logging_interval is None else "any"
        for name, value in internals.learning_rate_stats(self, trainer, interval).items():
            pl_module.log(name, value, on_step=True, on_epoch=False)
