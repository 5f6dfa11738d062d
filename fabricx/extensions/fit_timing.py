"""How fast a fit runs, measured from inside it: step time, epoch time, time to first step.

The numbers land in metrics.json (and the W&B summary) as `fit/*`, so every run says what its
training loop cost on its machine, and benchmarks/ can time `fabricx train` as a user runs
it. Only clock reads: no device sync, so on a GPU a step's time is when the host got to the
next batch, which under a steady state is the device's pace. A model compiled with
`compile.enabled` reports its compile time apart (`fit/compile_s`), and its step time leaves
out the steps that compiled (the first ones, a new batch shape, the switch to validation).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

from fabricx import clock, internals


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
        self._compiled = False  # the module has a part compiled in place (compile.enabled)
        self._compile_s_at: float | None = None  # torch's compile seconds: fit start, last step
        self._compile_s_at_start = 0.0
        self.compile_s: float | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._compiled = bool(internals.compiled_modules(pl_module))
        if self._compiled:
            self._compile_s_at_start = self._compile_s_at = internals.compile_seconds()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._compiled:
            self.compile_s = internals.compile_seconds() - self._compile_s_at_start

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_started = time.perf_counter()
        self._last_start = None  # no gap across the epoch boundary

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        now = time.perf_counter()
        compiled_since = False
        if self._compiled:  # a gap that compiled (or validated and compiled) is no step time
            seconds = internals.compile_seconds()
            compiled_since, self._compile_s_at = seconds != self._compile_s_at, seconds
        if (
            self._last_start is not None
            and self._steps_seen > self.warmup_steps
            and not compiled_since
        ):
            self._gaps.append(now - self._last_start)
        self._last_start = now
        self._steps_seen += 1

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if self.first_step_s is None:
            self.first_step_s = time.time() - clock.job_started_at()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._epoch_started is not None:
            self._epochs.append(time.perf_counter() - self._epoch_started)

    def summary(self) -> dict[str, float]:
        """`fit/step_ms` (median step after warm-up), `fit/epoch_s` (median epoch, its
        validation included), `fit/first_step_s` (from the job's start, for the first job
        importing fabricx, to the end of the first optimizer step), `fit/compile_s` (seconds
        torch.compile took during fit, a compiled model only), `fit/epochs` (training epochs
        this fit completed: fewer than max_epochs when early stopping ended it); each once
        measured."""
        out = {}
        if self._epochs:
            out["fit/epochs"] = float(len(self._epochs))
        if self._gaps:
            out["fit/step_ms"] = statistics.median(self._gaps) * 1000
        if self._epochs:
            out["fit/epoch_s"] = statistics.median(self._epochs)
        if self.first_step_s is not None:
            out["fit/first_step_s"] = self.first_step_s
        if self._compiled:
            done = self.compile_s  # None: the fit stopped early (interrupted)
            out["fit/compile_s"] = (
                done if done is not None else internals.compile_seconds() - self._compile_s_at_start
            )
        return out
