"""Token classification (NER): cross-entropy per scored token, entity F1 through seqeval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric

from fabricx.config.constraints import PositiveInt
from fabricx.data.labels import IGNORE
from fabricx.tasks.entity_f1 import EntityF1
from fabricx.tasks.epoch_metrics import EpochMetrics
from fabricx.tasks.schedules import configure


class TokenClassificationTask(EpochMetrics, pl.LightningModule):
    """Trains `model` to tag every word; logs `{split}/loss` and `{split}/f1` (entity F1).

    Args:
        model: forward(**inputs) -> logits (B, T, num_classes); the inputs are the batch's
            tensors but `labels` (input_ids and attention_mask for a Hugging Face model).
        optimizer: a partial optimizer that takes the parameters (the optim group).
        labels: the tag of each class id, in the datamodule's order.
        scheduler: a partial learning-rate scheduler that takes the optimizer, or None.
        num_classes: number of tags.
    """

    # The task contract (docs/user-code.md): "the metric" and the keys logged every epoch.
    metric = "f1"
    metric_mode = "max"
    export_output_names = ("logits",)
    logged_metrics = ("loss", "f1")

    # Exported graphs keep both the batch and the sequence axis dynamic.
    export_dynamic_axes = {0: "batch", 1: "sequence"}

    def __init__(
        self,
        model: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        labels: list[str],
        scheduler: Callable[..., Any] | None = None,
        num_classes: PositiveInt = 9,
    ) -> None:
        super().__init__()
        self.model = model
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.labels = list(labels)
        self.num_classes = num_classes
        self.metrics = self.epoch_metric_modules(self.build_metric)

    def build_metric(self, sync_on_compute: bool = True) -> Metric:
        return EntityF1(self.labels, ignore_index=IGNORE, sync_on_compute=sync_on_compute)

    @staticmethod
    def split_batch(batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Model inputs by name (every key but `labels`: the exported graph's input names,
        e.g. input_ids and attention_mask, or word_ids, char_ids and attention_mask) and the
        per-token targets."""
        return {k: v for k, v in batch.items() if k != "labels"}, batch["labels"]

    def forward(self, **inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**inputs)

    def _step(self, batch: dict[str, torch.Tensor], split: str) -> torch.Tensor:
        inputs, target = self.split_batch(batch)
        logits = self.model(**inputs)  # (B, T, C)
        loss = F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=IGNORE)
        self.metrics[f"{split}_metric"].update(logits.detach(), target)  # logged at epoch end
        self.log_loss(split, loss, batch_size=target.shape[0])  # a dict batch has no single size
        return loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def configure_optimizers(self) -> Any:
        return configure(self, self.optimizer_factory, self.scheduler_factory)
