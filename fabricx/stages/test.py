"""test: score the best checkpoint on the test split; a task that writes its predictions in
its field's format (fabricx.tasks.contract: write_test_predictions) writes them beside."""

from __future__ import annotations

from fabricx.stages.context import RunContext


def run(ctx: RunContext) -> None:
    ctx.use_checkpoint()
    results = ctx.trainer.test(ctx.task, datamodule=ctx.datamodule, verbose=False)
    ctx.metrics.update({k: float(v) for k, v in results[0].items()})
    write = getattr(ctx.task, "write_test_predictions", None)
    if callable(write) and ctx.trainer.is_global_zero:
        path = write(ctx.out_dir, ctx.datamodule)
        if path is not None:
            ctx.artifacts["test_predictions"] = path
