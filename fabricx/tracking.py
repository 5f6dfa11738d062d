"""Closing a job's W&B run: final metrics as its summary, files as artifacts, then finish."""

from __future__ import annotations

from typing import Any

from fabricx.stages.context import RunContext


def close_tracker(ctx: RunContext, status: str) -> None:
    """Final metrics as the W&B run summary, files as artifacts, then close the W&B run.

    Closing matters for multirun: jobs run one after another in the same process, and an
    unclosed run would be picked up again by the next job's logger.
    """
    wandb_logger = _wandb_logger(ctx.trainer)
    if wandb_logger is None or not ctx.trainer.is_global_zero:
        return
    run = wandb_logger.experiment
    run.summary.update({**ctx.metrics, "status": status})
    if ctx.tables:
        import wandb

        for name, rows in ctx.tables.items():
            columns = list(rows[0]) if rows else []
            run.log(
                {name: wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in rows])}
            )
    if ctx.cfg.logger.log_artifacts:
        _log_artifacts(run, ctx)
    run.finish()


def _wandb_logger(trainer: Any) -> Any:
    if trainer is None:
        return None
    from lightning.pytorch.loggers import WandbLogger

    return next((lg for lg in trainer.loggers if isinstance(lg, WandbLogger)), None)


def _log_artifacts(run: Any, ctx: RunContext) -> None:
    import wandb

    checkpoint = ctx.artifacts.get("checkpoint")
    if checkpoint is not None and checkpoint.is_file():
        metadata = {
            "metric": ctx.metric_key,
            "value": ctx.metrics.get(ctx.metric_key),
            "file": checkpoint.name,
        }
        art = wandb.Artifact(f"model-{run.id}", type="model", metadata=metadata)
        art.add_file(str(checkpoint), name=f"checkpoints/{checkpoint.name}")
        run.log_artifact(art, aliases=["best", "latest"])
    export_dir = ctx.run_dir / "export"
    if "onnx" in ctx.artifacts and export_dir.is_dir():
        verify = export_dir / "verify.json"
        meta: dict[str, Any] = {
            "format": "onnx",
            "opset": ctx.cfg.export.onnx.opset if ctx.cfg.export.onnx else None,
        }
        if verify.is_file():
            import json

            meta["verify"] = json.loads(verify.read_text())
        art = wandb.Artifact(f"onnx-{run.id}", type="model", metadata=meta)
        for file in sorted(export_dir.iterdir()):
            if file.is_file() and not file.name.startswith("."):
                art.add_file(str(file), name=f"export/{file.name}")
        run.log_artifact(art, aliases=["latest"])
