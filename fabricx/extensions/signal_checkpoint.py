"""The Lightning side of signals during fit (see fabricx.runs.signals for the whole story)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Checkpoint

from fabricx.runs.signals import (
    STOP_SIGNALS,
    Handler,
    Interrupted,
    Preempted,
    forget_stops,
    stop_handler,
)

log = logging.getLogger(__name__)

# What a rank asks for at a step end, as one number all ranks reduce with max: the most
# pressing request wins, so every rank acts on the same one.
_NOTHING, _PREEMPTED = 0, max(STOP_SIGNALS) + 1


class SignalCheckpoint(Checkpoint):
    """On a signal, stop fit at the next step end on every rank, with the checkpoint saved.

    - SLURM's preemption signal (`preemption_signum`): save, then raise `Preempted`; fabricx's
      job requeues (see `requeue_and_exit`) and resumes from the checkpoint.
    - SIGTERM or SIGINT: save, then raise `Interrupted` (exit status 143 or 130); `resume=`
      continues the run. A second one stops at once, without a checkpoint.

    A `Checkpoint`, so Lightning runs it after the other callbacks of the step: the state
    saved is the one `LastCheckpoint` would save there. On an epoch's last batch it waits for
    the epoch's end (after validation), where resuming is exact too. One small all-reduce a
    step (none on one device) tells every rank whether any rank got a signal, so all stop at
    the same step.

    Args:
        checkpoint: the resume checkpoint (last.ckpt) to write, through the trainer on every
            rank as Lightning expects.
        preemption_signum: the signal SLURM sends before a preemption; None outside SLURM.

    Example::

        last = LastCheckpoint(run_dir / "checkpoints", every_n_train_steps=100)
        trainer = pl.Trainer(callbacks=[last, SignalCheckpoint(last.path)])
    """

    def __init__(self, checkpoint: Path, preemption_signum: int | None = None) -> None:
        self.checkpoint = Path(checkpoint)
        self.preemption_signum = preemption_signum
        self.preempted = False
        self.stop_signum: int | None = None
        self._previous: dict[int, Handler] = {}

    def _on_preemption(self, signum: int, frame: FrameType | None) -> None:
        self.preempted = True  # nothing else here: the step boundary does the work

    def _on_stop(self, signum: int) -> None:
        if self.stop_signum is not None:  # asked twice: stop now
            raise Interrupted(signum)
        self.stop_signum = signum
        log.warning("%s: stopping at the end of this step.", signal.Signals(signum).name)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.preempted, self.stop_signum = False, None
        forget_stops()
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set handlers (Lightning skips its own there)
        signums = [*STOP_SIGNALS, *([self.preemption_signum] if self.preemption_signum else [])]
        self._previous = {signum: signal.getsignal(signum) for signum in signums}
        if self.preemption_signum is not None:
            signal.signal(self.preemption_signum, self._on_preemption)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Not in on_fit_start: Lightning sets its own SIGTERM handler after that hook, and
        # its handler ends fit with SystemExit, which is exit status 0. Until this point
        # (setup, sanity check) a signal stops at once (fabricx.runs.signals.stop_on_signals).
        if not self._previous:
            return  # not the main thread
        handler = stop_handler(self._on_stop)
        for signum in STOP_SIGNALS:
            signal.signal(signum, handler)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore()
        if self.stop_signum is not None:  # came after the last step end: fit is done
            saved = self.checkpoint if self.checkpoint.is_file() else None
            raise Interrupted(self.stop_signum, trainer.global_step, saved)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._restore()

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self._stop_if_requested(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop_if_requested(trainer)

    def _stop_if_requested(self, trainer: pl.Trainer) -> None:
        request = _PREEMPTED if self.preempted else (self.stop_signum or _NOTHING)
        if trainer.world_size > 1:  # every rank asks at every step, so all stop at one
            decision = torch.tensor(request, device=trainer.strategy.root_device)
            request = int(trainer.strategy.reduce(decision, reduce_op="max").item())
        if request == _NOTHING:
            return
        trainer.save_checkpoint(self.checkpoint, weights_only=False)
        step = trainer.global_step
        if request == _PREEMPTED:
            log.warning("Preemption signal: saved the checkpoint at step %d; requeueing.", step)
            raise Preempted(self.preemption_signum, self._previous.get(self.preemption_signum),
                            step)  # fmt: skip
        raise Interrupted(request, step, self.checkpoint)
