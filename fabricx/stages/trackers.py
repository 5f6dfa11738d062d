"""Closing a job's trackers: W&B gets the final metrics as its summary and the files as
artifacts; every other logger (MLflow, TensorBoard, yours) gets the final metrics as values
and the run's status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fabricx.export.onnx import EXPORT_FILES
from fabricx.export.sidecar import sidecar_path
from fabricx.stages.context import RunContext


def close_tracker(ctx: RunContext, status: str) -> None:
    """Final metrics as the W&B run summary, files as artifacts, then close the W&B run.

    Closing matters for multirun: jobs run one after another in the same process, and an
    unclosed run would be picked up again by the next job's logger.
    """
    if ctx.trainer is None or not ctx.trainer.is_global_zero:
        return
    _close_other_loggers(ctx, status)
    wandb_logger = _wandb_logger(ctx.trainer)
    if wandb_logger is None:
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
    if getattr(wandb_logger, "log_artifacts", True):
        _log_artifacts(run, ctx)
    run.finish()


def _close_other_loggers(ctx: RunContext, status: str) -> None:
    """The final metrics (verify, bench and fit timings too, which no Lightning hook logs)
    and the run's status to every logger but W&B and the CSV file."""
    from lightning.pytorch.loggers import CSVLogger, WandbLogger

    # What Lightning logged itself (train/, val/, the test results) is not logged twice.
    logged = set(ctx.trainer.callback_metrics)
    numbers = {
        k: float(v)
        for k, v in ctx.metrics.items()
        if isinstance(v, (int, float)) and k not in logged and not k.startswith(("train/", "val/"))
    }
    for logger in ctx.trainer.loggers:
        if isinstance(logger, (WandbLogger, CSVLogger)):
            continue
        if numbers:
            logger.log_metrics(numbers, step=ctx.trainer.global_step)
        logger.finalize("success" if status == "ok" else "failed")


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
    # One model artifact per exported file, with what verify measured for it (and, for a
    # TensorRT engine, its sidecar: the GPU and TensorRT it runs on).
    export_dir = ctx.run_dir / "export"
    verify_path = ctx.out_dir / "export" / "verify.json"
    verified = json.loads(verify_path.read_text())["artifacts"] if verify_path.is_file() else {}
    for target, file_name in EXPORT_FILES.items():
        main = export_dir / file_name
        if target not in ctx.artifacts or not main.is_file():
            continue
        metadata: dict[str, Any] = {"target": target, "file": file_name}
        if target in verified:
            metadata["verify"] = verified[target]
        sidecar = sidecar_path(main)
        if sidecar.is_file():
            metadata["sidecar"] = json.loads(sidecar.read_text())
        art = wandb.Artifact(f"{target}-{run.id}", type="model", metadata=metadata)
        for file in (main, Path(f"{main}.data"), sidecar):  # graph, external weights, sidecar
            if file.is_file():
                art.add_file(str(file), name=f"export/{file.name}")
        run.log_artifact(art, aliases=["latest"])
