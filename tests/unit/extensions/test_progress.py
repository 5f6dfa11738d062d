"""The throttled progress bars: few metric reads per second, exact values at epoch ends."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import torch.nn.functional as F

from fabricx.errors import ConfigError
from fabricx.extensions.progress import Throttle, ThrottledRichProgressBar, ThrottledTQDMProgressBar
from fabricx.launch.compose import validate


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)

    def training_step(self, batch, batch_idx):
        loss = F.cross_entropy(self.layer(batch[0]), batch[1])
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/batch", float(batch_idx), prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def counting(bar_class: type) -> type:
    """The bar class, counting its metric reads and keeping the last values read."""

    class Counting(bar_class):
        reads = 0
        last: dict = {}

        def get_metrics(self, trainer, pl_module):
            type(self).reads += 1
            type(self).last = super().get_metrics(trainer, pl_module)
            return type(self).last

    return Counting


@pytest.mark.parametrize("bar_class", [ThrottledRichProgressBar, ThrottledTQDMProgressBar])
def test_bar_reads_metrics_rarely_and_shows_each_epochs_last_batch(
    bar_class: type, tmp_path: Path
) -> None:
    bar = counting(bar_class)(per_second=0.001)  # due once, then only at each epoch's end
    batches = [(torch.randn(8, 4), torch.randint(0, 2, (8,))) for _ in range(50)]
    trainer = pl.Trainer(
        max_epochs=2, callbacks=[bar], logger=False, enable_checkpointing=False,
        enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(Tiny(), torch.utils.data.DataLoader(batches, batch_size=None))
    assert type(bar).reads <= 2 * 2 + 2  # per epoch: the first (due) and last batches; ends
    assert type(bar).last["train/batch"] == 49.0  # the epoch's last batch, not a stale one


def test_throttle_is_due_once_per_interval_and_when_forced() -> None:
    throttle = Throttle(per_second=0.001)
    assert throttle.due() and not throttle.due() and throttle.due(force=True)
    with pytest.raises(ValueError, match="must be > 0"):
        Throttle(0)


def test_refresh_rate_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"progress_refresh_per_second=0\.0 must be > 0"):
        validate("train", ["callbacks.progress_refresh_per_second=0"])


def test_rich_redraw_thread_wakes_as_often_as_the_bar_updates(tmp_path: Path) -> None:
    """Lightning's redraw thread wakes 100 times a second by default, taking the GIL and a
    core from training each time; the throttled bar's wakes at its own rate."""
    rates: list[float] = []

    class ReadRate(pl.Callback):
        def on_train_batch_end(self, trainer, *args) -> None:
            live = trainer.progress_bar_callback.progress.live
            rates.append(live._refresh_thread.refresh_per_second)

    batches = [(torch.randn(8, 4), torch.randint(0, 2, (8,))) for _ in range(3)]
    trainer = pl.Trainer(
        max_epochs=1, callbacks=[ThrottledRichProgressBar(per_second=4), ReadRate()],
        logger=False, enable_checkpointing=False, enable_model_summary=False,
        default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(Tiny(), torch.utils.data.DataLoader(batches, batch_size=None))
    assert rates == [4, 4, 4]
