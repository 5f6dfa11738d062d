"""Each split's metrics, updated per step and logged once per epoch; the training loss per step.

Steps only `update()` the torchmetrics objects. Logging a Metric object from every step, as
Lightning also allows, makes Lightning move it to the batch's device on each call, and
`metric(...)` computes a batch value no one reads: together about a third of a tiny model's
step time (benchmarks/). The epoch's value is the same either way.

The batch loss is logged per step on each rank as it is (`train/loss_step`, for the bar and
the step history). Lightning's `sync_dist=True` on a step value is an all-reduce per step,
a host sync that only the display would use; the epoch mean (`train/loss`) is a MeanMetric,
averaged over the ranks once, at the epoch's end. The metrics' update() must not sync either
(no input validation, no data-dependent shapes): on an H200 such syncs made a LeNet-5 step
1.5x a bare Trainer's (benchmarks/results/).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchmetrics import MeanMetric, Metric


class EpochMetrics:
    """Mixin for a LightningModule with `metric_name`; `self.metrics` comes from
    `epoch_metric_modules` and each step calls `log_loss`."""

    @staticmethod
    def epoch_metric_modules(build_metric: Callable[[], Metric]) -> nn.ModuleDict:
        """One metric per split, so epoch averages never mix ("train" itself is taken by
        nn.Module.train, hence the suffix), and the training loss's epoch mean."""
        metrics = {f"{split}_metric": build_metric() for split in ("train", "val", "test")}
        # nan_strategy="disable": the NaN check is a host-device sync per step on a GPU; a NaN
        # loss shows as a NaN epoch mean, as Lightning's own averaging would show it.
        return nn.ModuleDict({**metrics, "train_loss": MeanMetric(nan_strategy="disable")})

    def log_loss(self, split: str, loss: torch.Tensor, batch_size: int) -> None:
        """Log one batch's loss: per step for training, as an epoch mean for val and test."""
        if split == "train":
            self.log("train/loss_step", loss, prog_bar=True)  # type: ignore[attr-defined]
            self.metrics["train_loss"].update(loss.detach(), batch_size)  # type: ignore[attr-defined]
        else:  # Lightning accumulates on_epoch values and syncs them once, at the epoch end
            self.log(  # type: ignore[attr-defined]
                f"{split}/loss", loss, on_step=False, on_epoch=True, prog_bar=split == "val",
                sync_dist=True, batch_size=batch_size,
            )  # fmt: skip

    def _log_epoch_metric(self, split: str) -> None:
        metric = self.metrics[f"{split}_metric"]  # type: ignore[attr-defined]
        self.log(f"{split}/{self.metric_name}", metric, prog_bar=True)  # type: ignore[attr-defined]

    def on_train_epoch_end(self) -> None:
        self._log_epoch_metric("train")
        self.log("train/loss", self.metrics["train_loss"])  # type: ignore[attr-defined]

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metric("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metric("test")
