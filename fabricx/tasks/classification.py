"""Classification: cross-entropy loss and torchmetrics accuracy around any logits model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from annotated_types import Interval
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy

from fabricx.config.constraints import PositiveInt
from fabricx.tasks.epoch_metrics import EpochMetrics
from fabricx.tasks.schedules import configure


def reads_a_shard(loader: Any) -> bool | None:
    """Whether each DDP rank reads its own part of `loader`'s split (True), all of it (False),
    or that cannot be told from the loader (None).

    Lightning gives a DataLoader a DistributedSampler under DDP: a shard. fabricx's tensor
    batches (fabricx.data.tensor_loader.TensorBatches) say their `world_size`; evaluation
    ones read the whole split on every rank. A map-style DataLoader without a distributed
    sampler reads it all too. An iterable dataset may shard itself: None.
    """
    batch_sampler = getattr(loader, "batch_sampler", None)
    for sampler in (getattr(loader, "sampler", None), getattr(batch_sampler, "sampler", None)):
        if isinstance(sampler, DistributedSampler):
            return True
    world_size = getattr(loader, "world_size", None)
    if isinstance(world_size, int):
        return world_size > 1
    if isinstance(loader, DataLoader) and not isinstance(loader.dataset, IterableDataset):
        return False
    return None


class ClassificationTask(EpochMetrics, pl.LightningModule):
    """Trains `model` to map inputs to class logits; logs `{split}/loss` and `{split}/acc`.

    Batches are `(x, y)` tuples (images, features) or dicts of named tensors with the
    targets under "labels" (text: input_ids, attention_mask, labels).

    Args:
        model: an nn.Module whose forward returns logits of shape (B, num_classes), called
            with `x` or with the batch's named tensors (the model group).
        optimizer: a partial optimizer that takes the parameters (the optim group).
        scheduler: a partial learning-rate scheduler that takes the optimizer, or None (the
            scheduler group).
        num_classes: number of classes.
        label_smoothing: cross-entropy label smoothing.
    """

    # The task contract (docs/user-code.md): "the metric" and the keys logged every epoch.
    metric = "acc"
    metric_mode = "max"
    export_output_names = ("logits",)
    logged_metrics = ("loss", "acc")

    def __init__(
        self,
        model: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        num_classes: PositiveInt = 10,
        label_smoothing: Annotated[float, Interval(ge=0.0, lt=1.0)] = 0.0,
    ) -> None:
        super().__init__()
        self.model = model
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.metrics = self.epoch_metric_modules(self.build_metric)

    def build_metric(self, sync_on_compute: bool = True) -> Metric:
        """A fresh metric object for "the metric"; verify recomputes it through ONNX Runtime.

        Args:
            sync_on_compute: gather over DDP ranks on compute; False for one-process scoring.
        """
        # validate_args=False: the checks (label range, shapes) read values back from the
        # device, a sync per step on a GPU; cross-entropy has already refused bad labels.
        return MulticlassAccuracy(
            num_classes=self.num_classes, average="micro", sync_on_compute=sync_on_compute,
            validate_args=False,
        )  # fmt: skip

    @property
    def export_dynamic_axes(self) -> dict[int, str] | None:
        """The model's dynamic axes for export (text: batch and sequence); None: batch only."""
        return getattr(self.model, "export_dynamic_axes", None)

    @staticmethod
    def split_batch(batch: Any) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Model inputs by name (the exported graph's input names) and the targets."""
        if isinstance(batch, dict):
            return {k: v for k, v in batch.items() if k != "labels"}, batch["labels"]
        x, y = batch
        return {"x": x}, y

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.model(*args, **kwargs)

    def _step(self, batch: Any, split: str) -> torch.Tensor:
        inputs, target = self.split_batch(batch)
        logits = self.model(**inputs)  # (B, num_classes)
        loss = F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)
        self.metrics[f"{split}_metric"].update(logits.detach(), target)  # logged at epoch end
        if split == "test":
            self._count_confusion(logits.detach(), target)
        self.log_loss(split, loss, batch_size=target.shape[0])  # a dict batch has no single size
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_test_epoch_start(self) -> None:
        self.test_confusion: list[list[int]] | None = None
        self._confusion = torch.zeros(
            self.num_classes, self.num_classes, dtype=torch.long, device=self.device
        )  # (true, predicted)

    def _count_confusion(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        # On the device, no read back: a step of bincount, not a host-device sync per batch.
        pred = logits.argmax(-1)  # (B,)
        cells = target.flatten() * self.num_classes + pred.flatten()
        counts = torch.bincount(cells, minlength=self.num_classes**2)  # (C*C,)
        self._confusion += counts[: self.num_classes**2].view(self.num_classes, -1)

    def on_test_epoch_end(self) -> None:
        """Log the test metrics, and keep the test split's confusion matrix (over every
        rank) as `test_confusion`: report.html shows it (fabricx.stages.report)."""
        super().on_test_epoch_end()
        confusion = self._confusion
        if self.trainer.world_size > 1:
            ranks = self.all_gather(confusion)  # (world, C, C)
            # A sharded test split: the ranks' counts add up. A loader that every rank reads
            # whole (fabricx's evaluation batches): every rank counted the same samples, and
            # one rank's matrix is the split's. A loader fabricx cannot tell (an iterable
            # dataset): ranks that counted alike read the same samples.
            loaders = self.trainer.test_dataloaders
            shards = {
                reads_a_shard(loader)
                for loader in (loaders if isinstance(loaders, (list, tuple)) else [loaders])
            }
            whole = shards == {False} or (shards != {True} and bool((ranks == ranks[0]).all()))
            confusion = ranks[0] if whole else ranks.sum(0)
        self.test_confusion = confusion.tolist()

    def configure_optimizers(self) -> Any:
        return configure(self, self.optimizer_factory, self.scheduler_factory)
