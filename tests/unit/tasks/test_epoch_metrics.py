"""The task's logging: epoch means that equal the batches' weighted means, the step loss and
the learning rate on Lightning's logging steps only, and the bar showing the latest loss."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger

from fabricx.extensions.lr_logging import StepLearningRateMonitor
from fabricx.extensions.progress import with_latest_loss
from fabricx.models.mlp import MLP
from fabricx.tasks.classification import ClassificationTask
from fabricx.tasks.epoch_metrics import BatchMean


class BatchLosses(Callback):
    """Each training batch's loss as the task kept it, and the step it belongs to."""

    def __init__(self) -> None:
        self.losses: list[tuple[int, float, int]] = []  # (step, loss, batch size)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # After the optimizer step: the step the loggers file this batch's values under is one less.
        step = trainer.global_step - 1
        self.losses.append((step, pl_module.latest_train_loss.item(), len(batch[1])))


def batches(n: int, size: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    sizes = [size] * (n - 1) + [size // 2]  # a short last batch: the means are weighted
    return [(torch.randn(s, 6, generator=g), torch.randint(0, 3, (s,), generator=g)) for s in sizes]


def test_epoch_means_and_step_losses_on_logging_steps(tmp_path: Path) -> None:
    torch.manual_seed(0)
    task = ClassificationTask(
        MLP(6, 3, [8], dropout=0.0), functools.partial(torch.optim.SGD, lr=0.1), num_classes=3
    )
    recorder = BatchLosses()
    trainer = pl.Trainer(
        max_epochs=2, log_every_n_steps=4, callbacks=[recorder], enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        logger=CSVLogger(tmp_path), default_root_dir=tmp_path,
    )  # fmt: skip
    train, val = batches(10, 8, seed=1), batches(5, 8, seed=2)
    loader = functools.partial(torch.utils.data.DataLoader, batch_size=None)
    trainer.fit(task, loader(train), loader(val))

    with open(Path(trainer.logger.log_dir) / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    written = {int(r["step"]): float(r["train/loss_step"]) for r in rows if r["train/loss_step"]}
    # Steps 3, 7, 11, ... (Lightning's "every 4 steps"), each holding that batch's own loss.
    assert sorted(written) == [3, 7, 11, 15, 19]
    by_step = {step: loss for step, loss, _ in recorder.losses if step in written}
    assert written == pytest.approx(by_step)

    second_epoch = recorder.losses[10:]
    mean = sum(loss * n for _, loss, n in second_epoch) / sum(n for *_, n in second_epoch)
    assert float(trainer.callback_metrics["train/loss"]) == pytest.approx(mean, rel=1e-6)

    with torch.no_grad():
        val_losses = [(F.cross_entropy(task(x), y).item(), len(y)) for x, y in val]
    expected = sum(loss * n for loss, n in val_losses) / sum(n for _, n in val_losses)
    (result,) = trainer.validate(task, loader(val), verbose=False)
    assert result["val/loss"] == pytest.approx(expected, rel=1e-6)
    assert set(result) == {"val/loss", "val/acc"}


def test_bar_shows_the_tasks_latest_loss() -> None:
    task = ClassificationTask(MLP(6, 3, [8]), torch.optim.SGD, num_classes=3)
    assert with_latest_loss({"v_num": 1}, task) == {"v_num": 1}  # before the first batch
    task.latest_train_loss = torch.tensor(0.25)
    assert with_latest_loss({"v_num": 1}, task) == {"v_num": 1, "train/loss_step": 0.25}


def test_batch_mean_weights_batches_by_size() -> None:
    mean = BatchMean()
    mean.update(torch.tensor(1.0), 8)
    mean.update(torch.tensor(4.0), 4)  # torchmetrics' MeanMetric(nan_strategy="disable"): 2.5
    assert float(mean.compute()) == pytest.approx((8 * 1.0 + 4 * 4.0) / 12)


def test_learning_rate_goes_out_with_the_steps_values(tmp_path: Path) -> None:
    """StepLearningRateMonitor: `lr-SGD` in the rows of the logging steps, the rate each of
    those steps used, written by the same logger call as `train/loss_step`."""

    class CountingCSVLogger(CSVLogger):
        calls = 0

        def log_metrics(self, metrics, step=None) -> None:
            type(self).calls += 1
            super().log_metrics(metrics, step)

    class Scheduled(ClassificationTask):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=1.0)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
            }

    task = Scheduled(MLP(6, 3, [8]), torch.optim.SGD, num_classes=3)
    logger = CountingCSVLogger(tmp_path)
    trainer = pl.Trainer(
        max_epochs=1, log_every_n_steps=3, callbacks=[StepLearningRateMonitor("step")],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        logger=logger, default_root_dir=tmp_path,
    )  # fmt: skip
    loader = torch.utils.data.DataLoader(batches(9, 8, seed=1), batch_size=None)
    trainer.fit(task, loader)

    with open(Path(logger.log_dir) / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["lr-SGD"]]
    assert [(int(r["step"]), float(r["lr-SGD"])) for r in rows] == [
        (2, 0.25),
        (5, 0.5**5),
        (8, 0.5**8),
    ]
    assert all(r["train/loss_step"] for r in rows)  # the same rows: one call per logging step
    assert CountingCSVLogger.calls == 3 + 1  # the three logging steps, the epoch's end
