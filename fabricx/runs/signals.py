"""Signals that end a run: SLURM preemption (requeue and resume) and SIGTERM / SIGINT (stop).

SLURM warns a job it is about to stop with a signal (`#SBATCH --signal=USR1@120`; fabricx's
slurm launcher asks for SIGUSR1, or whatever `SUBMITIT_PREEMPT_SIGNAL` names). The handler
only raises a flag: saving a checkpoint inside a signal handler can interrupt the optimizer
half-way through a step or a collective half-way through a reduction. At the end of the
current step every rank learns whether any rank got the signal, all save `last.ckpt`
together, and the job is requeued: through submitit's own handler when submitit runs the
job (it also resubmits the job's state), with `scontrol requeue` otherwise. When SLURM
starts the job again (SLURM_RESTART_COUNT > 0) it resumes from that checkpoint, in the same
run directory and the same W&B run. The checkpoint is always the one `last.ckpt`, rewritten
in place, so disk use does not grow with the number of preemptions.

SIGTERM (`kill`, a scheduler's stop) and SIGINT (Ctrl-C) stop the job instead, with the
shell's exit status, 143 and 130, and metrics.json says so ("terminated", "interrupted").
During fit (with a last.ckpt to keep) they wait for the step end the same way, so
`last.ckpt` is saved and `resume=` continues the run; a second signal stops at once.
Elsewhere they stop at once (`stop_on_signals`): there is no checkpoint to save.

This module imports neither torch nor lightning (the CLI loads it); the callback is
fabricx.extensions.signal_checkpoint.SignalCheckpoint.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from fabricx.errors import FabricxError

log = logging.getLogger(__name__)

SIGNAL_ENV = "SUBMITIT_PREEMPT_SIGNAL"  # submitit's own variable: one name for both sides
DEFAULT_SIGNAL = "USR1"

Handler = Callable[[int, FrameType | None], Any] | int | None


def preemption_signal() -> signal.Signals:
    """The signal SLURM sends before preempting: SIGUSR1 unless SUBMITIT_PREEMPT_SIGNAL says."""
    name = os.environ.get(SIGNAL_ENV, DEFAULT_SIGNAL).upper().removeprefix("SIG")
    try:
        return signal.Signals[f"SIG{name}"]
    except KeyError:
        raise FabricxError(
            f"{SIGNAL_ENV}={name!r} is not a signal name; use USR1 (fabricx's default) or USR2."
        ) from None


def under_slurm() -> bool:
    return "SLURM_JOB_ID" in os.environ


def requeued() -> bool:
    """Whether SLURM restarted this job (after a preemption, a requeue or a node failure)."""
    return int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0


class Preempted(FabricxError):
    """The run saved its checkpoint after a preemption signal and must now be requeued."""

    exit_code = 0

    def __init__(self, signum: int, previous_handler: Handler, step: int) -> None:
        super().__init__(f"preempted at step {step}: checkpoint saved, the job is requeued.")
        self.signum = signum
        self.previous_handler = previous_handler


def requeue_and_exit(err: Preempted, global_rank: int) -> None:
    """Requeue this SLURM job and end the process without a result.

    Under submitit, its own handler (the one the callback displaced) requeues and exits, and
    stores the job for the restart. Otherwise rank 0 runs `scontrol requeue`. Other ranks
    wait for SLURM to stop them: exiting early could end the job step before rank 0 has
    requeued it.
    """
    if global_rank != 0:
        time.sleep(300)
        sys.exit(0)
    if callable(err.previous_handler) and "submitit" in getattr(
        err.previous_handler, "__module__", ""
    ):
        err.previous_handler(err.signum, None)  # requeues, then sys.exit(-1)
    job = os.environ.get("SLURM_JOB_ID")
    if job is None:
        sys.exit(0)  # not under SLURM: the checkpoint is there for `resume=`
    subprocess.run(["scontrol", "requeue", job], check=True, timeout=60)
    sys.exit(0)


# Signals that stop a job, by the metrics.json status each gives.
STOP_SIGNALS = {signal.SIGTERM: "terminated", signal.SIGINT: "interrupted"}
# The stop signals this job received (stop_on_signals starts each job with none).
_received: list[int] = []


class Interrupted(BaseException):
    """SIGTERM or SIGINT stopped the job: exit status 128 + the signal (143, 130), as a
    shell gives a process the signal ended.

    A BaseException, like KeyboardInterrupt, so that no `except Exception` on its way (a
    user's callback, Hydra, an Optuna trial) takes it for an error and carries on.

    Args:
        signum: the signal.
        step: the optimizer step fit stopped at; None outside fit.
        checkpoint: the checkpoint saved on the way out, which `resume=` continues from.
    """

    def __init__(self, signum: int, step: int | None = None, checkpoint: Path | None = None):
        self.signum = signum
        self.signal = signal.Signals(signum).name
        self.exit_code = 128 + signum
        self.status = STOP_SIGNALS.get(signal.Signals(signum), "interrupted")
        self.step = step
        self.checkpoint = checkpoint
        message = self.signal if step is None else f"{self.signal} at step {step}"
        if checkpoint is not None:
            message += (
                f"; saved {checkpoint}: rerun the run's command (command.txt) with "
                f"resume={checkpoint.parent.parent} to continue it"
            )
        super().__init__(message)

    def record(self, stage: str | None) -> dict[str, Any]:
        """What metrics.json says about the stop."""
        return {
            "signal": self.signal,
            "exit_code": self.exit_code,
            "stage": stage,
            "step": self.step,
            "checkpoint": str(self.checkpoint) if self.checkpoint is not None else None,
        }


def stop_handler(on_signal: Callable[[int], None]) -> Callable[[int, FrameType | None], None]:
    """A handler for STOP_SIGNALS that calls `on_signal(signum)` in this process only.

    A process forked from this one (a DataLoader worker) inherits the handler; there the
    signal is ignored. Ctrl-C and SLURM's scancel signal the whole process group: a worker
    that died of it would end fit mid-step, before the checkpoint is saved. The parent
    decides how the job stops and ends its workers on the way out (they also end when
    their parent is gone).
    """
    owner = os.getpid()

    def handler(signum: int, frame: FrameType | None) -> None:
        if os.getpid() == owner:
            _received.append(signum)
            on_signal(signum)

    return handler


def leave_stops_to_the_job(worker_id: int) -> None:
    """A DataLoader `worker_init_fn`: the worker ignores SIGTERM and SIGINT.

    scancel and Ctrl-C signal the whole process group, and torch's worker handler dies of a
    SIGTERM it did not get from its parent; fit would then end mid-step with "DataLoader
    worker is killed by signal", before last.ckpt is saved. The job stops at the step end
    and ends its workers (they also end with their parent).
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _raise_interrupted(signum: int) -> None:
    raise Interrupted(signum)


def as_interrupted(err: BaseException) -> Interrupted | None:
    """`err` as the stop it is, or None when no stop signal ended the job.

    A signal's exception is raised wherever the process is, and native code on the way may
    turn it into another (an import of a compiled module reports an ImportError): once a
    stop signal has arrived, whatever ends the job is that stop.
    """
    if isinstance(err, Interrupted):
        return err
    return Interrupted(_received[-1]) if _received else None


def forget_stops() -> None:
    """Start a new job (or fit) with no stop signal received: any earlier one has ended
    its own job already."""
    _received.clear()


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGINT raise `Interrupted` at once.

    Without it SIGTERM ends the process with no record, and Lightning turns Ctrl-C into exit
    status 1 (or, for SIGTERM during fit, 0). Fit defers the stop to the next step end
    (fabricx.extensions.signal_checkpoint.SignalCheckpoint) and then raises the same exception.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; the signal then does what it did
        return
    handler = stop_handler(_raise_interrupted)
    forget_stops()
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)
