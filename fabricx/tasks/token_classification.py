"""Token classification (NER): cross-entropy per scored token, or a linear-chain CRF over
the sentence (crf=true); entity F1 through seqeval."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric

from fabricx.config.constraints import PositiveInt
from fabricx.data.labels import IGNORE
from fabricx.runs import directory as runs
from fabricx.tasks.crf import crf_decode, crf_loss, crf_metadata
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
        crf: score whole tag sequences with a linear-chain CRF over the model's per-word
            scores (Lample et al. 2016; Ma and Hovy 2016): its negative log-likelihood is the
            loss and Viterbi decoding gives the tags. The model's output stays the graph's
            output (the emissions); exported files carry the CRF's transitions in their
            metadata (fabricx.tasks.crf.crf_from_metadata decodes with them).
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
        crf: bool = False,
    ) -> None:
        super().__init__()
        self.model = model
        if crf:
            from torchcrf import CRF

            self.crf = CRF(num_classes, batch_first=True)
        else:
            self.crf = None
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.labels = list(labels)
        self.num_classes = num_classes
        self.metrics = self.epoch_metric_modules(self.build_metric)

    def build_metric(self, sync_on_compute: bool = True) -> Metric:
        decode = None if self.crf is None else functools.partial(crf_decode, self.crf)
        return EntityF1(
            self.labels, ignore_index=IGNORE, decode=decode, sync_on_compute=sync_on_compute
        )

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
        if self.crf is not None:
            loss = crf_loss(self.crf, logits, target)
        else:
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

    def write_test_predictions(self, out_dir: Path, datamodule: Any) -> Path | None:
        """test_predictions.conll in `out_dir`: the test split's tags as `word gold
        predicted` lines, a blank line after each sentence, the CoNLL scoring script's
        input (`perl conlleval.pl < test_predictions.conll`). Words come from the
        datamodule's test sentences when they line up with the scored positions (one
        process, no sub-word pieces scored), else "_". None when nothing was scored."""
        y_true, y_pred = self.metrics["test_metric"].sequences
        if not y_true:
            return None
        sentences = getattr(datamodule, "sentences", {}).get("test", [])
        words = [s.tokens for s in sentences]
        if len(words) != len(y_true) or any(
            len(w) != len(t) for w, t in zip(words, y_true, strict=False)
        ):
            words = [["_"] * len(t) for t in y_true]
        lines = []
        for sentence, gold, pred in zip(words, y_true, y_pred, strict=True):
            lines += [f"{w} {g} {p}" for w, g, p in zip(sentence, gold, pred, strict=True)]
            lines.append("")
        return runs.write_text(out_dir / runs.TEST_PREDICTIONS_FILE, "\n".join(lines))

    def export_metadata(self) -> dict[str, str]:
        """Written into every exported ONNX file: the tags, and the CRF that decodes them."""
        import json

        return {"fabricx.labels": json.dumps(self.labels)} | (
            crf_metadata(self.crf) if self.crf is not None else {}
        )

    def configure_optimizers(self) -> Any:
        return configure(self, self.optimizer_factory, self.scheduler_factory)
