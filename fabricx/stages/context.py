"""What the stages of one run share: the built objects and what earlier stages produced."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fabricx.config.schema import TrainConfig
from fabricx.runs import checkpoints

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    """Built objects plus results; stages add to `metrics`, `artifacts`, `stages`, `skipped`.

    Attributes:
        run_dir: the run's directory; checkpoints and exports are read from here.
        out_dir: where this command writes results: the run directory, or an eval directory.
        weights: which weights `task` holds: "initial", "in memory after fit" or a checkpoint.
        checkpoint: which checkpoint the test, export and verify stages use (best, last, path).
        resume_from: the checkpoint fit continues from (resume=); None trains from the start.
        skipped: requested targets that could not run here, with the one-line reason.
        tables: row tables a stage produced (bench), logged to W&B as tables.
        notes: what a stage could not do and says so (verify without a metric).
        interrupted: how a signal stopped the run (fabricx.runs.signals.Interrupted.record).
        verb: the verb adding results to a finished run (export, bench), whose own outcome
            `record` keeps apart from the run's; None for a run's own command.
        run_record: that finished run's metrics.json as the verb found it.
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
    skipped: dict[str, str] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    weights: str = "initial"
    error: str | None = None  # why the run failed: the exception, in one line
    checkpoint: str = "best"
    resume_from: Path | None = None
    interrupted: dict[str, Any] | None = None
    verb: str | None = None
    run_record: dict[str, Any] = field(default_factory=dict)

    @property
    def metric_key(self) -> str:
        """The run's headline metric, e.g. test/acc."""
        return f"test/{self.cfg.metric.name}"

    def use_checkpoint(self, which: str | None = None) -> None:
        """Load `which` checkpoint into the task, unless it already holds it.

        With no checkpoint (callbacks.checkpoint.enabled=false) the task keeps the weights it
        has; a warning says so and `weights` records it in metrics.json.
        """
        which = which or self.checkpoint
        path = checkpoints.find_checkpoint(self.run_dir, which)
        if path is None:
            if which not in ("best", "last"):
                from fabricx.errors import StageError

                # The CLI refuses a checkpoint= that names no file before any work
                # (fabricx.runs.saved_config.check_run_target): this one went since.
                raise StageError(f"checkpoint={which!r}: no such file; give best, last or a path.")
            if self.weights != "initial":
                log.warning(
                    "No %s checkpoint in %s/checkpoints (callbacks.checkpoint.enabled=false?): "
                    "using the weights in memory (%s).", which, self.run_dir, self.weights,
                )  # fmt: skip
            return
        if self.weights != str(path):
            checkpoint = checkpoints.load_weights(self.task, path)
            # A datamodule's own state (e.g. vocabularies built from the training split)
            # is saved by Lightning under its class name; the weights need it back.
            state = checkpoint.get(type(self.datamodule).__qualname__)
            if state:
                self.datamodule.load_state_dict(state)
            self.weights = str(path)
            self.artifacts.setdefault("checkpoint", path)

    def record(self, status: str) -> dict[str, Any]:
        """metrics.json: final metrics, "the metric", stage statuses, weights used, files.

        For a verb on a finished run (`verb`), the run's own status, error, stop and wall
        times (`time/*`) stay as training left them; the verb's outcome and its own times go
        under "verbs", so a failed or stopped export never turns a finished run into a failed
        one, and the run's duration stays its own.
        """
        record = {
            "status": status,
            "metric": {"name": self.metric_key, "value": self.metrics.get(self.metric_key)},
            "metrics": self.metrics,
            "stages": self.stages,
            "skipped": self.skipped,
            **({"notes": self.notes} if self.notes else {}),
            "weights": self.weights,
            "artifacts": {name: str(path) for name, path in self.artifacts.items()},
            **({"error": self.error} if self.error else {}),
            **({"interrupted": self.interrupted} if self.interrupted else {}),
        }
        if self.verb is None:
            return record
        kept = self.run_record
        times = {key: value for key, value in self.metrics.items() if key.startswith("time/")}
        run_times = {k: v for k, v in kept.get("metrics", {}).items() if k.startswith("time/")}
        own = {key: value for key, value in self.metrics.items() if not key.startswith("time/")}
        record["metrics"] = {**own, **run_times}
        outcome = {
            "status": status,
            "time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "times": times,
            **{key: record.pop(key) for key in ("error", "interrupted") if key in record},
        }
        notes = {**kept.get("notes", {}), **self.notes}
        return {
            **record,
            "status": kept.get("status"),  # None: the run itself never finished
            **{key: kept[key] for key in ("error", "interrupted") if key in kept},
            **({"notes": notes} if notes else {}),
            "verbs": {**kept.get("verbs", {}), self.verb: outcome},
        }
