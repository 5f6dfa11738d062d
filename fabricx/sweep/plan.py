"""The sweep plan: what every worker and trial needs to know, as `sweep.json` in the sweep dir.

The driver writes it once per `fabricx sweep`; workers (local processes or SLURM array
tasks) and the trial runs (for pruning) read it, so none of them composes a config again.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from fabricx.atomic import atomic_open

PLAN_FILE = "sweep.json"
# Overrides of the sweep verb that are not part of a trial's train config.
SWEEP_ONLY_KEYS = ("sweep", "search_space", "stages", "resume")


@dataclasses.dataclass
class SweepPlan:
    study_name: str
    sweep_dir: str
    storage: str  # an RDB URL, or the journal file's absolute path
    n_trials: int
    workers: int
    objectives: list[dict[str, str]]  # [{metric, direction}]
    params: dict[str, dict[str, Any]]
    enqueue: list[dict[str, Any]]  # trials to run first
    sampler: dict[str, Any]
    pruner: dict[str, Any]
    heartbeat_s: int
    grace_s: int
    max_retries: int
    train_args: list[str]  # `fabricx train` arguments shared by every trial
    command: list[str]  # the `fabricx sweep` command line, which resumes the study
    wandb_logger: str | None = None  # the W&B logger's name in `logger`: trials get a group

    @property
    def dir(self) -> Path:
        return Path(self.sweep_dir)

    @property
    def single_objective(self) -> bool:
        return len(self.objectives) == 1

    def identity(self) -> dict[str, Any]:
        """What defines the study: a resume must not change it (fabricx.sweep.study)."""
        return {"objectives": self.objectives, "train_args": self.train_args}

    def write(self) -> Path:
        path = self.dir / PLAN_FILE
        with atomic_open(path) as f:
            f.write(json.dumps(dataclasses.asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, sweep_dir: str | Path) -> SweepPlan:
        return cls(**json.loads((Path(sweep_dir) / PLAN_FILE).read_text()))


def trial_base_args(overrides: list[str], stages: list[str]) -> list[str]:
    """The user's overrides without the sweep's own, plus the stages a trial runs."""
    kept = []
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key.split(".", 1)[0] not in SWEEP_ONLY_KEYS:
            kept.append(override)
    return [*kept, f"stages=[{','.join(stages)}]"]
