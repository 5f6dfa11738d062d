"""The Lightning side of SLURM preemption (see fabricx.preemption for the whole story)."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Checkpoint

from fabricx.preemption import Handler, Preempted, preemption_signal

log = logging.getLogger(__name__)


class PreemptionCheckpoint(Checkpoint):
    """On the preemption signal, save `save_checkpoint` at the next step end on every rank,
    then raise `Preempted` (fabricx's job then requeues; see `requeue_and_exit`).

    A `Checkpoint`, so Lightning runs it after the other callbacks of the step: the state
    saved is the one `LastCheckpoint` would save there. On an epoch's last batch it waits for
    the epoch's end (after validation), where resuming is exact too.

    Args:
        save_checkpoint: writes the resume checkpoint (last.ckpt) for this trainer; called
            on every rank, as Lightning's checkpoint saving expects.
        signum: the signal to catch; `preemption_signal()` by default.
    """

    def __init__(
        self, save_checkpoint: Callable[[pl.Trainer], None], signum: int | None = None
    ) -> None:
        self.save_checkpoint = save_checkpoint
        self.signum = signum if signum is not None else preemption_signal()
        self.requested = False
        self._previous: Handler = None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True  # nothing else here: the step boundary does the work

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._previous = signal.signal(self.signum, self._on_signal)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore()

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._previous is not None:
            signal.signal(self.signum, self._previous)

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self._stop_if_requested(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop_if_requested(trainer)

    def _stop_if_requested(self, trainer: pl.Trainer) -> None:
        # Every rank asks at every step (one small all-reduce), so all stop at the same one.
        if not trainer.strategy.reduce_boolean_decision(self.requested, all=False):
            return
        self.save_checkpoint(trainer)
        step = trainer.global_step
        log.warning("Preemption signal: saved the checkpoint at step %d; requeueing.", step)
        raise Preempted(self.signum, self._previous, step)
