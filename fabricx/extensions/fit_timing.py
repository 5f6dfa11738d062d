"""How fast a fit runs, measured from inside it: step time, epoch time, time to first step.

The numbers land in metrics.json (and the W&B summary) as `fit/*`, so every run says what its
training loop cost on its machine, and benchmarks/ can time `fabricx train` as a user runs
it. Only clock reads: no device sync, so on a GPU a step's time is when the host got to the
next batch, which under a steady state is the device's pace.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

from fabricx.clock import IMPORTED_AT


class FitTimer(Callback):
    """Training batches' start times and epochs' durations; `summary()` turns them into
    medians.

    A step's time is the gap between two consecutive batch starts in the same epoch, so
    epoch-end work (validation, checkpoints) is in the epoch time, not in the step time.

    Args:
        warmup_steps: steps at the start of the fit left out of the step time (allocator and
            kernel warm-up, lazy initialisation).
    """

    def __init__(self, warmup_steps: int = 10) -> None:
        self.warmup_steps = warmup_steps
        self._gaps: list[float] = []
        self._last_start: float | None = None
        self._steps_seen = 0
        self._epoch_started: float | None = None
        self._epochs: list[float] = []
        self.first_step_s: float | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_started = time.perf_counter()
        self._last_start = None  # no gap across the epoch boundary

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        now = time.perf_counter()
        if self._last_start is not None and self._steps_seen > self.warmup_steps:
            self._gaps.append(now - self._last_start)
        self._last_start = now
        self._steps_seen += 1

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if self.first_step_s is None:
            self.first_step_s = time.time() - IMPORTED_AT

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._epoch_started is not None:
            self._epochs.append(time.perf_counter() - self._epoch_started)

    def summary(self) -> dict[str, float]:
        """`fit/step_ms` (median step after warm-up), `fit/epoch_s` (median epoch, its
        validation included), `fit/first_step_s` (from importing fabricx to the end of the
        first optimizer step); each only once measured."""
        out = {}
        if self._gaps:
            out["fit/step_ms"] = statistics.median(self._gaps) * 1000
        if self._epochs:
            out["fit/epoch_s"] = statistics.median(self._epochs)
        if self.first_step_s is not None:
            out["fit/first_step_s"] = self.first_step_s
        return out
