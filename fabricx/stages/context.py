"""What the stages of one run share: the built objects and what earlier stages produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fabricx import runs
from fabricx.config.schema import TrainConfig


@dataclass
class RunContext:
    """Built objects plus results; stages add to `metrics`, `artifacts` and `stages`.

    Attributes:
        run_dir: the run's directory; checkpoints and exports are read from here.
        out_dir: where this command writes results: the run directory, or an eval directory.
        weights: which weights `task` holds: "initial", "trained" or a checkpoint path.
        checkpoint: which checkpoint the test, export and verify stages use (best, last, path).
    """

    cfg: TrainConfig
    run_dir: Path
    out_dir: Path
    datamodule: Any
    task: Any
    trainer: Any
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)
    weights: str = "initial"
    checkpoint: str = "best"

    @property
    def metric_key(self) -> str:
        """The run's headline metric, e.g. test/acc."""
        return f"test/{self.cfg.task.metric}"

    def use_checkpoint(self, which: str | None = None) -> None:
        """Load `which` checkpoint into the task, unless it already holds it.

        With no checkpoint (checkpointing off, fast_dev_run) the task keeps the weights it has,
        and `weights` says so in the summary.
        """
        which = which or self.checkpoint
        path = runs.find_checkpoint(self.run_dir, which)
        if path is None:
            if which not in ("best", "last"):
                from fabricx.errors import ConfigError

                raise ConfigError(f"checkpoint={which!r}: no such file; give best, last or a path.")
            return
        if self.weights != str(path):
            runs.load_weights(self.task, path)
            self.weights = str(path)
            self.artifacts.setdefault("checkpoint", path)
