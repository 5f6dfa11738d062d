"""Pruning inside a trial's run: report every validation epoch, stop when the pruner says.

A sweep worker starts each trial as `fabricx train ...` with FABRICX_SWEEP_TRIAL set; the
launcher reads it into the job (fabricx.runs.job.Job.trial), and the trainer then gets
`TrialPruning`. Only global rank 0 talks to the study; it broadcasts the
decision, so every DDP rank stops at the same epoch, and fit ends normally (checkpoints and
metrics.json are written) before the run exits with status 5, "pruned".

optuna-integration's PyTorchLightningPruningCallback does the single-process half of this,
but raises from inside fit, and under DDP it accepts only RDB storage; fabricx trials run
on a journal file by default, so this callback does both the same way on any storage.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

from fabricx.errors import StageError, TrialPruned


def pruning_callbacks(trial: dict[str, Any] | None) -> list[Callback]:
    """The callback for a sweep trial whose study prunes; none for an ordinary run."""
    if trial is None:
        return []
    from fabricx.sweep.plan import SweepPlan

    plan = SweepPlan.read(trial["sweep_dir"])
    if plan.pruner["name"] == "none" or not plan.single_objective:
        return []
    return [TrialPruning(plan, trial["trial_id"], plan.objectives[0]["metric"])]


class TrialPruning(Callback):
    """Report `monitor` to the trial after each validation; stop the run when it is pruned."""

    def __init__(self, plan: Any, trial_id: int, monitor: str) -> None:
        self.plan = plan
        self.trial_id = trial_id
        self.monitor = monitor
        self.pruned: tuple[int, float] | None = None  # (epoch, value) when pruned
        self._trial: Any = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if trainer.is_global_zero and self._trial is None:
            import optuna

            from fabricx.sweep import study

            self._trial = optuna.trial.Trial(study.load(self.plan), self.trial_id)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune, value = False, float("nan")
        if trainer.is_global_zero:
            metric = trainer.callback_metrics.get(self.monitor)
            if metric is None:
                raise StageError(
                    f"the sweep prunes on {self.monitor}, which this run does not log; logged: "
                    f"{sorted(trainer.callback_metrics)}. Set sweep.objectives or the pruner."
                )
            value = float(metric)
            self._trial.report(value, step=trainer.current_epoch)
            prune = self._trial.should_prune()
        if trainer.strategy.broadcast(prune):
            self.pruned = (trainer.current_epoch, value)
            trainer.should_stop = True


def raise_if_pruned(trainer: pl.Trainer) -> None:
    """After fit: a pruned trial ends here, with exit status 5 and metrics.json "pruned"."""
    for callback in trainer.callbacks:
        if isinstance(callback, TrialPruning) and callback.pruned is not None:
            epoch, value = callback.pruned
            raise TrialPruned(
                f"{callback.plan.pruner['name']} pruner stopped this trial after epoch {epoch}"
                f" ({callback.monitor}={value:.4f})."
            )
