"""Each split's torchmetrics Metric, logged once per epoch from the epoch-end hooks.

Steps only `update()` the metric. Logging the Metric object from every step, as Lightning
also allows, makes Lightning move it to the batch's device on each call, and `metric(...)`
computes a batch value no one reads: together about a third of a tiny model's step time
(benchmarks/loop_overhead.py). The epoch's value is the same either way.
"""

from __future__ import annotations


class EpochMetrics:
    """Mixin for a LightningModule with `self.metrics[f"{split}_metric"]` and `metric_name`."""

    def _log_epoch_metric(self, split: str) -> None:
        metric = self.metrics[f"{split}_metric"]  # type: ignore[attr-defined]
        self.log(f"{split}/{self.metric_name}", metric, prog_bar=True)  # type: ignore[attr-defined]

    def on_train_epoch_end(self) -> None:
        self._log_epoch_metric("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metric("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metric("test")
