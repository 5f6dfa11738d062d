"""Each split's metric and loss, updated per step and logged once per epoch; the training
loss also per step, on the steps Lightning writes to the loggers.

Steps only `update()` torchmetrics objects; nothing goes through `self.log` per step except
on logging steps. `self.log` costs about 0.25 ms a call on 2 CPU cores (it moves its stored
value to the batch's device, checks the hook's signature and deep-copies state, every call):
on a tiny model more than the forward, backward and optimizer step together, and Lightning
only writes a step value every `trainer.log_every_n_steps`. Logging a Metric object from
every step, as Lightning also allows, costs the same and computes a batch value no one reads.

No host syncs per step either: no all-reduce of the step loss (Lightning's `sync_dist=True`
on a step value is one per step, for a display), no input validation in the metrics' update
(it reads values back from the device). The epoch means are averaged over the ranks once, at
the epoch's end. On a GPU every sync stalls the step until the device catches up.
"""

from __future__ import annotations

from collections.abc import Callable

import lightning.pytorch as pl
import torch
from torch import nn
from torchmetrics import MeanMetric, Metric

from fabricx import internals

SPLITS = ("train", "val", "test")


def writes_step_values(trainer: pl.Trainer) -> bool:
    """True during a training step whose logged values Lightning writes to the loggers: every
    `log_every_n_steps` optimizer steps, every step under fast_dev_run, and the step at which
    the fit stops. Lightning's own test (fabricx.internals); where a release lacks it, every
    step logs, which is correct, only slower."""
    return bool(trainer.fast_dev_run) or internals.writes_logs_this_step(trainer)


class BatchMean(MeanMetric):
    """The mean of per-batch values weighted by batch size, updated without a host sync.

    MeanMetric's NaN check reads a value back from the device (a sync per step on a GPU), and
    its `nan_strategy="disable"` also replaces the weights by ones (torchmetrics 1.9, issue
    #3434), which would make a short last batch count as much as a full one. This update
    only adds on the device; a NaN loss shows as a NaN epoch mean, as Lightning's own
    averaging would show it. Syncing over ranks and `compute` are MeanMetric's.
    """

    def update(self, value: torch.Tensor, weight: int | float = 1) -> None:  # type: ignore[override]
        self.mean_value += value.detach().to(self.dtype).sum() * weight
        self.weight += weight * value.numel()


class EpochMetrics:
    """Mixin for a LightningModule with a `metric` name; `self.metrics` comes from
    `epoch_metric_modules` and each step calls `log_loss`.

    `latest_train_loss` is the last training batch's loss, detached: progress bars read it
    when they redraw (fabricx.extensions.progress), a few times a second.
    """

    latest_train_loss: torch.Tensor | None = None

    @staticmethod
    def epoch_metric_modules(build_metric: Callable[[], Metric]) -> nn.ModuleDict:
        """One metric and one loss mean per split, so epoch averages never mix ("train" itself
        is taken by nn.Module.train, hence the suffixes)."""
        metrics = {f"{split}_metric": build_metric() for split in SPLITS}
        losses = {f"{split}_loss": BatchMean() for split in SPLITS}
        return nn.ModuleDict({**metrics, **losses})

    def log_loss(self, split: str, loss: torch.Tensor, batch_size: int) -> None:
        """Add one batch's loss to its split's epoch mean; a training loss is also logged as
        `train/loss_step` on the steps whose values Lightning writes."""
        detached = loss.detach()
        self.metrics[f"{split}_loss"].update(detached, batch_size)  # type: ignore[attr-defined]
        if split == "train":
            self.latest_train_loss = detached
            if writes_step_values(self.trainer):  # type: ignore[attr-defined]
                self.log("train/loss_step", loss)  # type: ignore[attr-defined]

    def _log_epoch(self, split: str) -> None:
        metric = self.metrics[f"{split}_metric"]  # type: ignore[attr-defined]
        self.log(f"{split}/{self.metric}", metric, prog_bar=True)  # type: ignore[attr-defined]
        loss = self.metrics[f"{split}_loss"]  # type: ignore[attr-defined]
        self.log(f"{split}/loss", loss, prog_bar=split == "val")  # type: ignore[attr-defined]

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")
