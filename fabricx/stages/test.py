"""test: score the best checkpoint on the test split."""

from __future__ import annotations

from fabricx.stages.context import RunContext


def run(ctx: RunContext) -> None:
    ctx.use_checkpoint()
    results = ctx.trainer.test(ctx.task, datamodule=ctx.datamodule, verbose=False)
    ctx.metrics.update({k: float(v) for k, v in results[0].items()})
