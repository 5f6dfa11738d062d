"""fit: train the task on the datamodule; checkpoints land in <run>/checkpoints/.

With `ctx.resume_from`, Lightning restores the weights, optimizer, scheduler, loop counters,
the train loader's position and (fabricx's RngStates callback) the RNG states, and goes on.
"""

from __future__ import annotations

from fabricx.extensions.fit_timing import FitTimer
from fabricx.extensions.pruning import raise_if_pruned
from fabricx.runs.signals import Interrupted
from fabricx.stages.context import RunContext


def run(ctx: RunContext) -> None:
    try:
        # weights_only: fabricx checkpoints hold tensors and plain containers only (README).
        ctx.trainer.fit(
            ctx.task, datamodule=ctx.datamodule, ckpt_path=ctx.resume_from, weights_only=True
        )
    except Interrupted:
        _collect_metrics(ctx)  # a stopped run's record says how far it got
        raise
    ctx.weights = "in memory after fit"
    _collect_metrics(ctx)
    raise_if_pruned(ctx.trainer)  # a sweep trial its pruner stopped ends here (exit 5)


def _collect_metrics(ctx: RunContext) -> None:
    # Epoch-level values only: "train/loss_step" is one noisy batch, "train/loss_epoch" the
    # same number as "train/loss".
    for key, value in ctx.trainer.callback_metrics.items():
        if key.startswith(("train/", "val/")) and not key.endswith(("_step", "_epoch")):
            ctx.metrics[key] = float(value)
    for callback in ctx.trainer.callbacks:
        if isinstance(callback, FitTimer):
            ctx.metrics.update(callback.summary())
