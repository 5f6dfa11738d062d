"""Progress bars that read the logged metrics a few times a second, not after every batch.

Lightning's RichProgressBar reads every progress-bar metric after every training batch and
calls `.item()` on each: on a GPU that is a host-device sync per step, and on a CPU about
0.1 ms per step, a tenth of a tiny model's step (benchmarks/). A person reads a bar a few
times a second at most, so these update at most `per_second` times a second, and always on
an epoch's last batch, so the final numbers shown are exact.

The training loss shown is the latest batch's, read from the task when the bar redraws
(`latest_train_loss`, fabricx.tasks.epoch_metrics): the task logs the step loss only on the
steps Lightning writes to the loggers, which would leave the bar showing an older value.
"""

from __future__ import annotations

import time
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import RichProgressBar

from fabricx import internals

# Lightning's TQDMProgressBar, asking `redraw_due` whether to redraw after a batch.
TQDMProgressBar = internals.tqdm_progress_bar()


class Throttle:
    """`due()` is True at most once per `1 / per_second` seconds, and always when forced."""

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError(f"per_second={per_second} must be > 0.")
        self.interval = 1.0 / per_second
        self._next = 0.0

    def due(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now >= self._next:
            self._next = now + self.interval
            return True
        return False


def with_latest_loss(
    metrics: dict[str, int | str | float | dict[str, float]], pl_module: pl.LightningModule
) -> dict[str, int | str | float | dict[str, float]]:
    """The bar's metrics with `train/loss_step` set to the task's latest training loss (one
    `.item()`, at a redraw), where the task keeps one."""
    loss = getattr(pl_module, "latest_train_loss", None)
    if loss is not None:
        metrics["train/loss_step"] = loss.item()
    return metrics


class LatestLoss:
    """Mixin for a Lightning progress bar: its metrics show the task's latest loss."""

    def get_metrics(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule
    ) -> dict[str, int | str | float | dict[str, float]]:
        metrics = super().get_metrics(trainer, pl_module)  # type: ignore[misc]
        return with_latest_loss(metrics, pl_module)


class ThrottledRichProgressBar(LatestLoss, RichProgressBar):
    """RichProgressBar that updates the training bar and its metrics at most `per_second`
    times a second (and on each epoch's last batch).

    One bar for the whole fit (Lightning's `leave=False`): with `leave=True` Lightning stops
    and restarts Rich's display, and its redraw thread, at every epoch start, which cost
    about 8 ms an epoch on 2 cores, more than a whole epoch of a small model.

    Rich redraws from its own thread, which Lightning wakes `refresh_rate` times a second
    (100 by default) whether or not anything changed; each wake takes the GIL from the
    training loop, and on a small machine a core from torch's threads. Here the thread wakes
    as often as the bar updates, `per_second`, and not when nothing changed.

    Args:
        per_second: updates (metric reads) and redraws per second.
    """

    def __init__(self, per_second: float = 10.0) -> None:
        super().__init__(refresh_rate=max(1, round(per_second)))
        self._throttle = Throttle(per_second)

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        last = batch_idx + 1 == self.total_train_batches
        # A resumed run's first batch creates the bar; skipping it would hide it until due.
        if self.train_progress_bar_id is None or self._throttle.due(force=last):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        else:  # what the parent does besides drawing: the next evaluation gets fresh bars
            self.val_progress_bar_id = None
            self.test_progress_bar_id = None
            self.predict_progress_bar_id = None


class ThrottledTQDMProgressBar(LatestLoss, TQDMProgressBar):
    """TQDMProgressBar that updates its bars and metrics at most `per_second` times a second
    (and on each bar's last batch), whatever the number of batches per second.

    Args:
        per_second: updates per second.
    """

    def __init__(self, per_second: float = 10.0) -> None:
        super().__init__(refresh_rate=1)
        self._throttle = Throttle(per_second)

    def redraw_due(self, current: int, total: int | float) -> bool:
        return self.is_enabled and self._throttle.due(force=current == total)
