"""SLURM preemption: checkpoint at the next step boundary, requeue, resume into the same run.

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

This module imports neither torch nor lightning (the CLI loads it); the callback is
fabricx.build.preemption.PreemptionCheckpoint.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
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
