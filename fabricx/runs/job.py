"""What the launcher knows about one job, handed to the verb that runs it.

The launcher (fabricx.launch) reads it from Hydra and from the environment once, at the top;
verbs, builders and stages take it as data and never ask Hydra or probe the environment.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fabricx.runs.signals import preemption_signal, under_slurm

# A sweep worker starts each trial as `fabricx train ...` with this set (fabricx.sweep.worker).
TRIAL_ENV = "FABRICX_SWEEP_TRIAL"


@dataclass(frozen=True)
class Job:
    """One job of one verb.

    Attributes:
        run_dir: the directory the job writes (Hydra's output directory for it).
        overrides: the job's own overrides, as overrides.yaml records them.
        command: the command line that runs exactly this job again.
        group: the multirun this job belongs to (its W&B group); None for a single job.
        launched_by: the whole multirun's command line; None for a single job.
        config_dir: the user's --config-dir, absolute; None without one.
        trial: the sweep trial this job runs ({"sweep_dir", "trial_id", "number"}), so the
            trainer reports to the study and stops when the pruner says; None otherwise.
        preemption_signal: the signal the cluster sends before a preemption or the time
            limit (SLURM); the job then checkpoints and is requeued. None: not on a cluster.
    """

    run_dir: Path
    overrides: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    group: str | None = None
    launched_by: list[str] | None = None
    config_dir: str | None = None
    trial: dict[str, Any] | None = None
    preemption_signal: signal.Signals | None = None


def trial_from_environment() -> dict[str, Any] | None:
    """{"sweep_dir", "trial_id", "number"} when this process runs a sweep trial, else None."""
    value = os.environ.get(TRIAL_ENV)
    return json.loads(value) if value else None


def preemption_from_environment() -> signal.Signals | None:
    """The signal SLURM sends before a preemption or the time limit; None off SLURM."""
    return preemption_signal() if under_slurm() else None
